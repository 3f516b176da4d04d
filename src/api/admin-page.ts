/**
 * The admin page: every backfill with live progress, polled from the JSON API. Plain HTML and a
 * little script, no build step.
 */
export function adminPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sui-backfill</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2433; }
  h1 { font-size: 1.3rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #e3e6ec; white-space: nowrap; }
  td.id, td.pkg { font-family: ui-monospace, monospace; font-size: 12px; }
  .bar { width: 160px; height: 10px; background: #e3e6ec; border-radius: 5px; overflow: hidden; display: inline-block; vertical-align: middle; }
  .bar > span { display: block; height: 100%; background: #3b82f6; }
  .completed .bar > span { background: #16a34a; }
  .failed .bar > span { background: #dc2626; }
  .status { font-weight: 600; }
  .muted { color: #6b7280; }
</style>
</head>
<body>
<h1>sui-backfill</h1>
<p class="muted">Backfills, newest first. Refreshes every second. API: <a href="/openapi.json">/openapi.json</a> · metrics: <a href="/metrics">/metrics</a></p>
<table>
  <thead><tr><th>request</th><th>package</th><th>match</th><th>status</th><th>progress</th><th>watermark / target</th><th>rows</th><th>rate</th><th>ETA</th></tr></thead>
  <tbody id="rows"><tr><td colspan="9" class="muted">loading…</td></tr></tbody>
</table>
<script>
const short = (id) => id.slice(0, 10) + '…' + id.slice(-6);
const eta = (s) => s == null ? '' : s < 60 ? s + ' s' : s < 3600 ? Math.round(s / 60) + ' min' : (s / 3600).toFixed(1) + ' h';
const cell = (text, cls) => { const td = document.createElement('td'); if (cls) td.className = cls; td.textContent = text; return td; };
async function refresh() {
  try {
    const list = await (await fetch('/v1/backfills?limit=50')).json();
    const views = await Promise.all(list.items.map((item) => fetch('/v1/backfills/' + item.id).then((r) => r.json())));
    const tbody = document.getElementById('rows');
    tbody.replaceChildren(...views.map((b) => {
      const tr = document.createElement('tr');
      tr.className = b.status;
      const bar = document.createElement('td');
      bar.innerHTML = '<span class="bar"><span></span></span> ';
      bar.firstChild.firstChild.style.width = b.progress.percent + '%';
      bar.append(b.progress.percent.toFixed(1) + '%');
      tr.append(cell(short(b.id), 'id'), cell(short(b.originalPackageId), 'pkg'), cell(b.match), cell(b.status, 'status'), bar,
        cell(b.watermark.checkpointHiInclusive + ' / ' + b.toCheckpoint), cell(String(b.rowsInserted)),
        cell(b.progress.checkpointsPerSecond == null ? '' : b.progress.checkpointsPerSecond + ' cp/s'), cell(eta(b.progress.etaSeconds)));
      if (b.lastError) tr.title = b.lastError;
      return tr;
    }));
    if (views.length === 0) tbody.innerHTML = '<tr><td colspan="9" class="muted">no backfills yet</td></tr>';
  } catch (error) {
    console.warn(error);
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>`;
}
