/**
 * The HTTP side of the SSE fallback: publishing with `POST /api/publish`,
 * and reading tickgate's JSON error bodies.
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
 * Publishes one value as JSON; resolves to its seq. Rejects with the
 * server's code, `TIMEOUT`, or `CONNECTION_LOST` (the request may or may
 * not have reached the server).
 * @internal
 */
export async function httpPublish(fetchImpl: typeof fetch, httpUrl: string, p: { topic: unknown; data: unknown; key?: unknown }, timeoutMs: number): Promise<number> {
  const body: Record<string, unknown> = { topic: p.topic, data: p.data };
  if (p.key !== undefined) body.key = p.key;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    let res: Response;
    try {
      res = await fetchImpl(`${httpUrl}/api/publish`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: abort.signal,
      });
    } catch (e) {
      if (abort.signal.aborted) throw new TickgateClientError(ClientErrorCode.TIMEOUT, `no answer to HTTP publish within ${timeoutMs} ms`);
      throw new TickgateClientError(ClientErrorCode.CONNECTION_LOST, `HTTP publish failed: ${(e as Error)?.message ?? e}`, { cause: e });
    }
    if (!res.ok) throw await httpError(res, "HTTP publish");
    const out = (await res.json()) as { seq?: unknown };
    if (typeof out?.seq !== "number") throw new TickgateClientError(ClientErrorCode.HTTP, "HTTP publish: the answer has no seq");
    return out.seq;
  } finally {
    clearTimeout(timer);
  }
}
