// Small helpers the command files share: option parsers and the I/O handed to every command.
import fs from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { UsageError } from '../errors.js';

export interface CommandIo {
  stdout: NodeJS.WritableStream & import('node:stream').Writable;
  stderr: NodeJS.WritableStream & import('node:stream').Writable;
  stdinFd: number;
  env: NodeJS.ProcessEnv;
  paint?: { header: (text: string) => string };
}

/** Commander collector for repeatable options (no default, so --help shows no "default: []"). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function parseNonNegativeInt(option: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${option} takes a whole number >= 0, got "${value}"`);
    return Number(value);
  };
}

export function parsePositiveInt(option: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${option} takes a whole number >= 1, got "${value}"`);
    return Number(value);
  };
}

export function parsePositiveNumber(option: string) {
  return (value: string): number => {
    const number = Number(value);
    if (value.trim() === '' || !Number.isFinite(number) || number <= 0) throw new InvalidArgumentError(`${option} takes a number > 0, got "${value}"`);
    return number;
  };
}

export function parseNonNegativeNumber(option: string) {
  return (value: string): number => {
    const number = Number(value);
    if (value.trim() === '' || !Number.isFinite(number) || number < 0) throw new InvalidArgumentError(`${option} takes a number >= 0, got "${value}"`);
    return number;
  };
}

/** The name of an SQL source in messages: stdin for '-', else the quoted path. */
export function sqlSourceName(path: string): string {
  return path === '-' ? 'stdin' : `"${path}"`;
}

/** Reads SQL from a file, or from stdin for '-'; an unreadable source is a usage error. */
export function readSqlFile(path: string, io: CommandIo): string {
  try {
    return fs.readFileSync(path === '-' ? io.stdinFd : path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read SQL from ${sqlSourceName(path)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
