/**
 * A bare tickgate connection for `pub` and `sub`: a plain WebSocket and the
 * protocol codec. The CLI does not use the SDK in src/client, so it keeps
 * working (and keeps testing the wire protocol) whatever the SDK does.
 * @module
 */
import { decodeServerFrame, packr } from "../protocol/codec.ts";
import { ENCODINGS, SUBPROTOCOL, type Encoding } from "../protocol/frames.ts";
import { CommandFailed, UsageError } from "./command.ts";

export type Frame = Record<string, unknown> & { t: string };

export const DEFAULT_URL = "ws://127.0.0.1:8080/ws";
export const TIMEOUT_MS = 10_000;

/** Flags `pub` and `sub` share; env defaults keep scripts short. */
export const CONNECTION_FLAGS = {
  url: { type: "string" },
  encoding: { type: "string" },
  token: { type: "string" },
} as const;

export const CONNECTION_HELP = `  --url URL          server WebSocket URL (env TICKGATE_URL; default ${DEFAULT_URL})
  --encoding E       json or msgpack (default json)
  --token T          bearer token, when the server requires auth (env TICKGATE_TOKEN)`;

export interface ConnectionTarget {
  url: string;
  encoding: Encoding;
  token: string | undefined;
}

export function connectionTarget(flags: { url?: string | undefined; encoding?: string | undefined; token?: string | undefined }, env: Record<string, string | undefined>): ConnectionTarget {
  const url = flags.url ?? env.TICKGATE_URL ?? DEFAULT_URL;
  if (!/^wss?:\/\//.test(url)) throw new UsageError(`--url must start with ws:// or wss://, got '${url}'`);
  const encoding = flags.encoding ?? "json";
  if (!(ENCODINGS as readonly string[]).includes(encoding)) throw new UsageError(`--encoding must be one of ${ENCODINGS.join(", ")}, got '${encoding}'`);
  return { url, encoding: encoding as Encoding, token: flags.token ?? env.TICKGATE_TOKEN };
}

export interface CliSocket {
  welcome: Frame;
  /** Frames that are not the answer to {@link request}. */
  onFrame: (f: Frame) => void;
  /** Sends a frame with `id` and resolves with the `ack` or `error` frame answering it. */
  request(frame: Record<string, unknown> & { id: string }, timeoutMs?: number): Promise<Frame>;
  /** Resolves when the connection ends, whoever ends it. */
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

/**
 * A WebSocket that sends `headers` on the upgrade: Bun's global takes them in
 * an options object; on Node (whose global, where there is one, cannot set
 * headers) the `ws` package does.
 */
async function webSocket(url: string, protocol: string, headers: Record<string, string>): Promise<WebSocket> {
  if ((process.versions as Record<string, string | undefined>).bun) return new WebSocket(url, { protocols: [protocol], headers } as unknown as string[]);
  const { WebSocket: NodeWebSocket } = await import("ws");
  return new NodeWebSocket(url, [protocol], { headers }) as unknown as WebSocket;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new CommandFailed(`${what} timed out after ${ms} ms`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export async function openSocket(target: ConnectionTarget, timeoutMs = TIMEOUT_MS): Promise<CliSocket> {
  const json = target.encoding === "json";
  const headers: Record<string, string> = { "x-tickgate-client": "api" };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  const ws = await webSocket(target.url, SUBPROTOCOL[target.encoding], headers);
  ws.binaryType = "arraybuffer";
  const pending = new Map<string, (f: Frame) => void>();
  let welcome: ((f: Frame) => void) | undefined;
  const sock: CliSocket = {
    welcome: { t: "welcome" },
    onFrame: () => {},
    request(frame, ms = timeoutMs) {
      const answer = new Promise<Frame>((resolve) => pending.set(frame.id, resolve));
      ws.send(json ? JSON.stringify(frame) : (packr.pack(frame) as Uint8Array<ArrayBuffer>));
      return withTimeout(Promise.race([answer, sock.closed.then(closedError)]), ms, `'${frame.t}'`);
    },
    closed: new Promise((resolve) => ws.addEventListener("close", (ev) => resolve({ code: ev.code, reason: ev.reason }))),
    close: () => ws.close(1000),
  };
  ws.onmessage = (ev) => {
    let f: Frame;
    try {
      f = decodeServerFrame(ev.data as ArrayBuffer | string) as Frame;
    } catch {
      return; // not ours to judge; the server never sends undecodable frames
    }
    if (f.t === "welcome" && welcome) return welcome(f);
    const id = typeof f.id === "string" ? f.id : undefined;
    const answer = id !== undefined && (f.t === "ack" || f.t === "error") ? pending.get(id) : undefined;
    if (answer) {
      pending.delete(id!);
      return answer(f);
    }
    sock.onFrame(f);
  };
  const greeted = new Promise<Frame>((resolve) => (welcome = resolve));
  const opened = new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new CommandFailed(`cannot connect to ${target.url}`));
  });
  try {
    await withTimeout(opened, timeoutMs, `connecting to ${target.url}`);
    sock.welcome = await withTimeout(Promise.race([greeted, sock.closed.then(closedError)]), timeoutMs, "waiting for the welcome frame");
  } catch (e) {
    ws.close();
    throw e;
  }
  welcome = undefined;
  return sock;
}

function closedError({ code, reason }: { code: number; reason: string }): never {
  throw new CommandFailed(`connection closed by the server (${code}${reason ? `: ${reason}` : ""})`);
}

/** `tickgate: CODE: message` for an error frame. */
export function errorLine(f: Frame): string {
  return `${String(f.code ?? "ERROR")}: ${String(f.message ?? "")}`;
}
