// What every database command needs before its real work: resolved settings (with --embedded and
// -W applied), the one connection factory, and Ctrl-C handling that cancels the running statement.
import { Command, Option } from 'commander';
import { InterruptedError } from './errors.js';
import type { ConnectionFactory, FactoryOptions } from './factory.js';
import type { ResolvedSettings, SettingsFlags } from './settings.js';

export interface ConnectionFlags {
  host?: string;
  port?: string;
  user?: string;
  dbname?: string;
  password?: boolean;
  sslmode?: string;
  connectTimeout?: string;
  envFile?: string;
  embedded?: boolean;
}

/** The libpq-style connection flags every database command accepts. */
export function addConnectionOptions(command: Command): Command {
  return command
    .option('-h, --host <host>', 'server host name or socket directory (PGHOST)')
    .option('-p, --port <port>', 'server port (PGPORT)')
    .option('-U, --user <user>', 'user name (PGUSER)')
    .option('-d, --dbname <dbname>', 'database name, postgres:// URI or "key=value" connection string (PGDATABASE)')
    .option('-W, --password', 'prompt for the password (input is not echoed)')
    .addOption(new Option('--sslmode <mode>', 'TLS mode (PGSSLMODE)').choices(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']))
    .option('--connect-timeout <seconds>', 'give up connecting after this many seconds, 0 = never (PGCONNECT_TIMEOUT; default 10)')
    .option('--env-file <path>', 'read variables from this file instead of ./.env')
    .option('--embedded', 'use the embedded PostgreSQL (started for this command when not running)');
}

export interface CommandContext {
  resolved: ResolvedSettings;
  factory: ConnectionFactory;
  /** True once Ctrl-C (or SIGTERM) was received. */
  interrupted(): boolean;
  /** Runs `listener` too on the first Ctrl-C/SIGTERM (besides cancelling the running statement). */
  onInterrupt(listener: () => void): void;
  /** Closes the factory, releases the embedded server (stopping it when started for commands and now unused), removes handlers. */
  close(): Promise<void>;
}

export interface ContextIo {
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export async function resolveCommandSettings(flags: ConnectionFlags, io: ContextIo, embeddedOverrides?: ResolvedSettingsOverrides): Promise<ResolvedSettings> {
  const { loadSettings } = await import('./settings.js');
  const settingsFlags: SettingsFlags = {
    host: flags.host,
    port: flags.port,
    user: flags.user,
    dbname: flags.dbname,
    sslmode: flags.sslmode,
    connectTimeout: flags.connectTimeout,
  };
  if (flags.password === true) {
    const { promptPassword } = await import('./prompt.js');
    settingsFlags.password = await promptPassword();
  }
  const resolved = loadSettings(settingsFlags, { env: io.env, envFile: flags.envFile, overrides: embeddedOverrides });
  for (const warning of resolved.warnings) io.stderr.write(`${warning}\n`);
  return resolved;
}

type ResolvedSettingsOverrides = NonNullable<Parameters<typeof import('./settings.js').loadSettings>[1]>['overrides'];

/** Opens settings + factory for a command; the caller must `close()` it (in a finally). */
export async function openContext(flags: ConnectionFlags, factoryOptions: FactoryOptions, io: ContextIo, { handleSignals = true } = {}): Promise<CommandContext> {
  let stopEmbedded: (() => Promise<void>) | undefined;
  let overrides: ResolvedSettingsOverrides;
  if (flags.embedded === true) {
    const embedded = await import('./embedded.js');
    // Stopped by the last command using it, when it was started for commands.
    const lease = await embedded.leaseEmbedded(embedded.defaultEmbeddedDir(io.env));
    stopEmbedded = lease.release;
    overrides = { source: 'embedded', values: embedded.embeddedSettings(lease.server) };
  }
  let resolved: ResolvedSettings;
  let factory: ConnectionFactory;
  try {
    resolved = await resolveCommandSettings(flags, io, overrides);
    const { createConnectionFactory } = await import('./factory.js');
    factory = createConnectionFactory(resolved.values, factoryOptions);
  } catch (error) {
    await stopEmbedded?.();
    throw error;
  }

  let interrupts = 0;
  const interruptListeners: Array<() => void> = [];
  const onSignal = () => {
    interrupts += 1;
    if (interrupts > 1) {
      // A second Ctrl-C: leave at once (the server rolls back whatever was open).
      process.exit(130);
    }
    void factory.cancelActive();
    for (const listener of interruptListeners) listener();
  };
  // The interactive shell handles Ctrl-C itself (it cancels a statement, never ends the session).
  if (handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  return {
    resolved,
    factory,
    interrupted: () => interrupts > 0,
    onInterrupt: (listener) => void interruptListeners.push(listener),
    async close() {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      await factory.close();
      await stopEmbedded?.();
    },
  };
}

/** Runs `work` inside a context; a statement cancelled by Ctrl-C becomes InterruptedError (exit 130). */
export async function withContext<T>(flags: ConnectionFlags, factoryOptions: FactoryOptions, io: ContextIo, work: (context: CommandContext) => Promise<T>): Promise<T> {
  const context = await openContext(flags, factoryOptions, io);
  try {
    return await work(context);
  } catch (error) {
    if (context.interrupted()) throw error instanceof InterruptedError ? error : new InterruptedError('interrupted: the running statement was cancelled');
    throw error;
  } finally {
    await context.close();
  }
}
