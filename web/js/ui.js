// Small DOM helpers. Text always goes in as text (never HTML): names and results come from users and models.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (selector) => document.querySelector(selector);

export function clear(node, ...children) {
  node.replaceChildren(...children.filter((c) => c !== undefined && c !== null && c !== false));
}

// The page's notices, each about one cause (`cause`: 'library-tracks', 'run:<session>/<file>', ...). An error stays
// until its cause is gone (the code that sees it gone calls clearNotice: a later List that is answered, a Run that
// starts everything ticked) or the user dismisses it; a newer notice of the same cause replaces it, one of another
// cause sits beside it. One box had held the last notice only for 12 s: a refusal stayed up over the success that
// fixed it, a second refusal replaced a first that still applied, and a still-true one went unread. A
// confirmation goes by itself after 4 s.
const notices = new Map(); // cause -> {node, timer}

// What a request answered by a front with no server behind it (502, 503, 504 without the API's JSON error), or not
// answered at all, says. It is one notice, whatever asked (cause 'server'), gone with the next answered request: a
// restart had left three notices reading the bare "the server answered 502" (the session's read, an upload's, the
// models'), and they stayed once it was back.
export const SERVER_AWAY = 'The server is not answering (restarting?): what failed can be tried again once it is back.';

export function notify(message, { error = true, cause = 'page' } = {}) {
  if (message === SERVER_AWAY) cause = 'server';
  clearNotice(cause);
  const node = el('p', { class: error ? 'notice error' : 'notice', dataset: { cause } },
    el('span', { class: 'notice-text' }, message),
    // its × is drawn by the style sheet, so the notice's text is its message alone
    el('button', { type: 'button', class: 'dismiss', title: 'Dismiss', 'aria-label': `Dismiss: ${message}`,
      onclick: () => clearNotice(cause) }));
  notices.set(cause, { node, timer: error ? 0 : setTimeout(() => clearNotice(cause), 4000) });
  $('#notice').append(node);
  showNotices();
}

// An error notice whose message counts down whole seconds: `text(left)` now and each second until `seconds` have
// passed (then `text(0)`); it stays until its cause is cleared, as any error's
export function notifyCountdown(text, seconds, { cause }) {
  const end = Date.now() + seconds * 1000;
  notify(text(Math.ceil(seconds)), { cause });
  const notice = notices.get(cause);
  const span = notice.node.querySelector('.notice-text');
  notice.timer = setInterval(() => {
    const left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
    span.textContent = text(left);
    if (left === 0) clearInterval(notice.timer);
  }, 1000);
}

// The notices of these causes go (their cause is gone); a cause ending in '*' is every cause it begins
export function clearNotice(...causes) {
  let gone = false;
  for (const [cause, notice] of notices) {
    if (!causes.some((c) => (c.endsWith('*') ? cause.startsWith(c.slice(0, -1)) : cause === c))) continue;
    clearTimeout(notice.timer); // a countdown's interval too (one list of timers)
    notice.node.remove();
    notices.delete(cause);
    gone = true;
  }
  if (gone) showNotices();
}

function showNotices() {
  const box = $('#notice');
  box.hidden = notices.size === 0;
  box.classList.toggle('error', [...notices.values()].some((n) => n.node.classList.contains('error')));
}

// what a job canceled without this page's Stop was canceled by, as far as the page can know
export const CANCELED_ELSEWHERE = 'not by this page (another page, the API or the command line)';

export function errorText(e) {
  return e && e.message ? e.message : String(e);
}

export function formatTime(seconds) {
  if (!Number.isFinite(seconds)) return '–';
  // rounded to the tenth shown before splitting: 1199.97 s is 20:00.0, not "19:60.0"
  const tenths = Math.round(seconds * 10);
  const m = Math.floor(tenths / 600);
  return `${m}:${((tenths - m * 600) / 10).toFixed(1).padStart(4, '0')}`;
}

// whole seconds, as m:ss (a line's or a track's place where tenths would be noise); '–' when unknown
export function formatClock(seconds) {
  if (!Number.isFinite(seconds)) return '–';
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function formatBytes(n) {
  if (!n) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function percent(x) {
  return `${Math.round((x ?? 0) * 100)} %`;
}

// `song.wav` -> `song`: result files are named after the upload's stem
export function stemOf(name) {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

// Said to screen readers (the polite live region #announcer): an upload stored or refused, a job that starts or
// ends. The job rows and the upload list change silently (a bar's value, a word in a row): a stranger's screen reader
// heard nothing of a job's end. Each message is a line of its own, so two said together are both read; the
// region keeps the last few.
export function announce(message) {
  const box = $('#announcer');
  if (!box) return;
  box.append(el('p', {}, message));
  while (box.childElementCount > 5) box.firstElementChild.remove();
}

// `fn` (async) run at most once at a time: the calls made while it runs are one more run once it ends, not one each.
// A second tab of the session had read it whole once per file uploaded in the first (five files: five reads at
// once, each with its results), and so had the uploading tab.
export function coalesced(fn) {
  let running = null;
  let next = null;
  const call = () => {
    if (!running) {
      running = (async () => fn())().finally(() => { running = null; });
      return running;
    }
    next ??= running.catch(() => {}).then(() => { next = null; return call(); });
    return next;
  };
  return call;
}

// A time left as a person reads it: "28 s", "4 min 10 s" (whole seconds: it is an estimate)
export function leftText(seconds) {
  const whole = Math.max(Math.round(seconds), 1);
  if (whole < 60) return `${whole} s`;
  return whole < 3600 ? `${Math.floor(whole / 60)} min ${whole % 60} s`
    : `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
}

// A running job's stage as a person reads it. A text generation says where it is from the job's `generation`:
// "generating 120/512 tokens, 14 tok/s, up to 28 s left" (up to: the model may end its answer before its
// max_new_tokens), or while a long prompt is read "reading the prompt (6300 tokens), 12/30 layers, about 40 s left".
// A stranger's 4.5-minute analysis had shown "generating" and a share alone. Any other job: its stage.
export function stageText(job) {
  const g = job.generation;
  if (job.state !== 'running' || !g || typeof g !== 'object') return job.stage ?? '';
  const parts = [];
  if (g.phase === 'prompt') {
    parts.push(job.stage || 'reading the prompt');
    if (g.layers) parts.push(`${g.layers_read ?? 0}/${g.layers} layers`);
    if (typeof g.prompt_seconds_left === 'number') parts.push(`about ${leftText(g.prompt_seconds_left)} left`);
  } else {
    parts.push(`generating ${g.tokens_generated ?? 0}/${g.max_new_tokens ?? '?'} tokens`);
    const rate = g.tokens_per_second;
    if (typeof rate === 'number' && rate > 0) parts.push(`${rate >= 10 ? Math.round(rate) : rate.toFixed(1)} tok/s`);
    if (typeof g.seconds_left === 'number') parts.push(`up to ${leftText(g.seconds_left)} left`);
  }
  // one pass of several (a long recording's analysis): the time left is this pass's
  return `${g.pass && g.passes ? `pass ${g.pass}/${g.passes}: ` : ''}${parts.join(', ')}`;
}

// What marks a stopped job's partial result (`partial`, its `finish_reason` canceled or time_limit), in words: a
// colour alone says nothing to a screen reader, nor to a reader who does not tell the colours apart.
const STOPS = {
  time_limit: ['time limit', 'the server’s time limit stopped the job'],
  canceled: ['canceled', 'the cancel'],
};

const stopOf = (reason) => (Object.hasOwn(STOPS, reason ?? '') ? STOPS[reason] : null);

// "Stopped: partial (time limit)": a partial result's mark, why where it is known (`reason`: its finish_reason)
export function stoppedTag(reason) {
  return stopOf(reason) ? `Stopped: partial (${stopOf(reason)[0]})` : 'Stopped: partial';
}

// the mark's sentence, over a stopped analysis's text
export function stoppedText(reason) {
  return `${stoppedTag(reason)}: the text written before ${stopOf(reason)?.[1] ?? 'the job stopped'}`;
}
