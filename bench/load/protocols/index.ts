/** The subscribe protocols the load client speaks, by `LoadProtocol` name (bench/lib/peers.ts). */
import type { LoadProtocol } from "../../lib/peers.ts";
import { msgpackProtocol } from "./msgpack.ts";
import { natsProtocol } from "./nats.ts";
import { socketioProtocol } from "./socketio.ts";
import type { Deliveries, SubscribeProtocol } from "./types.ts";

export type { Deliveries, SubscribeProtocol } from "./types.ts";

export function protocolFor(name: LoadProtocol, k: Deliveries): SubscribeProtocol {
  switch (name) {
    case "tickgate":
    case "raw":
      return msgpackProtocol(k, name);
    case "socketio":
      return socketioProtocol(k);
    case "nats":
      return natsProtocol(k);
  }
}
