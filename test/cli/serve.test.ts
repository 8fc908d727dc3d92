/**
 * `tickgate serve` demo flags, through the real CLI: the market symbols and
 * rate and the device fleet's size are the ones asked for.
 */
import { describe, expect, test } from "bun:test";
import { connect, subscribe } from "../helpers/client.ts";
import { startCli } from "../helpers/spawn.ts";

describe("tickgate serve demo flags", () => {
  test("--symbols, --rate, --devices and --device-interval shape the demo feeds", async () => {
    await using cli = await startCli(["serve", "--port", "0", "--demo", "--log-level", "warn", "--symbols", "FOO-USD,BAR-USD", "--rate", "100", "--devices", "2", "--device-interval", "20"]);
    await using c = await connect(`ws://127.0.0.1:${cli.port}/ws`, { encoding: "json" });
    await subscribe(c, "prices.>");
    await subscribe(c, "devices.*.telemetry");
    const ticks = await c.collect(20, (f) => f.topic?.startsWith("prices."));
    expect(new Set(ticks.map((f) => f.data.symbol))).toEqual(new Set(["FOO-USD", "BAR-USD"]));
    const readings = await c.collect(20, (f) => f.topic?.startsWith("devices."));
    expect(new Set(readings.map((f) => f.topic))).toEqual(new Set(["devices.sim-01.telemetry", "devices.sim-02.telemetry"]));
    const topics = await (await fetch(`http://127.0.0.1:${cli.port}/api/topics?prefix=devices.`)).json();
    expect(topics.topics.map((t: { topic: string }) => t.topic)).toEqual(["devices.sim-01.status", "devices.sim-01.telemetry", "devices.sim-02.status", "devices.sim-02.telemetry"]);
  });

  test("--devices 0 runs the market feed without a fleet", async () => {
    await using cli = await startCli(["serve", "--port", "0", "--demo", "--log-level", "warn", "--devices", "0", "--rate", "100"]);
    await using c = await connect(`ws://127.0.0.1:${cli.port}/ws`);
    await subscribe(c, "prices.>");
    await c.collect(5, (f) => f.t === "msg");
    const topics = await (await fetch(`http://127.0.0.1:${cli.port}/api/topics?prefix=devices.`)).json();
    expect(topics.topics).toEqual([]);
  });
});
