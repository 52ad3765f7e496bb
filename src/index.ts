// The library API: `import { createConnectionFactory, loadSettings } from 'pgfactory'`.
export { createConnectionFactory, cancelQuery } from './factory.js';
export type { ConnectionFactory, FactoryOptions, FactoryStats, FactoryMode, ConnectTiming } from './factory.js';
export { resolveSettings, loadSettings, redactedSettings } from './settings.js';
export type { ConnectionSettings, ResolvedSettings, SettingsFlags, SslMode } from './settings.js';
export { EXIT, PgfactoryError, UsageError, SettingsError, InputError, ConnectError, ServerError, InterruptedError } from './errors.js';
