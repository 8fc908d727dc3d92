/**
 * The suite's targets, read from bench/targets.json, and the verdict of a
 * measured value against one. A target that could not be measured in a run
 * (a peer missing, a scenario skipped) is reported as such, never as met.
 * @module
 */
import { readFileSync } from "node:fs";

export interface TargetSpec {
  max?: number;
  min?: number;
  /** The value is a ratio that must stay within the run's own noise of 1. */
  withinNoise?: boolean;
  /** Smallest noise band a withinNoise target allows, as a fraction. */
  floor?: number;
  unit: string;
  describe: string;
}

export type Verdict = "met" | "not met" | "not measured";

export interface TargetResult {
  id: string;
  describe: string;
  unit: string;
  /** The bound as text, e.g. `≤ 1.15×`. */
  target: string;
  value: number | null;
  verdict: Verdict;
  note?: string;
}

const PATH = `${import.meta.dir}/../targets.json`;

export function loadTargets(path = PATH): Record<string, TargetSpec> {
  const raw = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  const out: Record<string, TargetSpec> = {};
  for (const [k, v] of Object.entries(raw)) if (!k.startsWith("$")) out[k] = v as TargetSpec;
  return out;
}

let cached: Record<string, TargetSpec> | null = null;

export function target(id: string): TargetSpec {
  cached ??= loadTargets();
  const t = cached[id];
  if (!t) throw new Error(`no target '${id}' in bench/targets.json`);
  return t;
}

function bound(t: TargetSpec, noise?: number): string {
  const u = t.unit === "×" ? "×" : t.unit === "fraction" ? "" : ` ${t.unit}`;
  if (t.max !== undefined) return t.unit === "fraction" ? `≤ ${(t.max * 100).toFixed(0)}%` : `≤ ${t.max}${u}`;
  if (t.min !== undefined) return `≥ ${t.min.toLocaleString("en-US")}${u}`;
  const band = Math.max(noise ?? 0, t.floor ?? 0);
  return `1 ± ${(band * 100).toFixed(1)}% (noise)`;
}

/**
 * The verdict on `value` for target `id`. `noise` is the run's relative
 * spread for withinNoise targets. A null or non-finite value is "not
 * measured", with `note` saying why.
 */
export function check(id: string, value: number | null, note?: string, noise?: number): TargetResult {
  const t = target(id);
  const base = { id, describe: t.describe, unit: t.unit, target: bound(t, noise) };
  if (value === null || !Number.isFinite(value)) return { ...base, value: null, verdict: "not measured", ...(note ? { note } : {}) };
  let ok: boolean;
  if (t.max !== undefined) ok = value <= t.max;
  else if (t.min !== undefined) ok = value >= t.min;
  else ok = Math.abs(value - 1) <= Math.max(noise ?? 0, t.floor ?? 0);
  return { ...base, value, verdict: ok ? "met" : "not met", ...(note ? { note } : {}) };
}

/** `1.234×`, `7.1 KiB`, `3.2%`: a value in its target's unit. */
export function formatValue(r: Pick<TargetResult, "value" | "unit">): string {
  if (r.value === null) return "-";
  if (r.unit === "×") return `${r.value.toFixed(3)}×`;
  if (r.unit === "fraction") return `${(r.value * 100).toFixed(1)}%`;
  if (r.unit === "connections") return r.value.toLocaleString("en-US");
  return `${r.value.toFixed(2)} ${r.unit}`;
}
