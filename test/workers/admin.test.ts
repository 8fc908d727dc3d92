/** The supervisor's pure parts: merging workers' Prometheus text, and the arguments a worker gets. */
import { describe, expect, test } from "bun:test";
import { mergeMetrics } from "../../src/cli/workers/admin.ts";
import { workerArgs } from "../../src/cli/workers/run.ts";

describe("mergeMetrics", () => {
  test("keeps each family's HELP and TYPE once and labels every sample with its worker", () => {
    const w = (n: number) => `# HELP tickgate_connections Open connections.\n# TYPE tickgate_connections gauge\ntickgate_connections ${n}\n# HELP d Delivery time.\n# TYPE d histogram\nd_bucket{le="0.1"} ${n}\nd_sum ${n}\n`;
    expect(mergeMetrics([{ worker: 0, body: w(3) }, { worker: 1, body: w(5) }])).toBe(
      [
        "# HELP tickgate_connections Open connections.",
        "# TYPE tickgate_connections gauge",
        'tickgate_connections{worker="0"} 3',
        'tickgate_connections{worker="1"} 5',
        "# HELP d Delivery time.",
        "# TYPE d histogram",
        'd_bucket{worker="0",le="0.1"} 3',
        'd_sum{worker="0"} 3',
        'd_bucket{worker="1",le="0.1"} 5',
        'd_sum{worker="1"} 5',
        "",
      ].join("\n"),
    );
  });
});

describe("workerArgs", () => {
  test("drops the supervisor's flags and the port in both spellings, keeps the rest", () => {
    expect(workerArgs(["--workers", "2", "--port=0", "--admin-port", "9000", "--nats", "nats://127.0.0.1:4222", "--port", "8080", "--log-level=warn"])).toEqual(["--nats", "nats://127.0.0.1:4222", "--log-level=warn"]);
  });
});
