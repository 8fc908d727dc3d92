/**
 * Plain HTTP on uWebSockets.js, bridged to the core's Fetch-style handler:
 * a uWS request becomes a `Request` (body streamed in and capped), the
 * `Response` goes back corked, and a body that keeps streaming (SSE) is
 * written chunk by chunk with uWS's backpressure. Costs one Request and one
 * Response per HTTP call; nothing here runs per WebSocket delivery.
 * @module
 */
import { httpError } from "../../http/errors.ts";
import { ErrorCode } from "../../protocol/codes.ts";
import type { UwsHttpRequest, UwsHttpResponse } from "./uws-types.ts";

const utf8 = new TextDecoder();

/** uWS gives addresses as text bytes; IPv4 peers of a dual-stack socket come mapped. */
export function addressText(buf: ArrayBuffer): string {
  const s = utf8.decode(buf);
  return s.startsWith("::ffff:") && s.includes(".") ? s.slice(7) : s;
}

/** Everything a handler needs from a uWS request, read before any await (the request dies with the handler). */
export interface RequestHead {
  method: string;
  url: URL;
  headers: Headers;
  remoteAddress: string;
}

export function readHead(res: UwsHttpResponse, req: UwsHttpRequest): RequestHead {
  const headers = new Headers();
  req.forEach((k, v) => headers.append(k, v));
  const query = req.getQuery();
  const path = req.getUrl() + (query ? `?${query}` : "");
  let url: URL;
  try {
    url = new URL(path, `http://${headers.get("host") || "localhost"}`);
  } catch {
    url = new URL(path, "http://localhost");
  }
  return { method: req.getMethod().toUpperCase(), url, headers, remoteAddress: addressText(res.getRemoteAddressAsText()) };
}

/** Per-response lifetime: uWS forbids touching `res` after onAborted fired. */
export interface ResponseState {
  aborted: boolean;
  /** Wakes a writer waiting on onWritable (or on abort). */
  wake?: () => void;
  /** Cancels the response body being streamed, so its producer learns at once. */
  cancel?: () => void;
  /** Set when the transport took over the answer (body too large). */
  answered?: boolean;
  /** The response ended: uWS forbids touching `res` again. */
  done?: boolean;
}

const REASONS: Record<number, string> = { 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type", 426: "Upgrade Required", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable" };

function writeHead(res: UwsHttpResponse, r: Response, streaming: boolean): void {
  res.writeStatus(`${r.status} ${r.statusText || REASONS[r.status] || "Status"}`);
  r.headers.forEach((v, k) => {
    // uWS writes its own framing: content-length for end(body), chunked for write().
    if (k === "content-length" || k === "transfer-encoding" || k === "set-cookie") return;
    res.writeHeader(k, v);
  });
  for (const c of r.headers.getSetCookie()) res.writeHeader("set-cookie", c);
  // A stream that a proxy caches is no stream; say so unless the handler did.
  if (streaming && !r.headers.has("cache-control")) res.writeHeader("cache-control", "no-cache");
}

/**
 * Sends `r` on `res`. A body that is complete within one turn goes out in
 * one corked `end`; one that is still producing (an SSE stream) gets its
 * head at once and each chunk as it comes, waiting on onWritable when uWS's
 * buffer is full. Resolves when the response ended or the client went away.
 */
export async function sendResponse(res: UwsHttpResponse, r: Response, st: ResponseState): Promise<void> {
  if (st.aborted || st.answered || st.done) return void r.body?.cancel().catch(() => {});
  if (!r.body) {
    st.done = true;
    res.cork(() => {
      writeHead(res, r, false);
      res.end();
    });
    return;
  }
  const reader = r.body.getReader();
  const first = await reader.read();
  // A body built from bytes or a string ends within microtasks; a stream
  // still waiting for its next event does not finish before setImmediate.
  const next = first.done ? Promise.resolve(first) : reader.read();
  const second = await Promise.race([next, new Promise<null>((ok) => setImmediate(() => ok(null)))]);
  // The client left, or the transport answered (body too large) or stopped meanwhile.
  if (st.aborted || st.answered || st.done) return void reader.cancel().catch(() => {});
  if (second !== null && second.done) {
    const body = first.value ?? new Uint8Array(0);
    st.done = true;
    res.cork(() => {
      writeHead(res, r, false);
      res.end(body);
    });
    return;
  }
  st.cancel = () => void reader.cancel().catch(() => {});
  res.cork(() => {
    writeHead(res, r, true);
    if (first.value) res.write(first.value);
  });
  // The read that lost the race is still the next chunk: keep it, do not read past it.
  let pending: Promise<{ done: boolean; value?: Uint8Array }> | null = next;
  try {
    while (pending) {
      const chunk = await pending;
      // Aborted by the client, or ended by the transport's stop(true).
      if (st.aborted || st.done) break;
      if (chunk.done) {
        st.done = true;
        res.cork(() => res.end());
        return;
      }
      let ok = true;
      res.cork(() => (ok = res.write(chunk.value!)));
      pending = reader.read();
      if (!ok) await new Promise<void>((wake) => {
        st.wake = wake;
        res.onWritable(() => (wake(), true));
      });
    }
  } catch {
    // The producer failed mid-stream: all we can do is end the connection.
    if (!st.aborted && !st.done) {
      st.done = true;
      res.cork(() => res.close());
    }
  }
  if (st.aborted || st.done) await reader.cancel().catch(() => {});
}

/**
 * The body as a stream, fed by uWS's onData (which must be attached before
 * the handler returns). Each chunk is copied: uWS neuters it afterwards.
 *
 * The cap is the core's to enforce (`http/body.ts` answers 413 and keeps
 * the connection): the chunk that crosses `limit` is still handed on, so the
 * core sees the body is too large, and everything after it is dropped as it
 * arrives, so memory stays under `limit` plus one chunk while the client
 * finishes sending. Only a handler that asks for more than `limit` bytes
 * gets the transport's own 413, with the connection closed (the rest of the
 * body is still on the wire and nobody will read it).
 */
export function bodyStream(res: UwsHttpResponse, limit: number, st: ResponseState): ReadableStream<Uint8Array> {
  let total = 0;
  let over = false;
  let ended = false;
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const stream = new ReadableStream<Uint8Array>(
    {
      start: (c) => void (ctl = c),
      pull: () => {
        // The queue is empty and the reader wants bytes past the cap.
        if (over && !ended) backstop();
      },
    },
    { highWaterMark: 0 },
  );
  const backstop = () => {
    ended = true;
    ctl.error(new Error("request body too large"));
    if (st.answered || st.aborted || st.done) return;
    st.answered = true;
    const refusal = httpError(ErrorCode.PAYLOAD_TOO_LARGE, `body is over ${limit} bytes, the limit`);
    void refusal.text().then((text) => {
      if (st.aborted || st.done) return;
      st.done = true;
      res.cork(() => res.writeStatus(`${refusal.status} ${REASONS[refusal.status]}`).writeHeader("content-type", "application/json").end(text, true));
    });
  };
  res.onData((chunk, isLast) => {
    if (over || ended || st.aborted || st.done) return;
    total += chunk.byteLength;
    over = total > limit;
    ctl.enqueue(new Uint8Array(chunk.slice(0)));
    if (isLast && !over) {
      ended = true;
      ctl.close();
    }
  });
  return stream;
}
