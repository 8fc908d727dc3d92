/**
 * Request/response over the socket: handlers registered by method name,
 * answered with a `res` frame or an `error` frame (no handler, timeout, throw).
 * @module
 */
import { ErrorCode, RESERVED_CODES } from "../protocol/codes.ts";
import type { ClientType } from "../protocol/frames.ts";
import type { ClusterServices } from "./cluster.ts";
import { ProtocolError, TickgateError, TimeoutError } from "./errors.ts";

/** What a handler knows about who asked. */
export interface RequestContext {
  session: string;
  client: ClientType;
  remoteAddress: string;
  /** The token's subject, when the connection has one. */
  who?: string | undefined;
  /** The device id, when the caller is a device connection (from its token, or its hello with auth off). */
  device?: string | undefined;
}

/** Codes only the server may use (derived from `protocol/codes.ts`); an application code may be anything else. */
export const RESERVED = RESERVED_CODES;

export type RequestHandler = (data: unknown, ctx: RequestContext) => unknown | Promise<unknown>;

export class RequestRouter {
  readonly #handlers = new Map<string, RequestHandler>();
  #cluster: ClusterServices | undefined;
  constructor(readonly timeoutMs: number) {}

  /** In a cluster, a method with no handler here runs on a node that has one. */
  join(cluster: ClusterServices): void {
    this.#cluster = cluster;
    for (const m of this.#handlers.keys()) cluster.offer(m);
  }

  register(method: string, handler: RequestHandler): void {
    if (this.#handlers.has(method)) throw new Error(`a handler for '${method}' is registered already`);
    this.#handlers.set(method, handler);
    this.#cluster?.offer(method);
  }

  /** Methods a caller may use: this node's, and in a cluster every live node's. */
  methods(): string[] {
    const local = this.localMethods();
    return this.#cluster ? [...new Set([...local, ...this.#cluster.methods()])] : local;
  }

  localMethods(): string[] {
    return [...this.#handlers.keys()];
  }

  /** Runs the handler; rejects with a ProtocolError/TimeoutError carrying a wire code. */
  call(method: string, data: unknown, ctx: RequestContext): Promise<unknown> {
    if (this.#cluster && !this.#handlers.has(method)) return this.#cluster.request(method, data, ctx, this.timeoutMs);
    return this.callLocal(method, data, ctx);
  }

  /** Runs a handler of this node only. */
  async callLocal(method: string, data: unknown, ctx: RequestContext): Promise<unknown> {
    const h = this.#handlers.get(method);
    if (!h) throw new ProtocolError(ErrorCode.NO_HANDLER, `no handler for method '${method}'`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`'${method}' did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([Promise.resolve().then(() => h(data, ctx)), timeout]);
    } catch (e) {
      // The server's own refusals (schema checks) and timeouts pass as they are.
      if (e instanceof ProtocolError || e instanceof TimeoutError) throw e;
      // A handler's own code (e.g. "NO_SUCH_RELAY") passes too, unless it is
      // one of the server's: a handler must not speak for the server (and
      // spend its caller's error budget, or pick an HTTP status like 401).
      if (e instanceof TickgateError && !RESERVED.has(e.code)) throw e;
      throw new ProtocolError(ErrorCode.HANDLER_ERROR, `'${method}' failed: ${(e as Error)?.message ?? String(e)}`);
    } finally {
      clearTimeout(timer);
    }
  }
}
