// The pager for output taller or wider than the terminal, as psql chooses it: PGFACTORY_PAGER,
// then PSQL_PAGER, then PAGER, else `less -SRFX`; a variable set to blanks turns paging off.
import { spawn } from 'node:child_process';
import type { TerminalInfo } from '../output/writer.js';

export const DEFAULT_PAGER = 'less -SRFX';
const PAGER_VARIABLES = ['PGFACTORY_PAGER', 'PSQL_PAGER', 'PAGER'] as const;

/** The pager command the environment asks for; undefined when paging is turned off. */
export function pagerCommand(env: NodeJS.ProcessEnv): string | undefined {
  for (const name of PAGER_VARIABLES) {
    const value = env[name];
    if (value !== undefined) return value.trim() === '' ? undefined : value;
  }
  return DEFAULT_PAGER;
}

/** The terminal `stdout` writes to (its size now, and the pager), or undefined when it is not one. */
export function terminalOf(stdout: NodeJS.WritableStream, env: NodeJS.ProcessEnv, pager: boolean): TerminalInfo | undefined {
  const tty = stdout as Partial<NodeJS.WriteStream>;
  if (tty.isTTY !== true) return undefined;
  return { columns: tty.columns ?? 80, rows: tty.rows ?? 24, pager: pager ? pagerCommand(env) : undefined, env };
}

/**
 * Shows `text` through `command` (run by the shell, on our terminal) and waits until the pager
 * ends. Ctrl-C belongs to the pager meanwhile (psql ignores SIGINT while paging too): our own
 * handlers would cancel nothing and a second press would exit under the pager.
 * Resolves false when the pager could not be started (the caller prints the text itself).
 */
export function runPager(command: string, text: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const saved = process.listeners('SIGINT');
  process.removeAllListeners('SIGINT');
  const ignore = () => undefined;
  process.on('SIGINT', ignore);
  const restore = () => {
    process.removeListener('SIGINT', ignore);
    for (const listener of saved) process.on('SIGINT', listener);
  };
  return new Promise((resolve) => {
    const child = spawn(command, { shell: true, stdio: ['pipe', 'inherit', 'inherit'], env });
    child.on('error', () => {
      restore();
      resolve(false);
    });
    // The reader may quit before reading everything: that is not an error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(text);
    child.on('close', () => {
      restore();
      resolve(true);
    });
  });
}
