/**
 * A legacy peer over Bun's WebSocket: sends text exactly as given and keeps
 * every message as it arrived (raw text), so tests compare bytes. Waits on
 * messages, never on timers.
 */
export interface LegacyPeer extends AsyncDisposable {
  ws: WebSocket;
  /** Raw messages not yet taken. */
  received: string[];
  send(raw: string): void;
  /** The first not-yet-taken message matching `pred` (waits for it). */
  next(pred?: (raw: string) => boolean, timeoutMs?: number): Promise<string>;
  /** The next message, parsed. */
  nextJson(pred?: (m: Record<string, any>) => boolean, timeoutMs?: number): Promise<Record<string, any>>;
  closed: Promise<{ code: number; reason: string }>;
}

export async function legacyConnect(url: string, headers: Record<string, string> = {}): Promise<LegacyPeer> {
  const ws = new WebSocket(url, { headers } as any);
  const received: string[] = [];
  const waiters: { pred: (raw: string) => boolean; resolve: (raw: string) => void }[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.onclose = (ev) => resolve({ code: ev.code, reason: ev.reason });
  });
  ws.onmessage = (ev) => {
    const raw = String(ev.data);
    const i = waiters.findIndex((w) => w.pred(raw));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(raw);
    else received.push(raw);
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`could not connect to ${url}`));
    void closed.then((c) => reject(new Error(`refused: closed ${c.code}`)));
  });
  const next = (pred: (raw: string) => boolean = () => true, timeoutMs = 5000): Promise<string> => {
    const i = received.findIndex(pred);
    if (i >= 0) return Promise.resolve(received.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (r: string) => (clearTimeout(timer), resolve(r)) };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`no matching message within ${timeoutMs} ms; queued: ${received.slice(-5).join(" | ")}`));
      }, timeoutMs);
      waiters.push(w);
    });
  };
  const parse = (raw: string): Record<string, any> | null => {
    try {
      return JSON.parse(raw);
    } catch {
      return null;
    }
  };
  return {
    ws,
    received,
    send: (raw) => ws.send(raw),
    next,
    nextJson: async (pred = () => true, timeoutMs) => JSON.parse(await next((r) => { const m = parse(r); return m !== null && pred(m); }, timeoutMs)),
    closed,
    async [Symbol.asyncDispose]() {
      if (ws.readyState !== WebSocket.CLOSED) {
        ws.close();
        await closed;
      }
    },
  };
}

/** Refused upgrades: the HTTP status the server answered with. */
export async function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(url.replace(/^ws/, "http"), {
    headers: { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", ...headers },
  });
  return res.status;
}
