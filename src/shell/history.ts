// The shell's history across sessions: one file per user (~/.pgfactory_history, or
// PGFACTORY_HISTORY), created with mode 0600 since SQL can hold data worth keeping private, and
// never given a statement that mentions a password (ALTER ROLE … PASSWORD '…').
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const KEPT_LINES = 1000;
const MENTIONS_PASSWORD = /password/i;

export function historyPath(env: NodeJS.ProcessEnv): string {
  const chosen = env.PGFACTORY_HISTORY;
  if (chosen !== undefined && chosen !== '') return chosen;
  return path.join(env.HOME ?? os.homedir(), '.pgfactory_history');
}

export class HistoryFile {
  constructor(readonly file: string) {}

  /** The saved lines, newest first (as readline's `history` option takes them). */
  load(): string[] {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter((line) => line.trim() !== '').slice(-KEPT_LINES).reverse();
  }

  /** Appends the lines of one entered statement or command, unless it mentions a password. */
  append(lines: string[]): void {
    const kept = lines.filter((line) => line.trim() !== '');
    if (kept.length === 0 || kept.some((line) => MENTIONS_PASSWORD.test(line))) return;
    try {
      // The mode applies when the file is created; an existing file is narrowed to it as well.
      const fd = fs.openSync(this.file, 'a', 0o600);
      try {
        fs.fchmodSync(fd, 0o600);
        fs.writeSync(fd, kept.map((line) => `${line}\n`).join(''));
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      // A read-only home: the session still works, without history.
    }
  }
}

/** Whether an entered statement may stay in the in-memory history too. */
export function mentionsPassword(text: string): boolean {
  return MENTIONS_PASSWORD.test(text);
}
