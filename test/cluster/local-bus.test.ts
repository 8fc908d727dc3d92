/** Two nodes in one process sharing a bus: the shape every bus must have. */
import { describe, expect, test } from "bun:test";
import { createServer } from "../../src/adapter/bun/index.ts";
import { LocalBus } from "../../src/core/bus.ts";
import { connect, subscribe } from "../helpers/client.ts";
import { uniqueTopic } from "../helpers/server.ts";

describe("LocalBus", () => {
  test("a publication on one node reaches subscribers of another, with one sequence", async () => {
    const bus = new LocalBus();
    const a = createServer({ host: "127.0.0.1", port: 0 }, { bus });
    const b = createServer({ host: "127.0.0.1", port: 0 }, { bus });
    await a.listen();
    await b.listen();
    try {
      const topic = uniqueTopic();
      await using ca = await connect(`ws://127.0.0.1:${a.port}/ws`);
      await using cb = await connect(`ws://127.0.0.1:${b.port}/ws`, { encoding: "json" });
      await subscribe(ca, topic);
      await subscribe(cb, topic);
      ca.send({ t: "pub", id: 1, topic, data: "from a" });
      b.publish(topic, "from b");
      const onA = await ca.collect(2, (f) => f.t === "msg");
      const onB = await cb.collect(2, (f) => f.t === "msg");
      expect(onA.map((f) => [f.seq, f.data])).toEqual(onB.map((f) => [f.seq, f.data]));
      expect(onA.map((f) => f.seq)).toEqual([1, 2]);
      expect(onA[0]!.epoch).toBe(bus.epoch);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
