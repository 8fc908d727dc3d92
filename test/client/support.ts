/**
 * Helpers for the client SDK tests: a recorder of a client's events that a
 * test can wait on, a collecting handler, a TCP proxy that can cut every
 * connection abruptly (a real network drop: no close frame, no FIN to the
 * client first), and servers that misbehave on purpose.
 */
import net from "node:net";
import {
  TickgateClient,
  type ClientMode,
  type ClientOptions,
  type ClientState,
  type GapInfo,
  type MessageMeta,
  type TickgateClientError,
  type WebSocketConstructor,
} from "../../src/client/index.ts";

/** Waits for `pred` to hold, re-checking whenever `subscribe`'s callback fires. */
function waitUntil(check: () => boolean, what: () => string, timeoutMs: number, hook: (wake: () => void) => () => void): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`));
    }, timeoutMs);
    const off = hook(() => {
      if (!check()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

/** A client plus everything it reported, disposed with `await using`. */
export interface Watched extends AsyncDisposable {
  client: TickgateClient;
  states: ClientState[];
  gaps: GapInfo[];
  errors: TickgateClientError[];
  retries: { attempt: number; delayMs: number; at: number }[];
  /** Every `mode` event, in order. */
  modes: ClientMode[];
  /** Resolves once the client reaches `state` (immediately if it is there). */
  until(state: ClientState, timeoutMs?: number): Promise<void>;
  /** Resolves once the client is in `mode` (immediately if it is). */
  untilMode(mode: ClientMode, timeoutMs?: number): Promise<void>;
  /** Resolves once `n` gap events were seen in total. */
  gapCount(n: number, timeoutMs?: number): Promise<GapInfo[]>;
  errorCount(n: number, timeoutMs?: number): Promise<TickgateClientError[]>;
}

export function watch(client: TickgateClient): Watched {
  const states: ClientState[] = [];
  const gaps: GapInfo[] = [];
  const errors: TickgateClientError[] = [];
  const retries: Watched["retries"] = [];
  const modes: ClientMode[] = [];
  const wakers = new Set<() => void>();
  const wake = () => {
    for (const w of [...wakers]) w();
  };
  client.on("state", (s) => (states.push(s), wake()));
  client.on("gap", (g) => (gaps.push(g), wake()));
  client.on("error", (e) => (errors.push(e), wake()));
  client.on("retry", (r) => (retries.push({ ...r, at: performance.now() }), wake()));
  client.on("mode", (m) => (modes.push(m), wake()));
  const hook = (w: () => void) => (wakers.add(w), () => wakers.delete(w));
  return {
    client,
    states,
    gaps,
    errors,
    retries,
    modes,
    until: (state, timeoutMs = 5000) => waitUntil(() => client.state === state, () => `state ${state} (now ${client.state}; seen ${states.join(" → ")})`, timeoutMs, hook),
    untilMode: (mode, timeoutMs = 5000) => waitUntil(() => client.mode === mode, () => `mode ${mode} (now ${client.mode}; seen ${modes.join(" → ")})`, timeoutMs, hook),
    gapCount: async (n, timeoutMs = 5000) => {
      await waitUntil(() => gaps.length >= n, () => `${n} gaps (have ${JSON.stringify(gaps)})`, timeoutMs, hook);
      return gaps;
    },
    errorCount: async (n, timeoutMs = 5000) => {
      await waitUntil(() => errors.length >= n, () => `${n} errors (have ${errors.map((e) => e.code)})`, timeoutMs, hook);
      return errors;
    },
    async [Symbol.asyncDispose]() {
      client.close();
    },
  };
}

/** Creates, watches and connects a client. */
export function startClient(url: string, options: ClientOptions = {}): Watched {
  const w = watch(new TickgateClient(url, options));
  w.client.connect();
  return w;
}

export interface Received<T> {
  data: T;
  meta: MessageMeta;
}

/** A subscription handler that keeps what it gets and lets a test wait for a count. */
export function collector<T = unknown>() {
  const got: Received<T>[] = [];
  const wakers = new Set<() => void>();
  const handler = (data: T, meta: Readonly<MessageMeta>) => {
    got.push({ data, meta: { ...meta } });
    for (const w of [...wakers]) w();
  };
  return {
    got,
    handler,
    /** Resolves once at least `n` publications arrived. */
    count: async (n: number, timeoutMs = 5000): Promise<Received<T>[]> => {
      await waitUntil(() => got.length >= n, () => `${n} publications (have ${got.length})`, timeoutMs, (w) => (wakers.add(w), () => wakers.delete(w)));
      return got;
    },
  };
}

/** A TCP proxy in front of `targetPort`; `drop()` cuts every connection at once. */
export interface Proxy extends AsyncDisposable {
  port: number;
  url: string;
  /** Live client-side connections. */
  readonly connections: number;
  /** Resolves once `n` connections were accepted in total. */
  accepted(n: number, timeoutMs?: number): Promise<void>;
  /** Destroys every connection with a TCP reset, both sides. */
  drop(): void;
  /** Stops reading from the server on every connection (the client looks like a slow reader). */
  pauseUpstream(): void;
  resumeUpstream(): void;
}

export async function startProxy(targetPort: number): Promise<Proxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let total = 0;
  const wakers = new Set<() => void>();
  let paused = false;
  const server = net.createServer((client) => {
    total++;
    for (const w of [...wakers]) w();
    const upstream = net.connect({ port: targetPort, host: "127.0.0.1" });
    const pair = { client, upstream };
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    if (paused) upstream.pause();
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    get connections() {
      return pairs.size;
    },
    accepted: (n, timeoutMs = 5000) => waitUntil(() => total >= n, () => `${n} proxied connections (have ${total})`, timeoutMs, (w) => (wakers.add(w), () => wakers.delete(w))),
    drop() {
      for (const { client, upstream } of [...pairs]) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
      pairs.clear();
    },
    pauseUpstream() {
      paused = true;
      for (const { upstream, client } of pairs) {
        upstream.unpipe(client);
        upstream.pause();
      }
    },
    resumeUpstream() {
      paused = false;
      for (const { upstream, client } of pairs) {
        upstream.pipe(client);
        upstream.resume();
      }
    },
    async [Symbol.asyncDispose]() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A port nothing listens on (bound once, then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * A TCP server that accepts connections and then says nothing at all, or
 * (with `welcome`) completes the WebSocket upgrade, sends a JSON welcome
 * frame and then ignores everything: a server that has stopped answering.
 */
export async function silentServer(opts: { welcome?: boolean } = {}): Promise<{ port: number; url: string; accepted: () => number } & AsyncDisposable> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
    if (!opts.welcome) return;
    let head = "";
    const onData = (d: Buffer) => {
      head += d.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      s.off("data", onData);
      s.on("data", () => {}); // read and ignore every frame from now on
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? "";
      const accept = new Bun.CryptoHasher("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
      s.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: tickgate.json\r\n\r\n`);
      const welcome = Buffer.from(JSON.stringify({ t: "welcome", session: "silent", ts: Date.now(), encoding: "json", client: "api", server: { name: "tickgate", version: "0", node: "x" }, limits: { maxFrameBytes: 1 << 20, maxPayload: 1 << 16, maxSubscriptions: 1000 }, commands: [], methods: [] }));
      // One unmasked text frame (server → client), payload under 64 KiB.
      const hdr = welcome.length < 126 ? Buffer.from([0x81, welcome.length]) : Buffer.from([0x81, 126, welcome.length >> 8, welcome.length & 0xff]);
      s.write(Buffer.concat([hdr, welcome]));
    };
    s.on("data", onData);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    accepted: () => accepted,
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Polls a condition (for server-side state that emits no event); bounded. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One frame a client wrote, and on which of its connections (1, 2, ...). */
export interface SentFrame {
  conn: number;
  frame: Record<string, any>;
}

/**
 * The global WebSocket, recording every text frame the client sends (use
 * `encoding: "json"`), numbered by connection: what went out, in order.
 */
export function recordingWebSocket(): { WebSocket: WebSocketConstructor; sent: SentFrame[] } {
  const sent: SentFrame[] = [];
  let conns = 0;
  class Recording extends WebSocket {
    readonly conn = ++conns;
    override send(data: string | ArrayBufferView | ArrayBuffer | Blob): void {
      if (typeof data === "string") sent.push({ conn: this.conn, frame: JSON.parse(data) });
      super.send(data as string);
    }
  }
  return { WebSocket: Recording as unknown as WebSocketConstructor, sent };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
