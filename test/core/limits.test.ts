import { describe, expect, test } from "bun:test";
import { CloseCode, ErrorCode } from "../../src/protocol/codes.ts";
import { connect } from "../helpers/client.ts";
import { startServer } from "../helpers/server.ts";

describe("frame limits and shutdown", () => {
  test("a frame over maxFrameBytes is closed with 1009; others stay up", async () => {
    await using server = await startServer({ maxFrameBytes: 4096 });
    await using big = await connect(server.wsUrl);
    await using other = await connect(server.wsUrl);
    big.send({ t: "pub", topic: "x", data: "y".repeat(10_000) });
    expect((await big.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG);
    other.send({ t: "ping", id: 1 });
    expect((await other.next((f) => f.id === 1)).t).toBe("pong");
  });

  test("close() stops accepting at once, then closes open sockets with 1001", async () => {
    await using server = await startServer();
    await using c = await connect(server.wsUrl);
    const closing = server.close();
    // An upgrade that raced the listener closing is refused, not half-served.
    const late = await server.host.upgrade({ url: new URL(server.wsUrl), headers: new Headers(), remoteAddress: "127.0.0.1", protocols: [] });
    expect(late).toBeInstanceOf(Response);
    expect((late as Response).status).toBe(503);
    expect(((await (late as Response).json()) as { error: { code: string } }).error.code).toBe(ErrorCode.SHUTTING_DOWN);
    await expect(connect(server.wsUrl)).rejects.toThrow();
    expect((await c.closed).code).toBe(CloseCode.GOING_AWAY);
    await closing;
  });
});
