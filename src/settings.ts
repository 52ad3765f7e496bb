// Connection settings, resolved the way libpq/psql resolves them, plus a record of where each value
// came from (for `pgfactory config` and for error messages).
//
// `resolveSettings` is pure: the caller hands in the environment, the parsed .env file and the few
// file-system probes it needs, so every precedence rule can be tested without touching the machine.
// `loadSettings` is the only I/O edge.
//
// Precedence, highest first, decided per field:
//   a plain `-d name`  >  overrides (e.g. --embedded)  >  the -W prompt  >  a URI/conninfo in -d
//   >  the separate flags  >  DATABASE_URL  >  the service file entry  >  PG* variables
//   >  the password file (password only)  >  defaults.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dotenv from 'dotenv';
import { parse as parseConnectionUri } from 'pg-connection-string';
import { SettingsError } from './errors.js';
import { REDACTED_PASSWORD, redactUri } from './secrets.js';
import { pgpassHelper } from './pg-internals.js';

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

export const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

export const SETTING_NAMES = [
  'host',
  'port',
  'user',
  'password',
  'dbname',
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'application_name',
  'connect_timeout',
] as const;

export type SettingName = (typeof SETTING_NAMES)[number];

export interface ConnectionSettings {
  /** Host name, IP, or a unix-socket directory (starts with '/'). */
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  dbname: string;
  sslmode: SslMode;
  sslrootcert: string | undefined;
  sslcert: string | undefined;
  sslkey: string | undefined;
  application_name: string;
  /** Seconds; 0 = wait forever (libpq); our default is DEFAULT_CONNECT_TIMEOUT_S. */
  connect_timeout: number;
}

/** libpq waits forever by default; a CLI that hangs on a typo'd host is worse than one that gives up. */
export const DEFAULT_CONNECT_TIMEOUT_S = 10;

export const DEFAULT_PORT = 5432;
export const DEFAULT_APPLICATION_NAME = 'pgfactory';
/** Where distributions put the server socket; the first that exists is the default host, as in libpq builds. */
export const DEFAULT_SOCKET_DIRS = ['/var/run/postgresql', '/tmp'] as const;

export interface ResolvedSettings {
  values: ConnectionSettings;
  /** Human-readable origin of every field, e.g. 'flag --host', 'env PGHOST', 'pgpass /home/u/.pgpass:3', 'default'. */
  sources: Record<SettingName, string>;
  /** One-line warnings for the CLI to print on stderr. */
  warnings: string[];
}

/** Raw strings exactly as typed on the command line; undefined = not given. */
export interface SettingsFlags {
  host?: string;
  port?: string;
  user?: string;
  dbname?: string;
  sslmode?: string;
  connectTimeout?: string;
  /** Typed at the -W prompt. */
  password?: string;
  applicationName?: string;
}

export interface SettingsInput {
  flags: SettingsFlags;
  /** The real process environment. */
  env: Record<string, string | undefined>;
  /** Variables parsed from the .env file (already parsed). */
  dotenv: Record<string, string>;
  /** For source labels only; '.env' when absent. */
  dotenvPath?: string;
  homedir: string;
  osUser: string;
  /** undefined when missing/unreadable. */
  readFile: (path: string) => string | undefined;
  /** st_mode, for the .pgpass permission check; undefined when unknown (then no check, as on Windows). */
  fileMode: (path: string) => number | undefined;
  /** For the default unix-socket directory. */
  existsDir: (path: string) => boolean;
  /** Beats every other layer except an explicit plain -d database name. */
  overrides?: { values: Partial<ConnectionSettings>; source: string };
}

/** The source label of each flag, so the CLI's help and `pgfactory config` agree. */
export const FLAG_SOURCES = {
  host: 'flag --host',
  port: 'flag --port',
  user: 'flag --user',
  dbname: 'flag -d',
  sslmode: 'flag --sslmode',
  connectTimeout: 'flag --connect-timeout',
  password: 'password prompt (-W)',
  applicationName: 'flag --application-name',
} as const satisfies Record<keyof SettingsFlags, string>;

const DEFAULT_SOURCE = 'default';

/** libpq's environment variables, one per setting. */
const ENV_VARIABLES: Record<SettingName, string> = {
  host: 'PGHOST',
  port: 'PGPORT',
  user: 'PGUSER',
  password: 'PGPASSWORD',
  dbname: 'PGDATABASE',
  sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT',
  sslcert: 'PGSSLCERT',
  sslkey: 'PGSSLKEY',
  application_name: 'PGAPPNAME',
  connect_timeout: 'PGCONNECT_TIMEOUT',
};

/**
 * libpq treats an empty host/port/user/dbname as "not given" at every layer (an empty PGHOST means
 * the default host, not a host called ''), so we do too. Every other setting keeps '' as a value:
 * PGPASSWORD='' is an empty password, PGAPPNAME='' an empty application name.
 */
const EMPTY_MEANS_UNSET: ReadonlySet<SettingName> = new Set<SettingName>(['host', 'port', 'user', 'dbname']);

/**
 * Keywords libpq accepts that pgfactory does not use. A connection string written for psql may carry
 * them, so they are skipped with a warning rather than rejected; anything else is a typo.
 */
const IGNORED_LIBPQ_KEYWORDS: ReadonlySet<string> = new Set([
  'hostaddr', 'passfile', 'channel_binding', 'options', 'client_encoding', 'fallback_application_name',
  'keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'tcp_user_timeout',
  'replication', 'gssencmode', 'sslnegotiation', 'sslcompression', 'sslpassword', 'sslcertmode', 'sslcrl',
  'sslcrldir', 'sslsni', 'requirepeer', 'ssl_min_protocol_version', 'ssl_max_protocol_version',
  'min_protocol_version', 'max_protocol_version', 'krbsrvname', 'gsslib', 'gssdelegation',
  'target_session_attrs', 'load_balance_hosts', 'require_auth', 'scram_client_key', 'scram_server_key',
  'oauth_issuer', 'oauth_client_id', 'oauth_client_secret', 'oauth_scope',
]);

const PASSWORD_ON_COMMAND_LINE_WARNING =
  'WARNING: a password on the command line is visible to other users in the process list; use PGPASSWORD, a .env file or ~/.pgpass instead';

const URI_PREFIXES = ['postgresql://', 'postgres://'];

// ---------------------------------------------------------------------------------------------
// Layers: each maps a setting to a raw string and the label of where it came from.

interface Candidate {
  value: string;
  source: string;
}

type Layer = Partial<Record<SettingName, Candidate>>;

function isSettingName(key: string): key is SettingName {
  return (SETTING_NAMES as readonly string[]).includes(key);
}

function addCandidate(layer: Layer, name: SettingName, value: string | undefined, source: string): void {
  if (value === undefined) return;
  if (value === '' && EMPTY_MEANS_UNSET.has(name)) return;
  layer[name] = { value, source };
}

function layerFromValues(values: Partial<Record<SettingName, string>>, source: string): Layer {
  const layer: Layer = {};
  for (const name of SETTING_NAMES) addCandidate(layer, name, values[name], source);
  return layer;
}

// ---------------------------------------------------------------------------------------------
// Connection strings: postgres:// URIs and libpq `key=value` strings.

interface ParsedConnectionString {
  values: Partial<Record<SettingName, string>>;
  service: string | undefined;
}

export function isConnectionUri(text: string): boolean {
  return URI_PREFIXES.some((prefix) => text.startsWith(prefix));
}

/** psql's rule for -d: a URI, or anything with '=' in it, is a connection string; else a database name. */
export function isConnectionString(text: string): boolean {
  return isConnectionUri(text) || text.includes('=');
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function noteOption(key: string, value: string, sourceLabel: string, parsed: ParsedConnectionString, warnings: string[], unknownIsError: boolean): void {
  if (key === 'service') {
    parsed.service = value;
  } else if (isSettingName(key)) {
    parsed.values[key] = value;
  } else if (IGNORED_LIBPQ_KEYWORDS.has(key)) {
    warnings.push(`WARNING: ignoring connection option "${key}" in ${sourceLabel}: not supported by pgfactory`);
  } else if (unknownIsError) {
    throw new SettingsError(`invalid connection option "${key}" in ${sourceLabel}`);
  } else {
    warnings.push(`WARNING: ignoring unknown parameter "${key}" in ${sourceLabel}`);
  }
}

/**
 * A postgres:// URI. pg-connection-string parses the part before '?'; we read the query ourselves
 * because that library maps sslmode to its own ssl object (and reads certificate files from disk).
 * Query parameters override the authority part, as in libpq. Unknown query parameters only warn:
 * DATABASE_URLs are often written for other drivers (`?schema=public`, `?ssl=true`).
 */
function parseUri(uri: string, sourceLabel: string, warnings: string[]): ParsedConnectionString {
  const queryStart = uri.indexOf('?');
  const base = queryStart === -1 ? uri : uri.slice(0, queryStart);
  const query = queryStart === -1 ? '' : uri.slice(queryStart + 1);
  const parsed: ParsedConnectionString = { values: {}, service: undefined };
  try {
    const fromAuthority = parseConnectionUri(base);
    // pg-connection-string reports an absent part as '' or null; an empty part means "not given".
    const present = (value: unknown): string | undefined =>
      typeof value === 'string' && value !== '' ? value : undefined;
    parsed.values.host = present(fromAuthority.host);
    parsed.values.port = present(fromAuthority.port);
    parsed.values.user = present(fromAuthority.user);
    parsed.values.password = present(fromAuthority.password);
    parsed.values.dbname = present(fromAuthority.database);
    for (const [key, value] of new URLSearchParams(query)) {
      noteOption(key, value, sourceLabel, parsed, warnings, false);
    }
  } catch (error) {
    if (error instanceof SettingsError) throw error;
    throw new SettingsError(`invalid connection URI "${redactUri(uri)}" in ${sourceLabel}: ${errorMessage(error)}`);
  }
  return parsed;
}

const isSpace = (char: string | undefined): boolean => char !== undefined && /\s/.test(char);

/**
 * A libpq `key=value key='quoted value'` string (libpq's conninfo_parse): spaces around '=' are
 * allowed, single quotes group, and a backslash escapes the next character. Unknown keywords are
 * an error, as in libpq. Messages never echo text that follows `password=`.
 */
function parseConninfo(text: string, sourceLabel: string, warnings: string[]): ParsedConnectionString {
  const parsed: ParsedConnectionString = { values: {}, service: undefined };
  const fail = (problem: string): never => {
    throw new SettingsError(`invalid connection string in ${sourceLabel}: ${problem}`);
  };
  let previousKey: string | undefined;
  let i = 0;
  while (i < text.length) {
    while (isSpace(text[i])) i++;
    if (i >= text.length) break;
    let key = '';
    while (i < text.length && !isSpace(text[i]) && text[i] !== '=') key += text[i++];
    // A key right after password= is most likely the tail of an unquoted password with a space.
    const keyForMessage = previousKey === 'password' ? 'the value of password (quote values that contain spaces)' : `"${key}"`;
    while (isSpace(text[i])) i++;
    if (text[i] !== '=') fail(`missing "=" after ${keyForMessage}`);
    i++;
    while (isSpace(text[i])) i++;
    let value = '';
    if (text[i] === "'") {
      i++;
      let closed = false;
      while (i < text.length) {
        const char = text[i]!;
        if (char === '\\' && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else if (char === "'") {
          closed = true;
          i++;
          break;
        } else {
          value += char;
          i++;
        }
      }
      if (!closed) fail(`unterminated quoted string after ${key === 'password' ? 'password' : `"${key}"`}`);
    } else {
      while (i < text.length && !isSpace(text[i])) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        value += text[i++];
      }
    }
    if (previousKey === 'password' && !isSettingName(key) && key !== 'service' && !IGNORED_LIBPQ_KEYWORDS.has(key)) {
      fail('unknown keyword after the value of password (quote values that contain spaces)');
    }
    noteOption(key, value, sourceLabel, parsed, warnings, true);
    previousKey = key;
  }
  return parsed;
}

function parseConnectionString(text: string, sourceLabel: string, warnings: string[]): ParsedConnectionString {
  return isConnectionUri(text) ? parseUri(text, sourceLabel, warnings) : parseConninfo(text, sourceLabel, warnings);
}

// ---------------------------------------------------------------------------------------------
// The service file (pg_service.conf).

/** The entry for `service` in an INI-style service file, or undefined when the file lacks it. */
function findServiceEntry(text: string, service: string, file: string, warnings: string[]): Layer | undefined {
  const sourceLabel = `service "${service}" (${file})`;
  const values: Partial<Record<SettingName, string>> = {};
  let inTarget = false;
  let found = false;
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      if (found) break; // libpq stops at the section after the one it wanted
      inTarget = line.endsWith(']') && line.slice(1, -1).trim() === service;
      found = inTarget;
      continue;
    }
    if (!inTarget) continue;
    const equals = line.indexOf('=');
    if (equals === -1) throw new SettingsError(`syntax error in service file "${file}", line ${index + 1}`);
    // libpq does not trim around '='; trimming is kinder and cannot change a valid file's meaning.
    const key = line.slice(0, equals).trim();
    const value = line.slice(equals + 1).trim();
    if (key === 'service') {
      throw new SettingsError(`nested service specifications not supported in service file "${file}", line ${index + 1}`);
    }
    if (isSettingName(key)) {
      values[key] = value;
    } else if (IGNORED_LIBPQ_KEYWORDS.has(key)) {
      warnings.push(`WARNING: ignoring connection option "${key}" in ${sourceLabel}: not supported by pgfactory`);
    } else {
      throw new SettingsError(`invalid connection option "${key}" in service file "${file}", line ${index + 1}`);
    }
  }
  return found ? layerFromValues(values, sourceLabel) : undefined;
}

// ---------------------------------------------------------------------------------------------
// The password file (~/.pgpass), read with the `pgpass` package's pure helpers (src/pg-internals.ts).

const GROUP_OR_WORLD_ACCESS = 0o077;
const FILE_TYPE_MASK = 0o170000;
const REGULAR_FILE = 0o100000;

function passwordFromFile(
  passfile: string,
  target: { host: string; port: number; dbname: string; user: string },
  input: SettingsInput,
  warnings: string[],
): Candidate | undefined {
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

// ---------------------------------------------------------------------------------------------
// Conversion and validation of the winning raw strings.

const MAX_INT32 = 2147483647;

function parsePort(candidate: Candidate): number {
  const port = /^\d+$/.test(candidate.value) ? Number(candidate.value) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new SettingsError(`invalid port "${candidate.value}" from ${candidate.source}: must be an integer 1-65535`);
  }
  return port;
}

function parseConnectTimeout(candidate: Candidate): number {
  const seconds = /^\d+$/.test(candidate.value) ? Number(candidate.value) : NaN;
  if (!Number.isInteger(seconds) || seconds > MAX_INT32) {
    throw new SettingsError(
      `invalid connect_timeout "${candidate.value}" from ${candidate.source}: must be a whole number of seconds 0-${MAX_INT32} (0 = wait forever)`,
    );
  }
  return seconds;
}

function parseSslMode(candidate: Candidate): SslMode {
  const mode = SSL_MODES.find((known) => known === candidate.value);
  if (mode === undefined) {
    throw new SettingsError(`invalid sslmode "${candidate.value}" from ${candidate.source}: expected one of ${SSL_MODES.join(', ')}`);
  }
  return mode;
}

// ---------------------------------------------------------------------------------------------

export function resolveSettings(input: SettingsInput): ResolvedSettings {
  const { flags } = input;
  const warnings: string[] = [];
  const dotenvLabel = input.dotenvPath ?? '.env';

  /** A variable from the real environment, else from the .env file (which never overrides the real one). */
  const lookupVariable = (name: string): Candidate | undefined => {
    const fromEnv = input.env[name];
    if (fromEnv !== undefined) return { value: fromEnv, source: `env ${name}` };
    const fromDotenv = input.dotenv[name];
    if (fromDotenv !== undefined) return { value: fromDotenv, source: `${dotenvLabel} ${name}` };
    return undefined;
  };
  /** File and service locators: an empty value locates nothing. */
  const lookupLocator = (name: string): string | undefined => {
    const found = lookupVariable(name);
    return found !== undefined && found.value !== '' ? found.value : undefined;
  };

  // -d: a plain database name, or a URI/conninfo whose fields count as flags.
  const dbnameFlag = flags.dbname;
  const dbnameFlagIsPlain = dbnameFlag !== undefined && !isConnectionString(dbnameFlag);
  let dashD: ParsedConnectionString | undefined;
  if (dbnameFlag !== undefined && !dbnameFlagIsPlain) {
    dashD = parseConnectionString(dbnameFlag, FLAG_SOURCES.dbname, warnings);
    if (dashD.values.password !== undefined) warnings.push(PASSWORD_ON_COMMAND_LINE_WARNING);
  }

  // DATABASE_URL: from the environment, else from .env.
  const databaseUrl = lookupVariable('DATABASE_URL');
  let fromDatabaseUrl: ParsedConnectionString | undefined;
  let databaseUrlLabel = 'DATABASE_URL';
  if (databaseUrl !== undefined && databaseUrl.value !== '') {
    databaseUrlLabel = databaseUrl.source.startsWith('env ') ? 'DATABASE_URL' : `DATABASE_URL (${dotenvLabel})`;
    if (!isConnectionString(databaseUrl.value)) {
      throw new SettingsError(
        `invalid DATABASE_URL "${redactUri(databaseUrl.value)}" from ${databaseUrl.source}: expected a postgres:// URI or a key=value connection string`,
      );
    }
    fromDatabaseUrl = parseConnectionString(databaseUrl.value, databaseUrlLabel, warnings);
  }

  // The service: named in -d, else in DATABASE_URL, else PGSERVICE.
  const serviceName = dashD?.service ?? fromDatabaseUrl?.service ?? lookupLocator('PGSERVICE');
  let serviceLayer: Layer = {};
  if (serviceName !== undefined) {
    const userFile = lookupLocator('PGSERVICEFILE') ?? path.join(input.homedir, '.pg_service.conf');
    const sysconfdir = lookupLocator('PGSYSCONFDIR');
    const files = sysconfdir === undefined ? [userFile] : [userFile, path.join(sysconfdir, 'pg_service.conf')];
    let found: Layer | undefined;
    for (const file of files) {
      const text = input.readFile(file);
      if (text === undefined) continue;
      found = findServiceEntry(text, serviceName, file, warnings);
      if (found !== undefined) break;
    }
    if (found === undefined) {
      throw new SettingsError(`definition of service "${serviceName}" not found (searched ${files.join(', ')})`);
    }
    serviceLayer = found;
  }

  const plainDbnameLayer: Layer = {};
  if (dbnameFlagIsPlain) addCandidate(plainDbnameLayer, 'dbname', dbnameFlag, FLAG_SOURCES.dbname);

  const overridesLayer: Layer = {};
  if (input.overrides !== undefined) {
    for (const name of SETTING_NAMES) {
      const value = input.overrides.values[name];
      if (value !== undefined) addCandidate(overridesLayer, name, String(value), input.overrides.source);
    }
  }

  // A password typed at the prompt is a deliberate act, so it beats one inside -d (psql would let
  // the -d one win because it passes -d last; we think the prompt is what the user meant).
  const promptLayer: Layer = {};
  addCandidate(promptLayer, 'password', flags.password, FLAG_SOURCES.password);

  const separateFlagsLayer: Layer = {};
  addCandidate(separateFlagsLayer, 'host', flags.host, FLAG_SOURCES.host);
  addCandidate(separateFlagsLayer, 'port', flags.port, FLAG_SOURCES.port);
  addCandidate(separateFlagsLayer, 'user', flags.user, FLAG_SOURCES.user);
  addCandidate(separateFlagsLayer, 'sslmode', flags.sslmode, FLAG_SOURCES.sslmode);
  addCandidate(separateFlagsLayer, 'connect_timeout', flags.connectTimeout, FLAG_SOURCES.connectTimeout);
  addCandidate(separateFlagsLayer, 'application_name', flags.applicationName, FLAG_SOURCES.applicationName);

  const envLayer: Layer = {};
  for (const name of SETTING_NAMES) {
    const found = lookupVariable(ENV_VARIABLES[name]);
    if (found !== undefined) addCandidate(envLayer, name, found.value, found.source);
  }

  const layers: Layer[] = [
    plainDbnameLayer,
    overridesLayer,
    promptLayer,
    dashD === undefined ? {} : layerFromValues(dashD.values, FLAG_SOURCES.dbname),
    separateFlagsLayer,
    fromDatabaseUrl === undefined ? {} : layerFromValues(fromDatabaseUrl.values, databaseUrlLabel),
    // As in libpq, a service's values beat the PG* variables.
    serviceLayer,
    envLayer,
  ];
  const winner = (name: SettingName): Candidate | undefined => {
    for (const layer of layers) {
      const candidate = layer[name];
      if (candidate !== undefined) return candidate;
    }
    return undefined;
  };

  const sources = {} as Record<SettingName, string>;
  const pick = <T>(name: SettingName, convert: (candidate: Candidate) => T, fallback: () => T): T => {
    const candidate = winner(name);
    sources[name] = candidate === undefined ? DEFAULT_SOURCE : candidate.source;
    return candidate === undefined ? fallback() : convert(candidate);
  };
  const asString = (candidate: Candidate): string => candidate.value;
  const none = (): undefined => undefined;

  const host = pick('host', asString, () => DEFAULT_SOCKET_DIRS.find((dir) => input.existsDir(dir)) ?? 'localhost');
  const port = pick('port', parsePort, () => DEFAULT_PORT);
  const user = pick('user', asString, () => input.osUser);
  const dbname = pick('dbname', asString, () => user); // libpq: the database defaults to the user name
  let password: string | undefined = pick('password', asString, none);
  if (password === undefined) {
    // Only now are host/port/dbname/user final, which is what the password file is matched on.
    const passfile = lookupLocator('PGPASSFILE') ?? path.join(input.homedir, '.pgpass');
    const fromFile = passwordFromFile(passfile, { host, port, dbname, user }, input, warnings);
    if (fromFile !== undefined) {
      password = fromFile.value;
      sources.password = fromFile.source;
    }
  }
  const sslmode = pick<SslMode>('sslmode', parseSslMode, () => 'prefer');
  const sslrootcert = pick('sslrootcert', asString, none);
  const sslcert = pick('sslcert', asString, none);
  const sslkey = pick('sslkey', asString, none);
  const applicationName = pick('application_name', asString, () => DEFAULT_APPLICATION_NAME);
  const connectTimeout = pick('connect_timeout', parseConnectTimeout, () => DEFAULT_CONNECT_TIMEOUT_S);

  const values = {
    host,
    port,
    user,
    dbname,
    sslmode,
    sslrootcert,
    sslcert,
    sslkey,
    application_name: applicationName,
    connect_timeout: connectTimeout,
  } as ConnectionSettings;
  // Non-enumerable so a stray console.log or JSON.stringify of the settings never shows it.
  Object.defineProperty(values, 'password', { value: password, enumerable: false, writable: true, configurable: true });

  const orderedSources = {} as Record<SettingName, string>;
  for (const name of SETTING_NAMES) orderedSources[name] = sources[name];
  return { values, sources: orderedSources, warnings };
}

// ---------------------------------------------------------------------------------------------
// The I/O edge.

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function currentOsUser(env: NodeJS.ProcessEnv): string {
  try {
    return os.userInfo().username;
  } catch {
    // No passwd entry (some containers): fall back to what the shell says.
    return env.USER ?? env.LOGNAME ?? env.USERNAME ?? '';
  }
}

export function loadSettings(
  flags: SettingsFlags,
  options: { env?: NodeJS.ProcessEnv; envFile?: string; cwd?: string; overrides?: SettingsInput['overrides'] } = {},
): ResolvedSettings {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const envFileLabel = options.envFile ?? '.env';
  const envFilePath = path.resolve(cwd, envFileLabel);
  const extraWarnings: string[] = [];
  let dotenvValues: Record<string, string> = {};
  try {
    dotenvValues = dotenv.parse(fs.readFileSync(envFilePath, 'utf8'));
  } catch (error) {
    const code = errorCode(error);
    if (options.envFile !== undefined) {
      throw new SettingsError(
        code === 'ENOENT' ? `env file "${envFileLabel}" not found` : `cannot read env file "${envFileLabel}": ${code ?? errorMessage(error)}`,
      );
    }
    // A missing ./.env is the normal case; an unreadable one deserves a word.
    if (code !== 'ENOENT') extraWarnings.push(`WARNING: cannot read env file "${envFileLabel}": ${code ?? errorMessage(error)}`);
  }

  const homedir = env.HOME !== undefined && env.HOME !== '' ? env.HOME : os.homedir();
  const resolved = resolveSettings({
    flags,
    env,
    dotenv: dotenvValues,
    dotenvPath: envFileLabel,
    homedir,
    osUser: currentOsUser(env),
    readFile: (file) => {
      try {
        return fs.readFileSync(file, 'utf8');
      } catch {
        return undefined;
      }
    },
    // libpq skips the permission check on Windows, where st_mode means little.
    fileMode: (file) => {
      if (process.platform === 'win32') return undefined;
      try {
        return fs.statSync(file).mode;
      } catch {
        return undefined;
      }
    },
    existsDir: (dir) => {
      try {
        return fs.statSync(dir).isDirectory();
      } catch {
        return false;
      }
    },
    overrides: options.overrides,
  });
  return { ...resolved, warnings: [...extraWarnings, ...resolved.warnings] };
}

// ---------------------------------------------------------------------------------------------
// Presentation.

/** For `pgfactory config`: every setting in SETTING_NAMES order, with the password masked. */
export function redactedSettings(resolved: ResolvedSettings): Array<{ setting: SettingName; value: string; source: string }> {
  const { values, sources } = resolved;
  return SETTING_NAMES.map((setting) => {
    let value: string;
    if (setting === 'password') {
      value = values.password === undefined ? '' : REDACTED_PASSWORD;
    } else {
      const raw = values[setting];
      value = raw === undefined ? '' : String(raw);
    }
    return { setting, value, source: sources[setting] };
  });
}
