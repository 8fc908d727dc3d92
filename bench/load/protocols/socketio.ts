/**
 * Socket.IO v5 over Engine.IO v4, websocket transport only, spoken over the
 * raw WebSocket: the server opens with `0{…}`, the client connects the
 * default namespace with `40`, gets `40{"sid":…}`, and the bench server
 * (bench/servers/socketio.mjs) joins it to the room and emits `ready`
 * (`42["ready"]`). Engine.IO pings (`2`) are answered (`3`).
 *
 * Ticks are text frames `42["tick","<pad><n><ts>"]`: `n` as 10 decimal
 * digits and the publish time as 16 decimal digits of µs, right before the
 * closing `"]`, so both sit at fixed offsets from the frame's end.
 * @module
 */
import { dec, enc, type Deliveries, type SubscribeProtocol } from "./types.ts";

export const SIO_N_DIGITS = 10;
export const SIO_TS_DIGITS = 16;
/** `42["tick","` + `"]`: the frame is the tick string plus this many bytes. */
export const SIO_OVERHEAD = 13;

const CONNECT = enc.encode("40");
const PONG = enc.encode("3");
const C_4 = 0x34;
const C_2 = 0x32;
const C_t = 0x74;
const C_QUOTE = 0x22;
const C_BRACKET = 0x5d;

/** The decimal number in `buf[from, to)`, or -1 if a byte is not a digit. */
function digits(buf: Uint8Array, from: number, to: number): number {
  let v = 0;
  for (let i = from; i < to; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

export function socketioProtocol(k: Deliveries): SubscribeProtocol {
  return {
    path: "/socket.io/?EIO=4&transport=websocket",
    subprotocol: null,
    frame(c, buf, start, end, opcode) {
      const len = end - start;
      if (
        opcode === 1 && len > SIO_OVERHEAD + SIO_N_DIGITS + SIO_TS_DIGITS &&
        buf[start] === C_4 && buf[start + 1] === C_2 && buf[start + 4] === C_t &&
        buf[end - 1] === C_BRACKET && buf[end - 2] === C_QUOTE
      ) {
        if (!c.ready) return;
        const tsAt = end - 2 - SIO_TS_DIGITS;
        const n = digits(buf, tsAt - SIO_N_DIGITS, tsAt);
        if (n < 0) return k.malformed();
        if (k.deliver(c, n)) {
          const us = digits(buf, tsAt, end - 2);
          if (us < 0) return k.malformed();
          k.sample(us / 1000);
        }
        return;
      }
      const text = dec.decode(buf.subarray(start, end));
      if (text === "2") c.send(1, PONG);
      else if (text.startsWith("0{")) c.send(1, CONNECT);
      else if (text.startsWith("40")) return; // connected; `ready` follows once it is in the room
      else if (text === '42["ready"]') k.ready(c);
      else if (text.startsWith("44") || text.startsWith("1")) k.error(`socket.io: ${text.slice(0, 200)}`);
      else k.malformed();
    },
  };
}
