/**
 * The status bar: connection dot and state, transport mode and encoding,
 * plus the notice line for trouble (connection lost, client errors).
 * @module
 */
import type { ClientMode, ClientState, ClientStats, Encoding, WelcomeFrame } from "../../client/index.ts";
import { byId, fmt, setText } from "./dom.ts";

const LABEL: Record<ClientState, string> = {
  connecting: "connecting…",
  connected: "connected",
  reconnecting: "reconnecting…",
  disconnected: "disconnected",
};

export class StatusBar {
  #retry: { attempt: number; at: number } | undefined;
  /** Why the server refused this page (no or a bad token); stays until a reload with a new one. */
  #refused: string | undefined;
  /** Why the server will not let this page in at all (its origin); final, so it outlasts every state. */
  #blocked: string | undefined;
  /** Shown whenever there is nothing more pressing to say. */
  #note = "";

  constructor(encoding: Encoding) {
    setText(byId("encoding"), encoding);
    byId(`enc-${encoding}`).classList.add("on");
  }

  state(s: ClientState): void {
    if (this.#blocked !== undefined) return;
    const refused = s === "connected" && this.#refused !== undefined;
    byId("dot").className = `dot ${refused ? "refused" : s}`;
    setText(byId("state"), refused ? "connected · not authorized" : LABEL[s]);
    document.body.classList.toggle("stale", s !== "connected" || refused);
    document.title = refused ? "tickgate — not authorized" : s === "connected" ? "tickgate — live" : `tickgate — ${LABEL[s]}`;
    if (refused) return;
    if (s === "connected") {
      this.#retry = undefined;
      this.notice("");
    } else if (s === "disconnected") this.notice("Disconnected. Reload the page to try again.", true);
    else if (s === "reconnecting") this.#reconnectNotice();
  }

  /** The server's welcome: the encoding it actually negotiated, its version, our session. */
  welcome(w: WelcomeFrame, url: string): void {
    setText(byId("encoding"), w.encoding);
    for (const e of ["msgpack", "json"]) byId(`enc-${e}`).classList.toggle("on", e === w.encoding);
    setText(byId("footer"), `${w.server.name} ${w.server.version} · ${url} · session ${w.session} as ${w.client}`);
  }

  /**
   * The server refused this page for want of a token (or a good one): say
   * so instead of a green "connected", and offer the token form.
   */
  refused(why: string, hadToken: boolean): void {
    this.#refused = why;
    byId("dot").className = "dot refused";
    setText(byId("state"), "connected · not authorized");
    document.body.classList.add("stale");
    document.title = "tickgate — not authorized";
    byId("auth").hidden = false;
    this.notice(`${hadToken ? "The token was refused" : "This server requires a token"} (${why}).`, true);
  }

  /**
   * The server refused this page's origin (close 4406): the client has
   * stopped for good, so say why instead of "disconnected, reload".
   */
  blocked(why: string): void {
    this.#blocked = why;
    byId("dot").className = "dot refused";
    setText(byId("state"), "refused · origin not allowed");
    document.body.classList.add("stale");
    document.title = "tickgate — origin not allowed";
    this.notice(`The server does not accept connections from this page's origin (${location.origin}); its operator can add it to limits.allowedOrigins. ${why}`, true);
  }

  mode(m: ClientMode): void {
    setText(byId("mode"), m === "sse" ? "sse (fallback)" : m);
  }

  /** A reconnect attempt is scheduled. */
  retry(attempt: number, delayMs: number): void {
    this.#retry = { attempt, at: Date.now() + delayMs };
    this.#reconnectNotice();
  }

  /** Once a second: the message rate, the client's counters, the retry countdown. */
  tick(stats: ClientStats): void {
    setText(byId("msgrate"), fmt.rate(stats.messagesPerSec));
    setText(byId("client-stats"), `this page: ${fmt.int(stats.messages)} received · ${stats.reconnects} reconnects · ${stats.gaps} gaps`);
    if (stats.state === "reconnecting") this.#reconnectNotice();
  }

  /** A standing remark (e.g. a bad query parameter), shown when no other notice is. */
  note(text: string): void {
    this.#note = text;
    this.notice("");
  }

  /** Shows `text` on the notice line; `""` goes back to the standing note, if any. */
  notice(text: string, error = false): void {
    const n = byId("notice");
    const shown = text || this.#note;
    n.hidden = !shown;
    n.className = error ? "error" : "";
    setText(n, shown);
  }

  #reconnectNotice(): void {
    const r = this.#retry;
    const when = r ? `attempt ${r.attempt}, next in ${Math.max(0, (r.at - Date.now()) / 1000).toFixed(1)} s` : "retrying";
    this.notice(`Connection lost — showing the last known values while reconnecting (${when}).`);
  }
}
