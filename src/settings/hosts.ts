// libpq's multi-host rules (fe-connect.c connectOptions2 and PQconnectPoll): how `host`,
// `hostaddr` and `port` lists pair up, and which server a `target_session_attrs` value accepts.
// Pure; the factory does the connecting.
import { SettingsError } from '../errors.js';

export interface HostTarget {
  /** Host name, IP, or a unix-socket directory (starts with '/'); what TLS and .pgpass match on. */
  host: string;
  /** A numeric address to connect to instead of resolving `host`. */
  hostaddr: string | undefined;
  port: number;
  /** Non-enumerable: the explicit password, or this host's .pgpass line. */
  password?: string | undefined;
}

export const TARGET_SESSION_ATTRS = ['any', 'read-write', 'read-only', 'primary', 'standby', 'prefer-standby'] as const;
export type TargetSessionAttrs = (typeof TARGET_SESSION_ATTRS)[number];

export const LOAD_BALANCE_HOSTS = ['disable', 'random'] as const;
export type LoadBalanceHosts = (typeof LOAD_BALANCE_HOSTS)[number];

export interface RawHostLists {
  host: string | undefined;
  hostaddr: string | undefined;
  port: string | undefined;
  /** Labels for messages. */
  hostSource: string;
  hostaddrSource: string;
  portSource: string;
}

const MAX_PORT = 65535;

function parsePort(text: string, source: string): number {
  const port = /^\s*\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > MAX_PORT) {
    throw new SettingsError(`invalid port "${text}" from ${source}: must be an integer 1-${MAX_PORT}`);
  }
  return port;
}

/**
 * Pairs the comma-separated lists as libpq does: `hostaddr` (when given) decides how many hosts
 * there are and `host` must then have as many entries; `port` has one entry for all or one per
 * host. An empty entry means the default: the default host, no hostaddr, port `defaultPort`.
 */
export function hostTargets(lists: RawHostLists, defaultHost: () => string, defaultPort: number): HostTarget[] {
  const hosts = lists.host === undefined ? [] : lists.host.split(',');
  const hostaddrs = lists.hostaddr === undefined ? [] : lists.hostaddr.split(',');
  const count = Math.max(hostaddrs.length > 0 ? hostaddrs.length : hosts.length, 1);
  if (hostaddrs.length > 0 && hosts.length > 0 && hosts.length !== hostaddrs.length) {
    throw new SettingsError(
      `could not match ${hosts.length} host names (${lists.hostSource}) to ${hostaddrs.length} hostaddr values (${lists.hostaddrSource})`,
    );
  }
  const ports = lists.port === undefined ? [] : lists.port.split(',');
  if (ports.length > 1 && ports.length !== count) {
    throw new SettingsError(`could not match ${ports.length} port numbers (${lists.portSource}) to ${count} hosts`);
  }
  const targets: HostTarget[] = [];
  for (let index = 0; index < count; index++) {
    const host = hosts[index] ?? '';
    const hostaddr = hostaddrs[index] ?? '';
    const port = ports.length === 0 ? '' : ports.length === 1 ? ports[0]! : ports[index]!;
    targets.push({
      // libpq connects to hostaddr and uses host only for TLS and .pgpass; with neither, the default.
      host: host !== '' ? host : hostaddr !== '' ? hostaddr : defaultHost(),
      hostaddr: hostaddr !== '' ? hostaddr : undefined,
      port: port === '' ? defaultPort : parsePort(port, lists.portSource),
    });
  }
  return targets;
}

/** The order to try hosts in: as listed, or shuffled (Fisher-Yates) for load_balance_hosts=random. */
export function hostOrder(count: number, loadBalance: LoadBalanceHosts, random: () => number = Math.random): number[] {
  const order = Array.from({ length: count }, (_, index) => index);
  if (loadBalance === 'random') {
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
  }
  return order;
}

/** What a connected server says about itself. */
export interface ServerState {
  inHotStandby: boolean;
  readOnly: boolean;
}

/**
 * Why the server does not fit `attrs` (libpq's words), or undefined when it does. prefer-standby
 * takes only a standby on the first pass and anything on the second.
 */
export function targetMismatch(attrs: TargetSessionAttrs, state: ServerState, secondPass: boolean): string | undefined {
  switch (attrs) {
    case 'any':
      return undefined;
    case 'read-write':
      return state.readOnly ? 'session is read-only' : undefined;
    case 'read-only':
      return state.readOnly ? undefined : 'session is not read-only';
    case 'primary':
      return state.inHotStandby ? 'server is in hot standby mode' : undefined;
    case 'standby':
      return state.inHotStandby ? undefined : 'server is not in hot standby mode';
    case 'prefer-standby':
      return secondPass || state.inHotStandby ? undefined : 'server is not in hot standby mode';
  }
}
