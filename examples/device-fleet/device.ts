/**
 * A simulated Raspberry Pi Pico W. It speaks the wire protocol directly, in
 * JSON, the way MicroPython firmware would: there is no tickgate SDK on a
 * microcontroller, and a few dozen lines of frames are all a device needs
 * (see docs/protocol.md, "Devices"). The fleet's ESP32-CAM, in `camera.ts`,
 * is the other way to write a device: on the TypeScript client SDK.
 *
 *   connect   token in `Authorization: Bearer` (authVia "header") or in a
 *             first {t:"auth", token} frame (authVia "frame")
 *   hello     {t:"hello", client:"device", meta:{kind, version}}  → ack (the seed's connection_ack)
 *   log       {t:"log", level, message}                          → devices.<id>.log
 *   pub       devices.<id>.telemetry                              (its token allows devices.<id>.>)
 *   ping      {t:"ping"} every pingEveryMs                        → pong (native pings are answered by the WebSocket stack)
 *   command   {t:"command", cid, name, data}  → {t:"command_ack", cid, data}, once per cid;
 *             a command it does not know → {t:"command_nack", cid, code:"UNKNOWN_COMMAND", message}
 * @module
 */

export interface DeviceOptions {
  url: string;
  /** With auth on, the id is the token's `sub`; this is only for printing. */
  id: string;
  /** No token: the device tries anyway (and is refused). */
  token?: string;
  authVia?: "header" | "frame";
  version?: string;
  logEveryMs?: number;
  telemetryEveryMs?: number;
  pingEveryMs?: number;
  /** How long a command takes before it is acknowledged. */
  commandMs?: number;
  /** Reconnect after an abnormal close (default 1000 ms; 0: never). Refused tokens are never retried. */
  reconnectMs?: number;
  print?: (line: string) => void;
}

type Frame = Record<string, any> & { t: string };

export class SimDevice {
  readonly o: Required<Omit<DeviceOptions, "token">> & { token: string | undefined };
  #ws: WebSocket | undefined;
  #timers: ReturnType<typeof setInterval>[] = [];
  #stopped = false;
  #ids = 0;
  #readyWaiters: ((err?: Error) => void)[] = [];
  /** Answers by cid: a redelivered command is acknowledged (or refused) again, never run twice. */
  readonly results = new Map<string, { ack: unknown } | { nack: { code: string; message: string } }>();
  readonly #running = new Set<string>();
  /** How many times each command name actually ran. */
  readonly executed: Record<string, number> = {};
  /** Frames from the server, newest last (for tests and curiosity). */
  readonly received: Frame[] = [];
  lastClose: { code: number; reason: string } | undefined;
  lastRttMs: number | undefined;
  ready = false;

  constructor(opts: DeviceOptions) {
    this.o = {
      authVia: "header",
      version: "1.0.0",
      logEveryMs: 10_000,
      telemetryEveryMs: 5_000,
      pingEveryMs: 30_000,
      commandMs: 20,
      reconnectMs: 1_000,
      print: (l) => console.log(l),
      ...opts,
      token: opts.token,
    };
  }

  get name(): string {
    return `pico:${this.o.id}`;
  }

  /** Connects; resolves once the server acknowledged the hello, rejects if the device is refused. */
  start(): Promise<void> {
    this.#stopped = false;
    this.#connect();
    return this.whenReady();
  }

  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve, reject) => this.#readyWaiters.push((err) => (err ? reject(err) : resolve())));
  }

  /** Closes normally (1000): the server publishes presence offline/normal and no will. */
  stop(): void {
    this.#stopped = true;
    this.#clearTimers();
    this.#ws?.close(1000, "device stopping");
  }

  /** Resolves with the close code once the connection is gone. */
  closed(): Promise<{ code: number; reason: string }> {
    if (!this.#ws || this.#ws.readyState === WebSocket.CLOSED) return Promise.resolve(this.lastClose ?? { code: 0, reason: "" });
    const ws = this.#ws;
    return new Promise((resolve) => ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason })));
  }

  send(frame: Record<string, unknown>): void {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(frame));
  }

  #connect(): void {
    const p = this.o.print;
    const protocols = ["tickgate.json"];
    // Says what it is before it has authenticated (the token's client type wins afterwards).
    const url = new URL(this.o.url);
    url.searchParams.set("client", "device");
    const headers = this.o.token && this.o.authVia === "header" ? { Authorization: `Bearer ${this.o.token}` } : undefined;
    // Bun's WebSocket takes headers (browsers cannot: they use ?token= or the auth frame).
    const ws = headers ? new WebSocket(url, { protocols, headers } as unknown as string[]) : new WebSocket(url, protocols);
    this.#ws = ws;
    ws.onmessage = (e) => this.#onFrame(JSON.parse(String(e.data)) as Frame);
    ws.onclose = (e) => {
      this.#clearTimers();
      this.ready = false;
      this.lastClose = { code: e.code, reason: e.reason };
      p(`${this.name}: closed ${e.code}${e.reason ? ` (${e.reason})` : ""}`);
      const refused = e.code === 4401 || e.code === 4408 || e.code === 4403;
      this.#settle(new Error(`${this.name} refused: close ${e.code} ${e.reason}`));
      if (!this.#stopped && !refused && this.o.reconnectMs > 0 && e.code !== 1000) setTimeout(() => !this.#stopped && this.#connect(), this.o.reconnectMs);
    };
  }

  #settle(err?: Error): void {
    for (const w of this.#readyWaiters.splice(0)) w(err);
  }

  #hello(): void {
    this.send({ t: "hello", id: "hello", client: "device", meta: { kind: "pico", version: this.o.version } });
  }

  #onFrame(f: Frame): void {
    const p = this.o.print;
    this.received.push(f);
    if (this.received.length > 200) this.received.shift();
    switch (f.t) {
      case "welcome":
        if (this.o.token && this.o.authVia === "frame") this.send({ t: "auth", id: "auth", token: this.o.token });
        else this.#hello();
        return;
      case "ack":
        if (f.id === "auth") return this.#hello();
        if (f.id === "hello") {
          p(`${this.name}: connected (hello acknowledged, session ${this.#sessionOf()})`);
          this.ready = true;
          this.#startTimers();
          this.#settle();
        }
        return;
      case "pong":
        if (typeof f.id === "string" && f.id.startsWith("ping-")) this.lastRttMs = Date.now() - Number(f.id.slice(5));
        return;
      case "error":
        p(`${this.name}: error ${f.code}${f.id !== undefined ? ` (to ${f.id})` : ""}: ${f.message}`);
        return;
      case "command":
        return this.#onCommand(f);
    }
  }

  #sessionOf(): string {
    return this.received.find((f) => f.t === "welcome")?.session ?? "?";
  }

  #onCommand(f: Frame): void {
    const cid = String(f.cid);
    const done = this.results.get(cid);
    if (done) return this.#answer(cid, done);
    if (this.#running.has(cid)) return; // redelivered while still running: answered when done
    this.#running.add(cid);
    this.o.print(`${this.name}: command ${f.name} ${JSON.stringify(f.data ?? null)} (cid ${cid})`);
    setTimeout(() => {
      const answer = this.#run(String(f.name), f.data);
      this.#running.delete(cid);
      this.results.set(cid, answer);
      this.#answer(cid, answer);
    }, this.o.commandMs);
  }

  #answer(cid: string, a: { ack: unknown } | { nack: { code: string; message: string } }): void {
    if ("ack" in a) this.send({ t: "command_ack", cid, data: a.ack });
    else this.send({ t: "command_nack", cid, ...a.nack });
  }

  #run(name: string, data: any): { ack: unknown } | { nack: { code: string; message: string } } {
    if (name === "reboot" || name === "blink" || name === "read_sensors") this.executed[name] = (this.executed[name] ?? 0) + 1;
    if (name === "reboot") return { ack: { ok: true, rebooting_in_s: 3 } };
    if (name === "blink") return { ack: { ok: true, blinked: Number(data?.times ?? 1) } };
    if (name === "read_sensors") return { ack: { ok: true, temperature_c: 21 + Math.round(Math.random() * 50) / 10, humidity: 40 + Math.round(Math.random() * 100) / 10 } };
    // Refused for good: the operator's command() rejects with this code, and the server stops resending it.
    return { nack: { code: "UNKNOWN_COMMAND", message: `a pico does not know '${name.slice(0, 64)}'` } };
  }

  #startTimers(): void {
    this.#clearTimers();
    const o = this.o;
    this.#timers.push(
      setInterval(() => this.send({ t: "log", level: "info", message: `pico ${o.id} alive, uptime ${Math.round(performance.now() / 1000)} s` }), o.logEveryMs),
      setInterval(() => {
        const reading = { temperature_c: 21 + Math.round(Math.random() * 50) / 10, vsys: 4.9 };
        this.send({ t: "pub", topic: `devices.${o.id}.telemetry`, key: o.id, data: { ...reading, ts: Date.now() } });
      }, o.telemetryEveryMs),
      setInterval(() => this.send({ t: "ping", id: `ping-${Date.now()}` }), o.pingEveryMs),
    );
    this.send({ t: "log", level: "info", message: `pico firmware ${o.version} booted` });
  }

  #clearTimers(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
  }
}
