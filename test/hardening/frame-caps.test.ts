// Issue 16, item 4: every frame has a price. A control frame padded with a
// field the server ignores is refused by its type's cap before it is decoded,
// and the refusal spends the error budget like any other bad frame.
import { describe, expect, it } from "bun:test";
import { CloseCode, ErrorCode } from "../../src/protocol/codes.ts";
import { DEFAULT_FRAME_CAPS } from "../../src/protocol/frame-caps.ts";
import { defaultOptions } from "../../src/core/options.ts";
import { connect } from "../helpers/client.ts";
import { startServer } from "../helpers/server.ts";

const MiB = 1024 * 1024;
const pad = "x".repeat(MiB - 64);

for (const encoding of ["msgpack", "json"] as const) {
  describe(`frame caps (${encoding})`, () => {
    it("refuses a 1 MiB padded ping with FRAME_TOO_LARGE and no pong", async () => {
      await using server = await startServer({ maxFrameBytes: 2 * MiB });
      await using c = await connect(server.wsUrl, { encoding });
      c.send({ t: "ping", id: 1, padding: pad });
      const err = await c.next((f) => f.t === "error" || f.t === "pong");
      expect(err.t).toBe("error");
      expect(err.code).toBe(ErrorCode.FRAME_TOO_LARGE);
      // A small ping still works, in order after the refusal.
      c.send({ t: "ping", id: 2 });
      expect((await c.next((f) => f.t === "pong")).id).toBe(2);
    });

    it("refuses a padded frame whose `t` is not first", async () => {
      await using server = await startServer({ maxFrameBytes: 2 * MiB });
      await using c = await connect(server.wsUrl, { encoding });
      c.send({ padding: pad, t: "unsub", id: 3, topic: "a.b" });
      const err = await c.next((f) => f.t === "error");
      expect(err.code).toBe(ErrorCode.FRAME_TOO_LARGE);
    });

    it("lets a pub carry a payload up to the policy limit", async () => {
      await using server = await startServer({ maxFrameBytes: 2 * MiB, defaultPolicy: { maxPayload: MiB } });
      await using c = await connect(server.wsUrl, { encoding });
      c.send({ t: "pub", id: 4, topic: "big.one", data: pad });
      expect(await c.next((f) => f.id === 4)).toMatchObject({ t: "ack", id: 4 });
    });

    it("closes a flood of padded pings as abusive (4000)", async () => {
      await using server = await startServer({ maxFrameBytes: 2 * MiB, errorBudget: { burst: 5, perSecond: 0.001 } });
      await using c = await connect(server.wsUrl, { encoding });
      for (let i = 0; i < 8; i++) c.send({ t: "ping", id: i, padding: pad });
      expect((await c.closed).code).toBe(CloseCode.TOO_MANY_ERRORS);
    });
  });
}

describe("frame caps under a flood", () => {
  it("answers another client's ping while four connections flood padded pings", async () => {
    await using server = await startServer({ maxFrameBytes: 2 * MiB });
    const flooders = await Promise.all([0, 1, 2, 3].map(() => connect(server.wsUrl)));
    await using other = await connect(server.wsUrl);
    for (const f of flooders) for (let i = 0; i < 10; i++) f.send({ t: "ping", id: i, padding: pad });
    other.send({ t: "ping", id: "mine" });
    expect((await other.next((f) => f.t === "pong", 20_000)).id).toBe("mine");
    for (const f of flooders) {
      // Each flooder's refusals arrive: the caps did the work, not a disconnect.
      expect((await f.next((x) => x.t === "error", 20_000)).code).toBe(ErrorCode.FRAME_TOO_LARGE);
      await f[Symbol.asyncDispose]();
    }
  });

  it("keeps every cap below maxFrameBytes for control frames", () => {
    expect(DEFAULT_FRAME_CAPS.ping).toBeLessThan(1024);
    expect(DEFAULT_FRAME_CAPS.pub).toBe(defaultOptions().maxFrameBytes);
  });
});

// The frame limit follows the policies: at the defaults a megabyte frame can
// carry nothing any topic accepts, so the transport refuses it from its header
// (1009) before reading it, and the flood costs the server next to nothing.
describe("the default frame limit", () => {
  it("is twice the largest maxPayload plus 16 KiB, and the welcome says so", async () => {
    await using server = await startServer({});
    await using c = await connect(server.wsUrl);
    expect(c.welcome.limits.maxFrameBytes).toBe(2 * 64 * 1024 + 16 * 1024);
  });

  it("closes a 1 MiB padded ping with 1009 and keeps serving the others", async () => {
    await using server = await startServer({});
    const flooders = await Promise.all([0, 1, 2, 3].map(() => connect(server.wsUrl)));
    await using other = await connect(server.wsUrl);
    for (const f of flooders) for (let i = 0; i < 10; i++) f.send({ t: "ping", id: i, padding: pad });
    for (const f of flooders) expect((await f.closed).code).toBe(1009);
    other.send({ t: "ping", id: "mine" });
    expect((await other.next((f) => f.t === "pong")).id).toBe("mine");
  });

  it("grows with a policy that allows larger payloads", async () => {
    await using server = await startServer({ policies: [{ match: "big.>", maxPayload: MiB }] });
    await using c = await connect(server.wsUrl);
    expect(c.welcome.limits.maxFrameBytes).toBe(2 * MiB + 16 * 1024);
    c.send({ t: "pub", id: 5, topic: "big.one", data: pad });
    expect(await c.next((f) => f.id === 5)).toMatchObject({ t: "ack", id: 5 });
  });

  it("is what the operator sets when maxFrameBytes is given", async () => {
    await using server = await startServer({ maxFrameBytes: 4096 });
    await using c = await connect(server.wsUrl);
    expect(c.welcome.limits.maxFrameBytes).toBe(4096);
  });
});
