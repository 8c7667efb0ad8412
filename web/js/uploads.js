// Drag and drop (or choose) several files; each is its own upload with its own progress bar.
import { ApiError, UPLOAD_CANCELED, upload } from './api.js';
import { $, announce, el, errorText } from './ui.js';

// `sessionForUpload()`: `{ sessionId, files, owner }`, the session to upload into, the uploads it holds (its listing)
// and its owner when it is another user's (an admin's: null for the caller's own).
// `onBatch(sessionId)`: files are on their way; it returns `open(name)`, called once with the batch's file to open
// when it is known (null: every one was refused). `onUploaded(sessionId, names, renamed)`: one of them is stored.
export function initUploads({ sessionForUpload, onBatch, onUploaded }) {
  const zone = $('#drop-zone');
  const input = $('#file-input');
  const send = async (files) => {
    if (!files.length) return;
    // what is on its way as these are dropped (compared below once their session is known)
    const before = [...batches].map((b) => (b.ready ? Promise.resolve(b.entries.filter((e) => !e.settled)) : b.known));
    // listed at once, each with its Cancel: on a slow link they had shown only once the session had answered
    const entries = [...files].map(onItsWay);
    const batch = { entries, ready: false };
    batch.known = new Promise((resolve) => { batch.resolve = resolve; });
    batches.add(batch);
    // on its way from the drop: leaving while the session they go into was read (or made) had asked nothing, the
    // rows listed and nothing sent yet
    sending += 1;
    try {
      let target;
      try { target = await sessionForUpload(); } catch (e) {
        // no session to put them in (the server away, a refusal): each file is listed as not uploaded, where they
        // had vanished with a notice alone
        for (const entry of entries) { refused(entry.item, entry.file, e); entry.settle(null); }
        batch.resolve([]);
        return;
      }
      const { sessionId, files: held, owner = null } = target;
      for (const entry of entries) Object.assign(entry, { sessionId, owner });
      batch.ready = true;
      batch.resolve(entries);
      const opener = firstStored(files.length, onBatch(sessionId));
      const earlier = (await Promise.all(before)).flat().filter((e) => e.sessionId === sessionId);
      await Promise.all(entries.map((entry, i) => sendOne(entry, held, [...earlier, ...entries.slice(0, i)],
        onUploaded).then((stored) => opener(i, stored))));
    } finally {
      sending -= 1;
      batches.delete(batch);
    }
  };
  input.addEventListener('change', () => { send([...input.files]); input.value = ''; });
  zone.addEventListener('dragenter', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragover', (e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; });
  zone.addEventListener('dragleave', (e) => { if (!zone.contains(e.relatedTarget)) zone.classList.remove('over'); });
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    send([...e.dataTransfer.files]);
  });
}

// The page's uploads on their way, one batch per drop (or choice) of files: its `entries`, `ready` (and `known`
// resolved with them) once the session they go into is known. A file dropped while one of the same bytes is on its
// way into the same session (dropped again before its first upload ended, or twice in one drop under two names)
// waits for that upload instead of being sent too: a stranger's session had ended with x.wav and x-1.wav. An entry's
// `outcome` is the name the session holds its bytes under once settled, or null (refused, interrupted, canceled).
const batches = new Set();

function onItsWay(file) {
  const entry = { sessionId: null, file, settled: false, digest: null, stop: new AbortController(), item: listed(file) };
  entry.outcome = new Promise((resolve) => {
    entry.settle = (name) => { entry.settled = true; resolve(name); };
  });
  // its Cancel, until it is settled: stops the upload, or the wait for the same bytes' upload
  entry.item.append(el('button', {
    type: 'button', class: 'link cancel', 'aria-label': `Cancel the upload of ${file.name}`,
    onclick: () => entry.stop.abort(),
  }, 'Cancel'));
  return entry;
}

// The batch's file to open is the first dropped (or chosen) that the server stores, once it is stored: a later one
// stored sooner is listed, not opened. The one that finished uploading first had been opened (a small file dropped
// second over the large first one). Returns `settled(index, storedName or null when refused)`.
function firstStored(count, open) {
  const outcome = new Array(count).fill(undefined); // undefined: on its way; null: refused; else its stored name
  let done = false;
  return (index, stored) => {
    outcome[index] = stored;
    if (done) return;
    const first = outcome.findIndex((o) => o !== null);
    if (first >= 0 && outcome[first] === undefined) return; // an earlier one is still on its way
    done = true;
    open(first >= 0 ? outcome[first] : null);
  };
}

// Drops (or choices) of files on their way, from the drop until each of their files is settled (every file is sent
// within its drop's count): leaving or reloading the page then asks first (the browser's own "Leave site?"). A stranger's reload at 23 % of a 32 MB WAV
// dropped it without a word: the page came back without it, nothing said.
let sending = 0;
window.addEventListener('beforeunload', (e) => {
  if (sending > 0) { e.preventDefault(); e.returnValue = ''; }
});

const canceled = () => new ApiError(0, UPLOAD_CANCELED, 'canceled: not uploaded');
// rejects once `signal` is aborted (the row's Cancel)
const whenStopped = (signal) => new Promise((_, reject) => {
  if (signal.aborted) reject(canceled());
  else signal.addEventListener('abort', () => reject(canceled()), { once: true });
});

// The stored name (or the name under which the session holds its bytes already), or null when not stored
// (refused, interrupted, canceled). `earlier`: the uploads into the same session on their way when it was dropped.
async function sendOne(entry, held, earlier, onUploaded) {
  const { sessionId, owner, file, item, stop } = entry;
  const bar = item.querySelector('progress');
  const status = item.querySelector('.status');
  const name = item.querySelector('.name');
  const stopped = whenStopped(stop.signal);
  stopped.catch(() => {});
  const unlessStopped = (promise) => Promise.race([promise, stopped]);
  let stored = null;
  try {
    const known = await unlessStopped(heldAs(entry, held, () => { status.textContent = 'comparing…'; }));
    if (known) return (stored = alreadyHeld(item, file, known));
    const twin = await unlessStopped(sentBy(entry, earlier, unlessStopped, status));
    if (twin) return (stored = alreadyHeld(item, file, twin));
    const answer = await upload(sessionId, file, (fraction) => {
      bar.value = fraction;
      status.textContent = fraction < 1 ? `${Math.round(fraction * 100)} %` : 'checking…';
      // every byte sent: the server may have stored it already, so a Cancel now would say "not uploaded" of a file
      // the session holds
      if (fraction >= 1) item.querySelector('.cancel')?.remove();
    }, stop.signal, owner);
    bar.value = 1;
    item.querySelector('.cancel')?.remove();
    // the name the server stored it under (made safe, or numbered beside a file of that name): the list had gone
    // on naming "my song.wav" where Files listed my_song.wav; a renamed upload says so and stays until dismissed
    stored = answer.files[0]?.name ?? file.name;
    const renamed = stored !== file.name;
    name.textContent = stored;
    item.classList.add('ok');
    if (renamed) {
      item.classList.add('renamed');
      status.textContent = `done: renamed from “${file.name}”`;
      item.append(dismiss(item, `Dismiss the upload of ${file.name}`));
    } else {
      status.textContent = 'done';
      setTimeout(() => item.remove(), 4000);
    }
    announce(renamed ? `${file.name} uploaded as ${stored}` : `${stored} uploaded`);
    onUploaded(sessionId, answer.files.map((f) => f.name), renamed ? { [stored]: file.name } : {});
    return stored;
  } catch (e) {
    refused(item, file, e);
    return null;
  } finally {
    entry.settle(stored);
  }
}

// The name under which the session holds `entry`'s bytes once an earlier upload of the same bytes on its way ends
// (it is waited for, the row saying so), or null: none is on its way, or each such upload ended unstored (refused,
// interrupted, canceled): then this file is sent itself, not lost with the other. Compared as `heldAs` compares:
// the same size, then the same SHA-256.
async function sentBy(entry, earlier, unlessStopped, status) {
  const { file, item } = entry;
  for (const other of earlier.filter((e) => e.file.size === file.size)) {
    if (!hashable(file) || !hashable(other.file)) continue;
    status.textContent = 'comparing…';
    const [mine, theirs] = await unlessStopped(Promise.all([digestOf(entry), digestOf(other)]));
    if (!mine || mine !== theirs) continue;
    item.classList.add('waiting');
    status.textContent = `already being uploaded as ${other.file.name}: not sent twice`;
    announce(`${file.name} is already being uploaded as ${other.file.name}: not sent twice`);
    const stored = await unlessStopped(other.outcome);
    item.classList.remove('waiting');
    if (stored) return stored;
    status.textContent = `the upload of ${other.file.name} did not end: sending this one`;
    announce(`the upload of ${other.file.name} did not end: ${file.name} is sent`);
  }
  return null;
}

// Files up to this size are compared by their SHA-256 with the session's uploads before they are sent: the browser
// reads the whole file into memory to hash it (crypto.subtle has no streaming digest), one file at a time. Larger
// ones are sent as before (the server then stores a renamed copy, x-1.ogg, of bytes it holds). Reading and hashing
// 256 MB took ~1 s in headless Chromium on a 2-core machine (README, Web page).
export const HASH_LIMIT = 256 * 1024 * 1024;

// The name under which the session holds `file`'s bytes already (its own name first), or null: then it is sent.
// The CLI does not send such a file again (`ma analyze FILE --session S`); the page had stored a second copy of the
// same recording dropped twice, `x-1.ogg`. Only uploads of the same size are candidates (the listing's `bytes`),
// so a file is hashed only where one is; the listing's `sha256` is the server's digest of each upload (missing on a
// server before it, or for a file changed on its disk since). Not hashed: files over HASH_LIMIT, and pages without
// crypto.subtle (it exists in secure contexts only: https, or http to localhost).
async function heldAs(entry, held, onHashing) {
  const { file } = entry;
  const candidates = held.filter((f) => f.sha256 && f.bytes === file.size);
  if (!candidates.length || !hashable(file)) return null;
  onHashing();
  const digest = await digestOf(entry);
  if (!digest) return null; // unreadable here: sent, and the server says why
  const same = candidates.filter((f) => f.sha256 === digest).map((f) => f.name).sort();
  return same.includes(file.name) ? file.name : same[0] ?? null;
}

const hashable = (file) => file.size <= HASH_LIMIT && Boolean(globalThis.crypto?.subtle);

// an upload's SHA-256 (null: unreadable), hashed once however many files are compared with it
function digestOf(entry) {
  entry.digest ??= sha256(entry.file).catch(() => null);
  return entry.digest;
}

// one file read and hashed at a time: several large files dropped at once would each be held whole in memory
let hashing = Promise.resolve();
function sha256(file) {
  const digest = hashing.then(async () => {
    const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  });
  hashing = digest.catch(() => {});
  return digest;
}

// `file`'s bytes are the session's upload `known` already: not sent; the row says so until dismissed, and the
// batch opens `known` as it would a stored upload
function alreadyHeld(item, file, known) {
  item.classList.add('ok', 'known');
  item.querySelector('progress').remove();
  item.querySelector('.cancel')?.remove(); // nothing was sent: a bar would read as an upload
  const words = `already in this session as ${known}: not sent again`;
  item.querySelector('.status').textContent = words;
  announce(`${file.name} is ${words}`);
  item.append(dismiss(item, `Dismiss the upload of ${file.name}`));
  return known;
}

// the upload list's item of `file`, uploading
function listed(file) {
  const item = el('li', { class: 'upload' }, el('span', { class: 'name' }, file.name),
    el('progress', { max: '1', value: '0', 'aria-label': `Uploading ${file.name}` }),
    el('span', { class: 'small status' }, 'uploading'));
  $('#upload-list').append(item);
  return item;
}

function refused(item, file, e) {
  const stopped = e instanceof ApiError && e.code === UPLOAD_CANCELED;
  item.classList.add(stopped ? 'canceled' : 'failed');
  item.querySelector('progress')?.remove(); // every byte was sent, but refused: a full bar beside the error read as success
  item.querySelector('.cancel')?.remove();
  item.querySelector('.status').textContent = errorText(e);
  announce(`${file.name} was not uploaded: ${errorText(e)}`);
  item.append(dismiss(item, `Dismiss the refused upload of ${file.name}`));
}

// an upload's Dismiss, named for its file: three refused uploads had read "Dismiss" three times alike
function dismiss(item, label) {
  return el('button', { type: 'button', class: 'link', 'aria-label': label, onclick: () => item.remove() }, 'Dismiss');
}
