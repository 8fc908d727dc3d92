/**
 * One subscriber connection over raw TCP with a minimal WebSocket client:
 * HTTP upgrade, then server frames (unmasked, 7/16/64-bit lengths, split
 * across reads in any way; binary and text, unfragmented). A full client library would cost more CPU per
 * message than the server under test, and this client is the bottleneck.
 * Frames are handed to the sink as (buffer, start, end), valid only during
 * the call: nothing is allocated per frame, and a frame cut by the end of a
 * read is copied once into a reused per-connection buffer.
 * @module
 */
import type { Socket } from "bun";

export interface FrameSink {
  /** A data frame (binary, or text: `opcode` 1) whose body is `buf[start, end)`. */
  frame(c: WsConn, buf: Uint8Array, start: number, end: number, opcode: number): void;
  /** Close, ping or pong; `body` is a copy. */
  control(c: WsConn, opcode: number, body: Uint8Array): void;
  /** The upgrade failed or the server broke the framing rules. */
  failed(c: WsConn, why: string): void;
}

const CRLFCRLF = [13, 10, 13, 10] as const;

export class WsConn {
  socket: Socket<WsConn> | null = null;
  upgraded = false;
  /** Subscribed: what that takes depends on the protocol (bench/load/protocols). */
  ready = false;
  closed = false;
  /** Highest tick counter seen, and what arrived out of order. */
  lastN = 0;
  received = 0;
  lost = 0;
  dup = 0;
  /** Unparsed bytes of a frame cut by the end of a read; grows, never shrinks. */
  #carry = new Uint8Array(0);
  #carryLen = 0;

  constructor(
    readonly id: number,
    readonly sink: FrameSink,
  ) {}

  upgradeRequest(path: string, protocol: string | null): string {
    const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
    return (
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
      (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : "") +
      "\r\n"
    );
  }

  feed(chunk: Uint8Array): void {
    let buf = chunk;
    let end = chunk.length;
    if (this.#carryLen > 0) {
      // Appending to a growing buffer keeps a big frame arriving in small
      // reads linear, not quadratic.
      this.#reserve(this.#carryLen + chunk.length);
      this.#carry.set(chunk, this.#carryLen);
      buf = this.#carry;
      end = this.#carryLen + chunk.length;
    }
    let off = 0;
    if (!this.upgraded) {
      const at = indexOfSeq(buf, end, CRLFCRLF);
      if (at < 0) return this.#keep(buf, 0, end);
      const head = new TextDecoder().decode(buf.subarray(0, at));
      if (!head.startsWith("HTTP/1.1 101")) return this.sink.failed(this, `upgrade refused: ${head.split("\r\n")[0]}`);
      this.upgraded = true;
      off = at + 4;
    }
    while (end - off >= 2) {
      const b0 = buf[off]!;
      const b1 = buf[off + 1]!;
      if (b1 & 0x80) return this.sink.failed(this, "server frame is masked");
      let len = b1 & 0x7f;
      let hdr = 2;
      if (len === 126) {
        if (end - off < 4) break;
        len = (buf[off + 2]! << 8) | buf[off + 3]!;
        hdr = 4;
      } else if (len === 127) {
        if (end - off < 10) break;
        const hi = ((buf[off + 2]! << 24) | (buf[off + 3]! << 16) | (buf[off + 4]! << 8) | buf[off + 5]!) >>> 0;
        const lo = ((buf[off + 6]! << 24) | (buf[off + 7]! << 16) | (buf[off + 8]! << 8) | buf[off + 9]!) >>> 0;
        len = hi * 2 ** 32 + lo;
        hdr = 10;
      }
      if (end - off - hdr < len) break;
      const start = off + hdr;
      off = start + len;
      const op = b0 & 0x0f;
      if (op === 2 || op === 1) this.sink.frame(this, buf, start, off, op);
      else if (op >= 8) this.sink.control(this, op, buf.slice(start, off));
      else return this.sink.failed(this, `unexpected opcode ${op} (fin=${b0 >> 7})`);
    }
    this.#keep(buf, off, end);
  }

  /** Keeps `buf[off, end)` for the next read (a copy: the runtime may reuse its read buffer). */
  #keep(buf: Uint8Array, off: number, end: number): void {
    const n = end - off;
    if (buf === this.#carry) this.#carry.copyWithin(0, off, end);
    else if (n > 0) {
      this.#reserve(n);
      this.#carry.set(buf.subarray(off, end), 0);
    }
    this.#carryLen = n;
  }

  #reserve(n: number): void {
    if (n <= this.#carry.length) return;
    const next = new Uint8Array(Math.max(n, this.#carry.length * 2, 512));
    next.set(this.#carry.subarray(0, this.#carryLen), 0);
    this.#carry = next;
  }

  /** Sends one masked frame, as a client must. */
  send(opcode: number, payload: Uint8Array): void {
    this.socket?.write(clientFrame(opcode, payload, crypto.getRandomValues(new Uint8Array(4))));
  }
}

function indexOfSeq(buf: Uint8Array, end: number, seq: readonly number[]): number {
  outer: for (let i = 0; i + seq.length <= end; i++) {
    for (let j = 0; j < seq.length; j++) if (buf[i + j] !== seq[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * A client frame (FIN) around `payload`, masked with `key`. Without a key the
 * mask is zero: the bytes go as they are, so a load client can build a frame
 * once and stamp counters into it in place.
 */
export function clientFrame(opcode: number, payload: Uint8Array, key?: Uint8Array): Uint8Array {
  const len = payload.length;
  const hdr = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = new Uint8Array(hdr + 4 + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) {
    out[1] = 0x80 | 126;
    out[2] = len >> 8;
    out[3] = len & 0xff;
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(len));
  }
  if (!key) {
    out.set(payload, hdr + 4);
    return out;
  }
  out.set(key, hdr);
  for (let i = 0; i < len; i++) out[hdr + 4 + i] = payload[i]! ^ key[i & 3]!;
  return out;
}
