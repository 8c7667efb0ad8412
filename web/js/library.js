// The library panel: the caller's analysed tracks across every session. A list filtered by what was measured
// (GET /library/tracks: key, key relation, tempo range), lines and passages found by words or meaning
// (GET /library/search), and a question answered from them with its citations (POST /library/ask, a job
// followed as the Models panel's Generate is, with a Stop button). A session named anywhere here opens it.
import { cancelJob, get, ownerOf, postAndFollow } from './api.js';
import { fillModelSelect, modelList } from './models.js';
import {
  $, CANCELED_ELSEWHERE, clear, clearNotice, el, errorText, formatClock, notify, stageText, stoppedTag,
} from './ui.js';

const TRACKS_PAGE = 50;
const SEARCH_PAGE = 10;
const PASSAGE_KINDS = { transcript: 'transcript', lyrics_analysis: 'lyrics analysis', analysis: 'audio LLM analysis' };
const TEMPO_MATCH = {
  double: 'twice this tempo is in the range (a half-time feel)',
  half: 'half this tempo is in the range (a double-time feel)',
};

// An empty search says what it searched: a stranger's library of instrumental game tracks answered "C minor" with
// nothing, and no word that search reads transcripts, lyrics and analyses only (key and tempo are the Tracks filters)
function nothingFound(page, content) {
  const none = `Nothing in your library matches “${page.query}”`;
  // filtered: says which tracks it searched and how to search them all (the words may be in the other content's)
  if (content) return `${none} in the tracks measured as ${content} (“In: every track” searches them all).`;
  if (!Number.isInteger(page.tracks) || !Number.isInteger(page.tracks_with_text)) return `${none}.`;
  const worded = page.tracks_with_text === 0 ? 'none has any'
    : `${page.tracks_with_text} ${page.tracks_with_text === 1 ? 'has' : 'have'} any`;
  return `${none}: search reads the words of your tracks (transcripts, lyrics, LLM analyses), and of your `
    + `${page.tracks} track${page.tracks === 1 ? '' : 's'} ${worded}. Key, tempo and metre: the Tracks filters above.`;
}

export class LibraryPanel {
  // `onOpen(sessionId, file, owner)` opens a session (another user's: `owner`) in the page at that file; `openSession()` is the open one's id
  constructor({ onOpen, openSession }) {
    this.onOpen = onOpen;
    this.openSession = openSession;
    // what the shown list and results were asked with (More asks for their next page, not the edited form's);
    // `asked` counts requests, so an answer overtaken by a newer request is dropped
    this.tracks = { query: null, cursor: null, asked: 0 };
    this.hits = { query: null, cursor: null, asked: 0 };
    $('#library-tracks-form').addEventListener('submit', (e) => { e.preventDefault(); this.list(); });
    $('#library-more').addEventListener('click', () => this.list({ more: true }));
    $('#library-search-form').addEventListener('submit', (e) => { e.preventDefault(); this.search(); });
    $('#library-more-results').addEventListener('click', () => this.search({ more: true }));
    $('#library-ask-form').addEventListener('submit', (e) => { e.preventDefault(); this.ask(); });
    $('#library-panel').addEventListener('toggle', () => { if ($('#library-panel').open) this.offerModels(); });
    // the models panel's reads of the status (models loaded or fetched meanwhile) renew the choice too
    document.addEventListener('models-status', (e) => this.fillModels(e.detail));
  }

  // The Ask form's model choice: the server's (the resident LLM, else its default), auto, or an LLM on disk
  async offerModels() {
    let status;
    try { status = await get('/api/v2/models/status'); } catch { return; } // the choice stays the server's
    this.fillModels(status);
  }

  fillModels(status) {
    fillModelSelect($('#library-ask-model'), modelList(status), [['', 'resident or default'], ['auto', 'auto']]);
  }

  // The form's filters as the route's query; null (said why) when they cannot be asked
  filters() {
    const q = new URLSearchParams({ limit: String(TRACKS_PAGE) });
    const key = $('#library-key').value.trim();
    if (key) {
      q.set('key', key);
      q.set('key_relation', $('#library-relation').value);
    }
    const low = $('#library-tempo-min').value.trim();
    const high = $('#library-tempo-max').value.trim();
    if (low) q.set('tempo_min', low);
    if (high) q.set('tempo_max', high);
    const content = $('#library-content').value;
    if (content) q.set('content', content);
    if ($('#library-this-session').checked) {
      const open = this.openSession();
      if (!open) {
        notify('No session is open: open one, or untick “Only the open session” to list the whole library.',
          { cause: 'library-tracks' });
        return null;
      }
      q.set('session_id', open);
      // another user's session, opened by an admin: its tracks are in that user's library (`?owner=`)
      const owner = ownerOf(open);
      if (owner) q.set('owner', owner);
    }
    return q;
  }

  async list({ more = false } = {}) {
    const query = more ? new URLSearchParams(this.tracks.query) : this.filters();
    if (!query) return;
    const status = $('#library-tracks-status');
    if (!more) $('#library-tracks').hidden = true; // its rows go while the new filters are asked (nextPage)
    const page = await this.nextPage(this.tracks, '/library/tracks', query, {
      more, status, busy: 'Listing…', list: $('#library-rows'), moreButton: $('#library-more'), cause: 'library-tracks',
    });
    if (!page) {
      $('#library-tracks').hidden = $('#library-rows').children.length === 0;
      return;
    }
    const rows = $('#library-rows');
    if (!more) rows.replaceChildren();
    rows.append(...page.tracks.map((t) => this.row(t, query.get('owner'))));
    $('#library-more').hidden = !page.next_cursor;
    $('#library-tracks').hidden = rows.children.length === 0;
    const n = rows.children.length;
    status.textContent = n === 0 ? 'No track in your library matches.'
      : `${n} track${n === 1 ? '' : 's'}${page.next_cursor ? ' so far (More lists the next ones)' : ''}.`;
  }

  // The page `query` asks of `path` for a listing's `state` (its query, cursor and count of requests), the query
  // and cursor kept for More; null when the server refused (its message in the notice: a key it cannot read, a
  // range upside down: what `list` showed goes, as it answered other filters) or a newer request overtook this one
  // (`cause`: the notice of its refusal, which goes once a request of it is answered)
  async nextPage(state, path, query, { more, status, busy, list, moreButton, cause }) {
    if (more) query.set('cursor', state.cursor);
    const asked = ++state.asked;
    status.textContent = busy;
    if (!more) {
      // what answered the last question goes while the new one is asked: a stranger's new search had listed the
      // old results under "Searching…", read as answers to the new words (and they stayed if it was refused)
      list.replaceChildren();
      moreButton.hidden = true;
    }
    let page;
    try {
      page = await get(`${path}?${query}`);
    } catch (e) {
      if (asked === state.asked) {
        status.textContent = '';
        notify(errorText(e), { cause });
      }
      return null;
    }
    if (asked !== state.asked) return null;
    clearNotice(cause);
    if (!more) state.query = query.toString();
    state.cursor = page.next_cursor;
    return page;
  }

  // `owner`: whose library the list read (an admin's `?owner=`), null for the caller's
  row(t, owner = null) {
    const key = t.key?.label ? `${t.key.label}${t.key.camelot ? ` (${t.key.camelot})` : ''}` : '–';
    const sure = Number.isFinite(t.key?.confidence) ? `${Math.round(100 * t.key.confidence)} % sure` : undefined;
    const odd = TEMPO_MATCH[t.tempo_match];
    const tempo = Number.isFinite(t.tempo_bpm) ? `${t.tempo_bpm.toFixed(1)} BPM${odd ? ` (${t.tempo_match})` : ''}` : '–';
    return el('tr', { dataset: { track: t.track_id, session: t.session_id, file: t.filename } },
      el('th', { scope: 'row', class: 'name' }, t.filename),
      el('td', {}, this.sessionButton(t.session_id, t.filename, owner)),
      el('td', { title: sure }, key),
      el('td', { title: odd, dataset: { tempoMatch: t.tempo_match ?? '' } }, tempo),
      el('td', {}, t.metre ?? '–'),
      el('td', {}, formatClock(t.duration_seconds)),
      // what the music analysis measured it as (an audiobook had been listed among the songs, nothing told them apart)
      el('td', { dataset: { content: t.content ?? '' } }, t.content ?? '–'),
      // as the CLI's vocals column and has_vocals (the page had no column: a stranger's spoken clip read as
      // untold here and "yes" in `ma library tracks`)
      el('td', {}, t.has_vocals === true ? 'yes' : t.has_vocals === false ? 'no' : '–'));
  }

  // the session, as a button that opens it at the file
  sessionButton(sessionId, file, owner = null) {
    if (!sessionId) return '–';
    return el('button', {
      type: 'button', class: 'link mono session-link',
      dataset: file ? { session: sessionId, file } : { session: sessionId },
      'aria-label': `Open session ${sessionId} at ${file}`, title: `Open session ${sessionId} at ${file}`,
      onclick: async () => {
        if (await this.onOpen(sessionId, file, owner) === false) this.forgetSession(sessionId);
      },
    }, sessionId);
  }

  // A session found gone (deleted elsewhere) leaves the list, the results and the answer: its rows had stayed
  // until List was pressed again, each opening to "no session". With `file`: that upload deleted (its track leaves
  // the library on the server), its rows alone.
  forgetSession(sessionId, file = null) {
    const link = `.session-link[data-session="${CSS.escape(sessionId)}"]`
      + (file === null ? '' : `[data-file="${CSS.escape(file)}"]`);
    const named = (node) => node.querySelector(link);
    const rows = [...document.querySelectorAll('#library-rows tr, #library-results li, #library-answer li')].filter(named);
    rows.forEach((row) => row.remove());
    if (rows.length) {
      $('#library-tracks-status').textContent = file === null ? `Session ${sessionId} is gone: its tracks left the list.`
        : `${file} was deleted: its track left the list.`;
    }
  }

  async search({ more = false } = {}) {
    const query = more ? new URLSearchParams(this.hits.query)
      : this.searchQuery();
    const status = $('#library-search-status');
    const page = await this.nextPage(this.hits, '/library/search', query, {
      more, status, busy: 'Searching…', list: $('#library-results'), moreButton: $('#library-more-results'),
      cause: 'library-search',
    });
    if (!page) return;
    const list = $('#library-results');
    if (!more) list.replaceChildren();
    list.append(...page.results.map((h) => this.hit(h)));
    $('#library-more-results').hidden = !page.next_cursor;
    const n = list.children.length;
    status.textContent = n === 0 ? nothingFound(page, query.get('content'))
      : `${n} track${n === 1 ? '' : 's'} found${page.next_cursor ? ' so far (More lists the next ones)' : ''}.`;
  }

  searchQuery() {
    const q = new URLSearchParams({ q: $('#library-q').value, mode: $('#library-mode').value, limit: String(SEARCH_PAGE) });
    const content = $('#library-search-content').value;
    if (content) q.set('content', content);
    return q;
  }

  // "file (session) at m:ss: text": the line the words matched, else the passage the meaning did
  hit(h) {
    const track = h.track ?? {};
    const piece = h.line ?? h.passage;
    return el('li', { class: 'hit', dataset: { track: h.track_id, file: track.filename } },
      this.placed(track.filename, track.session_id, piece?.start_seconds, piece?.text),
      h.passage && !h.line ? el('span', { class: 'muted small' }, ` (${PASSAGE_KINDS[h.passage.kind] ?? h.passage.kind})`)
        : null);
  }

  placed(file, sessionId, start, text) {
    return [el('span', { class: 'name' }, file ?? '?'), ' (', this.sessionButton(sessionId, file), ')',
      Number.isFinite(start) ? ` at ${formatClock(start)}` : '', text ? `: ${text}` : ''];
  }

  async ask() {
    const out = $('#library-answer');
    const button = $('#library-ask-form button[type=submit]');
    const stop = $('#library-ask-stop');
    const progress = (text, share) => out.replaceChildren(el('p', { class: 'muted' }, text),
      el('progress', { max: '1', value: String(share ?? 0), 'aria-label': 'Question progress' }));
    progress('Asking…', 0);
    button.disabled = true;
    let stopped = false; // this page's Stop was pressed: the job's cancel is the user's, else it was made elsewhere
    try {
      const body = { question: $('#library-question').value };
      const model = $('#library-ask-model').value;
      if (model) body.model_type = model;
      const result = await postAndFollow('/library/ask', body, (job) => {
        stop.hidden = false;
        stop.onclick = () => {
          stop.disabled = true;
          stopped = true;
          cancelJob(job.job_id).catch((e) => notify(errorText(e), { cause: 'library-ask' }));
        };
        const stage = stageText(job); // a generation's tokens, rate and time left
        const doing = stage && stage !== job.state ? `${job.state} · ${stage}` : job.state;
        progress(`Asking… ${doing ?? ''} ${job.progress ? `${Math.round(100 * job.progress)} %` : ''}`.trim(),
          job.progress);
      });
      this.showAnswer(result, { stopped });
      clearNotice('library-ask');
    } catch (e) {
      // a cancel made elsewhere (another page, the API, the command line) says so, as the job's state does: it
      // had read "Stopped", as if this page's Stop had been pressed
      if (e.canceled) {
        out.replaceChildren(el('p', { class: 'muted' }, stopped ? 'Stopped before it had an answer.'
          : `Canceled elsewhere before it had an answer: ${CANCELED_ELSEWHERE}.`));
      }
      else {
        // stopped by the server's time limit: the answer written so far is still shown, marked, beside the error
        // (it had been dropped, as a generation's had)
        if (e.result?.finish_reason === 'time_limit') this.showAnswer(e.result);
        else out.replaceChildren();
        notify(errorText(e), { cause: 'library-ask' });
      }
    } finally {
      button.disabled = false;
      stop.hidden = true;
      stop.disabled = false;
    }
  }

  showAnswer(result, { stopped = false } = {}) {
    const citations = result.citations ?? [];
    const warnings = result.warnings ?? [];
    const about = [result.model, result.model_choice?.reason,
      Number.isFinite(result.generation_seconds) ? `${result.generation_seconds.toFixed(1)} s` : null]
      .filter(Boolean).join(' · ');
    clear($('#library-answer'),
      el('p', { class: 'answer' }, (result.answer || 'The model wrote no answer.')
        + (result.finish_reason === 'canceled' ? ` … (${stopped ? 'stopped' : `canceled elsewhere: ${CANCELED_ELSEWHERE}`})`
          : result.finish_reason === 'time_limit' ? ` … (${stoppedTag('time_limit')})` : '')),
      citations.length ? el('h3', {}, 'Citations') : null,
      citations.length ? el('ol', { class: 'plain citations', 'aria-label': 'Citations' }, citations.map((c) => el('li', {
        dataset: { track: c.track_id, file: c.filename }, title: measured(c.measured),
      }, `[${c.n}] `, this.placed(c.filename, c.session_id, c.start_seconds, c.text || measuredParts(c.measured).join(' · '))))) : null,
      result.cited_by === 'measurements'
        ? el('p', { class: 'muted small' }, 'Listed from what the analyses measured; no model was asked.') : null,
      result.cited_by === 'retrieval' && citations.length
        ? el('p', { class: 'muted small' }, 'The model cited no excerpt: these are the ones the search ranked first.') : null,
      warnings.length ? el('ul', { class: 'warnings', 'aria-label': 'Warnings about the answer' },
        warnings.map((w) => el('li', {}, w))) : null,
      about ? el('p', { class: 'muted small' }, about) : null);
  }
}

// what the analysis measured of a cited track, for its title ("C major · 120.0 BPM · 4/4")
function measured(m) {
  const parts = measuredParts(m);
  return parts.length ? `Measured: ${parts.join(' · ')}` : undefined;
}

function measuredParts(m) {
  if (!m) return [];
  return [m.key, Number.isFinite(m.tempo_bpm) ? `${m.tempo_bpm.toFixed(1)} BPM` : null, m.metre].filter(Boolean);
}
