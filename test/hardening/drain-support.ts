/** Helpers for the drain tests: a device that never acks, SSE streams read to their end. */
import { connect, type TestClient } from "../helpers/client.ts";

/** Connects a device (auth off) that receives commands and never acknowledges them. */
export async function silentDevice(wsUrl: string, id: string): Promise<TestClient> {
  const d = await connect(wsUrl, { encoding: "json" });
  d.send({ t: "hello", id: "h", client: "device", device: id });
  const ack = await d.next((f) => f.id === "h");
  if (ack.t !== "ack") throw new Error(`hello refused: ${JSON.stringify(ack)}`);
  return d;
}

export type Answer = { status: number; body: string } | { cut: string };

/** POSTs a command; resolves once the device holds it, with the HTTP answer still pending. */
export async function pendingCommand(base: string, device: TestClient, id: string): Promise<{ answer: Promise<Answer> }> {
  const answer = fetch(`${base}/api/command`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ device: id, name: "reboot" }) }).then(
    async (r) => ({ status: r.status, body: await r.text() }),
    (e: unknown) => ({ cut: String(e) }),
  );
  await device.next((f) => f.t === "command");
  // Wrapped: an async function returning a bare promise would wait for it.
  return { answer };
}

export interface StreamEnd {
  text: string;
  /** The connection ended without the stream's chunked terminator (bytes lost). */
  cut: boolean;
}

/** Opens an SSE stream, waits for its first event, and returns a promise of everything it carried until it ended. */
export async function openStream(url: string): Promise<{ ended: Promise<StreamEnd> }> {
  const res = await fetch(url, { headers: { accept: "text/event-stream" } });
  if (res.status !== 200) throw new Error(`SSE refused: ${res.status} ${await res.text()}`);
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = "";
  let first!: () => void;
  const started = new Promise<void>((r) => (first = r));
  const ended = (async (): Promise<StreamEnd> => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return { text, cut: false };
        text += dec.decode(value, { stream: true });
        if (text.includes("\n\n")) first();
      }
    } catch {
      return { text, cut: true };
    } finally {
      first();
    }
  })();
  await started;
  return { ended };
}

/**
 * An SSE stream over a raw socket that stops reading once the stream is
 * open, so what the server writes piles up in its buffers. `resume()`
 * reads on and resolves with everything the connection carried.
 */
export async function pausedStream(port: number, path: string): Promise<{ resume(): Promise<string> }> {
  const { connect } = await import("node:net");
  const sock = connect(port, "127.0.0.1");
  sock.on("error", () => {});
  let text = "";
  const closed = new Promise<void>((r) => sock.once("close", () => r()));
  let paused = false;
  await new Promise<void>((resolve) => {
    sock.on("data", (d) => {
      text += d.toString("latin1");
      if (!paused && text.includes("event: welcome")) {
        paused = true;
        sock.pause();
        resolve();
      }
    });
    sock.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n`);
  });
  return {
    async resume() {
      sock.resume();
      await closed;
      return text;
    },
  };
}
