/**
 * The extension point itself (issue 15, item 2): a protocol written in a
 * few lines, on its own path, with no core change; its connections are
 * ordinary sessions (grants, declared topics, stats), and its deliveries
 * are translated, never the native frames. Real server, real sockets.
 */
import { describe, expect, test } from "bun:test";
import { createServer } from "../../src/adapter/bun/index.ts";
import type { LegacyProtocol } from "../../src/index.ts";
import { internals } from "../../src/internal.ts";
import { connect, subscribe } from "../helpers/client.ts";
import type { TestServer } from "../helpers/server.ts";
import { hs256, hsAuth } from "../helpers/tokens.ts";
import { legacyConnect } from "./legacy-client.ts";

/** A line protocol: `SUB <topic>` / `PUB <topic> <json>` in, `OK`, `ERR <code>`, `MSG <topic> <seq> <json>` out. */
const lines: LegacyProtocol = {
  name: "lines",
  path: "/lines",
  decode(raw) {
    const [verb, topic, ...rest] = String(raw).split(" ");
    if (verb === "SUB") return { frames: [{ t: "sub", id: 1, topic }] };
    if (verb === "PUB") return { frames: [{ t: "pub", id: 2, topic, data: JSON.parse(rest.join(" ")) }] };
    return { fault: { code: "UNKNOWN_TYPE", reply: "ERR UNKNOWN_TYPE" } };
  },
  encode(f) {
    if (f.t === "ack") return "OK";
    if (f.t === "error") return `ERR ${f.code}`;
    if (f.t === "msg") return `MSG ${f.topic} ${f.seq} ${JSON.stringify(f.data)}`;
    return null;
  },
};

async function server(options: Record<string, unknown> = {}): Promise<TestServer> {
  const s = internals(createServer({ host: "127.0.0.1", port: 0, shutdownGraceMs: 500, ...options })) as TestServer;
  s.legacy(lines);
  await s.listen();
  s[Symbol.asyncDispose] = () => s.close();
  return s;
}

describe("LegacyHost", () => {
  test("a legacy subscriber gets every publication once, translated; a native subscriber beside it gets tickgate frames", async () => {
    await using s = await server();
    await using native = await connect(s.wsUrl);
    await subscribe(native, "ticks");
    await using old = await legacyConnect(`${s.url.replace(/^http/, "ws")}/lines`);
    old.send("SUB ticks");
    expect(await old.next()).toBe("OK");
    const N = 50;
    for (let i = 1; i <= N; i++) s.publish("ticks", { i });
    const got: string[] = [];
    for (let i = 1; i <= N; i++) got.push(await old.next());
    expect(got).toEqual(Array.from({ length: N }, (_, k) => `MSG ticks ${k + 1} {"i":${k + 1}}`));
    const frames = await native.collect(N, (f) => f.t === "msg");
    expect(frames.map((f) => f.data.i)).toEqual(Array.from({ length: N }, (_, k) => k + 1));
    // Nothing untranslated reached the legacy peer (it never joined a native channel).
    s.publish("ticks", "sentinel");
    expect(await old.next()).toBe(`MSG ticks ${N + 1} "sentinel"`);
    expect(old.received).toEqual([]);
    expect(s.connections).toBe(2);
  });

  test("a legacy connection is held to the same grants and declared topics, and its publications reach native subscribers", async () => {
    await using s = await server({ topics: ["ticks", "news.*"], auth: hsAuth() });
    const token = await hs256({ sub: "old-1", tg: { subscribe: ["ticks"], publish: ["news.>"] } });
    await using reader = await connect(`${s.wsUrl}?token=${await hs256({ sub: "reader", tg: { subscribe: ["news.*"] } })}`, { encoding: "json" });
    await subscribe(reader, "news.*");
    await using old = await legacyConnect(`${s.url.replace(/^http/, "ws")}/lines?token=${token}`);
    old.send("SUB news.a");
    expect(await old.next()).toBe("ERR FORBIDDEN");
    old.send("PUB news.x.y 1");
    expect(await old.next()).toBe("ERR UNKNOWN_TOPIC");
    old.send("PUB news.x 7");
    expect(await old.next()).toBe("OK");
    expect(await reader.next((f) => f.t === "msg")).toMatchObject({ topic: "news.x", data: 7 });
    old.send("HELLO");
    expect(await old.next()).toBe("ERR UNKNOWN_TYPE");
    expect(s.stats().security?.forbidden).toBe(1);
  });

  test("registration is checked: a path must be free and start with '/'", () => {
    const s = internals(createServer({ port: 0 }));
    s.legacy(lines);
    expect(() => s.legacy({ ...lines, name: "again" })).toThrow("legacy protocol 'again': path '/lines' is taken by another legacy protocol");
    expect(() => s.legacy({ ...lines, name: "rel", path: "lines2" })).toThrow("path must start with '/'");
  });
});
