// Drag and drop (or choose) several files; each is its own upload with its own progress bar.
import { upload } from './api.js';
import { $, announce, el, errorText } from './ui.js';

export function initUploads({ sessionForUpload, onUploaded }) {
  const zone = $('#drop-zone');
  const input = $('#file-input');
  const send = async (files) => {
    if (!files.length) return;
    let sessionId;
    try { sessionId = await sessionForUpload(); } catch (e) { return; }
    await Promise.all([...files].map((f) => sendOne(sessionId, f, onUploaded)));
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

async function sendOne(sessionId, file, onUploaded) {
  const bar = el('progress', { max: '1', value: '0', 'aria-label': `Uploading ${file.name}` });
  const status = el('span', { class: 'small' }, 'uploading');
  const name = el('span', { class: 'name' }, file.name);
  const item = el('li', { class: 'upload' }, name, bar, status);
  $('#upload-list').append(item);
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
      item.append(el('button', { type: 'button', class: 'link', onclick: () => item.remove() }, 'Dismiss'));
    } else {
      status.textContent = 'done';
      setTimeout(() => item.remove(), 4000);
    }
    announce(renamed ? `${file.name} uploaded as ${stored}` : `${stored} uploaded`);
    onUploaded(sessionId, answer.files.map((f) => f.name), renamed ? { [stored]: file.name } : {});
  } catch (e) {
    item.classList.add('failed');
    bar.remove(); // every byte was sent, but the file was refused: a full bar beside the error read as success
    status.textContent = errorText(e);
    announce(`${file.name} was not uploaded: ${errorText(e)}`);
    item.append(el('button', { type: 'button', class: 'link', onclick: () => item.remove() }, 'Dismiss'));
  }
}
