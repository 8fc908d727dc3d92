import { describe, expect, test } from "bun:test";
import { CloseCode } from "../../src/protocol/codes.ts";
import { connect, subscribe } from "../helpers/client.ts";
import { rawConnect } from "../helpers/raw-ws.ts";
import { startServer } from "../helpers/server.ts";
import { startCli } from "../helpers/spawn.ts";

describe("lifecycle", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal}: stops accepting, closes clients with 1001, exits 0`, async () => {
      await using cli = await startCli(["serve", "--port", "0", "--no-demo", "--log-level", "warn"]);
      const url = `ws://127.0.0.1:${cli.port}/ws`;
      const c = await connect(url);
      await subscribe(c, "x");
      cli.proc.kill(signal);
      expect((await c.closed).code).toBe(CloseCode.GOING_AWAY);
      expect(await cli.exited).toBe(0);
      await expect(fetch(`http://127.0.0.1:${cli.port}/health`)).rejects.toThrow();
    });
  }

  test("the demo feed is live: ticks arrive on prices.> with retained values first", async () => {
    await using cli = await startCli(["serve", "--port", "0", "--demo", "--log-level", "warn"]);
    for (const encoding of ["msgpack", "json"] as const) {
      await using c = await connect(`ws://127.0.0.1:${cli.port}/ws`, { encoding });
      await subscribe(c, "prices.>");
      const ticks = await c.collect(8, (f) => f.t === "msg");
      for (const t of ticks) {
        expect(typeof t.data.symbol).toBe("string");
        expect(t.data.ask).toBeGreaterThan(t.data.bid);
      }
    }
  });

  test("idle timeout closes a peer that never answers pings", async () => {
    // Bun rounds idle timeouts below 8 s up to 8 s; the dead peer goes within two of them.
    await using server = await startServer({ idleTimeoutSec: 8 });
    const dead = await rawConnect(server.port);
    dead.pause();
    await using alive = await connect(server.wsUrl);
    // The paused peer cannot see the FIN, so watch the server's side (bounded).
    const deadline = Date.now() + 20_000;
    while (server.stats().connections > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(server.stats().connections).toBe(1);
    dead.destroy();
    // The live client (Bun answers pings) is still connected.
    alive.send({ t: "ping", id: 1 });
    expect((await alive.next((f) => f.id === 1)).t).toBe("pong");
  }, 30_000);
});
