/**
 * Connection ramp: opens idle WebSocket connections (upgrade, then the
 * server's welcome frame) `--concurrency` at a time until `--target` are
 * open, errors come in a wall, or `--max-seconds` pass, whichever first.
 * With `--sources S` > 1 the source address rotates over 127.0.0.1 …
 * 127.0.0.S (node:net's `localAddress`; Bun.connect has none): the kernel's
 * search for a free ephemeral port lengthens as one source's range fills,
 * and past one source's ~28k ports it fails. Then it holds them, answering
 * pings and reading nothing else. With `--topic T` each connection also
 * subscribes to T once welcomed, and `count` says how many connections
 * have received a publication since (one per socket, counted once).
 * Several connectors share a machine's load: `--source-base B` moves this
 * one's addresses to 127.0.0.(B+1) … 127.0.0.(B+S), so no two compete for
 * ports, and each stays under its own open-files limit.
 *
 * Prints {progress} lines while ramping, then {ramped}. Control: count, exit.
 * Args: --port P --target N [--concurrency C] [--sources S] [--source-base B]
 *       [--topic T] [--max-seconds T]
 * @module
 */
import net from "node:net";
import { pack } from "msgpackr";
import { argInt, argNumber } from "../../lib/args.ts";

const argv = process.argv;
const port = argInt(argv, "--port", 0, 1, 65535);
const target = argInt(argv, "--target", 1000, 1, 1_000_000);
const concurrency = argInt(argv, "--concurrency", 200, 1, 10_000);
const sources = argInt(argv, "--sources", 1, 1, 250);
const sourceBase = argInt(argv, "--source-base", 0, 0, 250);
const maxSeconds = argNumber(argv, "--max-seconds", 60, 1, 3600);
const topicAt = argv.indexOf("--topic");
const topic = topicAt > 0 ? argv[topicAt + 1] : undefined;
/** The sub frame, masked with a zero key (payload unchanged), built once for every connection. */
const SUB = topic === undefined ? undefined : wsFrame(pack({ t: "sub", id: 1, topic }));
/** A msgpack `msg` frame holds the fixstr "msg" (0xa3 'm' 's' 'g'); acks and welcomes do not. */
const MSG = Buffer.from([0xa3, 0x6d, 0x73, 0x67]);
/** Connections that received at least one publication. */
let gotMsg = 0;
const counted = new WeakSet<net.Socket>();
/** A wall of errors: this many failures in a row, or half the last 1,000 attempts. */
const WALL_IN_A_ROW = 200;

function wsFrame(payload: Uint8Array): Buffer {
  if (payload.length >= 126) throw new Error("sub frame too long");
  const f = Buffer.alloc(6 + payload.length);
  f[0] = 0x82;
  f[1] = 0x80 | payload.length;
  f.set(payload, 6);
  return f;
}

const reply = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");
const REQUEST = `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: tickgate.msgpack\r\n\r\n`;

const open = new Set<net.Socket>();
let attempts = 0;
let failed = 0;
let inRow = 0;
let inFlight = 0;
let closedAfterOpen = 0;
const recent: boolean[] = [];
const errors = new Map<string, number>();
let stoppedBy: "target" | "errors" | "time" | null = null;
const t0 = performance.now();

function note(ok: boolean, why?: string): void {
  recent.push(ok);
  if (recent.length > 1000) recent.shift();
  if (ok) inRow = 0;
  else {
    failed++;
    inRow++;
    if (why) errors.set(why, (errors.get(why) ?? 0) + 1);
  }
}

function wall(): boolean {
  if (inRow >= WALL_IN_A_ROW) return true;
  return recent.length >= 1000 && recent.filter((x) => !x).length > 500;
}

/** One connection: upgraded and welcomed, or failed. */
function connectOne(i: number): Promise<void> {
  return new Promise((resolve) => {
    // localAddress means bind() before connect(), a port search of its own over the sockets already
    // bound to that address: cheap while each address holds few, so only used with several sources.
    const s = net.connect(sources > 1 || sourceBase > 0 ? { host: "127.0.0.1", port, localAddress: `127.0.0.${sourceBase + 1 + (i % sources)}` } : { host: "127.0.0.1", port });
    let head = "";
    let done = false;
    const finish = (ok: boolean, why?: string) => {
      if (done) return;
      done = true;
      note(ok, why);
      if (ok) open.add(s);
      else s.destroy();
      resolve();
    };
    s.setNoDelay(true);
    s.on("connect", () => s.write(REQUEST));
    s.on("data", (d: Buffer) => {
      if (done) {
        // A publication after the subscription: counted once per connection.
        if (SUB && !counted.has(s) && d.includes(MSG)) {
          counted.add(s);
          gotMsg++;
        }
        // Held: answer the server's pings (opcode 9) so it keeps us; everything else is dropped.
        if (d.length >= 2 && (d[0]! & 0x0f) === 9 && (d[1]! & 0x7f) < 126) {
          const len = d[1]! & 0x7f;
          const pong = Buffer.alloc(6 + len);
          pong[0] = 0x8a;
          pong[1] = 0x80 | len;
          d.copy(pong, 6, 2, 2 + len); // zero mask: payload unchanged
          s.write(pong);
        }
        return;
      }
      head += d.toString("latin1");
      const at = head.indexOf("\r\n\r\n");
      if (at < 0) return;
      if (!head.startsWith("HTTP/1.1 101")) return finish(false, head.split("\r\n")[0]!.slice(0, 80));
      // The welcome frame follows the 101: the server has a session for us.
      if (head.length > at + 4) {
        if (SUB) s.write(SUB);
        finish(true);
      }
    });
    s.on("error", (e: NodeJS.ErrnoException) => finish(false, e.code ?? e.message));
    s.on("close", () => {
      if (done && open.delete(s)) closedAfterOpen++;
      finish(false, "closed before the welcome");
    });
  });
}

const progress = setInterval(() => reply({ progress: true, open: open.size, failed, inFlight, ms: Math.round(performance.now() - t0) }), 500);

await new Promise<void>((resolve) => {
  const pump = () => {
    if (stoppedBy === null) {
      if (open.size >= target) stoppedBy = "target";
      else if (wall()) stoppedBy = "errors";
      else if (performance.now() - t0 > maxSeconds * 1000) stoppedBy = "time";
    }
    if (stoppedBy !== null) {
      if (inFlight === 0) resolve();
      return;
    }
    while (inFlight < concurrency && open.size + inFlight < target) {
      const i = attempts++;
      inFlight++;
      void connectOne(i).then(() => {
        inFlight--;
        pump();
      });
    }
  };
  pump();
  // The time limit must end a ramp that stalls with everything in flight.
  const guard = setInterval(() => {
    pump();
    if (stoppedBy !== null && inFlight === 0) {
      clearInterval(guard);
      resolve();
    }
  }, 100);
  guard.unref?.();
});
clearInterval(progress);
const ms = performance.now() - t0;
reply({ ramped: true, open: open.size, failed, attempts, ms: Math.round(ms), perSec: open.size / (ms / 1000), stoppedBy, errors: Object.fromEntries([...errors].slice(0, 8)) });

for await (const line of console) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line) as { cmd: string };
  if (cmd.cmd === "count") reply({ re: "count", open: open.size, closedAfterOpen, gotMsg });
  else if (cmd.cmd === "exit") {
    for (const s of open) s.destroy();
    process.exit(0);
  } else reply({ re: cmd.cmd, error: `unknown command ${cmd.cmd}` });
}
process.exit(0);
