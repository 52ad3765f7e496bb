// Running one measured command: wall time measured here, peak RSS read from GNU time's report.
// Both sides of a comparison go through exactly the same wrapper, so its overhead cancels out.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

export const TIME_BIN = '/usr/bin/time';

/**
 * Runs `argv` under `/usr/bin/time -f '%e %M'`. stdout goes to /dev/null unless `captureStdout`
 * (small outputs only, e.g. a JSON report) or `stdoutFile` is given.
 * Returns { seconds, rssMiB, stdout, stderr }; throws one line when the command fails.
 */
export async function runTimed(argv, { env, cwd, tmpDir, captureStdout = false, stdoutFile } = {}) {
  const timeFile = path.join(tmpDir, `time-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
  let stdoutFd;
  if (stdoutFile !== undefined) stdoutFd = fs.openSync(stdoutFile, 'w');
  const stdoutSpec = stdoutFd ?? (captureStdout ? 'pipe' : 'ignore');
  const started = performance.now();
  const child = spawn(TIME_BIN, ['-f', '%e %M', '-o', timeFile, ...argv], { env, cwd, stdio: ['ignore', stdoutSpec, 'pipe'] });
  const stdoutChunks = [];
  const stderrChunks = [];
  child.stdout?.on('data', (chunk) => stdoutChunks.push(chunk));
  child.stderr.on('data', (chunk) => stderrChunks.push(chunk));
  const code = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode) => resolve(exitCode));
  });
  const seconds = (performance.now() - started) / 1000;
  if (stdoutFd !== undefined) fs.closeSync(stdoutFd);
  const stderr = Buffer.concat(stderrChunks).toString('utf8');
  const report = readTimeReport(timeFile);
  if (code !== 0) {
    const firstLine = stderr.split('\n').find((line) => line.trim() !== '') ?? `exit code ${code}`;
    throw new Error(`${path.basename(argv[0])} failed (exit ${code}): ${firstLine.trim()}`);
  }
  return { seconds, rssMiB: report.rssKiB / 1024, stdout: Buffer.concat(stdoutChunks).toString('utf8'), stderr };
}

function readTimeReport(file) {
  try {
    // On failure GNU time writes "Command exited with non-zero status N" before the figures.
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    const [elapsed, rss] = lines[lines.length - 1].split(' ').map(Number);
    return { elapsedS: elapsed, rssKiB: rss };
  } catch {
    return { elapsedS: NaN, rssKiB: NaN };
  } finally {
    fs.rmSync(file, { force: true });
  }
}

export function median(values) {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Measures several sides alternately (A B A B …): `warmup` unrecorded rounds, then `runs`
 * recorded ones, so that drift in machine load hits every side alike. Each side is
 * { key, run: async () => sample } where a sample holds at least { seconds, rssMiB }; an optional
 * `prepare` runs untimed before every run of that side (e.g. TRUNCATE before an import).
 */
export async function alternate(sides, { runs, warmup, onProgress }) {
  const samples = Object.fromEntries(sides.map((side) => [side.key, []]));
  for (let round = 0; round < warmup + runs; round += 1) {
    for (const side of sides) {
      if (side.prepare !== undefined) await side.prepare();
      const sample = await side.run({ warmup: round < warmup });
      if (round >= warmup) samples[side.key].push(sample);
      onProgress?.(side.key, round < warmup ? 'warm-up' : `run ${round - warmup + 1}/${runs}`, sample);
    }
  }
  return samples;
}

/** Median of one field over samples, plus the peak RSS over all of them. */
export function summarise(samples, field = 'seconds') {
  return {
    median: median(samples.map((sample) => sample[field])),
    peakRssMiB: Math.max(...samples.map((sample) => sample.rssMiB)),
    runs: samples,
  };
}
