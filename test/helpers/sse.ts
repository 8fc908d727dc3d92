/** Reads a Server-Sent Events stream with fetch, event by event. */
export interface SseEvent {
  event: string;
  id?: string;
  data: any;
}

export interface SseStream extends AsyncDisposable {
  status: number;
  next(pred?: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  collect(n: number, pred?: (e: SseEvent) => boolean): Promise<SseEvent[]>;
  abort(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const ac = new AbortController();
  const res = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal: ac.signal });
  const queue: SseEvent[] = [];
  const waiters: { pred: (e: SseEvent) => boolean; resolve: (e: SseEvent) => void }[] = [];
  const push = (e: SseEvent) => {
    const i = waiters.findIndex((w) => w.pred(e));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(e);
    else queue.push(e);
  };
  (async () => {
    if (!res.body) return;
    const dec = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of res.body) {
        buf += dec.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const e: SseEvent = { event: "message", data: "" };
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const i = line.indexOf(": ");
            const [k, v] = i < 0 ? [line, ""] : [line.slice(0, i), line.slice(i + 2)];
            if (k === "event") e.event = v;
            else if (k === "id") e.id = v;
            else if (k === "data") data.push(v);
          }
          if (data.length === 0) continue;
          const text = data.join("\n");
          try {
            e.data = JSON.parse(text);
          } catch {
            e.data = text;
          }
          push(e);
        }
      }
    } catch {
      // aborted
    }
  })();
  const next = (pred: (e: SseEvent) => boolean = () => true, timeoutMs = 5000) => {
    const i = queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0]!);
    return new Promise<SseEvent>((resolve, reject) => {
      const w = { pred, resolve: (e: SseEvent) => (clearTimeout(t), resolve(e)) };
      const t = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`no matching SSE event in ${timeoutMs} ms; queued ${JSON.stringify(queue.slice(-3))}`));
      }, timeoutMs);
      waiters.push(w);
    });
  };
  return {
    status: res.status,
    next,
    async collect(n, pred = () => true) {
      const out: SseEvent[] = [];
      while (out.length < n) out.push(await next(pred));
      return out;
    },
    abort: () => ac.abort(),
    async [Symbol.asyncDispose]() {
      ac.abort();
    },
  };
}
