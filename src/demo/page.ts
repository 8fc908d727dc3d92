/**
 * The live dashboard's HTML and CSS (served at `/`). Its script,
 * `/dashboard.js`, is bundled from `src/demo/dashboard/`; if that fails to load,
 * the small inline script below says so on the page.
 * @module
 */

const CSS = `
:root{--bg:#0a0e13;--card:#111821;--line:#1c2631;--text:#d6dde6;--muted:#7b8795;--dim:#4d5866;
--green:#3fb950;--red:#f0524f;--amber:#e3a21a;--blue:#58a6ff;--mono:ui-monospace,SFMono-Regular,"DejaVu Sans Mono",Menlo,monospace}
*{box-sizing:border-box}
html,body{margin:0;background:var(--bg);color:var(--text);font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
.num,td.r,th.r{text-align:right;font-variant-numeric:tabular-nums}
.mono{font-family:var(--mono)}
header{display:flex;align-items:center;gap:10px;padding:10px 20px;border-bottom:1px solid var(--line);background:#0d131a;flex-wrap:wrap}
.brand{font-weight:650;font-size:15px;letter-spacing:.2px;margin-right:8px;white-space:nowrap}
.brand b{color:var(--blue)}.brand small{color:var(--muted);font-weight:400;margin-left:6px}
.chip{display:inline-flex;align-items:center;gap:6px;padding:3px 10px;border:1px solid var(--line);border-radius:999px;background:var(--card);white-space:nowrap}
.chip .k{color:var(--muted)}
.dot{width:9px;height:9px;border-radius:50%;background:var(--red);box-shadow:0 0 0 3px rgba(240,82,79,.18)}
.dot.connected{background:var(--green);box-shadow:0 0 0 3px rgba(63,185,80,.2)}
.dot.refused{background:var(--amber);box-shadow:0 0 0 3px rgba(227,162,26,.2)}
.dot.connecting,.dot.reconnecting{background:var(--amber);box-shadow:0 0 0 3px rgba(227,162,26,.2);animation:pulse 1s ease-in-out infinite}
@keyframes pulse{50%{opacity:.35}}
#state{font-weight:600}
.sessions span{color:var(--muted)}.sessions b{font-weight:600;color:var(--text);margin-right:6px}
.enc{padding-right:4px}.enc a{color:var(--muted);text-decoration:none;padding:0 8px;border-radius:999px}
.enc a:hover{color:var(--text)}.enc a.on{color:var(--text);background:#223041}
.rate{margin-left:auto}
#notice{margin:12px 20px 0;padding:8px 12px;border-radius:8px;border:1px solid #5a4410;background:#241c08;color:#f3d28a}
#notice.error{border-color:#6b2422;background:#2a1211;color:#ffb4b0}
#auth{margin:12px 20px 0;padding:10px 12px;border-radius:8px;border:1px solid #5a4410;background:#241c08;color:#f3d28a}
#auth .row{display:flex;gap:8px;margin-top:8px}
#auth input{flex:1;min-width:0;padding:6px 8px;border-radius:6px;border:1px solid var(--line);background:var(--bg);color:var(--text);font-family:var(--mono)}
#auth button{padding:6px 14px;border-radius:6px;border:1px solid var(--line);background:#223041;color:var(--text);cursor:pointer}
#auth code{font-family:var(--mono);font-size:12px;word-break:break-all}
main{display:grid;grid-template-columns:minmax(0,1fr) 340px;gap:14px;padding:14px 20px 20px}
.col{display:flex;flex-direction:column;gap:14px;min-width:0}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px}
h2{margin:0 0 8px;font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.8px;color:var(--muted);display:flex;justify-content:space-between;align-items:baseline}
h2 small{text-transform:none;letter-spacing:0;font-weight:400;color:var(--dim)}
table{width:100%;border-collapse:collapse}
th{font-weight:500;color:var(--dim);font-size:11.5px;text-align:left;padding:0 8px 5px;border-bottom:1px solid var(--line)}
td{padding:4px 8px;border-bottom:1px solid #151d26;white-space:nowrap}
tr:last-child td{border-bottom:0}
th:first-child,td:first-child{padding-left:2px}
body.stale main table,body.stale .tiles,body.stale #rates,body.stale #online,body.stale #sessions,body.stale #msgrate{opacity:.45;transition:opacity .3s}
#prices td{padding-top:5px;padding-bottom:5px}
.sym{font-weight:600}.sym small{color:var(--dim);font-weight:400;margin-left:3px}
.last{font-weight:600;font-family:var(--mono);font-size:13.5px}
.up{color:var(--green)}.down{color:var(--red)}
td.muted,.muted{color:var(--muted)}
svg.spark{display:block;width:120px;height:26px}
svg.spark polyline{fill:none;stroke-width:1.5;stroke-linejoin:round}
svg.spark.up polyline{stroke:var(--green)}svg.spark.down polyline{stroke:var(--red)}
svg.spark.up polygon{fill:rgba(63,185,80,.12)}svg.spark.down polygon{fill:rgba(240,82,79,.12)}
#devices td{padding-top:3px;padding-bottom:3px}
.pill{display:inline-block;min-width:56px;text-align:center;padding:0 8px;border-radius:999px;font-size:11.5px;font-weight:600}
.pill.online{background:rgba(63,185,80,.14);color:var(--green)}
.pill.offline{background:rgba(240,82,79,.14);color:var(--red)}
tr.offline td{color:var(--dim)}tr.offline td.why{color:#c98a87}
.bar{display:inline-block;width:54px;height:6px;border-radius:3px;background:#1f2a36;vertical-align:middle;margin-right:6px;overflow:hidden}
.bar i{display:block;height:100%;background:var(--green)}
.bar i.low{background:var(--amber)}.bar i.crit{background:var(--red)}
.tiles{display:grid;grid-template-columns:1fr 1fr;gap:8px}
.tile{background:#0d131a;border:1px solid var(--line);border-radius:8px;padding:8px 10px}
.tile .k{color:var(--muted);font-size:11.5px}
.tile .v{font-size:19px;font-weight:600;font-variant-numeric:tabular-nums;margin-top:1px}
.tile .s{color:var(--dim);font-size:11.5px;font-variant-numeric:tabular-nums}
#rates{list-style:none;margin:0;padding:0}
#rates li{display:grid;grid-template-columns:minmax(0,1fr) 54px 52px;align-items:center;gap:8px;padding:2.5px 0}
#rates .t{font-family:var(--mono);font-size:12px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
#rates .b{height:6px;border-radius:3px;background:#1f2a36;overflow:hidden}#rates .b i{display:block;height:100%;background:var(--blue)}
#rates .n{text-align:right;font-variant-numeric:tabular-nums;color:var(--muted)}
.foot{margin-top:8px;color:var(--dim);font-size:11.5px;font-variant-numeric:tabular-nums}
.empty{color:var(--dim);padding:8px 2px}
footer{padding:0 20px 14px;color:var(--dim);font-size:11.5px}footer b{color:var(--muted);font-weight:500}
.last span{display:inline-block;padding:0 6px;margin-right:-6px;border-radius:4px}
@media (max-width:1000px){main{grid-template-columns:1fr}.rate{margin-left:0}}
/* Phones (390 px): tables scroll inside their card, the header wraps, nothing widens the page. */
@media (max-width:600px){header{padding:8px 10px;gap:6px}.brand small{display:none}.rate{margin-left:0}
main{padding:10px;gap:10px}#notice,#auth{margin:10px 10px 0}.card{padding:10px;overflow-x:auto}
.sessions{display:none}footer{padding:10px;word-break:break-all}}
`;

const BODY = `
<header>
  <div class="brand"><b>◆</b> tickgate<small>live dashboard</small></div>
  <div class="chip" title="connection state"><span id="dot" class="dot connecting"></span><span id="state">connecting…</span></div>
  <div class="chip"><span class="k">mode</span><span id="mode">—</span></div>
  <div class="chip enc"><span class="k">encoding</span><span id="encoding" hidden></span>
    <a id="enc-msgpack" href="?encoding=msgpack" title="subprotocol tickgate.msgpack">msgpack</a><a id="enc-json" href="?encoding=json" title="subprotocol tickgate.json">json</a></div>
  <div class="chip"><span class="k">online</span><b id="online">—</b></div>
  <div class="chip sessions" id="sessions" title="sessions by client type"><span>sessions</span></div>
  <div class="chip rate"><span id="msgrate" class="num">—</span><span class="k">msg/s in</span></div>
</header>
<div id="notice" hidden></div>
<form id="auth" hidden>
  <label for="token">This server requires a token. Paste one (e.g. from <code>tickgate token --sub you --subscribe '&gt;' --admin</code>):</label>
  <div class="row"><input id="token" name="token" type="password" autocomplete="off" spellcheck="false" placeholder="eyJ…"><button type="submit">Connect</button></div>
</form>
<main>
  <div class="col">
    <section class="card">
      <h2>Markets <small>prices.* · retained, conflated</small></h2>
      <table id="prices"><thead><tr><th>symbol</th><th>trend</th><th class="r">last</th><th class="r">bid</th><th class="r">ask</th><th class="r">24h</th><th class="r">volume</th><th class="r">ticks</th></tr></thead>
      <tbody></tbody></table>
    </section>
    <section class="card">
      <h2>Device fleet <small id="fleet">devices.*.telemetry · devices.*.status</small></h2>
      <table id="devices"><thead><tr><th>device</th><th>status</th><th class="r">temp</th><th class="r">humidity</th><th>battery</th><th class="r">signal</th><th class="r">last reading</th><th></th></tr></thead>
      <tbody></tbody></table>
    </section>
  </div>
  <div class="col">
    <section class="card">
      <h2>Server <small id="srv-source">this server · stats</small></h2>
      <div class="tiles">
        <div class="tile"><div class="k">connections</div><div class="v" id="srv-connections">—</div><div class="s" id="srv-sessions">&nbsp;</div></div>
        <div class="tile"><div class="k">cpu</div><div class="v" id="srv-cpu">—</div><div class="s">of one core</div></div>
        <div class="tile"><div class="k">memory (rss)</div><div class="v" id="srv-rss">—</div><div class="s">resident set</div></div>
        <div class="tile"><div class="k">uptime</div><div class="v" id="srv-uptime">—</div><div class="s" id="srv-started">&nbsp;</div></div>
        <div class="tile"><div class="k">publications</div><div class="v" id="srv-publications">—</div><div class="s" id="srv-pub-rate">&nbsp;</div></div>
        <div class="tile"><div class="k">deliveries</div><div class="v" id="srv-deliveries">—</div><div class="s" id="srv-del-rate">&nbsp;</div></div>
      </div>
    </section>
    <section class="card">
      <h2>Topic rates <small>received, last 5 s</small></h2>
      <ol id="rates"><li class="empty">waiting for messages…</li></ol>
      <div class="foot" id="client-stats">&nbsp;</div>
    </section>
  </div>
</main>
<footer id="footer">&nbsp;</footer>`;

/** Shows why the script did not load (its JSON error, when the server sent one). */
const BOOT = `
function tgScriptFailed() {
  var n = document.getElementById("notice");
  var show = function (m) { n.hidden = false; n.className = "error"; n.textContent = "The dashboard script could not be loaded: " + m;
    document.getElementById("state").textContent = "no script"; document.getElementById("dot").className = "dot"; };
  fetch("/dashboard.js").then(function (r) { return r.json(); })
    .then(function (j) { show(j && j.error ? j.error.message + " (" + j.error.code + ")" : "unknown error"); })
    .catch(function () { show("/dashboard.js did not answer"); });
}`;

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page; `wsPath` is the server's WebSocket path, read by the script. */
export function dashboardPage(wsPath: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tickgate — live</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,">
<meta name="tickgate-ws-path" content="${esc(wsPath)}">
<style>${CSS}</style>
<script>${BOOT}</script>
</head><body class="stale">${BODY}
<script type="module" src="/dashboard.js" onerror="tgScriptFailed()"></script>
</body></html>`;
}
