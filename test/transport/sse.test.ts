/**
 * The SSE stream transport runs the socket half of the transport contract:
 * streams are `ServerSocket`s of the core's `StreamTransport`, served at
 * `/sse` by `openStream` beside a native transport that does the HTTP.
 * Peers read real `text/event-stream` responses.
 */
import net from "node:net";
import { bunTransport } from "../../src/adapter/bun/transport.ts";
import { CompositeTransport, StreamTransport } from "../../src/core/streams.ts";
import type { TransportHost } from "../../src/core/transport.ts";
import { openStream } from "../../src/http/sse.ts";
import { OPTS, runSocketSuite, type Peer, type RecordingHost, type State } from "../conformance/transport.case.ts";

/** The host, with `/sse` answered by the stream transport as the server's HTTP routes do. */
function routed(host: RecordingHost, streams: StreamTransport): TransportHost<State> {
  return {
    wsPath: host.wsPath,
    upgrade: (info) => host.upgrade(info),
    onOpen: (socket, s) => host.onOpen(socket, s),
    onMessage: (s, d) => host.onMessage(s, d),
    onDrain: (s) => host.onDrain(s),
    onClose: (s, code, reason) => host.onClose(s, code, reason),
    fetch: (req, ip) => (new URL(req.url).pathname === "/sse" ? openStream(streams, req, ip) : host.fetch(req, ip)),
  };
}

/** Reads one SSE response: `message` events' data as text, and the `close` event. */
async function connect(port: number): Promise<Peer> {
  const ac = new AbortController();
  // Not awaited: a server may hold the headers back until the stream's first write.
  const response = fetch(`http://127.0.0.1:${port}/sse`, { headers: { accept: "text/event-stream" }, signal: ac.signal });
  const texts: string[] = [];
  let onClose!: (c: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (onClose = r));
  void (async () => {
    const dec = new TextDecoder();
    let buf = "";
    try {
      const res = await response;
      for await (const chunk of res.body!) {
        buf += dec.decode(chunk, { stream: true });
        for (let cut = buf.indexOf("\n\n"); cut >= 0; cut = buf.indexOf("\n\n")) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data === undefined) continue;
          if (event === "close") onClose(JSON.parse(data));
          else texts.push(data);
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return { texts, closed, close: () => ac.abort() };
}

runSocketSuite("SSE streams", {
  async start(host) {
    const streams = new StreamTransport();
    const both = new CompositeTransport(bunTransport(), streams);
    const addr = await both.listen(routed(host, streams), OPTS);
    return { t: streams, port: addr.port, stop: () => both.stop(true) };
  },
  connect,
  async connectPausable(port) {
    const socket = net.connect({ port, host: "127.0.0.1" });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    });
    socket.on("error", () => {});
    socket.on("data", () => {});
    socket.write(`GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`);
    return { pause: () => socket.pause(), resume: () => socket.resume(), destroy: () => socket.destroy() };
  },
});
