// The connection factory: the one place that opens PostgreSQL connections. Every command gets its
// connections here, in one of two modes: `fresh` (a new connection per use, closed afterwards) or
// `pooled` (reused from a bounded pool). Modelled on psycopg_pool: one front door,
// `withConnection(fn)`, that always gives the connection back; `close()`; stats with fixed names.
import fs from 'node:fs';
import type { Socket } from 'node:net';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { describeServer } from './describe.js';
import { ConnectError, PgfactoryError, ServerError, SettingsError } from './errors.js';
import { maskSecret } from './secrets.js';
import {
  destroyClientSocket,
  endWithoutWaiting,
  isConnectionLost,
  isConnectTimeout,
  isNoSslOnServer,
  libpqConnectionLossText,
  onAuthenticationRequest,
  onConnectPhases,
  onParameterStatus,
  sendCancelRequest,
} from './pg-internals.js';
import type { AuthMethod, ConnectionSettings } from './settings.js';
import { hostOrder, targetMismatch, type HostTarget, type ServerState } from './settings/hosts.js';

export type FactoryMode = 'fresh' | 'pooled';

export interface FactoryOptions {
  mode?: FactoryMode;
  /** Upper bound on open connections in pooled mode. */
  poolSize?: number;
  /** Applied with SET after connecting (not as a startup parameter, so PgBouncer accepts it). */
  statementTimeoutMs?: number;
  /** Called once per opened connection with its timings (bench uses it). */
  onConnect?: (timing: ConnectTiming) => void;
  /** Called once per closed connection with the time `end()` took. */
  onClose?: (closeMs: number) => void;
  /**
   * Fresh mode: give the operation back once the connection's Terminate is sent, as libpq's
   * PQfinish (and so pgbench -C) does, instead of also waiting for the server to close its end
   * (the backend's exit). The close is still timed to its end and counted; close() waits for it.
   */
  closeInBackground?: boolean;
  /**
   * Fresh mode: end each connection as psql does, without waiting for the server to close it
   * at all (a command that ends right after; onClose and close_ms do not see these closes).
   */
  endWithoutWaiting?: boolean;
  /** Makes the socket of each connection that does not use TLS (pg's `stream` option). */
  plainSocket?: () => Socket;
}

/** Where the time to open one connection went, in milliseconds. */
export interface ConnectTiming {
  total_ms: number;
  /** TCP (or unix socket) connect. */
  tcp_ms: number | undefined;
  /** TLS handshake, when the session is encrypted. */
  tls_ms: number | undefined;
  /** Startup and authentication, until the server is ready for queries. */
  startup_ms: number | undefined;
}

/** Counters, as a plain object with fixed key names. */
export interface FactoryStats {
  mode: FactoryMode;
  /** Connections opened successfully. */
  connections_opened: number;
  /** Connection attempts that failed. */
  connections_errors: number;
  /** Times a pooled connection was handed out again instead of opening one. */
  connections_reused: number;
  connections_closed: number;
  /** Connections the server or network dropped while they were open. */
  connections_lost: number;
  /** Total time spent opening connections. */
  connect_ms_total: number;
  /** Total time spent closing connections. */
  close_ms_total: number;
  /** withConnection() calls, and those that ended with an error. */
  requests: number;
  requests_errors: number;
  /** Per host, in the order listed: connections opened, failed attempts, connections lost. */
  hosts: HostStats[];
  /** Connections lost on one host and opened again on another, with the time in between. */
  failovers: Failover[];
}

export interface Failover {
  from: string;
  to: string;
  switch_ms: number;
}

export interface HostStats {
  host: string;
  connections_opened: number;
  connections_errors: number;
  connections_lost: number;
}

export interface ConnectionFactory {
  readonly mode: FactoryMode;
  readonly settings: ConnectionSettings;
  /** Runs `fn` with a connection and always gives the connection back, also when `fn` throws. */
  withConnection<T>(fn: (client: pg.Client) => Promise<T>): Promise<T>;
  /** Sends a cancel request for the statement running on every connection currently in use. */
  cancelActive(): Promise<void>;
  /** Closes every connection; the factory cannot be used afterwards. */
  close(): Promise<void>;
  stats(): FactoryStats;
}

// The server's messages (SQLSTATE 28000) when pg_hba.conf has only hostssl/hostnossl lines.
const NEEDS_SSL = /(no pg_hba\.conf entry|pg_hba\.conf rejects connection) .*no encryption|SSL off/i;

const NO_PASSWORD = 'the server asks for a password and none was given: set PGPASSWORD, put it in .env or ~/.pgpass, or use -W';

/** Raw server text for every type: commands format values themselves. */
export const RAW_TEXT_TYPES = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

function readCertFile(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new SettingsError(`cannot read ${what} "${file}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/**
 * sslrootcert=system: Node's own root certificates, with NODE_EXTRA_CA_CERTS as Node would add
 * them. bin/pgfactory starts Node without that variable — Node parses the whole bundle at start-up
 * otherwise, a cost paid by every command on a machine that sets it (bench/README.md) — and hands its value on as
 * PGFACTORY_NODE_EXTRA_CA_CERTS, read here, the only place that needs it. Undefined: Node's
 * defaults as they are (pgfactory used as a library).
 */
function systemRoots(): string[] | undefined {
  const extra = process.env.PGFACTORY_NODE_EXTRA_CA_CERTS;
  if (extra === undefined || extra === '') return undefined;
  // Loaded here only: node:tls costs start-up time, and plain connections never need it.
  const { rootCertificates } = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
  return [...rootCertificates, readCertFile(extra, 'NODE_EXTRA_CA_CERTS').toString('utf8')];
}

/**
 * libpq's sslmode semantics mapped onto Node's TLS options. `false` means no TLS; `allow` and
 * `prefer` also need the fallback in `connectWithFallback`.
 */
export function tlsOptions(settings: ConnectionSettings, useTls: boolean): false | ConnectionOptions {
  const { sslmode } = settings;
  if (!useTls || sslmode === 'disable' || settings.host.startsWith('/')) return false;
  const options: ConnectionOptions = {};
  if (settings.sslcertmode !== 'disable') {
    if (settings.sslcert !== undefined) options.cert = readCertFile(settings.sslcert, 'sslcert');
    if (settings.sslkey !== undefined) options.key = readCertFile(settings.sslkey, 'sslkey');
    if (settings.sslpassword !== undefined) options.passphrase = settings.sslpassword;
  }
  if (settings.sslcrl !== undefined) options.crl = readCertFile(settings.sslcrl, 'sslcrl');
  if (settings.ssl_min_protocol_version !== undefined) options.minVersion = settings.ssl_min_protocol_version;
  if (settings.ssl_max_protocol_version !== undefined) options.maxVersion = settings.ssl_max_protocol_version;

  let rootcert = settings.sslrootcert;
  const defaultRoot = path.join(os.homedir(), '.postgresql', 'root.crt');
  if (rootcert === undefined && fs.existsSync(defaultRoot)) rootcert = defaultRoot;
  // As in libpq, `require` with a root certificate behaves like `verify-ca`.
  const verify = sslmode === 'verify-full' || sslmode === 'verify-ca' || (sslmode === 'require' && rootcert !== undefined);
  if (!verify) return { ...options, rejectUnauthorized: false };
  if (rootcert === undefined) {
    throw new SettingsError(`sslmode ${sslmode} needs a root certificate: set sslrootcert (or PGSSLROOTCERT), or create ${defaultRoot}`);
  }
  if (rootcert !== 'system') options.ca = readCertFile(rootcert, 'sslrootcert');
  else options.ca = systemRoots();
  options.rejectUnauthorized = true;
  if (sslmode !== 'verify-full') options.checkServerIdentity = () => undefined;
  else if (settings.hosts?.[0]?.hostaddr !== undefined) {
    // Connected to hostaddr: the certificate must still name `host` (libpq).
    const name = settings.host;
    const { checkServerIdentity } = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
    options.checkServerIdentity = (_address, cert) => checkServerIdentity(name, cert);
  }
  return options;
}


/** OpenSSL's verdicts on a certificate chain that does not lead to a trusted root (Node error codes). */
const TLS_CHAIN_ERRORS: ReadonlySet<string> = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'INVALID_CA',
]);

/** A connect failure as one line that names the server, never the password. */
export function connectError(settings: ConnectionSettings, error: unknown): ConnectError {
  const err = error as Error & { code?: string; host?: string; cert?: { subjectaltname?: string } };
  let reason = err.message;
  if (err.code === 'ECONNREFUSED') reason = 'connection refused (is the server running and accepting TCP connections?)';
  else if (isNoSslOnServer(reason)) reason = `the server does not support TLS, and sslmode ${settings.sslmode} requires it`;
  else if (err.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const names = err.cert?.subjectaltname;
    reason = `server certificate does not match host name "${settings.host}" (sslmode verify-full${names !== undefined ? `; the certificate is for ${names}` : ''})`;
  } else if (err.code !== undefined && TLS_CHAIN_ERRORS.has(err.code)) {
    reason = `server certificate not trusted: ${reason} (checked against ${settings.sslrootcert !== undefined ? `sslrootcert "${settings.sslrootcert}"` : 'the root certificate'}, sslmode ${settings.sslmode})`;
  }
  else if (err.code === 'ENOTFOUND') reason = 'unknown host name';
  else if (isConnectTimeout(reason)) reason = `timeout expired after ${Math.max(settings.connect_timeout, 2)} s (connect_timeout)`;
  else if (err.code === 'ENOENT' && settings.host.startsWith('/')) reason = 'no such socket (is the server running locally?)';
  return new ConnectError(`cannot connect to ${describeServer(settings)}: ${maskSecret(reason, settings.password)}`);
}

/** Returns `promise`, or settles `callback` with it when one was given (node-style). */
function promiseOrCallback(promise: Promise<void>, callback: ((err?: Error) => void) | undefined): Promise<void> | undefined {
  if (callback === undefined) return promise;
  promise.then(() => callback(), (err: Error) => callback(err));
  return undefined;
}

/** One host of the list, as the factory sees it: its own settings view, TLS state and counters. */
interface HostSlot {
  index: number;
  /** `settings` with host, port and password of this host. */
  settings: ConnectionSettings;
  /** prefer/allow: what this server accepted last time, so later connections skip the failed try. */
  useTls: boolean;
  /** Certificate files are read once per host, not for every connection. */
  tls: Map<boolean, ReturnType<typeof tlsOptions>>;
  stats: HostStats;
}

function hostView(settings: ConnectionSettings, target: HostTarget): ConnectionSettings {
  const view = { ...settings, host: target.host, port: target.port, hosts: [target] };
  const password = settings.hosts !== undefined && settings.hosts.length > 1 && Object.prototype.hasOwnProperty.call(target, 'password')
    ? target.password
    : settings.password;
  // Non-enumerable, as in the settings themselves (the spread above drops both).
  Object.defineProperty(view, 'password', { value: password, enumerable: false, writable: true, configurable: true });
  Object.defineProperty(view, 'sslpassword', { value: settings.sslpassword, enumerable: false, writable: true, configurable: true });
  return view;
}

const AUTH_REQUEST_WORDS: Record<AuthMethod, string> = {
  password: 'a cleartext password',
  md5: 'an md5 password',
  'scram-sha-256': 'SCRAM-SHA-256 authentication',
  gss: 'GSSAPI authentication',
  sspi: 'SSPI authentication',
  oauth: 'OAuth authentication',
  none: 'no authentication (trust)',
};

/**
 * require_auth and channel_binding (libpq's semantics): the server's authentication request is
 * judged before pg answers it, so a refused method never gets a password.
 */
class AuthWatch {
  asked: AuthMethod | undefined;
  mechanisms: string[] = [];

  constructor(
    private readonly settings: ConnectionSettings,
    private readonly overTls: () => boolean,
  ) {}

  /** Why the exchange the server asked for is refused; undefined when it may go on. */
  refusal(): string | undefined {
    const method = this.asked ?? 'none';
    const allowed = this.settings.require_auth;
    if (allowed !== undefined && !allowed.includes(method)) {
      return `the server asked for ${AUTH_REQUEST_WORDS[method]}, which require_auth (${allowed.join(',')}) does not allow; no password was sent`;
    }
    if (this.settings.channel_binding === 'require') {
      if (method !== 'scram-sha-256') {
        return `channel_binding=require, but the server asked for ${AUTH_REQUEST_WORDS[method]} (channel binding needs SCRAM-SHA-256-PLUS over TLS)`;
      }
      if (!this.overTls() || !this.mechanisms.includes('SCRAM-SHA-256-PLUS')) {
        return `channel_binding=require, but the server did not offer SCRAM-SHA-256-PLUS${this.overTls() ? '' : ' (the connection is not encrypted)'}`;
      }
    }
    return undefined;
  }
}

export function createConnectionFactory(settings: ConnectionSettings, options: FactoryOptions = {}): ConnectionFactory {
  const mode = options.mode ?? 'pooled';
  const poolSize = options.poolSize ?? 10;
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new SettingsError(`invalid pool size ${poolSize}: must be an integer >= 1`);

  // One host: the top-level fields are authoritative (library callers adjust host, port or password
  // on a settings object).
  const listed = settings.hosts?.[0];
  const targets: HostTarget[] =
    settings.hosts !== undefined && settings.hosts.length > 1
      ? settings.hosts
      : [{ host: settings.host, port: settings.port, hostaddr: listed?.host === settings.host ? listed.hostaddr : undefined }];
  const slots: HostSlot[] = targets.map((target, index) => ({
    index,
    settings: hostView(settings, target),
    useTls: settings.sslmode !== 'disable' && settings.sslmode !== 'allow',
    tls: new Map(),
    stats: { host: describeServer(target), connections_opened: 0, connections_errors: 0, connections_lost: 0 },
  }));
  const targetAttrs = settings.target_session_attrs ?? 'any';

  const counters: Omit<FactoryStats, 'hosts' | 'failovers'> = {
    mode,
    connections_opened: 0,
    connections_errors: 0,
    connections_reused: 0,
    connections_closed: 0,
    connections_lost: 0,
    connect_ms_total: 0,
    close_ms_total: 0,
    requests: 0,
    requests_errors: 0,
  };
  const failovers: Failover[] = [];
  // When a connection to this host was last lost: the next connection opened elsewhere is a failover.
  let lostAt: { slot: number; at: number } | undefined;
  const active = new Set<pg.Client>();
  // Connections still being opened: Ctrl-C must not wait for connect_timeout on a silent server.
  const connecting = new Set<pg.Client>();
  // Pooled connections handed out at least once: the next hand-out is a reuse.
  const handedOut = new WeakSet<object>();
  let closed = false;
  // Fresh mode with closeInBackground: ends still waiting for the server's side.
  const closing = new Set<Promise<unknown>>();
  // Where the last good connection went: new connections try it first (after a failover, the
  // host that now fits instead of the dead one, again and again).
  let preferredSlot = 0;
  // The host for the next FactoryClient: pg-pool constructs clients itself.
  let pendingSlot = 0;

  const setupSql = options.statementTimeoutMs !== undefined ? `SET statement_timeout = ${Math.trunc(options.statementTimeoutMs)}` : undefined;

  function tlsOptionsFor(slot: HostSlot, tls: boolean): ReturnType<typeof tlsOptions> {
    let found = slot.tls.get(tls);
    if (found === undefined) {
      found = tlsOptions(slot.settings, tls);
      slot.tls.set(tls, found);
    }
    return found;
  }

  // libpq waits at least 2 s per host: a 1 s timeout would give up inside one slow round trip.
  const connectTimeoutMs = settings.connect_timeout > 0 ? Math.max(settings.connect_timeout, 2) * 1000 : 0;

  function clientConfig(slot: HostSlot, auth: () => AuthWatch | undefined): pg.ClientConfig {
    const target = slot.settings.hosts[0]!;
    const config: pg.ClientConfig & { sslnegotiation?: string } = {
      host: target.hostaddr ?? target.host,
      port: target.port,
      user: settings.user,
      database: settings.dbname,
      application_name: settings.application_name,
      ssl: tlsOptionsFor(slot, slot.useTls),
      keepAlive: settings.keepalives ?? true,
      enableChannelBinding: settings.channel_binding !== 'disable',
    };
    if (settings.keepalives_idle !== undefined && settings.keepalives_idle > 0) config.keepAliveInitialDelayMillis = settings.keepalives_idle * 1000;
    if (settings.options !== undefined) config.options = settings.options;
    if (settings.sslnegotiation === 'direct') config.sslnegotiation = 'direct';
    // A function: the config object never holds the password, and pg never falls back to its own
    // PGPASSWORD/.pgpass lookup (which ignores our precedence and prints warnings of its own).
    config.password = async () => {
      const refused = auth()?.refusal();
      if (refused !== undefined) throw new Error(refused);
      if (slot.settings.password === undefined) throw new Error(NO_PASSWORD);
      return slot.settings.password;
    };
    if (connectTimeoutMs > 0) config.connectionTimeoutMillis = connectTimeoutMs;
    if (config.ssl === false && options.plainSocket !== undefined) config.stream = options.plainSocket;
    return config;
  }

  // A pg.Client that times its own connect and runs the session setup; pg-pool creates these too.
  class FactoryClient extends pg.Client {
    readonly slot: HostSlot;
    /** What the server said about itself at startup (target_session_attrs). */
    serverState: ServerState | undefined;
    private auth: AuthWatch | undefined;

    // pg-pool passes its own options here: a number is ours (fresh mode), else the pending host.
    constructor(slotIndex?: unknown) {
      const slot = slots[typeof slotIndex === 'number' ? slotIndex : pendingSlot]!;
      let self: FactoryClient | undefined;
      super(clientConfig(slot, () => self?.auth));
      self = this;
      this.slot = slot;
      // An idle connection's error (backend terminated, server stopped) must not crash the process.
      this.on('error', (error: Error) => {
        this.markLost();
        watchedLoss(this, error);
      });
      this.on('end', () => {
        // Not ended by us: the server or the network ended it (a FATAL during a query lands here).
        if (!(this as unknown as { _ending: boolean })._ending) this.markLost();
        watchedLoss(this, new Error('server closed the connection unexpectedly'));
      });
    }

    private opened = false;
    private lost = false;

    /** The server or the network ended this connection. */
    get isLost(): boolean {
      return this.lost;
    }

    /** Counted once per connection that was open, however pg reports its end. */
    markLost(): void {
      if (!this.opened || this.lost) return;
      this.lost = true;
      counters.connections_lost += 1;
      this.slot.stats.connections_lost += 1;
      lostAt = { slot: this.slot.index, at: performance.now() };
    }

    // pg overloads connect() and end(): a promise, or a callback (pg-pool uses the callbacks).
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    override connect(callback?: any): any {
      return promiseOrCallback(this.timedConnect(), callback);
    }

    private async timedConnect(): Promise<void> {
      const started = performance.now();
      let tcpAt: number | undefined;
      let tlsAt: number | undefined;
      onConnectPhases(this, () => (tcpAt = performance.now()), () => (tlsAt = performance.now()));
      const watchAuth = settings.require_auth !== undefined || settings.channel_binding === 'require';
      if (watchAuth) {
        const auth = new AuthWatch(settings, () => tlsAt !== undefined);
        this.auth = auth;
        onAuthenticationRequest(this, (method, mechanisms) => {
          auth.asked = method;
          if (mechanisms !== undefined) auth.mechanisms = mechanisms;
        });
      }
      let state: Partial<ServerState> | undefined;
      if (targetAttrs !== 'any') {
        // Servers >= 14 report both at startup; older ones are asked below.
        state = {};
        const seen = state;
        onParameterStatus(this, (name, value) => {
          if (name === 'in_hot_standby') seen.inHotStandby = value === 'on';
          if (name === 'default_transaction_read_only') seen.readOnly = value === 'on';
        });
      }
      connecting.add(this);
      try {
        await super.connect();
        // A server that asked for no password at all (trust) is judged once it let us in.
        const refused = this.auth?.refusal();
        if (refused !== undefined) throw new Error(refused);
        if (state !== undefined) this.serverState = await this.askServerState(state);
      } catch (error) {
        counters.connections_errors += 1;
        this.slot.stats.connections_errors += 1;
        // pg leaves the socket open after some startup failures (e.g. a refused password exchange),
        // which would keep the process alive.
        destroyClientSocket(this);
        throw error;
      } finally {
        connecting.delete(this);
      }
      const readyAt = performance.now();
      this.opened = true;
      counters.connections_opened += 1;
      this.slot.stats.connections_opened += 1;
      counters.connect_ms_total += readyAt - started;
      if (lostAt !== undefined && lostAt.slot !== this.slot.index) {
        failovers.push({ from: slots[lostAt.slot]!.stats.host, to: this.slot.stats.host, switch_ms: readyAt - lostAt.at });
        lostAt = undefined;
      }
      options.onConnect?.({
        total_ms: readyAt - started,
        tcp_ms: tcpAt !== undefined ? tcpAt - started : undefined,
        tls_ms: tlsAt !== undefined && tcpAt !== undefined ? tlsAt - tcpAt : undefined,
        startup_ms: tcpAt !== undefined ? readyAt - (tlsAt ?? tcpAt) : undefined,
      });
      if (setupSql !== undefined) await super.query(setupSql);
    }

    /** libpq's checks: the startup reports, else `pg_is_in_recovery()` and `transaction_read_only`. */
    private async askServerState(reported: Partial<ServerState>): Promise<ServerState> {
      if (reported.inHotStandby !== undefined && reported.readOnly !== undefined) {
        // libpq counts a hot standby as read-only whatever default_transaction_read_only says.
        return { inHotStandby: reported.inHotStandby, readOnly: reported.readOnly || reported.inHotStandby };
      }
      const result = await super.query<{ standby: boolean; read_only: string }>(
        "select pg_catalog.pg_is_in_recovery() as standby, pg_catalog.current_setting('transaction_read_only') as read_only",
      );
      const row = result.rows[0]!;
      return { inHotStandby: row.standby, readOnly: row.read_only === 'on' || row.standby };
    }

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    override end(callback?: any): any {
      return promiseOrCallback(this.timedEnd(), callback);
    }

    private async timedEnd(): Promise<void> {
      const started = performance.now();
      await super.end();
      const closeMs = performance.now() - started;
      counters.connections_closed += 1;
      counters.close_ms_total += closeMs;
      options.onClose?.(closeMs);
    }
  }

  /** Opens a connection to one host, applying libpq's prefer/allow fallback between TLS and plain. */
  async function openOn<T>(slot: HostSlot, open: () => Promise<T>): Promise<T> {
    // Concurrent first connects may all fail the same way: decide on what this attempt tried.
    const triedTls = slot.useTls;
    try {
      return await open();
    } catch (error) {
      const message = (error as Error).message ?? '';
      const retry =
        (settings.sslmode === 'prefer' && triedTls && isNoSslOnServer(message)) ||
        (settings.sslmode === 'allow' && !triedTls && NEEDS_SSL.test(message));
      // A setting that cannot be used (an unreadable sslrootcert) is the user's to fix, not the server's.
      if (error instanceof SettingsError) throw error;
      if (!retry) throw connectError(slot.settings, error);
      // The refused first try is part of one connection attempt, not a failed connection.
      counters.connections_errors -= 1;
      slot.stats.connections_errors -= 1;
      slot.useTls = !triedTls;
      try {
        return await open();
      } catch (second) {
        throw connectError(slot.settings, second);
      }
    }
  }

  /**
   * libpq's host loop: each host in turn (from the one that worked last; shuffled with
   * load_balance_hosts=random), each with its own connect_timeout, until one connects and fits
   * target_session_attrs (prefer-standby: a second pass takes any). When none does, one error
   * names every host tried with its own reason.
   */
  async function connectSomewhere<T extends FactoryClient>(open: (slot: HostSlot) => Promise<T>, discard: (client: T) => void): Promise<T> {
    if (slots.length === 1 && targetAttrs === 'any') return openOn(slots[0]!, () => open(slots[0]!));
    const order = hostOrder(slots.length, settings.load_balance_hosts ?? 'disable');
    if (settings.load_balance_hosts !== 'random') order.push(...order.splice(0, order.indexOf(preferredSlot)));
    const failures: string[] = [];
    const passes = targetAttrs === 'prefer-standby' ? 2 : 1;
    for (let pass = 1; pass <= passes; pass++) {
      for (const index of order) {
        const slot = slots[index]!;
        let client: T;
        try {
          client = await openOn(slot, () => open(slot));
        } catch (error) {
          if (!(error instanceof ConnectError)) throw error;
          failures.push(error.message.replace(/^cannot connect to /, ''));
          continue;
        }
        const state = client.serverState;
        const mismatch = state === undefined ? undefined : targetMismatch(targetAttrs, state, pass === 2);
        if (mismatch !== undefined) {
          failures.push(`${slot.stats.host}: ${mismatch} (target_session_attrs=${targetAttrs})`);
          discard(client);
          continue;
        }
        preferredSlot = index;
        return client;
      }
    }
    const tried = [...new Set(failures)];
    throw new ConnectError(slots.length === 1 ? `cannot connect to ${tried[0]}` : `cannot connect to any of ${slots.length} hosts: ${tried.join('; ')}`);
  }

  const pool = mode === 'pooled'
    ? new pg.Pool({
        Client: FactoryClient as unknown as typeof pg.Client,
        max: poolSize,
        idleTimeoutMillis: 0,
        // The client's own timeout (per host) fires first, with the better message.
        connectionTimeoutMillis: connectTimeoutMs > 0 ? connectTimeoutMs + 1000 : 0,
      })
    : undefined;
  pool?.on('error', () => {
    // counted by FactoryClient's own listener; the pool drops the client itself
  });

  type PooledClient = FactoryClient & pg.PoolClient;

  // Connections given back by an operation and kept here instead of in pg-pool's idle list: the
  // next operation takes one without pg-pool's checkout (a promise, a timer for
  // connectionTimeoutMillis, a deferred tick and two events per operation). pg-pool still counts
  // them as checked out; one goes back to pg-pool whenever pg-pool has a caller waiting, and all
  // of them before the pool ends.
  const held: PooledClient[] = [];

  function takeHeld(): PooledClient | undefined {
    let client = held.pop();
    // A connection that died while held (its error and end listeners marked it) is dropped.
    while (client !== undefined && client.isLost) {
      client.release(true);
      client = held.pop();
    }
    return client;
  }

  async function withPooled<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    // An idle connection is handed out as it is; only opening one needs the host loop.
    const client = takeHeld() ?? ((pool!.idleCount > 0
      ? await pool!.connect()
      : await connectSomewhere(
          (slot) => {
            pendingSlot = slot.index;
            return pool!.connect() as Promise<PooledClient>;
          },
          (unfit) => unfit.release(true),
        )) as PooledClient);
    if (handedOut.has(client)) counters.connections_reused += 1;
    else handedOut.add(client);
    active.add(client);
    let broken: Error | undefined;
    try {
      return await failOnConnectionLoss(client.slot.settings, client, fn(client));
    } catch (error) {
      // A server-side statement error leaves the connection usable (and its open transaction in
      // place, which the shell relies on); anything else may not.
      const sqlstate = error instanceof pg.DatabaseError ? error.code : error instanceof ServerError ? error.sqlstate : undefined;
      if (sqlstate === undefined || sqlstate.startsWith('57P')) broken = error as Error;
      // The pool ends a broken connection before pg sees the socket close: count the loss here.
      if (connectionGone(error)) client.markLost();
      throw error;
    } finally {
      active.delete(client);
      if (broken !== undefined || closed || pool!.waitingCount > 0) client.release(broken ?? false);
      else held.push(client);
    }
  }

  async function withFresh<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = await connectSomewhere(
      async (slot) => {
        const candidate = new FactoryClient(slot.index);
        await candidate.connect();
        return candidate;
      },
      (unfit) => void unfit.end().catch(() => undefined),
    );
    active.add(client);
    try {
      return await failOnConnectionLoss(client.slot.settings, client, fn(client));
    } finally {
      active.delete(client);
      if (options.endWithoutWaiting === true) {
        endWithoutWaiting(client);
      } else {
        // pg writes Terminate at once; the promise settles when the server has closed the socket.
        const ending = client.end().catch(() => undefined);
        if (options.closeInBackground === true) {
          closing.add(ending);
          void ending.then(() => closing.delete(ending));
        } else {
          await ending;
        }
      }
    }
  }

  return {
    mode,
    settings,
    withConnection<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
      if (closed) return Promise.reject(new Error('the connection factory is closed'));
      counters.requests += 1;
      // No async wrapper: bench runs this tens of thousands of times a second.
      return (mode === 'pooled' ? withPooled(fn) : withFresh(fn)).catch((error: unknown) => {
        counters.requests_errors += 1;
        throw error;
      });
    },
    async cancelActive(): Promise<void> {
      // A connection still opening has nothing to cancel: drop it, so its connect fails now.
      for (const client of connecting) destroyClientSocket(client);
      await Promise.all([...active].map((client) => cancelQuery((client as FactoryClient).slot?.settings ?? settings, client)));
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await Promise.all(closing);
      for (const client of held.splice(0)) client.release();
      await pool?.end();
    },
    stats: () => ({ ...counters, hosts: slots.map((slot) => ({ ...slot.stats })), failovers: failovers.map((failover) => ({ ...failover })) }),
  };
}

/** The server ended the session (57P01 admin shutdown, 57P02 crash…) or the socket died. */
function connectionGone(error: unknown): boolean {
  if (error instanceof pg.DatabaseError) return (error.code ?? '').startsWith('57P');
  return error instanceof ConnectError || (error instanceof Error && isConnectionLost(error.message));
}

/** How long a command may take to fail on its own once its connection died (see below). */
const CONNECTION_LOSS_GRACE_MS = 500;

/**
 * Settles with `work`, or rejects when the connection died under it (backend terminated, server
 * stopped, network cut) and `work` did not fail by itself within a short grace. Without this a
 * command can wait forever: pg-cursor's close(), for one, waits for a ReadyForQuery that a dead
 * socket never delivers, and node then exits 0. The grace lets a command's own error handling run
 * first (insert --commit-every adds what was committed and where to resume).
 */
function failOnConnectionLoss<T>(settings: ConnectionSettings, client: pg.Client, work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let lost = false;
    let timer: NodeJS.Timeout | undefined;
    lossWatchers.set(client, (error: Error) => {
      if (lost) return;
      lost = true;
      timer = setTimeout(() => {
        lossWatchers.delete(client);
        reject(connectionLostError(settings, error));
      }, CONNECTION_LOSS_GRACE_MS);
    });
    work.then(
      (value) => {
        clearTimeout(timer);
        lossWatchers.delete(client);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        lossWatchers.delete(client);
        // pg's own words for a dead socket become one line that names the server.
        reject(lost && !(error instanceof PgfactoryError) && error instanceof Error ? connectionLostError(settings, error) : error);
      },
    );
  });
}

// The watcher of each connection in use. Set and cleared per operation; the listeners that call
// it are added once per connection (adding and removing listeners per operation cost bench
// measurable throughput).
const lossWatchers = new WeakMap<pg.Client, (error: Error) => void>();

function watchedLoss(client: pg.Client, error: Error): void {
  lossWatchers.get(client)?.(error);
}

/** The connection broke while in use: one line naming the server, never the password. */
export function connectionLostError(settings: ConnectionSettings, error: Error): ConnectError {
  const reason = libpqConnectionLossText(error.message);
  return new ConnectError(`lost the connection to ${describeServer(settings)}: ${maskSecret(reason, settings.password)}`, 'connection_lost');
}

/** Asks the server to cancel what `client` is running (node-postgres has no public call for this). */
export function cancelQuery(settings: ConnectionSettings, client: pg.Client): Promise<void> {
  const host = settings.hosts?.[0]?.hostaddr ?? settings.host;
  return sendCancelRequest(client, host.startsWith('/') ? path.join(host, `.s.PGSQL.${settings.port}`) : settings.port, host);
}
