// The library API: `import { createConnectionFactory, loadSettings } from 'pgfactory'`.
export { createConnectionFactory, cancelQuery } from './factory.js';
export type { ConnectionFactory, FactoryOptions, FactoryStats, FactoryMode, ConnectTiming, HostStats, Failover } from './factory.js';
export { resolveSettings, loadSettings, redactedSettings } from './settings.js';
export type { ConnectionSettings, ResolvedSettings, SettingsFlags, SslMode, HostTarget } from './settings.js';
export { EXIT, PgfactoryError, UsageError, SettingsError, InputError, ConnectError, ServerError, InterruptedError } from './errors.js';
