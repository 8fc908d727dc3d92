/**
 * The real Bun transport with a counter on native publish calls. Nothing is
 * faked: frames still go through uWebSockets to real sockets; the counter
 * only lets a test prove that fan-out work is per channel, not per subscriber.
 */
import { BunTransport } from "../../src/adapter/bun/transport.ts";

export class CountingTransport extends BunTransport {
  readonly published = new Map<string, number>();
  override publish(channel: string, frame: Uint8Array | string): void {
    this.published.set(channel, (this.published.get(channel) ?? 0) + 1);
    super.publish(channel, frame);
  }
  get total(): number {
    let n = 0;
    for (const v of this.published.values()) n += v;
    return n;
  }
}
