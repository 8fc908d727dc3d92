/**
 * `tickgate serve --workers 2` as real processes on one port: publications
 * reach subscribers on every worker; a SIGKILLed worker's clients recover
 * on the others exactly once, in order, and the supervisor restarts it;
 * SIGTERM stops everything with exit 0; a crash loop ends in exit 1 with
 * one clear line.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type Frame, type TestClient } from "../helpers/client.ts";
import { startNats } from "../helpers/nats.ts";
import { uniqueTopic } from "../helpers/server.ts";
import { uniqueCluster } from "../cluster/support.ts";
import { hs256, SECRET } from "../helpers/tokens.ts";
import { startWorkers } from "./support.ts";
import { findNatsServer, NEEDS_NATS } from "../../src/cli/workers/local-nats.ts";

const isMsg = (f: Frame) => f.t === "msg";
/** Enough subscribers that the kernel's reuseport hash leaves none of 2 workers empty (odds 2 × 2^-16). */
const SUBSCRIBERS = 16;

/** Messages up to and including the one carrying `data`, in arrival order. */
async function until(c: TestClient, data: string): Promise<Frame[]> {
  const out: Frame[] = [];
  for (;;) {
    const f = await c.next(isMsg, 20_000);
    out.push(f);
    if (f.data === data) return out;
  }
}

describe("tickgate serve --workers", () => {
  test("a publication reaches every worker; a SIGKILLed worker's clients recover on the others once, in order; it is restarted", async () => {
    await using nats = await startNats();
    const dir = mkdtempSync(join(tmpdir(), "tickgate-workers-"));
    try {
      const config = join(dir, "config.json");
      writeFileSync(config, JSON.stringify({ policies: [{ match: "h.>", historySize: 1000 }], cluster: { name: uniqueCluster() } }));
      await using w = await startWorkers(["--workers", "2", "--port", "0", "--no-demo", "--log-level", "info", "--config", config, "--nats", nats.urls[0]!]);
      const before = await w.until((ws) => ws.every((x) => x.state === "ready"));
      const topic = `h.${uniqueTopic()}`;
      const subs: TestClient[] = [];
      let epoch = "";
      for (let i = 0; i < SUBSCRIBERS; i++) {
        const s = await connect(w.ws);
        s.send({ t: "sub", id: "s", topic });
        epoch = (await s.next((f) => f.id === "s", 20_000)).epoch as string;
        subs.push(s);
      }
      {
        await using pub = await connect(w.ws);
        for (let i = 1; i <= 20; i++) {
          pub.send({ t: "pub", id: i, topic, data: `m${i}` });
          expect(await pub.next((f) => f.id === i, 20_000)).toMatchObject({ t: "ack", seq: i });
        }
      }
      // Every subscriber, whichever worker holds it, has all 20 before the kill.
      for (const s of subs) expect((await s.collect(20, isMsg, 20_000)).map((f) => f.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));

      // Kill worker 0 while publications are in flight.
      const victim = before[0]!.pid!;
      const pub = await connect(w.ws);
      for (let i = 21; i <= 40; i++) pub.send({ t: "pub", id: i, topic, data: `m${i}` });
      process.kill(victim, "SIGKILL");
      const after = await w.until((ws) => ws[0]!.state === "ready" && ws[0]!.pid !== victim && ws[0]!.pid !== null);
      expect(after[0]!.restarts).toBe(1);
      expect(after[1]!.pid).toBe(before[1]!.pid);

      // A sentinel published after the restart: survivors get it, the killed worker's clients are closed.
      await using late = await connect(w.ws);
      late.send({ t: "pub", id: "end", topic, data: "end" });
      const end = await late.next((f) => f.id === "end", 20_000);
      expect(end.t).toBe("ack");
      const fates = await Promise.all(subs.map((s) => Promise.race([until(s, "end").then((m) => ({ alive: true as const, m })), s.closed.then(() => ({ alive: false as const }))])));
      const dead = fates.filter((f) => !f.alive).length;
      expect(dead).toBeGreaterThan(0);
      expect(dead).toBeLessThan(SUBSCRIBERS);
      const all = Array.from({ length: end.seq as number }, (_, i) => i + 1);
      for (let i = 0; i < subs.length; i++) {
        const fate = fates[i]!;
        if (fate.alive) {
          expect([...Array.from({ length: 20 }, (_, k) => k + 1), ...fate.m.map((f) => f.seq)]).toEqual(all);
          continue;
        }
        // Reconnect to the shared port (either worker, the restarted one included) and recover.
        const seen = [...Array.from({ length: 20 }, (_, k) => k + 1), ...subs[i]!.frames.filter(isMsg).map((f) => f.seq as number)];
        await using again = await connect(w.ws);
        again.send({ t: "sub", id: "r", topic, recover: { epoch, seq: seen.at(-1)! } });
        expect(await again.next((f) => f.id === "r", 20_000)).toMatchObject({ t: "ack", epoch, recovery: { ok: true } });
        const rest = await until(again, "end");
        expect([...seen, ...rest.map((f) => f.seq as number)]).toEqual(all);
      }
      pub.close();
      for (const s of subs) s.close();

      // The restart is counted in the merged metrics, with a worker label on every worker's series.
      const metrics = await (await fetch(`${w.admin}/metrics`)).text();
      expect(metrics).toContain('tickgate_worker_restarts_total{worker="0"} 1');
      expect(metrics).toMatch(/tickgate_connections\{worker="1"\} \d+/);
      expect((await fetch(`${w.admin}/ready`)).status).toBe(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  test("SIGTERM stops every worker and the local nats-server, and exits 0", async () => {
    await using w = await startWorkers(["--workers", "2", "--port", "0", "--no-demo", "--log-level", "info"]);
    const { workers } = await w.health();
    expect(w.stdout()).toContain("started a local nats-server");
    const local = JSON.parse(w.stdout().split("\n").find((l) => l.includes('"local_nats"'))!) as { pid: number };
    const c = await connect(w.ws);
    w.proc.kill("SIGTERM");
    expect(await c.closed).toMatchObject({ code: 1001 });
    expect(await w.exited).toBe(0);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (const x of workers) expect(alive(x.pid!)).toBe(false);
    expect(alive(local.pid)).toBe(false);
  }, 120_000);

  test("the admin port's /metrics keeps the admin-token rule; /health and /ready stay open", async () => {
    await using nats = await startNats();
    await using w = await startWorkers(["--workers", "2", "--port", "0", "--no-demo", "--log-level", "warn", "--nats", nats.urls[0]!], { TICKGATE_AUTH_SECRET: SECRET, TICKGATE_AUTH_REQUIRED: "1" });
    expect((await fetch(`${w.admin}/metrics`)).status).toBe(401);
    const user = await hs256({ tg: { subscribe: ["#"] } });
    expect((await fetch(`${w.admin}/metrics`, { headers: { authorization: `Bearer ${user}` } })).status).toBe(403);
    const admin = await hs256({ tg: { admin: true } });
    const ok = await fetch(`${w.admin}/metrics`, { headers: { authorization: `Bearer ${admin}` } });
    expect(ok.status).toBe(200);
    const text = await ok.text();
    expect(text).toMatch(/tickgate_connections\{worker="0"\} \d+/);
    expect(text).toMatch(/tickgate_connections\{worker="1"\} \d+/);
    expect((await fetch(`${w.admin}/health`)).status).toBe(200);
    expect((await fetch(`${w.admin}/ready`)).status).toBe(200);
  }, 120_000);

  test("without a NATS and without nats-server, the refusal names --nats", () => {
    expect(findNatsServer({ PATH: "" }, "/nonexistent/nats-server")).toBeUndefined();
    expect(NEEDS_NATS).toContain("--nats URL");
    expect(NEEDS_NATS.includes("\n")).toBe(false);
  });

  test("a worker crash loop ends in exit 1 with one line naming it", async () => {
    // A NATS URL nobody listens on: every worker fails its start.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const proc = Bun.spawn([process.execPath, "src/cli/main.ts", "serve", "--workers", "2", "--port", "0", "--no-demo", "--log-level", "warn", "--nats", `nats://127.0.0.1:${port}`], { cwd: join(import.meta.dir, "..", ".."), stdout: "pipe", stderr: "pipe" });
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    expect(code).toBe(1);
    expect(stderr.trim().split("\n").at(-1)).toMatch(/^tickgate: workers keep crashing: 5 exits within 60 s \(last: worker 0, exit code 1\); giving up$/);
  }, 120_000);

  test("--workers refuses bad values with one line naming the flag", async () => {
    const proc = Bun.spawn([process.execPath, "src/cli/main.ts", "serve", "--workers", "0"], { cwd: join(import.meta.dir, "..", ".."), stdout: "pipe", stderr: "pipe" });
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    expect(code).toBe(2);
    expect(stderr).toBe("tickgate: --workers must be an integer from 1 to 256, got '0'\n");
  });
});
