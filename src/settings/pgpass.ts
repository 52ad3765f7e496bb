// The password file (~/.pgpass), read with the `pgpass` package's pure helpers (through
// src/pg-internals.ts) plus libpq's permission check. Pure: the caller passes the file-system probes in.
import { pgpassHelper, type PgpassEntry } from '../pg-internals.js';

const GROUP_OR_WORLD_ACCESS = 0o077;
const FILE_TYPE_MASK = 0o170000;
const REGULAR_FILE = 0o100000;

export function passwordFromFile(
  passfile: string,
  target: { host: string; port: number; dbname: string; user: string },
  input: { readFile: (path: string) => string | undefined; fileMode: (path: string) => number | undefined },
  warnings: string[],
): { value: string; source: string } | undefined {
  const text = input.readFile(passfile);
  if (text === undefined) return undefined;
  const mode = input.fileMode(passfile);
  if (mode !== undefined) {
    // Only judge the file type when the mode carries one (fake modes in tests are bare permissions).
    if ((mode & FILE_TYPE_MASK) !== 0 && (mode & FILE_TYPE_MASK) !== REGULAR_FILE) {
      warnings.push(`WARNING: password file "${passfile}" is not a plain file`);
      return undefined;
    }
    if ((mode & GROUP_OR_WORLD_ACCESS) !== 0) {
      warnings.push(`WARNING: password file "${passfile}" has group or world access; permissions should be u=rw (0600) or less`);
      return undefined;
    }
  }
  // libpq matches socket connections against the host name 'localhost' (as well as the directory).
  const hostsToTry = target.host.startsWith('/') ? [target.host, 'localhost'] : [target.host];
  const lines = text.split(/\r?\n/);
  const helper = pgpassHelper();
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    if (line.trimStart().startsWith('#')) continue; // the helper only skips indented comments
    const entry = helper.parseLine(line);
    if (entry === null || !helper.isValidEntry(entry)) continue;
    const matches = hostsToTry.some((host) =>
      helper.match({ host, port: String(target.port), database: target.dbname, user: target.user }, entry),
    );
    if (matches) return { value: entry.password, source: `pgpass ${passfile}:${index + 1}` };
  }
  return undefined;
}

