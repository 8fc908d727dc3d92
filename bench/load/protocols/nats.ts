/**
 * The NATS client protocol over nats-server's WebSocket listener. After the
 * server's `INFO`, the client sends `CONNECT {…}`, `SUB bench.fanout 1` and
 * `PING`; the `PONG` means the subscription is in place. Publications are
 * `MSG bench.fanout 1 <size>\r\n<tick>\r\n`, several to a WebSocket frame or
 * one cut across two: the frames are one byte stream, parsed here with a
 * per-connection carry. The tick is the msgpack payload of bench/lib/tick.ts,
 * so `n` and `ts` sit at fixed offsets from the payload's end.
 * @module
 */
import { readN, readTs, tailOk, TOPIC } from "../../lib/tick.ts";
import { dec, enc, type Deliveries, type SubscribeProtocol } from "./types.ts";

const CONNECT = `CONNECT {"verbose":false,"pedantic":false,"protocol":1,"echo":false,"name":"tickgate-bench"}\r\n`;
const PONG = enc.encode("PONG\r\n");
const CR = 13;
const LF = 10;
const SP = 32;

/**
 * `subject`: what the connection subscribes to (sid 1); null for a
 * publish-only connection, which is ready on the `PONG` of its `CONNECT`.
 */
export function natsProtocol(k: Deliveries, subject: string | null = TOPIC): SubscribeProtocol {
  const HELLO = enc.encode(`${CONNECT}${subject === null ? "" : `SUB ${subject} 1\r\n`}PING\r\n`);
  // Per connection (by id): bytes of a message cut by the end of a frame.
  const carry: Uint8Array[] = [];
  const carryLen: number[] = [];
  const hello: boolean[] = [];

  const control = (c: Parameters<SubscribeProtocol["frame"]>[0], line: string): void => {
    if (line === "PING") c.send(2, PONG);
    else if (line === "PONG") k.ready(c);
    else if (line.startsWith("INFO ")) {
      if (!hello[c.id]) c.send(2, HELLO);
      hello[c.id] = true;
    } else if (line.startsWith("-ERR")) k.error(`nats: ${line.slice(0, 200)}`);
    else if (line !== "+OK") k.malformed();
  };

  return {
    path: "/",
    subprotocol: null,
    frame(c, chunk, start, end) {
      const id = c.id;
      let buf = chunk;
      let off = start;
      let stop = end;
      const held = carryLen[id] ?? 0;
      if (held > 0) {
        const need = held + (end - start);
        let cb = carry[id]!;
        if (cb.length < need) {
          const grown = new Uint8Array(Math.max(need, cb.length * 2));
          grown.set(cb.subarray(0, held));
          carry[id] = cb = grown;
        }
        cb.set(chunk.subarray(start, end), held);
        buf = cb;
        off = 0;
        stop = need;
      }
      while (off < stop) {
        let nl = -1;
        for (let i = off + 1; i < stop; i++) {
          if (buf[i] === LF && buf[i - 1] === CR) {
            nl = i - 1;
            break;
          }
        }
        if (nl < 0) break;
        // MSG <subject> <sid> [reply] <size>
        if (buf[off] === 0x4d && buf[off + 1] === 0x53 && buf[off + 2] === 0x47 && buf[off + 3] === SP) {
          let size = 0;
          let mul = 1;
          for (let i = nl - 1; i > off && buf[i] !== SP; i--, mul *= 10) {
            const d = buf[i]! - 48;
            size = d < 0 || d > 9 ? -Infinity : size + d * mul;
          }
          if (!(size >= 0)) {
            k.malformed();
            off = nl + 2;
            continue;
          }
          const payloadEnd = nl + 2 + size;
          if (payloadEnd + 2 > stop) break; // the rest is in the next frame
          if (!c.ready) {
            // Nothing is published before every subscriber is ready.
          } else if (buf[payloadEnd] !== CR || buf[payloadEnd + 1] !== LF || size < 24 || !tailOk(buf, payloadEnd)) k.malformed();
          else if (k.deliver(c, readN(buf, payloadEnd))) k.sample(readTs(buf, payloadEnd));
          off = payloadEnd + 2;
          continue;
        }
        control(c, dec.decode(buf.subarray(off, nl)));
        off = nl + 2;
      }
      // Keep the unparsed rest (a copy: the runtime may reuse its read buffer).
      const rest = stop - off;
      if (rest > 0) {
        if (buf === carry[id]) buf.copyWithin(0, off, stop);
        else {
          let cb = carry[id];
          if (!cb || cb.length < rest) carry[id] = cb = new Uint8Array(Math.max(rest, 1024));
          cb.set(buf.subarray(off, stop), 0);
        }
      }
      carryLen[id] = rest;
    },
  };
}
