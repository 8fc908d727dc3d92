/**
 * Two tickgate nodes over a 3-server NATS cluster with an R3 stream: the
 * server leading the stream is killed mid-run; nothing acknowledged is lost
 * and delivery continues.
 */
import { describe, expect, test } from "bun:test";
import { connect, type Frame } from "../helpers/client.ts";
import { startNatsCluster } from "../helpers/nats.ts";
import { uniqueTopic } from "../helpers/server.ts";
import { POLICIES, startNode, uniqueCluster } from "./support.ts";
import { connect as natsConnect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";

const isMsg = (f: Frame) => f.t === "msg";

describe("NatsBus (3-server NATS cluster, R3)", () => {
  test("the stream leader's server killed: nothing acknowledged is lost, delivery continues", async () => {
    await using nats = await startNatsCluster();
    const name = uniqueCluster();
    const opts = { servers: nats.urls, name, replicas: 3, publishTimeoutMs: 60_000 };
    await using a = await startNode(opts, POLICIES);
    await using b = await startNode(opts, POLICIES);
    const topic = `h.${uniqueTopic()}`;
    await using sub = await connect(b.wsUrl);
    sub.send({ t: "sub", id: "s", topic });
    await sub.next((f) => f.id === "s");

    const acked: number[] = [];
    for (let i = 1; i <= 20; i++) acked.push(await (a.server.publish(topic, i) as Promise<number>));

    // Kill whichever server leads the stream, the worst one to lose.
    const nc = await natsConnect({ servers: nats.urls });
    const leader = (await (await jetstreamManager(nc)).streams.info(`TICKGATE_${name}`)).cluster?.leader;
    await nc.close();
    const victim = nats.servers.find((s) => s.name === leader) ?? nats.servers[0]!;
    await victim.kill();

    // Publications go on (the bus retries through the leader election within publishTimeoutMs).
    for (let i = 21; i <= 40; i++) acked.push(await (a.server.publish(topic, i) as Promise<number>));
    expect(acked).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const got = await sub.collect(40, isMsg, 60_000);
    expect(got.map((f) => [f.seq, f.data])).toEqual(acked.map((s) => [s, s]));

    // A newcomer recovers all of it from the surviving replicas.
    await using late = await connect(a.wsUrl);
    late.send({ t: "sub", id: "r", topic, recover: { epoch: a.bus.epoch, seq: 0 } });
    expect(await late.next((f) => f.id === "r", 60_000)).toMatchObject({ seq: 40, recovery: { ok: true, replayed: 40 } });
    expect((await late.collect(40, isMsg)).map((f) => f.seq)).toEqual(acked);
  }, 240_000);
});
