// Stems as a mixer: the track's own <audio> is the clock; each stem is an <audio> that follows it (play, pause,
// seek, and a nudge when it drifts). Mute and solo decide what is heard; the original is one more channel.
import { el } from './ui.js';

const DRIFT_SECONDS = 0.08; // a stem further off than this is moved back onto the clock

export class Mixer {
  constructor(container, clock) {
    this.container = container;
    this.clock = clock;
    this.channels = [];
    const follow = () => this.follow();
    clock.addEventListener('play', follow);
    clock.addEventListener('pause', follow);
    clock.addEventListener('seeked', follow);
    clock.addEventListener('timeupdate', () => this.follow(false));
    clock.addEventListener('ratechange', () => { for (const c of this.stems()) c.audio.playbackRate = clock.playbackRate; });
  }

  stems() { return this.channels.filter((c) => c.audio !== this.clock); }

  clear(message) {
    for (const c of this.stems()) { c.audio.pause(); c.audio.removeAttribute('src'); c.audio.load(); }
    this.channels = [];
    this.clock.muted = false;
    this.container.replaceChildren(el('p', { class: 'muted small' }, message));
  }

  // stems: [{stem, url, download}]
  load(stems, { originalLabel = 'Original mix' } = {}) {
    this.clear('');
    this.channels.push({ name: originalLabel, audio: this.clock, mute: true, solo: false });
    for (const s of stems) {
      const audio = el('audio', { preload: 'auto', src: s.url });
      this.channels.push({ name: s.stem, audio, mute: false, solo: false, download: s.download });
    }
    const table = el('table', { class: 'mixer' },
      el('caption', { class: 'visually-hidden' }, 'Stem mixer'),
      // the last column's heading is read, not shown (an empty heading names nothing: axe's empty-table-header)
      el('thead', {}, el('tr', {}, ['Channel', 'Mute', 'Solo', 'Volume'].map((h) => el('th', { scope: 'col' }, h)),
        el('th', { scope: 'col' }, el('span', { class: 'visually-hidden' }, 'Download')))),
      el('tbody', {}, this.channels.map((c) => this.row(c))));
    this.container.replaceChildren(
      el('p', { class: 'small muted' }, 'The stems play in sync with the player above; the original starts muted.'),
      table, ...this.stems().map((c) => c.audio));
    this.apply();
    this.follow();
  }

  row(c) {
    const toggle = (what, label) => {
      const b = el('button', { type: 'button', class: `toggle ${what}`, 'aria-pressed': String(c[what]),
        'aria-label': `${label} ${c.name}`, dataset: { stem: c.name } }, label);
      b.addEventListener('click', () => {
        c[what] = !c[what];
        this.apply();
      });
      c[`${what}Button`] = b;
      return b;
    };
    const volume = el('input', { type: 'range', min: '0', max: '1', step: '0.05', value: '1',
      'aria-label': `Volume of ${c.name}` });
    volume.addEventListener('input', () => { c.audio.volume = Number(volume.value); });
    return el('tr', { dataset: { stem: c.name } },
      el('th', { scope: 'row' }, c.name),
      el('td', {}, toggle('mute', 'Mute')),
      el('td', {}, toggle('solo', 'Solo')),
      el('td', {}, volume),
      // named by its stem: a screen reader's list of links had read "Download" once per stem
      el('td', {}, c.download ? el('a', { href: c.download, download: '', 'aria-label': `Download ${c.name}` },
        'Download') : ''));
  }

  // what is heard: the soloed channels if any, else every channel not muted
  apply() {
    const soloing = this.channels.some((c) => c.solo);
    for (const c of this.channels) {
      c.audio.muted = soloing ? !c.solo : c.mute;
      c.muteButton.setAttribute('aria-pressed', String(c.mute));
      c.soloButton.setAttribute('aria-pressed', String(c.solo));
      c.muteButton.closest('tr').classList.toggle('audible', !c.audio.muted);
    }
  }

  follow(always = true) {
    const t = this.clock.currentTime;
    for (const c of this.stems()) {
      const a = c.audio;
      if (always || Math.abs(a.currentTime - t) > DRIFT_SECONDS) {
        if (Math.abs(a.currentTime - t) > DRIFT_SECONDS / 4) a.currentTime = t;
      }
      if (this.clock.paused && !a.paused) a.pause();
      if (!this.clock.paused && a.paused) a.play().catch(() => {});
    }
  }
}
