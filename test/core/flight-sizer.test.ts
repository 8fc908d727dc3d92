import { describe, expect, test } from "bun:test";
import { ADAPTIVE_FLIGHT_MS, ADAPTIVE_MAX_FLIGHT_MS, FlightSizer } from "../../src/core/coalescer.ts";

/** A sizer on a hand-driven clock: each flight lasts `wallMs` and the process spends `share` of it on the CPU. */
function driven() {
  let cpu = 0;
  let wall = 0;
  const sizer = new FlightSizer(() => cpu, () => wall);
  const fly = (wallMs: number, share: number, held: number) => {
    sizer.start();
    wall += wallMs;
    cpu += wallMs * share * 1000;
    return sizer.landed(held);
  };
  return { sizer, fly };
}

describe("adaptive flight length", () => {
  test("starts at the shortest flight", () => {
    expect(new FlightSizer().ms).toBe(ADAPTIVE_FLIGHT_MS);
  });

  test("a busy process with publications held lengthens flights, up to the max", () => {
    const { sizer, fly } = driven();
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) seen.push(fly(sizer.ms, 0.9, 4));
    expect(seen[0]).toBe(2 * ADAPTIVE_FLIGHT_MS);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
    expect(Math.max(...seen)).toBe(ADAPTIVE_MAX_FLIGHT_MS);
    expect(seen.at(-1)).toBe(ADAPTIVE_MAX_FLIGHT_MS);
  });

  test("a lightly loaded process keeps the shortest flight even when publications were held", () => {
    const { fly } = driven();
    expect([fly(2, 0.1, 1), fly(2, 0.1, 1)]).toEqual([ADAPTIVE_FLIGHT_MS, ADAPTIVE_FLIGHT_MS]);
  });

  test("between the two shares a flight keeps its length; below the light share it shortens", () => {
    const { fly } = driven();
    fly(2, 0.9, 2);
    expect(fly(4, 0.4, 4)).toBe(4);
    expect(fly(4, 0.1, 4)).toBe(ADAPTIVE_FLIGHT_MS);
    expect(fly(2, 0.1, 4)).toBe(ADAPTIVE_FLIGHT_MS);
  });

  test("a flight that lands with nothing held goes back to the shortest", () => {
    const { fly } = driven();
    fly(2, 0.9, 2);
    expect(fly(4, 0.9, 0)).toBe(ADAPTIVE_FLIGHT_MS);
  });
});
