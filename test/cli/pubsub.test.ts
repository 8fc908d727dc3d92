/**
 * `tickgate pub` and `tickgate sub` against a real server started by the
 * real CLI: every process here is the command a user would run.
 */
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, ROOT, runCli, startCli } from "../helpers/spawn.ts";

interface Running {
  stdout: () => string;
  stderr: () => string;
  /** Resolves once stderr contains `text`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<number | null>;
}

/** Starts a CLI command that keeps running (sub), with its output readable as it comes. */
function spawnCli(args: string[]): Running {
  const proc = spawn(BUN, ["src/cli/main.ts", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  const watchers: (() => void)[] = [];
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => {
    err += d;
    watchers.forEach((w) => w());
  });
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  return {
    stdout: () => out,
    stderr: () => err,
    waitFor: (text, timeoutMs = 45_000) =>
      new Promise((resolve, reject) => {
        const check = () => err.includes(text) && resolve();
        watchers.push(check);
        check();
        exited.then((code) => reject(new Error(`exited ${code} before '${text}': ${err}`)));
        setTimeout(() => reject(new Error(`no '${text}' within ${timeoutMs} ms: ${err}`)), timeoutMs);
      }),
    kill: (signal) => proc.kill(signal),
    exited,
  };
}

describe("tickgate pub / sub", () => {
  for (const [subEnc, pubEnc] of [["json", "json"], ["msgpack", "json"], ["json", "msgpack"]] as const) {
    test(`round trip: sub --count 3 (${subEnc}) gets 3 pubs (${pubEnc}) as JSON lines, exits 0`, async () => {
      await using server = await startCli(["serve", "--port", "0", "--no-demo", "--log-level", "warn"]);
      const url = `ws://127.0.0.1:${server.port}/ws`;
      const sub = spawnCli(["sub", "room.*", "--count", "3", "--url", url, "--encoding", subEnc]);
      await sub.waitFor("subscribed to 'room.*'");

      const sent = [{ n: 1, text: "hi" }, [1, 2, 3], "plain"];
      for (let i = 0; i < sent.length; i++) {
        const r = await runCli(["pub", "room.a", JSON.stringify(sent[i]), "--url", url, "--encoding", pubEnc, "--key", `k${i}`]);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(`${i + 1}\n`);
      }
      expect(await sub.exited).toBe(0);
      const lines = sub.stdout().trim().split("\n").map((l) => JSON.parse(l));
      expect(lines.map((l) => [l.topic, l.seq, l.data, l.key])).toEqual(sent.map((d, i) => ["room.a", i + 1, d, `k${i}`]));
      for (const l of lines) {
        expect(Object.keys(l).slice(0, 3)).toEqual(["topic", "seq", "data"]);
        expect(typeof l.epoch).toBe("string");
        expect(typeof l.ts).toBe("number");
      }
    });
  }

  test("pub: a server error frame exits 1 with one line naming the code", async () => {
    const config = join(tmpdir(), `tickgate-cli-${process.pid}.json`);
    writeFileSync(config, JSON.stringify({ policies: [{ match: "locked.>", publish: "server" }] }));
    await using server = await startCli(["serve", "--port", "0", "--no-demo", "--log-level", "warn", "--config", config]);
    const r = await runCli(["pub", "locked.door", "{}", "--url", `ws://127.0.0.1:${server.port}/ws`]);
    rmSync(config);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toStartWith("tickgate: FORBIDDEN: ");
  });

  test("pub: no server to talk to exits 1", async () => {
    const r = await runCli(["pub", "a.b", "1", "--url", "ws://127.0.0.1:1/ws"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("tickgate: cannot connect to ws://127.0.0.1:1/ws");
  });

  test("sub: SIGINT ends it with exit 0; TICKGATE_URL is the default server", async () => {
    await using server = await startCli(["serve", "--port", "0", "--no-demo", "--log-level", "warn"]);
    const url = `ws://127.0.0.1:${server.port}/ws`;
    const sub = spawnCli(["sub", "x.>", "--url", url]);
    await sub.waitFor("subscribed");
    const r = await runCli(["pub", "x.y", "7"], { TICKGATE_URL: url });
    expect(r.code).toBe(0);
    const deadline = Date.now() + 30_000;
    while (!sub.stdout().includes("\n") && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
    sub.kill("SIGINT");
    expect(await sub.exited).toBe(0);
    expect(JSON.parse(sub.stdout())).toMatchObject({ topic: "x.y", seq: 1, data: 7 });
  });

  test("sub: the server going away exits 1", async () => {
    const server = await startCli(["serve", "--port", "0", "--no-demo", "--log-level", "warn"]);
    const sub = spawnCli(["sub", "x", "--url", `ws://127.0.0.1:${server.port}/ws`]);
    await sub.waitFor("subscribed");
    server.proc.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    expect(await sub.exited).toBe(1);
    expect(sub.stderr()).toContain("connection closed by the server (1001");
  });
});
