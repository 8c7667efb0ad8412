// One file of the session and everything measured about it: player and timeline, key/tempo/metre/tuning,
// stems, transcript, LLM text, features picture. Results come from the session's succeeded jobs, or (jobs
// expire, files stay) from the result files named after the upload.
import { ApiError, at, errorOf, fetchJson, fileUrl } from './api.js';
import { $, el, clear, errorText, formatClock, percent, stemOf, stoppedText } from './ui.js';
import { peaksOf } from './timeline.js';
import { LABELS } from './analyses.js';

// longer or larger uploads play and get their beat grid, but no waveform: decoding holds every sample in memory
// (15 min of stereo at 44.1 kHz: 320 MB)
const MAX_DECODE_SECONDS = 15 * 60;
const MAX_DECODE_BYTES = 200 * 1024 * 1024;
const NOT_MEASURED = 'not measured (not asked for)';
// a separation's stems and a two-stem run's rest, no_<stem> of each (worker/separation/options.py KNOWN_STEMS): the
// server counts no_drums_x.wav as x.wav's (api/result_sources.py), so it is not among "Other results" and shows here
const SEPARATED = ['vocals', 'drums', 'bass', 'other', 'guitar', 'piano', 'harmonic', 'percussive', 'accompaniment'];
export const KNOWN_STEMS = [...SEPARATED, ...SEPARATED.map((s) => `no_${s}`)];

// the newest result of each job type for upload `name`: a succeeded job's, or what a canceled or failed one kept (an
// LLM analysis stopped by a cancel or by its time limit keeps the text it had written, `partial`; a batch stopped
// midway, the files it had finished). The page had shown a stopped analysis nowhere: its minutes of text were
// reachable only as a download named partial_… among the session's files.
export function resultsFor(session, name) {
  const stem = stemOf(name);
  const out = {};
  const jobs = session.jobs.filter((j) => ['succeeded', 'canceled', 'failed'].includes(j.state) && j.result)
    .sort((a, b) => (a.finished_at || '').localeCompare(b.finished_at || ''));
  for (const job of jobs) {
    for (const r of job.result.batch ? job.result.results : [job.result]) {
      if (!r) continue;
      const files = r.files || [];
      if (r.filename === name || (job.type === 'whisper' && files.some((f) => f.startsWith(`transcript_${stem}.`)))) {
        out[job.type] = r;
      }
    }
  }
  out.failed = failuresFor(session, name, out);
  const stored = new Set(session.results.map((f) => f.name));
  const has = (n) => stored.has(n);
  if (!out.pitch && has(`pitch_${stem}.json`)) out.pitch = { files: [...stored].filter((f) => f.startsWith(`pitch_${stem}.`)) };
  if (!out.features && has(`features_${stem}.png`)) out.features = { files: [`features_${stem}.png`] };
  if (!out.whisper && has(`transcript_${stem}.json`)) {
    out.whisper = { files: [...stored].filter((f) => f.startsWith(`transcript_${stem}.`)) };
  }
  if (!out.demucs) {
    const stems = [...stored].filter((f) => KNOWN_STEMS.some((s) => f.startsWith(`${s}_${stem}.`)));
    if (stems.length) out.demucs = { files: stems, stems: stems.map((f) => f.slice(0, f.indexOf(`_${stem}.`))) };
  }
  return out;
}

// {job type: why it failed on upload `name`} for the types with no result: the file's entry in a batch's `errors`
// (the batch itself succeeded) or a failed job that read it. A stranger's 0.09 s clip, refused in a pitch batch
// (`audio_too_short`), read "Run “Key, tempo, chords, melody”", and running it again failed the same way.
function failuresFor(session, name, found) {
  const failed = {};
  const jobs = session.jobs.filter((j) => j.state === 'succeeded' || j.state === 'failed')
    .sort((a, b) => (a.finished_at || '').localeCompare(b.finished_at || ''));
  for (const job of jobs) {
    const mine = job.state === 'failed' ? ((job.input_files || []).includes(name) ? job.error : null)
      : (job.result?.errors || []).find((e) => e.filename === name);
    if (mine && !found[job.type]) failed[job.type] = mine.message || mine.code;
    else if (job.state === 'succeeded' && (job.input_files || []).includes(name) && !mine) delete failed[job.type];
  }
  return failed;
}

// what a panel says in place of "Run …" where its analysis failed on the file
const failedText = (type, failed) => `${LABELS[type]} failed on this file: ${failed[type]}`;

// whether the file `name` gets a waveform (downloaded whole and decoded): not past MAX_DECODE_*
function waveformOf(session, name) {
  const file = session.files.find((f) => f.name === name);
  return !(file && (file.bytes > MAX_DECODE_BYTES || file.duration_seconds > MAX_DECODE_SECONDS));
}

export class Track {
  // onGone: the shown file is no longer in the session (deleted elsewhere): the page reads the session again
  constructor({ timeline, mixer, transcript, onGone = () => {} }) {
    this.onGone = onGone;
    this.timeline = timeline;
    this.mixer = mixer;
    this.transcript = transcript;
    this.audio = $('#player');
    this.key = '';
    this.decoded = null; // {peaks, duration}
    this.decodeNote = ''; // why there is no waveform, if there is none
    this.decoding = null; // the key of the file whose waveform is loading
    this.blobUrl = ''; // the shown file's bytes, downloaded once for the waveform, that the player plays
    this.redraw = () => {}; // draws the shown file's timeline and status again
  }

  async show(session, name) {
    const key = `${session.session_id}/${name}`;
    const results = name ? resultsFor(session, name) : {};
    const fresh = key !== this.key;
    this.key = key;
    $('#track-h').textContent = name || 'No file selected';
    if (!name) {
      this.decoding = null;
      this.redraw = () => {};
      this.setSource('');
      this.timeline.setData(null);
      $('#track-status').textContent = 'Add audio on the left (drop files, or Choose files…), then tick the analyses '
        + 'to run and press Run. Results appear here as the jobs finish.';
      this.showSummary(null);
      this.showStems(null);
      this.showTranscript(null);
      this.showAnalysis({});
      this.showFeatures(null);
      return;
    }
    const url = (n, area = 'results', inline = true) => fileUrl(session.session_id, n, { area, inline });
    const status = $('#track-status');
    let decoding = null;
    if (fresh) {
      // the player waits for the waveform's download, and then plays those bytes (a blob): it had downloaded the
      // file too, each byte twice. Played before they are in, it streams from the server (and keeps doing so).
      this.setSource(url(name, 'uploads'), { preload: waveformOf(session, name) ? 'none' : 'auto' });
      this.decoded = null;
      this.decodeNote = '';
      // the waveform is the whole file, downloaded and decoded: the results do not wait for it. They had: on a slow
      // link (100 KB/s) a 6 MB track's key and tempo came after 105 s, the panel saying "Run “Key, tempo…”" and the
      // status "Add audio on the left" (the empty page's) until then
      status.textContent = 'Loading the waveform…';
      this.decoding = key;
      decoding = this.decode(session, name, url(name, 'uploads'));
    }
    const [pitch, transcript] = await Promise.all([
      results.pitch ? this.loadPitch(results.pitch, url) : null,
      results.whisper ? fetchJson(url(results.whisper.files.find((f) => f.endsWith('.json')))).catch(() => null) : null,
    ]);
    if (key !== this.key) return; // another file was opened meanwhile
    const file = session.files.find((f) => f.name === name);
    const draw = (keepView) => {
      this.timeline.setData({
        duration: pitch?.duration_seconds || file?.duration_seconds || this.decoded?.duration || 0,
        peaks: this.decoded?.peaks,
        beats: pitch?.beat_times || [],
        downbeats: pitch?.downbeat_times || [],
        chords: pitch?.chords || [],
        notes: pitch?.melody?.notes || [],
      }, { keepView });
      const loading = this.decoding === key ? 'Loading the waveform…' : this.decodeNote;
      status.textContent = [loading, pitch ? '' : results.failed.pitch ? failedText('pitch', results.failed)
        : 'Run “Key, tempo, chords, melody” to see beats, bars, chords and the melody here.'].filter(Boolean).join(' ');
    };
    this.redraw = draw; // the latest results of this file: a job ending while the waveform loads redraws them
    draw(!fresh);
    this.showSummary(pitch, results.pitch, url, results.failed);
    this.showStems(results.demucs, url, fresh, results.failed);
    this.showTranscript(transcript, results.whisper, url, results.failed);
    this.showAnalysis(results);
    this.showFeatures(results.features, url, name, results.failed);
    if (!decoding) return;
    const { decoded, note } = await decoding;
    if (key !== this.key) return; // another file's: its own decode draws it
    this.decoded = decoded;
    this.decodeNote = note;
    this.decoding = null;
    this.redraw(true); // the waveform joins what is drawn, the zoom and the scroll kept
  }

  async loadPitch(result, url) {
    if (result.beat_times || result.key) return result;
    const json = result.files.find((f) => f.endsWith('.json'));
    return json ? fetchJson(url(json)).catch(() => null) : null;
  }

  // The player's source: `src` (a blob URL made of `blob` when given); the previous blob is let go
  setSource(src, { preload = 'auto', blob = null } = {}) {
    if (this.blobUrl) URL.revokeObjectURL(this.blobUrl);
    this.blobUrl = blob ? URL.createObjectURL(blob) : '';
    // the source first, then a preload above `none`: raised first, the old source began to download (a request
    // for the bytes just fetched)
    if (preload === 'none') this.audio.preload = preload;
    if (this.blobUrl || src) this.audio.src = this.blobUrl || src;
    else this.audio.removeAttribute('src');
    this.audio.preload = preload;
  }

  // The downloaded bytes of the file `key` given to the player, where it stands, unless it is playing from the server
  adopt(key, blob) {
    if (key !== this.key || !this.audio.paused) return;
    const at = this.audio.currentTime;
    this.setSource('', { blob });
    if (at) this.audio.addEventListener('loadedmetadata', () => { this.audio.currentTime = at; }, { once: true });
  }

  // {decoded: {peaks, duration} or null, note: why there is no waveform, or ''}
  async decode(session, name, src) {
    const file = session.files.find((f) => f.name === name);
    if (!waveformOf(session, name)) {
      return { decoded: null, note: 'No waveform for a track this long (it would take too much memory).' };
    }
    try {
      const response = await fetch(at(src));
      if (!response.ok) throw await errorOf(response);
      const bytes = await response.arrayBuffer();
      this.adopt(`${session.session_id}/${name}`, new Blob([bytes], { type: response.headers.get('Content-Type') ?? '' }));
      const ctx = new (window.OfflineAudioContext || window.webkitOfflineAudioContext)(1, 1, 44100);
      const buffer = await ctx.decodeAudioData(bytes);
      return { decoded: { peaks: peaksOf(buffer), duration: buffer.duration }, note: '' };
    } catch (e) {
      // a 404 was decoded as audio ("Unable to decode audio data") and the deleted file stayed listed
      if (e instanceof ApiError && e.status === 404) {
        this.onGone();
        return { decoded: null, note: `${name} is no longer in this session (it was deleted).` };
      }
      // a format the server reads but this browser does not (AIFF, ALAC, CAF and WavPack in Chromium, WebM in older
      // Safari): said as such, not as the decoder's "Unable to decode audio data" with a greyed-out player (a stranger's)
      const names = { aiff: 'AIFF', m4a: 'this M4A (ALAC?)', webm: 'WebM', caf: 'CAF', wv: 'WavPack' };
      const format = names[file?.format] ?? null;
      if (e instanceof DOMException && format) {
        return { decoded: null,
          note: `This browser cannot play ${format}: the analyses are unaffected; a WAV, FLAC or MP3 copy plays here.` };
      }
      // any other encoding its decoder refuses (a 64-bit float or ADPCM WAV, an Ogg Vorbis file libvorbis reads and
      // Chromium's FFmpeg does not): the file named, where a stranger's had read the decoder's "Unable to decode
      // audio data" under a greyed-out player
      if (e instanceof DOMException && e.name === 'EncodingError') {
        return { decoded: null, note: `This browser cannot play ${name} (its ${file?.format?.toUpperCase() ?? 'audio'}`
          + ' encoding; the server reads it): the analyses are unaffected; a 16-bit WAV, FLAC or MP3 copy plays here.' };
      }
      return { decoded: null, note: `The waveform could not be drawn: ${errorText(e)}` };
    }
  }

  showSummary(pitch, result, url, failed = {}) {
    const dl = $('#summary');
    const warnings = $('#warnings');
    const downloads = $('#pitch-downloads');
    // the hint stands beside the list, not in it: a <dl> holds terms and values only (axe: definition-list)
    $('#summary-empty').hidden = Boolean(pitch);
    $('#summary-empty').textContent = failed.pitch ? failedText('pitch', failed)
      : 'Run “Key, tempo, chords, melody” on the file.';
    dl.hidden = !pitch;
    if (!pitch) {
      clear(dl);
      clear(warnings);
      clear(downloads);
      return;
    }
    const key = pitch.key || {};
    const fact = (name, value, confidence, id) => [
      el('dt', {}, name),
      el('dd', { id }, el('span', { class: value === NOT_MEASURED ? 'value muted' : 'value' }, value ?? '–'),
        confidence !== undefined && confidence !== null
          ? el('span', { class: 'confidence', title: 'confidence' }, ` ${percent(confidence)} sure`) : null),
    ];
    // a job runs only the analyses asked for (`include`): what its result does not hold was not measured, not
    // measured as nothing (a key-only job had read "no steady beat" and "0 beats, 0 bars", a stranger's)
    const has = (field) => field in pitch;
    const tuning = pitch.tuning_cents;
    const beats = has('beat_times')
      ? `${pitch.beat_times.length} beats, ${(pitch.downbeat_times || []).length} bars` : NOT_MEASURED;
    clear(dl,
      // no key or no beat: no "0 % sure" beside it (the warnings say why)
      ...fact('Key', !has('key') ? NOT_MEASURED : key.label || (key.tonic ? `${key.tonic} ${key.mode}` : 'no clear key'),
        key.tonic ? key.confidence : undefined, 'fact-key'),
      // where the music modulates, or names no one key and moves between several: the .txt's "modulates to" lines
      ...((key.changes || []).length > 1 ? fact('Key changes', key.changes
        .map((c, i) => (i ? `${c.label} at ${formatClock(c.time)}` : c.label)).join(' → '), undefined,
      'fact-key-changes') : []),
      ...fact('Tempo', !has('tempo_bpm') ? NOT_MEASURED : pitch.tempo_bpm ? `${pitch.tempo_bpm.toFixed(1)} BPM`
        : 'no steady beat', pitch.tempo_bpm ? pitch.tempo_confidence : undefined, 'fact-tempo'),
      ...fact('Metre', has('time_signature') ? pitch.time_signature ?? 'no steady beat' : NOT_MEASURED, undefined,
        'fact-metre'),
      // where nothing has a tuning (silence, noise, speech) the result says why beside its 0: "none (why)", as the
      // .txt says; the page had read "0 cents from A440", a measurement
      ...fact('Tuning', !has('tuning_cents') ? NOT_MEASURED : pitch.tuning_note ? `none (${pitch.tuning_note})`
        : tuning !== null ? `${Math.round(tuning) > 0 ? '+' : ''}${Math.round(tuning) || 0} cents from A440` : '–',
        undefined, 'fact-tuning'),
      ...fact('Beats, bars', beats, undefined, 'fact-beats'));
    clear(warnings, ...(pitch.warnings || []).map((w) => el('li', {}, w)));
    const files = result?.files || [];
    // each named for what it holds: the transcript's "Text" link sat beside this one of the same name
    const link = (suffix, text, label) => {
      const n = files.find((f) => f.endsWith(suffix));
      return n ? el('a', { href: url(n, 'results', false), download: n, 'aria-label': label }, text) : null;
    };
    const links = [link('.mid', 'Melody, chords and beats as MIDI'), link('.json', 'JSON', 'Key, tempo and chords as JSON'),
      link('.txt', 'Text', 'Key, tempo and chords as text')]
      .filter(Boolean);
    clear(downloads, ...links.flatMap((a, i) => (i ? [' · ', a] : [a])));
  }

  showStems(result, url, fresh, failed = {}) {
    if (!result) {
      this.mixer.clear(failed.demucs ? failedText('demucs', failed) : 'Run “Stems” on the file to get a mixer here.');
      return;
    }
    const stemName = (f) => (result.stems || []).filter((s) => f.startsWith(`${s}_`))
      .sort((a, b) => b.length - a.length)[0] ?? f.split('_')[0]; // no_vocals_x.wav is no_vocals, not vocals
    const stems = result.files.filter((f) => /\.(wav|flac|mp3)$/.test(f)).map((f) => ({
      stem: stemName(f), url: url(f), download: url(f, 'results', false),
    }));
    const same = !fresh && this.mixer.stems().map((c) => c.name).join() === stems.map((s) => s.stem).join();
    if (!same) this.mixer.load(stems);
  }

  showTranscript(transcript, result, url, failed = {}) {
    const links = $('#subtitle-links');
    if (!transcript) {
      this.transcript.show(failed.whisper ? failedText('whisper', failed) : 'Run “Transcript” on the file.');
      clear(links);
      return;
    }
    this.transcript.load(transcript);
    const subtitle = (ext, text, label) => {
      const n = result.files.find((f) => f.endsWith(ext));
      return n ? el('a', { href: url(n, 'results', false), download: n, 'aria-label': label }, text) : null;
    };
    const found = [subtitle('.srt', 'Subtitles (.srt)'), subtitle('.vtt', 'WebVTT (.vtt)'), subtitle('.lrc', 'Lyrics (.lrc)'),
      subtitle('.txt', 'Text', 'Transcript as text')].filter(Boolean);
    clear(links, ...found.flatMap((a, i) => (i ? [' · ', a] : [a])));
  }

  showAnalysis(results) {
    const box = $('#analysis');
    const parts = [];
    const lyrics = results.lyrics;
    if (lyrics) {
      const flagged = lyrics.explicit?.flagged ? [`Explicit words: ${(lyrics.explicit.words || []).join(', ')}`] : [];
      parts.push(['Lyrics', lyrics.analysis_text, [...flagged, ...(lyrics.warnings || [])], lyrics]);
    }
    const llm = results.gemma_3n;
    if (llm) parts.push([`Audio LLM (${llm.model ?? ''})`, llm.analysis_summary, llm.warnings || [], llm]);
    if (!parts.length) { clear(box, el('p', { class: 'muted small' }, 'Run “Lyrics” or “Audio LLM” on the file.')); return; }
    // the result's warnings are part of the answer: an instrumental track's lyrics analysis is only its warning
    // the warnings first, as the transcript's: below a long answer in its scroll box they were out of sight
    // a stopped job's partial text: said in its heading and in a line above it (canceled, or its time limit)
    clear(box, ...parts.map(([title, text, notes, result]) => el('article', { class: result.partial ? 'partial' : null },
      el('h3', {}, title, result.partial ? el('span', { class: 'stopped-tag' }, ' · stopped, partial') : null),
      result.partial ? el('p', { class: 'stopped-mark', dataset: { reason: result.finish_reason ?? '' } },
        stoppedText(result.finish_reason)) : null,
      notes.length > 0 && el('ul', { class: 'warnings' }, ...notes.map((w) => el('li', {}, w))),
      ...(String(text || '').trim() ? String(text).split(/\n{2,}/).map((p) => el('p', { class: 'llm' }, p))
        : [el('p', { class: 'muted small' }, 'No text was generated.')]))));
  }

  showFeatures(result, url, name, failed = {}) {
    const box = $('#features');
    const png = result?.files?.find((f) => f.endsWith('.png'));
    if (!png) {
      clear(box, el('p', { class: 'muted small' },
        failed.features ? failedText('features', failed) : 'Run “Features picture” on the file.'));
      return;
    }
    // the recording's own warnings (clipped, DC offset, peaks over full scale) had reached the JSON and the .txt only
    const notes = result?.audio_features?.warnings || [];
    clear(box, notes.length > 0 && el('ul', { class: 'warnings', id: 'features-warnings' },
      ...notes.map((w) => el('li', {}, w))),
    el('a', { href: url(png), target: '_blank', rel: 'noopener', title: 'Open the picture full size' },
      el('img', { src: url(png), alt: `Features of ${name}: waveform, spectrogram and chromagram`,
        class: 'features', loading: 'lazy' })),
    el('p', { class: 'small' }, el('a', { href: url(png, 'results', false), download: png }, 'Download the picture')));
  }
}
