// The caller's sessions (GET /sessions, a page at a time) and creating one.
import { get, post } from './api.js';
import { $, clearNotice, el, formatBytes, formatTime, notify, errorText } from './ui.js';

const PAGE = 20;

export class SessionList {
  constructor({ onOpen }) {
    this.onOpen = onOpen;
    this.cursor = null;
    this.current = null;
    $('#more-sessions').addEventListener('click', () => this.load({ more: true }));
    $('#new-session').addEventListener('click', async () => {
      try {
        const created = await post('/sessions');
        await this.load();
        clearNotice('new-session');
        this.onOpen(created.session_id);
      } catch (e) { notify(errorText(e), { cause: 'new-session' }); }
    });
  }

  async load({ more = false } = {}) {
    const list = $('#session-list');
    // the last modified first (a session made a moment ago had been on a later page, among the ids), a page at a
    // time: the cursor keeps the place while sessions change between pages
    const q = new URLSearchParams({ limit: String(PAGE), order: 'modified' });
    if (more && this.cursor) q.set('cursor', this.cursor);
    let page;
    const asked = get(`/sessions?${q}`);
    // the caller's name, as the first listing says it (`owner`: whose sessions these are)
    this.named ??= asked.then((p) => p.owner ?? null, () => { this.named = null; return null; });
    try { page = await asked; } catch (e) { notify(errorText(e), { cause: 'sessions' }); return; }
    clearNotice('sessions');
    if (!more) list.replaceChildren();
    list.querySelector('li.opened')?.remove(); // the open session's own row: this page may list it
    const listed = new Set([...list.querySelectorAll('button.session')].map((b) => b.dataset.session));
    for (const s of page.sessions) if (!listed.has(s.session_id)) list.append(this.row(s)); // each once
    if (!list.children.length) list.append(el('li', { class: 'muted small' }, 'None yet: add audio to start one.'));
    this.cursor = page.next_cursor;
    $('#more-sessions').hidden = !this.cursor;
    if (!more) this.showStorage(page.storage);
    this.mark(this.current);
  }

  // The caller's name (null: not known, an older server): a session read naming another owner is another user's,
  // which an admin opened (the page then names that owner in each request about it: api.js)
  me() {
    this.named ??= get('/sessions?limit=1').then((p) => p.owner ?? null, () => { this.named = null; return null; });
    return this.named;
  }

  // what the caller's sessions hold, against their storage quota (USER_STORAGE_MB) when they have one
  showStorage(storage) {
    const line = $('#storage-use');
    line.hidden = !storage;
    if (!storage) return;
    const used = storage.used_bytes ? formatBytes(storage.used_bytes) : 'nothing';
    if (storage.quota_bytes == null) {
      line.textContent = `Your sessions hold ${used} (no storage quota).`;
      line.classList.remove('near-quota');
    } else {
      const share = storage.used_bytes / Math.max(storage.quota_bytes, 1);
      // what queued and running jobs are estimated to write counts against the quota too (a 507 had come with
      // the page saying the sessions held 80 %): said as the command line says it
      const reserved = storage.reserved_bytes
        ? `; queued and running jobs will write about ${formatBytes(storage.reserved_bytes)} more` : '';
      line.textContent = `Your sessions hold ${used} of your ${formatBytes(storage.quota_bytes)} storage quota `
        + `(${Math.round(100 * share)}%)${reserved}`
        + `${share >= 1 ? ': delete sessions to upload or analyse more.' : '.'}`;
      line.classList.toggle('near-quota', share >= 0.9);
    }
  }

  row(s) {
    const when = s.modified_at ? new Date(s.modified_at).toLocaleString() : '';
    return el('li', {}, el('button', {
      type: 'button', class: 'session', dataset: { session: s.session_id },
      onclick: () => this.onOpen(s.session_id, s.theirs ?? null),
    }, el('span', { class: 'mono' }, s.session_id),
    el('span', { class: 'muted small' }, ` ${s.files} file${s.files === 1 ? '' : 's'}, ${s.results} result${s.results === 1 ? '' : 's'}${when ? ` · ${when}` : ''}${s.theirs ? ` · ${s.theirs}'s` : ''}`)));
  }

  // The open session as read (`GET /sessions/<id>`): listed even where it is not among the pages read so far (20 at
  // a time): a stranger's newest session, open with its file, was nowhere in the list past 20 others (then by id;
  // an older session opened by its link still is, until "More sessions" reaches it).
  // `owner`: its owner when it is another user's (an admin's), whom its row names and opens it as.
  opened(session, owner = null) {
    this.shown = { session_id: session.session_id, files: session.files.length, results: session.results.length,
      theirs: owner };
    this.mark(this.current);
  }

  mark(sessionId) {
    this.current = sessionId;
    if (!sessionId) this.shown = null; // closed (deleted elsewhere): its row is not listed again
    const list = $('#session-list');
    const stale = list.querySelector('li.opened');
    if (stale && stale.querySelector('button').dataset.session !== sessionId) stale.remove(); // another one opened
    const listed = [...list.querySelectorAll('button.session')].some((b) => b.dataset.session === sessionId);
    if (!listed && sessionId && this.shown?.session_id === sessionId) {
      list.querySelector('li.muted')?.remove(); // "None yet"
      const row = this.row(this.shown);
      row.classList.add('opened');
      list.append(row);
    }
    for (const b of document.querySelectorAll('#session-list button.session')) {
      const on = b.dataset.session === sessionId;
      b.classList.toggle('current', on);
      if (on) b.setAttribute('aria-current', 'true'); else b.removeAttribute('aria-current');
    }
  }
}

export function describeDuration(file) {
  return file.duration_seconds ? formatTime(file.duration_seconds) : '';
}
