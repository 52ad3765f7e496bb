// Every failure a user can see is one of these classes; the CLI maps `exitCode` to the process
// exit status, so commands never call process.exit themselves.

/** Exit codes, documented in the README. */
export const EXIT = {
  ok: 0,
  /** Bad usage or bad input: an unknown option, a malformed file, a missing table. */
  usage: 1,
  /** The server could not be reached or refused the login. */
  connect: 2,
  /** The server rejected a statement. */
  server: 3,
  /** Interrupted by Ctrl-C (128 + SIGINT), as shells report it. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Base class: a message a user can act on, a stable code, an exit status. */
export class PgfactoryError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  constructor(message: string, code: string, exitCode: ExitCode) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** A flag, argument or setting that cannot be used as given. */
export class UsageError extends PgfactoryError {
  constructor(message: string, code = 'usage') {
    super(message, code, EXIT.usage);
  }
}

/** A setting's value is invalid; the message names the value and where it came from. */
export class SettingsError extends PgfactoryError {
  constructor(message: string) {
    super(message, 'settings', EXIT.usage);
  }
}

/** Where in the input a problem is: any of file, line and column. */
export interface InputPlace {
  file?: string;
  line?: number;
  column?: string;
}

/** "x.csv, line 4, column name": the parts known, in that order ('' when none is). */
export function describePlace(where: InputPlace): string {
  return [where.file, where.line !== undefined ? `line ${where.line}` : undefined, where.column !== undefined ? `column ${where.column}` : undefined]
    .filter((part) => part !== undefined)
    .join(', ');
}

/** Input data that cannot be read: names the file and line. */
export class InputError extends PgfactoryError {
  readonly file: string | undefined;
  readonly line: number | undefined;
  constructor(message: string, where: InputPlace = {}) {
    const place = describePlace(where);
    super(place ? `${place}: ${message}` : message, 'input', EXIT.usage);
    this.file = where.file;
    this.line = where.line;
  }
}

/** The server could not be reached, or refused the connection or the login. */
export class ConnectError extends PgfactoryError {
  constructor(message: string, code = 'connect') {
    super(message, code, EXIT.connect);
  }
}

/** The user interrupted the run (Ctrl-C / SIGTERM). */
export class InterruptedError extends PgfactoryError {
  constructor(message = 'interrupted') {
    super(message, 'interrupted', EXIT.interrupted);
  }
}

/**
 * The server rejected a statement; the message is already formatted for the user (psql style).
 * SQLSTATE class 57P (the backend was terminated, the server is shutting down) is a lost
 * connection, not a rejected statement: exit 2, as when the socket just closes.
 */
export class ServerError extends PgfactoryError {
  readonly sqlstate: string | undefined;
  constructor(message: string, sqlstate: string | undefined) {
    super(message, 'server', sqlstate?.startsWith('57P') === true ? EXIT.connect : EXIT.server);
    this.sqlstate = sqlstate;
  }
}
