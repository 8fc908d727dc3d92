/**
 * Connections of the remote bench: the suite's raw WebSocket client
 * (bench/load/ws-conn.ts: frame parser, masked sends) over node:net or
 * node:tls to any `ws://` or `wss://` URL, so it runs on Node and on Bun.
 * The token goes in an `Authorization: Bearer` header on the upgrade, never
 * in the URL (URLs end up in access logs).
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import type { Socket } from "bun";
import { WsConn, type FrameSink } from "../load/ws-conn.ts";

export interface Target {
  url: URL;
  /** Bearer token for every connection, if the server requires one. */
  token?: string | undefined;
}

/** The URL as it may be printed: no query (a `?token=` would leak), no credentials. */
export function safeUrl(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/** Checks a `--url` value; throws a one-line message. */
export function parseTarget(raw: string, token: string | undefined): Target {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`--url must be a ws:// or wss:// URL such as ws://host:8080/ws, got '${raw}'`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new Error(`--url must start with ws:// or wss://, got '${url.protocol}//'`);
  if (url.username || url.password) throw new Error("--url must not hold credentials; pass a token with --token");
  if (url.searchParams.has("token")) throw new Error("--url must not hold ?token=; pass it with --token (sent as an Authorization header)");
  return { url, token };
}

function upgradeRequest(t: Target, query: string): string {
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
  const path = `${t.url.pathname || "/"}${t.url.search}${query ? `${t.url.search ? "&" : "?"}${query}` : ""}`;
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${t.url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: tickgate.msgpack\r\n` +
    (t.token ? `Authorization: Bearer ${t.token}\r\n` : "") +
    "\r\n"
  );
}

/**
 * Opens one connection and sends the upgrade; frames go to `sink` once the
 * server answers 101. Resolves when the TCP (and TLS) connection is up;
 * rejects when it cannot be made. `onClose` runs once when it closes.
 */
export function openConn(t: Target, id: number, sink: FrameSink, o: { query?: string; onClose?: (c: WsConn) => void } = {}): Promise<WsConn> {
  const c = new WsConn(id, sink);
  const secure = t.url.protocol === "wss:";
  const port = Number(t.url.port) || (secure ? 443 : 80);
  const host = t.url.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve, reject) => {
    const s = secure ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host }) : net.connect({ host, port });
    s.setNoDelay(true);
    let up = false;
    // WsConn writes through the few socket methods it uses; node:net has all of them.
    c.socket = { write: (d: Uint8Array | string) => s.write(d), end: () => s.end(), pause: () => s.pause(), resume: () => s.resume() } as unknown as Socket<WsConn>;
    s.once(secure ? "secureConnect" : "connect", () => {
      up = true;
      s.write(upgradeRequest(t, o.query ?? ""));
      resolve(c);
    });
    s.on("data", (d: Buffer) => c.feed(d));
    s.on("error", (e) => {
      if (!up) reject(e);
      else sink.failed(c, e.message);
    });
    s.on("close", () => {
      if (c.closed) return;
      c.closed = true;
      o.onClose?.(c);
    });
  });
}
