// The tab's stylesheet, injected as one <style> element (TensorBoard's CSP
// allows inline styles; no extra file to serve).
export const CSS = `
:root { color-scheme: light; --bg:#ffffff; --fg:#202124; --muted:#5f6368; --border:#dadce0; --panel:#f8f9fa;
  --accent:#1a73e8; --warn-bg:#fff4e5; --warn-fg:#663c00; --err-bg:#fdecea; --err-fg:#611a15; --empty:#eceff1;
  --code-bg:#f1f3f4; --sel:#e4007c; --cell:52px; }
:root[data-theme="dark"] { color-scheme: dark; --bg:#202124; --fg:#e8eaed; --muted:#9aa0a6; --border:#3c4043; --panel:#292a2d;
  --accent:#8ab4f8; --warn-bg:#3d2e00; --warn-fg:#ffe3a3; --err-bg:#3d1512; --err-fg:#f6aea9; --empty:#35363a;
  --code-bg:#303134; --sel:#ff6ec7; }
html, body { margin:0; background:var(--bg); color:var(--fg); font:13px/1.4 Roboto, system-ui, -apple-system, "Segoe UI", sans-serif; }
#tbc-root { padding:12px 16px 40px; }
h1 { font-size:16px; margin:0 0 8px; font-weight:500; }
h2 { font-size:14px; margin:14px 0 6px; font-weight:500; }
h3 { font-size:13px; margin:0 0 6px; font-weight:500; overflow-wrap:anywhere; }
button, select, input { font:inherit; color:var(--fg); background:var(--bg); border:1px solid var(--border); border-radius:4px; padding:3px 8px; }
button { cursor:pointer; }
button:hover { border-color:var(--accent); }
button[aria-pressed="true"] { background:var(--accent); color:var(--bg); }
:focus-visible { outline:2px solid var(--accent); outline-offset:1px; }
.sr-only { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; }
.toolbar { display:flex; flex-wrap:wrap; gap:8px 18px; align-items:center; margin-bottom:8px; }
.toolbar fieldset { border:1px solid var(--border); border-radius:4px; padding:2px 8px 4px; margin:0; display:flex; flex-wrap:wrap; gap:2px 10px; align-items:center; }
.toolbar legend { color:var(--muted); font-size:11px; padding:0 3px; }
.toolbar label { display:inline-flex; gap:4px; align-items:center; white-space:nowrap; }
.run-list { max-width:640px; }
.run-list label { max-width:260px; overflow:hidden; text-overflow:ellipsis; }
.stepbar { display:flex; gap:10px; align-items:center; margin:6px 0 10px; flex-wrap:wrap; }
.stepbar input[type=range] { flex:1; min-width:200px; max-width:640px; }
.muted, .hint { color:var(--muted); }
.hint { font-size:11px; }
.notice { border-radius:4px; padding:8px 10px; margin:6px 0; }
.notice.warn { background:var(--warn-bg); color:var(--warn-fg); }
.notice.error { background:var(--err-bg); color:var(--err-fg); }
.notice.info { background:var(--panel); border:1px solid var(--border); }
.notice button { margin-left:8px; }
pre.code { background:var(--code-bg); padding:8px 10px; border-radius:4px; overflow:auto; font:12px/1.5 "Roboto Mono", ui-monospace, monospace; }
.panels { display:flex; flex-wrap:wrap; gap:14px; align-items:flex-start; }
.panel { border:1px solid var(--border); border-radius:6px; padding:8px 10px; background:var(--bg); max-width:100%; overflow:auto; }
.panel.active { border-color:var(--accent); box-shadow:0 0 0 1px var(--accent); }
.panel-head { display:flex; gap:8px; align-items:baseline; flex-wrap:wrap; margin-bottom:4px; }
.panel-head .step-note { color:var(--muted); font-size:12px; }
.hm-grid { display:grid; grid-template-columns:max-content repeat(var(--k), var(--cell)); gap:1px; width:max-content; }
.hm-row { display:contents; }
.hm-corner { position:relative; min-width:80px; font-size:10px; color:var(--muted); display:flex; flex-direction:column; justify-content:flex-end; }
.hm-colhead { height:96px; display:flex; align-items:flex-end; justify-content:center; font-size:11px; overflow:hidden; }
.hm-colhead span { writing-mode:vertical-rl; transform:rotate(180deg); max-height:94px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.hm-rowhead { display:block; align-self:center; text-align:right; padding-right:6px; font-size:11px; max-width:160px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.hm-cell { height:calc(var(--cell) * 0.72); display:flex; align-items:center; justify-content:center; font-size:11px; font-variant-numeric:tabular-nums; background:var(--empty); cursor:pointer; border-radius:2px; user-select:none; }
.hm-cell.hm-hidden { background:repeating-linear-gradient(45deg, var(--empty), var(--empty) 4px, var(--bg) 4px, var(--bg) 8px) !important; }
.hm-cell:hover { outline:2px solid var(--fg); outline-offset:-2px; }
.hm-cell.hm-selected { outline:3px solid var(--sel); outline-offset:-3px; }
.hm-cell:focus-visible { outline:2px solid var(--fg); outline-offset:-2px; }
.hm-canvas { display:block; cursor:crosshair; }
.hm-zoombar { display:flex; gap:6px; align-items:center; margin-bottom:4px; }
.colourbar { display:flex; align-items:center; gap:6px; font-size:11px; color:var(--muted); margin:4px 0 8px; }
.colourbar canvas { width:200px; height:12px; border:1px solid var(--border); }
#tbc-tooltip { position:fixed; z-index:10; pointer-events:none; background:var(--panel); color:var(--fg); border:1px solid var(--border); border-radius:4px; padding:6px 8px; font-size:12px; box-shadow:0 2px 8px rgba(0,0,0,.25); max-width:360px; overflow-wrap:anywhere; }
#tbc-tooltip[hidden] { display:none; }
.details { display:grid; grid-template-columns:repeat(auto-fit, minmax(340px, 1fr)); gap:14px; margin-top:14px; }
/* every card is laid out (no content-visibility: the page would change height while scrolling, and
   full-page screenshots would show empty cards); the long per-class table scrolls inside its .table-wrap */
.card { border:1px solid var(--border); border-radius:6px; padding:8px 10px; min-width:0; }
@media (min-width: 1100px) { #tbc-classes { grid-column: 1 / -1; } }
.card h2 { margin-top:0; }
ol.confusions { margin:0; padding-left:22px; }
ol.confusions button { border:none; background:none; padding:1px 2px; text-align:left; color:var(--accent); overflow-wrap:anywhere; }
ol.confusions button:hover { text-decoration:underline; }
table.classes { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; font-size:12px; }
table.classes th, table.classes td { padding:2px 4px; border-bottom:1px solid var(--border); text-align:right; white-space:nowrap; }
table.classes th:first-child, table.classes td:first-child, table.classes td.confused { text-align:left; }
table.classes td:first-child { max-width:180px; overflow:hidden; text-overflow:ellipsis; }
table.classes th button { border:none; background:none; padding:0; font-weight:500; }
table.classes tr.selected td { background:var(--panel); }
table.classes td button.linklike { border:none; background:none; padding:0; color:var(--accent); text-align:left; max-width:180px; overflow:hidden; text-overflow:ellipsis; }
.table-wrap { max-height:420px; overflow:auto; }
.thumbs { display:flex; flex-wrap:wrap; gap:8px; }
.thumb { display:flex; flex-direction:column; align-items:center; font-size:11px; }
.thumb canvas { width:84px; height:84px; image-rendering:pixelated; border:1px solid var(--border); background:#000; }
.chart-fig { margin:0 0 8px; }
.chart-fig figcaption { font-size:12px; margin-bottom:2px; overflow-wrap:anywhere; }
svg.chart .axis { stroke:var(--muted); stroke-width:1; }
svg.chart .marker { stroke:var(--sel); stroke-dasharray:3 3; }
svg.chart .tick { fill:var(--muted); font-size:10px; }
.legend { display:flex; gap:10px; font-size:11px; color:var(--muted); flex-wrap:wrap; }
.legend-item { display:inline-flex; align-items:center; gap:4px; }
.swatch { width:10px; height:10px; border-radius:2px; display:inline-block; }
.diffbar { display:flex; flex-wrap:wrap; gap:8px 16px; align-items:center; margin:4px 0 8px; }
.diffbar[hidden] { display:none; }
.toolbar fieldset[hidden], .toolbar label[hidden] { display:none; }
.reliability-row { display:flex; flex-wrap:wrap; gap:12px; align-items:flex-start; }
svg.reliability .axis { stroke:var(--muted); stroke-width:1; }
svg.reliability .tick { fill:var(--muted); font-size:10px; }
svg.reliability .rel-bar { fill:var(--accent); fill-opacity:.8; }
svg.reliability .rel-gap { fill:var(--sel); fill-opacity:.28; stroke:var(--sel); stroke-width:.8; }
svg.reliability .rel-gap.under { fill-opacity:.12; stroke-dasharray:2 2; }
svg.reliability .rel-count { fill:var(--muted); }
svg.reliability .rel-diagonal { stroke:var(--fg); stroke-width:1; stroke-dasharray:4 3; }
details.bin-table { font-size:11px; margin-top:2px; }
details.bin-table summary { cursor:pointer; color:var(--muted); }
.thumbs.suspects { max-height:460px; overflow:auto; }
.thumb.suspect { max-width:110px; text-align:center; }
.thumb.suspect .suspect-labels { overflow-wrap:anywhere; }
/* ---- page layout (layout helper): runs in the left column, the controls and the step slider in a bar
   that stays on top, the matrices side by side (panels.ts fits their cells), the cards right under them */
#tbc-main { display:grid; grid-template-columns:minmax(160px, 220px) minmax(0, 1fr); gap:0 16px; align-items:start; }
#tbc-main[hidden] { display:none; }
#tbc-side { grid-column:1; grid-row:1 / span 2; position:sticky; top:0; max-height:100vh; overflow:auto; padding-top:4px; }
#tbc-side .run-list { max-width:none; margin:0; display:flex; flex-direction:column; gap:2px; }
#tbc-side .run-list label { max-width:100%; display:flex; gap:4px; align-items:center; white-space:nowrap; }
#tbc-topbar { grid-column:2; position:sticky; top:0; z-index:5; background:var(--bg); border-bottom:1px solid var(--border); padding:4px 0 0; }
/* compact: borderless groups, each legend before its controls on the same line */
#tbc-topbar .toolbar { margin-bottom:2px; gap:2px 14px; }
#tbc-topbar .toolbar fieldset { border:none; padding:0; gap:2px 8px; flex-wrap:nowrap; }
#tbc-topbar .toolbar legend { float:left; padding:0 2px 0 0; font-size:12px; }
#tbc-topbar .toolbar select { max-width:170px; }
#tbc-topbar #tbc-subset { width:130px; }
#tbc-topbar .stepbar { margin:0 0 4px; }
/* a panel is as wide as its grid (its heading wraps), so that the fitted cells decide how many stand side by side */
.panel:has(.hm-grid) { width:min-content; }
#tbc-content { grid-column:2; min-width:0; padding-top:6px; }
@media (max-width: 760px) {
  #tbc-main { grid-template-columns:minmax(0, 1fr); }
  #tbc-side { grid-row:auto; position:static; max-height:none; }
  #tbc-side, #tbc-topbar, #tbc-content { grid-column:1; }
}
#tbc-tooltip .tip-run { font-weight:500; }
/* the suspects card's given -> suggested matrix (card-suspects.ts) */
.suspect-pairs { margin:4px 0 8px; }
.suspect-pairs figcaption { margin-bottom:2px; }
table.suspect-matrix { border-collapse:collapse; font-size:12px; font-variant-numeric:tabular-nums; }
table.suspect-matrix th { font-weight:500; padding:1px 6px; text-align:right; max-width:120px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
table.suspect-matrix th[scope=col] { text-align:center; }
table.suspect-matrix td { text-align:center; padding:1px 3px; }
button.suspect-pair { padding:0 6px; min-width:28px; }
.suspect-pair .muted { font-size:11px; }
ol.suspect-pair-list { margin:0; padding-left:22px; columns:2; }
/* ---- run table (run-table.ts): filter, buttons, a header of sort buttons, and only the rows in view
   (absolutely placed, 24px each) inside a scrolling box; the side column is widened to hold its numbers */
#tbc-main { grid-template-columns:minmax(260px, 360px) minmax(0, 1fr); }
.run-table { border:1px solid var(--border); border-radius:4px; padding:4px 6px 6px; margin:0 0 8px; min-width:0; }
#tbc-side .run-table { display:flex; flex-direction:column; gap:4px; }
.run-table legend { color:var(--muted); font-size:11px; padding:0 3px; }
.run-filter { display:flex; gap:6px; align-items:center; }
.run-filter input[type=search] { flex:1; min-width:0; }
.run-table label { white-space:nowrap; }
.run-buttons { display:flex; gap:4px; }
.run-buttons button { padding:1px 6px; }
#tbc-run-filter-error { margin:0; padding:4px 6px; font-size:12px; white-space:normal; }
.run-table .run-class-pick select { max-width:140px; }
.run-head, .run-row { display:grid; grid-template-columns:minmax(0, 1fr) 46px 78px 40px 46px; gap:0 4px; align-items:center; }
.run-head button { border:none; background:none; padding:0 2px; font-size:11px; color:var(--muted); text-align:right; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.run-head button.run-col-name { text-align:left; }
.run-head button[aria-sort="ascending"], .run-head button[aria-sort="descending"] { color:var(--fg); font-weight:500; }
.run-head button::after { content:attr(data-arrow); margin-left:2px; }
.run-rows { position:relative; max-height:min(60vh, 480px); min-height:48px; overflow-y:auto; border-top:1px solid var(--border); }
.run-rows-body { position:relative; }
.run-row { position:absolute; left:0; right:0; height:24px; font-size:12px; font-variant-numeric:tabular-nums; }
.run-row > span { text-align:right; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
#tbc-side .run-table .run-row label, .run-row label { display:flex; gap:4px; align-items:center; min-width:0; max-width:none; overflow:hidden; }
.run-name { overflow:hidden; text-overflow:ellipsis; white-space:nowrap; min-width:0; }
.run-swatch { display:inline-block; flex:none; width:10px; height:10px; border-radius:2px; margin-right:4px; vertical-align:baseline; }
.run-row input { margin:0; flex:none; }
/* calibration: axis labels, gap legend, kind notes (reliability-diagram.ts, card-calibration.ts) */
svg.reliability .axis-label { fill:var(--fg); font-size:10px; }
.rel-legend { display:flex; flex-wrap:wrap; gap:4px 10px; font-size:11px; color:var(--muted); margin:2px 0 4px; }
.rel-legend-item { display:inline-flex; align-items:center; gap:4px; }
.rel-swatch { display:inline-block; width:12px; height:10px; border-radius:1px; }
.rel-swatch.bar { background:var(--accent); opacity:.8; }
.rel-swatch.over { background:color-mix(in srgb, var(--sel) 28%, transparent); border:1px solid var(--sel); }
.rel-swatch.under { background:color-mix(in srgb, var(--sel) 12%, transparent); border:1px dashed var(--sel); }
.rel-swatch.diagonal { height:0; border-top:1px dashed var(--fg); border-radius:0; }
.calibration-kind { margin:2px 0 6px; }
/* large matrix (issue 18): the colour bar's log-scale box, the canvas's zoom buttons (heatmap-canvas.ts, panels.ts) */
#tbc-colourbar label { white-space:nowrap; display:inline-flex; align-items:center; gap:3px; }
.hm-zoombar .hm-fit { font-weight:600; }
/* per-example record (issue 19): members grid, pager, history strip, moved lists, forgetting and data map
   (card-members.ts, record-thumbs.ts, example-history.ts, card-moved.ts, card-data-map.ts; outline in heatmap-grid.ts) */
.hm-cell.hm-example { outline:2px dashed #0072B2; outline-offset:-4px; }
.rec-controls { display:flex; gap:8px; align-items:center; margin:4px 0; }
.rec-pager { display:flex; flex-wrap:wrap; gap:4px; align-items:center; margin:4px 0; font-size:12px; }
.rec-pager .rec-range { margin-right:6px; font-variant-numeric:tabular-nums; }
.rec-pager button { padding:1px 7px; }
.rec-pager button[aria-current="page"] { border-color:var(--accent); font-weight:600; }
.rec-grid { display:grid; grid-template-columns:repeat(auto-fill, minmax(74px, 1fr)); gap:6px; }
.rec-tile { display:flex; flex-direction:column; align-items:center; gap:1px; padding:3px; font-size:11px; text-align:center;
  border:1px solid var(--border); border-radius:4px; background:var(--bg); font-variant-numeric:tabular-nums; }
button.rec-tile { cursor:pointer; }
button.rec-tile:hover, button.rec-tile:focus-visible { border-color:var(--accent); }
.rec-thumb { width:56px; height:56px; image-rendering:pixelated; background:var(--empty); }
.rec-no-thumb { display:flex; width:56px; height:56px; align-items:center; justify-content:center; background:var(--empty); color:var(--muted); }
.rec-index { font-weight:600; }
.rec-history { margin-top:10px; padding-top:8px; border-top:1px solid var(--border); }
.rec-history-head { display:flex; gap:8px; align-items:center; flex-wrap:wrap; }
.rec-history-head .rec-thumb { width:42px; height:42px; }
.rec-history-steps { display:flex; flex-wrap:wrap; gap:3px; list-style:none; padding:0; margin:6px 0; }
.rec-step { display:flex; flex-direction:column; align-items:center; min-width:42px; padding:1px 4px; font-size:11px;
  border:1px solid var(--border); border-radius:3px; }
.rec-step.correct { background:color-mix(in srgb, #009E73 22%, transparent); }
.rec-step.wrong { background:color-mix(in srgb, #D55E00 22%, transparent); }
.rec-step.current { outline:2px solid var(--fg); }
.rec-moved-side h3, .rec-data-map-list h3 { font-size:13px; margin:8px 0 2px; }
.rec-forgetting-table { border-collapse:collapse; font-size:12px; font-variant-numeric:tabular-nums; }
.rec-forgetting-table th, .rec-forgetting-table td { padding:2px 8px; text-align:right; border-bottom:1px solid var(--border); }
.rec-forgetting-table th[scope="row"] { text-align:left; }
.rec-scatter-wrap { position:relative; display:block; max-width:440px; margin-top:8px; }
.rec-scatter { outline:1px solid var(--border); cursor:crosshair; max-width:100%; height:auto; }
.rec-tip { position:absolute; z-index:5; max-width:220px; padding:4px 6px; font-size:11px; background:var(--bg);
  border:1px solid var(--border); border-radius:4px; box-shadow:0 1px 4px rgba(0,0,0,.2); pointer-events:none; }
.rec-tip .rec-thumb { display:block; width:42px; height:42px; }
.rec-legend { display:flex; flex-wrap:wrap; gap:6px; align-items:center; font-size:12px; margin:4px 0; }
.rec-legend button[aria-pressed="true"] { border-color:var(--fg); font-weight:600; }
.rec-legend .swatch { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:4px; }
`;
