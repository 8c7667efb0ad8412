// The page: the open session (its files, jobs and the selected file's results), kept in the address's hash
// (#session=<id>&file=<name>, and &owner=<name> for another user's session an admin opened) so a reload or a
// bookmark comes back to the same place.
import { ApiError, del, get, post, scopeTo, sessionPath } from './api.js';
import { separation } from './analyses.js';
import { isImage, noteRenamed, renderFiles } from './files.js';
import { JobList } from './jobs.js';
import { LibraryPanel } from './library.js';
import { Mixer } from './mixer.js';
import { ModelsPanel } from './models.js';
import { keepsResultsOf, renderOtherResults } from './other_results.js';
import { SessionList } from './sessions.js';
import { Timeline } from './timeline.js';
import { Track } from './track.js';
import { Transcript } from './transcript.js';
import { $, clearNotice, coalesced, errorText, formatTime, notify } from './ui.js';
import { initUploads } from './uploads.js';

const audio = $('#player');
// `owner`: the open session's owner when it is another user's (an admin's view of it), else null
const state = { sessionId: null, session: null, file: null, owner: null };

// The other tabs of this page in this browser: each says when it changed a session (files uploaded, jobs started), and
// the others showing that session read it again. A second tab of the same session had never learnt of them until
// reloaded: no new file, no job, no result.
const tabs = 'BroadcastChannel' in window ? new BroadcastChannel('music-analyzer-sessions') : null;
const tellTabs = (sessionId) => tabs?.postMessage({ session: sessionId });

// The open session and the list of sessions read again: each at most once at a time, the calls made meanwhile one
// more read after it (uploads, other tabs' news and jobs' ends come in bursts)
const refresh = coalesced(() => refreshSession());
const reloadSessions = coalesced(() => sessions.load());
// the sessions of the upload batches whose file to open is not known yet (uploads.js), once per batch: a read of
// such a session meanwhile opens none of its files
const opening = [];

const timeline = new Timeline($('#timeline'), audio, { onNow: showNow });
const track = new Track({ timeline, mixer: new Mixer($('#mixer'), audio), transcript: new Transcript($('#transcript'), audio),
  onGone: () => { refresh(); reloadSessions(); } });
const jobs = new JobList({ onFinished: () => { refresh(); reloadSessions(); } });
const sessions = new SessionList({ onOpen: (id, owner) => openSession(id, { owner }) });
new ModelsPanel();
// a session named in the library (a track's row, a search hit, a citation) opens here, at that file
const library = new LibraryPanel({ onOpen: (id, file, owner) => openSession(id, { file, owner }),
  openSession: () => state.sessionId });

let lastNow = '';
let lastZoom = '';
function showNow(now) {
  const node = $('#now');
  const parts = [formatTime(now.t)];
  if (now.bar >= 0) parts.push(`bar ${now.bar + 1}${now.beatInBar > 0 ? `, beat ${now.beatInBar}` : ''}`);
  else if (now.beat >= 0) parts.push(`beat ${now.beat + 1}`);
  if (now.chord && now.chord.label !== 'N') parts.push(now.chord.label);
  // the zoom's readout on every draw: it had waited for the playhead's text to change, and read "whole track"
  // after two zooms of a paused track, and "0:11.9 visible" after "Whole track" (a stranger's)
  const zoom = timeline.zoomText();
  if (zoom !== lastZoom) { lastZoom = zoom; $('#zoom-readout').textContent = zoom; }
  const text = parts.join(' · ');
  if (text === lastNow) return;
  lastNow = text;
  node.textContent = text;
  node.dataset.beat = String(now.beat);
  node.dataset.bar = String(now.bar);
}

$('#zoom-in').addEventListener('click', () => timeline.zoom(1.5));
$('#zoom-out').addEventListener('click', () => timeline.zoom(1 / 1.5));
$('#zoom-fit').addEventListener('click', () => timeline.fit());

function writeHash() {
  const q = new URLSearchParams();
  if (state.sessionId) q.set('session', state.sessionId);
  if (state.sessionId && state.owner) q.set('owner', state.owner);
  if (state.file) q.set('file', state.file);
  history.replaceState(null, '', `#${q}`);
  const remove = $('#delete-session');
  remove.hidden = !state.sessionId;
  if (state.sessionId) remove.setAttribute('aria-label', `Delete session ${state.sessionId}`);
}

// The open session deleted, with its files, results and jobs' records, once confirmed: the page had no way to
// delete one, while a full storage quota told the user to "delete sessions to upload or analyse more". The server
// refuses while one of its jobs is queued or running (409, its message said).
$('#delete-session').addEventListener('click', async () => {
  const id = state.sessionId;
  if (!id) return;
  const n = state.session?.files.length ?? 0;
  const what = n ? `its ${n} file${n === 1 ? '' : 's'} and every result` : 'everything in it';
  if (!window.confirm(`Delete session ${id}, ${what}? This cannot be undone.`)) return;
  try {
    await del(sessionPath(id));
  } catch (e) {  // gone already (another tab): as good as deleted
    if (!(e instanceof ApiError && e.status === 404)) { notify(errorText(e), { cause: 'delete-session' }); return; }
  }
  tellTabs(id);
  if (state.sessionId === id) closeSession(); else reloadSessions();
  notify(`Session ${id} deleted.`, { error: false, cause: 'delete-session' });
});

// storage.SESSION_ID_RE: an address naming anything else opens nothing (a stranger's `#session=../../etc` had
// put its id in the header over the open session's files, with the server's bare "could not be parsed")
const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;

// Open a session (at `file`; another user's: `owner`); false when there is none of that id (gone, or never there)
async function openSession(id, { file, owner } = {}) {
  if (!SESSION_ID.test(id)) {
    notify(`The address names no session: "${id.slice(0, 64)}" is not a session id (letters, digits, _ and -, `
      + 'at most 64 characters).', { cause: 'address' });
    writeHash(); // back to what is open
    return false;
  }
  // a session opened: what was said of the address or of a session gone is past, and so are another one's Runs
  clearNotice('address', 'session', 'session-gone', 'delete-session');
  if (id !== state.sessionId || (owner ?? null) !== state.owner) clearNotice('run:*');
  state.sessionId = id;
  state.file = file ?? null;
  state.session = null;
  showOwner(owner ?? null);
  sessions.mark(id);
  $('#session-title').textContent = `Session ${id}`;
  return refreshSession({ resetJobs: true });
}

// The open session read again; false when it is gone (closed then), else true
async function refreshSession({ resetJobs = false } = {}) {
  const id = state.sessionId;
  if (!id) return true;
  const owner = state.owner;
  let session;
  let me;
  try {
    [session, me] = await Promise.all([get(sessionPath(id, '', owner)), sessions.me()]);
  } catch (e) {
    const gone = e instanceof ApiError && e.status === 404;
    // the open session deleted elsewhere (another tab, the API), found by a later read (a job's end, a file or
    // picture the track asks for): said as an upload or a Run finding it says it, not the server's bare "not found"
    if (gone && state.session) notify(`Session ${id} no longer exists (it was deleted).`, { cause: 'session-gone' });
    else if (e instanceof ApiError && e.code === 'ambiguous_session') notify(ambiguous(id, e.details?.owners), { cause: 'session' });
    else notify(errorText(e), { cause: 'session' });
    if (gone) closeSession(); // gone, or another user's: nothing of it stays
    return !gone;
  }
  if (id !== state.sessionId || owner !== state.owner) return true;
  clearNotice('session'); // read: a refusal of an earlier read no longer applies
  // whose it is, as the read says: a link without an owner (older ones) that an admin's read resolved to another
  // user's session names that user from now on, so an upload or a Run goes into that session
  showOwner(me && session.owner && session.owner !== me ? session.owner : null);
  state.session = session;
  sessions.opened(session, state.owner);
  const audio = session.files.filter((f) => !isImage(f));
  if (!audio.some((f) => f.name === state.file)) state.file = opening.includes(id) ? null : audio[0]?.name ?? null;
  writeHash();
  if (resetJobs) jobs.reset(session.jobs);
  else session.jobs.forEach((j) => jobs.add(j));
  $('#jobs-empty').hidden = session.jobs.length > 0;
  drawFiles();
  await track.show(session, state.file);
}

// An admin's link without an owner to an id several users hold (none of them hers): the server's "name the one meant
// with ?owner=<name>" said as the page takes it, in its address
const ambiguous = (id, owners) => `Several users have a session ${id}${owners?.length ? ` (${owners.join(', ')})` : ''}: `
  + `add &owner=<name> to the address (#session=${id}&owner=${owners?.[0] ?? '<name>'}) to open one.`;

// Whose the open session is: another user's (an admin's view) is said beside its title, and each request about
// it names that user (api.js); the caller's own says nothing more, as before
function showOwner(owner) {
  state.owner = owner || null;
  scopeTo(state.sessionId, state.owner);
  const label = $('#session-owner');
  label.hidden = !state.owner;
  label.textContent = state.owner ? `${state.owner}'s session (another user's: uploads, Runs and deletes act on it)` : '';
}

// No session open: its title, jobs, files and track go (a session deleted elsewhere had kept its jobs listed here).
function closeSession() {
  state.sessionId = null;
  state.session = null;
  state.file = null;
  showOwner(null);
  $('#session-title').textContent = 'No session open';
  writeHash();
  jobs.reset([]);
  $('#jobs-empty').hidden = false;
  drawFiles(); // its files too: they had stayed listed, each with a Run the server refuses
  sessions.mark(null);
  sessions.load();
  track.show({ session_id: null, files: [], results: [], jobs: [] }, null);
}

function drawFiles() {
  renderFiles(state.session, {
    selected: state.file,
    onSelect: (name) => {
      state.file = name;
      writeHash();
      drawFiles();
      track.show(state.session, name);
    },
    onJobs: (started) => {
      tellTabs(state.sessionId);
      started.forEach((j) => jobs.add({ ...j, state: j.state ?? 'queued', progress: j.progress ?? 0, stage: j.stage ?? 'queued' },
        { started: true }));
      $('#jobs-empty').hidden = true;
    },
    onGone: () => closeSession(), // a Run refused for a session deleted elsewhere
    onDelete: deleteFile,
  });
  renderOtherResults(state.session); // what no listed file shows: a deleted file's results among them
}

// One upload of the open session deleted, once confirmed (the page could delete whole sessions only). The server
// removes the upload, and its track from the library; the results made from it stay (the API names them), and
// it refuses while a queued or running job reads the file (409, its message said). The files, the track shown
// (another file, if it was this one), the Sessions row and the library's rows of it are read or drawn again.
async function deleteFile(name) {
  const id = state.sessionId;
  if (!id) return;
  const cause = `delete-file:${id}/${name}`;
  const image = state.session?.files.some((f) => f.name === name && isImage(f));
  // an image has no results of its own; an upload's stay, listed under "Other results" once it is gone
  const stay = image ? '' : 'The results made from it stay in the session, under “Other results” in Files. ';
  if (!window.confirm(`Delete ${name} from session ${id}? ${stay}This cannot be undone.`)) return;
  try {
    await del(sessionPath(id, `/files/${encodeURIComponent(name)}?area=uploads`));
  } catch (e) {
    if (e instanceof ApiError && e.code === 'session_not_found') {
      notify(`Session ${id} no longer exists (it was deleted).`, { cause: 'session-gone' });
      if (state.sessionId === id) closeSession();
      return;
    }
    // gone already (another tab): as good as deleted; anything else (a job reads it) is said in the server's words
    if (!(e instanceof ApiError && e.status === 404)) { notify(errorText(e), { cause }); return; }
  }
  clearNotice(cause, `run:${id}/${name}`);
  tellTabs(id);
  library.forgetSession(id, name);
  reloadSessions();
  if (state.sessionId === id) await refresh();
  // where its results are now (the page had no way left to reach them)
  const kept = state.sessionId === id && keepsResultsOf(state.session, name);
  notify(`${name} deleted.${kept ? ' Its results stay under “Other results” in Files.' : ''}`, { error: false, cause });
  // the keyboard's place: its row is gone, so the file now open (the focus had fallen to the page's start), or,
  // for an image, the next image's "Delete file"
  const next = (image && $('#file-list .delete-art')) || $('#file-list li.file.current .file-open')
    || $('#file-list .file-open') || $('#file-input');
  if (!document.activeElement || document.activeElement === document.body) next.focus();
}

// a session made for files dropped with none open: its id (the page opens it), shared by the drops meanwhile
let creating = null;
// The session made for files dropped while none was open. It is opened only if none was opened meanwhile: one
// opened from the list while it was being made had been replaced by it (its read then drew nothing: "No file
// selected" until the upload ended, then the dropped file of the new session).
async function newSession() {
  try {
    const created = await post('/sessions');
    sessions.load();
    clearNotice('upload-session');
    if (state.sessionId) return created.session_id;
    state.sessionId = created.session_id;
    sessions.mark(created.session_id);
    $('#session-title').textContent = `Session ${created.session_id}`;
    return created.session_id;
  } catch (e) { notify(errorText(e), { cause: 'upload-session' }); throw e; }
}

initUploads({
  sessionForUpload: async () => {
    if (state.sessionId) {
      // deleted elsewhere (another tab, the API), the upload would make it again, empty, under the old jobs
      try {
        // its uploads too: a file whose bytes it holds already is not sent again (uploads.js)
        const { sessionId, owner } = state;
        const { files } = await get(sessionPath(sessionId, '', owner));
        clearNotice('upload-session');
        return { sessionId, files, owner };
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 404)) { notify(errorText(e), { cause: 'upload-session' }); throw e; }
        notify(`Session ${state.sessionId} no longer exists (it was deleted); the files go into a new session.`,
          { cause: 'session-gone' });
        closeSession();
      }
    }
    // a second drop while the first one's session is being made goes into that one: it had made a second session
    creating ??= newSession().finally(() => { creating = null; });
    return { sessionId: await creating, files: [] };
  },
  // Several files dropped at once: the first dropped is opened once stored (uploads.js), not the first to finish
  // uploading. The file open before stays if it is playing, or if the user opened another meanwhile.
  onBatch: (sessionId) => {
    const before = state.file;
    opening.push(sessionId);
    return (name) => {
      opening.splice(opening.indexOf(sessionId), 1);
      if (name && sessionId === state.sessionId && state.file === before && audio.paused) state.file = name;
      refresh();
    };
  },
  onUploaded: (sessionId, names, renamed) => {
    tellTabs(sessionId);
    noteRenamed(sessionId, renamed);
    reloadSessions();
    if (sessionId === state.sessionId) refresh();
  },
});

// The address names what is open: a session and file typed or pasted into it (or reached with Back) are opened.
// The page's own changes replace the address (history.replaceState), which fires no hashchange.
window.addEventListener('hashchange', () => {
  const q = new URLSearchParams(location.hash.slice(1));
  const id = q.get('session');
  if (!id) return;
  const owner = q.get('owner') || null;
  if (id !== state.sessionId || owner !== state.owner) { openSession(id, { file: q.get('file'), owner }); return; }
  const file = q.get('file');
  if (file && file !== state.file && state.session) {
    state.file = file;
    drawFiles();
    track.show(state.session, file);
  }
});

if (tabs) {
  tabs.addEventListener('message', (e) => {
    reloadSessions();
    if (e.data?.session && e.data.session === state.sessionId) refresh();
  });
}
// back to this tab: what changed meanwhile elsewhere (the API, the command line, another browser) is read
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && state.sessionId) refresh();
});

const start = new URLSearchParams(location.hash.slice(1));
sessions.load();
// which separation models can run here, known before the files are drawn: the Stems select opens on one that can
// (a redraw keeps what a select shows, so a first drawing without it would have kept htdemucs)
get('/separation/models').then((answer) => {
  separation.present = new Set(answer.models.filter((m) => m.present).map((m) => m.name));
}).catch(() => {}).finally(() => {  // an older server: every choice offered, as before
  if (start.get('session')) openSession(start.get('session'), { file: start.get('file'), owner: start.get('owner') });
  else if (!state.sessionId) track.show({ session_id: null, files: [], results: [], jobs: [] }, null);
});
