/**
 * Frames in: routes what any link receives to the calls, subscriptions and
 * events it concerns (publications to handlers, acks to waiting calls and
 * subscriptions, errors to their caller or the `error` event, gaps to
 * `onGap`). Transport-blind: a link hands over frames already named the
 * same way. Cost per publication: one registry lookup and the handlers.
 * @internal
 * @module
 */
import { ErrorCode } from "../protocol/codes.ts";
import type { AckFrame, ErrorFrame, GapFrame, PublicationFrame, WelcomeFrame } from "../protocol/wire.ts";
import type { IncomingFrame } from "./codec.ts";
import type { CommandRouter } from "./commands.ts";
import { TickgateClientError } from "./errors.ts";
import { describe, type Link, type LinkHost } from "./link.ts";
import { RateMeter } from "./rate.ts";
import type { GapInfo, SubscriptionState } from "./subscription.ts";

/** What the router needs besides the link's shared state. @internal */
export interface InboundHost extends LinkHost {
  readonly commands: CommandRouter<Link>;
  /** Links the server knows as this device: their hello was acknowledged, or a command came on them. */
  readonly deviceLinks: WeakSet<Link>;
  welcome(link: Link, w: WelcomeFrame): void;
  /** A `TOKEN_EXPIRED` error came on `link` (its 4403 close then says nothing new). */
  tokenExpired(link: Link): void;
  gap(info: GapInfo): void;
}

/** @internal */
export class Inbound {
  /** Publications delivered to handlers (each once, however many handlers). */
  messages = 0;
  gaps = 0;
  /** Publications replayed by the server on resubscribe. */
  recovered = 0;
  readonly rate = new RateMeter();

  constructor(readonly host: InboundHost) {}

  frame(link: Link, f: IncomingFrame): void {
    const h = this.host;
    switch (f.t) {
      case "msg":
        return this.#message(link, f);
      case "ack":
        return this.#ack(f);
      case "error":
        return this.#error(link, f);
      case "res":
        return void h.calls.answer(f.id as number, f.data);
      case "stats":
        if (typeof f.id === "number") h.calls.answer(f.id, f.data);
        return;
      case "gap":
        return this.#gapFrame(f);
      case "welcome":
        return h.welcome(link, f);
      case "command":
        h.deviceLinks.add(link);
        return h.commands.receive(f, link);
      default:
        return; // pong: the heartbeat only needs traffic
    }
  }

  /** A stream's ack names its topic; one stream topic may stand for several subscriptions (with different filters). */
  streamAck(ack: AckFrame & { topic: string }): void {
    // Count the topic's replay once.
    this.host.subs.byTopic(ack.topic).forEach((sub, i) => this.#subAcked(sub, ack, false, i === 0));
  }

  /** A stream refused `topic`: its subscriptions are dead; the link drops them from its stream. */
  streamRefusal(link: Link, topic: string, f: ErrorFrame): void {
    const err = TickgateClientError.fromWire(f);
    const refused = this.host.subs.byTopic(topic);
    for (const sub of refused) {
      this.host.subs.remove(sub, err);
      this.host.report(new TickgateClientError(err.code, `subscription to ${describe(sub)} refused: ${err.message}`, { details: err.details }));
    }
    if (refused.length > 0) link.resync();
  }

  #message(link: Link, f: PublicationFrame): void {
    if (this.host.subs.deliver(f, link.unfiltered)) {
      this.messages++;
      this.rate.add();
    }
  }

  #ack(f: AckFrame): void {
    const h = this.host;
    const id = f.id as number;
    const s = h.subAcks.get(id);
    if (s) {
      h.subAcks.delete(id);
      // Unsubscribed while the ack was on its way: nothing to do.
      if (h.subs.holds(s.sub)) this.#subAcked(s.sub, f, s.truncated);
      return;
    }
    if (h.quiet.delete(id)) return;
    h.calls.answer(id, f.seq);
  }

  #subAcked(sub: SubscriptionState, ack: AckFrame, truncated: boolean, countReplay = true): void {
    sub.acked(ack);
    const r = ack.recovery;
    if (r && countReplay) this.recovered += r.replayed;
    const epoch = ack.epoch ?? sub.epoch ?? "";
    const seq = ack.seq === undefined ? {} : { seq: ack.seq };
    if (r && !r.ok) this.#gap(sub, { type: "recovery-failed", subscription: sub.topic, reason: r.reason ?? "window", epoch, ...seq, replayed: r.replayed });
    else if (truncated) this.#gap(sub, { type: "recovery-failed", subscription: sub.topic, reason: "truncated", epoch, ...seq, replayed: r?.replayed ?? 0 });
    this.host.subs.acknowledged(sub);
  }

  #error(link: Link, f: ErrorFrame): void {
    const h = this.host;
    const err = TickgateClientError.fromWire(f);
    if (f.id === undefined) {
      // A refreshed token no longer covers this topic: the server ended its subscriptions (with any filter).
      const ended = f.code === ErrorCode.FORBIDDEN && typeof f.details?.topic === "string" ? h.subs.byTopic(f.details.topic) : [];
      if (ended.length > 0) {
        for (const sub of ended) {
          h.subs.remove(sub, err);
          h.report(new TickgateClientError(err.code, `subscription to ${describe(sub)} ended: ${err.message}`, { details: err.details }));
        }
        return;
      }
      if (f.code === ErrorCode.TOKEN_EXPIRED) h.tokenExpired(link);
      return h.report(err);
    }
    const id = f.id as number;
    const s = h.subAcks.get(id);
    if (s) {
      h.subAcks.delete(id);
      if (!h.subs.holds(s.sub)) return;
      if (f.code === ErrorCode.UNAUTHORIZED || f.code === ErrorCode.TOKEN_EXPIRED) {
        // Not authenticated (yet): kept, and sent again once a token is in force (setToken, reconnect).
        s.sub.status = "idle";
        h.report(new TickgateClientError(err.code, `subscription to ${describe(s.sub)} not accepted yet: ${err.message}`, { details: err.details }));
        return;
      }
      // The server refused the subscription (too many, bad topic, forbidden): it is dead.
      h.subs.remove(s.sub, err);
      h.report(new TickgateClientError(err.code, `subscription to ${describe(s.sub)} refused: ${err.message}`, { details: err.details }));
      return;
    }
    if (h.quiet.delete(id)) return;
    if (!h.calls.fail(id, err)) h.report(err);
  }

  #gapFrame(f: GapFrame): void {
    // A gap names the topic, not the filter: it applies to every subscription with that topic.
    for (const sub of this.host.subs.byTopic(f.topic)) this.#gap(sub, { type: "gap", subscription: f.topic, reason: f.reason, count: f.count });
  }

  #gap(sub: SubscriptionState, info: GapInfo): void {
    this.gaps++;
    this.host.subs.gap(sub, info);
    this.host.gap(info);
  }
}
