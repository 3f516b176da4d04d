/** What the page needs to know of the configuration to tell a late heartbeat from a dead worker. */
type AdminPageOptions = { heartbeatIntervalMs: number; staleAfterMs: number };

/**
 * The admin page: every backfill with live progress, polled from the JSON API, and the detail of
 * the one clicked (full IDs, done ranges, recent chunks, history). Plain HTML and a little script,
 * no build step. The list call carries what the table shows, so a refresh is one request (two with
 * a detail open), started a second after the previous one ended.
 */
export function adminPage(options: AdminPageOptions): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sui-backfill</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2433; }
  h1 { font-size: 1.3rem; margin-bottom: .2rem; }
  h2 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e3e6ec; white-space: nowrap; }
  #rows tr { cursor: pointer; }
  #rows tr:hover { background: #f5f7fb; }
  #rows tr.selected { background: #e8f0fe; }
  code, td.id { font-family: ui-monospace, monospace; font-size: 12px; }
  td.error { color: #b91c1c; max-width: 28rem; overflow: hidden; text-overflow: ellipsis; }
  .bar { width: 140px; height: 10px; background: #e3e6ec; border-radius: 5px; overflow: hidden; display: inline-block; vertical-align: middle; margin-right: .4rem; }
  .bar > span { display: block; height: 100%; background: #3b82f6; }
  .completed .bar > span { background: #16a34a; }
  .failed .bar > span, .cancelled .bar > span { background: #dc2626; }
  .paused .bar > span { background: #a3a3a3; }
  .status { font-weight: 600; }
  .muted { color: #6b7280; }
  .late { color: #b45309; font-weight: 600; }
  .stalled { color: #b91c1c; font-weight: 600; }
  #banner { display: none; padding: .6rem .8rem; margin: .8rem 0; border-radius: 6px; background: #fef2f2; color: #991b1b; border: 1px solid #fecaca; }
  #banner.shown { display: block; }
  table.outdated { opacity: .55; }
  #detail { display: none; margin-top: 1.5rem; padding: 1rem 1.2rem; border: 1px solid #d5dae3; border-radius: 8px; }
  #detail.shown { display: block; }
  #detail dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; margin: 0; }
  #detail dt { color: #6b7280; }
  #detail dd { margin: 0; overflow-wrap: anywhere; }
  #detail code { user-select: all; background: #f3f4f6; padding: 0 .25rem; border-radius: 3px; }
  #detail pre { white-space: pre-wrap; margin: 0; font-size: 12px; }
  button { font: inherit; font-size: 12px; padding: 0 .4rem; margin-left: .4rem; cursor: pointer; }
</style>
</head>
<body>
<h1>sui-backfill</h1>
<p class="muted">Backfills, newest first; click one for its detail. <span id="updated">loading…</span> API: <a href="/openapi.json">/openapi.json</a> · metrics: <a href="/metrics">/metrics</a></p>
<div id="banner" role="alert"></div>
<table id="table">
  <thead><tr><th>request</th><th>package</th><th>match</th><th>status</th><th>progress</th><th>watermark / target</th><th>rows</th><th>objects</th><th>rate</th><th>ETA</th><th>heartbeat</th><th>last error</th></tr></thead>
  <tbody id="rows"><tr id="placeholder"><td colspan="12" class="muted">loading…</td></tr></tbody>
</table>
<p id="more" class="muted"></p>
<section id="detail" aria-live="polite"></section>
<script>
const HEARTBEAT_INTERVAL_MS = ${options.heartbeatIntervalMs};
const STALE_AFTER_MS = ${options.staleAfterMs};
const REFRESH_MS = 1000;
const LIST_LIMIT = 50;
/** Every API call of the page. */
const ROUTES = {
  list: () => '/v1/backfills?limit=' + LIST_LIMIT,
  backfill: (id) => '/v1/backfills/' + encodeURIComponent(id),
};

const $ = (id) => document.getElementById(id);
const short = (id) => id.length > 20 ? id.slice(0, 10) + '…' + id.slice(-6) : id;
// Rounded down: 99.98% is not shown as 100.0% while the walk still runs.
const percentText = (percent, digits) => (Math.floor(percent * 10 ** digits + 1e-9) / 10 ** digits).toFixed(digits) + '%';
// Before the first checkpoint of the range is done, the stored watermark (from - 1) is not progress.
const watermarkText = (hi, from) => BigInt(hi) < BigInt(from) ? '-' : hi;
const duration = (s) => s == null ? '' : s < 60 ? Math.round(s) + ' s' : s < 3600 ? Math.round(s / 60) + ' min' : (s / 3600).toFixed(1) + ' h';
const time = (ms) => new Date(ms).toLocaleTimeString();
const el = (tag, text, className) => { const node = document.createElement(tag); if (text != null) node.textContent = text; if (className) node.className = className; return node; };
/** Changes a node only when its content changes, so a selection the user made survives refreshes. */
const setText = (node, text) => { if (node.textContent !== text) node.textContent = text; };
const setTitle = (node, title) => { if ((node.title || '') !== (title || '')) node.title = title || ''; };

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}
/** The server's clock minus ours, from the Date header: heartbeat ages are measured on the server's clock. */
let clockOffsetMs = 0;
async function getJson(path) {
  let response;
  try {
    response = await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' });
  } catch (error) {
    throw new ApiError(0, 'the API is unreachable (' + error.message + ')');
  }
  const date = Date.parse(response.headers.get('date') || '');
  if (!Number.isNaN(date)) clockOffsetMs = date - Date.now();
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = body && body.error ? body.error.code + ': ' + body.error.message : response.statusText;
    throw new ApiError(response.status, 'GET ' + path + ' answered ' + response.status + ' (' + detail + ')');
  }
  return body;
}

/** How long ago a worker last beat, and whether that is late or past the point where it is taken for dead. */
function heartbeat(status, heartbeatAt) {
  if (!heartbeatAt) return { text: status === 'running' ? 'none yet' : '', level: '' };
  const ageMs = Date.now() + clockOffsetMs - Date.parse(heartbeatAt);
  const text = duration(Math.max(0, ageMs) / 1000) + ' ago';
  if (status !== 'running') return { text, level: 'muted' };
  if (ageMs > STALE_AFTER_MS) return { text: text + ' — stalled', level: 'stalled' };
  if (ageMs > 3 * HEARTBEAT_INTERVAL_MS) return { text: text + ' — late', level: 'late' };
  return { text, level: '' };
}

function rate(item) {
  if (item.checkpointsPerSecond != null) return item.checkpointsPerSecond + ' cp/s';
  return item.status === 'running' ? 'no chunk in the last minute' : '';
}

let selectedId = location.hash.length > 1 ? decodeURIComponent(location.hash.slice(1)) : null;
const rowsById = new Map();

function createRow(id) {
  const tr = document.createElement('tr');
  tr.dataset.id = id;
  for (let i = 0; i < 12; i++) tr.append(el('td'));
  tr.cells[0].className = 'id';
  tr.cells[1].className = 'id';
  tr.cells[3].classList.add('status');
  tr.cells[4].append(el('span', null, 'bar'), el('span'));
  tr.cells[4].firstChild.append(el('span'));
  tr.cells[11].className = 'error';
  tr.addEventListener('click', () => {
    // A click that ends a text selection is for copying, not for opening.
    if (String(window.getSelection()).length > 0) return;
    select(id);
  });
  return tr;
}

function updateRow(tr, item) {
  const cells = tr.cells;
  const wanted = item.status + (item.id === selectedId ? ' selected' : '');
  if (tr.className !== wanted) tr.className = wanted;
  setText(cells[0], short(item.id)); setTitle(cells[0], item.id);
  setText(cells[1], short(item.originalPackageId));
  setTitle(cells[1], item.packageId === item.originalPackageId ? item.originalPackageId : item.originalPackageId + ' (posted as ' + item.packageId + ')');
  setText(cells[2], item.match);
  setText(cells[3], item.status);
  const width = Math.min(100, item.percent) + '%';
  if (cells[4].firstChild.firstChild.style.width !== width) cells[4].firstChild.firstChild.style.width = width;
  setText(cells[4].lastChild, percentText(item.percent, 1));
  setText(cells[5], watermarkText(item.checkpointHiInclusive, item.fromCheckpoint) + ' / ' + item.toCheckpoint);
  setText(cells[6], String(item.rowsInserted));
  setText(cells[7], String(item.objectsMatched));
  setText(cells[8], rate(item));
  setText(cells[9], item.status === 'running' ? duration(item.etaSeconds) : '');
  const beat = heartbeat(item.status, item.heartbeatAt);
  setText(cells[10], beat.text);
  if (cells[10].className !== beat.level) cells[10].className = beat.level;
  setTitle(cells[10], item.workerId ? 'worker ' + item.workerId : '');
  setText(cells[11], item.lastError || '');
  setTitle(cells[11], item.lastError || '');
}

function renderList(page) {
  const tbody = $('rows');
  const placeholder = $('placeholder');
  if (page.items.length === 0) {
    for (const tr of rowsById.values()) tr.remove();
    rowsById.clear();
    if (placeholder) setText(placeholder.cells[0], 'no backfills yet');
    else { const tr = el('tr'); tr.id = 'placeholder'; const td = el('td', 'no backfills yet', 'muted'); td.colSpan = 12; tr.append(td); tbody.append(tr); }
    return;
  }
  if (placeholder) placeholder.remove();
  const seen = new Set();
  page.items.forEach((item, index) => {
    seen.add(item.id);
    let tr = rowsById.get(item.id);
    if (!tr) { tr = createRow(item.id); rowsById.set(item.id, tr); }
    updateRow(tr, item);
    // Moved only when out of place: moving a node would drop a selection inside it.
    if (tbody.children[index] !== tr) tbody.insertBefore(tr, tbody.children[index] || null);
  });
  for (const [id, tr] of rowsById) if (!seen.has(id)) { tr.remove(); rowsById.delete(id); }
  setText($('more'), page.nextCursor ? 'Showing the ' + LIST_LIMIT + ' newest; sui-backfill backfill list --cursor pages through the rest.' : '');
}

/** The ID copied last and until when its buttons say so: a running backfill's detail is rebuilt every refresh, sooner than that. */
let copied = { value: null, label: '', untilMs: 0 };
const COPIED_SHOWN_MS = 1500;

/** An ID in full, selectable with one click, with a copy button. */
function fullId(value) {
  const wrap = el('span');
  const code = el('code', value);
  const remainingMs = copied.value === value ? copied.untilMs - Date.now() : 0;
  const button = el('button', remainingMs > 0 ? copied.label : 'copy');
  button.type = 'button';
  if (remainingMs > 0) setTimeout(() => (button.textContent = 'copy'), remainingMs);
  button.addEventListener('click', async (event) => {
    event.stopPropagation();
    let label = 'copied';
    try {
      await navigator.clipboard.writeText(value);
    } catch {
      // No clipboard outside a secure context: select it for Ctrl-C instead.
      const range = document.createRange();
      range.selectNodeContents(code);
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      label = 'selected';
    }
    copied = { value, label, untilMs: Date.now() + COPIED_SHOWN_MS };
    button.textContent = label;
    setTimeout(() => (button.textContent = 'copy'), COPIED_SHOWN_MS);
  });
  wrap.append(code, button);
  return wrap;
}

function table(headers, rows) {
  const t = el('table');
  const head = el('tr');
  for (const h of headers) head.append(el('th', h));
  t.append(head);
  for (const cells of rows) {
    const tr = el('tr');
    for (const c of cells) tr.append(el('td', c == null ? '' : String(c)));
    t.append(tr);
  }
  return t;
}

/** The detail is rebuilt only when it changed, and never while the user has text selected in it. */
let detailKey = '';
function renderDetail(view) {
  const panel = $('detail');
  const beat = heartbeat(view.status, view.heartbeatAt);
  const key = JSON.stringify(view) + beat.text;
  if (key === detailKey) return;
  const selection = window.getSelection();
  if (detailKey !== '' && selection && !selection.isCollapsed && panel.contains(selection.anchorNode)) return;
  detailKey = key;
  const close = el('button', 'close');
  close.type = 'button';
  close.addEventListener('click', () => select(null));
  const title = el('h2', 'Backfill ' + view.status);
  title.append(close);
  const facts = el('dl');
  const fact = (name, value) => { facts.append(el('dt', name)); const dd = el('dd'); if (value instanceof Node) dd.append(value); else dd.textContent = value == null ? '—' : String(value); facts.append(dd); };
  fact('request', fullId(view.id));
  fact('package (as posted)', fullId(view.packageId));
  fact('original package', fullId(view.originalPackageId));
  const family = el('span');
  for (const id of view.familyIds) { family.append(fullId(id), el('br')); }
  fact('upgrade family', family);
  fact('match', view.match);
  fact('range', view.fromCheckpoint + ' .. ' + view.toCheckpoint);
  fact('watermark', watermarkText(view.watermark.checkpointHiInclusive, view.fromCheckpoint));
  fact('done ranges', view.watermark.doneRanges);
  fact('progress', view.progress.checkpointsDone + ' of ' + view.progress.checkpointsTotal + ' checkpoints (' + percentText(view.progress.percent, 2) + ')');
  fact('rate', view.progress.checkpointsPerSecond == null ? (view.status === 'running' ? 'no chunk in the last minute' : '—') : view.progress.checkpointsPerSecond + ' checkpoints/s');
  fact('ETA', view.status === 'running' ? duration(view.progress.etaSeconds) || '—' : '—');
  fact('rows inserted', view.rowsInserted);
  fact('objects matched', view.objectsMatched);
  fact('worker', view.workerId);
  const beatNode = el('span', beat.text || '—', beat.level);
  fact('heartbeat', beatNode);
  fact('attempts', view.attempts);
  fact('created', view.createdAt);
  fact('started', view.startedAt);
  fact('finished', view.finishedAt);
  if (view.resumedFromId) fact('resumed from', fullId(view.resumedFromId));
  fact('last error', view.lastError);
  if (view.lastErrorDetail) fact('error detail', el('pre', JSON.stringify(view.lastErrorDetail, null, 2)));
  const chunks = view.recentChunks.map((chunk) => [chunk.fromCheckpoint + ' .. ' + chunk.toCheckpoint, chunk.objectsMatched, chunk.rowsInserted, chunk.rpcCalls, chunk.durationMs + ' ms', chunk.workerId, chunk.finishedAt]);
  const transitions = view.transitions.map((transition) => [transition.at, (transition.from || '—') + ' → ' + transition.to, transition.actor, transition.reason]);
  panel.replaceChildren(
    title, facts,
    el('h2', 'Recent chunks'), chunks.length ? table(['checkpoints', 'objects', 'rows', 'RPC calls', 'took', 'worker', 'finished'], chunks) : el('p', 'none yet', 'muted'),
    el('h2', 'History'), table(['at', 'status', 'by', 'reason'], transitions),
  );
}

function select(id) {
  selectedId = id;
  detailKey = '';
  history.replaceState(null, '', id ? '#' + encodeURIComponent(id) : location.pathname);
  for (const [rowId, tr] of rowsById) tr.classList.toggle('selected', rowId === id);
  const panel = $('detail');
  panel.classList.toggle('shown', id != null);
  // A detail that cannot load says why in the banner, like a failed refresh.
  if (id) { panel.replaceChildren(el('p', 'loading…', 'muted')); refreshDetail().catch(showProblem); } else panel.replaceChildren();
}

async function refreshDetail() {
  const id = selectedId;
  if (!id) return;
  try {
    const view = await getJson(ROUTES.backfill(id));
    if (selectedId === id) renderDetail(view);
  } catch (error) {
    if (selectedId !== id) return;
    if (error.status === 404) { detailKey = ''; $('detail').replaceChildren(el('p', 'Backfill ' + id + ' no longer exists (deleted).', 'muted')); return; }
    throw error;
  }
}

let lastSuccessMs = null;
function showProblem(error) {
  const banner = $('banner');
  const since = lastSuccessMs == null ? 'nothing loaded yet' : 'showing data from ' + time(lastSuccessMs) + ' (' + duration((Date.now() - lastSuccessMs) / 1000) + ' ago)';
  setText(banner, 'Cannot refresh: ' + error.message + '; ' + since + '. Retrying every ' + REFRESH_MS / 1000 + ' s.');
  banner.classList.add('shown');
  $('table').classList.add('outdated');
}

async function refresh() {
  try {
    renderList(await getJson(ROUTES.list()));
    await refreshDetail();
    lastSuccessMs = Date.now();
    $('banner').classList.remove('shown');
    $('table').classList.remove('outdated');
    setText($('updated'), 'Updated ' + time(lastSuccessMs) + '.');
  } catch (error) {
    showProblem(error);
  }
}

/** The next refresh starts a second after this one ended: a slow API is never asked twice at once. */
async function loop() {
  await refresh();
  setTimeout(loop, REFRESH_MS);
}
if (selectedId) select(selectedId);
loop();
</script>
</body>
</html>`;
}
