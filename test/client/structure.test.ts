/**
 * The client's public API never asks which transport it has (issue 10,
 * item 4): the link owns its sends. Checked on the source of client.ts.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const CLIENT = join(import.meta.dir, "..", "..", "src", "client");

describe("client layout", () => {
  test("issue 10: client.ts (the public API) tests no mode and touches no link", () => {
    const text = readFileSync(join(CLIENT, "client.ts"), "utf8");
    expect(text).not.toMatch(/mode\s*[!=]==/);
    expect(text).not.toMatch(/===?\s*["'](sse|websocket)["']/);
    expect(text).not.toMatch(/WsLink|SseLink|http\.ts/);
  });

  test("every link implements the Link interface", () => {
    for (const f of ["ws-link.ts", "sse-link.ts"]) expect(readFileSync(join(CLIENT, f), "utf8")).toMatch(/class \w+ implements Link\b/);
  });
});
