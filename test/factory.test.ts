import { afterEach, describe, expect, it } from 'vitest';
import { ConnectError } from '../src/errors.js';
import { createConnectionFactory, type ConnectionFactory, type ConnectTiming } from '../src/factory.js';
import { sql, testSettings } from './helpers.js';
import { pollUntil } from './support/cli.js';

const factories: ConnectionFactory[] = [];
afterEach(async () => {
  await Promise.all(factories.splice(0).map((factory) => factory.close()));
});

function make(appName: string, options: Parameters<typeof createConnectionFactory>[1]) {
  const settings = { ...testSettings({ PGAPPNAME: appName }) };
  // Spreading drops the non-enumerable password: carry it across.
  Object.defineProperty(settings, 'password', { value: testSettings().password, enumerable: false });
  const factory = createConnectionFactory(settings, options);
  factories.push(factory);
  return factory;
}

async function serverConnections(appName: string): Promise<number> {
  const rows = await sql<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [appName]);
  return Number(rows[0].n);
}

describe('fresh mode', () => {
  it('opens and closes one connection per use, with timings', async () => {
    const timings: ConnectTiming[] = [];
    const closes: number[] = [];
    const factory = make('factory_fresh', { mode: 'fresh', onConnect: (t) => timings.push(t), onClose: (ms) => closes.push(ms) });
    const pids = new Set<number>();
    for (let i = 0; i < 3; i += 1) {
      await factory.withConnection(async (client) => {
        pids.add((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
      });
    }
    expect(pids.size).toBe(3);
    const stats = factory.stats();
    expect(stats).toMatchObject({ mode: 'fresh', connections_opened: 3, connections_closed: 3, connections_reused: 0, requests: 3, requests_errors: 0 });
    expect(timings).toHaveLength(3);
    expect(closes).toHaveLength(3);
    for (const timing of timings) {
      expect(timing.tcp_ms).toBeGreaterThan(0);
      expect(timing.startup_ms).toBeGreaterThan(0);
      expect(timing.tls_ms).toBeUndefined(); // the test server has no TLS: prefer fell back to plain
    }
    expect(stats.connect_ms_total).toBeCloseTo(timings.reduce((sum, t) => sum + t.total_ms, 0), 6);
    expect(await serverConnections('factory_fresh')).toBe(0);
  });

  it('closeInBackground gives the operation back before the server closed; close() waits for every close', async () => {
    const closes: number[] = [];
    const factory = make('factory_fresh_bg', { mode: 'fresh', closeInBackground: true, onClose: (ms) => closes.push(ms) });
    for (let i = 0; i < 3; i += 1) await factory.withConnection((client) => client.query('SELECT 1'));
    await factory.close();
    expect(factory.stats()).toMatchObject({ connections_opened: 3, connections_closed: 3 });
    expect(closes).toHaveLength(3);
    expect(await serverConnections('factory_fresh_bg')).toBe(0);
  });

  it('releases the connection when the callback throws', async () => {
    const factory = make('factory_fresh_err', { mode: 'fresh' });
    await expect(factory.withConnection(async () => {
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(factory.stats()).toMatchObject({ connections_opened: 1, connections_closed: 1, requests_errors: 1 });
    expect(await serverConnections('factory_fresh_err')).toBe(0);
  });
});

describe('pooled mode', () => {
  it('reuses one connection for sequential uses', async () => {
    const factory = make('factory_pooled', { mode: 'pooled', poolSize: 4 });
    const pids = new Set<number>();
    for (let i = 0; i < 10; i += 1) {
      await factory.withConnection(async (client) => {
        pids.add((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
      });
    }
    expect(pids.size).toBe(1);
    expect(factory.stats()).toMatchObject({ connections_opened: 1, connections_reused: 9, requests: 10 });
    expect(await serverConnections('factory_pooled')).toBe(1);
    await factory.close();
    expect(await serverConnections('factory_pooled')).toBe(0);
  });

  it('never opens more than poolSize connections', async () => {
    const factory = make('factory_bounded', { mode: 'pooled', poolSize: 2 });
    let peak = 0;
    await Promise.all(Array.from({ length: 8 }, () => factory.withConnection(async (client) => {
      await client.query('SELECT pg_sleep(0.05)');
      peak = Math.max(peak, await serverConnections('factory_bounded'));
    })));
    expect(factory.stats().connections_opened).toBe(2);
    expect(factory.stats().connections_reused).toBe(6);
    expect(peak).toBeLessThanOrEqual(2);
  });

  it('does not hand out an idle connection whose backend died meanwhile', async () => {
    const factory = make('factory_idle_dead', { mode: 'pooled', poolSize: 1 });
    const pid = await factory.withConnection(async (client) => (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number);
    await sql('SELECT pg_terminate_backend($1)', [pid]);
    expect(await pollUntil(async () => factory.stats().connections_lost === 1, 10_000)).toBe(true);
    const next = await factory.withConnection(async (client) => (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number);
    expect(next).not.toBe(pid);
    expect(factory.stats()).toMatchObject({ connections_opened: 2, connections_lost: 1, requests_errors: 0 });
  });

  it('keeps a connection after an SQL error, replaces it after the backend dies', async () => {
    const factory = make('factory_errors', { mode: 'pooled', poolSize: 1 });
    await expect(factory.withConnection((client) => client.query('SELECT 1/0'))).rejects.toThrow('division by zero');
    const pid = await factory.withConnection(async (client) => (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number);
    expect(factory.stats().connections_opened).toBe(1);
    await expect(factory.withConnection(async (client) => {
      await sql('SELECT pg_terminate_backend($1)', [pid]);
      await client.query('SELECT 1');
    })).rejects.toThrow();
    const next = await factory.withConnection(async (client) => (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number);
    expect(next).not.toBe(pid);
    expect(factory.stats().connections_opened).toBe(2);
  });

  it('applies the statement timeout with SET after connecting', async () => {
    const factory = make('factory_timeout', { mode: 'pooled', statementTimeoutMs: 150 });
    const value = await factory.withConnection(async (client) => (await client.query('SHOW statement_timeout')).rows[0].statement_timeout);
    expect(value).toBe('150ms');
  });

  it('cancelActive cancels the running statement', async () => {
    const factory = make('factory_cancel', { mode: 'pooled' });
    const running = factory.withConnection((client) => client.query('SELECT pg_sleep(600)')).catch((error: Error) => error);
    // Cancel once the statement runs on the server (a cancel before it arrives would do nothing).
    const started = await pollUntil(async () => (await sql("SELECT 1 FROM pg_stat_activity WHERE application_name = 'factory_cancel' AND state = 'active' AND query = 'SELECT pg_sleep(600)'")).length > 0, 30_000);
    expect(started).toBe(true);
    await factory.cancelActive();
    const error = (await running) as Error & { code?: string };
    expect({ code: error.code, message: error.message }).toEqual({ code: '57014', message: 'canceling statement due to user request' });
  });
});

describe('connect errors', () => {
  it('name the server and never the password', async () => {
    const settings = { ...testSettings(), port: 1 };
    Object.defineProperty(settings, 'password', { value: 'hunter2-secret', enumerable: false });
    const factory = createConnectionFactory(settings, { mode: 'fresh' });
    const error = await factory.withConnection(async () => undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as Error).message).toBe('cannot connect to host "127.0.0.1", port 1: connection refused (is the server running and accepting TCP connections?)');
    expect(factory.stats()).toMatchObject({ connections_errors: 1, connections_opened: 0 });
  });

  it('a wrong password is a ConnectError (exit 2)', async () => {
    const settings = { ...testSettings() };
    Object.defineProperty(settings, 'password', { value: 'wrong-password-xyz', enumerable: false });
    const factory = createConnectionFactory(settings, { mode: 'fresh' });
    const error = await factory.withConnection(async () => undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as Error).message).toBe('cannot connect to host "127.0.0.1", port ' + settings.port + ': password authentication failed for user "postgres"');
  });
});
