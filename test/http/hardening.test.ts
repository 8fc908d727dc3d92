/** Review findings on the HTTP side, kept as tests. */
import { describe, expect, test } from "bun:test";
import { connect } from "../helpers/client.ts";
import { startServer } from "../helpers/server.ts";
import { hsAuth } from "../helpers/tokens.ts";

const base = (wsUrl: string) => wsUrl.replace("ws:", "http:").replace(/\/ws$/, "");

describe("HTTP hardening", () => {
  test("refused SSE requests give back their connection slot", async () => {
    await using server = await startServer({ auth: hsAuth(), limits: { maxConnectionsPerIp: 1 } });
    for (let i = 0; i < 3; i++) expect((await fetch(`${base(server.wsUrl)}/sse?topic=a`)).status).toBe(401);
    await using c = await connect(server.wsUrl); // would be 429 if the slots had leaked
    expect(c.welcome.t).toBe("welcome");
  });

  test("POST /api/publish refuses a foreign Origin and a body without a content type", async () => {
    await using server = await startServer();
    const url = `${base(server.wsUrl)}/api/publish`;
    const body = JSON.stringify({ topic: "a", data: 1 });
    const foreign = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json", origin: "https://evil.example" } });
    expect([foreign.status, (await foreign.json()).error.code]).toEqual([403, "ORIGIN_NOT_ALLOWED"]);
    const untyped = await fetch(url, { method: "POST", body: new Blob([body]) });
    expect([untyped.status, (await untyped.json()).error.code]).toEqual([415, "UNSUPPORTED_ENCODING"]);
    const same = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json", origin: base(server.wsUrl) } });
    expect(await same.json()).toEqual({ seq: 1 });
  });

  test("operator listings name filtered subscriptions by their topic, never the filter", async () => {
    await using server = await startServer();
    await using c = await connect(server.wsUrl);
    c.send({ t: "sub", id: 1, topic: "news.x", filter: { any: ["sport"] } });
    c.send({ t: "sub", id: 2, topic: "news.x" });
    await c.collect(2, (f) => f.t === "ack");
    const topics = await (await fetch(`${base(server.wsUrl)}/api/topics`)).json();
    expect(topics.topics).toEqual([{ topic: "news.x", subscribers: 2, published: 0, seq: 0, retained: 0 }]);
    expect(server.stats().topTopics.map((t) => t.topic)).toEqual(["news.x", "news.x"]);
    expect(await (await fetch(`${base(server.wsUrl)}/metrics`)).text()).not.toContain("#{");
  });
});
