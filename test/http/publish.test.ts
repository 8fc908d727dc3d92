import { describe, expect, test } from "bun:test";
import { packr } from "../../src/protocol/codec.ts";
import { connect, subscribe } from "../helpers/client.ts";
import { startServer, uniqueTopic } from "../helpers/server.ts";

const post = (url: string, body: unknown, type = "application/json") =>
  fetch(url, { method: "POST", headers: { "content-type": type }, body: type === "application/json" ? JSON.stringify(body) : (packr.pack(body) as Uint8Array<ArrayBuffer>) });

describe("POST /api/publish", () => {
  test("publishes one (JSON) or a batch (msgpack) to socket subscribers", async () => {
    await using server = await startServer();
    const url = server.wsUrl.replace("ws:", "http:").replace(/\/ws$/, "/api/publish");
    const topic = uniqueTopic();
    await using c = await connect(server.wsUrl);
    await subscribe(c, topic);
    const one = await post(url, { topic, data: { a: 1 }, key: "k" });
    expect(await one.json()).toEqual({ seq: 1 });
    const batch = await post(url, [{ topic, data: 2 }, { topic: "bad..topic", data: 3 }, { topic, data: 4 }], "application/msgpack");
    const { results } = await batch.json();
    expect(results[0]).toEqual({ seq: 2 });
    expect(results[1].error.code).toBe("BAD_TOPIC");
    expect(results[2]).toEqual({ seq: 3 });
    const got = await c.collect(3, (f) => f.t === "msg");
    expect(got.map((f) => f.data)).toEqual([{ a: 1 }, 2, 4]);
    expect(got[0]!.key).toBe("k");
  });

  test("bad bodies get clear JSON errors", async () => {
    await using server = await startServer({ maxFrameBytes: 1024, policies: [{ match: "srv.>", publish: "server" }] });
    const url = server.wsUrl.replace("ws:", "http:").replace(/\/ws$/, "/api/publish");
    const cases: [RequestInit, number, string][] = [
      [{ body: "{nope", headers: { "content-type": "application/json" } }, 400, "BAD_FRAME"],
      [{ body: JSON.stringify({ data: 1 }), headers: { "content-type": "application/json" } }, 400, "INVALID_FRAME"],
      [{ body: JSON.stringify({ topic: "a.*", data: 1 }), headers: { "content-type": "application/json" } }, 400, "BAD_TOPIC"],
      [{ body: JSON.stringify({ topic: "srv.x", data: 1 }), headers: { "content-type": "application/json" } }, 403, "FORBIDDEN"],
      [{ body: JSON.stringify({ topic: "a", data: "x".repeat(2000) }), headers: { "content-type": "application/json" } }, 413, "PAYLOAD_TOO_LARGE"],
      [{ body: "x", headers: { "content-type": "text/plain" } }, 415, "UNSUPPORTED_ENCODING"],
    ];
    for (const [init, status, code] of cases) {
      const res = await fetch(url, { method: "POST", ...init });
      expect([res.status, (await res.json()).error.code]).toEqual([status, code]);
    }
  });
});
