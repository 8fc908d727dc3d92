/**
 * The transport contract, as one suite every transport runs (Bun's now; the
 * uWebSockets.js adapter on Node will run the same cases). It drives the
 * transport with a minimal host, not the tickgate server, so a failure
 * points at the adapter. Real sockets on 127.0.0.1, port 0.
 *
 * Two halves: {@link runSocketSuite} is the `ServerSocket` contract (send,
 * native channels, backpressure and drain, close) against any peer, so
 * WebSocket transports and the SSE stream transport run the same cases;
 * {@link runTransportSuite} adds what only a WebSocket server has (HTTP
 * routing, upgrade, incoming messages, stop) and runs the socket half with
 * WebSocket peers.
 */
import { describe, expect, test } from "bun:test";
import type { ServerSocket, Transport, TransportHost, UpgradeInfo } from "../../src/core/transport.ts";
import { rawConnect } from "../helpers/raw-ws.ts";

/** A connected client, as the socket half sees it: the text frames it got, and how it ended. */
export interface Peer {
  readonly texts: string[];
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

/** A client that can stop reading (so the server's queue fills) and start again. */
export interface PausablePeer {
  pause(): void;
  resume(): void;
  destroy(): void;
}

/** How the socket half starts a transport and connects peers to it. */
export interface SocketHarness {
  start(host: RecordingHost): Promise<{ t: Transport; port: number; stop(): Promise<void> }>;
  connect(port: number): Promise<Peer>;
  connectPausable(port: number): Promise<PausablePeer>;
}

export interface State {
  id: number;
  socket?: ServerSocket;
  messages: (Uint8Array | string)[];
  closed?: { code: number; reason: string };
  drains: number;
}

export class RecordingHost implements TransportHost<State> {
  readonly wsPath = "/ws";
  readonly states: State[] = [];
  refuse: Response | null = null;
  /** Close every socket as it opens, as the core does for an upgrade refused for its Origin (4406). */
  closeOnOpen: { code: number; reason: string } | null = null;
  lastUpgrade: UpgradeInfo | undefined;
  #n = 0;
  async upgrade(info: UpgradeInfo) {
    this.lastUpgrade = info;
    if (this.refuse) return this.refuse;
    const s: State = { id: ++this.#n, messages: [], drains: 0 };
    this.states.push(s);
    return info.protocols.includes("p2") ? { state: s, protocol: "p2" } : { state: s };
  }
  onOpen(socket: ServerSocket, s: State) {
    s.socket = socket;
    if (this.closeOnOpen) socket.close(this.closeOnOpen.code, this.closeOnOpen.reason);
  }
  onMessage(s: State, data: Uint8Array | string) {
    // Copy: a transport may reuse the buffer after the callback (uWS.js does).
    s.messages.push(typeof data === "string" ? data : new Uint8Array(data));
    if (data === "echo") s.socket!.send("echoed");
  }
  onDrain(s: State) {
    s.drains++;
  }
  onClose(s: State, code: number, reason: string) {
    s.closed = { code, reason };
  }
  fetch(req: Request, ip: string) {
    return Response.json({ path: new URL(req.url).pathname, ip });
  }
}

export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const OPTS = { host: "127.0.0.1", port: 0, maxFrameBytes: 64 * 1024, backpressureLimit: 16 * 1024 * 1024, idleTimeoutSec: 120, sendPings: true, perMessageDeflate: false };

export function runSocketSuite(name: string, harness: SocketHarness): void {
  async function start(host = new RecordingHost()) {
    const r = await harness.start(host);
    return { ...r, host, [Symbol.asyncDispose]: () => r.stop() };
  }
  const opened = (s: { host: RecordingHost }, n: number) => until(() => s.host.states.filter((x) => x.socket).length === n);

  describe(`socket conformance: ${name}`, () => {
    test("send reaches the peer", async () => {
      await using s = await start();
      const p = await harness.connect(s.port);
      await opened(s, 1);
      expect(s.host.states[0]!.socket!.send("hello")).toBe("sent");
      await until(() => p.texts.includes("hello"));
      p.close();
    });

    test("publish reaches exactly the sockets subscribed to that channel, same bytes each", async () => {
      await using s = await start();
      const peers = [await harness.connect(s.port), await harness.connect(s.port), await harness.connect(s.port)];
      await opened(s, 3);
      s.host.states[0]!.socket!.subscribe("t|a");
      s.host.states[1]!.socket!.subscribe("t|a");
      s.host.states[2]!.socket!.subscribe("t|other");
      s.t.publish("t|a", "first");
      await until(() => peers[0]!.texts.includes("first") && peers[1]!.texts.includes("first"));
      s.host.states[1]!.socket!.unsubscribe("t|a");
      s.t.publish("t|a", "second");
      await until(() => peers[0]!.texts.includes("second"));
      // A sentinel sent straight to every peer shows nothing else is still on its way.
      for (const st of s.host.states) st.socket!.send("end");
      await until(() => peers.every((p) => p.texts.includes("end")));
      expect(peers.map((p) => p.texts.filter((x) => x !== "end"))).toEqual([["first", "second"], ["first"], []]);
      for (const p of peers) p.close();
    });

    test("a peer that stops reading shows queued bytes, then drains", async () => {
      await using s = await start();
      const raw = await harness.connectPausable(s.port);
      await opened(s, 1);
      const sock = s.host.states[0]!.socket!;
      raw.pause();
      const chunk = "x".repeat(64 * 1024);
      const results = new Set<string>();
      for (let i = 0; i < 400 && sock.bufferedAmount() === 0; i++) results.add(sock.send(chunk));
      for (let i = 0; i < 10; i++) results.add(sock.send(chunk));
      expect(sock.bufferedAmount()).toBeGreaterThan(0);
      expect(results.has("buffered")).toBe(true);
      raw.resume();
      await until(() => sock.bufferedAmount() === 0 && s.host.states[0]!.drains > 0, 10_000);
      raw.destroy();
    });

    test("close(code, reason) reaches the peer; onClose runs once", async () => {
      await using s = await start();
      const p = await harness.connect(s.port);
      await opened(s, 1);
      s.host.states[0]!.socket!.close(4321, "bye");
      expect(await p.closed).toEqual({ code: 4321, reason: "bye" });
      await until(() => s.host.states[0]!.closed !== undefined);
      expect(s.host.states[0]!.closed!.code).toBe(4321);
    });
  });
}

/** Peers over WebSocket, for a transport that is a WebSocket server. */
export function webSocketHarness(make: () => Transport): SocketHarness {
  return {
    async start(host) {
      const t = make();
      const addr = await t.listen(host, OPTS);
      return { t, port: addr.port, stop: () => t.stop(true) };
    },
    async connect(port) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      const texts: string[] = [];
      ws.onmessage = (e) => typeof e.data === "string" && texts.push(e.data);
      const closed = new Promise<{ code: number; reason: string }>((r) => (ws.onclose = (e) => r({ code: e.code, reason: e.reason })));
      await new Promise((r) => (ws.onopen = r));
      return { texts, closed, close: () => ws.close() };
    },
    async connectPausable(port) {
      const raw = await rawConnect(port);
      return { pause: () => raw.pause(), resume: () => raw.resume(() => {}), destroy: () => raw.destroy() };
    },
  };
}

export function runTransportSuite(name: string, make: () => Transport): void {
  runSocketSuite(name, webSocketHarness(make));

  async function start(host = new RecordingHost()) {
    const t = make();
    const addr = await t.listen(host, OPTS);
    return { t, host, port: addr.port, [Symbol.asyncDispose]: () => t.stop(true) };
  }

  describe(`transport conformance: ${name}`, () => {
    test("plain HTTP goes to host.fetch with the remote address", async () => {
      await using s = await start();
      expect(await (await fetch(`http://127.0.0.1:${s.port}/anything`)).json()).toEqual({ path: "/anything", ip: "127.0.0.1" });
    });

    test("upgrade passes URL, headers and offered subprotocols; the chosen one is answered", async () => {
      await using s = await start();
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws?x=1`, ["p1", "p2"]);
      await new Promise((r) => (ws.onopen = r));
      expect(ws.protocol).toBe("p2");
      expect(s.host.lastUpgrade!.url.searchParams.get("x")).toBe("1");
      expect(s.host.lastUpgrade!.protocols).toEqual(["p1", "p2"]);
      ws.close();
    });

    test("a Response from upgrade refuses the connection with that status", async () => {
      const host = new RecordingHost();
      host.refuse = Response.json({ no: true }, { status: 401 });
      await using s = await start(host);
      const res = await fetch(`http://127.0.0.1:${s.port}/ws`, { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
      expect(res.status).toBe(401);
    });

    test("a close from inside onOpen completes the handshake, then reaches the peer with its code and reason", async () => {
      const host = new RecordingHost();
      host.closeOnOpen = { code: 4406, reason: "origin 'https://elsewhere.example' is not allowed" };
      await using s = await start(host);
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`, ["p2"]);
      let opened = false;
      ws.onopen = () => (opened = true);
      const closed = await new Promise<{ code: number; reason: string }>((r) => (ws.onclose = (e) => r({ code: e.code, reason: e.reason })));
      expect({ opened, ...closed }).toEqual({ opened: true, ...host.closeOnOpen });
      await until(() => s.host.states[0]!.closed !== undefined);
      expect(s.host.states[0]!.closed!.code).toBe(4406);
    });

    test("messages arrive as bytes or text; send reaches the peer", async () => {
      await using s = await start();
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`);
      ws.binaryType = "arraybuffer";
      const got: unknown[] = [];
      ws.onmessage = (e) => got.push(e.data);
      await new Promise((r) => (ws.onopen = r));
      ws.send(Uint8Array.of(1, 2, 3));
      ws.send("echo");
      await until(() => got.length === 1);
      expect(got[0]).toBe("echoed");
      expect(s.host.states[0]!.messages).toEqual([Uint8Array.of(1, 2, 3), "echo"]);
      ws.close();
    });

    test("publish hands binary frames to subscribed sockets as the same bytes", async () => {
      await using s = await start();
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`);
      ws.binaryType = "arraybuffer";
      const got: Uint8Array[] = [];
      ws.onmessage = (e) => got.push(new Uint8Array(e.data as ArrayBuffer));
      await new Promise((r) => (ws.onopen = r));
      await until(() => s.host.states[0]?.socket !== undefined);
      s.host.states[0]!.socket!.subscribe("b|a");
      s.t.publish("b|a", Uint8Array.of(9, 9));
      await until(() => got.length === 1);
      expect(got[0]).toEqual(Uint8Array.of(9, 9));
      ws.close();
    });

    test("stop(false) refuses new connections; open sockets stay until closed", async () => {
      const s = await start();
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`);
      await new Promise((r) => (ws.onopen = r));
      await s.t.stop(false);
      await expect(fetch(`http://127.0.0.1:${s.port}/x`)).rejects.toThrow();
      expect(ws.readyState).toBe(WebSocket.OPEN);
      await s.t.stop(true);
      await until(() => ws.readyState === WebSocket.CLOSED);
    });
  });
}
