// Latency statistics for bench: exact count/mean/stddev/min/max (Welford, merged with Chan's
// formula, so several threads combine exactly — never an average of averages), an HDR histogram
// for percentiles (0.1 % precision), and exact counts in fixed display buckets for the terminal
// histogram. Everything serialises to plain data so worker threads can ship it to the main thread.
import { createRequire } from 'node:module';
import type * as Hdr from 'hdr-histogram-js';

// Loaded from node_modules when bench first needs it, not bundled: its ~300 KB (wasm and pako
// inside) would otherwise be parsed at the start of every command.
let hdrModule: typeof Hdr | undefined;
function hdrLib(): typeof Hdr {
  hdrModule ??= createRequire(import.meta.url)('hdr-histogram-js') as typeof Hdr;
  return hdrModule;
}

/** Renard R10 steps: ten log-spaced, readable bucket bounds per decade. */
const R10 = [1, 1.25, 1.6, 2, 2.5, 3.15, 4, 5, 6.3, 8];
/** Display bucket upper bounds in ms, from 1 µs to 10^5 ms; a last bucket catches the rest. */
export const BUCKET_BOUNDS_MS: readonly number[] = (() => {
  const bounds: number[] = [];
  for (let exponent = -3; exponent < 5; exponent += 1) {
    for (const step of R10) bounds.push(Number((step * 10 ** exponent).toPrecision(3)));
  }
  bounds.push(1e5);
  return bounds;
})();

// Recorded in nanoseconds: sub-millisecond latencies keep 3 significant digits.
const NS_PER_MS = 1e6;

function newHistogram(): Hdr.Histogram {
  return hdrLib().build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000 * NS_PER_MS, numberOfSignificantValueDigits: 3, bitBucketSize: 64, autoResize: true });
}

/** Plain data, structured-clone safe. */
export interface SerializedLatency {
  count: number;
  mean: number;
  m2: number;
  min: number;
  max: number;
  histogram: string;
  buckets: number[];
}

export interface LatencySummary {
  avg: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export class LatencyRecorder {
  count = 0;
  mean = 0;
  /** Sum of squared differences from the mean (Welford). */
  m2 = 0;
  min = Infinity;
  max = 0;
  readonly histogram = newHistogram();
  readonly buckets: number[] = new Array(BUCKET_BOUNDS_MS.length + 1).fill(0);

  record(ms: number): void {
    this.count += 1;
    const delta = ms - this.mean;
    this.mean += delta / this.count;
    this.m2 += delta * (ms - this.mean);
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
    this.histogram.recordValue(Math.max(1, Math.round(ms * NS_PER_MS)));
    this.buckets[bucketIndex(ms)] += 1;
  }

  serialize(): SerializedLatency {
    return {
      count: this.count,
      mean: this.mean,
      m2: this.m2,
      min: this.min,
      max: this.max,
      histogram: hdrLib().encodeIntoCompressedBase64(this.histogram),
      buckets: [...this.buckets],
    };
  }

  /** Adds another recorder's values, as if they had been recorded here. */
  merge(other: SerializedLatency): void {
    if (other.count === 0) return;
    const total = this.count + other.count;
    const delta = other.mean - this.mean;
    this.m2 += other.m2 + (delta * delta * this.count * other.count) / total;
    this.mean += (delta * other.count) / total;
    this.count = total;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
    const decoded = hdrLib().decodeFromCompressedBase64(other.histogram);
    this.histogram.add(decoded);
    decoded.destroy();
    other.buckets.forEach((count, index) => (this.buckets[index] += count));
  }

  static fromSerialized(parts: SerializedLatency[]): LatencyRecorder {
    const recorder = new LatencyRecorder();
    for (const part of parts) recorder.merge(part);
    return recorder;
  }

  /** Population standard deviation, like pgbench. */
  get stddev(): number {
    return this.count > 0 ? Math.sqrt(this.m2 / this.count) : 0;
  }

  percentile(p: number): number {
    return this.count > 0 ? this.histogram.getValueAtPercentile(p) / NS_PER_MS : 0;
  }

  summary(): LatencySummary {
    return {
      avg: this.count > 0 ? this.mean : 0,
      stddev: this.stddev,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      // Exact, not the histogram's bucket-rounded maximum.
      max: this.count > 0 ? this.max : 0,
    };
  }
}

/** Index of the display bucket holding `ms`: the first whose upper bound exceeds it. */
export function bucketIndex(ms: number): number {
  let low = 0;
  let high = BUCKET_BOUNDS_MS.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (ms < BUCKET_BOUNDS_MS[middle]) high = middle;
    else low = middle + 1;
  }
  return low;
}
