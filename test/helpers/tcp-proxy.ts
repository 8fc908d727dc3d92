/**
 * A TCP proxy on loopback that knows one thing about HTTP: whether a
 * connection's first request asks for a WebSocket upgrade. It can cut every
 * WebSocket connection (a TCP reset both ways, as a network drop would) and
 * refuse upgrades with a 503 while passing plain HTTP (SSE, publishes)
 * through untouched: a proxy or firewall that lets HTTP through but not
 * WebSockets (issue 15).
 */
import net from "node:net";

export interface TcpProxy extends AsyncDisposable {
  port: number;
  /** `ws://127.0.0.1:<port>/ws`: the client's URL through the proxy. */
  url: string;
  /** Live WebSocket connections through the proxy. */
  readonly websockets: number;
  /** Upgrade requests answered 503 so far. */
  readonly refused: number;
  /** Plain HTTP requests passed through that asked for `path` (e.g. `/sse`). */
  passed(path: string): number;
  /** Resets every WebSocket connection, both sides. */
  cutWebSockets(): void;
  /** While on, upgrade requests get `503` and the connection closes; plain HTTP still passes. */
  refuseUpgrades(on: boolean): void;
}

const HEAD_LIMIT = 64 * 1024;

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const websockets = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const sockets = new Set<net.Socket>();
  const paths: string[] = [];
  let refusing = false;
  let refused = 0;

  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0 && head.length < HEAD_LIMIT) return;
      client.off("data", onData);
      client.pause();
      const text = head.subarray(0, end < 0 ? head.length : end).toString("latin1");
      const upgrade = /^upgrade:\s*websocket\s*$/im.test(text);
      if (upgrade && refusing) {
        refused++;
        client.end("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
      }
      if (!upgrade) paths.push(/^\S+\s+(\S+)/.exec(text)?.[1] ?? "");
      const upstream = net.connect({ port: targetPort, host: "127.0.0.1" });
      sockets.add(upstream);
      const pair = { client, upstream };
      if (upgrade) websockets.add(pair);
      const end2 = () => {
        websockets.delete(pair);
        sockets.delete(upstream);
        client.destroy();
        upstream.destroy();
      };
      client.on("close", end2);
      upstream.on("error", end2).on("close", end2);
      upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    };
    client.on("data", onData);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    get websockets() {
      return websockets.size;
    },
    get refused() {
      return refused;
    },
    passed: (path) => paths.filter((p) => p === path || p.startsWith(`${path}?`)).length,
    cutWebSockets() {
      for (const { client, upstream } of [...websockets]) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
      websockets.clear();
    },
    refuseUpgrades(on) {
      refusing = on;
    },
    async [Symbol.asyncDispose]() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
