/**
 * Keeps `docs/protocol.md` in step with the protocol code: every error code
 * (compared with the rows of `CODES` in protocol/codes.ts, which the server
 * derives its error budget, HTTP statuses and reserved codes from),
 * close code, gap reason and frame type must be documented, the doc's error
 * and close-code tables must not name codes the code does not have, the
 * error table must say which codes spend the error budget, and the doc's
 * JSON frame examples must be frames the server would accept / send. The
 * device topics, the SSE cursor format, the filter semantics and limits, the
 * fields of `welcome`, `msg` and `ack`, the short `stats` summary, how
 * `topTopics` names a filtered subscription, the presence payload and its
 * built-in policy, and the `command_nack` limits must be the ones the code
 * uses.
 *
 * Also keeps `docs/http-api.md` in step with `ROUTES` (and the prefix route
 * `POST /api/request/<method>`) and the HTTP statuses, including the 422
 * that codes outside the table (an application's own) get.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Admission } from "../../src/core/auth/admission.ts";
import { DeviceRegistry, logTopic, presenceTopic } from "../../src/core/devices.ts";
import { parseOptions } from "../../src/core/options.ts";
import { PolicyTable } from "../../src/core/policy.ts";
import { TickgateServerImpl as TickgateServer } from "../../src/core/server.ts";
import type { TopicStats } from "../../src/core/stats.ts";
import { REQUEST_PREFIX } from "../../src/http/calls.ts";
import { statusFor } from "../../src/http/errors.ts";
import { ROUTES, httpRoutes } from "../../src/http/routes.ts";
import { formatCursor, parseCursor } from "../../src/http/sse.ts";
import { CODES, CloseCode, ErrorCode, GapReason, NORMAL_CLOSES, codeFacts, spendsBudget } from "../../src/protocol/codes.ts";
import { Filter, Tags, compileFilter } from "../../src/protocol/filter.ts";
import {
  SUBPROTOCOL,
  BATCH_SUBPROTOCOL,
  clientFrameSchemas,
  type AckFrame,
  type ClientFrameType,
  type DeviceCommandFrame,
  type PublicationFrame,
  type ServerFrame,
  type BatchFrame,
  type WelcomeFrame,
} from "../../src/protocol/frames.ts";

const doc = readFileSync(new URL("../../docs/protocol.md", import.meta.url), "utf8");
const httpDoc = readFileSync(new URL("../../docs/http-api.md", import.meta.url), "utf8");

const CLIENT_FRAME_TYPES = Object.keys(clientFrameSchemas) as ClientFrameType[];

/**
 * Server frame types are TS types only, so they are listed here; `satisfies`
 * makes the type checker fail when a server frame type is added or removed
 * without this list (and so the doc check) following.
 */
const SERVER_FRAME_TYPES = Object.keys({
  welcome: true,
  msg: true,
  ack: true,
  error: true,
  pong: true,
  stats: true,
  res: true,
  gap: true,
  command: true,
  batch: true,
} satisfies Record<ServerFrame["t"] | PublicationFrame["t"] | BatchFrame["t"], true>);

/** Fields of the server `command` frame; `satisfies` fails the type check when one is added or removed. */
const DEVICE_COMMAND_FIELDS = Object.keys({ t: true, cid: true, name: true, data: true, ts: true } satisfies Record<keyof DeviceCommandFrame, true>);

/** Fields of the `ack` frame, kept complete by `satisfies` as above. */
const ACK_FIELDS = Object.keys({ t: true, id: true, topic: true, seq: true, epoch: true, backlog: true, recovery: true } satisfies Record<keyof AckFrame, true>);

/** Fields of a `topTopics` entry in the stats snapshot, kept complete by `satisfies` as above. */
const TOP_TOPIC_FIELDS = Object.keys({ topic: true, subscribers: true, published: true, dropped: true, conflated: true, filtered: true } satisfies Record<keyof TopicStats, true>);

/** Fields of the `msg` frame, kept complete by `satisfies` as above. */
const MSG_FIELDS = Object.keys({ t: true, topic: true, seq: true, epoch: true, ts: true, key: true, tags: true, data: true } satisfies Record<keyof PublicationFrame, true>);

/** Fields of the `welcome` frame, kept complete by `satisfies` as above. */
const WELCOME_FIELDS = Object.keys({
  t: true,
  session: true,
  ts: true,
  encoding: true,
  client: true,
  server: true,
  limits: true,
  commands: true,
  methods: true,
  topics: true,
} satisfies Record<keyof WelcomeFrame, true>);

/** Text of the level-2 section whose heading is exactly `title`, up to the next level-2 heading. */
function section(title: string, text = doc): string {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trim() === `## ${title}`);
  if (start < 0) throw new Error(`the doc has no '## ${title}' section`);
  let end = lines.findIndex((l, i) => i > start && /^## /.test(l));
  if (end < 0) end = lines.length;
  return lines.slice(start + 1, end).join("\n");
}

/** Text of the level-3 section `### heading` inside `text`, up to the next level-2/3 heading. */
function subsection(text: string, heading: string): string {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trim() === `### ${heading}`);
  if (start < 0) throw new Error(`no '### ${heading}' heading`);
  let end = lines.findIndex((l, i) => i > start && /^#{2,3} /.test(l));
  if (end < 0) end = lines.length;
  return lines.slice(start + 1, end).join("\n");
}

/** Body rows of the first Markdown table in `text`, as trimmed cells. */
function tableRows(text: string): string[][] {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trimStart().startsWith("|"));
  if (start < 0) throw new Error("no table found");
  const rows: string[][] = [];
  for (let i = start; i < lines.length && lines[i]!.trimStart().startsWith("|"); i++) {
    const cells = lines[i]!.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
    rows.push(cells);
  }
  // Drop the header row and the |---| separator.
  return rows.slice(2);
}

/** `### \`x\`` headings in a section: the frame types it documents. */
function frameHeadings(text: string): string[] {
  return [...text.matchAll(/^### `([a-z_]+)`\s*$/gm)].map((m) => m[1]!);
}

/** Every ```json block in `text`, parsed. */
function jsonBlocks(text: string): Record<string, unknown>[] {
  return [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => {
    try {
      return JSON.parse(m[1]!);
    } catch (e) {
      throw new Error(`a json example does not parse: ${(e as Error).message}\n${m[1]}`);
    }
  });
}

const clientSection = section("Client → server frames");
const serverSection = section("Server → client frames");

describe("error codes", () => {
  const rows = tableRows(section("Error codes"));
  const documented = rows.map((r) => {
    const m = /^`([A-Z0-9_]+)`$/.exec(r[0] ?? "");
    if (!m) throw new Error(`error table row does not start with a code: ${r.join(" | ")}`);
    return m[1]!;
  });

  test("the table has one row per ErrorCode", () => {
    expect(documented.length).toBe(new Set(documented).size);
    expect([...documented].sort()).toEqual(Object.values(ErrorCode).sort());
  });

  test("every ErrorCode (name and value) is in the table", () => {
    for (const [name, value] of Object.entries(ErrorCode)) {
      expect(documented).toContain(name);
      expect(documented).toContain(value);
    }
  });

  test("the table names no code that ErrorCode lacks", () => {
    const known = new Set<string>(Object.values(ErrorCode));
    expect(documented.filter((c) => !known.has(c))).toEqual([]);
  });

  test("every row says when, whether it spends the budget and whether the connection stays up", () => {
    for (const r of rows) {
      expect(r.length).toBe(4);
      expect(r[1]!.length).toBeGreaterThan(0);
      expect(r[2]!.length).toBeGreaterThan(0);
      expect(r[3]!.length).toBeGreaterThan(0);
    }
  });

  test("the budget column says 'yes' exactly for the codes whose row spends the budget", () => {
    for (const r of rows) {
      const code = r[0]!.replaceAll("`", "");
      const spends = /^yes\b/.test(r[2]!);
      const spares = /^no\b/.test(r[2]!);
      if (!spends && !spares) throw new Error(`budget cell of ${code} must start with 'yes' or 'no': ${r[2]}`);
      expect({ code, spends }).toEqual({ code, spends: spendsBudget(code) });
    }
  });

  test("a code whose row has a close code says so in the 'stays up' column, with that number", () => {
    for (const r of rows) {
      const code = r[0]!.replaceAll("`", "");
      const close = codeFacts(code)?.close;
      if (close !== undefined) expect({ code, cell: r[3]!.includes(String(close)) }).toEqual({ code, cell: true });
    }
  });

  test("the table's rows are the wire rows of CODES, and every row of CODES is reserved and has a status", () => {
    const wire = Object.entries(CODES).filter(([, f]) => f.scope === "wire").map(([k]) => k);
    expect([...documented].sort()).toEqual(wire.sort());
    for (const [code, f] of Object.entries(CODES)) expect({ code, reserved: f.reserved, status: f.status >= 400 }).toEqual({ code, reserved: true, status: true });
  });
});

describe("close codes", () => {
  const rows = tableRows(section("Close codes"));
  const documented = rows.map((r) => {
    const num = Number(r[0]);
    const m = /^`([A-Z0-9_]+)`$/.exec(r[1] ?? "");
    if (!Number.isInteger(num) || !m) throw new Error(`close table row is not '| number | \`NAME\` | when |': ${r.join(" | ")}`);
    return { num, name: m[1]!, when: r[2] ?? "" };
  });

  test("every CloseCode has a row with its number and name", () => {
    for (const [name, num] of Object.entries(CloseCode)) {
      expect(documented).toContainEqual(expect.objectContaining({ num, name }));
    }
  });

  test("the table names no close code that CloseCode lacks", () => {
    const codes = CloseCode as Record<string, number>;
    for (const d of documented) {
      expect(codes[d.name]).toBe(d.num);
      expect(d.when.length).toBeGreaterThan(0);
    }
    expect(documented.length).toBe(Object.keys(CloseCode).length);
  });
});

describe("gap reasons", () => {
  test("every GapReason value is described in the gap frame section", () => {
    const gap = subsection(serverSection, "`gap`");
    for (const reason of Object.values(GapReason)) expect(gap).toContain(`"${reason}"`);
  });

  test("the slow-consumer section uses every GapReason value", () => {
    const slow = section("Slow consumers");
    for (const reason of Object.values(GapReason)) expect(slow).toContain(`"reason":"${reason}"`);
  });
});

describe("frame types", () => {
  test("every client frame type has its own heading, and no other type does", () => {
    expect(frameHeadings(clientSection).sort()).toEqual([...CLIENT_FRAME_TYPES].sort());
  });

  test("every server frame type has its own heading, and no other type does", () => {
    expect(frameHeadings(serverSection).sort()).toEqual([...SERVER_FRAME_TYPES].sort());
  });

  test("client frame examples are frames the server accepts", () => {
    const examples = jsonBlocks(clientSection);
    const seen = new Set<string>();
    for (const ex of examples) {
      const t = String(ex.t);
      expect(CLIENT_FRAME_TYPES as string[]).toContain(t);
      const r = clientFrameSchemas[t as ClientFrameType].safeParse(ex);
      if (!r.success) throw new Error(`example ${JSON.stringify(ex)} is invalid: ${r.error.issues[0]?.message}`);
      seen.add(t);
    }
    expect([...seen].sort()).toEqual([...CLIENT_FRAME_TYPES].sort());
  });

  test("the server command frame's fields are all in its table", () => {
    const cmd = subsection(serverSection, "`command`");
    const fields = tableRows(cmd).map((r) => r[0]!.replaceAll("`", ""));
    expect([...fields].sort()).toEqual(DEVICE_COMMAND_FIELDS.filter((f) => f !== "t").sort());
  });

  test("frame examples in other sections are frames the server accepts or sends", () => {
    const others = doc.split(/^## /m).filter((s) => !s.startsWith("Client → server frames\n") && !s.startsWith("Server → client frames\n"));
    let checked = 0;
    for (const ex of jsonBlocks(others.join("\n## "))) {
      if (typeof ex.t !== "string") continue; // a payload or a token's claims, not a frame
      checked++;
      const schema = Object.hasOwn(clientFrameSchemas, ex.t) ? clientFrameSchemas[ex.t as ClientFrameType] : undefined;
      if (schema?.safeParse(ex).success) continue;
      if (!(SERVER_FRAME_TYPES as string[]).includes(ex.t)) throw new Error(`example ${JSON.stringify(ex)} is neither a valid client frame nor a server frame type`);
      if (ex.t === "error") expect(Object.values(ErrorCode) as string[]).toContain(String(ex.code));
      if (ex.t === "command") expect(Object.keys(ex).sort()).toEqual([...DEVICE_COMMAND_FIELDS].sort());
    }
    expect(checked).toBeGreaterThan(0);
  });

  test("server frame examples are frame types the server sends", () => {
    const examples = jsonBlocks(serverSection);
    const seen = new Set<string>();
    for (const ex of examples) {
      expect(SERVER_FRAME_TYPES).toContain(String(ex.t));
      seen.add(String(ex.t));
      if (ex.t === "error") expect(Object.values(ErrorCode) as string[]).toContain(String(ex.code));
      if (ex.t === "gap") expect(Object.values(GapReason) as string[]).toContain(String(ex.reason));
      if (ex.t === "welcome") expect(ex.commands).toEqual(CLIENT_FRAME_TYPES);
    }
    expect([...seen].sort()).toEqual([...SERVER_FRAME_TYPES].sort());
  });
});

test("every subprotocol name is documented", () => {
  for (const p of [...Object.values(SUBPROTOCOL), ...Object.values(BATCH_SUBPROTOCOL)]) expect(doc).toContain(`\`${p}\``);
});

describe("authentication and devices", () => {
  test("the authentication section names the three ways to present a token and its close codes", () => {
    const auth = section("Authentication");
    for (const s of ["Authorization: Bearer", "?token=", "[`auth`](#auth)"]) expect(auth).toContain(s);
    for (const c of [CloseCode.AUTH_FAILED, CloseCode.TOKEN_EXPIRED, CloseCode.AUTH_TIMEOUT]) expect(auth).toContain(`**${c}**`);
  });

  test("the devices section uses the topics the server publishes on", () => {
    const devices = section("Devices");
    expect(devices).toContain(`\`${presenceTopic("<id>")}\``);
    expect(devices).toContain(`\`${logTopic("<id>")}\``);
    expect(devices).toContain("`devices.<id>.commands`");
  });

  test("the presence example has the fields of the server's online payload, meta included", () => {
    const published: { topic: string; data: Record<string, unknown>; key?: string }[] = [];
    const registry = new DeviceRegistry(parseOptions({}).devices, {
      publish: (topic, data, key) => published.push({ topic, data: data as Record<string, unknown>, key }),
      sendCommand: () => {},
    });
    // Its hello has come (a device is held for it otherwise), so attach announces at once.
    registry.attach({ deviceId: "meter-17", id: "s-1", meta: { model: "TG-1" }, helloed: true } as never);
    const online = published.find((p) => p.data.state === "online");
    if (!online) throw new Error("attach published no online presence");
    expect(online.topic).toBe(presenceTopic("meter-17"));
    expect(online.key).toBe("meter-17");
    const presence = subsection(section("Devices"), "Presence");
    const examples = jsonBlocks(presence).filter((ex) => ex.state === "online");
    expect(examples.length).toBe(1);
    expect(Object.keys(examples[0]!).sort()).toEqual(Object.keys(online.data).sort());
  });

  test("the presence section describes the built-in presence policy, which operator rules cannot replace", () => {
    const presence = subsection(section("Devices"), "Presence");
    const builtIn = new PolicyTable(parseOptions({})).for(presenceTopic("meter-17"));
    // The doc says retained and server-only; if the built-in rule changes, so must the doc.
    expect({ retain: builtIn.retain, publish: builtIn.publish }).toEqual({ retain: true, publish: "server" });
    expect(presence).toContain("**retained**");
    expect(presence).toContain("**server-only**");
    const broad = new PolicyTable(parseOptions({ policies: [{ match: "devices.>", maxPayload: 1024, publish: "clients" }] })).for(presenceTopic("meter-17"));
    expect({ retain: broad.retain, publish: broad.publish }).toEqual({ retain: true, publish: "server" });
    expect(presence).toContain("nobody can\nforge a device's presence");
  });

  test("the command_nack limits are the ones its schema enforces", () => {
    const nack = subsection(clientSection, "`command_nack`");
    const schema = clientFrameSchemas.command_nack;
    const ok = (code: string) => schema.safeParse({ t: "command_nack", cid: "c", code }).success;
    const shortest = [...Array(10).keys()].find((n) => ok("A".repeat(n)))!;
    let longest = shortest;
    while (longest < 10_000 && ok("A".repeat(longest + 1))) longest++;
    expect(ok("battery_low")).toBe(false);
    expect(ok("1ABC")).toBe(false);
    expect(nack).toContain(`${shortest}–${longest} characters of \`A–Z 0–9 _\`, starting with a letter`);
    const parsed = schema.parse({ t: "command_nack", cid: "c", code: "BUSY" });
    expect(nack).toContain(`missing means \`${parsed.message}\``);
    expect(nack).toContain(`at most ${largest((n) => schema.safeParse({ t: "command_nack", cid: "c", code: "BUSY", message: "m".repeat(n) }).success)} characters`);
  });
});

describe("SSE", () => {
  const sse = section("HTTP: Server-Sent Events and publishing");

  test("the cursor example is in the format the server writes and reads", () => {
    const m = /^id: (.+)$/m.exec(sse);
    if (!m) throw new Error("the SSE section has no 'id: <cursor>' example");
    const cursor = parseCursor(m[1]!);
    expect(cursor).not.toBeNull();
    expect(cursor!.seqs.size).toBeGreaterThan(0);
    expect(formatCursor(cursor!)).toBe(m[1]!);
  });

  test("the event names and resume inputs are named", () => {
    for (const name of ["welcome", "ack", "error", "msg", "gap", "close"]) expect(sse).toContain(`event: ${name}`);
    for (const s of ["Last-Event-ID", "?lastEventId=", ": ping"]) expect(sse).toContain(s);
  });
});

/** Every Markdown table in `text`, each as its body rows of trimmed cells. */
function allTables(text: string): string[][][] {
  const out: string[][][] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.trimStart().startsWith("|")) continue;
    const start = i;
    while (i < lines.length && lines[i]!.trimStart().startsWith("|")) i++;
    out.push(tableRows(lines.slice(start, i).join("\n")));
  }
  return out;
}

/** The first cells of a frame section's field table, without backticks. */
function fieldNames(text: string): string[] {
  return tableRows(text).map((r) => r[0]!.replaceAll("`", ""));
}

/** The largest n in 0..limit for which `ok(n)` holds, assuming ok is true up to some n and false after. */
function largest(ok: (n: number) => boolean, limit = 10_000): number {
  let n = 0;
  while (n < limit && ok(n + 1)) n++;
  return n;
}

describe("tags and filters", () => {
  const tf = section("Tags and filters");

  test("sub and unsub document `filter`; pub and msg document `tags`", () => {
    expect(fieldNames(subsection(clientSection, "`sub`"))).toContain("filter");
    expect(fieldNames(subsection(clientSection, "`unsub`"))).toContain("filter");
    expect(fieldNames(subsection(clientSection, "`pub`"))).toContain("tags");
    expect(fieldNames(subsection(serverSection, "`msg`"))).toContain("tags");
    expect(Object.keys(clientFrameSchemas.sub.shape)).toContain("filter");
    expect(Object.keys(clientFrameSchemas.unsub.shape)).toContain("filter");
    expect(Object.keys(clientFrameSchemas.pub.shape)).toContain("tags");
  });

  test("the filter's keys are the schema's", () => {
    const keys = tableRows(tf).map((r) => r[0]!.replaceAll("`", ""));
    expect([...keys].sort()).toEqual(Object.keys(Filter.shape).sort());
  });

  test("the documented limits are the ones the schemas enforce", () => {
    const maxTags = largest((n) => Tags.safeParse(Array.from({ length: n }, (_, i) => `t${i}`)).success);
    const maxLen = largest((n) => Tags.safeParse(["a".repeat(n)]).success);
    const maxList = largest((n) => Filter.safeParse({ any: Array.from({ length: n }, (_, i) => `t${i}`) }).success);
    expect(Tags.safeParse([""]).success).toBe(false);
    expect(Filter.safeParse({ any: [] }).success).toBe(false);
    expect(Filter.safeParse({}).success).toBe(false);
    expect(tf).toContain(`up to ${maxTags} strings of 1 to ${maxLen}\ncharacters`);
    expect(tf).toContain(`Each list holds 1 to ${maxList} tags\nof 1 to ${maxLen} characters`);
  });

  test("the examples table agrees with the server's filter", () => {
    const examples = allTables(tf)[1];
    if (!examples || examples.length === 0) throw new Error("the Tags and filters section has no examples table");
    for (const [f, t, passes] of examples) {
      const filter = Filter.parse(JSON.parse(f!.replaceAll("`", "")));
      const tags = t === "none" ? undefined : Tags.parse(JSON.parse(t!.replaceAll("`", "")));
      if (passes !== "yes" && passes !== "no") throw new Error(`'Passes' must be yes or no: ${passes}`);
      expect({ f, t, passes: compileFilter(filter)(tags) }).toEqual({ f, t, passes: passes === "yes" });
    }
  });

  test("stats name a filtered subscription by its topic, marked filtered, as the examples show", () => {
    // What the server reports: the base topic or pattern, never the filter's spelling.
    const server = new TickgateServer({}, { transport: {} as never });
    server.broker.index.getOrCreate("news.>");
    server.broker.index.getOrCreate("news.>", Filter.parse({ any: ["sport"] }));
    const top = server.stats().topTopics.filter((t) => t.topic.startsWith("news."));
    expect(top.map((t) => ({ topic: t.topic, filtered: t.filtered === true })).sort((a, b) => Number(a.filtered) - Number(b.filtered))).toEqual([
      { topic: "news.>", filtered: false },
      { topic: "news.>", filtered: true },
    ]);
    // What the docs show: both full snapshots (the stats frame and GET /stats).
    const snapshots = [
      ...jsonBlocks(subsection(serverSection, "`stats`")).map((ex) => ex.data as Record<string, unknown>),
      ...jsonBlocks(section("GET /stats", httpDoc)),
    ].filter((d) => "topTopics" in d);
    expect(snapshots.length).toBe(2);
    for (const snap of snapshots) {
      const entries = snap.topTopics as Record<string, unknown>[];
      for (const e of entries) {
        expect(String(e.topic)).not.toContain("#");
        for (const k of Object.keys(e)) expect(TOP_TOPIC_FIELDS).toContain(k);
      }
      const filtered = entries.filter((e) => e.filtered === true);
      expect(filtered.length).toBeGreaterThan(0);
      expect(Object.keys(filtered[0]!).sort()).toEqual([...TOP_TOPIC_FIELDS].sort());
    }
    // No doc spells a subscription as `<topic>#<filter>` any more: nothing on the wire does.
    expect(doc).not.toMatch(/[A-Za-z0-9*>]#\{/);
    expect(httpDoc).not.toMatch(/[A-Za-z0-9*>]#\{/);
  });
});

describe("frame fields", () => {
  test("the msg table lists every field of the msg frame", () => {
    expect(fieldNames(subsection(serverSection, "`msg`")).sort()).toEqual(MSG_FIELDS.filter((f) => f !== "t").sort());
  });

  test("the ack table lists every field of the ack frame", () => {
    expect([...new Set(fieldNames(subsection(serverSection, "`ack`")))].sort()).toEqual(ACK_FIELDS.filter((f) => f !== "t").sort());
  });

  test("the welcome table covers every field of the welcome frame", () => {
    const top = new Set(fieldNames(subsection(serverSection, "`welcome`")).map((f) => f.split(".")[0]!));
    expect([...top].sort()).toEqual(WELCOME_FIELDS.filter((f) => f !== "t").sort());
  });

  test("the short stats summary has the fields the server sends", () => {
    const server = new TickgateServer({}, { transport: {} as never });
    const summaries = jsonBlocks(subsection(serverSection, "`stats`")).filter((ex) => ex.t === "stats" && !("server" in (ex.data as object)));
    expect(summaries.length).toBe(1);
    expect(Object.keys(summaries[0]!.data as object).sort()).toEqual([...Object.keys(server.publicStats()), "session"].sort());
  });
});

test("the close codes that count as normal are the server's", () => {
  const will = subsection(section("Devices"), "Last will");
  const closes = section("Close codes");
  const normal = [...NORMAL_CLOSES].sort();
  const listed = (text: string) => [...text.matchAll(/close codes? other than ([0-9, and]+)/g)].flatMap((m) => m[1]!.match(/\d+/g)!.map(Number));
  expect(listed(will).sort()).toEqual(normal);
  for (const c of normal) expect(closes).toContain(String(c));
});

describe("docs/http-api.md", () => {
  const routeRows = tableRows(httpDoc).map((r) => ({ method: r[0]!, path: r[1]!.replaceAll("`", "") }));
  const headings = [...httpDoc.matchAll(/^## ([A-Z]+) (\/\S*)\s*$/gm)].map((m) => ({ method: m[1]!, path: m[2]! }));
  /** Routes matched by prefix in httpRoutes, outside ROUTES: `POST /api/request/<method>`. */
  const prefixRoutes = [{ method: "POST", path: `${REQUEST_PREFIX}<method>` }];
  const routes = [...Object.entries(ROUTES).flatMap(([path, methods]) => Object.keys(methods).map((method) => ({ method, path }))), ...prefixRoutes];
  const byKey = (x: { method: string; path: string }[]) => x.map((r) => `${r.method} ${r.path}`).sort();

  /** Routes the CLI adds with the demo (`src/demo/routes.ts`): named below the table, each with a section marked as the demo's. */
  const demoRoutes = [
    { method: "GET", path: "/" },
    { method: "GET", path: "/dashboard.js" },
  ];

  test("the route table lists exactly the routes in ROUTES and the prefix route; the demo's have their own sections", () => {
    expect(byKey(routeRows)).toEqual(byKey(routes));
    for (const r of demoRoutes) expect(httpDoc).toContain(`## ${r.method} ${r.path} (demo)`);
  });

  test("every route in ROUTES and the prefix route has its own section, and no other route does", () => {
    expect(byKey(headings)).toEqual(byKey(routes));
  });

  test("the prefix route is served by httpRoutes, for POST only", async () => {
    // Another method is refused before the server is touched, naming the methods that work.
    const res = await httpRoutes(new Request(`http://tickgate.example${REQUEST_PREFIX}portfolio.get`, { method: "GET" }), {} as never, "");
    expect(res.status).toBe(statusFor("METHOD_NOT_ALLOWED"));
    expect(res.headers.get("allow")).toBe(prefixRoutes.map((r) => r.method).join(", "));
  });

  test("the status table gives each code the status the server answers with", () => {
    // Statuses from the rows of CODES (every code an HTTP answer can carry), plus the ones the admission layer sets itself.
    const pairs = new Set<string>();
    for (const [code, f] of Object.entries(CODES)) if (f.scope !== "local") pairs.add(`${code} ${statusFor(code)}`);
    const total = new Admission(parseOptions({ limits: { maxConnections: 1 } }), null);
    total.opened("a");
    const perIp = new Admission(parseOptions({ limits: { maxConnectionsPerIp: 1 } }), null);
    perIp.opened("a");
    const gates = [
      total.gate(new Headers(), "b"),
      perIp.gate(new Headers(), "a"),
      perIp.gate(new Headers({ origin: "https://elsewhere.example", host: "tickgate.example" }), "b"),
    ];
    for (const g of gates) pairs.add(`${g!.code} ${g!.status}`);
    const statusRows = tableRows(section("Errors", httpDoc));
    const documented = new Set<string>();
    for (const [status, cell] of statusRows) {
      for (const m of cell!.matchAll(/`([A-Z_]+)`/g)) documented.add(`${m[1]} ${status}`);
    }
    for (const p of pairs) expect(documented).toContain(p);
    for (const d of documented) expect(pairs).toContain(d);
  });

  test("a code outside the table (an application's own) gets the status both docs give it", () => {
    const status = statusFor("NO_SUCH_RELAY");
    expect(statusFor("BATTERY_LOW")).toBe(status);
    const row = tableRows(section("Errors", httpDoc)).find(([s]) => s === String(status));
    if (!row) throw new Error(`the status table has no ${status} row`);
    expect(row[1]).toMatch(/^Any other code/);
    expect(section("Error codes")).toContain(`its\nstatus is ${status}`);
    expect(section("HTTP: Server-Sent Events and publishing")).toContain(`gets HTTP status ${status}`);
  });
});
