/**
 * A smoke run of bench/setup.ts: every server takes its subscribers (the
 * bare loop on open, bare-sub and tickgate through a `sub` frame and its
 * ack) and the figures are there and sane. Speed is never asserted.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

test("setup: tickgate, bare and bare-sub each take 40 subscribers; figures and ratios are printed", async () => {
  const proc = Bun.spawn([process.execPath, "bench/setup.ts", "--subs", "40", "--rounds", "1"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(code, err).toBe(0);
  for (const server of ["tickgate", "bare", "bare-sub"]) {
    const row = new RegExp(`^40\\s+${server}\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(-?[\\d.]+)\\s+([\\d.]+)\\s+([\\d.]+)`, "m").exec(out);
    expect(row, `${server} row in:\n${out}`).not.toBeNull();
    const [connectMs, , , , rssMiB, peakMiB] = row!.slice(1).map(Number);
    expect(connectMs).toBeGreaterThan(0);
    expect(rssMiB).toBeGreaterThan(1);
    expect(peakMiB).toBeGreaterThanOrEqual(rssMiB!);
  }
  for (const pair of ["tickgate / bare —", "tickgate / bare-sub —", "bare-sub / bare —"]) expect(out).toContain(`40: ${pair}`);
}, 120_000);
