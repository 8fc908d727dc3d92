/**
 * The HTTP side of the SSE fallback: publishing (`POST /api/publish`),
 * requests (`POST /api/request/<method>`), device commands
 * (`POST /api/command`) and stats (`GET /stats`), and reading tickgate's
 * JSON error bodies.
 * @internal
 * @module
 */
import { ClientErrorCode, TickgateClientError } from "./errors.ts";

/** The error of a non-2xx answer: its `{error: {code, message}}` body if it has one. @internal */
export async function httpError(res: Response, what: string): Promise<TickgateClientError> {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const e = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  if (e && typeof e.code === "string") return TickgateClientError.fromWire(e);
  return new TickgateClientError(ClientErrorCode.HTTP, `${what}: HTTP ${res.status} ${res.statusText}`.trim(), { details: { status: res.status } });
}

/**
 * One HTTP call with a JSON answer. Rejects with the server's code (from a
 * tickgate error body), `HTTP` (an error without one), `TIMEOUT`, or
 * `CONNECTION_LOST` (the request may or may not have reached the server).
 * @internal
 */
export async function httpJson(fetchImpl: typeof fetch, url: string, body: unknown, timeoutMs: number, what: string): Promise<unknown> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    let res: Response;
    try {
      res = await fetchImpl(
        url,
        body === undefined
          ? { method: "GET", headers: { accept: "application/json" }, signal: abort.signal }
          : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: abort.signal },
      );
    } catch (e) {
      if (abort.signal.aborted) throw new TickgateClientError(ClientErrorCode.TIMEOUT, `no answer to ${what} within ${timeoutMs} ms`);
      throw new TickgateClientError(ClientErrorCode.CONNECTION_LOST, `${what} failed: ${(e as Error)?.message ?? e}`, { cause: e });
    }
    if (!res.ok) throw await httpError(res, what);
    try {
      return await res.json();
    } catch (e) {
      if (abort.signal.aborted) throw new TickgateClientError(ClientErrorCode.TIMEOUT, `no answer to ${what} within ${timeoutMs} ms`);
      throw new TickgateClientError(ClientErrorCode.HTTP, `${what}: the answer is not JSON`, { cause: e });
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Publishes one value as JSON with `POST /api/publish`; resolves to its seq.
 * @internal
 */
export async function httpPublish(fetchImpl: typeof fetch, httpUrl: string, p: { topic: unknown; data: unknown; key?: unknown; tags?: unknown }, timeoutMs: number): Promise<number> {
  const body: Record<string, unknown> = { topic: p.topic, data: p.data };
  if (p.key !== undefined) body.key = p.key;
  if (p.tags !== undefined) body.tags = p.tags;
  const out = (await httpJson(fetchImpl, `${httpUrl}/api/publish`, body, timeoutMs, "HTTP publish")) as { seq?: unknown } | null;
  if (typeof out?.seq !== "number") throw new TickgateClientError(ClientErrorCode.HTTP, "HTTP publish: the answer has no seq");
  return out.seq;
}

/**
 * Calls a request handler with `POST /api/request/<method>`; resolves to its result.
 * @internal
 */
export async function httpRequest(fetchImpl: typeof fetch, httpUrl: string, method: string, data: unknown, timeoutMs: number): Promise<unknown> {
  const body = data === undefined ? {} : { data };
  const out = (await httpJson(fetchImpl, `${httpUrl}/api/request/${encodeURIComponent(method)}`, body, timeoutMs, `HTTP request '${method}'`)) as { data?: unknown } | null;
  if (out === null || typeof out !== "object" || !("data" in out)) throw new TickgateClientError(ClientErrorCode.HTTP, `HTTP request '${method}': the answer has no data`);
  return out.data;
}

/**
 * Sends a device command with `POST /api/command`; resolves to the answer
 * `{acked: true, data}`, the same as a `res` to a `command` frame.
 * @internal
 */
export async function httpCommand(fetchImpl: typeof fetch, httpUrl: string, c: { device: unknown; name: unknown; data?: unknown; ttlMs?: unknown }, timeoutMs: number): Promise<unknown> {
  const body: Record<string, unknown> = { device: c.device, name: c.name };
  if (c.data !== undefined) body.data = c.data;
  if (c.ttlMs !== undefined) body.ttlMs = c.ttlMs;
  return httpJson(fetchImpl, `${httpUrl}/api/command`, body, timeoutMs, `HTTP command '${String(c.name)}'`);
}

/**
 * The server's stats from the operator route `GET /stats` (with auth on it
 * needs a `tg.admin` token).
 * @internal
 */
export function httpStats(fetchImpl: typeof fetch, httpUrl: string, timeoutMs: number): Promise<unknown> {
  return httpJson(fetchImpl, `${httpUrl}/stats`, undefined, timeoutMs, "HTTP stats");
}
