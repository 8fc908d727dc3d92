/** The public server API the examples asked for: routes, connection events, tryPublish, url. */
import { describe, expect, test } from "bun:test";
import { TickgateError } from "../../src/core/errors.ts";
import { connect, subscribe } from "../helpers/client.ts";
import { startServer, uniqueTopic } from "../helpers/server.ts";

describe("TickgateServer public API", () => {
  test("route() adds HTTP routes answered before the built-in ones", async () => {
    await using server = await startServer();
    server.route("GET", "/api/hello", (_req, { remoteAddress }) => Response.json({ hi: remoteAddress }));
    server.route("GET", "/", () => new Response("mine"));
    expect(await (await fetch(`${server.url}/api/hello`)).json()).toEqual({ hi: "127.0.0.1" });
    expect(await (await fetch(`${server.url}/`)).text()).toBe("mine");
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect(() => server.route("GET", "nope", () => new Response())).toThrow();
  });

  test("on('open' | 'close') tells who connects and leaves; connections and sessions are counters", async () => {
    await using server = await startServer();
    const seen: string[] = [];
    server.on("open", (i) => seen.push(`open ${i.client}`));
    const off = server.on("close", (i) => seen.push(`close ${i.client} ${i.code}`));
    server.on("open", () => {
      throw new Error("a broken listener must not break the server");
    });
    const c = await connect(server.wsUrl, { query: "client=mobile" });
    expect(server.connections).toBe(1);
    expect(server.sessions.mobile).toBe(1);
    c.close();
    await c.closed;
    while (seen.length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(seen).toEqual(["open mobile", "close mobile 1005"]); // close() without a code
    off();
    await using d = await connect(server.wsUrl);
    expect(d.welcome.t).toBe("welcome");
  });

  test("tryPublish never throws; it returns the seq, or undefined when refused", async () => {
    await using server = await startServer({ policies: [{ match: "small.>", maxPayload: 4 }] });
    const topic = uniqueTopic();
    await using c = await connect(server.wsUrl);
    await subscribe(c, topic);
    expect(server.tryPublish(topic, "ok")).toBe(1);
    expect(server.tryPublish("small.x", "far too large")).toBeUndefined();
    expect(server.tryPublish("bad..topic", 1)).toBeUndefined();
    expect((await c.next((f) => f.t === "msg")).data).toBe("ok");
  });

  test("device presence is retained by default: a late dashboard sees who is online", async () => {
    await using server = await startServer();
    await using dev = await connect(server.wsUrl, { query: "client=device" });
    dev.send({ t: "hello", id: 1, client: "device", device: "meter-1" });
    await dev.next((f) => f.id === 1);
    await using late = await connect(server.wsUrl);
    await subscribe(late, "devices.*.presence");
    expect((await late.next((f) => f.t === "msg")).data.state).toBe("online");
  });

  test("handlers may fail with their own codes, which do not spend the caller's error budget", async () => {
    await using server = await startServer({ errorBudget: { burst: 1, perSecond: 0.001 } });
    server.handle("relay", () => {
      throw new TickgateError("NO_SUCH_RELAY", "relay 9 does not exist");
    });
    await using c = await connect(server.wsUrl);
    for (let i = 0; i < 3; i++) {
      c.send({ t: "req", id: i, method: "relay" });
      expect(await c.next((f) => f.id === i)).toMatchObject({ t: "error", code: "NO_SUCH_RELAY" });
    }
  });
});
