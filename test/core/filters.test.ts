import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { createServer } from "../../src/adapter/bun/index.ts";
import { internals } from "../../src/internal.ts";
import { compileFilter } from "../../src/protocol/filter.ts";
import { connect, type TestClient } from "../helpers/client.ts";
import { CountingTransport } from "../helpers/counting-transport.ts";
import { uniqueTopic } from "../helpers/server.ts";

async function sub(c: TestClient, topic: string, filter?: unknown): Promise<ReturnType<TestClient["next"]>> {
  const id = Math.random().toString(36);
  c.send(filter === undefined ? { t: "sub", id, topic } : { t: "sub", id, topic, filter });
  return c.next((f) => f.id === id);
}

describe("subscription filters", () => {
  test("any / all / none select on a publication's tags", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom<string>("a", "b", "c", "d"), { maxLength: 4 }), (tags) => {
        const has = (t: string) => tags.includes(t);
        expect(compileFilter({ any: ["a", "b"] })(tags)).toBe(has("a") || has("b"));
        expect(compileFilter({ all: ["a", "b"] })(tags)).toBe(has("a") && has("b"));
        expect(compileFilter({ none: ["c"] })(tags)).toBe(!has("c"));
        expect(compileFilter({ any: ["a"], none: ["d"] })(tags)).toBe(has("a") && !has("d"));
      }),
    );
  });

  test("subscribers get only matching publications, tags included; the same topic unfiltered gets all", async () => {
    const transport = new CountingTransport();
    const server = createServer({ host: "127.0.0.1", port: 0 }, { transport });
    const { port } = await server.listen();
    try {
      const url = `ws://127.0.0.1:${port}/ws`;
      const topic = uniqueTopic("news");
      await using btc = await connect(url, { encoding: "json" });
      await using all = await connect(url);
      await using btc2 = await connect(url);
      expect((await sub(btc, topic, { any: ["btc"] })).t).toBe("ack");
      expect((await sub(btc2, topic, { any: ["btc", "btc"] })).t).toBe("ack"); // same filter, other spelling
      expect((await sub(all, topic)).t).toBe("ack");
      transport.published.clear();
      server.publish(topic, "eth up", { tags: ["eth"] });
      server.publish(topic, "btc up", { tags: ["btc", "markets"] });
      server.publish(topic, "untagged");
      expect((await btc.collect(1, (f) => f.t === "msg"))[0]).toMatchObject({ data: "btc up", tags: ["btc", "markets"] });
      expect((await btc2.next((f) => f.t === "msg")).data).toBe("btc up");
      expect((await all.collect(3, (f) => f.t === "msg")).map((f) => f.data)).toEqual(["eth up", "btc up", "untagged"]);
      // unfiltered: 3 publishes; the one btc filter: 1 per encoding in use (json + msgpack)
      expect(transport.total).toBe(5);
      btc.send({ t: "unsub", id: "u", topic, filter: { any: ["btc"] } });
      expect((await btc.next((f) => f.id === "u")).t).toBe("ack");
      btc.send({ t: "unsub", id: "u2", topic });
      expect((await btc.next((f) => f.id === "u2")).code).toBe("NOT_SUBSCRIBED");
    } finally {
      await server.close();
    }
  });

  test("100 distinct filters over 1,000 subscribers cost 100 native publishes, not 1,000", async () => {
    const transport = new CountingTransport();
    const server = createServer({ host: "127.0.0.1", port: 0, limits: { maxConnectionsPerIp: 10_000 } }, { transport });
    const { port } = await server.listen();
    try {
      const topic = uniqueTopic("news");
      const clients = await Promise.all(Array.from({ length: 1000 }, () => connect(`ws://127.0.0.1:${port}/ws`)));
      await Promise.all(clients.map((c, i) => sub(c, topic, { any: [`k${i % 100}`, "all"] })));
      transport.published.clear();
      server.publish(topic, 1, { tags: ["all"] });
      await Promise.all(clients.map((c) => c.next((f) => f.t === "msg")));
      expect(transport.total).toBe(100);
      expect(internals(server).broker.encodes.msgpack).toBe(1);
      await Promise.all(clients.map((c) => c[Symbol.asyncDispose]()));
    } finally {
      await server.close();
    }
  }, 60_000);

  test("a filter never widens what a client may see", async () => {
    const server = createServer({
      host: "127.0.0.1",
      port: 0,
      auth: { required: true, secret: "x".repeat(32), anonymous: { subscribe: ["public.>"], publish: [], request: [] } },
    });
    const { port } = await server.listen();
    try {
      await using c = await connect(`ws://127.0.0.1:${port}/ws`);
      expect((await sub(c, "private.news", { any: ["btc"] })).code).toBe("FORBIDDEN");
      expect((await sub(c, ">", { none: ["secret"] })).code).toBe("FORBIDDEN");
      expect((await sub(c, "public.news", { any: ["btc"] })).t).toBe("ack");
      expect((await sub(c, "public.news", { nope: 1 })).code).toBe("INVALID_FRAME");
    } finally {
      await server.close();
    }
  });

  test("retained values and replayed history pass through the filter too", async () => {
    const server = createServer({ host: "127.0.0.1", port: 0, policies: [{ match: "r.>", retain: true }] });
    const { port } = await server.listen();
    try {
      server.publish("r.news", "a", { key: "1", tags: ["x"] });
      server.publish("r.news", "b", { key: "2", tags: ["y"] });
      await using c = await connect(`ws://127.0.0.1:${port}/ws`);
      await sub(c, "r.news", { any: ["y"] });
      server.publish("r.news", "c", { key: "3", tags: ["y"] });
      expect((await c.collect(2, (f) => f.t === "msg")).map((f) => f.data)).toEqual(["b", "c"]);
    } finally {
      await server.close();
    }
  });
});
