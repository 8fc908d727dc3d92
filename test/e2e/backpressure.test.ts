/**
 * Each slow-consumer action end to end on both runtimes: a raw TCP
 * subscriber stops reading (so kernel buffers fill and the server's queue
 * grows), a WebSocket client publishes until the server's /stats reports the
 * lag, then the reader resumes and we check what it was told.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { unpackr } from "../../src/protocol/codec.ts";
import { CloseCode, GapReason } from "../../src/protocol/codes.ts";
import { connect, subscribe, type TestClient } from "../helpers/client.ts";
import { rawConnect, type RawClient } from "../helpers/raw-ws.ts";
import { RUNTIMES, startServer, type E2eServer } from "./start-server.ts";

const LIMIT = 256 * 1024;
const PAD = "x".repeat(60_000);
const KEYS = ["A", "B", "C", "D", "E"];
const CONFIG = {
  slowConsumer: { checkIntervalMs: 10, nativeLimitBytes: 64 * 1024 * 1024 },
  defaultPolicy: { maxPayload: 128 * 1024, limitBytes: LIMIT },
  policies: [
    { match: "drop.>", action: "drop" },
    { match: "conf.>", action: "conflate" },
    { match: "disc.>", action: "disconnect" },
  ],
};

type Msg = { t: string; seq?: number; key?: string; reason?: string; count?: number; id?: number };
type Slow = { lagEvents: number; disconnects: number };

async function slowStats(s: E2eServer): Promise<Slow> {
  return ((await (await fetch(`${s.url}/stats`)).json()) as { slowConsumers: Slow }).slowConsumers;
}

/** A raw subscriber that reads until subscribed, then stops reading. */
async function slowSubscriber(s: E2eServer, topic: string): Promise<{ raw: RawClient; frames: Msg[] }> {
  const raw = await rawConnect(s.port);
  const frames: Msg[] = [];
  let acked!: () => void;
  const ack = new Promise<void>((r) => (acked = r));
  raw.resume((p) => {
    const f = unpackr.unpack(p) as Msg;
    frames.push(f);
    if (f.t === "ack" && f.id === 1) acked();
  });
  raw.sendFrame({ t: "sub", topic, id: 1 });
  await ack;
  raw.pause();
  return { raw, frames };
}

/** Publishes (acked in batches of 8) until /stats shows the lag or the disconnect; bounded. */
async function publishUntilLagging(s: E2eServer, pub: TestClient, topic: string): Promise<number> {
  const start = await slowStats(s);
  for (let n = 0; n < 3000; n++) {
    pub.send({ t: "pub", id: n, topic, key: KEYS[n % KEYS.length], data: { n, pad: PAD } });
    if (n % 8 === 7) {
      await pub.next((f) => f.id === n, 20_000);
      const now = await slowStats(s);
      if (now.lagEvents > start.lagEvents || now.disconnects > start.disconnects) return n + 1;
    }
  }
  throw new Error("no lag after 3000 publications");
}

async function fastGetsAll(fast: TestClient, total: number): Promise<void> {
  const got = await fast.collect(total, (f) => f.t === "msg", 30_000);
  expect(got.map((f) => f.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
}

let n = 0;
for (const runtime of RUNTIMES) {
  describe(`e2e slow consumers (${runtime})`, () => {
    let s: E2eServer;
    beforeAll(async () => {
      s = await startServer(runtime, CONFIG);
    });
    afterAll(async () => {
      await s?.[Symbol.asyncDispose]();
    });

    async function setup(prefix: string) {
      const topic = `${prefix}.e2e${++n}`;
      const fast = await connect(s.wsUrl);
      await subscribe(fast, topic);
      const slow = await slowSubscriber(s, topic);
      const pub = await connect(s.wsUrl);
      return { topic, fast, pub, ...slow };
    }

    test("drop: the paused reader is told the exact gap, then gets live publications", async () => {
      const { topic, fast, pub, raw, frames } = await setup("drop");
      let total = await publishUntilLagging(s, pub, topic);
      for (let i = 0; i < 20; i++, total++) pub.send({ t: "pub", topic, data: { n: total, pad: PAD } });
      await fastGetsAll(fast, total);
      const gotGap = new Promise<void>((resolve) =>
        raw.resume((p) => {
          const f = unpackr.unpack(p) as Msg;
          frames.push(f);
          if (f.t === "gap") resolve();
        }),
      );
      await gotGap;
      pub.send({ t: "pub", topic, data: "sentinel" });
      total++;
      while (frames.at(-1)?.seq !== total) await new Promise((r) => setTimeout(r, 5));
      const gapAt = frames.findIndex((f) => f.t === "gap");
      const gap = frames[gapAt]!;
      expect(gap.reason).toBe(GapReason.DROPPED);
      const before = frames.slice(0, gapAt).filter((f) => f.t === "msg").map((f) => f.seq);
      const after = frames.slice(gapAt + 1).filter((f) => f.t === "msg").map((f) => f.seq!);
      expect(before).toEqual(Array.from({ length: before.length }, (_, i) => i + 1));
      // Every publication was delivered in order or counted in the gap.
      expect(before.length + gap.count! + after.length).toBe(total);
      raw.destroy();
      fast.close();
      pub.close();
    });

    test("conflate: the paused reader gets the latest value per key after a gap", async () => {
      const { topic, fast, pub, raw, frames } = await setup("conf");
      let total = await publishUntilLagging(s, pub, topic);
      const latest = new Map<string, number>();
      for (let i = 0; i < 50; i++, total++) {
        const key = KEYS[total % KEYS.length]!;
        pub.send({ t: "pub", topic, key, data: { n: total } });
        latest.set(key, total + 1);
      }
      await fastGetsAll(fast, total);
      await new Promise<void>((resolve) =>
        raw.resume((p) => {
          frames.push(unpackr.unpack(p) as Msg);
          const g = frames.findIndex((f) => f.t === "gap");
          if (g >= 0 && frames.length - g - 1 === latest.size) resolve();
        }),
      );
      const gapAt = frames.findIndex((f) => f.t === "gap");
      expect(frames[gapAt]!.reason).toBe(GapReason.CONFLATED);
      expect(new Map(frames.slice(gapAt + 1).map((f) => [f.key!, f.seq!]))).toEqual(latest);
      raw.destroy();
      fast.close();
      pub.close();
    });

    test("disconnect: the paused reader is closed with 4008; the fast one gets everything", async () => {
      const { topic, fast, pub, raw } = await setup("disc");
      let total = await publishUntilLagging(s, pub, topic);
      for (let i = 0; i < 10; i++, total++) pub.send({ t: "pub", topic, data: { n: total } });
      await fastGetsAll(fast, total);
      raw.resume(() => {});
      await raw.closed;
      expect(raw.closeCode).toBe(CloseCode.SLOW_CONSUMER);
      fast.close();
      pub.close();
    });
  });
}
