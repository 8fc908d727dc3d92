/**
 * `GET /metrics` against a real server: the body is valid Prometheus text,
 * carries every metric the operators' dashboards use, and the counters move
 * when real traffic flows through real sockets.
 */
import { describe, expect, test } from "bun:test";
import { MAX_CLASSES, OTHER, processRegistry } from "../../src/http/metrics.ts";
import { packr, unpackr } from "../../src/protocol/codec.ts";
import { connect, subscribe } from "../helpers/client.ts";
import { rawConnect } from "../helpers/raw-ws.ts";
import { startServer, uniqueTopic, type TestServer } from "../helpers/server.ts";
import { startCli } from "../helpers/spawn.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\.)*"`;
// prom-client prints NaN as "Nan" (an empty lag histogram right after a reset); Prometheus
// parses values with Go's ParseFloat, which reads NaN and Inf case-insensitively.
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? ([nN][aA][nN]|[+-]Inf|[-+]?\\d*\\.?\\d+(?:[eE][-+]?\\d+)?)(?: -?\\d+)?$`);
const HELP = new RegExp(`^# HELP (${NAME}) .*$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);

/**
 * A strict reader of the text exposition format (0.0.4): every line is a
 * HELP or TYPE comment or `name{labels} value`, and every sample belongs to
 * a family declared by a TYPE line (histograms add _bucket, _sum, _count).
 */
function parseExposition(text: string): Sample[] {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = TYPE.exec(line);
    if (type) {
      expect(types.has(type[1]!), `duplicate TYPE for ${type[1]}`).toBe(false);
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (HELP.test(line)) continue;
    const m = SAMPLE.exec(line);
    expect(m, `not a valid exposition line: ${line}`).not.toBeNull();
    const [, name, rawLabels, value] = m!;
    const family = types.has(name!) ? name! : name!.replace(/_(bucket|sum|count)$/, "");
    expect(types.has(family), `sample ${name} has no TYPE line`).toBe(true);
    const labels: Record<string, string> = {};
    for (const l of (rawLabels ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: name!, labels, value: Number(value) });
  }
  return samples;
}

async function scrape(server: TestServer): Promise<Sample[]> {
  const res = await fetch(server.wsUrl.replace("ws:", "http:").replace("/ws", "/metrics"));
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
  return parseExposition(await res.text());
}

/** The value of one series (labels must match exactly the ones given); 0 when absent. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const hit = samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hit?.value ?? 0;
}

const REQUIRED = [
  "tickgate_info",
  "tickgate_connections",
  "tickgate_sessions",
  "tickgate_subscriptions",
  "tickgate_subscribers",
  "tickgate_topics",
  "tickgate_channels",
  "tickgate_received_messages_total",
  "tickgate_received_bytes_total",
  "tickgate_sent_bytes_total",
  "tickgate_publications_total",
  "tickgate_deliveries_total",
  "tickgate_published_payload_bytes_total",
  "tickgate_slow_consumer_dropped_total",
  "tickgate_slow_consumer_conflated_total",
  "tickgate_slow_consumer_lag_events_total",
  "tickgate_slow_consumer_disconnects_total",
  "tickgate_slow_consumer_lagging_sessions",
  "tickgate_encoded_frames_total",
  "tickgate_publish_to_send_seconds_bucket",
  "tickgate_publish_to_send_seconds_count",
  "nodejs_eventloop_lag_seconds",
  "process_cpu_seconds_total",
  "process_resident_memory_bytes",
  "nodejs_heap_size_used_bytes",
];

describe("GET /metrics", () => {
  test("is valid Prometheus text with every documented metric", async () => {
    await using server = await startServer();
    await using c = await connect(server.wsUrl);
    await subscribe(c, "prices.BTC");
    await subscribe(c, "prices.*");
    server.publish("prices.BTC", { bid: 1 });
    await c.collect(2, (f) => f.t === "msg");
    const samples = await scrape(server);
    const names = new Set(samples.map((s) => s.name));
    for (const n of REQUIRED) expect(names.has(n), `missing ${n}`).toBe(true);
    expect(value(samples, "tickgate_connections")).toBe(1);
    expect(value(samples, "tickgate_sessions", { client: "api" })).toBe(1);
    expect(value(samples, "tickgate_sessions", { client: "browser" })).toBe(0);
    expect(value(samples, "tickgate_subscriptions")).toBe(2);
    expect(value(samples, "tickgate_subscribers", { class: "prices" })).toBe(2);
    expect(value(samples, "tickgate_topics")).toBe(1);
    expect(value(samples, "tickgate_publications_total", { class: "prices" })).toBe(1);
    // One publication reaches the exact and the pattern subscription.
    expect(value(samples, "tickgate_deliveries_total", { class: "prices" })).toBe(2);
  });

  test("counters move when traffic flows through real sockets", async () => {
    await using server = await startServer();
    const topic = `ticks.${uniqueTopic()}`;
    await using sub = await connect(server.wsUrl);
    await using json = await connect(server.wsUrl, { encoding: "json" });
    await using pub = await connect(server.wsUrl);
    await subscribe(sub, topic);
    await subscribe(json, "ticks.>");
    const before = await scrape(server);

    // 32 publications: the latency sampler times one in 16, so exactly two samples.
    const N = 32;
    for (let i = 0; i < N; i++) pub.send({ t: "pub", id: i, topic, data: { i, bid: 100 + i } });
    await pub.collect(N, (f) => f.t === "ack");
    await sub.collect(N, (f) => f.t === "msg");
    await json.collect(N, (f) => f.t === "msg");
    const after = await scrape(server);

    const diff = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    expect(diff("tickgate_publications_total", { class: "ticks" })).toBe(N);
    expect(diff("tickgate_deliveries_total", { class: "ticks" })).toBe(2 * N);
    const payloadBytes = Array.from({ length: N }, (_, i) => packr.pack({ i, bid: 100 + i }).length).reduce((a, b) => a + b);
    expect(diff("tickgate_published_payload_bytes_total", { class: "ticks" })).toBe(payloadBytes);
    expect(diff("tickgate_received_messages_total")).toBe(N);
    expect(diff("tickgate_received_bytes_total")).toBeGreaterThan(N * 20);
    expect(diff("tickgate_sent_bytes_total")).toBeGreaterThan(N * 2 * 40);
    expect(diff("tickgate_encoded_frames_total", { encoding: "msgpack" })).toBe(N);
    expect(diff("tickgate_encoded_frames_total", { encoding: "json" })).toBe(N);
    expect(diff("tickgate_publish_to_send_seconds_count")).toBe(2);
    expect(value(after, "tickgate_publish_to_send_seconds_bucket", { le: "+Inf" })).toBe(value(after, "tickgate_publish_to_send_seconds_count"));
    expect(value(after, "tickgate_connections")).toBe(3);
  });

  test("servers in one process keep separate registries", async () => {
    await using a = await startServer();
    await using b = await startServer();
    a.publish("alpha.one", 1);
    a.publish("alpha.one", 2);
    b.publish("alpha.one", 1);
    expect(value(await scrape(a), "tickgate_publications_total", { class: "alpha" })).toBe(2);
    expect(value(await scrape(b), "tickgate_publications_total", { class: "alpha" })).toBe(1);
  });

  test(`topic classes are capped at ${MAX_CLASSES} labels plus '${OTHER}', and a class keeps its label`, async () => {
    await using server = await startServer();
    const classes = MAX_CLASSES + 10;
    // Busier classes first in line for a label: class i gets i + 1 publications.
    for (let i = 0; i < classes; i++) for (let n = 0; n <= i; n++) server.publish(`c${i}.x`, n);
    const first = await scrape(server);
    const pubs = first.filter((s) => s.name === "tickgate_publications_total");
    expect(pubs).toHaveLength(MAX_CLASSES + 1);
    const total = (classes * (classes + 1)) / 2;
    expect(pubs.reduce((n, s) => n + s.value, 0)).toBe(total);
    expect(value(first, "tickgate_publications_total", { class: `c${classes - 1}` })).toBe(classes);
    expect(value(first, "tickgate_publications_total", { class: "c0" })).toBe(0); // the quietest went to 'other'
    const other = value(first, "tickgate_publications_total", { class: OTHER });
    expect(other).toBe((10 * 11) / 2);

    // A class that arrives once the labels are spent is counted under 'other' for good.
    for (let n = 0; n < 1000; n++) server.publish("late.x", n);
    const second = await scrape(server);
    expect(second.filter((s) => s.name === "tickgate_publications_total")).toHaveLength(MAX_CLASSES + 1);
    expect(value(second, "tickgate_publications_total", { class: OTHER })).toBe(other + 1000);
  });

  test("slow-consumer drops are counted exactly, once", async () => {
    const LIMIT = 64 * 1024;
    await using server = await startServer({
      slowConsumer: { checkIntervalMs: 10, nativeLimitBytes: 64 * 1024 * 1024 },
      defaultPolicy: { maxPayload: 128 * 1024, limitBytes: LIMIT },
      policies: [{ match: "drop.>", action: "drop" }],
    });
    const topic = `drop.${uniqueTopic()}`;
    const raw = await rawConnect(server.port);
    let acked!: () => void;
    const ack = new Promise<void>((r) => (acked = r));
    raw.resume((p) => {
      const f = unpackr.unpack(p) as { t: string; id?: number };
      if (f.t === "ack" && f.id === 1) acked();
    });
    raw.sendFrame({ t: "sub", topic, id: 1 });
    await ack;
    raw.pause();
    const pad = "x".repeat(30_000);
    for (let n = 0; n < 3000 && server.guard.counters.lagEvents === 0; n++) {
      server.publish(topic, { n, pad });
      if (n % 8 === 7) await new Promise((r) => setTimeout(r, 5));
    }
    expect(server.guard.counters.lagEvents).toBe(1);
    // Publications while it lags are dropped for it; the count is settled when it drains.
    for (let n = 0; n < 5; n++) server.publish(topic, { n, pad });
    raw.resume(() => {});
    const deadline = Date.now() + 10_000;
    while (server.guard.counters.dropped === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const samples = await scrape(server);
    raw.destroy();
    expect(value(samples, "tickgate_slow_consumer_lag_events_total")).toBe(1);
    expect(value(samples, "tickgate_slow_consumer_dropped_total")).toBe(server.guard.counters.dropped);
    expect(server.guard.counters.dropped).toBeGreaterThanOrEqual(5);
  }, 20_000);

  test("event-loop lag is measured (prom-client's monitor works under Bun)", async () => {
    await using server = await startServer();
    await scrape(server); // starts the process metrics and resets the lag window
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        const until = performance.now() + 120;
        while (performance.now() < until);
        resolve();
      }, 20),
    );
    await new Promise((r) => setTimeout(r, 30));
    const samples = await scrape(server);
    const max = samples.find((s) => s.name === "nodejs_eventloop_lag_max_seconds");
    const lag = max ?? samples.find((s) => s.name === "nodejs_eventloop_lag_seconds")!;
    expect(lag.value).toBeGreaterThanOrEqual(0.08);
  });

  test("names follow the Prometheus naming guide", async () => {
    await using server = await startServer();
    await using c = await connect(server.wsUrl);
    await subscribe(c, "guide.x");
    server.publish("guide.x", { n: 1 });
    await c.next((f) => f.t === "msg");
    // An origin refusal, so tickgate_security_events_total has a kind to check.
    await fetch(server.wsUrl.replace("ws:", "http:"), { headers: { upgrade: "websocket", connection: "Upgrade", origin: "https://evil.example", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" } }).catch(() => undefined);
    const res = await fetch(server.wsUrl.replace("ws:", "http:").replace("/ws", "/metrics"));
    const text = await res.text();
    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    const ours = [...types].filter(([n]) => n.startsWith("tickgate_"));
    expect(ours.length).toBeGreaterThan(15);
    for (const [name, type] of ours) {
      expect(name, "snake_case").toMatch(/^[a-z][a-z0-9_]*$/);
      // Counters, and only counters, end in _total.
      expect(name.endsWith("_total"), `${name} is a ${type}`).toBe(type === "counter");
      // A unit is the last word of the name, before _total: received_bytes_total, not bytes_received_total.
      for (const unit of ["bytes", "seconds"]) {
        if (name.includes(`_${unit}`)) expect(name, `${name}: unit last`).toMatch(new RegExp(`_${unit}(_total)?$`));
      }
    }
    // One counter per fact: no name is another's with a prefix added (dropped_total beside slow_consumer_dropped_total).
    const counters = ours.filter(([, t]) => t === "counter").map(([n]) => n.replace(/^tickgate_/, ""));
    for (const a of counters) for (const b of counters) if (a !== b) expect(b.endsWith(`_${a}`), `${b} duplicates ${a}`).toBe(false);
    const samples = parseExposition(text);
    for (const s of samples.filter((x) => x.name.startsWith("tickgate_"))) {
      for (const [label, v] of Object.entries(s.labels)) {
        expect(label).toMatch(/^[a-z][a-z0-9_]*$/);
        if (["kind", "client", "encoding", "runtime"].includes(label)) expect(v, `${s.name}{${label}}`).toMatch(/^[a-z][a-z0-9_]*$/);
      }
    }
    expect(samples.some((x) => x.name === "tickgate_security_events_total" && x.labels.kind === "refused_origin")).toBe(true);
  });

  test("tickgate_info names the real runtime and version; no made-up nodejs_version_info under Bun", async () => {
    await using server = await startServer();
    const samples = await scrape(server);
    const info = samples.find((s) => s.name === "tickgate_info")!;
    expect(info.labels.runtime).toBe("bun");
    expect(info.labels.runtime_version).toBe(Bun.version);
    expect(samples.some((s) => s.name === "nodejs_version_info")).toBe(false);
  });

  test("in a fresh process prom-client loads on the first scrape, yet process CPU counts from the process's start", async () => {
    await using cli = await startCli(["serve", "--port", "0", "--no-demo", "--log-level", "warn"]);
    // utime + stime in clock ticks (fields 14 and 15 of /proc/PID/stat); 100 per second on Linux.
    const stat = (await Bun.file(`/proc/${cli.proc.pid}/stat`).text()).split(") ")[1]!.split(" ");
    const cpuBefore = (Number(stat[11]) + Number(stat[12])) / 100;
    expect(cpuBefore).toBeGreaterThan(0);
    const text = await (await fetch(`http://127.0.0.1:${cli.port}/metrics`)).text();
    const samples = parseExposition(text);
    const total = samples.find((x) => x.name === "process_cpu_seconds_total")!.value;
    // One clock tick of slack for the /proc reading's rounding.
    expect(total).toBeGreaterThanOrEqual(cpuBefore - 0.01);
    const user = samples.find((x) => x.name === "process_cpu_user_seconds_total")!.value;
    const system = samples.find((x) => x.name === "process_cpu_system_seconds_total")!.value;
    expect(user + system).toBeCloseTo(total, 3);
    for (const s of samples.filter((x) => x.name.startsWith("nodejs_eventloop_lag"))) expect(s.value, s.name).toBeLessThan(60);
  });

  test("process metrics run from the start: a first scrape, and scrapes back to back, show no absurd lag", async () => {
    await using server = await startServer();
    const first = await scrape(server);
    // Two reads within one 10 ms sampling interval: the second window is empty.
    const reg = processRegistry();
    await reg.metrics();
    const back = parseExposition(await reg.metrics());
    for (const samples of [first, back]) {
      const lag = samples.filter((s) => s.name.startsWith("nodejs_eventloop_lag"));
      expect(lag.length).toBeGreaterThan(0);
      // A minute: far above any real stall here, far below the 9.2e9 s of an empty window.
      for (const s of lag) expect(s.value, s.name).toBeLessThan(60);
      expect(samples.find((s) => s.name === "process_cpu_seconds_total")!.value).toBeGreaterThan(0);
      expect(samples.find((s) => s.name === "nodejs_eventloop_lag_mean_seconds")!.value).not.toBeNaN();
    }
  });
});
