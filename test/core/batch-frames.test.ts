/**
 * Batch frames (issue 17, item 4): negotiated per connection at the upgrade;
 * publications handed to the fan-out together reach a batch connection as
 * one `batch` message per subscription, each with its own seq, while plain
 * connections get the same frames one by one. The fan-out stays per
 * channel: one more native publish per channel, never per subscriber.
 */
import { describe, expect, test } from "bun:test";
import { createServer } from "../../src/adapter/bun/index.ts";
import { internals } from "../../src/internal.ts";
import { BATCH_SUBPROTOCOL } from "../../src/protocol/wire.ts";
import { TickgateClient } from "../../src/client/index.ts";
import { connect, subscribe, type Frame, type TestClient } from "../helpers/client.ts";
import { CountingTransport } from "../helpers/counting-transport.ts";
import { uniqueTopic } from "../helpers/server.ts";
import { collector } from "../client/support.ts";

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function counted(opts: Record<string, unknown> = {}) {
  const transport = new CountingTransport();
  const server = internals(createServer({ host: "127.0.0.1", port: 0, shutdownGraceMs: 500, ...opts }, { transport }));
  const { port } = await server.listen();
  return { server, transport, port, url: `ws://127.0.0.1:${port}/ws`, [Symbol.asyncDispose]: () => server.close() };
}

/** Publications in arrival order, a batch's one by one; resolves once `n` arrived. */
async function publications(c: TestClient, n: number): Promise<{ msgs: Frame[]; messages: Frame[] }> {
  const msgs: Frame[] = [];
  const messages: Frame[] = [];
  while (msgs.length < n) {
    const f = await c.next((g) => g.t === "msg" || g.t === "batch");
    messages.push(f);
    if (f.t === "batch") msgs.push(...(f.msgs as Frame[]));
    else msgs.push(f);
  }
  return { msgs, messages };
}

async function opened(ws: WebSocket): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("could not connect"));
  });
}

describe("batch frames: negotiation", () => {
  test("a batch subprotocol offered first is answered; the plain one gets no batches", async () => {
    await using s = await counted();
    for (const [enc, batch] of [["msgpack", true], ["json", true], ["msgpack", false]] as const) {
      const offered = batch ? [BATCH_SUBPROTOCOL[enc], `tickgate.${enc}`] : [`tickgate.${enc}`];
      const ws = new WebSocket(s.url, offered);
      await opened(ws);
      expect(ws.protocol).toBe(offered[0]!);
      const sessions = [...s.server.host.open];
      expect(sessions.at(-1)!.batch).toBe(batch);
      expect(sessions.at(-1)!.encoding).toBe(enc);
      ws.close();
    }
  });

  test("`?batch=1` asks for batch frames without a subprotocol of its own; SSE never gets them", async () => {
    await using s = await counted();
    await using c = await connect(s.url, { query: "batch=1" });
    expect([...s.server.host.open].find((x) => x.id === c.welcome.session)!.batch).toBe(true);
    const ctrl = new AbortController();
    const res = await fetch(`http://127.0.0.1:${s.port}/sse?topic=${uniqueTopic()}&batch=1`, { signal: ctrl.signal });
    expect(res.status).toBe(200);
    const sse = [...s.server.host.open].find((x) => x.via === "sse")!;
    expect(sse.batch).toBe(false);
    ctrl.abort();
  });
});

describe("batch frames: delivery", () => {
  for (const encoding of ["msgpack", "json"] as const) {
    test(`${encoding}: a burst in one turn is one batch per subscription, one native publish per channel`, async () => {
      await using s = await counted();
      const topic = uniqueTopic();
      await using plain = await connect(s.url, { encoding });
      await using batched = await connect(s.url, { encoding, query: "batch=1" });
      await subscribe(plain, topic);
      await subscribe(batched, topic);
      s.transport.published.clear();
      for (let i = 1; i <= 10; i++) s.server.publish(topic, { i }, i % 2 ? { key: `k${i}`, tags: ["odd"] } : {});
      const b = await publications(batched, 10);
      expect(b.messages).toHaveLength(1);
      expect(b.messages[0]!.t).toBe("batch");
      const p = await publications(plain, 10);
      expect(p.messages.every((f) => f.t === "msg")).toBe(true);
      // The same publications, frame for frame, with their own seq each.
      expect(b.msgs).toEqual(p.msgs);
      expect(b.msgs.map((f) => f.seq)).toEqual(range(1, 10));
      expect(b.msgs[0]).toMatchObject({ key: "k1", tags: ["odd"], data: { i: 1 } });
      const prefix = encoding === "json" ? "t" : "b";
      const bprefix = encoding === "json" ? "T" : "B";
      expect(s.transport.published.get(`${prefix}|${topic}`)).toBe(10);
      expect(s.transport.published.get(`${bprefix}|${topic}`)).toBe(1);
      expect(s.server.broker.encodes[encoding]).toBe(10);
    });
  }

  test("a lone publication comes as a plain msg frame", async () => {
    await using s = await counted();
    const topic = uniqueTopic();
    await using c = await connect(s.url, { query: "batch=1" });
    await subscribe(c, topic);
    s.server.publish(topic, 1);
    expect(await c.next((f) => f.t === "msg" || f.t === "batch")).toMatchObject({ t: "msg", seq: 1 });
  });

  test("a pattern subscription's batch carries several topics, each in seq order", async () => {
    await using s = await counted();
    const root = uniqueTopic("bp");
    await using c = await connect(s.url, { query: "batch=1" });
    await subscribe(c, `${root}.*`);
    for (let i = 0; i < 30; i++) s.server.publish(`${root}.s${i % 3}`, i);
    const { msgs, messages } = await publications(c, 30);
    expect(messages).toHaveLength(1);
    for (let k = 0; k < 3; k++) expect(msgs.filter((f) => f.topic === `${root}.s${k}`).map((f) => f.seq)).toEqual(range(1, 10));
  });

  test("client publications in one read batch up; a subscription in the same read sees none of the earlier ones live", async () => {
    await using s = await counted({ policies: [{ match: "br.>", historySize: 100 }] });
    const topic = uniqueTopic("br");
    await using watcher = await connect(s.url, { query: "batch=1" });
    await subscribe(watcher, topic);
    await using pub = await connect(s.url);
    // Sent back to back: usually one TCP read on the server, so one turn.
    for (let i = 1; i <= 20; i++) pub.send({ t: "pub", topic, data: i });
    pub.send({ t: "sub", id: "me", topic });
    const ack = await pub.next((f) => f.id === "me");
    for (let i = 21; i <= 25; i++) pub.send({ t: "pub", topic, data: i });
    const live = await pub.collect(25 - ack.seq, (f) => f.t === "msg");
    // Exactly what came after its ack: nothing before it, nothing twice.
    expect(live.map((f) => f.seq)).toEqual(range(ack.seq + 1, 25));
    const w = await publications(watcher, 25);
    expect(w.msgs.map((f) => f.data)).toEqual(range(1, 25));
    expect(w.messages.length).toBeLessThan(25);
  });

  test("with linger, each window is one batch", async () => {
    await using s = await counted({ policies: [{ match: "bl.>", linger: 1000 }] });
    const topic = uniqueTopic("bl");
    await using c = await connect(s.url, { query: "batch=1", encoding: "json" });
    await subscribe(c, topic);
    for (let i = 1; i <= 5; i++) {
      s.server.publish(topic, i);
      await new Promise((r) => setImmediate(r));
    }
    expect(s.server.broker.coalescer.pending).toBe(5);
    // Another subscription flushes the window (it must not see these live).
    await using other = await connect(s.url);
    await subscribe(other, topic);
    const { msgs, messages } = await publications(c, 5);
    expect(messages).toHaveLength(1);
    expect(msgs.map((f) => f.data)).toEqual(range(1, 5));
  });
});

describe("batch frames: the SDK", () => {
  for (const encoding of ["msgpack", "json"] as const) {
    test(`${encoding}: the client asks for batch frames and hands each publication to the app in order`, async () => {
      await using s = await counted();
      const topic = uniqueTopic();
      const client = new TickgateClient(s.url, { encoding });
      client.connect();
      try {
        const got = collector<number>();
        await client.subscribe<number>(topic, got.handler).ready();
        const session = [...s.server.host.open].at(-1)!;
        expect(session.batch).toBe(true);
        for (let i = 1; i <= 200; i++) s.server.publish(topic, i);
        await got.count(200);
        expect(got.got.map((m) => m.data)).toEqual(range(1, 200));
        expect(got.got.map((m) => m.meta.seq)).toEqual(range(1, 200));
        expect(client.stats().messages).toBe(200);
        // They did travel as a batch.
        expect(s.transport.published.get(`${encoding === "json" ? "T" : "B"}|${topic}`)).toBe(1);
      } finally {
        client.close();
      }
    });
  }
});

