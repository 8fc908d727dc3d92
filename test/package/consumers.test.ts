/**
 * The tarball in blank projects, installed offline (tarball + local npm
 * cache): a ten-line client on plain Node against a real server started
 * from the package under Bun, a strict TypeScript consumer with and without
 * the DOM lib, and the `tickgate` command on a PATH with Node and no Bun.
 * Slow (a pack and two installs), bounded by timeouts, never by durations.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ROOT } from "../helpers/spawn.ts";
import { blankProject, NODE_ONLY_PATH, run, type Project } from "./tarball.ts";

const SLOW = 300_000;
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
let nodeApp: Project;
let bunApp: Project;

beforeAll(async () => {
  // ws and its types: the consumer's own WebSocket for Node 20 (no global there).
  nodeApp = await blankProject("node", ["ws", "@types/ws"]);
  bunApp = await blankProject("bun");
}, SLOW);

// Deleting two installed projects can take seconds on a busy disk.
afterAll(() => {
  nodeApp?.[Symbol.dispose]();
  bunApp?.[Symbol.dispose]();
}, 60_000);

/** Starts `args` with Bun in the Bun project and reads the port from the "listening on" line on stderr. */
async function startInBunProject(args: string[]): Promise<{ port: number; stop(): Promise<void>; stdout(): string }> {
  const proc = spawn(BUN, args, { cwd: bunApp.dir, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
  const port = await new Promise<number>((resolve, reject) => {
    proc.stderr!.on("data", (d) => {
      err += d;
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    exited.then((c) => reject(new Error(`exited ${c}: ${err}`)));
  });
  return {
    port,
    stdout: () => out,
    async stop() {
      proc.kill("SIGTERM");
      await exited;
    },
  };
}

describe("installed package: Bun project", () => {
  test("a library server from tickgate/bun serves a plain-Node client from tickgate/client", async () => {
    bunApp.write(
      "server.ts",
      `import { serve } from "tickgate/bun";
const server = await serve({ port: 0, policies: [{ match: "greet.>", retain: true }] });
server.publish("greet.hello", { text: "hello from the package" });
console.error(\`listening on http://127.0.0.1:\${server.port}\`);
process.on("SIGTERM", () => server.close().then(() => process.exit(0)));
`,
    );
    const server = await startInBunProject(["server.ts"]);
    try {
      // The ten-line client of the README, on plain Node 20 with ws.
      const client = nodeApp.write(
        "client.mjs",
        `import { TickgateClient } from "tickgate/client";
import { WebSocket } from "ws";
const client = new TickgateClient(process.argv[2], { WebSocket, encoding: "json" });
client.subscribe("greet.*", (data, meta) => {
  console.log(JSON.stringify({ topic: meta.topic, data }));
  client.close();
});
client.connect();
await client.ready(10_000);
`,
      );
      const r = await run(process.env.NODE_BINARY ?? "node", [client, `ws://127.0.0.1:${server.port}/ws`], { cwd: nodeApp.dir, env: { PATH: NODE_ONLY_PATH }, timeoutMs: 60_000 });
      expect(r.stderr).toBe("");
      expect(JSON.parse(r.stdout.trim())).toEqual({ topic: "greet.hello", data: { text: "hello from the package" } });
      expect(r.code).toBe(0);
    } finally {
      await server.stop();
    }
  }, SLOW);

  test("`bun x --bun tickgate serve --demo` (what the Node message says) serves the dashboard from the built files", async () => {
    const server = await startInBunProject(["x", "--bun", "tickgate", "serve", "--port", "0", "--demo", "--log-level", "warn"]);
    try {
      const base = `http://127.0.0.1:${server.port}`;
      expect((await fetch(`${base}/`)).status).toBe(200);
      const js = await fetch(`${base}/dashboard.js`);
      expect(js.status).toBe(200);
      expect(await js.text()).toContain("tickgate-ws-path");
      expect((await fetch(`${base}/health`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  }, SLOW);
});

describe("installed package: Node project", () => {
  const CONSUMER = `import { TickgateClient, TickgateClientError, type ClientOptions } from "tickgate/client";

const options: ClientOptions = { encoding: "json", token: "t" };
const client = new TickgateClient("ws://127.0.0.1:8080/ws", options);
client.on("state", (s) => console.log(s));
const stop = client.subscribe<{ last: number }>("prices.*", (tick, meta) => console.log(meta.topic, meta.seq, tick.last.toFixed(2)));
stop();
export const e: TickgateClientError | undefined = undefined;
`;
  // The README's Node 20 recipe: ws's WebSocket passed as the WebSocket option.
  const WS_CONSUMER = `import { TickgateClient } from "tickgate/client";
import { WebSocket } from "ws";

const client = new TickgateClient("ws://127.0.0.1:8080/ws", { WebSocket, encoding: "json" });
client.connect();
`;

  /** A Node consumer has Node's types and no DOM; a browser consumer the DOM and no Node types. */
  async function compile(name: string, source: string, lib: string[]): Promise<string> {
    const types = lib.includes("DOM") ? [] : ["node"];
    nodeApp.write(`src/${name}.ts`, source);
    const tsconfig = nodeApp.write(
      `tsconfig.${name}.${lib.length}.json`,
      JSON.stringify({
        compilerOptions: { strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, lib, types, module: "nodenext", moduleResolution: "nodenext", target: "ES2022", noEmit: true, skipLibCheck: false },
        files: [`src/${name}.ts`],
      }),
    );
    const r = await run(process.execPath, [TSC, "-p", tsconfig], { cwd: nodeApp.dir, timeoutMs: 120_000 });
    return `${r.code}: ${r.stdout}${r.stderr}`.trim();
  }

  for (const lib of [["ES2022"], ["ES2022", "DOM"]]) {
    test(`a strict TypeScript consumer compiles (exactOptionalPropertyTypes, lib ${lib.join(" + ")}, ${lib.includes("DOM") ? "no Node types" : "Node types"})`, async () => {
      expect(await compile("consumer", CONSUMER, lib)).toBe("0:");
    }, SLOW);
  }

  test("a strict TypeScript consumer passes ws's WebSocket (lib ES2022)", async () => {
    expect(await compile("ws-consumer", WS_CONSUMER, ["ES2022"])).toBe("0:");
  }, SLOW);

  test("npx tickgate --help runs on Node alone", async () => {
    const r = await run("npx", ["--offline", "tickgate", "--help"], { cwd: nodeApp.dir, env: { PATH: NODE_ONLY_PATH }, timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    for (const cmd of ["serve", "pub", "sub", "token", "bench"]) expect(r.stdout).toContain(`  ${cmd} `);
  }, SLOW);

  test("tickgate bench --help on Node alone: the remote bench's flags, scenarios and exit codes", async () => {
    const bin = join(nodeApp.dir, "node_modules", ".bin", "tickgate");
    const r = await run(bin, ["bench", "--help"], { cwd: nodeApp.dir, env: { PATH: NODE_ONLY_PATH }, timeoutMs: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const flag of ["--url", "--token", "--prefix", "--metrics-url", "--quick", "--out", "--compare", "--tolerance"]) expect(r.stdout).toContain(`  ${flag} `);
    for (const s of ["fanout", "topics", "ingest", "connections"]) expect(r.stdout).toContain(`${s}: `);
    expect(r.stdout).toContain("compare BASELINE.json CURRENT.json");
    expect(r.stdout).toContain("4  not judged");
    // Without the repository, the local suite is not there, and help says so instead of listing its flags.
    expect(r.stdout).toContain("ships with the repository");
  }, SLOW);

  test("tickgate bench --url on Node alone drives a server started from the package, and bench compare judges two runs", async () => {
    const server = await startInBunProject(["x", "--bun", "tickgate", "serve", "--port", "0", "--no-demo", "--log-level", "warn"]);
    const bin = join(nodeApp.dir, "node_modules", ".bin", "tickgate");
    const opts = { cwd: nodeApp.dir, env: { PATH: NODE_ONLY_PATH }, timeoutMs: 120_000 };
    try {
      const url = `ws://127.0.0.1:${server.port}/ws`;
      const a = await run(bin, ["bench", "--url", url, "fanout", "--quick", "--out", "a"], opts);
      expect({ code: a.code, stderr: a.stderr }).toEqual({ code: 0, stderr: "" });
      expect(a.stdout).toContain("Bun absent");
      const results = JSON.parse(readFileSync(join(nodeApp.dir, "a", "results.json"), "utf8")) as { scenarios: { data: { runs: { lost: number; dup: number; errorFrames: number; deliveries: number }[] } }[] };
      const fan = results.scenarios[0]!.data.runs[0]!;
      expect(fan).toMatchObject({ lost: 0, dup: 0, errorFrames: 0 });
      expect(fan.deliveries).toBeGreaterThan(0);
      const b = await run(bin, ["bench", "--url", url, "fanout", "--quick", "--out", "b"], opts);
      expect(b.code).toBe(0);
      const c = await run(bin, ["bench", "compare", "a/results.json", "b/results.json", "--tolerance", "1000000"], opts);
      expect({ code: c.code, stderr: c.stderr }).toEqual({ code: 0, stderr: "" });
      expect(c.stdout).toMatch(/remote\.fanout\.100\.deliveries_per_sec\s+quick\s.*ok/);
    } finally {
      await server.stop();
    }
  }, SLOW);

  test("tickgate bench without --url, from the package: one line saying the local suite ships with the repository, exit 2", async () => {
    const bin = join(nodeApp.dir, "node_modules", ".bin", "tickgate");
    const r = await run(bin, ["bench", "--quick"], { cwd: nodeApp.dir, env: { PATH: NODE_ONLY_PATH }, timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("the local suite ships with the repository");
    expect(r.stderr).toContain("--url");
  }, SLOW);

  test("tickgate token mints a token on Node alone", async () => {
    const bin = join(nodeApp.dir, "node_modules", ".bin", "tickgate");
    const r = await run(bin, ["token", "--sub", "alice", "--subscribe", "prices.*", "--ttl", "1h"], { cwd: nodeApp.dir, env: { PATH: NODE_ONLY_PATH, TICKGATE_AUTH_SECRET: "x".repeat(32) }, timeoutMs: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [, payload] = r.stdout.trim().split(".");
    expect(JSON.parse(Buffer.from(payload!, "base64url").toString()).sub).toBe("alice");
  }, SLOW);

  test("tickgate serve --runtime bun on Node alone says in one line what to install, and exits 1", async () => {
    const bin = join(nodeApp.dir, "node_modules", ".bin", "tickgate");
    const r = await run(bin, ["serve", "--port", "0", "--runtime", "bun"], { cwd: nodeApp.dir, env: { PATH: NODE_ONLY_PATH }, timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("runs on Bun");
    expect(r.stderr).toContain("npm install bun");
  }, SLOW);

  // The native build is an optional dependency: where npm installed it, serve runs on Node;
  // where it did not (this offline install, or an unsupported platform), serve says in one line what to install.
  test("tickgate serve on Node alone: runs with the native uWebSockets.js build, or names what to install", async () => {
    const bin = join(nodeApp.dir, "node_modules", ".bin", "tickgate");
    const native = existsSync(join(nodeApp.dir, "node_modules", "@trufflesuite", "uws-js-unofficial"));
    const proc = spawn(bin, ["serve", "--port", "0", "--log-level", "warn"], { cwd: nodeApp.dir, env: { PATH: NODE_ONLY_PATH }, stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
    let err = "";
    let out = "";
    proc.stdout!.on("data", (d) => (out += d));
    try {
      const port = await new Promise<number | null>((resolve) => {
        proc.stderr!.on("data", (d) => {
          err += d;
          const m = /tickgate listening on http:\/\/[^:]+:(\d+)/.exec(err);
          if (m) resolve(Number(m[1]));
        });
        exited.then(() => resolve(null));
      });
      if (native) {
        expect(port, err).not.toBeNull();
        expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
        proc.kill("SIGTERM");
        expect(await exited).toBe(0);
      } else {
        expect(port).toBeNull();
        expect(await exited).not.toBe(0);
        expect(out).toBe("");
        expect(err.trim().split("\n")).toHaveLength(1);
        expect(err).toContain("uWebSockets.js");
        expect(err).toContain("npm install");
      }
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    }
  }, SLOW);

  test("the client entry pulls in none of the server's dependencies at run time", async () => {
    const probe = nodeApp.write(
      "probe.mjs",
      `import { createRequire } from "node:module";
await import("tickgate/client");
const loaded = Object.keys(createRequire(import.meta.url).cache);
console.log(JSON.stringify(loaded.filter((f) => /node_modules\\/(zod|jose|pino|prom-client)\\//.test(f))));
`,
    );
    const r = await run("node", [probe], { cwd: nodeApp.dir, env: { PATH: NODE_ONLY_PATH }, timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  }, SLOW);
});
