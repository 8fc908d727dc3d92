/**
 * A test client over Bun's WebSocket: frames are queued as they arrive so a
 * test can wait for the next one matching a predicate, never on a timer.
 */
import { decodeServerFrame, packr } from "../../src/protocol/codec.ts";

export type Frame = Record<string, any> & { t: string };

export interface TestClient extends AsyncDisposable {
  ws: WebSocket;
  welcome: Frame;
  frames: Frame[];
  send(frame: Record<string, unknown>): void;
  sendRaw(data: string | Uint8Array): void;
  /** Resolves with the first not-yet-taken frame matching `pred` (waits if needed). */
  next(pred?: (f: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  /** Collects `n` frames matching `pred`. */
  collect(n: number, pred?: (f: Frame) => boolean, timeoutMs?: number): Promise<Frame[]>;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export interface ConnectOptions {
  encoding?: "msgpack" | "json";
  /** Use the `?encoding=` query instead of the subprotocol. */
  viaQuery?: boolean;
  query?: string;
  headers?: Record<string, string>;
}

export async function connect(url: string, opts: ConnectOptions = {}): Promise<TestClient> {
  const enc = opts.encoding ?? "msgpack";
  const json = enc === "json";
  let target = url;
  const q: string[] = [];
  if (opts.viaQuery) q.push(`encoding=${enc}`);
  if (opts.query) q.push(opts.query);
  if (q.length) target += `?${q.join("&")}`;
  const protocols = opts.viaQuery ? [] : [`tickgate.${enc}`];
  const ws = new WebSocket(target, { protocols, headers: opts.headers } as any);
  ws.binaryType = "arraybuffer";
  const frames: Frame[] = [];
  const waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.onclose = (ev) => resolve({ code: ev.code, reason: ev.reason });
  });
  ws.onmessage = (ev) => {
    const f = decodeServerFrame(ev.data as ArrayBuffer | string) as Frame;
    const i = waiters.findIndex((w) => w.pred(f));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(f);
    else frames.push(f);
  };
  const next = (pred: (f: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> => {
    const i = frames.findIndex(pred);
    if (i >= 0) return Promise.resolve(frames.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (f: Frame) => (clearTimeout(timer), resolve(f)) };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`no matching frame within ${timeoutMs} ms; queued: ${JSON.stringify(frames.slice(-5))}`));
      }, timeoutMs);
      waiters.push(w);
    });
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`could not connect to ${target}`));
  });
  const welcome = await next((f) => f.t === "welcome");
  return {
    ws,
    welcome,
    frames,
    send: (frame) => ws.send(json ? JSON.stringify(frame) : (packr.pack(frame) as Uint8Array<ArrayBuffer>)),
    sendRaw: (data) => ws.send(data as string | Uint8Array<ArrayBuffer>),
    next,
    async collect(n, pred = () => true, timeoutMs = 5000) {
      const out: Frame[] = [];
      while (out.length < n) out.push(await next(pred, timeoutMs));
      return out;
    },
    closed,
    close: () => ws.close(),
    async [Symbol.asyncDispose]() {
      if (ws.readyState !== WebSocket.CLOSED) {
        ws.close();
        await closed;
      }
    },
  };
}

/** Subscribes and waits for the ack, so later publications are certain to reach it. */
export async function subscribe(c: TestClient, topic: string): Promise<void> {
  const id = `sub-${topic}-${Math.random()}`;
  c.send({ t: "sub", id, topic });
  const f = await c.next((f) => f.id === id);
  if (f.t !== "ack") throw new Error(`subscribe ${topic} failed: ${JSON.stringify(f)}`);
}
