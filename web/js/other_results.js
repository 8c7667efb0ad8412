// The open session's results that no listed file shows: those of files deleted since (the server keeps a deleted
// upload's results, and the page had no way left to reach them: the Files panel lists uploads only, and the track's
// panels show a listed file's results), and of jobs that read no one file (comparisons, generated music). Each is
// a download link.
import { fileUrl } from './api.js';
import { FILES_PAGE, isImage } from './files.js';
import { $, el, formatBytes, stemOf, stoppedTag } from './ui.js';

const naturalOrder = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
let drawn = { session: null, key: null, count: FILES_PAGE };

// The server says which upload each result was made from (`upload_stem`, api/result_sources.py: the writers' exact
// name grammar, listed upload or deleted). The page had guessed it from the name's end: a result ending in `_x`
// whose start was any `analysis_…` was x.wav's, so a deleted my_x.wav's `analysis_<model>_<task>_my_x.json` was
// taken for a listed x.wav's and hidden here.
export function otherResults(session) {
  if (!session) return [];
  const stems = new Set(session.files.filter((f) => !isImage(f)).map((f) => stemOf(f.name)));
  return session.results.filter((r) => r.upload_stem == null || !stems.has(r.upload_stem))
    .sort((a, b) => naturalOrder.compare(a.name, b.name));
}

// why the job that wrote the partial result `name` stopped (its result's `finish_reason`: canceled, time_limit), as
// the session's jobs say; null once its job has expired (the file stays: told partial by its name alone)
function stopReason(session, name) {
  for (const job of session.jobs) {
    for (const r of job.result?.batch ? job.result.results : [job.result]) {
      if (r?.partial && (r.files || []).includes(name)) return r.finish_reason ?? null;
    }
  }
  return null;
}

// whether the session keeps results made from the upload `name` (deleted: they are among the other results)
export const keepsResultsOf = (session, name) => otherResults(session).some((r) => r.upload_stem === stemOf(name));

// Drawn anew only when what it lists changed: it is asked at every read of the session (each job's end), and a
// redraw under the user's hand had closed it and dropped the keyboard's place. Its <details> stays open across
// redraws of one session.
export function renderOtherResults(session) {
  const box = $('#other-results');
  const results = otherResults(session).map((r) => (r.partial ? { ...r, stopped: stopReason(session, r.name) } : r));
  const id = session?.session_id ?? null;
  if (id !== drawn.session) {
    box.open = false;
    drawn = { session: id, key: null, count: FILES_PAGE };
  }
  const key = results.map((r) => `${r.name}/${r.bytes}/${r.stopped ?? ''}`).join('\n');
  box.hidden = !results.length;
  if (key === drawn.key) return;
  drawn.key = key;
  $('#other-results-count').textContent = `(${results.length})`;
  const list = $('#other-results-list');
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.name ?? '' : null;
  const shown = results.slice(0, drawn.count);
  list.replaceChildren(...shown.map((r) => el('li', {},
    el('a', { href: fileUrl(id, r.name, { area: 'results', inline: false }), download: '', dataset: { name: r.name } },
      r.name),
    el('span', { class: 'muted small' }, ` · ${formatBytes(r.bytes)}`),
    // what a stopped job had written (`partial`: partial_compare_…, a deleted file's partial_analysis_…), marked
    // in words, with why where the session's jobs still say (canceled, or its time limit)
    r.partial ? el('span', { class: 'stopped-mark small', dataset: { reason: r.stopped ?? '' } },
      ` · ${stoppedTag(r.stopped)}`) : null)));
  const left = results.length - shown.length;
  if (left > 0) {
    list.append(el('li', {}, el('button', {
      type: 'button', class: 'link show-more', dataset: { name: '' },
      onclick: () => {  // the keyboard on the first of those it adds
        drawn.count += FILES_PAGE;
        drawn.key = null;
        renderOtherResults(session);
        list.children[shown.length]?.querySelector('a')?.focus();
      },
    }, `Show ${Math.min(FILES_PAGE, left)} more (${left} not shown)`)));
  }
  if (focused !== null) {  // the keyboard's place: the same link (or Show more), else the list's first
    const again = [...list.querySelectorAll('[data-name]')].find((n) => n.dataset.name === focused)
      ?? list.querySelector('a, button');
    again?.focus({ preventScroll: true });
  }
}
