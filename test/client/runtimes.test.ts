/**
 * The same client code outside Bun's test runner: a browser bundle carries
 * no server-side code (zod, node: modules), and a Node bundle works under
 * the `node` on PATH (Node 20 has no global WebSocket, so it runs on SSE;
 * Node 22+ uses its WebSocket).
 */
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer } from "../helpers/server.ts";

const ENTRY = join(import.meta.dir, "..", "..", "src", "client", "index.ts");

async function bundle(target: "browser" | "node", dir: string): Promise<string> {
  const r = await Bun.build({ entrypoints: [ENTRY], target, outdir: dir, naming: `client-${target}.mjs` });
  if (!r.success) throw new Error(r.logs.join("\n"));
  return r.outputs[0]!.path;
}

describe("client SDK in other runtimes", () => {
  test("the client's browser bundle loads no zod, jose, pino, prom-client or node: module", async () => {
    // Every import the bundler follows at run time (type-only imports are gone by then).
    const loaded = new Set<string>();
    const r = await Bun.build({
      entrypoints: [ENTRY],
      target: "browser",
      plugins: [{ name: "record", setup: (b) => void b.onResolve({ filter: /.*/ }, (a) => void loaded.add(a.path)) }],
    });
    expect(r.success).toBe(true);
    const packages = [...loaded].filter((p) => !p.startsWith(".") && !p.startsWith("/"));
    expect(packages.length).toBeGreaterThan(0);
    for (const banned of ["zod", "jose", "pino", "prom-client"]) expect(packages.filter((p) => p === banned || p.startsWith(`${banned}/`))).toEqual([]);
    expect(packages.filter((p) => p.startsWith("node:"))).toEqual([]);
    expect(new Set(packages)).toEqual(new Set(["msgpackr"]));
    // The protocol modules it shares are the zod-free ones.
    expect([...loaded].some((p) => p.endsWith("/wire.ts"))).toBe(true);
    expect([...loaded].some((p) => p.endsWith("/frames.ts") || p.endsWith("/codec.ts") && p.includes("protocol"))).toBe(false);
  });

  test("the browser bundle holds msgpackr and the client, no zod and no node: modules", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tickgate-client-"));
    try {
      const text = await Bun.file(await bundle("browser", dir)).text();
      expect(text).toContain("TickgateClient");
      expect(text).not.toContain("node_modules/zod");
      expect(text).not.toMatch(/from\s*["']node:/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const node = Bun.which("node");
  test.skipIf(!node)("a Node bundle subscribes and publishes under `node`", async () => {
    await using server = await startServer();
    const dir = mkdtempSync(join(tmpdir(), "tickgate-client-"));
    try {
      const lib = await bundle("node", dir);
      const script = join(dir, "run.mjs");
      writeFileSync(
        script,
        `import { TickgateClient } from ${JSON.stringify(lib)};
const c = new TickgateClient(process.argv[2], { reconnect: { minDelayMs: 20 } });
c.connect();
await c.ready(5000);
const got = new Promise((r) => c.subscribe("node.*", (d, m) => r([d, m.topic])));
await c.subscribe("node.*", () => {}).ready();
const seq = await c.publish("node.x", { hi: "from node" });
console.log(JSON.stringify({ mode: c.mode, seq, got: await got, version: process.version }));
c.close();
`,
      );
      const proc = spawn(node!, [script, server.wsUrl], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      proc.stdout!.on("data", (d) => (out += d));
      proc.stderr!.on("data", (d) => (err += d));
      const code = await new Promise<number | null>((r) => proc.once("exit", r));
      expect(err).toBe("");
      expect(code).toBe(0);
      const res = JSON.parse(out);
      expect(res).toMatchObject({ seq: 1, got: [{ hi: "from node" }, "node.x"] });
      const major = Number(/^v(\d+)/.exec(res.version)![1]);
      expect(res.mode).toBe(major >= 22 ? "websocket" : "sse");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
