import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { progressLine, splitEvenly } from '../src/bench.js';
import { formatHistogram } from '../src/bench/report.js';
import { BUCKET_BOUNDS_MS, bucketIndex, LatencyRecorder } from '../src/bench/stats.js';

function exact(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  const stddev = Math.sqrt(values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / values.length);
  return { sorted, mean, stddev };
}

describe('LatencyRecorder', () => {
  it('avg, stddev and max are exact; percentiles within the histogram precision', () => {
    const values = Array.from({ length: 1000 }, (_, index) => 0.05 + index * 0.01);
    const recorder = new LatencyRecorder();
    for (const value of values) recorder.record(value);
    const { sorted, mean, stddev } = exact(values);
    const summary = recorder.summary();
    expect(summary.avg).toBeCloseTo(mean, 12);
    expect(summary.stddev).toBeCloseTo(stddev, 12);
    expect(summary.max).toBe(sorted.at(-1));
    expect(Math.abs(summary.p50 - sorted[499]) / sorted[499]).toBeLessThan(0.002);
    expect(Math.abs(summary.p90 - sorted[899]) / sorted[899]).toBeLessThan(0.002);
    expect(Math.abs(summary.p99 - sorted[989]) / sorted[989]).toBeLessThan(0.002);
  });

  it('merging serialized parts equals recording everything in one (no average of averages)', () => {
    fc.assert(fc.property(
      fc.array(fc.array(fc.double({ min: 0.01, max: 500, noNaN: true }), { maxLength: 50 }), { minLength: 1, maxLength: 5 }),
      (parts) => {
        const whole = new LatencyRecorder();
        const serialized = parts.map((part) => {
          const recorder = new LatencyRecorder();
          for (const value of part) {
            recorder.record(value);
            whole.record(value);
          }
          return recorder.serialize();
        });
        const merged = LatencyRecorder.fromSerialized(serialized);
        expect(merged.count).toBe(whole.count);
        expect(merged.buckets).toEqual(whole.buckets);
        if (whole.count === 0) return;
        expect(merged.mean).toBeCloseTo(whole.mean, 6);
        expect(merged.stddev).toBeCloseTo(whole.stddev, 6);
        expect(merged.max).toBe(whole.max);
        for (const p of [50, 90, 99]) expect(merged.percentile(p)).toBe(whole.percentile(p));
      },
    ));
  });

  it('an empty recorder summarises to zeros', () => {
    expect(new LatencyRecorder().summary()).toEqual({ avg: 0, stddev: 0, p50: 0, p90: 0, p99: 0, max: 0 });
  });
});

describe('display buckets', () => {
  it('bounds follow the R10 series and bucketIndex finds the first bound above the value', () => {
    expect(BUCKET_BOUNDS_MS.slice(30, 41)).toEqual([1, 1.25, 1.6, 2, 2.5, 3.15, 4, 5, 6.3, 8, 10]);
    expect(bucketIndex(0)).toBe(0);
    expect(bucketIndex(1)).toBe(31);
    expect(bucketIndex(0.9999)).toBe(30);
    expect(bucketIndex(1e9)).toBe(BUCKET_BOUNDS_MS.length);
  });

  it('the histogram has one line per bucket between the first and last used, bars scaled to the largest', () => {
    const recorder = new LatencyRecorder();
    for (let i = 0; i < 100; i += 1) recorder.record(0.11);
    for (let i = 0; i < 50; i += 1) recorder.record(0.13);
    recorder.record(0.3);
    expect(formatHistogram('latency histogram (pooled), ms:', recorder, 10)).toBe([
      'latency histogram (pooled), ms:',
      '  0.100 - 0.125 |########## 100  66.23%',
      '  0.125 - 0.160 |#####       50  33.11%',
      '  0.160 - 0.200 |             0   0.00%',
      '  0.200 - 0.250 |             0   0.00%',
      '  0.250 - 0.315 |#            1   0.66%',
      '',
    ].join('\n'));
    expect(formatHistogram('t', new LatencyRecorder())).toBe('t\n  (no successful operations)\n');
  });
});

describe('helpers', () => {
  it('splitEvenly gives near-equal shares, larger first', () => {
    expect(splitEvenly(5, 2)).toEqual([3, 2]);
    expect(splitEvenly(4, 4)).toEqual([1, 1, 1, 1]);
    expect(splitEvenly(7, 3)).toEqual([3, 2, 2]);
  });

  it('progress lines look like pgbench -P', () => {
    const latency = new LatencyRecorder();
    for (const ms of [0.09, 0.11]) latency.record(ms);
    const interval = { index: 0, elapsedS: 5.0004, intervalS: 5, ops: 1002, errors: 2, skipped: 3, latency };
    expect(progressLine('pooled', interval, false)).toBe('progress (pooled): 5.0 s, 200.0 ops/s, lat 0.100 ms stddev 0.010, 2 failed');
    expect(progressLine('b pooled', interval, true)).toBe('progress (b pooled): 5.0 s, 200.0 ops/s, lat 0.100 ms stddev 0.010, 2 failed, 3 skipped');
  });
});
