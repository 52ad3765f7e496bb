// A lock between processes on one machine: a file that holds the holder's pid, created
// atomically (link(2) of a finished temp file, so nobody ever reads it half written). Written
// here rather than taken from proper-lockfile because every holder is a local process, so its
// pid tells at once whether it is still alive; proper-lockfile notices a dead holder only after
// an mtime staleness window (10 s by default) and brings graceful-fs, which patches `fs`.
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 50;
// Breaking a dead holder's lock takes microseconds; a break marker older than this was left by a
// process that died while breaking.
const BREAK_STALE_MS = 10_000;

export interface FileLock {
  release(): void;
}

/** Whether a process with this pid exists (EPERM: it does, owned by another OS user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Waits until `file` can be created for this process, up to `timeoutMs`; a lock whose holder
 * died is taken over. `onTimeout` builds the error to throw, given the holder's pid.
 */
export async function acquireFileLock(file: string, timeoutMs: number, onTimeout: (holder: number | undefined) => Error): Promise<FileLock> {
  const own = `${process.pid}\n`;
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  fs.writeFileSync(temp, own, { mode: 0o644 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (tryLink(temp, file)) {
        return {
          release: () => {
            if (readPid(file) === process.pid) fs.rmSync(file, { force: true });
          },
        };
      }
      const holder = readPid(file);
      if (holder !== undefined && !processAlive(holder)) breakDeadLock(file, holder);
      else if (Date.now() > deadline) throw onTimeout(holder);
      else await sleep(POLL_MS);
    }
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/**
 * Removes `file` if it still names the dead `holder`. One process breaks at a time (under a
 * `.break` marker), so a breaker can never remove a lock that another breaker's waiter just took.
 */
function breakDeadLock(file: string, holder: number): void {
  const marker = `${file}.break`;
  if (!tryCreate(marker)) {
    try {
      if (Date.now() - fs.statSync(marker).mtimeMs > BREAK_STALE_MS) fs.rmSync(marker, { force: true });
    } catch {
      // gone meanwhile
    }
    return;
  }
  try {
    if (readPid(file) === holder) fs.rmSync(file, { force: true });
  } finally {
    fs.rmSync(marker, { force: true });
  }
}

function tryLink(from: string, to: string): boolean {
  try {
    fs.linkSync(from, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** Creates `file` (its content does not matter: only its age is read), or false when it exists. */
function tryCreate(file: string): boolean {
  try {
    fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
