/**
 * A WebSocket client over a raw TCP socket that can stop reading: the only
 * honest way to make a real slow consumer (the kernel buffers fill, then
 * the server's user-space buffer grows).
 */
import net from "node:net";
import { packr } from "../../src/protocol/codec.ts";

export interface RawClient {
  socket: net.Socket;
  sendFrame(frame: Record<string, unknown>): void;
  /** Stops reading: the server sees backpressure. */
  pause(): void;
  /** Reads again; returns every complete binary frame payload as it arrives. */
  resume(onFrame?: (payload: Uint8Array) => void): void;
  closed: Promise<void>;
  /** Close code from the server's close frame, once one was read. */
  closeCode: number | undefined;
  destroy(): void;
}

function mask(opcode: number, payload: Uint8Array): Uint8Array {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = new Uint8Array(head + 4 + len);
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
  const key = crypto.getRandomValues(new Uint8Array(4));
  out.set(key, head);
  for (let i = 0; i < len; i++) out[head + 4 + i] = payload[i]! ^ key[i & 3]!;
  return out;
}

export async function rawConnect(port: number, path = "/ws", opts: { rcvbuf?: number; localAddress?: string } = {}): Promise<RawClient> {
  // Another loopback address (127.0.0.2) is another caller to the server's per-address limits.
  const socket = net.connect({ port, host: "127.0.0.1", ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))))}\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: tickgate.msgpack\r\n\r\n`,
  );
  let buf = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      const head = buf.subarray(0, end).toString();
      buf = buf.subarray(end + 4);
      if (!head.startsWith("HTTP/1.1 101")) reject(new Error(head));
      else resolve();
    };
    socket.on("data", onData);
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => {});
  let handler: ((p: Uint8Array) => void) | undefined;
  const parse = () => {
    for (;;) {
      if (buf.length < 2) return;
      let len = buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      if (buf.length < off + len) return;
      const opcode = buf[0]! & 0x0f;
      const payload = buf.subarray(off, off + len);
      buf = buf.subarray(off + len);
      if (opcode === 2 && handler) handler(new Uint8Array(payload));
      if (opcode === 8 && payload.length >= 2) client.closeCode = payload.readUInt16BE(0);
    }
  };
  socket.on("data", (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    parse();
  });
  const client: RawClient = {
    closeCode: undefined,
    socket,
    sendFrame: (frame) => socket.write(mask(2, packr.pack(frame))),
    pause: () => socket.pause(),
    resume: (onFrame) => {
      handler = onFrame;
      parse();
      socket.resume();
    },
    closed,
    destroy: () => socket.destroy(),
  };
  return client;
}
