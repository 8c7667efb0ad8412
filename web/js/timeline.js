// The track's timeline on a canvas: bar numbers and the beat grid, the waveform, chord labels and the melody
// as a piano roll, all on one time axis, zoomable; the beat, bar and chord under the playhead are highlighted.
import { formatClock, formatTime } from './ui.js';

const PEAKS_PER_SECOND = 200; // waveform resolution: enough for 200 px per second of zoom
const MAX_PX_PER_SECOND = 400;
const LANES = { bars: [0, 22], wave: [24, 120], chords: [148, 28], roll: [180, 78] }; // css px: top, height
const COLORS = {
  bg: '#fbfbfd', grid: '#c9ccd6', bar: '#4b5063', wave: '#5b6fd6', played: 'rgba(20, 30, 110, 0.22)', chord: '#dfe3f3',
  chordNow: '#ffd866', text: '#1d2030', beatNow: 'rgba(255, 196, 0, 0.35)', note: '#d0548a', noteNow: '#8f1d52',
  playhead: '#d32f2f', lane: '#eef0f6',
  barNow: '#8a5300', // the current bar's line, amber as the beat and chord now: red, it had read as a 2nd playhead
};

const CHORD_FONT = '12px system-ui, sans-serif';
const CHORD_PAD_PX = 5; // space left and right of a chord's name in its box
const SHORT_QUALITY = { maj: '', min: 'm', min7: 'm7' }; // "A:min" -> "Am", "C:maj" -> "C"

// A chord's names on the timeline, longest first: the lead-sheet name ("Am" for "A:min", "C" for "C:maj") and the
// root ("A"). One style for every box: the full label where it fitted beside "Am" where it did not read as two names.
export function chordNames(label) {
  const [root, quality] = String(label).split(':');
  if (quality === undefined) return [root];
  const short = root + (quality in SHORT_QUALITY ? SHORT_QUALITY[quality] : quality);
  return [...new Set([short, root])];
}

// The longest of the chord's names that fits `room` css px in the context's font, or '' (a box too narrow for its
// label had clipped it mid-word: "A:min" read "A:n"); the readout under the playhead names it in full ("A:min").
export function chordText(g, label, room) {
  return chordNames(label).find((name) => g.measureText(name).width <= room) || '';
}

// min/max pairs per 1/PEAKS_PER_SECOND s of the mono mix: drawing then costs the pixels, not the samples
export function peaksOf(buffer) {
  const step = Math.max(1, Math.floor(buffer.sampleRate / PEAKS_PER_SECOND));
  const n = Math.ceil(buffer.length / step);
  const out = new Float32Array(n * 2);
  const channels = [];
  for (let c = 0; c < buffer.numberOfChannels; c += 1) channels.push(buffer.getChannelData(c));
  for (let i = 0; i < n; i += 1) {
    let lo = 0;
    let hi = 0;
    const end = Math.min(buffer.length, (i + 1) * step);
    for (let j = i * step; j < end; j += 1) {
      let v = 0;
      for (const ch of channels) v += ch[j];
      v /= channels.length;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    out[2 * i] = lo;
    out[2 * i + 1] = hi;
  }
  return out;
}

// index of the last value <= t in a sorted array (-1: before the first)
export function indexAt(sorted, t) {
  let lo = 0;
  let hi = sorted.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}

export class Timeline {
  constructor(canvas, audio, { onNow }) {
    this.canvas = canvas;
    this.audio = audio;
    this.onNow = onNow;
    this.data = null;
    this.start = 0;
    this.pxPerSecond = 0; // 0: fit the whole track
    this.frame = 0;
    canvas.addEventListener('click', (e) => this.seekTo(this.timeAtX(e.offsetX)));
    canvas.addEventListener('keydown', (e) => this.key(e));
    canvas.addEventListener('wheel', (e) => this.wheel(e), { passive: false });
    new ResizeObserver(() => this.draw()).observe(canvas);
    for (const ev of ['timeupdate', 'seeked', 'loadedmetadata']) audio.addEventListener(ev, () => this.draw());
    audio.addEventListener('play', () => this.loop());
  }

  // keepView: the same file with more results (a job finished): the zoom and the scroll stay where they are
  setData(data, { keepView = false } = {}) {
    this.data = data;
    if (!keepView) {
      this.start = 0;
      this.pxPerSecond = 0;
    }
    this.clampStart();
    this.draw();
  }

  get duration() {
    const d = this.data?.duration || this.audio.duration; // NaN while the audio has no metadata yet
    return Number.isFinite(d) ? d : 0;
  }

  get width() { return this.canvas.clientWidth || 1; }

  scale() {
    const fit = this.width / Math.max(this.duration, 0.001);
    return Math.max(this.pxPerSecond || fit, fit);
  }

  visibleSeconds() { return this.width / this.scale(); }

  timeAtX(x) { return this.start + x / this.scale(); }

  xAt(t) { return (t - this.start) * this.scale(); }

  zoom(factor, aroundTime = this.audio.currentTime) {
    const fit = this.width / Math.max(this.duration, 0.001);
    const next = Math.min(MAX_PX_PER_SECOND, Math.max(fit, this.scale() * factor));
    const x = this.xAt(aroundTime);
    this.pxPerSecond = next <= fit * 1.0001 ? 0 : next;
    this.start = aroundTime - x / this.scale();
    this.clampStart();
    this.draw();
  }

  fit() { this.pxPerSecond = 0; this.start = 0; this.draw(); }

  // what the timeline shows: "whole track", or how much and where ("0:42.7 visible, 22:53–23:36")
  zoomText() {
    if (!this.pxPerSecond) return 'whole track';
    const end = Math.min(this.duration, this.start + this.visibleSeconds());
    return `${formatTime(this.visibleSeconds())} visible, ${formatClock(this.start)}–${formatClock(end)}`;
  }

  clampStart() {
    this.start = Math.min(Math.max(0, this.start), Math.max(0, this.duration - this.visibleSeconds()));
  }

  seekTo(t) {
    if (!Number.isFinite(t)) return;
    const to = Math.min(Math.max(0, t), this.duration);
    this.audio.currentTime = to;
    // a zoomed view follows the playhead when it is moved out of sight: End on a paused, zoomed 25-minute track had
    // moved it to 25:00 while the view stayed on bars 1-60 (playing, the view turns its pages by itself)
    if (this.pxPerSecond && (to < this.start || to > this.start + this.visibleSeconds())) {
      this.start = to - this.visibleSeconds() / 2;
      this.clampStart();
    }
    this.draw();
  }

  key(e) {
    const step = this.visibleSeconds() / 10;
    const keys = {
      ArrowLeft: () => this.seekTo(this.audio.currentTime - step),
      ArrowRight: () => this.seekTo(this.audio.currentTime + step),
      Home: () => this.seekTo(0),
      End: () => this.seekTo(this.duration),
      '+': () => this.zoom(1.5), '=': () => this.zoom(1.5), '-': () => this.zoom(1 / 1.5),
      ' ': () => (this.audio.paused ? this.audio.play() : this.audio.pause()),
    };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
  }

  wheel(e) {
    if (e.ctrlKey || e.metaKey) {
      e.preventDefault();
      this.zoom(e.deltaY < 0 ? 1.25 : 0.8, this.timeAtX(e.offsetX));
    } else if (this.pxPerSecond && (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY))) {
      e.preventDefault();
      this.start += (e.deltaX || e.deltaY) / this.scale();
      this.clampStart();
      this.draw();
    }
  }

  loop() {
    cancelAnimationFrame(this.frame);
    const tick = () => {
      this.draw();
      if (!this.audio.paused && !this.audio.ended) this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  }

  // what is under the playhead: beat and bar indices, chord, note (also told to the page, for the readout)
  now(t) {
    const d = this.data || {};
    const beat = indexAt(d.beats || [], t);
    const bar = indexAt(d.downbeats || [], t);
    let beatInBar = -1;
    if (beat >= 0 && bar >= 0) beatInBar = beat - indexAt(d.beats, d.downbeats[bar] + 1e-6) + 1;
    const chordIndex = indexAt((d.chords || []).map((c) => c.start), t);
    const chord = chordIndex >= 0 && t < d.chords[chordIndex].end ? d.chords[chordIndex] : null;
    return { t, beat, bar, beatInBar, chord };
  }

  // One frame: the still parts (lanes, grid, waveform, chords, notes) come from a cached layer drawn again only
  // when the view or the data change; each frame adds what moves (shading, highlights, playhead), so playing
  // costs a copy and a few rectangles, not the whole picture (bench/web_timeline_bench.py).
  draw() {
    const { canvas } = this;
    const dpr = window.devicePixelRatio || 1;
    const w = this.width;
    const h = canvas.clientHeight || 260;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const t = this.audio.currentTime || 0;
    // keep the playhead in view while playing: turn the page when it reaches the right edge
    if (this.pxPerSecond && !this.audio.paused && (t > this.start + this.visibleSeconds() * 0.95 || t < this.start)) {
      this.start = t - this.visibleSeconds() * 0.05;
      this.clampStart();
    }
    const key = `${canvas.width}x${canvas.height}:${this.start}:${this.scale()}`;
    if (key !== this.layerKey || this.layerData !== this.data) {
      this.layer = this.layer || document.createElement('canvas');
      this.layer.width = canvas.width;
      this.layer.height = canvas.height;
      const lg = this.layer.getContext('2d');
      lg.setTransform(dpr, 0, 0, dpr, 0, 0);
      this.drawStill(lg, w, h);
      this.layerKey = key;
      this.layerData = this.data;
    }
    const g = canvas.getContext('2d');
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.drawImage(this.layer, 0, 0);
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    const now = this.now(t);
    if (this.data) this.drawMoving(g, h, now);
    g.fillStyle = COLORS.playhead;
    g.fillRect(Math.round(this.xAt(t)) - 1, 0, 2, h);
    this.onNow(now);
  }

  drawStill(g, w, h) {
    g.fillStyle = COLORS.bg;
    g.fillRect(0, 0, w, h);
    for (const [top, height] of Object.values(LANES).slice(1)) {
      g.fillStyle = COLORS.lane;
      g.fillRect(0, top, w, height);
    }
    if (!this.data) return;
    this.drawGrid(g, h);
    this.drawWave(g);
    for (const c of this.data.chords || []) this.drawChord(g, c, COLORS.chord);
    this.drawRoll(g);
  }

  drawMoving(g, h, now) {
    const { beats = [], downbeats = [], chords = [], notes = [] } = this.data;
    const [waveTop, waveHeight] = LANES.wave;
    g.fillStyle = COLORS.played; // what has been played, darker
    g.fillRect(0, waveTop, Math.max(0, this.xAt(now.t)), waveHeight);
    if (now.beat >= 0) { // the current beat, shaded through every lane
      const a = this.xAt(beats[now.beat]);
      const b = this.xAt(beats[now.beat + 1] ?? this.duration);
      g.fillStyle = COLORS.beatNow;
      g.fillRect(a, LANES.bars[1], b - a, h);
    }
    if (now.bar >= 0) this.drawBar(g, h, downbeats[now.bar], now.bar, COLORS.barNow, 2);
    if (now.chord && chords.length) this.drawChord(g, now.chord, COLORS.chordNow);
    for (const n of notes) if (n.onset <= now.t && now.t < n.offset) this.drawNote(g, n, COLORS.noteNow);
  }

  drawGrid(g, h) {
    const { beats = [], downbeats = [] } = this.data;
    const t0 = this.start;
    const t1 = this.start + this.visibleSeconds();
    const spacing = this.scale() * (beats.length > 1 ? (beats[beats.length - 1] - beats[0]) / (beats.length - 1) : 1);
    if (spacing >= 4) { // beat lines only when they do not merge into grey
      g.fillStyle = COLORS.grid;
      for (const b of beats) if (b >= t0 && b <= t1) g.fillRect(Math.round(this.xAt(b)), LANES.wave[0], 1, h);
    }
    // bars closer than 6 px are thinned to every 2nd, 4th, 8th... (numbered 1, 5, 9...): a 25-minute track's 689
    // bar lines had turned the whole view into one black block
    const barPx = this.scale() * (downbeats.length > 1
      ? (downbeats[downbeats.length - 1] - downbeats[0]) / (downbeats.length - 1) : Infinity);
    let every = 1;
    while (barPx > 0 && barPx * every < 6) every *= 2;
    let lastLabel = -Infinity;
    downbeats.forEach((d, i) => {
      if (d < t0 - 1 || d > t1 || i % every) return;
      const x = Math.round(this.xAt(d));
      const labelled = x - lastLabel > 28;
      if (labelled) lastLabel = x;
      this.drawBar(g, h, d, i, COLORS.bar, 1, labelled);
    });
  }

  drawBar(g, h, time, index, color, width, labelled = true) {
    const x = Math.round(this.xAt(time));
    g.fillStyle = color;
    g.fillRect(x, 0, width, h);
    if (labelled) {
      g.font = '12px system-ui, sans-serif';
      g.textBaseline = 'middle';
      g.fillText(String(index + 1), x + 3, LANES.bars[1] / 2);
    }
  }

  drawWave(g) {
    const { peaks } = this.data;
    if (!peaks) return;
    const [top, height] = LANES.wave;
    const mid = top + height / 2;
    const n = peaks.length / 2;
    g.fillStyle = COLORS.wave;
    for (let x = 0; x < this.width; x += 1) {
      const a = Math.floor(this.timeAtX(x) * PEAKS_PER_SECOND);
      const b = Math.max(a + 1, Math.floor(this.timeAtX(x + 1) * PEAKS_PER_SECOND));
      if (a >= n) break;
      let lo = 0;
      let hi = 0;
      for (let i = Math.max(0, a); i < Math.min(n, b); i += 1) {
        if (peaks[2 * i] < lo) lo = peaks[2 * i];
        if (peaks[2 * i + 1] > hi) hi = peaks[2 * i + 1];
      }
      g.fillRect(x, mid - hi * height / 2, 1, Math.max(1, (hi - lo) * height / 2));
    }
  }

  drawChord(g, c, color) {
    const [top, height] = LANES.chords;
    const a = this.xAt(c.start);
    const b = this.xAt(c.end);
    if (b < 0 || a > this.width || c.label === 'N') return;
    g.fillStyle = color;
    g.fillRect(a + 1, top + 2, Math.max(1, b - a - 2), height - 4);
    g.font = CHORD_FONT;
    const text = chordText(g, c.label, b - a - 2 * CHORD_PAD_PX);
    if (text) {
      g.textBaseline = 'middle';
      g.fillStyle = COLORS.text;
      g.fillText(text, a + CHORD_PAD_PX, top + height / 2);
    }
  }

  // the melody's pitch range fills the lane: one row per semitone
  rollRows() {
    const notes = this.data.notes || [];
    let lo = Infinity;
    let hi = -Infinity;
    for (const n of notes) { lo = Math.min(lo, n.midi); hi = Math.max(hi, n.midi); }
    return { lo: lo - 1, hi: hi + 1, row: LANES.roll[1] / Math.max(1, hi - lo + 3) };
  }

  drawNote(g, n, color) {
    const { hi, row } = this.rows;
    const a = this.xAt(n.onset);
    const b = this.xAt(n.offset);
    if (b < 0 || a > this.width) return;
    g.fillStyle = color;
    g.fillRect(a, LANES.roll[0] + (hi - n.midi) * row, Math.max(2, b - a - 1), Math.max(2, row - 1));
  }

  drawRoll(g) {
    const notes = this.data.notes || [];
    if (!notes.length) return;
    this.rows = this.rollRows();
    for (const n of notes) this.drawNote(g, n, COLORS.note);
    const { lo, hi, row } = this.rows;
    const [top, height] = LANES.roll;
    g.fillStyle = COLORS.bar;
    g.font = '10px system-ui, sans-serif';
    g.fillText(noteName(hi - 1), 2, top + row * 1.5);
    g.fillText(noteName(lo + 1), 2, top + height - row * 1.5);
  }
}

const NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];
export function noteName(midi) {
  return `${NAMES[((midi % 12) + 12) % 12]}${Math.floor(midi / 12) - 1}`;
}
