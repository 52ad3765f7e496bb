// Every parameter keyword of libpq's documentation ("Parameter Key Words"), with its environment
// variable ("Environment Variables") and what pgfactory does with it. One table, so resolve.ts,
// `pgfactory config` and the README cannot disagree. A keyword that is not here is a typo: libpq
// refuses it, and so do we.

export interface ParameterSpec {
  /** The libpq environment variable, where libpq has one. */
  env?: string;
  /** Why a value cannot be honoured; undefined = supported. `value` is the raw string. */
  refuse?: (value: string) => string | undefined;
  /** Shown by `pgfactory config` even when not set. */
  always?: boolean;
}

const never = (why: string) => () => why;
const NO_SOCKET_OPTION = 'Node.js sockets expose no way to set it';
const NO_GSSAPI = 'no Kerberos/GSSAPI support in Node.js';
const NO_OAUTH = 'no OAuth support in node-postgres';

export const PARAMETERS = {
  host: { env: 'PGHOST', always: true },
  hostaddr: { env: 'PGHOSTADDR' },
  port: { env: 'PGPORT', always: true },
  dbname: { env: 'PGDATABASE', always: true },
  user: { env: 'PGUSER', always: true },
  password: { env: 'PGPASSWORD', always: true },
  passfile: { env: 'PGPASSFILE' },
  require_auth: { env: 'PGREQUIREAUTH' },
  channel_binding: { env: 'PGCHANNELBINDING' },
  connect_timeout: { env: 'PGCONNECT_TIMEOUT', always: true },
  client_encoding: {
    env: 'PGCLIENTENCODING',
    refuse: (value) =>
      /^(utf-?8|unicode|auto)$/i.test(value) ? undefined : 'node-postgres reads and writes UTF8 only; use UTF8 or auto',
  },
  options: { env: 'PGOPTIONS' },
  application_name: { env: 'PGAPPNAME', always: true },
  fallback_application_name: {},
  keepalives: {},
  keepalives_idle: {},
  keepalives_interval: { refuse: never(`keepalives_interval: ${NO_SOCKET_OPTION}`) },
  keepalives_count: { refuse: never(`keepalives_count: ${NO_SOCKET_OPTION}`) },
  tcp_user_timeout: { refuse: never(`TCP_USER_TIMEOUT: ${NO_SOCKET_OPTION}`) },
  replication: { refuse: never('pgfactory is not a replication client') },
  gssencmode: {
    env: 'PGGSSENCMODE',
    refuse: (value) => (value === 'require' ? `gssencmode=require: ${NO_GSSAPI}` : undefined),
  },
  sslmode: { env: 'PGSSLMODE', always: true },
  sslnegotiation: { env: 'PGSSLNEGOTIATION' },
  sslcompression: { env: 'PGSSLCOMPRESSION' },
  sslcert: { env: 'PGSSLCERT', always: true },
  sslkey: { env: 'PGSSLKEY', always: true },
  sslkeylogfile: { env: 'PGSSLKEYLOGFILE', refuse: never('TLS key logging is not implemented') },
  sslpassword: {},
  sslcertmode: {
    env: 'PGSSLCERTMODE',
    refuse: (value) => (value === 'require' ? 'sslcertmode=require: Node.js does not tell whether the server asked for a certificate' : undefined),
  },
  sslrootcert: { env: 'PGSSLROOTCERT', always: true },
  sslcrl: { env: 'PGSSLCRL' },
  sslcrldir: { env: 'PGSSLCRLDIR', refuse: never('a CRL directory needs OpenSSL hashed-directory lookup; list the file in sslcrl instead') },
  sslsni: {
    env: 'PGSSLSNI',
    refuse: (value) => (value === '0' ? 'sslsni=0: node-postgres always sends the host name (SNI)' : undefined),
  },
  requirepeer: { env: 'PGREQUIREPEER', refuse: never('Node.js cannot read the peer credentials of a unix socket') },
  ssl_min_protocol_version: { env: 'PGSSLMINPROTOCOLVERSION' },
  ssl_max_protocol_version: { env: 'PGSSLMAXPROTOCOLVERSION' },
  min_protocol_version: {
    env: 'PGMINPROTOCOLVERSION',
    refuse: (value) => (value === '3.0' ? undefined : 'node-postgres speaks protocol 3.0 only'),
  },
  max_protocol_version: { env: 'PGMAXPROTOCOLVERSION' },
  krbsrvname: { env: 'PGKRBSRVNAME', refuse: never(NO_GSSAPI) },
  gsslib: { env: 'PGGSSLIB', refuse: never(NO_GSSAPI) },
  gssdelegation: { env: 'PGGSSDELEGATION', refuse: (value) => (value === '0' ? undefined : NO_GSSAPI) },
  scram_client_key: { refuse: never('node-postgres cannot authenticate with SCRAM keys instead of a password') },
  scram_server_key: { refuse: never('node-postgres cannot authenticate with SCRAM keys instead of a password') },
  service: { env: 'PGSERVICE' },
  target_session_attrs: { env: 'PGTARGETSESSIONATTRS' },
  load_balance_hosts: { env: 'PGLOADBALANCEHOSTS' },
  oauth_issuer: { refuse: never(NO_OAUTH) },
  oauth_client_id: { refuse: never(NO_OAUTH) },
  oauth_client_secret: { refuse: never(NO_OAUTH) },
  oauth_scope: { refuse: never(NO_OAUTH) },
} satisfies Record<string, ParameterSpec>;

export type ParameterName = keyof typeof PARAMETERS;

export const PARAMETER_NAMES = Object.keys(PARAMETERS) as ParameterName[];

export function isParameterName(key: string): key is ParameterName {
  return Object.prototype.hasOwnProperty.call(PARAMETERS, key);
}

/** Why pgfactory cannot honour `key=value`, or undefined when it can. */
export function refusal(key: ParameterName, value: string): string | undefined {
  const spec: ParameterSpec = PARAMETERS[key];
  return spec.refuse?.(value);
}
