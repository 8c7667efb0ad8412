// The open session's uploads: the audio, each with the analyses to run on it, and the album art (images),
// which the analyses by models that see images can be given.
import { ApiError, fileUrl, ownerOf, post, withOwner } from './api.js';
import { ANALYSES, stemsChoice } from './analyses.js';
import { $, clearNotice, el, errorText, formatBytes, formatTime, notify } from './ui.js';

// Files listed at first, and added by each "Show more": a stranger's 999-file session had made the page 69,000 px
// tall, every row a form. They are in natural order (t2 before t10; it had been t0, t1, t10, t100).
export const FILES_PAGE = 100;
const naturalOrder = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
let listed = { session: null, count: FILES_PAGE };
// the files ('<session>/<name>') whose Run is sending its analyses: their Run waits (on a slow link a stranger's
// second press, nothing having shown yet, had started every analysis twice)
const starting = new Set();

export function renderFiles(session, options) {
  const { selected } = options;
  const list = $('#file-list');
  const chosen = choices(list);
  const focused = focusIn(list);
  list.replaceChildren();
  $('#files-empty').hidden = Boolean(session && session.files.length);
  if (!session) return;
  if (listed.session !== session.session_id) listed = { session: session.session_id, count: FILES_PAGE };
  const images = session.files.filter(isImage);
  const audio = session.files.filter((f) => !isImage(f)).sort((a, b) => naturalOrder.compare(a.name, b.name));
  const shown = audio.slice(0, listed.count);
  // the one file whose analyses are open: the file just selected (or at the first drawing), else the one the user
  // had open. The rows' details are one group, where the first open one inserted closes the others: a redraw (a
  // job's end) had opened the selected file's again and closed the one the user was ticking
  const openFile = selected && !chosen.get(selected)?.current ? selected
    : [...chosen].find(([, c]) => c.open)?.[0] ?? null;
  const open = audio.findIndex((f) => f.name === selected);
  if (open >= listed.count) shown.push(audio[open]);  // the open file is always in the list
  shown.forEach((file) => list.append(restore(fileRow(session.session_id, file, audio.indexOf(file),
    { ...options, images, openFile }), chosen.get(file.name))));
  const left = audio.length - shown.length;
  if (left > 0) {
    list.append(el('li', { class: 'file more' }, el('button', {
      type: 'button', class: 'show-more',
      onclick: () => { listed.count += FILES_PAGE; renderFiles(session, options); },
    }, `Show ${Math.min(FILES_PAGE, left)} more (${left} not shown)`)));
  }
  if (images.length) list.append(artRow(session.session_id, images, options));
  refocus(list, focused);
}

// Where the keyboard was in the list before a redraw: the row's file and the control in it. The list is drawn anew
// when a file is selected and at every job's end: the focus fell to the page's start, so Enter on a file, or a job
// ending while a box was being ticked, sent a keyboard user's next Tab back to the top of the page.
function focusIn(list) {
  const at = document.activeElement;
  if (!at || !list.contains(at)) return null;
  // an image's Delete: the next image's, or none (its row gone), once it is deleted
  if (at.matches('.delete-art')) return { file: null, control: `.delete-art[data-file="${CSS.escape(at.dataset.file)}"]` };
  const row = at.closest('li.file');
  const control = at.name ? `[name="${CSS.escape(at.name)}"]`
    : ['.file-open', '.show-more', 'summary', 'button[type=submit]', '.delete-file'].find((s) => at.matches(s));
  return control ? { file: row?.dataset.file ?? null, control } : null;
}

function refocus(list, focused) {
  if (!focused) return;
  const row = focused.file === null ? list : list.querySelector(`li.file[data-file="${CSS.escape(focused.file)}"]`);
  const control = row?.querySelector(focused.control);
  if (control && control.getClientRects().length) control.focus({ preventScroll: true });
}

// What the user has chosen in each file's form (ticks, methods, album art, whether it is open). The list is
// redrawn whenever the session is refreshed (every job's end): it had reset the ticks under the user's hand, and a
// Run pressed just after ran the default analyses instead of the ones ticked.
function choices(list) {
  const saved = new Map();
  for (const row of list.querySelectorAll('li.file[data-file]')) {
    const form = row.querySelector('form.analyses');
    saved.set(row.dataset.file, {
      open: row.querySelector('details').open,
      current: row.classList.contains('current'),
      values: [...form.elements].filter((e) => e.name)
        .map((e) => [e.name, e.type === 'checkbox' ? e.checked : e.value]),
    });
  }
  return saved;
}

function restore(row, saved) {
  if (!saved) return row;
  const { elements } = row.querySelector('form.analyses');
  for (const [name, value] of saved.values) {
    const field = elements[name];
    if (!field) continue;
    if (field.type === 'checkbox') field.checked = value;
    else if ([...field.options].some((o) => o.value === value)) field.value = value; // art may be gone
  }
  row.querySelector('form.analyses').dispatchEvent(new Event('change')); // its Run names what is ticked again
  return row;
}

// the Run button of file `name` as the list holds it now
const runOf = (name) => $('#file-list').querySelector(`li.file[data-file="${CSS.escape(name)}"] button.run`);

// The Run's name (and, while it sends, its wait: aria-disabled keeps the keyboard on it, where disabled drops it)
function nameRun(button, form, name, busy) {
  button.textContent = busy ? 'Starting…' : 'Run';
  if (busy) button.setAttribute('aria-disabled', 'true'); else button.removeAttribute('aria-disabled');
  if (busy) { button.setAttribute('aria-label', `Starting the analyses on ${name}…`); return; }
  const chosen = ANALYSES.filter((a) => form.elements[a.type].checked).map((a) => a.label);
  // "; " between them: a label holds commas ("Key, tempo, chords, melody")
  button.setAttribute('aria-label', chosen.length ? `Run ${chosen.join('; ')} on ${name}`
    : `Run on ${name}: tick an analysis first`);
}

export const isImage = (file) => file.kind === 'image';

// Uploads the server stored under another name than the one sent ("my song.wav" -> my_song.wav, a second
// "a.wav" -> a-1.wav), known to this page since it sent them: session id -> stored name -> the name sent
const renamed = new Map();

export function noteRenamed(sessionId, names) {
  renamed.set(sessionId, { ...renamed.get(sessionId), ...names });
}

// the album art, each image with its "Delete file" (main.js asks first, as for audio): the page had none for images
function artRow(sessionId, images, { onDelete }) {
  return el('li', { class: 'file art' }, el('p', { class: 'small' }, 'Album art'),
    el('ul', { class: 'plain art-list' }, images.map((img) => el('li', {},
      el('img', { src: fileUrl(sessionId, img.name, { area: 'uploads' }), alt: `Album art ${img.name}`,
        width: 64, height: Math.round(64 * img.height / img.width) || 64, loading: 'lazy' }),
      el('span', { class: 'muted small art-name' }, ` ${img.name} · ${img.width}×${img.height}`),
      el('button', { type: 'button', class: 'danger delete-art', 'aria-label': `Delete file ${img.name}`,
        dataset: { file: img.name }, onclick: () => onDelete(img.name) }, 'Delete file')))));
}

function fileRow(sessionId, file, index, { selected, onSelect, onJobs, onGone, onDelete, images, openFile }) {
  const id = `f${index}`;
  const boxes = ANALYSES.map((a) => {
    const box = el('input', { type: 'checkbox', id: `${id}-${a.type}`, name: a.type, checked: a.checked });
    const parts = [box, el('label', { for: box.id }, a.label)];
    if (a.choices) {
      const select = el('select', { id: `${id}-${a.type}-${a.option}`, name: `${a.type}-${a.option}`,
        'aria-label': `${a.label}: method` },
      a.choices.map(([value, text]) => el('option', { value },
        stemsChoice(value) ? text : `${text}: weights not on this server`)));
      const runnable = a.choices.find(([value]) => stemsChoice(value));
      if (runnable) select.value = runnable[0];
      parts.push(select);
    }
    if (a.formats) {
      parts.push(el('select', { id: `${id}-${a.type}-format`, name: `${a.type}-format`,
        'aria-label': `${a.label}: audio format` },
      a.formats.map(([value, text]) => el('option', { value }, text))));
    }
    if (a.image && images.length) {  // album art for the models that see images
      parts.push(el('select', { id: `${id}-${a.type}-image`, name: `${a.type}-image`,
        'aria-label': `${a.label}: album art` },
      [el('option', { value: '' }, 'no album art'), ...images.map((img) => el('option', { value: img.name },
        `with ${img.name}`))]));
    }
    return el('div', { class: 'check' }, parts);
  });
  const run = el('button', { type: 'submit', class: 'run' }, 'Run');
  // the upload deleted, once confirmed (main.js): the page had no way to delete one file of a session. On Run's
  // line, at its other end.
  const remove = el('button', {
    type: 'button', class: 'danger delete-file', 'aria-label': `Delete file ${file.name}`,
    onclick: () => onDelete(file.name),
  }, 'Delete file');
  const form = el('form', { class: 'analyses', 'aria-label': `Analyses of ${file.name}` },
    el('fieldset', {}, el('legend', { class: 'small' }, 'Analyses to run'), boxes),
    el('div', { class: 'row between' }, run, remove));
  // each Run says what it runs on which file ("Run Stems; Transcript (Whisper) on take2.wav"): a stranger's
  // screen reader listed 30 buttons named "Run" alike
  const key = `${sessionId}/${file.name}`;
  form.addEventListener('change', () => nameRun(run, form, file.name, starting.has(key)));
  nameRun(run, form, file.name, starting.has(key));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (starting.has(key)) return;
    const chosen = ANALYSES.filter((a) => form.elements[a.type].checked);
    // this file's Run: its refusals stay up until a Run of it starts everything ticked
    const cause = `run:${sessionId}/${file.name}`;
    if (!chosen.length) { notify('Tick at least one analysis.', { cause }); return; }
    const refused = [];  // every refusal is shown: one notice each would leave only the last on screen
    starting.add(key);
    runOf(file.name)?.form.dispatchEvent(new Event('change'));
    try {
      await startEach(chosen, refused);
    } finally {
      starting.delete(key);
      runOf(file.name)?.form.dispatchEvent(new Event('change')); // the row drawn now, maybe a new one
    }
    if (refused.length) notify(refused.join('\n'), { cause });
    else clearNotice(cause);
  });
  // each analysis started in turn, its job listed as soon as it is (they had been listed once all had answered)
  const startEach = async (chosen, refused) => {
    for (const a of chosen) {
      const body = { ...a.body, file: file.name };
      if (a.option) body[a.option] = form.elements[`${a.type}-${a.option}`].value;
      if (a.formats) body.format = form.elements[`${a.type}-format`].value;
      const art = form.elements[`${a.type}-image`];
      if (art && art.value) body.image = art.value;
      try {
        onJobs([await post(withOwner(`/process/${a.type}/${encodeURIComponent(sessionId)}`, ownerOf(sessionId)), body)]);
      } catch (err) {
        // the session was deleted elsewhere: the page closes it, as a refresh's 404 does (it had kept the title,
        // files, jobs and track, and the Sessions row, under one "does not exist" per analysis)
        if (err instanceof ApiError && err.code === 'session_not_found') {
          notify(`Session ${sessionId} no longer exists (it was deleted): ${errorText(err)}`, { cause: 'session' });
          onGone();
          return;
        }
        refused.push(`${a.label}: ${errorText(err)}`);
      }
    }
  };
  const isSelected = file.name === selected;
  const sentAs = renamed.get(sessionId)?.[file.name];
  const open = el('button', {
    type: 'button', class: 'file-open', 'aria-current': isSelected ? 'true' : null,
    onclick: () => onSelect(file.name),
  }, el('span', { class: 'name' }, file.name),
  el('span', { class: 'muted small' }, ` ${formatTime(file.duration_seconds)} · ${formatBytes(file.bytes)}`),
  sentAs ? el('span', { class: 'muted small renamed' }, ` · renamed from “${sentAs}”`) : null);
  // one file's analyses open at a time (`name`: opening one closes the other), its summary naming the file
  const details = el('details', { name: 'analyses', open: file.name === openFile },
    el('summary', {}, 'Analyse…', el('span', { class: 'visually-hidden' }, ` ${file.name}`)), form);
  return el('li', { class: isSelected ? 'file current' : 'file', dataset: { file: file.name } }, open, details);
}
