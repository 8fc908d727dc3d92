/**
 * Issue 17, item 2: the welcome's fixed part is encoded once and kept. The
 * frame a connection gets must be byte for byte the one encoding it whole
 * gives, in both encodings, and follow the request methods as they change.
 */
import { describe, expect, test } from "bun:test";
import { encodeFrame } from "../../src/protocol/codec.ts";
import type { WelcomeFrame } from "../../src/protocol/frames.ts";
import { WelcomeFrames, type WelcomeRest } from "../../src/core/welcome.ts";
import { connect } from "../helpers/client.ts";
import { startServer } from "../helpers/server.ts";

const rest = (methods: string[], topics?: string[]): WelcomeRest => ({
  encoding: "msgpack",
  client: "api",
  server: { name: "tickgate", version: "1.2.3", node: "n1" },
  limits: { maxFrameBytes: 1 << 20, maxPayload: 65536, maxSubscriptions: 100 },
  commands: ["sub", "unsub", "pub"],
  methods,
  ...(topics ? { topics } : {}),
});

describe("welcome frames (issue 17)", () => {
  for (const encoding of ["msgpack", "json"] as const) {
    test(`${encoding}: the kept part plus session and time is the frame encoded whole (issue 17)`, () => {
      const w = new WelcomeFrames();
      for (const [methods, topics] of [[[], undefined], [["a.b", "ü"], ["x.>"]], [[], undefined]] as [string[], string[] | undefined][]) {
        for (const [session, ts] of [["s-1", 0], ["0f3a6c9e-5d2b-4c1e-9a7f-123456789abc", 1_765_000_000_123], ["s-2", 2 ** 40 + 0.5]] as const) {
          const r = { ...rest(methods, topics), encoding };
          const whole = encodeFrame({ t: "welcome", session, ts, ...r } as WelcomeFrame, encoding === "json");
          expect(w.frame(session, ts, encoding, "api", methods, () => r)).toEqual(whole);
        }
      }
    });
  }

  test("a connection's welcome lists a method registered after the first connection (issue 17)", async () => {
    await using server = await startServer();
    await using first = await connect(server.wsUrl);
    expect(first.welcome.methods).toEqual([]);
    server.handle("later.method", () => 1);
    await using second = await connect(server.wsUrl, { encoding: "json" });
    await using third = await connect(server.wsUrl);
    expect(second.welcome.methods).toEqual(["later.method"]);
    expect(third.welcome.methods).toEqual(["later.method"]);
    expect(third.welcome.session).not.toBe(first.welcome.session);
    expect(third.welcome.encoding).toBe("msgpack");
    expect(second.welcome.encoding).toBe("json");
  });
});
