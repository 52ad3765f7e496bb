// bin/pgfactory as a live child process, for tests that signal it or act while it runs. Same clean
// environment as helpers.runCli (no PG* variables of the machine, HOME in a scratch directory).
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { BIN, cliEnv, scratchDir, type CliResult } from '../helpers.js';

export interface LiveCli {
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves when the process has exited; `exitedAt` is performance.now() at that moment. */
  done: Promise<CliResult & { exitedAt: number }>;
  /** Resolves once stdout+stderr contain `text`. */
  waitFor(text: string): Promise<void>;
}

/** `input: null` keeps stdin open: write to `child.stdin` and end it yourself. */
export function spawnCli(args: string[], options: { env?: Record<string, string | undefined>; input?: string | null; noDatabaseUrl?: boolean; timeoutMs?: number; cwd?: string } = {}): LiveCli {
  const home = options.cwd ?? scratchDir();
  const env = cliEnv(home, options);
  const child = spawn(process.execPath, [BIN, ...args], { cwd: home, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      if ((stdout + stderr).includes(waiter.text)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); check(); });
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); check(); });
  const done = new Promise<CliResult & { exitedAt: number }>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    let exitedAt = 0;
    child.on('exit', () => {
      exitedAt = performance.now();
      clearTimeout(timer);
    });
    child.on('close', (code, signal) => resolve({ stdout, stderr, code, signal, exitedAt }));
  });
  child.stdin!.on('error', () => undefined); // EPIPE once the command has exited
  if (options.input !== null) child.stdin!.end(options.input ?? '');
  return {
    child,
    output: () => ({ stdout, stderr }),
    done,
    waitFor: (text) => new Promise((resolve) => {
      waiters.push({ text, resolve });
      check();
    }),
  };
}

/** Polls `probe` every 20 ms until it returns true or `timeoutMs` passes; returns whether it did. */
export async function pollUntil(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Feeds `id,name` CSV rows (after a header) into a command's open stdin, 500 rows every 20 ms, so
 * an insert is still running when a test strikes. Returns a function that stops feeding.
 */
export function feedCsvRows(cli: LiveCli, firstId = 1_000_000): () => void {
  const stdin = cli.child.stdin!;
  stdin.write('id,name\n');
  let id = firstId;
  const timer = setInterval(() => {
    if (stdin.destroyed || stdin.writableEnded) return;
    let chunk = '';
    for (let i = 0; i < 500; i++, id++) chunk += `${id},row ${id}\n`;
    stdin.write(chunk);
  }, 20);
  return () => clearInterval(timer);
}
