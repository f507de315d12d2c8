// The dashboard's one page: its layout and looks. The charts and tables are
// filled in by the page's script (client/app.ts) from the server's snapshots;
// uPlot draws the line and point charts, ECharts the parallel coordinates.

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `
:root { --fg: #1d2733; --muted: #5b6b7c; --line: #d8dee6; --bg: #f5f7fa; --panel: #fff; --accent: #2a6fdb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, "DejaVu Sans", Helvetica, Arial, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 16px; align-items: baseline; padding: 10px 18px; background: #1f3552; color: #fff; }
header h1 { font-size: 18px; margin: 0; }
header .db { color: #c9d6e6; font-family: monospace; }
header .live { margin-left: auto; font-size: 13px; }
header .live.ok::before { content: "●"; color: #4cd27a; margin-right: 6px; }
header .live.down::before { content: "●"; color: #f0a040; margin-right: 6px; }
main { padding: 14px 18px; display: grid; gap: 14px; }
h2 { font-size: 15px; margin: 0 0 8px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-width: 0; }
.row { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 14px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 14px; }
.card h2 { display: flex; justify-content: space-between; }
.card .kind { color: var(--muted); font-weight: normal; }
.card dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin: 6px 0 0; }
.card dt { color: var(--muted); }
.card dd { margin: 0; }
progress { width: 100%; height: 12px; }
.note { color: var(--muted); font-size: 12px; margin: 4px 0 0; }
.controls { display: flex; gap: 12px; align-items: center; margin-bottom: 6px; flex-wrap: wrap; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef2f7; position: sticky; top: 0; }
th.sortable { cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort="ascending"]::after { content: " ▲"; }
th[aria-sort="descending"]::after { content: " ▼"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
#trials tbody tr { cursor: pointer; }
#trials tbody tr:hover { background: #eef4ff; }
#trials tbody tr.selected { background: #dbe8ff; }
.table-wrap { max-height: 420px; overflow: auto; }
.state { padding: 1px 6px; border-radius: 8px; font-size: 12px; }
.state-done { background: #dff3e4; } .state-pruned { background: #fde6cf; } .state-failed { background: #f9d6d5; }
.state-running { background: #dbe8ff; } .state-queued { background: #eceff3; }
.error { color: #a02020; }
#detail .cols { display: grid; grid-template-columns: minmax(260px, max-content) minmax(0, 1fr); gap: 14px; }
#detail img { max-width: 100%; image-rendering: pixelated; border: 1px solid var(--line); }
pre { background: #f3f5f8; padding: 8px; overflow: auto; font-size: 12px; margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.empty { color: var(--muted); padding: 18px; }
#chart-parallel { height: 380px; }
`;

/** The page for the database at `db` (shown in the title; the data come from /api/events). */
export function pageHtml(db: string): string {
  const name = escapeHtml(db);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>autodropout dashboard: ${name}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/uPlot.min.css">
<style>${STYLE}</style>
<script src="/assets/uPlot.iife.min.js"></script>
<script src="/assets/echarts.min.js"></script>
<script type="module" src="/assets/app.js"></script>
</head>
<body>
<header><h1>autodropout dashboard</h1><span class="db">${name}</span><span id="live" class="live">connecting…</span></header>
<main>
  <section id="studies" class="cards"><div class="empty">Reading the database…</div></section>
  <section id="compare" class="panel" hidden>
    <h2>Comparison on the test split: mean ± std over seeds</h2>
    <div class="table-wrap"><table id="compare-table"></table></div>
    <img id="compare-chart" alt="means with ±1 std error bars and every seed's value">
  </section>
  <section class="row">
    <div class="panel"><h2>Validation <span class="metric">metric</span> per trial, and best so far, vs trials</h2><div id="chart-trials"></div>
      <p class="note">Dots: each trial's reward as its validation metric (failed trials have none). Steps: the best done trial so far. Studies overlaid.</p></div>
    <div class="panel"><h2>… and vs child-epochs trained</h2><div id="chart-epochs"></div>
      <p class="note">A child-epoch is one epoch of one child: pruned and failed children count the epochs they trained.</p></div>
  </section>
  <section class="row">
    <div class="panel"><h2>Validation curves by epoch</h2>
      <div class="controls"><label>study <select id="curve-study"></select></label></div>
      <div id="chart-curves"></div>
      <p class="note">One line per trial. <b style="color:#d9480f">Dashed orange</b>: pruned, stopped where the line ends; grey: failed.</p></div>
    <div class="panel"><h2>Controller (rl studies)</h2><div id="chart-entropy"></div><div id="chart-baseline"></div>
      <p class="note" id="controller-note"></p></div>
  </section>
  <section class="panel"><h2>Token values of the patterns, coloured by validation <span class="metric">metric</span></h2>
    <div class="controls"><label>study <select id="pc-study"></select></label><label>token group <select id="pc-group"></select></label></div>
    <div id="chart-parallel"></div>
    <p class="note">Each line is one trial with a reward; each axis one token of the chosen slot (tile) or layer (span).</p></section>
  <section class="panel"><h2>Trials</h2>
    <div class="controls"><input id="filter" type="search" placeholder="filter: study, worker, reason…" size="32">
      <select id="state-filter"><option value="">every state</option><option>done</option><option>pruned</option><option>failed</option><option>running</option><option>queued</option></select>
      <span id="table-count" class="note"></span></div>
    <div class="table-wrap"><table id="trials"><thead><tr>
      <th class="sortable" data-key="study">study</th><th class="sortable" data-key="id">trial</th><th class="sortable" data-key="state">state</th>
      <th class="sortable" data-key="value">validation</th><th class="sortable" data-key="reward">reward</th><th class="sortable" data-key="worker">worker</th>
      <th class="sortable" data-key="attempts">attempts</th><th class="sortable" data-key="seconds">duration (s)</th><th class="sortable" data-key="error">failure reason</th>
    </tr></thead><tbody></tbody></table></div></section>
  <section id="detail" class="panel" hidden>
    <h2 id="detail-title"></h2>
    <div class="controls"><a id="detail-download" href="#" download>download the pattern file</a></div>
    <div class="cols">
      <div><img id="detail-masks" alt="sampled masks of the trial's pattern, one block per slot address"></div>
      <div><h2>Pattern</h2><pre id="detail-pattern"></pre><h2>Tokens</h2><pre id="detail-tokens"></pre>
        <h2>Epochs</h2><table id="detail-epochs"></table><h2>Events</h2><table id="detail-events"></table></div>
    </div>
  </section>
</main>
</body>
</html>
`;
}
