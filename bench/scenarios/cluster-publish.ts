/**
 * The cluster's publish path, measured piece by piece in one process against
 * a fresh nats-server (JetStream): a JetStream publish with the
 * expected-last-subject-sequence check, core NATS for comparison, NatsBus
 * publishing one at a time, batched, over many topics and from two buses at
 * once, and publish → WebSocket delivery on the same node (LocalBus) vs on
 * another node (NatsBus). Standalone: `bun bench/scenarios/cluster-publish.ts`.
 * Figures are printed, not checked; docs/scaling.md records them.
 * @module
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect } from "@nats-io/transport-node";
import { createServer } from "../../src/adapter/bun/index.ts";
import { NatsBus } from "../../src/cluster/nats.ts";
import { LocalBus, type Bus, type Draft } from "../../src/core/bus.ts";
import { connect } from "../../test/helpers/client.ts";
import { startNats } from "../../test/helpers/nats.ts";

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const line = (name: string, n: number, ms: number, lat?: number[]) =>
  console.log(`${name}: ${Math.round((n / ms) * 1000).toLocaleString("en-US")}/s${lat ? `  p50 ${pct(lat, 0.5).toFixed(3)} ms  p99 ${pct(lat, 0.99).toFixed(3)} ms` : ""}`);
const payload = new Uint8Array(100);
const draft = (topic: string): Draft => ({ topic, key: undefined, ts: Date.now(), payload: { raw: payload } });
const N = 3000;

const nats = await startNats();
// process.exit below skips `await using`: the server is killed explicitly, whatever happens.
process.on("exit", () => void nats[Symbol.asyncDispose]());
try {

  {
    const nc = await natsConnect({ servers: nats.urls });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "BENCH", subjects: ["bench.>"], max_msgs_per_subject: 100 });
    const js = jetstream(nc);
    let lat: number[] = [];
    let t0 = performance.now();
    let last = 0;
    for (let i = 0; i < N; i++) {
      const s = performance.now();
      last = (await js.publish("bench.a", payload, { expect: { lastSubjectSequence: last } })).seq;
      lat.push(performance.now() - s);
    }
    line("JetStream publish + expected-last-subject-sequence, one topic, one at a time", N, performance.now() - t0, lat);
    lat = [];
    t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const s = performance.now();
      nc.publish("core.a", payload);
      await nc.flush();
      lat.push(performance.now() - s);
    }
    line("core NATS publish + flush (a round trip), one at a time", N, performance.now() - t0, lat);
    t0 = performance.now();
    for (let i = 0; i < N * 10; i++) nc.publish("core.a", payload);
    await nc.flush();
    line("core NATS publish, pipelined", N * 10, performance.now() - t0);
    await nc.close();
  }

  {
    const a = await NatsBus.connect({ servers: nats.urls, name: "benchpub" });
    const b = await NatsBus.connect({ servers: nats.urls, name: "benchpub" });
    await a.attach({ deliver() {} });
    await b.attach({ deliver() {} });
    const lat: number[] = [];
    let t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const s = performance.now();
      await a.publish(draft("one"));
      lat.push(performance.now() - s);
    }
    line("NatsBus.publish, one topic, one at a time", N, performance.now() - t0, lat);
    for (const n of [N, 20_000]) {
      t0 = performance.now();
      await Promise.all(Array.from({ length: n }, () => a.publish(draft(`hot${n}`))));
      line(`NatsBus.publish, one topic, ${n} at once (batched)`, n, performance.now() - t0);
    }
    t0 = performance.now();
    await Promise.all(Array.from({ length: N }, (_, i) => a.publish(draft(`many.t${i % 100}`))));
    line(`NatsBus.publish, 100 topics, ${N} at once`, N, performance.now() - t0);
    t0 = performance.now();
    await Promise.all(Array.from({ length: 1000 }, (_, i) => (i % 2 ? a : b).publish(draft("contended"))));
    line("two NatsBuses, one topic, 1000 at once", 1000, performance.now() - t0);
    await a.close();
    await b.close();
  }

  for (const mode of ["LocalBus, same node", "NatsBus, other node"] as const) {
    const buses: Bus[] = mode.startsWith("Local")
      ? [new LocalBus()]
      : [await NatsBus.connect({ servers: nats.urls, name: "benche2e" }), await NatsBus.connect({ servers: nats.urls, name: "benche2e" })];
    const servers = buses.map((bus) => createServer({ host: "127.0.0.1", port: 0 }, { bus }));
    for (const s of servers) await s.listen();
    const pub = servers[0]!;
    const sub = servers.at(-1)!;
    const c = await connect(`ws://127.0.0.1:${sub.port}/ws`, { encoding: "json" });
    c.send({ t: "sub", id: 1, topic: "e2e" });
    await c.next((f) => f.id === 1);
    const lat: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < 2000; i++) {
      const s = performance.now();
      const got = c.next((f) => f.t === "msg");
      await pub.publish("e2e", i);
      await got;
      lat.push(performance.now() - s);
    }
    line(`publish → WebSocket delivery (${mode})`, 2000, performance.now() - t0, lat);
    c.close();
    for (const s of servers) await s.close();
  }
} finally {
  await nats[Symbol.asyncDispose]();
}
process.exit(0);
