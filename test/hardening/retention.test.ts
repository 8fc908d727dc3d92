// Issue 16, item 8 (soak): per-topic state must go when its owner goes.
// Before the fix, every topic a client subscribed to but nobody published on
// left its policy in the policy cache for good: it never became a Topic, so
// eviction (which drops the per-topic caches) never saw it.
import { describe, expect, test } from "bun:test";
import { connect, subscribe } from "../helpers/client.ts";
import { startServer, uniqueTopic } from "../helpers/server.ts";

describe("retention under churn", () => {
  test("subscriptions to topics nobody publishes on leave no cached policy behind", async () => {
    await using server = await startServer();
    const policies = server.broker.policies;
    const baseline = policies.cached;
    // Half unsubscribe explicitly, half close with their subscriptions still on.
    for (let round = 0; round < 20; round++) {
      await using c = await connect(server.wsUrl);
      const topics = Array.from({ length: 10 }, () => uniqueTopic("never.published"));
      for (const t of topics) await subscribe(c, t);
      expect(policies.cached).toBeGreaterThanOrEqual(baseline + topics.length);
      if (round % 2 === 0) {
        for (const t of topics) {
          c.send({ t: "unsub", id: `u-${t}`, topic: t });
          await c.next((f) => f.id === `u-${t}`);
        }
      }
    }
    // The last close is handled by the server on its own time: wait for it.
    const host = server.host;
    for (const t0 = Date.now(); host.open.size > 0; await new Promise((r) => setTimeout(r, 5))) {
      if (Date.now() - t0 > 20_000) throw new Error("connections still open");
    }
    expect(policies.cached).toBe(baseline);
    expect(server.broker.index.size).toBe(0);
  });
});
