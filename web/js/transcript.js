// The transcript as words with their times; the word being said is highlighted as the track plays, and a
// click on a word plays from there.
import { indexAt } from './timeline.js';
import { el } from './ui.js';

export class Transcript {
  constructor(container, audio) {
    this.container = container;
    this.audio = audio;
    this.words = [];
    this.starts = [];
    this.current = -1;
    this.frame = 0;
    // the words by keyboard: one Tab stop (the word being said, else the first), the arrow keys, Home and End move
    // between them, Enter or space plays from the focused one. A word had been reachable by a mouse's click only.
    container.addEventListener('keydown', (e) => this.key(e));
    audio.addEventListener('timeupdate', () => this.update());
    audio.addEventListener('seeked', () => this.update());
    audio.addEventListener('play', () => {
      const tick = () => { this.update(); if (!audio.paused) this.frame = requestAnimationFrame(tick); };
      cancelAnimationFrame(this.frame);
      this.frame = requestAnimationFrame(tick);
    });
  }

  show(message) {
    this.words = [];
    this.starts = [];
    this.current = -1;
    this.container.replaceChildren(el('p', { class: 'muted small' }, message));
  }

  // transcript: the JSON Whisper wrote: {segments: [{start, end, text, words: [{start, end, word}]}]}
  load(transcript) {
    const paragraphs = [];
    this.words = [];
    for (const seg of transcript.segments || []) {
      const words = seg.words && seg.words.length ? seg.words : [{ start: seg.start, end: seg.end, word: seg.text }];
      const p = el('p', { class: 'segment' });
      for (const w of words) {
        const span = el('span', { class: 'word', role: 'button', tabindex: '-1', dataset: { start: w.start, end: w.end } },
          w.word);
        span.addEventListener('click', () => { this.audio.currentTime = w.start; });
        this.words.push({ ...w, span });
        p.append(span);
      }
      paragraphs.push(p);
    }
    this.starts = this.words.map((w) => w.start);
    this.current = -1;
    if (this.words.length) this.words[0].span.tabIndex = 0;
    if (!paragraphs.length) paragraphs.push(el('p', { class: 'muted small' }, 'Nothing was said.'));
    // Whisper's doubts come first: "the transcript may be made up ..." above words it heard in music (a stranger
    // read such words with no caveat here, the warning only in the JSON)
    const warnings = (transcript.warnings || []).map((w) => el('li', {}, w));
    if (warnings.length) paragraphs.unshift(el('ul', { class: 'warnings', 'aria-label': 'transcript warnings' }, ...warnings));
    this.container.replaceChildren(...paragraphs);
    this.update();
  }

  update() {
    const t = this.audio.currentTime;
    let i = indexAt(this.starts, t);
    if (i >= 0 && t > this.words[i].end + 0.3) i = -1; // between words: nothing lit
    if (i === this.current) return;
    if (this.current >= 0) {
      this.words[this.current].span.classList.remove('current');
      this.words[this.current].span.removeAttribute('aria-current');
    }
    this.current = i;
    if (i >= 0) {
      const { span } = this.words[i];
      span.classList.add('current');
      span.setAttribute('aria-current', 'true');
      if (!this.container.contains(document.activeElement)) this.rove(i); // Tab comes in at the word being said
      const box = this.container;
      if (span.offsetTop < box.scrollTop || span.offsetTop > box.scrollTop + box.clientHeight - 24) {
        box.scrollTop = span.offsetTop - box.clientHeight / 3;
      }
    }
  }

  // word i is the transcript's one Tab stop
  rove(i) {
    for (const w of this.words) if (w.span.tabIndex === 0) w.span.tabIndex = -1;
    this.words[i].span.tabIndex = 0;
  }

  key(e) {
    const at = this.words.findIndex((w) => w.span === e.target);
    if (at < 0) return;
    const last = this.words.length - 1;
    const to = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: last }[e.key];
    if (to !== undefined) {
      e.preventDefault();
      const i = Math.min(Math.max(0, to), last);
      this.rove(i);
      this.words[i].span.focus();
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      this.audio.currentTime = this.words[at].start;
    }
  }
}
