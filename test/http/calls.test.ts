import { describe, expect, test } from "bun:test";
import { TickgateError } from "../../src/core/errors.ts";
import { connect } from "../helpers/client.ts";
import { startServer } from "../helpers/server.ts";
import { hs256, hsAuth } from "../helpers/tokens.ts";

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

describe("requests and commands over HTTP", () => {
  test("POST /api/request/<method> answers like a req frame, with the same error codes", async () => {
    await using server = await startServer();
    server.handle("quote", (d) => ({ symbol: (d as { symbol: string }).symbol, bid: 1 }));
    server.handle("relay", () => {
      throw new TickgateError("NO_SUCH_RELAY", "no relay 9");
    });
    expect(await (await post(`${server.url}/api/request/quote`, { data: { symbol: "BTC" } })).json()).toEqual({ data: { symbol: "BTC", bid: 1 } });
    const none = await post(`${server.url}/api/request/nope`, {});
    expect([none.status, (await none.json()).error.code]).toEqual([404, "NO_HANDLER"]);
    const app = await post(`${server.url}/api/request/relay`, {});
    expect([app.status, (await app.json()).error.code]).toEqual([422, "NO_SUCH_RELAY"]);
    expect((await fetch(`${server.url}/api/request/quote`)).status).toBe(405);
  });

  test("POST /api/command reaches a device and answers with its ack", async () => {
    await using server = await startServer();
    await using dev = await connect(server.wsUrl, { query: "client=device" });
    dev.send({ t: "hello", id: 1, client: "device", device: "relay-1" });
    await dev.next((f) => f.id === 1);
    const answer = post(`${server.url}/api/command`, { device: "relay-1", name: "switch", data: { on: true } });
    const cmd = await dev.next((f) => f.t === "command");
    expect(cmd).toMatchObject({ name: "switch", data: { on: true } });
    dev.send({ t: "command_ack", cid: cmd.cid, data: { on: true } });
    expect(await (await answer).json()).toEqual({ acked: true, data: { on: true } });
  });

  test("with auth on, the same grants apply", async () => {
    await using server = await startServer({ auth: hsAuth() });
    server.handle("quote", () => 1);
    const none = await post(`${server.url}/api/request/quote`, {});
    expect(none.status).toBe(401);
    const token = await hs256({ sub: "ann", tg: { request: ["other"] } });
    const denied = await post(`${server.url}/api/request/quote`, {}, { authorization: `Bearer ${token}` });
    expect([denied.status, (await denied.json()).error.code]).toEqual([403, "FORBIDDEN"]);
    const cmd = await post(`${server.url}/api/command`, { device: "x", name: "y" }, { authorization: `Bearer ${token}` });
    expect(cmd.status).toBe(403);
    const ok = await hs256({ sub: "ann", tg: { request: ["quote"] } });
    expect(await (await post(`${server.url}/api/request/quote`, {}, { authorization: `Bearer ${ok}` })).json()).toEqual({ data: 1 });
  });
});
