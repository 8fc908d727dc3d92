/**
 * A tiny live page for the start command: it subscribes to the demo ticks
 * over JSON and flashes price changes. The full dashboard is its own work.
 * @module
 */
export const DEMO_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tickgate — live</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;background:#0f1419;color:#e6e6e6;margin:2rem}
h1{font-size:1.2rem;margin:0 0 1rem}#dot{display:inline-block;width:.7rem;height:.7rem;border-radius:50%;background:#c33;margin-right:.4rem}
#dot.on{background:#3c6}table{border-collapse:collapse;min-width:32rem}td,th{padding:.3rem .8rem;text-align:right;border-bottom:1px solid #223}
th:first-child,td:first-child{text-align:left}.up{color:#3c6}.down{color:#e55}#sys{margin-top:1rem;color:#9ab}
</style></head><body>
<h1><span id="dot"></span>tickgate <small id="state">connecting…</small></h1>
<table><thead><tr><th>symbol</th><th>bid</th><th>ask</th><th>last</th><th>24h %</th><th>seq</th></tr></thead><tbody id="rows"></tbody></table>
<div id="sys"></div>
<script>
const rows = {}, tbody = document.getElementById('rows');
function connect() {
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws', 'tickgate.json');
  ws.onopen = () => { document.getElementById('dot').className = 'on'; document.getElementById('state').textContent = 'connected (json)';
    ws.send(JSON.stringify({ t: 'sub', topic: 'prices.>' })); ws.send(JSON.stringify({ t: 'sub', topic: 'system.stats' })); };
  ws.onclose = () => { document.getElementById('dot').className = ''; document.getElementById('state').textContent = 'reconnecting…'; setTimeout(connect, 1000); };
  ws.onmessage = (ev) => {
    const f = JSON.parse(ev.data);
    if (f.t !== 'msg') return;
    if (f.topic === 'system.stats') { const d = f.data; document.getElementById('sys').textContent =
      'connections ' + d.connections + ' · publications ' + d.publications + ' · deliveries ' + d.deliveries + ' · cpu ' + d.cpu + '% · rss ' + (d.rss / 1048576).toFixed(1) + ' MiB'; return; }
    const d = f.data; let r = rows[d.symbol];
    if (!r) { r = rows[d.symbol] = document.createElement('tr'); r.innerHTML = '<td></td><td></td><td></td><td></td><td></td><td></td>'; tbody.appendChild(r); r.last = d.last; }
    const c = r.children, cls = d.last > r.last ? 'up' : d.last < r.last ? 'down' : '';
    c[0].textContent = d.symbol; c[1].textContent = d.bid.toFixed(2); c[2].textContent = d.ask.toFixed(2);
    c[3].textContent = d.last.toFixed(2); c[3].className = cls; c[4].textContent = d.change24h.toFixed(2); c[5].textContent = f.seq; r.last = d.last;
  };
}
connect();
</script></body></html>`;
