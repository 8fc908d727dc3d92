// A topic's history is bounded by age as well as count, and the age bound
// holds on a busy topic that nobody recovers from: publications that aged
// out are let go when the next one is stored, not only when someone reads.
import { describe, expect, test } from "bun:test";
import { History } from "../../src/core/history.ts";
import type { Publication } from "../../src/core/publication.ts";

const pub = (seq: number, ts: number) => ({ seq, ts }) as Publication;

describe("History", () => {
  test("drops what aged out when a publication is stored", () => {
    const h = new History(10_000, 100);
    for (let i = 1; i <= 5000; i++) h.push(pub(i, i));
    // ts 4900..5000 are within 100 ms of the newest.
    expect(h.stored).toBe(101);
    expect(h.since(4899, 5000, 5000)!.map((p) => p.seq)[0]).toBe(4900);
    expect(h.since(10, 5000, 5000)).toBeNull();
  });

  test("keeps everything up to its size when there is no age bound", () => {
    const h = new History(50, 0);
    for (let i = 1; i <= 80; i++) h.push(pub(i, i));
    expect(h.stored).toBe(50);
    expect(h.since(30, 80, 1e12)!.length).toBe(50);
  });
});
