/**
 * Alerts for the crypto dashboard (seed 001's `alerts` group, which its
 * Telegram bot subscribed to): price moves over a threshold, found on each
 * tick, and alerts an operator raises with `POST /api/alerts` and the
 * operator key. Both are published by the server on `alerts.*`; nobody
 * publishes there over a socket (`publish: "server"`).
 * @module
 */
import { timingSafeEqual } from "node:crypto";
import type { RouteHandler } from "tickgate";
import { z } from "zod";
import { ALERT_TOPICS, type Alert, type PriceTick } from "./types.ts";

/** `POST /api/alerts`' body. */
export const RaiseAlert = z.strictObject({
  message: z.string().trim().min(1).max(500),
  level: z.enum(["info", "warning", "critical"]).default("info"),
  symbol: z.string().regex(/^[A-Z0-9]{1,10}$/).optional(),
});

let seq = 0;
const alertId = () => `a${Date.now().toString(36)}-${++seq}`;
const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * Watches each symbol's price against the price of its last alert (or the
 * first price seen) and returns an alert when it has moved `thresholdPct`
 * or more; that price becomes the new reference.
 */
export class PriceMoves {
  readonly #ref = new Map<string, number>();
  constructor(readonly thresholdPct: number) {}

  check(t: PriceTick): Alert | undefined {
    const ref = this.#ref.get(t.symbol);
    if (ref === undefined) {
      this.#ref.set(t.symbol, t.price);
      return undefined;
    }
    const changePct = ((t.price - ref) / ref) * 100;
    if (Math.abs(changePct) < this.thresholdPct) return undefined;
    this.#ref.set(t.symbol, t.price);
    const pct = round(changePct, 2);
    return {
      id: alertId(),
      kind: "price",
      level: Math.abs(changePct) >= 3 * this.thresholdPct ? "critical" : "warning",
      message: `${t.symbol} ${pct > 0 ? "up" : "down"} ${Math.abs(pct)}% to $${t.price} (from $${ref})`,
      symbol: t.symbol,
      price: t.price,
      from: ref,
      changePct: pct,
      ts: t.ts,
    };
  }
}

const problem = (status: number, code: string, message: string) => Response.json({ error: { code, message } }, { status });

/**
 * `POST /api/alerts` with `Authorization: Bearer <operator key>` and a JSON
 * body {@link RaiseAlert}: publishes an operator alert and answers 202 with
 * it. 401 `UNAUTHORIZED` without the key, 400 `INVALID_BODY` for a bad body.
 */
export function raiseAlertRoute(operatorKey: string, publish: (topic: string, a: Alert) => number | undefined): RouteHandler {
  const want = Buffer.from(`Bearer ${operatorKey}`);
  return async (req) => {
    const got = Buffer.from(req.headers.get("authorization") ?? "");
    // Constant-time, so the key cannot be guessed a byte at a time.
    if (got.length !== want.length || !timingSafeEqual(got, want)) return problem(401, "UNAUTHORIZED", "POST /api/alerts needs 'Authorization: Bearer <operator key>'");
    let body: unknown;
    try {
      body = await req.json();
    } catch {
      return problem(400, "INVALID_BODY", "the body is not JSON");
    }
    const r = RaiseAlert.safeParse(body);
    if (!r.success) {
      const i = r.error.issues[0]!;
      return problem(400, "INVALID_BODY", `${i.path.join(".") || "body"}: ${i.message}`);
    }
    const alert: Alert = { id: alertId(), kind: "operator", level: r.data.level, message: r.data.message, ...(r.data.symbol ? { symbol: r.data.symbol } : {}), ts: Date.now() };
    const seqNo = publish(ALERT_TOPICS.operator, alert);
    if (seqNo === undefined) return problem(503, "UNAVAILABLE", "the server is closing");
    return Response.json({ alert, topic: ALERT_TOPICS.operator, seq: seqNo }, { status: 202 });
  };
}
