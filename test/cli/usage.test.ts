/**
 * Help and usage errors of every command: --help exits 0, a mistake exits 2
 * with one line on stderr, before anything is attempted.
 */
import { describe, expect, test } from "bun:test";
import { runCli } from "../helpers/spawn.ts";

describe("tickgate --help", () => {
  test("the command list names every command and the exit codes", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    for (const cmd of ["serve", "pub", "sub", "bench"]) expect(r.stdout).toContain(`  ${cmd} `);
    expect(r.stdout).toContain("2  bad usage or config");
  });

  for (const cmd of ["serve", "pub", "sub", "bench"]) {
    test(`${cmd} --help and help ${cmd} exit 0 with the command's usage and exit codes`, async () => {
      for (const args of [[cmd, "--help"], [cmd, "-h"], ["help", cmd]]) {
        const r = await runCli(args);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain(`tickgate ${cmd} `);
        expect(r.stdout).toContain("Exit codes:");
        expect(r.stderr).toBe("");
      }
    });
  }
});

describe("bad usage exits 2 with one line", () => {
  const cases: [string, string[], RegExp][] = [
    ["unknown command", ["frobnicate"], /unknown command 'frobnicate'/],
    ["help for an unknown command", ["help", "frobnicate"], /unknown command 'frobnicate'/],
    ["pub without arguments", ["pub"], /pub takes <topic> and <json-data>/],
    ["pub with bad JSON", ["pub", "a.b", "{nope"], /not valid JSON/],
    ["pub to a pattern", ["pub", "a.*", "1"], /bad topic 'a\.\*'/],
    ["pub with an unknown flag", ["pub", "a.b", "1", "--frob"], /Unknown option '--frob'/],
    ["pub with a bad encoding", ["pub", "a.b", "1", "--encoding", "xml"], /--encoding must be one of msgpack, json/],
    ["pub with a bad url", ["pub", "a.b", "1", "--url", "http://x"], /--url must start with ws:\/\/ or wss:\/\//],
    ["sub without a topic", ["sub"], /sub takes one <topic-or-pattern>/],
    ["sub with a bad count", ["sub", "a", "--count", "many"], /--count must be an integer/],
    ["serve with a bad log level", ["serve", "--log-level", "loud"], /--log-level must be one of/],
    ["serve with a bad rate", ["serve", "--demo", "--rate", "fast"], /--rate must be a number/],
    ["serve with a stray argument", ["serve", "now"], /serve takes no arguments/],
  ];
  for (const [what, args, message] of cases) {
    test(what, async () => {
      const r = await runCli(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toStartWith("tickgate: ");
      expect(r.stderr).toMatch(message);
    });
  }
});

describe("tickgate bench", () => {
  test("forwards its arguments to bench/run.ts and exits with its code", async () => {
    // An unknown flag is refused by the benchmark itself, before it starts any server.
    const r = await runCli(["bench", "--no-such-flag"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("--no-such-flag");
  });
});
