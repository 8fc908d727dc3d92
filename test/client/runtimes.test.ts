/**
 * The same client code outside Bun's test runner: a browser bundle carries
 * no server-side code (zod, jose, pino, prom-client, node: modules), and a
 * Node bundle works under the `node` on PATH: without a WebSocket (Node 20)
 * it warns and runs on SSE, with the `ws` package's it runs on WebSocket.
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
    expect(new Set(packages.map((p) => p.split("/")[0]))).toEqual(new Set(["msgpackr"]));
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
  const WS_MODULE = join(import.meta.dir, "..", "..", "node_modules", "ws", "wrapper.mjs");

  /** Runs a ten-line client script under `node` against `url`; its last stdout line is JSON. */
  async function runUnderNode(dir: string, lib: string, url: string, injectWs: boolean) {
    const script = join(dir, `run-${injectWs ? "ws" : "plain"}.mjs`);
    writeFileSync(
      script,
      `import { TickgateClient } from ${JSON.stringify(lib)};
${injectWs ? `import WebSocket from ${JSON.stringify(WS_MODULE)};` : ""}
const warnings = [];
const c = new TickgateClient(process.argv[2], { reconnect: { minDelayMs: 20 }${injectWs ? ", WebSocket" : ""} });
c.on("warning", (w) => warnings.push(w.code));
c.connect();
await c.ready(5000);
const got = new Promise((r) => c.subscribe("node.*", (d, m) => r([d, m.topic])));
await c.subscribe("node.*", () => {}).ready();
const seq = await c.publish("node.x", { hi: "from node" });
console.log(JSON.stringify({ mode: c.mode, seq, got: await got, warnings, version: process.version, global: typeof globalThis.WebSocket }));
c.close();
`,
    );
    const proc = spawn(node!, [script, url], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (err += d));
    const code = await new Promise<number | null>((r) => proc.once("exit", r));
    expect(code, err).toBe(0);
    return { res: JSON.parse(out.trim().split("\n").at(-1)!), err };
  }

  // Issue 11: on Node 20 the client says it has no WebSocket (an event and a log line) before it uses SSE.
  test.skipIf(!node)("issue 11: a Node bundle without a WebSocket warns NO_WEBSOCKET, then works over SSE", async () => {
    await using server = await startServer();
    const dir = mkdtempSync(join(tmpdir(), "tickgate-client-"));
    try {
      const { res, err } = await runUnderNode(dir, await bundle("node", dir), server.wsUrl, false);
      expect(res).toMatchObject({ seq: 1, got: [{ hi: "from node" }, "node.x"] });
      if (res.global === "undefined") {
        expect(res.mode).toBe("sse");
        expect(res.warnings).toEqual(["NO_WEBSOCKET"]);
        expect(err).toContain("tickgate client: no WebSocket in this runtime");
      } else {
        expect(res.mode).toBe("websocket");
        expect(res.warnings).toEqual([]);
        expect(err).toBe("");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.skipIf(!node)("issue 11: a Node bundle given the ws package's WebSocket runs over WebSocket, silently", async () => {
    await using server = await startServer();
    const dir = mkdtempSync(join(tmpdir(), "tickgate-client-"));
    try {
      const { res, err } = await runUnderNode(dir, await bundle("node", dir), server.wsUrl, true);
      expect(res).toMatchObject({ mode: "websocket", seq: 1, got: [{ hi: "from node" }, "node.x"], warnings: [] });
      expect(err).toBe("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
