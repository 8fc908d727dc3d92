/**
 * The script of the page test/client/origin-browser.test.ts loads into
 * Chromium: a client connecting to `?ws=`, with every event it emits kept
 * on `window.seen` for the test to read.
 */
import { TickgateClient } from "../../src/client/index.ts";

interface Seen {
  states: string[];
  errors: { code: string; message: string }[];
  retries: number;
  modes: string[];
}

const seen: Seen = { states: [], errors: [], retries: 0, modes: [] };
(window as unknown as { seen: Seen }).seen = seen;
const ws = new URL(location.href).searchParams.get("ws")!;
// Short delays: a retry, were there one, would come at once.
const client = new TickgateClient(ws, { encoding: "json", reconnect: { minDelayMs: 5, maxDelayMs: 5 }, fallbackAfterMs: 0 });
client.on("state", (s) => seen.states.push(s));
client.on("error", (e) => {
  seen.errors.push({ code: e.code, message: e.message });
  document.body.dataset.error = e.code;
});
client.on("retry", () => seen.retries++);
client.on("mode", (m) => seen.modes.push(m));
client.connect();
