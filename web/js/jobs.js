// The open session's jobs: live progress from each running job's event stream, and a cancel button.
import { del, followJob, get } from './api.js';
import { LABELS } from './analyses.js';
import { $, announce, clearNotice, el, errorText, leftText, notify, stageText } from './ui.js';

const FINAL = new Set(['succeeded', 'failed', 'canceled']);
const ENDED = new Set([...FINAL, 'gone']); // gone: the server no longer has the job (api.js JOB_GONE)
// A queued row asks for its place this often: the event stream says when the job starts, not when the jobs ahead
// of it do (one GET per queued row; the server counts in one bounded walk of the queue, jobs/queue_position.py)
const PLACE_REFRESH_MS = 5000;
// A row's estimate (`eta`: time left, or when a queued job starts) is counted down this often between the events
// that tell it anew: a long job reports when its shown percent moves, every few seconds. Nothing is asked of the
// server for it.
const ETA_TICK_MS = 1000;

export class JobList {
  constructor({ onFinished }) {
    this.onFinished = onFinished;
    this.rows = new Map(); // job id -> {record, node, stop, etaAt}
    this.tick = null;
    // a narrower or wider list wraps its rows anew: it is fitted to whole rows again
    let width = 0;
    new ResizeObserver(([entry]) => {
      if (entry.contentRect.width !== width) { width = entry.contentRect.width; this.count(); }
    }).observe($('#job-list'));
  }

  // each row's estimate counted down in place (its text alone: a redrawn row would lose the keyboard's focus)
  countDown() {
    for (const row of this.rows.values()) {
      const span = row.node.querySelector('.job-eta');
      if (span) span.textContent = etaPart(row, span.dataset.after === '1');
    }
    if (this.rows.size) this.count(); // a longer time left may wrap its row onto another line (a phone's)
  }

  reset(jobs) {
    for (const row of this.rows.values()) {
      if (row.stop) row.stop();
      clearInterval(row.place);
    }
    this.rows.clear();
    this.tick ??= setInterval(() => this.countDown(), ETA_TICK_MS);
    $('#job-list').replaceChildren();
    const newest = [...jobs].sort((a, b) => (b.created_at || '').localeCompare(a.created_at || ''));
    for (const job of newest.reverse()) this.add(job);
    this.count();
  }

  // how many, beside the heading, and whether some are scrolled out of sight: the list shows about five rows, and
  // a stranger's sixth and later had been hidden with no cue (headless Chromium draws no scrollbar)
  count() {
    const list = $('#job-list');
    fitRows(list);
    const n = this.rows.size;
    const hidden = list.scrollHeight > list.clientHeight + 1;
    const more = hidden ? '; scroll for the rest' : '';
    $('#jobs-count').textContent = n ? `${n} job${n === 1 ? '' : 's'}, newest first${more}` : '';
  }

  // `started`: a job this page has just started. One answered from the result cache comes back already
  // finished, with no stream to follow: its results are loaded now (a stranger's cached analysis showed
  // "succeeded" beside "Run … on the file" until the page was reloaded).
  add(job, { started = false } = {}) {
    if (this.rows.has(job.job_id)) return;
    const row = { record: job, node: el('li', { class: 'job', dataset: { job: job.job_id } }), stop: null,
      place: null, etaAt: performance.now() };
    this.tick ??= setInterval(() => this.countDown(), ETA_TICK_MS);
    this.rows.set(job.job_id, row);
    $('#job-list').prepend(row.node);
    $('#jobs-empty').hidden = true;
    this.draw(row);
    this.count();
    if (started) announce(`${spoken(job)}: ${job.state === 'queued' ? 'started, queued' : job.state}`);
    if (job.state === 'queued') row.place = setInterval(() => this.refreshPlace(row), PLACE_REFRESH_MS);
    if (!FINAL.has(job.state)) {
      row.stop = followJob(job.job_id, (update) => this.apply(row, update));
    } else if (started) {
      this.onFinished(row.record);
    }
  }

  // What the row learns of its job: from its event stream, its Cancel's answer, or a queued row's read of its place
  apply(row, update) {
    const was = row.record.state;
    const wasFinal = FINAL.has(was);
    if (wasFinal) return; // ended: a later word (a stream's last event after a Cancel's answer) changes nothing
    // a generation's `generation` is in the events that have one: an event without it ends it; an estimate
    // (`eta`) is kept by an event without one in the same state (a batch's finished file), ended by a new state
    const eta = update.eta ?? (update.state === undefined || update.state === was ? row.record.eta : undefined);
    if (update.eta) row.etaAt = performance.now();
    row.record = { ...row.record, generation: undefined, ...update, eta };
    if (row.record.state !== 'queued') clearInterval(row.place);
    this.draw(row);
    // a change of state is said (running, succeeded, failed and why); its progress is the bar's to tell
    if (row.record.state !== was) {
      const why = row.record.state === 'failed' ? `: ${row.record.error?.message ?? 'no reason given'}` : '';
      announce(`${spoken(row.record)}: ${row.record.state}${why}`);
    }
    if (row.record.state === 'gone') row.stop = null;
    if (FINAL.has(row.record.state)) {
      row.stop?.(); // its stream, open or waiting for a free connection, is not needed any more
      row.stop = null;
      clearNotice(`cancel:${row.record.job_id}`); // a refused Cancel no longer matters once the job has ended
      this.onFinished(row.record);
    }
  }

  // The queued job's place (`jobs_ahead`), read again; a refused read leaves the last one shown. A job that has
  // ended meanwhile (canceled, by this page or elsewhere) is ended here too: its stream may be waiting for a free
  // connection (at most MAX_STREAMS are open), and the row had read "queued" with its Cancel for minutes.
  async refreshPlace(row) {
    if (row.record.state !== 'queued') return clearInterval(row.place);
    try {
      const now = await get(`/jobs/${encodeURIComponent(row.record.job_id)}`);
      if (row.record.state !== 'queued') return;
      if (FINAL.has(now.state)) { this.apply(row, now); return; }
      if (now.state !== 'queued') return; // running: its stream tells the progress
      row.record = { ...row.record, jobs_ahead: now.jobs_ahead, eta: now.eta };
      row.etaAt = performance.now();
      this.draw(row);
    } catch { /* the event stream says what became of the job */ }
  }

  // Cancel pressed: a queued job is canceled by the answer itself (202 `canceled`), and the row says so at once; a
  // running one stops at its next checkpoint (`cancel_requested`), and its row reads "stopping…" until it has.
  // The row had waited for the job's stream, which may not be open (a stranger's fourth job: its Cancel answered,
  // the row read "queued" with its Cancel on).
  async cancel(row) {
    const id = row.record.job_id;
    row.canceling = true;
    this.draw(row);
    let answer;
    try { answer = await del(`/jobs/${encodeURIComponent(id)}`); } catch (e) {
      row.canceling = false;
      this.draw(row);
      notify(errorText(e), { cause: `cancel:${id}` });
      // a job that had finished before the Cancel (409): its record says how
      get(`/jobs/${encodeURIComponent(id)}`).then((job) => { if (FINAL.has(job.state)) this.apply(row, job); })
        .catch(() => {});
      return;
    }
    if (answer?.state === 'canceled') {
      let job = { state: 'canceled' };
      try { job = await get(`/jobs/${encodeURIComponent(id)}`); } catch { /* the state is known */ }
      this.apply(row, FINAL.has(job.state) ? job : { state: 'canceled' });
    }
  }

  draw(row) {
    const job = row.record;
    const final = ENDED.has(job.state);
    // the upload it reads (a result file named a Whisper or stems job's row: transcript_x.json, vocals_x.wav)
    const file = fileOf(job);
    const label = LABELS[job.type] ?? job.type;
    const bar = el('progress', { max: '1', value: String(final && job.state === 'succeeded' ? 1 : job.progress ?? 0),
      'aria-label': `${spoken(job)}: progress` });
    const cancel = final ? null : el('button', {
      type: 'button', class: 'cancel', 'aria-label': `Cancel ${label}${file ? ` of ${file}` : ''}`,
      'aria-disabled': row.canceling ? 'true' : null, title: row.canceling ? 'Cancel asked: the job is stopping' : null,
      onclick: () => { if (!row.canceling) this.cancel(row); },
    }, row.canceling ? 'Stopping…' : 'Cancel');
    // the file from the start, not once the job ends: a stranger's 14 queued rows read alike, their Cancel too
    // a job stopped by its time limit that kept its text so far says so beside its error (canceled: its state)
    const kept = job.state === 'failed' && keptPartial(job.result) ? ' · the text written so far is kept (partial)' : '';
    const detail = job.state === 'failed' ? `${job.error?.message ?? 'failed'}${kept}` : job.state === 'gone' ? job.stage
      : final ? file : [file, stageText(job), place(job)].filter(Boolean).join(' · ');
    row.node.className = `job ${job.state}`;
    // what it ran (`method`: a REPET separation is a "Stems" row, an analysis by SmolLM2 an "Audio LLM" one) and,
    // for a job whose worker was lost, the attempt it is on: a stranger's retried job read as any other
    const attempt = attemptOf(job);
    const about = job.method || attempt > 1 ? el('span', { class: 'job-about small' },
      job.method ? el('span', { class: 'job-method muted' }, job.method) : null,
      attempt > 1 ? el('span', { class: 'job-retry', title: retryTitle(job, attempt) }, `attempt ${attempt}`) : null)
      : null;
    row.node.replaceChildren(
      el('span', { class: 'job-type' }, label, about),
      bar,
      el('span', { class: 'state', dataset: { state: job.state } }, job.state === 'running'
        ? `${Math.round((job.progress ?? 0) * 100)} %` : job.state),
      el('span', { class: 'stage small muted' }, detail, final ? null
        : el('span', { class: 'job-eta', dataset: { after: detail ? '1' : '' } }, etaPart(row, Boolean(detail)))),
      cancel ?? el('span'),
    );
    this.count(); // the row may have grown or shrunk (a method line, a stage that wraps)
  }
}

// The list as tall as the whole rows that fit in its style sheet's max-height: rows of two lines (the method's)
// had made 11rem hold three and a half, the fourth cut in half under a "scroll for the rest" for a few pixels.
// Rows are as tall as what they say (a phone's wrap), so the height is measured, from the top row down. It is set
// as the list's height, under the max-height it is read from: a max-height cleared to be measured again would
// pull a list scrolled to its end back at each row's redraw.
function fitRows(list) {
  const budget = parseFloat(getComputedStyle(list).maxHeight);
  const frame = list.offsetHeight - list.clientHeight; // its borders (none today)
  if (!Number.isFinite(budget) || list.scrollHeight + frame <= budget + 0.5) { // every row fits: its own height
    list.style.height = '';
    return;
  }
  const top = list.getBoundingClientRect().top + list.clientTop - list.scrollTop;
  let whole = 0;
  for (const row of list.children) {
    const bottom = row.getBoundingClientRect().bottom - top;
    if (bottom + frame > budget + 0.5) break;
    whole = bottom;
  }
  list.style.height = whole > 0 ? `${whole + frame}px` : ''; // none: one row taller than the box, that scrolls
}

// The job's estimate as its row says it, counted down from when it was told: "about 40 s left" (running), "starts
// in about 2 min" (queued), after " · " where the row says more before it; nothing without one, once it has run out
// (the job is late on it: its next event says more), or while a text generation says its own ("up to 28 s left").
function etaPart(row, before = true) {
  const job = row.record;
  const eta = job.eta;
  if (!eta || typeof eta !== 'object' || (job.state === 'running' && job.generation)) return '';
  const told = job.state === 'running' ? eta.seconds_left : job.state === 'queued' ? eta.starts_in : null;
  if (typeof told !== 'number') return '';
  const left = told - (performance.now() - row.etaAt) / 1000;
  if (left < 1) return '';
  const text = job.state === 'running' ? `about ${leftText(left)} left` : `starts in about ${leftText(left)}`;
  return before ? ` · ${text}` : text;
}

// a queued job's place in its queue: "next", "3 ahead"; nothing when the server does not know it (or says none)
function place(job) {
  if (job.state !== 'queued' || typeof job.jobs_ahead !== 'number') return '';
  return job.jobs_ahead === 0 ? 'next' : `${job.jobs_ahead} ahead`;
}

// the attempt a job is on (a queued one its worker was lost under: the one it waits to start); 0 without `attempts`
function attemptOf(job) {
  if (typeof job.attempts !== 'number') return 0;
  return job.state === 'queued' ? job.attempts + 1 : job.attempts;
}

// "attempt 2: a worker was lost during attempt 1", from the record's `lost_attempts` (a stream's state event has
// `attempts` only: the row's record keeps the last list it had)
function retryTitle(job, attempt) {
  const lost = (job.lost_attempts ?? []).map((l) =>
    `a worker was ${l.reason === 'worker_shut_down' ? 'shut down' : 'lost'} during attempt ${l.attempt}`);
  return `attempt ${attempt}: ${lost.length ? lost.join(', ') : 'an earlier attempt was lost'}`;
}

// whether a stopped job's result holds partial text (its own, or a batch's file it was on)
function keptPartial(result) {
  return Boolean(result && (result.partial || (result.results ?? []).some((r) => r?.partial)));
}

function fileOf(job) {
  const inputs = job.input_files ?? [];
  return inputs.length === 1 ? inputs[0] : inputs.length > 1 ? `${inputs.length} files`
    : job.result?.filename ?? job.files?.[0] ?? '';
}

// "Features picture of tone.wav": what a job is, as the live region says it
function spoken(job) {
  const file = fileOf(job);
  return `${LABELS[job.type] ?? job.type}${file ? ` of ${file}` : ''}`;
}
