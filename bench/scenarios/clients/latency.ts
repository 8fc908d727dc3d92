/**
 * The latency histogram every scenario client keeps: HDR, 1 µs to 60 s,
 * 3 significant digits, reported as p50/p90/p99/p99.9/max. Clocks of two
 * processes can disagree by a little; a negative latency is counted and
 * recorded as 1 µs.
 * @module
 */
import { build, type Histogram } from "hdr-histogram-js";

const MAX_US = 60_000_000;

export function newHistogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: MAX_US, numberOfSignificantValueDigits: 3, autoResize: false });
}

/** Records one latency; true when it was negative (clock skew). */
export function recordUs(h: Histogram, us: number): boolean {
  h.recordValue(us < 1 ? 1 : us > MAX_US ? MAX_US : us);
  return us < 1;
}

export function latencyOf(h: Histogram, negative: number) {
  // A percentile is the top of its HDR bucket and can pass the exact max by < 0.1%: cap it there.
  const max = h.maxValue;
  const at = (p: number) => Math.min(h.getValueAtPercentile(p), max);
  return {
    samples: h.totalCount,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max,
    mean: Math.round(h.mean),
    negative,
  };
}
