/**
 * tickgate's msgpack protocol and the bare servers' (bare Bun, Node + ws):
 * publications are `{t:"msg", …, data: <tick>}` binary frames ending with
 * the tick, so `n` and `ts` sit at fixed offsets from the frame's end.
 * tickgate: `welcome`, then a `sub` command, ready on its `ack`. Raw: the
 * server subscribes every socket on open and says so with a `welcome`.
 * @module
 */
import { packr, unpackr } from "../../../src/protocol/codec.ts";
import { isPublication, readN, readTs, tailOk, TOPIC } from "../../lib/tick.ts";
import type { Deliveries, SubscribeProtocol } from "./types.ts";

const SUB_FRAME = packr.pack({ t: "sub", topic: TOPIC, id: 1 });

export function msgpackProtocol(k: Deliveries, mode: "tickgate" | "raw"): SubscribeProtocol {
  let checkedOne = false;
  /** Decodes one publication fully, once, to prove the tail reading matches the real frame. */
  const checkOnce = (buf: Uint8Array, start: number, end: number): void => {
    checkedOne = true;
    const f = unpackr.unpack(buf.subarray(start, end)) as { topic?: string; data?: { n?: number; ts?: number } };
    if (f.topic !== TOPIC || f.data?.n !== readN(buf, end) || f.data?.ts !== readTs(buf, end)) {
      k.note(`frame layout check failed: ${JSON.stringify(f).slice(0, 200)}`);
    }
  };
  return {
    path: "/ws",
    subprotocol: mode === "tickgate" ? "tickgate.msgpack" : null,
    frame(c, buf, start, end) {
      if (c.ready && end - start > 24 && isPublication(buf, start)) {
        if (!tailOk(buf, end)) return k.malformed();
        if (k.deliver(c, readN(buf, end))) k.sample(readTs(buf, end));
        if (!checkedOne) checkOnce(buf, start, end);
        return;
      }
      const f = unpackr.unpack(buf.subarray(start, end)) as { t?: string; id?: number; message?: string };
      if (f.t === "welcome") {
        if (mode === "tickgate") c.send(2, SUB_FRAME);
        else k.ready(c);
      } else if (f.t === "ack" && f.id === 1) k.ready(c);
      else if (f.t === "gap") k.gap();
      else if (f.t === "error") k.error(`error frame: ${f.message}`);
      else k.malformed();
    },
  };
}
