import { describe, expect, test } from "bun:test";
import { packr } from "../../src/protocol/codec.ts";
import { createServer } from "../../src/adapter/bun/index.ts";
import { internals } from "../../src/internal.ts";
import { connect, subscribe, type TestClient } from "../helpers/client.ts";
import { CountingTransport } from "../helpers/counting-transport.ts";
import { uniqueTopic } from "../helpers/server.ts";

async function counted(opts: Record<string, unknown> = {}) {
  const transport = new CountingTransport();
  const server = internals(createServer({ host: "127.0.0.1", port: 0, ...opts }, { transport }));
  const { port } = await server.listen();
  return { server, transport, url: `ws://127.0.0.1:${port}/ws`, [Symbol.asyncDispose]: () => server.close() };
}

async function many(url: string, n: number, topic: string, encoding: "msgpack" | "json" = "msgpack"): Promise<TestClient[]> {
  const cs = await Promise.all(Array.from({ length: n }, () => connect(url, { encoding })));
  await Promise.all(cs.map((c) => subscribe(c, topic)));
  return cs;
}

describe("Broker#deliver (zero-copy broadcaster)", () => {
  test("encodes a publication once for 200 msgpack subscribers, and no JSON frame", async () => {
    await using s = await counted();
    const topic = uniqueTopic();
    const subs = await many(s.url, 200, topic);
    const before = { ...s.server.broker.encodes };
    s.server.publish(topic, { px: 1 });
    const got = await Promise.all(subs.map((c) => c.next((f) => f.t === "msg")));
    expect(got.every((f) => f.data.px === 1 && f.seq === 1)).toBe(true);
    expect(s.server.broker.encodes.msgpack - before.msgpack).toBe(1);
    expect(s.server.broker.encodes.json - before.json).toBe(0);
    expect(s.transport.published.get(`b|${topic}`)).toBe(1);
    await Promise.all(subs.map((c) => c[Symbol.asyncDispose]()));
  });

  test("builds a JSON frame only once JSON subscribers exist, once per publication", async () => {
    await using s = await counted();
    const topic = uniqueTopic();
    const bin = await many(s.url, 20, topic);
    const txt = await many(s.url, 20, topic, "json");
    const before = { ...s.server.broker.encodes };
    for (let i = 0; i < 5; i++) s.server.publish(topic, i);
    await Promise.all([...bin, ...txt].map((c) => c.collect(5, (f) => f.t === "msg")));
    expect(s.server.broker.encodes.msgpack - before.msgpack).toBe(5);
    expect(s.server.broker.encodes.json - before.json).toBe(5);
    await Promise.all([...bin, ...txt].map((c) => c[Symbol.asyncDispose]()));
  });

  test("wildcards cost one native publish per matching pattern, not per subscriber", async () => {
    await using s = await counted();
    const root = uniqueTopic("w");
    const a = await many(s.url, 30, `${root}.*`);
    const b = await many(s.url, 30, `${root}.>`);
    const c = await many(s.url, 30, `${root}.x`);
    const d = await many(s.url, 30, `${root}.y`); // does not match: no work
    s.transport.published.clear();
    s.server.publish(`${root}.x`, "hi");
    await Promise.all([...a, ...b, ...c].map((cl) => cl.next((f) => f.t === "msg")));
    expect(s.transport.total).toBe(3);
    expect(s.server.broker.encodes.msgpack).toBe(1);
    expect(d.every((cl) => cl.frames.every((f) => f.t !== "msg"))).toBe(true);
    await Promise.all([...a, ...b, ...c, ...d].map((cl) => cl[Symbol.asyncDispose]()));
  });

  test("a publisher's msgpack payload bytes reach subscribers untouched", async () => {
    await using s = await counted();
    const topic = uniqueTopic();
    const [sub] = await many(s.url, 1, topic);
    await using pub = await connect(s.url);
    // float32 0xca and a map16 header for 1 entry: encodings msgpackr would
    // never produce itself, so a decode/re-encode would change these bytes.
    const data = Uint8Array.of(0xde, 0x00, 0x01, 0xa1, 0x70, 0xca, 0x40, 0x49, 0x0f, 0xdb);
    const head = packr.pack({ t: "pub", topic });
    const frame = new Uint8Array(head.length + 5 + data.length);
    frame.set(head);
    frame[0] = head[0]! + 1;
    frame.set([0xa4, 0x64, 0x61, 0x74, 0x61], head.length);
    frame.set(data, head.length + 5);
    const raw: Uint8Array[] = [];
    sub!.ws.addEventListener("message", (ev) => raw.push(new Uint8Array(ev.data as ArrayBuffer)));
    pub.sendRaw(frame);
    const msg = await sub!.next((f) => f.t === "msg");
    expect(msg.data.p).toBeCloseTo(3.14159, 5);
    const bytes = raw.at(-1)!;
    expect(bytes.subarray(bytes.length - data.length)).toEqual(data);
    await sub![Symbol.asyncDispose]();
  });
});
