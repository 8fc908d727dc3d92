/**
 * Property: a connection that never authenticated cannot cause a
 * publication, whatever it sends. Auth is required, there are no anonymous
 * grants, and the error budget and auth deadline are large so the
 * connection stays open. Frames are every client type (and garbage), sent
 * as JSON text or msgpack binary, including `auth` frames with garbage or
 * forged tokens (each of which ends the connection with 4401; the run then
 * reconnects and goes on).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { CloseCode, ErrorCode } from "../../src/protocol/codes.ts";
import { packr } from "../../src/protocol/codec.ts";
import { connect, subscribe, type Frame, type TestClient } from "../helpers/client.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { ALL_TG, forged, hs256, hs512, hsAuth, keyPair, tamperPayload, unsecured } from "../helpers/tokens.ts";

let server: TestServer;
let watcher: TestClient;
let badTokens: string[] = [];
let pendingCommand: Promise<unknown>;
let handlerCalls = 0;

beforeAll(async () => {
  server = await startServer({
    auth: hsAuth({ timeoutMs: 600_000, audience: "tickgate" }),
    errorBudget: { burst: 1_000_000, perSecond: 1_000_000 },
    devices: { redeliverMs: 50 },
  });
  // A handler that would publish if an unauthenticated req ever reached it.
  server.handle("echo", (data) => {
    handlerCalls++;
    server.publish("leak.handler", data ?? null);
    return data;
  });
  // A command waiting for device pico-1: a client that became that device would get it.
  pendingCommand = server.command("pico-1", "unlock", { door: 1 }, { ttlMs: 600_000 }).catch(() => undefined);
  watcher = await connect(server.wsUrl, { headers: { authorization: `Bearer ${await hs256({ sub: "watcher", aud: "tickgate", tg: ALL_TG })}` } });
  await subscribe(watcher, ">");
  const full = { aud: "tickgate", tg: { ...ALL_TG, client: "device" as const }, sub: "pico-1" };
  const valid = await hs256(full);
  badTokens = [
    await forged(full),
    await hs512(full),
    unsecured(full),
    await hs256({ ...full, expIn: -120 }),
    await hs256({ ...full, nbfIn: 120 }),
    await hs256({ ...full, aud: "elsewhere" }),
    await hs256({ ...full, aud: undefined }),
    await (await keyPair("RS256")).sign(full),
    tamperPayload(valid, { sub: "pico-1", aud: "tickgate", exp: 9_999_999_999, tg: ALL_TG }),
    valid.split(".").slice(0, 2).join(".") + ".",
    valid.slice(0, -2),
    `${valid}.x`,
    valid.replace(/\./g, ""),
  ];
});

afterAll(async () => {
  watcher?.close();
  await server?.close();
  // Not awaited: server.close() does not settle pending commands (see the BUG test in test/devices).
  void pendingCommand;
});

const topic = fc.oneof(
  fc.constantFrom(">", "a", "a.*", "public.x", "devices.>", "devices.pico-1.commands", "leak.handler", "*.*", "bad..topic"),
  fc.stringMatching(/^[a-z]{1,5}(\.[a-z*>]{1,3}){0,3}$/),
);
const data = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined));
const id = fc.option(fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.string({ maxLength: 8 })), { nil: undefined });
const token = fc.oneof(
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 60 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,20}\.[A-Za-z0-9_-]{1,20}\.[A-Za-z0-9_-]{0,20}$/) },
  // Read lazily: the tokens are minted in beforeAll.
  { weight: 4, arbitrary: fc.nat({ max: 1000 }).map((i) => badTokens[i % badTokens.length] ?? "x") },
);

const frame: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ t: fc.constant("sub"), id, topic }),
  fc.record({ t: fc.constant("unsub"), id, topic }),
  fc.record({ t: fc.constant("pub"), id, topic, data, key: fc.option(fc.constantFrom("k", "BTC"), { nil: undefined }) }),
  fc.record({ t: fc.constant("req"), id: fc.integer({ min: 0, max: 1000 }), method: fc.constantFrom("echo", "nope", ">"), data }),
  fc.record({
    t: fc.constant("hello"),
    id,
    client: fc.constantFrom("browser", "api", "device", "mobile"),
    device: fc.option(fc.constantFrom("pico-1", "pico-2"), { nil: undefined }),
    will: fc.option(fc.record({ topic, data }), { nil: undefined }),
  }),
  fc.record({ t: fc.constant("command"), id: fc.integer({ min: 0, max: 1000 }), device: fc.constantFrom("pico-1", "pico-2"), name: fc.constantFrom("reboot", "x"), data }),
  fc.record({ t: fc.constant("command_ack"), id, cid: fc.string({ minLength: 1, maxLength: 10 }), data }),
  fc.record({ t: fc.constant("log"), id, level: fc.constantFrom("info", "warn"), message: fc.string({ maxLength: 20 }) }),
  fc.record({ t: fc.constant("ping"), id }),
  fc.record({ t: fc.constant("stats"), id }),
  fc.record({ t: fc.constant("auth"), id, token }),
  fc.record({ t: fc.constant("auth"), id, token }),
  fc.record({ t: fc.constant("auth"), id, token }),
  fc.record({ t: fc.constantFrom("nope", "AUTH", "__proto__"), id }),
);

type Step = { kind: "frame"; frame: Record<string, unknown>; wire: "json" | "msgpack" } | { kind: "raw"; raw: string | Uint8Array };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant("frame" as const), frame, wire: fc.constantFrom("json" as const, "msgpack" as const) }) },
  { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 })).map((raw) => ({ kind: "raw" as const, raw })) },
);

/** What an unauthenticated connection may ever get back. */
const ALLOWED_ERRORS = new Set<string>([
  ErrorCode.UNAUTHORIZED,
  ErrorCode.TOKEN_EXPIRED,
  ErrorCode.BAD_FRAME,
  ErrorCode.UNKNOWN_TYPE,
  ErrorCode.INVALID_FRAME,
  ErrorCode.BAD_PAYLOAD,
]);

function strip(f: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined));
}

async function run(encoding: "json" | "msgpack", steps: Step[]): Promise<void> {
  const before = server.stats().messages.publications;
  const callsBefore = handlerCalls;
  const received: Frame[] = [];
  const closes: number[] = [];
  let c = await connect(server.wsUrl, { encoding });
  let open = true;
  const track = (cl: TestClient) => cl.closed.then(({ code }) => (closes.push(code), cl === c && (open = false)));
  track(c);
  const notEnded: Record<string, unknown>[] = [];
  for (const s of steps) {
    if (!open) {
      received.push(...c.frames.splice(0));
      c = await connect(server.wsUrl, { encoding });
      open = true;
      track(c);
    }
    if (s.kind === "raw") {
      c.sendRaw(s.raw);
      continue;
    }
    const f = strip(s.frame);
    c.sendRaw(s.wire === "json" ? JSON.stringify(f) : (packr.pack(f) as Uint8Array));
    // A bad auth frame ends the connection once its token is checked: wait for that.
    if (f.t === "auth") {
      const ended = await Promise.race([c.closed.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 1000))]);
      if (!ended) {
        notEnded.push(f);
        break;
      }
    }
  }
  if (open) {
    c.send({ t: "ping", id: "barrier" });
    await Promise.race([c.next((f) => f.id === "barrier", 2000).catch(() => undefined), c.closed]);
    c.close();
  }
  await c.closed;
  received.push(...c.frames.splice(0));
  // The server has processed every close (a will or presence would be published then).
  for (let i = 0; server.stats().connections > 1; i++) {
    if (i > 400) throw new Error(`connections stay open on the server: ${server.stats().connections}`);
    await new Promise((r) => setTimeout(r, 5));
  }

  expect(notEnded).toEqual([]);
  for (const f of received) {
    if (f.t === "welcome") continue;
    expect(f.t).toBe("error");
    expect(ALLOWED_ERRORS.has(f.code)).toBe(true);
  }
  for (const code of closes) expect([CloseCode.AUTH_FAILED, CloseCode.NORMAL, 1005]).toContain(code);
  expect(server.stats().messages.publications).toBe(before);
  expect(server.stats().devicesOnline).toBe(0);
  expect(handlerCalls).toBe(callsBefore);
}

describe("no leak from an unauthenticated connection", () => {
  test("no frame sequence yields a publication, an ack, a command or a reply", async () => {
    const base = server.stats().messages.publications;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("json" as const, "msgpack" as const), fc.array(step, { minLength: 1, maxLength: 20 }), run),
      { numRuns: 30, interruptAfterTimeLimit: 20_000, markInterruptAsFailure: true },
    );
    // The watcher on `>` saw nothing at all.
    watcher.send({ t: "ping", id: "w" });
    await watcher.next((f) => f.id === "w");
    expect(watcher.frames.filter((f) => f.t === "msg")).toEqual([]);
    expect(server.stats().messages.publications).toBe(base);
    expect(server.stats().security!.authFailures).toBeGreaterThan(0);
    expect(handlerCalls).toBe(0);
  }, 30_000);
});
