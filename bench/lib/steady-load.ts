/**
 * The flags of a steady publishing load (subscribers, rate, window, warm-up)
 * shared by scenarios that compare two set-ups under the same load
 * (`cluster`, `fanout-workers`), and their parsed form.
 * @module
 */
import type { Flags, FlagSpec } from "./scenario.ts";

export interface SteadyLoad {
  subs: number;
  rate: number;
  seconds: number;
  warmup: number;
}

/** The four flags; only the subscribers' quick value and help differ between scenarios. */
export function steadyLoadFlags(subs: { quick: string; help: string }): FlagSpec[] {
  return [
    { name: "subs", def: "1000", quick: subs.quick, help: subs.help },
    { name: "rate", def: "100", quick: "50", help: "publications per second" },
    { name: "seconds", def: "10", quick: "2", help: "measured window per run" },
    { name: "warmup", def: "2", quick: "0.5", help: "publishing before the window opens" },
  ];
}

export function steadyLoad(fl: Flags): SteadyLoad {
  return { subs: fl.int("subs", 2, 20_000), rate: fl.num("rate", 1, 100_000), seconds: fl.num("seconds", 0.5, 600), warmup: fl.num("warmup", 0, 60) };
}
