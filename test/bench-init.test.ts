// `bench init` (pgbench -i) against the real test server: pgbench 15's tables and data, every
// step letter, -F, --foreign-keys, --unlogged-tables, --partitions, the built-in scripts on the
// result, Ctrl-C and the errors. In a schema of its own (search_path), apart from
// bench-workload's pgbench tables.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { databaseUrl, runCli, scratchDir, sql, useTestSchema } from './helpers.js';
import { pollUntil, spawnCli } from './support/cli.js';

const SCHEMA = 'bench_init';
useTestSchema(SCHEMA);

const dir = scratchDir();
const env = { PGOPTIONS: `-c search_path=${SCHEMA}` };
const run = (args: string[]) => runCli(['bench', ...args], { env, cwd: dir, timeoutMs: 120_000 });
const seconds = String.raw`\d+\.\d\d s`;

/** Every row of the three filled tables, as one digest. */
async function digest(): Promise<string> {
  const [row] = await sql<{ accounts: string; branches: string; tellers: string }>(`SELECT
    (SELECT md5(string_agg(format('%s,%s,%s,%s', aid, bid, abalance, coalesce(filler, '<null>')), ';' ORDER BY aid)) FROM ${SCHEMA}.pgbench_accounts) AS accounts,
    (SELECT md5(string_agg(format('%s,%s,%s', bid, bbalance, coalesce(filler, '<null>')), ';' ORDER BY bid)) FROM ${SCHEMA}.pgbench_branches) AS branches,
    (SELECT md5(string_agg(format('%s,%s,%s,%s', tid, bid, tbalance, coalesce(filler, '<null>')), ';' ORDER BY tid)) FROM ${SCHEMA}.pgbench_tellers) AS tellers`);
  return `${row.accounts} ${row.branches} ${row.tellers}`;
}

async function tables(): Promise<Array<{ relname: string; relpersistence: string; reloptions: string[] | null }>> {
  return sql(`SELECT relname, relpersistence, reloptions FROM pg_class WHERE relnamespace = '${SCHEMA}'::regnamespace AND relkind = 'r' ORDER BY relname`);
}

async function constraints(): Promise<string[]> {
  // Primary and foreign keys (PostgreSQL 18 lists NOT NULL constraints there too), names unqualified.
  const rows = await sql<{ c: string }>(`SELECT conrelid::regclass || ' ' || pg_get_constraintdef(oid) AS c FROM pg_constraint WHERE connamespace = '${SCHEMA}'::regnamespace AND contype IN ('p', 'f') ORDER BY 1`);
  return rows.map((row) => row.c.replaceAll(`${SCHEMA}.`, ''));
}

describe('bench init', () => {
  it('-s 2 makes pgbench\'s tables and rows (steps dtgvp), and the built-in scripts run on them', async () => {
    const result = await run(['init', '-s', '2']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^done in ${seconds} \\(drop tables ${seconds}, create tables ${seconds}, client-side generate ${seconds}, vacuum ${seconds}, primary keys ${seconds}\\)\\.\\n$`));
    expect(result.stderr).toMatch(new RegExp(`^dropping old tables\\.\\.\\.\\ncreating tables\\.\\.\\.\\ngenerating data \\(client-side\\)\\.\\.\\.\\n` +
      `100000 of 200000 tuples \\(50%\\) done \\(elapsed ${seconds}, remaining ${seconds}\\)\\n200000 of 200000 tuples \\(100%\\) done \\(elapsed ${seconds}, remaining 0\\.00 s\\)\\n` +
      `vacuuming\\.\\.\\.\\ncreating primary keys\\.\\.\\.\\n$`));
    const [accounts] = await sql(`SELECT count(*)::int AS n, count(DISTINCT aid)::int AS distinct, min(aid) AS first, max(aid) AS last, sum(abalance)::int AS balance,
      count(*) FILTER (WHERE bid <> (aid - 1) / 100000 + 1)::int AS wrong_bid, count(*) FILTER (WHERE filler IS DISTINCT FROM '')::int AS wrong_filler FROM ${SCHEMA}.pgbench_accounts`);
    expect(accounts).toEqual({ n: 200000, distinct: 200000, first: 1, last: 200000, balance: 0, wrong_bid: 0, wrong_filler: 0 });
    expect(await sql(`SELECT bid, bbalance, filler FROM ${SCHEMA}.pgbench_branches ORDER BY bid`)).toEqual([{ bid: 1, bbalance: 0, filler: null }, { bid: 2, bbalance: 0, filler: null }]);
    const tellers = await sql<{ tid: number; bid: number; tbalance: number; filler: null }>(`SELECT tid, bid, tbalance, filler FROM ${SCHEMA}.pgbench_tellers ORDER BY tid`);
    expect(tellers).toEqual(Array.from({ length: 20 }, (_, i) => ({ tid: i + 1, bid: Math.floor(i / 10) + 1, tbalance: 0, filler: null })));
    expect(await sql(`SELECT count(*)::int AS n FROM ${SCHEMA}.pgbench_history`)).toEqual([{ n: 0 }]);
    expect(await tables()).toEqual([
      { relname: 'pgbench_accounts', relpersistence: 'p', reloptions: ['fillfactor=100'] },
      { relname: 'pgbench_branches', relpersistence: 'p', reloptions: ['fillfactor=100'] },
      { relname: 'pgbench_history', relpersistence: 'p', reloptions: null },
      { relname: 'pgbench_tellers', relpersistence: 'p', reloptions: ['fillfactor=100'] },
    ]);
    expect(await constraints()).toEqual(['pgbench_accounts PRIMARY KEY (aid)', 'pgbench_branches PRIMARY KEY (bid)', 'pgbench_tellers PRIMARY KEY (tid)']);

    const bench = await run(['-b', 'tpcb-like', '--mode', 'pooled', '-t', '10', '--format', 'json']);
    expect(bench.code).toBe(0);
    const json = JSON.parse(bench.stdout);
    expect(json.settings.scale).toBe(2);
    expect(json.modes.pooled).toMatchObject({ ops: 10, errors: 0 });
    expect(await sql(`SELECT count(*)::int AS n FROM ${SCHEMA}.pgbench_history`)).toEqual([{ n: 10 }]);
  }, 120_000);

  it('server-side generation (G) gives the same rows; -F, --foreign-keys and --unlogged-tables as pgbench', async () => {
    const client = await run(['init', '-s', '1', '-q']);
    expect(client.code).toBe(0);
    const clientSide = await digest();
    const server = await run(['init', '-s', '1', '-I', 'dtGvp', '-F', '80', '--foreign-keys', '--unlogged-tables']);
    expect(server.code).toBe(0);
    expect(server.stdout).toMatch(new RegExp(`^done in ${seconds} \\(drop tables ${seconds}, create tables ${seconds}, server-side generate ${seconds}, vacuum ${seconds}, primary keys ${seconds}, foreign keys ${seconds}\\)\\.\\n$`));
    expect(server.stderr).toBe('dropping old tables...\ncreating tables...\ngenerating data (server-side)...\nvacuuming...\ncreating primary keys...\ncreating foreign keys...\n');
    expect(await digest()).toBe(clientSide);
    // -n leaves out the vacuum step even where -I names it, as pgbench -i -n.
    const unvacuumed = await run(['init', '-n', '-s', '1', '-I', 'dtGvp', '-F', '80', '--foreign-keys', '--unlogged-tables']);
    expect(unvacuumed.code).toBe(0);
    expect(unvacuumed.stderr).toBe('dropping old tables...\ncreating tables...\ngenerating data (server-side)...\ncreating primary keys...\ncreating foreign keys...\n');
    expect(await digest()).toBe(clientSide);
    expect(await tables()).toEqual([
      { relname: 'pgbench_accounts', relpersistence: 'u', reloptions: ['fillfactor=80'] },
      { relname: 'pgbench_branches', relpersistence: 'u', reloptions: ['fillfactor=80'] },
      { relname: 'pgbench_history', relpersistence: 'u', reloptions: null },
      { relname: 'pgbench_tellers', relpersistence: 'u', reloptions: ['fillfactor=80'] },
    ]);
    expect(await constraints()).toEqual([
      'pgbench_accounts FOREIGN KEY (bid) REFERENCES pgbench_branches(bid)',
      'pgbench_accounts PRIMARY KEY (aid)',
      'pgbench_branches PRIMARY KEY (bid)',
      'pgbench_history FOREIGN KEY (aid) REFERENCES pgbench_accounts(aid)',
      'pgbench_history FOREIGN KEY (bid) REFERENCES pgbench_branches(bid)',
      'pgbench_history FOREIGN KEY (tid) REFERENCES pgbench_tellers(tid)',
      'pgbench_tellers FOREIGN KEY (bid) REFERENCES pgbench_branches(bid)',
      'pgbench_tellers PRIMARY KEY (tid)',
    ]);
  }, 120_000);

  it('--partitions splits pgbench_accounts as pgbench does, by range or hash, with the same rows', async () => {
    expect((await run(['init', '-s', '1', '-q'])).code).toBe(0);
    const plain = await digest();
    const partitionsOf = () => sql<{ name: string; bound: string; rows: number }>(`SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound,
      (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', '${SCHEMA}', c.relname), false, true, '')))[1]::text::int AS rows
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '${SCHEMA}.pgbench_accounts'::regclass ORDER BY c.relname`);
    const ranged = await run(['init', '-s', '1', '-q', '--partitions', '3', '-F', '90']);
    expect(ranged.code).toBe(0);
    expect(ranged.stderr).toContain('creating tables...\ncreating 3 partitions...\n');
    expect(await digest()).toBe(plain);
    expect(await partitionsOf()).toEqual([
      { name: 'pgbench_accounts_1', bound: 'FOR VALUES FROM (MINVALUE) TO (33335)', rows: 33334 },
      { name: 'pgbench_accounts_2', bound: 'FOR VALUES FROM (33335) TO (66669)', rows: 33334 },
      { name: 'pgbench_accounts_3', bound: 'FOR VALUES FROM (66669) TO (MAXVALUE)', rows: 33332 },
    ]);
    expect(await sql(`SELECT relname, reloptions FROM pg_class WHERE relname LIKE 'pgbench_accounts%' AND relnamespace = '${SCHEMA}'::regnamespace AND relkind IN ('r', 'p') ORDER BY relname`)).toEqual([
      { relname: 'pgbench_accounts', reloptions: null },
      { relname: 'pgbench_accounts_1', reloptions: ['fillfactor=90'] },
      { relname: 'pgbench_accounts_2', reloptions: ['fillfactor=90'] },
      { relname: 'pgbench_accounts_3', reloptions: ['fillfactor=90'] },
    ]);
    const hashed = await run(['init', '-s', '1', '-q', '--partitions', '2', '--partition-method', 'hash', '-I', 'dtGvpf']);
    expect(hashed.code).toBe(0);
    expect(await digest()).toBe(plain);
    const parts = await partitionsOf();
    expect(parts.map((part) => part.bound)).toEqual(['FOR VALUES WITH (modulus 2, remainder 0)', 'FOR VALUES WITH (modulus 2, remainder 1)']);
    expect(parts[0].rows + parts[1].rows).toBe(100000);
    expect(parts[0].rows).toBeGreaterThan(40000);
    expect(parts[1].rows).toBeGreaterThan(40000);
    expect(await run(['init', '--partition-method', 'hash'])).toMatchObject({ stdout: '', stderr: 'pgfactory: --partition-method needs --partitions N (N >= 1)\n', code: 1 });
  }, 120_000);

  it('Ctrl-C cancels the running step: exit 130, and the generation\'s transaction leaves the old rows', async () => {
    expect((await run(['init', '-s', '1', '-q'])).code).toBe(0);
    const rowsBefore = await digest();
    // Another session holds pgbench_accounts: the generation's TRUNCATE waits for it until cancelled.
    const holder = new pg.Client({ connectionString: databaseUrl() });
    await holder.connect();
    try {
      await holder.query(`BEGIN; LOCK TABLE ${SCHEMA}.pgbench_accounts IN ACCESS EXCLUSIVE MODE`);
      const appName = 'pgf-bench-init-cancel';
      const cli = spawnCli(['bench', 'init', '-I', 'g'], { env: { ...env, PGAPPNAME: appName }, cwd: dir });
      const waiting = () => sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [appName]);
      expect(await pollUntil(async () => (await waiting())[0].n === 1, 30_000)).toBe(true);
      cli.child.kill('SIGINT');
      const result = await cli.done;
      expect(result).toMatchObject({ stdout: '', stderr: 'generating data (client-side)...\npgfactory: interrupted: the running statement was cancelled\n', code: 130 });
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect(await digest()).toBe(rowsBefore);
  }, 120_000);

  it('bad steps and options are one-line errors (exit 1) before anything runs; a step the server refuses exits 3', async () => {
    const before = await tables();
    expect(before.length).toBeGreaterThanOrEqual(4);
    expect(await run(['init', '-I', 'dtx'])).toMatchObject({ stdout: '', stderr: 'pgfactory: -I/--init-steps: unrecognized initialization step "x" (allowed: d t g G v p f)\n', code: 1 });
    expect(await run(['init', '-I', 'gG'])).toMatchObject({ stdout: '', stderr: 'pgfactory: -I/--init-steps: "g" and "G" cannot both be given (client-side or server-side generation)\n', code: 1 });
    expect(await run(['init', '-F', '5'])).toMatchObject({ stdout: '', stderr: 'pgfactory: error: option \'-F, --fillfactor <n>\' argument \'5\' is invalid. -F/--fillfactor takes a whole number from 10 to 100, got "5"\n', code: 1 });
    // Nothing ran: the tables of the test before are still there.
    expect(await tables()).toEqual(before);
    expect(await run(['init', '-I', 'd'])).toMatchObject({ stderr: 'dropping old tables...\n', code: 0 });
    expect(await tables()).toEqual([]);
    expect(await run(['init', '-I', 'g'])).toMatchObject({
      stdout: '',
      stderr: 'generating data (client-side)...\npgfactory: bench init, client-side generate: ERROR:  42P01: relation "pgbench_accounts" does not exist\n',
      code: 3,
    });
    // Subcommands report commander's errors as every command does.
    expect(await run(['merge', '--bogus'])).toMatchObject({ stdout: '', stderr: "pgfactory: error: unknown option '--bogus'\n", code: 1 });
  }, 120_000);
});
