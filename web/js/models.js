// The models panel: status (GET /api/v2/models/status), load and unload, and a generate box. Model calls are
// sent with wait=0 and followed through the job's event stream, so the page never blocks on them.
import { cancelJob, get, postAndFollow } from './api.js';
import {
  $, CANCELED_ELSEWHERE, clearNotice, el, errorText, formatBytes, notify, stageText, stoppedTag,
} from './ui.js';

const FINAL = new Set(['succeeded', 'failed', 'canceled']);
// While the panel is open and in view, the status is read again this often: a model loaded or unloaded elsewhere
// (another user, the API, the command line) had left the table saying what it was when the panel was opened
const STATUS_EVERY_MS = 5000;
// the other tabs of this page: each says when its load, unload or generate ended, and the others read the status then
const tabs = 'BroadcastChannel' in window ? new BroadcastChannel('music-analyzer-models') : null;
const STATE_WORDS = { sending: 'being sent', queued: 'queued', running: 'running' };

export class ModelsPanel {
  constructor() {
    this.models = []; // the table's models, as GET /api/v2/models/status last gave them
    // this page's load and unload jobs not yet ended (their #models-jobs row -> label): while one is sending, queued
    // or running, Load and Unload are disabled, saying which job they wait on. A stranger's second click on Load
    // had queued a second load behind the first, and an Unload pressed twice two unloads. Generate stays offered:
    // queued behind a load it runs on the model loaded (Load, then Generate, is how the panel is used), and this
    // page's own generation already disables it.
    this.changing = new Map();
    this.timer = 0;
    const panel = $('#models-panel');
    const watched = () => panel.open && document.visibilityState === 'visible';
    const watch = () => { clearTimeout(this.timer); if (watched()) this.refresh(); };
    panel.addEventListener('toggle', watch);
    document.addEventListener('visibilitychange', watch);
    tabs?.addEventListener('message', watch);
    // the next read is planned once this one has answered, while the panel is open and in view
    this.again = () => {
      clearTimeout(this.timer);
      if (watched()) this.timer = setTimeout(() => this.refresh(), STATUS_EVERY_MS);
    };
    $('#models-refresh').addEventListener('click', () => this.refresh());
    $('#generate-form').addEventListener('submit', (e) => { e.preventDefault(); this.generate(); });
  }

  async refresh() {
    let status;
    try { status = await get('/api/v2/models/status'); } catch (e) {
      notify(errorText(e), { cause: 'models-status' });
      this.drawRows(); // the last status's rows, with the buttons of jobs that have ended enabled
      this.again();
      return;
    }
    this.again();
    clearNotice('models-status');
    document.dispatchEvent(new CustomEvent('models-status', { detail: status })); // the Ask form's choice follows
    this.models = modelList(status);
    $('#models-current').textContent = `Resident: ${status.current_model ?? 'none'} · device ${status.device ?? 'unknown'}`
      + ` · ${status.queue_depth ?? 0} queued`;
    this.drawRows();
    fillModelSelect($('#generate-model'), this.models, [['auto', 'auto']]);
  }

  drawRows() {
    // the first of this page's load or unload jobs still on its way, as the reason the buttons wait
    const [pending] = this.changing.entries();
    const wait = pending ? `Wait: ${pending[1]} is ${STATE_WORDS[pending[0].dataset.state] ?? 'not finished'}` : undefined;
    // drawn again only when it changed, the keyboard kept on its row: the status is read every few seconds, and a
    // focused Load had been replaced under the keyboard each time
    const drawn = JSON.stringify([wait, this.models.map((m) => [m.model_type, m.loaded, m.downloaded,
      m.memory?.weights_bytes || m.expected_memory_bytes])]);
    if (drawn === this.drawn) return;
    this.drawn = drawn;
    const focused = document.activeElement?.closest('#models-rows tr')?.dataset.model;
    $('#models-rows').replaceChildren(...this.models.map((m) => el('tr', { dataset: { model: m.model_type } },
      el('th', { scope: 'row' }, m.model_type),
      // one column for both (Disk and Loaded side by side ran together in the 21rem sidebar)
      el('td', { title: m.loaded ? 'resident in memory' : m.downloaded ? 'weights on disk, not loaded'
        : 'weights not downloaded (download_models.py)' }, m.loaded ? 'loaded' : m.downloaded ? 'on disk' : 'missing'),
      el('td', {}, formatBytes(m.memory?.weights_bytes || m.expected_memory_bytes)),
      el('td', {}, m.loaded
        ? el('button', { type: 'button', disabled: Boolean(pending), title: wait,
          onclick: () => this.run('unload', {}, `Unload ${m.model_type}`), 'aria-label': `Unload ${m.model_type}` }, 'Unload')
        : el('button', { type: 'button', disabled: !m.downloaded || Boolean(pending), title: m.downloaded ? wait : undefined,
          onclick: () => this.run('load', { model_type: m.model_type }, `Load ${m.model_type}`),
          'aria-label': `Load ${m.model_type}` }, 'Load')))));
    if (focused) $('#models-rows').querySelector(`tr[data-model="${CSS.escape(focused)}"] button`)?.focus();
  }

  // The job of /api/v2/models/<route>, followed to its result, its states shown in a row of #models-jobs as the
  // Jobs list shows the analyses': queued (with how many wait in the GPU queue), running with its stage and share,
  // then done, failed or canceled. A load or generate queued behind another GPU job had shown "Loading…" or
  // "Generating…" alone for as long as it waited, as if nothing were happening.
  async call(route, body, label, onUpdate = () => {}) {
    const row = this.jobRow(label);
    const changes = route === 'load' || route === 'unload';
    if (changes) {
      this.changing.set(row, label);
      this.drawRows();
    }
    try {
      const result = await postAndFollow(`/api/v2/models/${route}`, body, (job) => {
        const moved = job.state && job.state !== row.dataset.state;
        this.drawJob(row, label, job);
        if (changes && moved) this.drawRows(); // the buttons' reason names the state it waits on
        onUpdate(job);
      });
      this.drawJob(row, label, { state: result?.finish_reason === 'canceled' ? 'canceled' : 'succeeded' });
      return result;
    } catch (e) {
      this.drawJob(row, label, { state: e.canceled ? 'canceled' : 'failed', stage: errorText(e) });
      throw e;
    } finally {
      // enabled again as the status read now draws them: drawn from the last status they had offered a Load of the
      // model just loaded for a moment
      this.changing.delete(row);
      this.refresh();
      tabs?.postMessage({ models: route });
    }
  }

  // a new row for a model job; the rows of jobs that have ended go (what is queued or running stays)
  jobRow(label) {
    const list = $('#models-jobs');
    list.querySelectorAll('li.job').forEach((li) => { if (FINAL.has(li.dataset.state)) li.remove(); });
    const row = el('li', { class: 'job', dataset: { state: 'sending' } });
    list.append(row);
    this.drawJob(row, label, { state: 'sending' });
    return row;
  }

  drawJob(row, label, job) {
    const state = job.state ?? row.dataset.state;
    const share = `${Math.round(100 * (job.progress ?? 0))} %`;
    row.dataset.state = state;
    if (job.job_id) row.dataset.job = job.job_id;
    row.className = `job ${state}`;
    // canceled by this page's Stop: "stopped", as the user asked (a cancel from elsewhere still says "canceled")
    const said = { sending: 'sending', running: `running ${share}`, succeeded: 'done',
      canceled: row.dataset.stopped ? 'stopped' : 'canceled' }[state] ?? state;
    // its place, as the 202 answer and the stream's state events tell it (a state without `jobs_ahead`, or null
    // where the server cannot tell, leaves the last one shown); the panel had shown the queue's whole length,
    // "3 jobs in its queue", the same for the first job waiting and the last
    if (state === 'queued' && typeof job.jobs_ahead === 'number') {
      row.dataset.waiting = ` (${job.jobs_ahead === 0 ? 'next' : `${job.jobs_ahead} ahead`})`;
    }
    const detail = state === 'queued' ? `waiting for the GPU worker${row.dataset.waiting ?? ''}`
      : state === 'running' ? stageText(job) : state === 'failed' ? (job.stage ?? '') : '';
    row.replaceChildren(el('span', { class: 'job-type' }, label),
      el('span', { class: 'state', dataset: { state } }, said),
      el('span', { class: 'stage small muted' }, detail));
  }

  async run(route, body, doing) {
    try {
      await this.call(route, body, doing);
      notify(`${doing}: done`, { error: false, cause: 'models' });
    } catch (e) { notify(errorText(e), { cause: 'models' }); }
  }

  async generate() {
    const out = $('#generate-output');
    const button = $('#generate-form button[type=submit]');
    const stop = $('#generate-stop');
    const model = $('#generate-model').value;
    const body = { prompt: $('#generate-prompt').value, max_length: Number($('#generate-length').value) || 64 };
    if (model !== 'auto') body.model_type = model;
    out.textContent = 'Generating…';
    button.disabled = true;
    let stopped = false; // this page's Stop was pressed: the job's cancel is the user's
    try {
      const result = await this.call('generate', body, `Generate (${model})`, (job) => {
        // Stop cancels the job: what was written so far comes back as its result
        stop.hidden = false;
        stop.onclick = () => {
          stop.disabled = true;
          stopped = true;
          const row = document.querySelector(`#models-jobs li.job[data-job="${CSS.escape(job.job_id)}"]`);
          if (row) row.dataset.stopped = 'asked';
          cancelJob(job.job_id).catch((e) => notify(errorText(e), { cause: 'generate' }));
        };
        if (job.state === 'queued') out.textContent = 'Queued: waiting for the GPU worker…';
        // its tokens of the budget, rate and time left once it says them: "Generating… 23 % (120/512 tokens, ...)"
        else if (job.stage === 'generating') {
          const where = job.generation ? ` (${stageText(job).replace(/^generating /, '')})` : '';
          out.textContent = `Generating… ${Math.round(100 * (job.progress ?? 0))} %${where}`;
        }
        else out.textContent = 'Generating…';
      });
      out.textContent = result.finish_reason !== 'canceled' ? result.response
        : `${result.response} … (${stopped ? 'stopped' : `canceled elsewhere: ${CANCELED_ELSEWHERE}`})`;
      clearNotice('generate');
    } catch (e) {
      // stopped before it wrote a word (queued, or reading the prompt): what the user asked for, not an error (a
      // stranger's Stop of a queued generation had been told "the job was canceled" as a failure)
      if (e.canceled && stopped) {
        out.textContent = 'Stopped before it had written anything.';
        clearNotice('generate');
      } else if (e.canceled) {
        // canceled elsewhere: said as such, as its job's row says "canceled" (it had been the error "the job was
        // canceled" in a notice)
        out.textContent = `Canceled elsewhere before it had written anything: ${CANCELED_ELSEWHERE}.`;
        clearNotice('generate');
      } else {
        // stopped by the server's time limit: the text it had written is still shown, marked (it had been dropped)
        const kept = e.result?.finish_reason === 'time_limit' ? e.result.response : '';
        out.textContent = kept ? `${kept} … (${stoppedTag('time_limit')})` : '';
        notify(errorText(e), { cause: 'generate' });
      }
    } finally {
      button.disabled = false;
      stop.hidden = true;
      stop.disabled = false;
    }
  }
}

// The models of GET /api/v2/models/status (a list, or an object by name from older servers)
export function modelList(status) {
  return Array.isArray(status.models) ? status.models : Object.values(status.models || {});
}

// A select of LLMs: the `fixed` choices first ([value, label] pairs), then each LLM whose weights are on disk;
// the choice made stays where it is still offered
export function fillModelSelect(select, models, fixed) {
  const chosen = select.value;
  const offered = [...fixed, ...models.filter((m) => m.downloaded && (m.kind ?? 'llm') === 'llm')
    .map((m) => [m.model_type, m.model_type])];
  // left alone when the same: the status is read every few seconds, and a list drawn anew closes under the user's
  // hand (an open drop-down, a keyboard going through it)
  if (JSON.stringify(offered) === JSON.stringify([...select.options].map((o) => [o.value, o.textContent]))) return;
  select.replaceChildren(...offered.map(([value, label]) => el('option', { value }, label)));
  select.value = [...select.options].some((o) => o.value === chosen) ? chosen : fixed[0][0];
}
