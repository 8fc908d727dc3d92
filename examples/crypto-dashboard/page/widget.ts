/**
 * The drop-in status widget (seed 001's snippet for "users online on your
 * own page"): one script tag on any page of an allowed origin,
 *
 *   <span data-tickgate="users-online">–</span>
 *   <script src="http://dashboard-host:8081/widget.js"></script>
 *
 * connects back to the server it was loaded from, subscribes to the
 * retained `sys.presence`, and fills every element marked
 * `data-tickgate="users-online" | "active-sessions" | "sessions-browser" |
 * "sessions-api" | "sessions-mobile"` (and the seed's `#active-users-count`).
 * An element marked `data-tickgate="status"` gets the connection state in
 * `data-state`. Served as a classic script (no module, no globals).
 * @module
 */
import { TickgateClient } from "tickgate/client";
import { TOPICS, type Presence } from "../types.ts";

// Where the script came from is the server to talk to; `data-server` on the tag overrides it.
const tag = document.currentScript as HTMLScriptElement | null;
const base = new URL(tag?.dataset.server ?? tag?.src ?? location.href);
const wsUrl = `${base.protocol === "https:" ? "wss:" : "ws:"}//${base.host}/ws`;

const FIELDS: Record<string, (p: Presence) => number> = {
  "users-online": (p) => p.usersOnline,
  "active-sessions": (p) => p.activeSessions,
  "sessions-browser": (p) => p.byClient.browser,
  "sessions-api": (p) => p.byClient.api,
  "sessions-mobile": (p) => p.byClient.mobile,
};

function fill(p: Presence): void {
  for (const el of document.querySelectorAll<HTMLElement>("[data-tickgate]")) {
    const f = FIELDS[el.dataset.tickgate!];
    if (f) el.textContent = String(f(p));
  }
  const seed = document.getElementById("active-users-count");
  if (seed) seed.textContent = String(p.usersOnline);
}

const client = new TickgateClient(wsUrl, { clientType: "browser", meta: { source: "widget", page: location.origin }, reconnect: { minDelayMs: 500, maxDelayMs: 10_000 } });
client.on("state", (s) => {
  for (const el of document.querySelectorAll<HTMLElement>('[data-tickgate="status"]')) {
    el.dataset.state = s;
    el.textContent = s;
  }
});
// A refusal (e.g. ORIGIN_NOT_ALLOWED) is the page owner's to see, not the visitor's to click away.
client.on("error", (e) => console.warn(`tickgate widget: ${e.code}: ${e.message}`));
client.subscribe<Presence>(TOPICS.presence, fill);
client.connect();
