/**
 * Bench baseline: a bare `Bun.serve` that subscribes every socket to one
 * topic on open and publishes with `server.publish`. Same native fan-out
 * (uWebSockets topics) and the same socket settings as tickgate's
 * transport, none of tickgate's protocol, policies or bookkeeping: the
 * floor tickgate is measured against. Frames are padded to tickgate's
 * frame length, so both put the same bytes on the wire.
 * With `--sub-ack` a socket is subscribed when its first message (a `sub`
 * frame) arrives, and acked, as tickgate does: the same round trip, so a
 * setup comparison can tell the protocol's cost from tickgate's own.
 * Args: --payload BYTES [--sub-ack]
 * @module
 */
import { bareFrameTemplate, payloadTemplate, stamp, tickgateFrameLength, TOPIC } from "../lib/tick.ts";
import { runDriver } from "./driver.ts";
import { argValue } from "../lib/args.ts";

const payloadSize = Number(argValue(process.argv, "--payload", "100"));
const { frame: template, seqAt } = bareFrameTemplate(payloadTemplate(payloadSize), tickgateFrameLength(payloadSize));
// Tells a client it is subscribed, as tickgate's ack does.
const WELCOME = Uint8Array.of(0x81, 0xa1, 0x74, 0xa7, ...new TextEncoder().encode("welcome"));
// {t:"ack", id:1}: the load client's `sub` frame carries id 1.
const ACK = Uint8Array.of(0x82, 0xa1, 0x74, 0xa3, ...new TextEncoder().encode("ack"), 0xa2, ...new TextEncoder().encode("id"), 0x01);
const subAck = process.argv.includes("--sub-ack");

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req, srv) {
    if (srv.upgrade(req, { data: undefined })) return undefined;
    return new Response("websocket only", { status: 400 });
  },
  websocket: {
    // Tickgate's transport defaults, so the sockets behave alike.
    maxPayloadLength: 1024 * 1024,
    backpressureLimit: 16 * 1024 * 1024,
    closeOnBackpressureLimit: false,
    idleTimeout: 120,
    sendPings: true,
    perMessageDeflate: false,
    open(ws) {
      if (!subAck) ws.subscribe(TOPIC);
      ws.send(WELCOME);
    },
    message(ws) {
      if (!subAck || ws.isSubscribed(TOPIC)) return;
      ws.subscribe(TOPIC);
      ws.send(ACK);
    },
  },
});

await runDriver({
  name: "bare",
  port: server.port!,
  publish(n, ts) {
    const f = template.slice();
    f[seqAt] = n >>> 24;
    f[seqAt + 1] = (n >>> 16) & 0xff;
    f[seqAt + 2] = (n >>> 8) & 0xff;
    f[seqAt + 3] = n & 0xff;
    stamp(f, f.length, n, ts);
    server.publish(TOPIC, f);
  },
  subscribers: () => server.subscriberCount(TOPIC),
  close: () => server.stop(true),
});
