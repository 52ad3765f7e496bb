// Connection settings, resolved the way libpq/psql resolves them, plus a record of where each value
// came from (for `pgfactory config` and for error messages).
//
// `resolveSettings` is pure: the caller hands in the environment, the parsed .env file and the few
// file-system probes it needs, so every precedence rule can be tested without touching the machine.
// `loadSettings` is the only I/O edge. The grammar is in settings/conninfo.ts, the keyword table in
// settings/parameters.ts, the multi-host rules in settings/hosts.ts.
//
// Precedence, highest first, decided per keyword:
//   a plain `-d name`  >  overrides (e.g. --embedded)  >  the -W prompt  >  a URI/conninfo in -d
//   >  the separate flags  >  DATABASE_URL  >  the service file entry  >  PG* variables
//   >  the password file (password only, matched per host)  >  defaults.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dotenv from 'dotenv';
import { SettingsError } from './errors.js';
import { REDACTED_PASSWORD, redactUri } from './secrets.js';
import { ConninfoSyntaxError, isConnectionString, parseConnectionString as parseConninfoText, uriPrefixLength } from './settings/conninfo.js';
import {
  LOAD_BALANCE_HOSTS,
  TARGET_SESSION_ATTRS,
  hostTargets,
  type HostTarget,
  type LoadBalanceHosts,
  type TargetSessionAttrs,
} from './settings/hosts.js';
import { PARAMETERS, PARAMETER_NAMES, isParameterName, refusal, type ParameterName } from './settings/parameters.js';
import { passwordFromFile } from './settings/pgpass.js';
import { findServiceEntry } from './settings/service.js';

export { isConnectionString } from './settings/conninfo.js';
export type { HostTarget } from './settings/hosts.js';

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

export const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/** The settings `pgfactory config` always shows; the others only when set. */
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
] as const satisfies readonly ParameterName[];

export type SettingName = ParameterName;

export const CHANNEL_BINDINGS = ['disable', 'prefer', 'require'] as const;
export type ChannelBinding = (typeof CHANNEL_BINDINGS)[number];

/** require_auth's methods (libpq); `none` = the server asks for no password at all (trust). */
export const AUTH_METHODS = ['password', 'md5', 'gss', 'sspi', 'scram-sha-256', 'oauth', 'none'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

export interface ConnectionSettings {
  /** The first host (all of them are in `hosts`): a name, an IP, or a unix-socket directory. */
  host: string;
  port: number;
  /** Every host to try, in the order given; each may carry its own .pgpass password. */
  hosts: HostTarget[];
  user: string;
  password: string | undefined;
  dbname: string;
  sslmode: SslMode;
  sslrootcert: string | undefined;
  sslcert: string | undefined;
  sslkey: string | undefined;
  sslpassword: string | undefined;
  sslcrl: string | undefined;
  sslnegotiation: 'postgres' | 'direct';
  sslcertmode: 'allow' | 'disable';
  ssl_min_protocol_version: TlsVersion | undefined;
  ssl_max_protocol_version: TlsVersion | undefined;
  application_name: string;
  /** Seconds per host; 0 = wait forever (libpq); our default is DEFAULT_CONNECT_TIMEOUT_S. */
  connect_timeout: number;
  /** Startup `options` (e.g. `-c search_path=x`). */
  options: string | undefined;
  keepalives: boolean;
  /** Seconds of idle before the first keepalive; undefined = the system's. */
  keepalives_idle: number | undefined;
  target_session_attrs: TargetSessionAttrs;
  load_balance_hosts: LoadBalanceHosts;
  /** undefined = any method; else what the server may ask for (libpq's `!` lists are expanded). */
  require_auth: AuthMethod[] | undefined;
  channel_binding: ChannelBinding;
}

export const TLS_VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

/** libpq waits forever by default; a CLI that hangs on a typo'd host is worse than one that gives up. */
export const DEFAULT_CONNECT_TIMEOUT_S = 10;

export const DEFAULT_PORT = 5432;
export const DEFAULT_APPLICATION_NAME = 'pgfactory';
/** Where distributions put the server socket; the first that exists is the default host, as in libpq builds. */
export const DEFAULT_SOCKET_DIRS = ['/var/run/postgresql', '/tmp'] as const;

export interface ResolvedSettings {
  values: ConnectionSettings;
  /**
   * Human-readable origin of every field shown by `config`, e.g. 'flag --host', 'env PGHOST',
   * 'pgpass /home/u/.pgpass:3', 'default': SETTING_NAMES always, other keywords when set.
   */
  sources: Partial<Record<SettingName, string>> & Record<(typeof SETTING_NAMES)[number], string>;
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
  overrides?: { values: Partial<Record<SettingName, string | number>>; source: string };
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

/**
 * libpq treats an empty host/port/user/dbname as "not given" at every layer (an empty PGHOST means
 * the default host, not a host called ''), so we do too. Every other setting keeps '' as a value:
 * PGPASSWORD='' is an empty password, PGAPPNAME='' an empty application name.
 */
const EMPTY_MEANS_UNSET: ReadonlySet<SettingName> = new Set<SettingName>(['host', 'hostaddr', 'port', 'user', 'dbname']);

const PASSWORD_ON_COMMAND_LINE_WARNING =
  'WARNING: a password on the command line is visible to other users in the process list; use PGPASSWORD, a .env file or ~/.pgpass instead';

// ---------------------------------------------------------------------------------------------
// Layers: each maps a keyword to a raw string and the label of where it came from.

interface Candidate {
  value: string;
  source: string;
}

type Layer = Partial<Record<SettingName, Candidate>>;

function addCandidate(layer: Layer, name: SettingName, value: string | undefined, source: string): void {
  if (value === undefined) return;
  if (value === '' && EMPTY_MEANS_UNSET.has(name)) return;
  layer[name] = { value, source };
}

// ---------------------------------------------------------------------------------------------
// Connection strings: postgres:// URIs and libpq `key=value` strings.

interface ParsedConnectionString {
  layer: Layer;
  service: string | undefined;
}

export function isConnectionUri(text: string): boolean {
  return uriPrefixLength(text) > 0;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A URI or key=value string from `sourceLabel`. Every key must be a libpq keyword: an unknown one
 * is a typo (`sslmdoe=verify-full` must not connect without TLS), named with its source.
 */
function parseConnectionString(text: string, sourceLabel: string): ParsedConnectionString {
  let parsed: ReturnType<typeof parseConninfoText>;
  try {
    parsed = parseConninfoText(text);
  } catch (error) {
    if (!(error instanceof ConninfoSyntaxError)) throw error;
    // libpq's messages quote the whole URI: the password must not go with it.
    const message = isConnectionUri(text) ? error.message.split(text).join(redactUri(text)) : error.message;
    throw new SettingsError(`invalid connection ${isConnectionUri(text) ? 'URI' : 'string'} in ${sourceLabel}: ${message}`);
  }
  const result: ParsedConnectionString = { layer: {}, service: undefined };
  for (const { key, value } of parsed.pairs) {
    if (key === 'service') {
      result.service = value;
    } else if (isParameterName(key)) {
      addCandidate(result.layer, key, value, sourceLabel);
    } else {
      throw new SettingsError(
        parsed.uri ? `invalid URI query parameter: "${key}" in ${sourceLabel}` : `invalid connection option "${key}" in ${sourceLabel}`,
      );
    }
  }
  return result;
}

/** The password to use for one host (explicit, or its own .pgpass line), never enumerable. */
function setHostPassword(target: HostTarget, password: string | undefined): void {
  Object.defineProperty(target, 'password', { value: password, enumerable: false, writable: true, configurable: true });
}

// ---------------------------------------------------------------------------------------------
// Conversion and validation of the winning raw strings.

const MAX_INT32 = 2147483647;

function parseSeconds(candidate: Candidate, name: string, zeroMeans: string): number {
  const seconds = /^\d+$/.test(candidate.value) ? Number(candidate.value) : NaN;
  if (!Number.isInteger(seconds) || seconds > MAX_INT32) {
    throw new SettingsError(
      `invalid ${name} "${candidate.value}" from ${candidate.source}: must be a whole number of seconds 0-${MAX_INT32} (${zeroMeans})`,
    );
  }
  return seconds;
}

function oneOf<T extends string>(name: string, allowed: readonly T[]): (candidate: Candidate) => T {
  return (candidate) => {
    const found = allowed.find((known) => known === candidate.value);
    if (found === undefined) {
      throw new SettingsError(`invalid ${name} "${candidate.value}" from ${candidate.source}: expected one of ${allowed.join(', ')}`);
    }
    return found;
  };
}

const parseSslMode = oneOf<SslMode>('sslmode', SSL_MODES);

/** libpq's boolean-ish integers (keepalives, sslsni, sslcompression): any integer, 0 = off. */
function parseFlag(name: string): (candidate: Candidate) => boolean {
  return (candidate) => {
    if (!/^-?\d+$/.test(candidate.value.trim())) {
      throw new SettingsError(`invalid integer value "${candidate.value}" for connection option "${name}" from ${candidate.source}`);
    }
    return Number(candidate.value) !== 0;
  };
}

/** require_auth: a comma list of methods, all negated with '!' or none (libpq's rule). */
export function parseRequireAuth(candidate: Candidate): AuthMethod[] {
  const items = candidate.value.split(',');
  const negated = items.map((item) => item.startsWith('!'));
  if (negated.some((n) => n !== negated[0])) {
    throw new SettingsError(
      `invalid require_auth value "${candidate.value}" from ${candidate.source}: negative and positive methods cannot be mixed`,
    );
  }
  const methods = items.map((item) => {
    const method = item.replace(/^!/, '');
    const known = AUTH_METHODS.find((name) => name === method);
    if (known === undefined) {
      throw new SettingsError(
        `invalid require_auth method "${method}" from ${candidate.source}: expected ${AUTH_METHODS.join(', ')} (each may be negated with !)`,
      );
    }
    return known;
  });
  return negated[0] === true ? AUTH_METHODS.filter((method) => !methods.includes(method)) : [...new Set(methods)];
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
    dashD = parseConnectionString(dbnameFlag, FLAG_SOURCES.dbname);
    if (dashD.layer.password !== undefined) warnings.push(PASSWORD_ON_COMMAND_LINE_WARNING);
  }

  // DATABASE_URL: from the environment, else from .env.
  const databaseUrl = lookupVariable('DATABASE_URL');
  let fromDatabaseUrl: ParsedConnectionString | undefined;
  if (databaseUrl !== undefined && databaseUrl.value !== '') {
    const databaseUrlLabel = databaseUrl.source.startsWith('env ') ? 'DATABASE_URL' : `DATABASE_URL (${dotenvLabel})`;
    if (!isConnectionString(databaseUrl.value)) {
      throw new SettingsError(
        `invalid DATABASE_URL "${redactUri(databaseUrl.value)}" from ${databaseUrl.source}: expected a postgres:// URI or a key=value connection string`,
      );
    }
    fromDatabaseUrl = parseConnectionString(databaseUrl.value, databaseUrlLabel);
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
      const entries = findServiceEntry(text, serviceName, file);
      if (entries === undefined) continue;
      found = {};
      for (const { key, value } of entries) addCandidate(found, key, value, `service "${serviceName}" (${file})`);
      break;
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
    for (const [name, value] of Object.entries(input.overrides.values)) {
      if (value !== undefined && isParameterName(name)) addCandidate(overridesLayer, name, String(value), input.overrides.source);
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
  for (const name of PARAMETER_NAMES) {
    const variable = (PARAMETERS[name] as { env?: string }).env;
    if (variable === undefined || name === 'service' || name === 'passfile') continue;
    const found = lookupVariable(variable);
    if (found !== undefined) addCandidate(envLayer, name, found.value, found.source);
  }

  const layers: Layer[] = [
    plainDbnameLayer,
    overridesLayer,
    promptLayer,
    dashD?.layer ?? {},
    separateFlagsLayer,
    fromDatabaseUrl?.layer ?? {},
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

  // Refused keywords first: a setting that cannot be honoured must never be silently dropped.
  for (const name of PARAMETER_NAMES) {
    const candidate = winner(name);
    if (candidate === undefined) continue;
    const why = refusal(name, candidate.value);
    if (why !== undefined) throw new SettingsError(`pgfactory does not support ${name} (${why}), set in ${candidate.source}`);
  }

  const sources: Partial<Record<SettingName, string>> = {};
  const pick = <T>(name: SettingName, convert: (candidate: Candidate) => T, fallback: () => T): T => {
    const candidate = winner(name);
    sources[name] = candidate === undefined ? DEFAULT_SOURCE : candidate.source;
    return candidate === undefined ? fallback() : convert(candidate);
  };
  const asString = (candidate: Candidate): string => candidate.value;
  const none = (): undefined => undefined;

  const defaultHost = () => DEFAULT_SOCKET_DIRS.find((dir) => input.existsDir(dir)) ?? 'localhost';
  const hostCandidate = winner('host');
  const hostaddrCandidate = winner('hostaddr');
  const portCandidate = winner('port');
  const hosts = hostTargets(
    {
      host: hostCandidate?.value,
      hostaddr: hostaddrCandidate?.value,
      port: portCandidate?.value,
      hostSource: hostCandidate?.source ?? DEFAULT_SOURCE,
      hostaddrSource: hostaddrCandidate?.source ?? DEFAULT_SOURCE,
      portSource: portCandidate?.source ?? DEFAULT_SOURCE,
    },
    defaultHost,
    DEFAULT_PORT,
  );
  sources.host = hostCandidate?.source ?? DEFAULT_SOURCE;
  sources.port = portCandidate?.source ?? DEFAULT_SOURCE;
  if (hostaddrCandidate !== undefined) sources.hostaddr = hostaddrCandidate.source;
  const user = pick('user', asString, () => input.osUser);
  const dbname = pick('dbname', asString, () => user); // libpq: the database defaults to the user name
  const password: string | undefined = pick('password', asString, none);
  if (password === undefined) {
    // Only now are host/port/dbname/user final, which is what the password file is matched on:
    // libpq looks up each host in turn as it tries it.
    const passfileCandidate = winner('passfile');
    const passfile =
      passfileCandidate !== undefined && passfileCandidate.value !== ''
        ? passfileCandidate.value
        : (lookupLocator('PGPASSFILE') ?? path.join(input.homedir, '.pgpass'));
    if (passfileCandidate !== undefined) sources.passfile = passfileCandidate.source;
    hosts.forEach((target, index) => {
      const fromFile = passwordFromFile(passfile, { host: target.host, port: target.port, dbname, user }, input, warnings);
      setHostPassword(target, fromFile?.value);
      if (index === 0 && fromFile !== undefined) sources.password = fromFile.source;
    });
  } else {
    for (const target of hosts) setHostPassword(target, password);
  }
  const sslmode = pick<SslMode>('sslmode', parseSslMode, () => 'prefer');
  const sslrootcert = pick('sslrootcert', asString, none);
  const sslcert = pick('sslcert', asString, none);
  const sslkey = pick('sslkey', asString, none);
  const fallbackApplicationName = winner('fallback_application_name')?.value;
  const applicationName = pick('application_name', asString, () => fallbackApplicationName ?? DEFAULT_APPLICATION_NAME);
  const connectTimeout = pick('connect_timeout', (c) => parseSeconds(c, 'connect_timeout', '0 = wait forever'), () => DEFAULT_CONNECT_TIMEOUT_S);

  const values = {
    host: hosts[0]!.host,
    port: hosts[0]!.port,
    hosts,
    user,
    dbname,
    sslmode,
    sslrootcert,
    sslcert,
    sslkey,
    application_name: applicationName,
    connect_timeout: connectTimeout,
  } as ConnectionSettings;
  // Non-enumerable so a stray console.log or JSON.stringify of the settings never shows it. Callers
  // that know one host only read this one: the first host's.
  Object.defineProperty(values, 'password', { value: hosts[0]!.password, enumerable: false, writable: true, configurable: true });

  // The rest: shown by `config` only when set.
  const optional = <T>(name: SettingName, convert: (candidate: Candidate) => T, fallback: T): T => {
    const candidate = winner(name);
    if (candidate === undefined) return fallback;
    sources[name] = candidate.source;
    return convert(candidate);
  };
  const sslpassword = optional<string | undefined>('sslpassword', asString, undefined);
  Object.defineProperty(values, 'sslpassword', { value: sslpassword, enumerable: false, writable: true, configurable: true });
  values.sslcrl = optional('sslcrl', asString, undefined);
  values.sslnegotiation = optional('sslnegotiation', oneOf('sslnegotiation', ['postgres', 'direct'] as const), 'postgres');
  values.sslcertmode = optional('sslcertmode', oneOf('sslcertmode', ['allow', 'disable'] as const), 'allow');
  values.ssl_min_protocol_version = optional('ssl_min_protocol_version', oneOf('ssl_min_protocol_version', TLS_VERSIONS), undefined);
  values.ssl_max_protocol_version = optional('ssl_max_protocol_version', oneOf('ssl_max_protocol_version', TLS_VERSIONS), undefined);
  values.options = optional('options', asString, undefined);
  values.keepalives = optional('keepalives', parseFlag('keepalives'), true);
  values.keepalives_idle = optional('keepalives_idle', (c) => parseSeconds(c, 'keepalives_idle', '0 = the system default'), undefined);
  values.target_session_attrs = optional('target_session_attrs', oneOf('target_session_attrs', TARGET_SESSION_ATTRS), 'any');
  values.load_balance_hosts = optional('load_balance_hosts', oneOf('load_balance_hosts', LOAD_BALANCE_HOSTS), 'disable');
  values.require_auth = optional<AuthMethod[] | undefined>('require_auth', parseRequireAuth, undefined);
  values.channel_binding = optional('channel_binding', oneOf('channel_binding', CHANNEL_BINDINGS), 'prefer');
  // Checked, with no effect of their own (see the README's parameter table).
  for (const name of ['client_encoding', 'gssdelegation', 'min_protocol_version'] as const) {
    optional(name, asString, undefined);
  }
  optional('gssencmode', oneOf('gssencmode', ['disable', 'prefer', 'require'] as const), undefined);
  optional('sslsni', parseFlag('sslsni'), undefined);
  optional('sslcompression', parseFlag('sslcompression'), undefined);
  optional('max_protocol_version', oneOf('max_protocol_version', ['3.0', '3.2', 'latest'] as const), undefined);
  if (values.sslmode === 'disable' && values.channel_binding === 'require') {
    throw new SettingsError(`channel_binding=require (${sources.channel_binding}) needs TLS, but sslmode is disable (${sources.sslmode})`);
  }

  const orderedSources: Partial<Record<SettingName, string>> = {};
  for (const name of PARAMETER_NAMES) if (sources[name] !== undefined) orderedSources[name] = sources[name];
  return { values, sources: orderedSources as ResolvedSettings['sources'], warnings: [...new Set(warnings)] };
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
  const shown = PARAMETER_NAMES.filter((name) => (SETTING_NAMES as readonly string[]).includes(name) || sources[name] !== undefined);
  const order = [...SETTING_NAMES, ...shown.filter((name) => !(SETTING_NAMES as readonly string[]).includes(name))];
  return order.map((setting) => {
    let value: string;
    if (setting === 'password' || setting === 'sslpassword') {
      value = (values as unknown as Record<string, unknown>)[setting] === undefined ? '' : REDACTED_PASSWORD;
    } else if (setting === 'host' || setting === 'port' || setting === 'hostaddr') {
      // The whole list, as given: one entry per host.
      value = values.hosts.map((target) => String(target[setting] ?? '')).join(',');
    } else {
      const raw = (values as unknown as Record<string, unknown>)[setting];
      value = raw === undefined ? '' : Array.isArray(raw) ? raw.join(',') : String(raw);
    }
    return { setting, value, source: sources[setting] ?? DEFAULT_SOURCE };
  });
}
