// The API as the page uses it. Every request is same-origin, so the browser adds the Basic credentials it
// asked for when the page loaded; errors become ApiError with the server's own message.
import { SERVER_AWAY, clearNotice, notify, notifyCountdown } from './ui.js';

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = 0) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter; // whole seconds, from a 429's or 409's Retry-After (0: none said)
  }
}

// Every request goes to an absolute address on the page's origin: opened as http://user:pass@host/, the page's
// own address holds credentials, and fetch refuses a relative address resolved against it ("URL that includes
// credentials"); the origin never holds them, and the browser keeps sending the credentials it was given.
export const at = (path) => new URL(path, location.origin).href;

export async function errorOf(response) {
  const after = Number.parseInt(response.headers.get('Retry-After') ?? '', 10);
  const retryAfter = Number.isFinite(after) && after > 0 ? after : 0;
  try {
    const body = await response.json();
    if (body && body.error) {
      // `details`: what the error names besides its message (an ambiguous session's owners, read by main.js)
      return Object.assign(new ApiError(response.status, body.error.code, body.error.message, retryAfter),
        { details: body.error.details ?? null });
    }
  } catch (_) { /* not JSON: a proxy's page */ }
  if ([502, 503, 504].includes(response.status)) return new ApiError(response.status, 'server_away', SERVER_AWAY);
  return new ApiError(response.status, 'http_error', `the server answered ${response.status}`);
}

// fetch, a network failure (no answer at all) an ApiError saying the server is away, and any answer the end of it
async function reach(url, init) {
  let response;
  try { response = await fetch(url, init); } catch (e) { throw new ApiError(0, 'server_away', SERVER_AWAY); }
  if (![502, 503, 504].includes(response.status)) clearNotice('server');
  return response;
}

export async function request(method, path, body) {
  const init = { method, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await reach(at(path), init);
  if (!response.ok) throw await errorOf(response);
  return response.status === 204 ? null : response.json();
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body);
export const del = (path) => request('DELETE', path);

// An admin acts on another user's session with ?owner=<name> (README, the admin section): the page keeps the owner
// of the open session when it is another user's, and every request scoped to that session carries it. Without it an
// admin's upload into bob's session, opened by its link, had made a session of that id of her own (ids are per
// owner), the page then showed hers, and Runs and deletes reached hers or nothing.
const scope = { sessionId: null, owner: null };
export function scopeTo(sessionId, owner) {
  scope.sessionId = sessionId;
  scope.owner = owner || null;
}
// the owner to name for a request about `sessionId`: null for the caller's own (nothing added, as before)
export const ownerOf = (sessionId) => (sessionId && sessionId === scope.sessionId ? scope.owner : null);
export const withOwner = (path, owner) => (owner ? `${path}${path.includes('?') ? '&' : '?'}owner=${encodeURIComponent(owner)}` : path);
// `/sessions/<id><rest>`, with the session's owner when it is another user's
export const sessionPath = (sessionId, rest = '', owner = ownerOf(sessionId)) => withOwner(`/sessions/${encodeURIComponent(sessionId)}${rest}`, owner);

export function fileUrl(sessionId, name, { area, inline = true, owner = ownerOf(sessionId) } = {}) {
  const q = new URLSearchParams();
  if (area) q.set('area', area);
  if (inline) q.set('inline', '1');
  if (owner) q.set('owner', owner);
  return `/sessions/${encodeURIComponent(sessionId)}/files/${encodeURIComponent(name)}?${q}`;
}

export async function fetchJson(url) {
  const response = await reach(at(url));
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

export const UPLOAD_CANCELED = 'canceled';

// One file per request, so each has its own progress (XHR: fetch has no upload progress). `signal` (an
// AbortSignal) stops it: the promise rejects with an ApiError whose code is UPLOAD_CANCELED.
// `owner`: the session's when it is another user's, as it was when the batch was dropped.
export function upload(sessionId, file, onProgress, signal, owner = ownerOf(sessionId)) {
  return new Promise((resolve, reject) => {
    const canceled = () => new ApiError(0, UPLOAD_CANCELED, 'canceled: not uploaded');
    if (signal?.aborted) { reject(canceled()); return; }
    let xhr = null; // null while waiting to send it again (429 too_many_uploads)
    signal?.addEventListener('abort', () => (xhr ? xhr.abort() : reject(canceled())), { once: true });
    const send = () => {
      if (signal?.aborted) { reject(canceled()); return; }
      xhr = new XMLHttpRequest();
      xhr.addEventListener('abort', () => reject(canceled()));
      xhr.open('POST', at(sessionPath(sessionId, '/files', owner)));
      xhr.responseType = 'json';
      xhr.upload.addEventListener('progress', (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      });
      xhr.addEventListener('load', () => {
        const body = xhr.response;
        if (xhr.status === 201) resolve(body);
        else if (xhr.status === 429 && body?.error?.code === 'too_many_uploads') {
          // the server checks a few of one user's uploads at a time and stored nothing: sent again after Retry-After
          const after = Number.parseInt(xhr.getResponseHeader('Retry-After') ?? '', 10);
          xhr = null;
          onProgress(0);
          setTimeout(send, (Number.isFinite(after) && after > 0 ? after : 5) * 1000);
        } else if (!body?.error && [502, 503, 504].includes(xhr.status)) reject(new ApiError(xhr.status, 'server_away', SERVER_AWAY));
        else reject(new ApiError(xhr.status, body?.error?.code ?? 'http_error',
          body?.error?.message ?? `the upload failed (${xhr.status})`));
      });
      xhr.addEventListener('error', () => reject(new ApiError(0, 'network', 'the upload was interrupted')));
      const form = new FormData();
      form.append('file', file, file.name);
      xhr.send(form);
    };
    send();
  });
}

// A job's live progress (GET /jobs/<id>/events). onUpdate gets {state, progress, stage} and, at the end,
// the full record; returns a function that stops listening. EventSource reconnects by itself (with
// Last-Event-ID) after a dropped connection; the stream ends after `done`.
// Each stream holds a connection, and a browser opens at most 6 HTTP/1.1 connections to one host: past
// MAX_STREAMS, streams wait for a free one, so uploads, the player and the other requests always get through
// (the worker runs one job at a time anyway).
const MAX_STREAMS = 3;
let streamsOpen = 0;
const waitingStreams = [];

function nextStream() {
  const next = waitingStreams.shift();
  if (next) next();
}

// A login the server refuses for a while (429 too_many_attempts: too many failed logins from this address or for
// this name, in this API process or another): the job's stream is opened again once the wait is over, and the
// notice counts it down. The page had said "The server is not answering" (or nothing, where another API process
// still took its credentials) and retried blindly every 2 to 30 s.
const THROTTLED = 'throttled';
const throttledText = (left) => (left > 0
  ? `Too many failed logins from this address or for this user name: the server refuses them for now. Try again in ${left} s; live progress resumes by itself then.`
  : 'Too many failed logins from this address or for this user name: trying again…');

// What the job's event stream itself answers, when that is 429: an EventSource that fails says no status, and
// the job's record may be read where its stream is refused (another API process that already took the credentials)
async function streamThrottled(url) {
  const stop = new AbortController();
  try {
    const response = await fetch(url, { signal: stop.signal, headers: { Accept: 'text/event-stream' } });
    return response.status === 429 ? await errorOf(response) : null;
  } catch (_) {
    return null; // no answer: the record's read below says the server is away
  } finally {
    stop.abort(); // a stream that opened is not kept: the EventSource opens its own
  }
}

const FINAL_STATES = new Set(['succeeded', 'failed', 'canceled']);
const RETRY_FIRST_MS = 2000;
const RETRY_MOST_MS = 30000;
export const JOB_GONE = 'the server no longer has this job (its queue lost it, or it was deleted)';

export function followJob(jobId, onUpdate) {
  let stopped = false;
  let source = null;
  let retryMs = RETRY_FIRST_MS;
  let timer = 0;
  const release = () => {
    if (!source) return;
    source.close();
    source = null;
    streamsOpen -= 1;
    nextStream();
  };
  const queue = () => { if (streamsOpen < MAX_STREAMS) start(); else waitingStreams.push(start); };
  // the stream refused and the record unread, or read unfinished: the stream is opened again later, 2 s, 4 s ... 30 s
  // on. It had been given up after one read: a server restarting (its front answering 502 until the API was back)
  // left a stranger's two jobs at "0 % starting" with a Cancel button, long after both had succeeded.
  const retry = () => {
    if (stopped) return;
    timer = setTimeout(() => { timer = 0; queue(); }, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MOST_MS);
  };
  // refused for `seconds` (429): said with its countdown, and the stream opened again once they have passed
  const throttled = (seconds) => {
    if (stopped) return;
    const wait = Math.max(1, seconds || RETRY_FIRST_MS / 1000);
    notifyCountdown(throttledText, wait, { cause: THROTTLED });
    timer = setTimeout(() => { timer = 0; queue(); }, wait * 1000 + 250);
  };
  const start = () => {
    if (stopped) { nextStream(); return; }
    streamsOpen += 1;
    source = new EventSource(at(`/jobs/${encodeURIComponent(jobId)}/events`));
    const update = (e) => onUpdate(JSON.parse(e.data));
    source.addEventListener('open', () => {
      retryMs = RETRY_FIRST_MS;
      clearNotice('server', THROTTLED);
    });
    source.addEventListener('state', update);
    source.addEventListener('progress', update);
    source.addEventListener('done', (e) => {
      release();
      onUpdate(JSON.parse(e.data));
    });
    source.addEventListener('error', async () => {
      if (!source || source.readyState !== EventSource.CLOSED) return; // reconnecting by itself
      const url = source.url;
      release(); // refused (the server restarting, the job gone, the login expired): the record says which
      const refused = await streamThrottled(url);
      if (refused) { throttled(refused.retryAfter); return; }
      let job;
      try { job = await get(`/jobs/${encodeURIComponent(jobId)}`); } catch (e) {
        // no such job any more (a Redis that came back empty lost it): said, where its row had read "running" and
        // offered Cancel for good, and a model route's wait never ended
        if (e instanceof ApiError && e.status === 404) {
          if (!stopped) onUpdate({ state: 'gone', progress: 0, stage: JOB_GONE });
          return;
        }
        if (e instanceof ApiError && [401, 403].includes(e.status)) return; // no longer ours
        if (e instanceof ApiError && e.status === 429) { throttled(e.retryAfter); return; }
        notify(SERVER_AWAY, { cause: 'server' }); // the job's row follows it again once it is back
        retry();
        return;
      }
      clearNotice('server');
      if (stopped) return;
      onUpdate(job);
      if (!FINAL_STATES.has(job.state)) retry();
    });
  };
  queue();
  return () => { stopped = true; clearTimeout(timer); release(); };
}

// A route that runs a job and can wait for it (the model routes, /library/ask), sent with wait=0 so the page
// never blocks: 200 (done at once) or 202 with the job, followed through its event stream; resolves to the
// result. `onUpdate` sees the job while it runs ({job_id, state, progress, stage}). A job canceled with a result
// (a generation stopped midway keeps the text it had written) resolves to it; one canceled without rejects with
// an error whose `canceled` is true.
export async function postAndFollow(path, body, onUpdate = () => {}) {
  const answer = await post(path, { ...body, wait: 0 });
  if (!answer.job_id || answer.state === undefined) return answer;
  onUpdate({ job_id: answer.job_id, state: answer.state, jobs_ahead: answer.jobs_ahead });
  return new Promise((resolve, reject) => {
    followJob(answer.job_id, (job) => {
      if (job.state === 'succeeded') resolve(job.result);
      // a generation stopped by its time limit failed with the text it had written (`result`, finish_reason time_limit)
      else if (job.state === 'failed') {
        reject(Object.assign(new Error(job.error?.message ?? 'the job failed'), { result: job.result ?? null }));
      }
      else if (job.state === 'canceled' && job.result) resolve(job.result);
      else if (job.state === 'canceled') reject(Object.assign(new Error('the job was canceled'), { canceled: true }));
      else if (job.state === 'gone') reject(new Error(JOB_GONE));
      else onUpdate({ job_id: answer.job_id, ...job });
    });
  });
}

export const cancelJob = (jobId) => del(`/jobs/${encodeURIComponent(jobId)}`);
