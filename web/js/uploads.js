// Drag and drop (or choose) several files; each is its own upload with its own progress bar.
import { upload } from './api.js';
import { $, announce, el, errorText } from './ui.js';

// `onBatch(sessionId)`: files are on their way; it returns `open(name)`, called once with the batch's file to open
// when it is known (null: every one was refused). `onUploaded(sessionId, names, renamed)`: one of them is stored.
export function initUploads({ sessionForUpload, onBatch, onUploaded }) {
  const zone = $('#drop-zone');
  const input = $('#file-input');
  const send = async (files) => {
    if (!files.length) return;
    let sessionId;
    try { sessionId = await sessionForUpload(); } catch (e) {
      // no session to put them in (the server away, a refusal): each file is listed as not uploaded, where they had
      // vanished with a notice alone
      for (const file of files) refused(listed(file), file, e);
      return;
    }
    const opener = firstStored(files.length, onBatch(sessionId));
    await Promise.all([...files].map((f, i) => sendOne(sessionId, f, onUploaded).then((stored) => opener(i, stored))));
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

// Uploads on their way: leaving or reloading the page then asks first (the browser's own "Leave site?"). A
// stranger's reload at 23 % of a 32 MB WAV dropped it without a word: the page came back without it, nothing said.
let sending = 0;
window.addEventListener('beforeunload', (e) => {
  if (sending > 0) { e.preventDefault(); e.returnValue = ''; }
});

// The stored name, or null when refused
async function sendOne(sessionId, file, onUploaded) {
  const item = listed(file);
  const bar = item.querySelector('progress');
  const status = item.querySelector('.status');
  const name = item.querySelector('.name');
  sending += 1;
  try {
    const answer = await upload(sessionId, file, (fraction) => {
      bar.value = fraction;
      status.textContent = fraction < 1 ? `${Math.round(fraction * 100)} %` : 'checking…';
    });
    bar.value = 1;
    // the name the server stored it under (made safe, or numbered beside a file of that name): the list had gone
    // on naming "my song.wav" where Files listed my_song.wav; a renamed upload says so and stays until dismissed
    const stored = answer.files[0]?.name ?? file.name;
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
    sending -= 1;
  }
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
  item.classList.add('failed');
  item.querySelector('progress').remove(); // every byte was sent, but refused: a full bar beside the error read as success
  item.querySelector('.status').textContent = errorText(e);
  announce(`${file.name} was not uploaded: ${errorText(e)}`);
  item.append(dismiss(item, `Dismiss the refused upload of ${file.name}`));
}

// an upload's Dismiss, named for its file: three refused uploads had read "Dismiss" three times alike
function dismiss(item, label) {
  return el('button', { type: 'button', class: 'link', 'aria-label': label, onclick: () => item.remove() }, 'Dismiss');
}
