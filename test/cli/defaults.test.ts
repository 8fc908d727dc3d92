/**
 * Safe defaults of `tickgate serve`: no demo unless asked, TICKGATE_DEMO
 * takes only its documented values, stdout carries only JSON log lines
 * (none with --log-level silent), the human line goes to stderr.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, subscribe } from "../helpers/client.ts";
import { runCli, startCli } from "../helpers/spawn.ts";

describe("tickgate serve defaults", () => {
  test("with a config file and no flags it publishes nothing and serves no dashboard", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tickgate-cfg-"));
    const config = join(dir, "prod.json");
    writeFileSync(config, JSON.stringify({ $schema: "./node_modules/tickgate/config.schema.json", port: 0, limits: { maxConnectionsPerIp: 100 } }));
    await using cli = await startCli(["serve", "--config", config, "--log-level", "warn"]);
    await using c = await connect(`ws://127.0.0.1:${cli.port}/ws`, { encoding: "json" });
    await subscribe(c, ">");
    // A sentinel published after the subscription: the first message to arrive must be it.
    await fetch(`http://127.0.0.1:${cli.port}/api/publish`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ topic: "quiet.sentinel", data: 1 }) });
    const first = await c.next((f) => f.t === "msg");
    expect(first.topic).toBe("quiet.sentinel");
    const topics = await (await fetch(`http://127.0.0.1:${cli.port}/api/topics`)).json();
    expect(topics.topics.map((t: { topic: string }) => t.topic)).toEqual(["quiet.sentinel"]);
    expect((await fetch(`http://127.0.0.1:${cli.port}/`)).status).toBe(404);
    expect(cli.stderr()).not.toContain("demo");
  });

  test("TICKGATE_DEMO=1 turns the demo on; --no-demo wins over it", async () => {
    {
      await using cli = await startCli(["serve", "--port", "0", "--log-level", "warn", "--devices", "0"], { TICKGATE_DEMO: "1" });
      expect((await fetch(`http://127.0.0.1:${cli.port}/`)).status).toBe(200);
    }
    await using off = await startCli(["serve", "--port", "0", "--log-level", "warn", "--no-demo"], { TICKGATE_DEMO: "true" });
    expect((await fetch(`http://127.0.0.1:${off.port}/`)).status).toBe(404);
  });

  for (const bad of ["no", "yes", "on", "2"]) {
    test(`TICKGATE_DEMO=${bad} is refused with one line naming it`, async () => {
      const r = await runCli(["serve", "--port", "0"], { TICKGATE_DEMO: bad });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(`TICKGATE_DEMO must be 1, true, 0 or false, got '${bad}'`);
    });
  }

  test("demo flags without --demo are a usage error", async () => {
    const r = await runCli(["serve", "--rate", "5"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--rate shapes the demo feeds; add --demo");
  });
});

describe("tickgate serve output", () => {
  test("stdout holds only JSON log lines; the listening line is on stderr", async () => {
    const cli = await startCli(["serve", "--port", "0", "--log-level", "info"]);
    await using c = await connect(`ws://127.0.0.1:${cli.port}/ws`);
    await subscribe(c, "x.y");
    cli.proc.kill("SIGTERM");
    expect(await cli.exited).toBe(0);
    const lines = cli.stdout().trim().split("\n");
    expect(lines.length).toBeGreaterThan(2);
    const events = lines.map((l) => JSON.parse(l).event);
    expect(events).toContain("listening");
    expect(events).toContain("connect");
    expect(cli.stderr()).toMatch(/^tickgate listening on http:\/\/127\.0\.0\.1:\d+ {2}\(WebSocket ws:\/\/127\.0\.0\.1:\d+\/ws\)\n$/);
  });

  test("--log-level silent writes nothing on stdout", async () => {
    const cli = await startCli(["serve", "--port", "0", "--log-level", "silent"]);
    await using c = await connect(`ws://127.0.0.1:${cli.port}/ws`);
    await subscribe(c, "x.y");
    cli.proc.kill("SIGTERM");
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).toBe("");
  });
});
