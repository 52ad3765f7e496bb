// Multi-host connection strings against a real primary and a real streaming standby:
// target_session_attrs in every mode and both host orders, dead and refused first hosts, and a
// failover (standby promoted, primary stopped) in the middle of a pooled bench run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers.js';
import { pollUntil, spawnCli } from './support/cli.js';
import { startSilentListener, type SilentListener } from './support/net.js';
import { startReplicaPair, type ReplicaPair } from './support/server.js';
import { freePort } from '../src/embedded.js';

let pair: ReplicaPair;
let silent: SilentListener;

beforeAll(async () => {
  [pair, silent] = await Promise.all([startReplicaPair(), startSilentListener()]);
}, 120_000);

afterAll(async () => {
  await silent?.close();
  await pair?.destroy();
});

const conninfo = (ports: number[], extra = '') =>
  `host=${ports.map(() => '127.0.0.1').join(',')} port=${ports.join(',')} user=${pair.primary.user} dbname=postgres sslmode=disable ${extra}`;

/** The port of the server the query ran on, or the error. */
async function portReached(ports: number[], extra: string): Promise<string> {
  const result = await runCli(['query', '--format', 'csv', '-d', conninfo(ports, extra), "select current_setting('port') as port"], {
    noDatabaseUrl: true,
    env: { PGPASSWORD: pair.primary.password },
  });
  if (result.code !== 0) return `exit ${result.code}: ${result.stderr.trim()}`;
  return result.stdout.split('\n')[1]!;
}

describe('target_session_attrs against a primary and a standby', () => {
  const cases: Array<[string, 'primary' | 'standby' | 'first']> = [
    ['any', 'first'],
    ['read-write', 'primary'],
    ['primary', 'primary'],
    ['read-only', 'standby'],
    ['standby', 'standby'],
    ['prefer-standby', 'standby'],
  ];
  it.each(cases)('%s picks the %s, whatever the host order', async (attrs, expected) => {
    const { primary, standby } = pair;
    for (const order of [[primary.port, standby.port], [standby.port, primary.port]]) {
      const want = expected === 'first' ? order[0] : expected === 'primary' ? primary.port : standby.port;
      expect(await portReached(order, `target_session_attrs=${attrs}`)).toBe(String(want));
    }
  }, 60_000);

  it('prefer-standby takes the primary on its second pass when no standby is up', async () => {
    const down = await freePort();
    expect(await portReached([down, pair.primary.port], 'target_session_attrs=prefer-standby')).toBe(String(pair.primary.port));
  });

  it('standby with only primaries: one error naming every host tried and why', async () => {
    const down = await freePort();
    const ports = [pair.primary.port, down];
    expect(await portReached(ports, 'target_session_attrs=standby')).toBe(
      `exit 2: pgfactory: cannot connect to any of 2 hosts: host "127.0.0.1", port ${pair.primary.port}: server is not in hot standby mode (target_session_attrs=standby); ` +
        `host "127.0.0.1", port ${down}: connection refused (is the server running and accepting TCP connections?)`,
    );
  });
});

describe('dead and refused first hosts', () => {
  it('a listener that never answers: the second host after connect_timeout (2 s)', async () => {
    const started = performance.now();
    expect(await portReached([silent.port, pair.primary.port], 'connect_timeout=2')).toBe(String(pair.primary.port));
    const elapsedS = (performance.now() - started) / 1000;
    expect(elapsedS).toBeGreaterThanOrEqual(1.9);
    // A hang bound, not a speed test: a busy machine may take long to start the CLI.
    expect(elapsedS).toBeLessThan(60);
  });

  it('a refused first host: the second at once, not after connect_timeout (120 s)', async () => {
    const down = await freePort();
    const started = performance.now();
    expect(await portReached([down, pair.primary.port], 'connect_timeout=120')).toBe(String(pair.primary.port));
    expect((performance.now() - started) / 1000).toBeLessThan(60);
  });

  it('hostaddr: connects to the address; the host name is only a name (never looked up)', async () => {
    const result = await runCli(
      ['query', '--format', 'csv', '-d', `host=db.invalid,db2.invalid hostaddr=127.0.0.1,127.0.0.1 port=${await freePort()},${pair.primary.port} user=${pair.primary.user} dbname=postgres sslmode=disable`, "select current_setting('port') as port"],
      { noDatabaseUrl: true, env: { PGPASSWORD: pair.primary.password } },
    );
    expect(result).toMatchObject({ stdout: `port\n${pair.primary.port}\n`, stderr: '', code: 0 });
  });

  it('config shows the host list and where it came from', async () => {
    const result = await runCli(['config', '-d', `postgres://a:5432,b:5433/db?target_session_attrs=read-write`], { noDatabaseUrl: true });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/host\s+│?\s*a,b\s/);
    expect(result.stdout).toMatch(/port\s+│?\s*5432,5433\s/);
    expect(result.stdout).toMatch(/target_session_attrs\s+│?\s*read-write\s/);
  });
});

describe('failover during a pooled bench run', () => {
  it('promote the standby, stop the old primary: errors counted, the run finishes on the new primary, exit 0', async () => {
    const { primary, standby } = pair;
    const cli = spawnCli(
      ['bench', '--mode', 'pooled', '-c', '2', '-j', '1', '-T', '30', '--format', 'json', '-d',
        conninfo([primary.port, standby.port], 'target_session_attrs=read-write connect_timeout=2 application_name=failover_bench'),
        '--query', 'create temporary table if not exists t(x int); insert into t values (1)'],
      { noDatabaseUrl: true, timeoutMs: 90_000, env: { PGPASSWORD: primary.password } },
    );
    // Both sessions at work on the primary before it goes away (the machine may be slow to start them).
    expect(await pollUntil(async () => {
      const rows = await primary.sql<{ n: number }>("select count(*)::int as n from pg_stat_activity where application_name = 'failover_bench'");
      return rows[0]!.n === 2;
    }, 30_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await standby.sql('select pg_promote()');
    await primary.stop();
    const result = await cli.done;
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as { settings: Record<string, unknown>; modes: { pooled: { errors: number; ops: number; connections: Record<string, unknown> } } };
    expect(json.settings).toMatchObject({ host: '127.0.0.1', port: primary.port, hosts: [{ host: '127.0.0.1', port: primary.port }, { host: '127.0.0.1', port: standby.port }] });
    const pooled = json.modes.pooled;
    // Operations in flight when the primary went down fail and are counted; whether any were in
    // flight depends on timing (a session idle in the pool is only lost, not an error), so the
    // proof of the failover is below: both sessions lost on the old primary, reopened on the new.
    expect(pooled.ops).toBeGreaterThan(pooled.errors);
    const hosts = pooled.connections.hosts as Array<{ host: string; connections_opened: number; connections_lost: number }>;
    expect(hosts.map((host) => host.host)).toEqual([`host "127.0.0.1", port ${primary.port}`, `host "127.0.0.1", port ${standby.port}`]);
    expect(hosts[0]!.connections_opened).toBeGreaterThanOrEqual(2);
    expect(hosts[1]!.connections_opened).toBeGreaterThanOrEqual(2);
    expect(hosts[0]!.connections_lost).toBe(2);
    const failovers = pooled.connections.failovers as Array<{ from: string; to: string; switch_ms: number }>;
    expect(failovers.length).toBeGreaterThanOrEqual(1);
    expect(failovers[0]!.to).toBe(`host "127.0.0.1", port ${standby.port}`);
    expect(failovers[0]!.switch_ms).toBeGreaterThan(0);
  }, 120_000);
});
