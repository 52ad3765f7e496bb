// insert --jobs N (two-phase commit, no prepared transaction left behind) and resumable loads
// (--commit-every + --resume after a kill -9), against real servers with exact contents.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, scratchDir, sql, useTestSchema } from './helpers.js';
import { pollUntil, spawnCli } from './support/cli.js';
import { startTestServer, type TestServer } from './support/server.js';

const S = 'insert_par';
const T = `${S}.t`;
// More records than one parallel batch (20,000), so every worker gets some.
const N = 120_000;
let dir: string;

const insert = (args: string[], input?: string) => runCli(['insert', ...args], { cwd: dir, input, timeoutMs: 120_000 });
const prepared = async () => (await sql<{ gid: string }>('SELECT gid FROM pg_prepared_xacts ORDER BY gid')).map((row) => row.gid);
/** The table's rows as one checksum and count (exact contents, independent of row order). */
const contents = async (table = T) =>
  (await sql<{ n: string; sum: string }>(`SELECT count(*) AS n, md5(string_agg(x::text, '|' ORDER BY id)) AS sum FROM ${table} x`))[0];

function name(i: number): string {
  return i % 1000 === 0 ? `quoted, "line"\nbreak ${i}` : `name ${i}`;
}

useTestSchema(S);
beforeAll(() => {
  dir = scratchDir();
  // The same rows in every format; every 1000th name holds a comma, quotes and a line break.
  const csv = ['id,name,n'];
  const tsv = ['id\tname\tn'];
  const ndjson: string[] = [];
  for (let i = 1; i <= N; i += 1) {
    const text = name(i);
    csv.push(`${i},${text.includes(',') ? `"${text.replace(/"/g, '""')}"` : text},${i % 97}`);
    tsv.push(`${i}\t${text.replace(/\n/g, '\\n')}\t${i % 97}`);
    ndjson.push(JSON.stringify({ id: i, name: text, n: i % 97 }));
  }
  fs.writeFileSync(path.join(dir, 'x.csv'), `${csv.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'x.tsv'), `${tsv.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'x.ndjson'), `${ndjson.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'x.json'), `[\n${ndjson.join(',\n')}\n]\n`);
});
beforeEach(async () => {
  await sql(`DROP TABLE IF EXISTS ${T}; CREATE TABLE ${T} (id int PRIMARY KEY, name text NOT NULL, n int CHECK (n <> 96))`);
  await sql(`DROP TABLE IF EXISTS ${S}.pgfactory_load_progress`);
});

describe('--jobs', () => {
  let expected: { n: string; sum: string };
  beforeAll(async () => {
    await sql(`DROP TABLE IF EXISTS ${S}.ref; CREATE TABLE ${S}.ref (id int PRIMARY KEY, name text NOT NULL, n int)`);
    const values = Array.from({ length: N }, (_, k) => k + 1);
    await sql(`INSERT INTO ${S}.ref SELECT id, CASE WHEN id % 1000 = 0 THEN 'quoted, "line"' || E'\\n' || 'break ' || id ELSE 'name ' || id END, id % 97 FROM unnest($1::int[]) id`, [values]);
    expected = await contents(`${S}.ref`);
    expect(expected.n).toBe(String(N));
  });

  for (const format of ['csv', 'tsv', 'ndjson', 'json']) {
    it(`1, 2 and 4 workers load ${format} exactly`, async () => {
      await sql(`ALTER TABLE ${T} DROP CONSTRAINT t_n_check`);
      for (const jobs of [1, 2, 4]) {
        await sql(`TRUNCATE ${T}`);
        const result = await insert([T, '-f', `x.${format}`, '--jobs', String(jobs)]);
        expect(result.stderr).toMatch(new RegExp(`^inserted ${N} rows into insert_par\\.t in \\S+ s \\(\\d+ rows/s\\)${jobs > 1 ? ` with ${jobs} workers` : ''}\\n$`));
        expect(await contents()).toEqual(expected);
      }
      expect(await prepared()).toEqual([]);
    }, 180_000);
  }

  // Each batch's bytes are copied into a buffer that is filled again once they are sent: far
  // more batches than buffers here, so a buffer filled too early would change rows.
  it('batches pass through buffers used again: 400,000 rows of csv and ndjson, exact contents', async () => {
    const rows = 400_000;
    const wide = (i: number) => `${name(i)} ${'w'.repeat(i % 50)}`;
    const csv = ['id,name,n'];
    const ndjson: string[] = [];
    for (let i = 1; i <= rows; i += 1) {
      const text = wide(i);
      csv.push(`${i},${text.includes(',') ? `"${text.replace(/"/g, '""')}"` : text},${i % 97}`);
      ndjson.push(JSON.stringify({ id: i, name: text, n: i % 97 }));
    }
    fs.writeFileSync(path.join(dir, 'many.csv'), `${csv.join('\n')}\n`);
    fs.writeFileSync(path.join(dir, 'many.ndjson'), `${ndjson.join('\n')}\n`);
    await sql(`DROP TABLE IF EXISTS ${S}.many_ref; CREATE TABLE ${S}.many_ref (id int PRIMARY KEY, name text NOT NULL, n int)`);
    await sql(
      `INSERT INTO ${S}.many_ref SELECT id, CASE WHEN id % 1000 = 0 THEN 'quoted, "line"' || E'\\n' || 'break ' || id ELSE 'name ' || id END || ' ' || repeat('w', id % 50), id % 97 FROM generate_series(1, ${rows}) id`,
    );
    const reference = await contents(`${S}.many_ref`);
    expect(reference.n).toBe(String(rows));
    await sql(`ALTER TABLE ${T} DROP CONSTRAINT t_n_check`);
    for (const file of ['many.csv', 'many.ndjson']) {
      await sql(`TRUNCATE ${T}`);
      const result = await insert([T, '-f', file, '--jobs', '2']);
      expect(result.stderr).toMatch(new RegExp(`^inserted ${rows} rows into insert_par\\.t in \\S+ s \\(\\d+ rows/s\\) with 2 workers\\n$`));
      expect(await contents()).toEqual(reference);
    }
  }, 180_000);

  it('records wider than a batch buffer: the batch moves to a larger one, exact contents', async () => {
    // Batches stop taking records past 4 MiB in a 5 MiB buffer: the fourth 1.35 MB record overflows it.
    const rows = 10;
    const csv = ['id,name,n', ...Array.from({ length: rows }, (_, k) => `${k + 1},"${k % 3 === 0 ? 'quoted, ""line""\nbreak ' : ''}${'x'.repeat(1_350_000 + k * 1000)}",${k + 1}`)];
    fs.writeFileSync(path.join(dir, 'wide.csv'), `${csv.join('\n')}\n`);
    await sql(`DROP TABLE IF EXISTS ${S}.wide_ref; CREATE TABLE ${S}.wide_ref (id int PRIMARY KEY, name text NOT NULL, n int)`);
    await sql(`INSERT INTO ${S}.wide_ref SELECT k + 1, CASE WHEN k % 3 = 0 THEN 'quoted, "line"' || E'\\n' || 'break ' ELSE '' END || repeat('x', 1350000 + k * 1000), k + 1 FROM generate_series(0, ${rows - 1}) k`);
    const result = await insert([T, '-f', 'wide.csv', '--jobs', '2']);
    expect(result.stderr).toMatch(new RegExp(`^inserted ${rows} rows into insert_par\\.t in \\S+ s \\(\\d+ rows/s\\) with 2 workers\\n$`));
    expect(await contents()).toEqual(await contents(`${S}.wide_ref`));
  });

  it('a failing row in the second worker: exact line, nothing committed, no prepared transaction', async () => {
    // The CHECK rejects n = 96: first at id 96 — so move the failure past the first batch.
    await sql(`ALTER TABLE ${T} DROP CONSTRAINT t_n_check, ADD CONSTRAINT t_n_check CHECK (id <> 70001)`);
    const result = await insert([T, '-f', 'x.csv', '--jobs', '2']);
    expect(result.code).toBe(3);
    // id 70001 sits on line 70001 + 1 (header) + 70 earlier line breaks.
    expect(result.stderr).toBe('pgfactory: x.csv, line 70072: new row for relation "t" violates check constraint "t_n_check" (Failing row contains (70001, name 70001, 64))\n');
    expect((await contents()).n).toBe('0');
    expect(await prepared()).toEqual([]);
  }, 120_000);

  it('--on-error skip: one reject file, lines in input order', async () => {
    const result = await insert([T, '-f', 'x.csv', '--jobs', '2', '--on-error', 'skip', '--reject-file', 'rej.csv']);
    const ids = Array.from({ length: N }, (_, k) => k + 1).filter((i) => i % 97 === 96);
    expect(result.stderr).toMatch(new RegExp(`^inserted ${N - ids.length} rows .* with 2 workers; rejected ${ids.length} rows \\(see rej.csv\\)\\n$`));
    // One entry per rejected row (a quoted name continues on the next line), in input order.
    const lines = fs.readFileSync(path.join(dir, 'rej.csv'), 'utf8').split('\n').filter((line) => /^\d+,"new row/.test(line));
    expect(lines.map((line) => Number(line.split('Failing row contains (')[1].split(',')[0]))).toEqual(ids);
    const numbers = lines.map((line) => Number(line.split(',')[0]));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(lines[0]).toBe('97,"new row for relation ""t"" violates check constraint ""t_n_check"" (Failing row contains (96, name 96, 96))",96,name 96,96');
  }, 120_000);

  it('SIGTERM mid-load: exit 130, nothing committed, no prepared transaction', async () => {
    await sql(`ALTER TABLE ${T} DROP CONSTRAINT t_n_check`);
    const cli = spawnCli(['insert', T, '-f', 'x.ndjson', '--jobs', '2'], { cwd: dir, timeoutMs: 240_000 });
    let exited = false;
    void cli.done.then(() => (exited = true));
    // A worker has sent a COPY and its transaction is open (it may be waiting for the next batch).
    const running = await pollUntil(
      async () => exited || (await sql(`SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY "insert_par"."t"%' AND state IN ('active', 'idle in transaction')`)).length > 0,
      180_000,
    );
    // Exited before a COPY was seen: show why.
    expect(exited ? cli.output().stderr : running).toBe(true);
    cli.child.kill('SIGTERM');
    const done = await cli.done;
    expect(done.code).toBe(130);
    expect(done.stderr).toMatch(/^pgfactory: interrupted/);
    expect((await contents()).n).toBe('0');
    expect(await prepared()).toEqual([]);
  }, 300_000);

  it('upserts stay single-job', async () => {
    const result = await insert([T, '-f', 'x.csv', '--jobs', '2', '--on-conflict', 'nothing']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('pgfactory: --jobs 2 cannot go with --on-conflict: upserts and returned rows run in one job (parallel upserts of one key would wait on each other until the load ends)\n');
  });

  it('a prepared transaction left by a kill -9 is reported with the command that removes it', async () => {
    // What a kill -9 between PREPARE and COMMIT PREPARED leaves: a prepared transaction named for the table.
    const gid = 'pgfactory insert insert_par.t 4242-deadbeef 2/2';
    await sql(`BEGIN; INSERT INTO ${T} VALUES (1, 'ghost', 1); PREPARE TRANSACTION '${gid}'`);
    try {
      const result = await insert([T, '--set', 'id=2', '--set', 'name=b', '--set', 'n=2']);
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(
        new RegExp(`^warning: prepared transaction '${gid}' \\(prepared [^)]+\\) was left by an interrupted insert --jobs into insert_par\\.t; its rows are not in the table and it holds locks until removed: ROLLBACK PREPARED '${gid}'\\ninserted 1 row`),
      );
    } finally {
      await sql(`ROLLBACK PREPARED '${gid}'`);
    }
    expect(await prepared()).toEqual([]);
  });
});

describe('a server without prepared transactions', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ conf: ['max_prepared_transactions = 0'] });
    await server.sql('CREATE TABLE t (id int, name text, n int)');
  }, 60_000);
  afterAll(async () => {
    await server?.destroy();
  });
  it('refuses --jobs and offers --commit-every; --commit-every loads', async () => {
    const refused = await runCli(['insert', 't', '-f', path.join(dir, 'x.csv'), '--jobs', '2'], { env: { DATABASE_URL: server.url } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      'pgfactory: --jobs 2 loads all or nothing with two-phase commit, and the server allows 0 prepared transactions (max_prepared_transactions); raise it to at least 2 (a restart), or pass --commit-every N to commit each worker\'s batches on their own\n',
    );
    const loaded = await runCli(['insert', 't', '-f', path.join(dir, 'x.csv'), '--jobs', '2', '--commit-every', '30000'], { env: { DATABASE_URL: server.url }, timeoutMs: 120_000 });
    expect(loaded.stderr).toMatch(new RegExp(`^inserted ${N} rows .* with 2 workers\\n$`));
    expect(await server.sql('SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM t')).toEqual([{ n: N, d: N }]);
  }, 120_000);
});

describe('a server that takes 3 connections', () => {
  let server: TestServer | undefined;
  beforeAll(async () => {
    server = await startTestServer({ conf: ['max_connections = 3', 'superuser_reserved_connections = 0', 'max_prepared_transactions = 8'] });
    await server.sql('CREATE TABLE t (id int, name text, n int)');
  }, 60_000);
  afterAll(async () => {
    await server?.destroy();
  });
  const run = (args: string[]) => runCli(['insert', ...args], { env: { DATABASE_URL: server!.url }, timeoutMs: 120_000 });
  // The backends of a finished command end a moment after it: wait until only the probe's is left.
  const allFree = () =>
    pollUntil(async () => {
      try {
        return (await server!.sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend'"))[0].n === 1;
      } catch {
        return false;
      }
    }, 30_000);
  const state = async () => {
    expect(await allFree()).toBe(true);
    return {
      rows: (await server!.sql<{ n: number }>('SELECT count(*)::int AS n FROM t'))[0].n,
      prepared: (await server!.sql('SELECT gid FROM pg_prepared_xacts')).length,
    };
  };

  it('--jobs 3 loads over all three; --jobs 4 fails on the connection it cannot open, nothing committed', async () => {
    const loaded = await run(['t', '-f', path.join(dir, 'x.csv'), '--jobs', '3']);
    expect(loaded.stderr).toMatch(new RegExp(`^inserted ${N} rows into public\\.t in .* with 3 workers\\n$`));
    expect(await state()).toEqual({ rows: N, prepared: 0 });
    await server!.sql('TRUNCATE t');
    expect(await allFree()).toBe(true);
    const refused = await run(['t', '-f', path.join(dir, 'x.csv'), '--jobs', '4']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^pgfactory: .*too many clients already.*\n$/);
    expect(await state()).toEqual({ rows: 0, prepared: 0 });
  }, 120_000);

  it('an error before the load lets the extra connections go: one line, exit 1, the command ends', async () => {
    expect(await allFree()).toBe(true);
    const missing = await run(['nosuch', '-f', path.join(dir, 'x.csv'), '--jobs', '3']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('pgfactory: table nosuch does not exist (looked up through search_path)\n');
    expect(await state()).toEqual({ rows: 0, prepared: 0 });
  }, 120_000);
});

describe('--resume', () => {
  for (const jobs of [1, 2]) {
    it(`after a kill -9 loads exactly the rest (--jobs ${jobs})`, async () => {
      await sql(`ALTER TABLE ${T} DROP CONSTRAINT t_n_check`);
      const args = [T, '-f', 'x.csv', '--commit-every', '10000', '--jobs', String(jobs)];
      const cli = spawnCli(['insert', ...args], { cwd: dir });
      const some = await pollUntil(async () => {
        const found = await sql(`SELECT 1 FROM pg_tables WHERE schemaname = '${S}' AND tablename = 'pgfactory_load_progress'`);
        return found.length > 0 && (await sql(`SELECT count(*)::int AS n FROM ${S}.pgfactory_load_progress`))[0].n >= 2;
      }, 60_000);
      expect(some).toBe(true);
      cli.child.kill('SIGKILL');
      await cli.done;
      const before = Number((await contents()).n);
      expect(before).toBeGreaterThan(0);
      expect(before).toBeLessThan(N);
      const again = await insert(args);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/^pgfactory: load "x\.csv" into insert_par\.t stopped part-way earlier \(\d+ rows committed\): pass --resume/);
      const resumed = await insert([...args, '--resume']);
      expect(resumed.stderr).toMatch(new RegExp(`^inserted ${N - before} rows .*; resumed: ${before} rows were loaded before\\n$`));
      await sql(`DROP TABLE IF EXISTS ${S}.one; CREATE TABLE ${S}.one (LIKE ${T})`);
      expect((await insert([`${S}.one`, '-f', 'x.csv'])).code).toBe(0);
      expect(await contents()).toEqual(await contents(`${S}.one`));
      expect(await prepared()).toEqual([]);
    }, 180_000);
  }

  /**
   * A load stopped by a CHECK on id stops[0], resumed (stopped again by one on stops[1]), then
   * finished. Between the runs a committed record (the line starting with `breakAt`, between the
   * fingerprint's sampled MiBs) is broken in place: a resumed run that read the committed part
   * again would stop on it as malformed.
   */
  async function resumeBySeeking(file: string, lines: string[], header: number, o: { window: number; stops: [number, number]; breakAt: string; breakByte: number; name: string }) {
    const rows = lines.length - header;
    const [stop1, stop2] = o.stops;
    fs.writeFileSync(path.join(dir, file), `${lines.join('\n')}\n`);
    await sql(`ALTER TABLE ${T} DROP CONSTRAINT t_n_check, ADD CONSTRAINT stop1 CHECK (id <> ${stop1})`);
    const args = [T, '-f', file, '--commit-every', String(o.window)];
    const first = await insert(args);
    expect(first.code).toBe(3);
    expect(first.stderr).toContain(`pgfactory: ${file}, line ${stop1 + header}: new row for relation "t" violates check constraint "stop1"`);
    expect(first.stderr).toContain(`${stop1 - 1} rows committed in earlier batches; resume from input line ${stop1 + header} `);
    // Each window records where the record after it starts: bytes and line.
    const offset = Buffer.byteLength(`${lines.slice(0, stop1 - 1 + header).join('\n')}\n`);
    expect(await sql(`SELECT end_record::int, next_byte::int, next_line::int FROM ${S}.pgfactory_load_progress WHERE first_record = ${stop1 - 1 - o.window}`)).toEqual([
      { end_record: stop1 - 1, next_byte: offset, next_line: stop1 + header },
    ]);
    const text = fs.readFileSync(path.join(dir, file));
    const broken = text.indexOf(`\n${o.breakAt}`) + 1;
    expect(broken).toBeGreaterThan(1 << 20);
    expect(broken).toBeLessThan(offset);
    text[broken] = o.breakByte;
    fs.writeFileSync(path.join(dir, file), text);
    await sql(`ALTER TABLE ${T} DROP CONSTRAINT stop1, ADD CONSTRAINT stop2 CHECK (id <> ${stop2})`);
    const second = await insert([...args, '--resume']);
    expect(second.code).toBe(3);
    expect(second.stderr).toContain(`pgfactory: ${file}, line ${stop2 + header}: new row for relation "t" violates check constraint "stop2"`);
    expect(second.stderr).toContain(`${stop2 - stop1} rows committed in earlier batches; resume from input line ${stop2 + header} `);
    await sql(`ALTER TABLE ${T} DROP CONSTRAINT stop2`);
    const third = await insert([...args, '--resume']);
    expect(third.stderr).toMatch(new RegExp(`^inserted ${rows - stop2 + 1} rows .*; resumed: ${stop2 - 1} rows were loaded before\n$`));
    expect(await sql(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS d, sum(id)::int8::text AS s, bool_and(name = ${o.name} AND n = id % 97) AS ok FROM ${T}`)).toEqual([
      { n: rows, d: rows, s: String((rows * (rows + 1)) / 2), ok: true },
    ]);
  }

  it('reads a file on from where the committed windows end, with exact input lines after that', async () => {
    // 3 MB: the fingerprint samples the first and last MiB, so a change in between keeps it.
    const lines = ['id,name,n', ...Array.from({ length: 150_000 }, (_, k) => `${k + 1},name ${k + 1},${(k + 1) % 97}`)];
    await resumeBySeeking('seek.csv', lines, 1, { window: 10_000, stops: [100_001, 120_001], breakAt: '60000,', breakByte: 0x22, name: `'name ' || id` });
  }, 120_000);

  it('reads an NDJSON file on from where the committed windows end too', async () => {
    // Long lines: 3.6 MB, so the middle is outside the fingerprint's sampled MiBs.
    const pad = 'x'.repeat(40);
    const lines = Array.from({ length: 60_000 }, (_, k) => JSON.stringify({ id: k + 1, name: `name ${k + 1} ${pad}`, n: (k + 1) % 97 }));
    await resumeBySeeking('seek.ndjson', lines, 0, { window: 5000, stops: [40_001, 50_001], breakAt: '{"id":25000,', breakByte: 0x5b, name: `'name ' || id || ' ${pad}'` });
  }, 120_000);

  it('a progress table made before input positions were recorded gets their columns', async () => {
    await sql(`CREATE TABLE ${S}.pgfactory_load_progress (target text NOT NULL, load_id text NOT NULL, fingerprint text NOT NULL, first_record int8 NOT NULL, end_record int8 NOT NULL, rows int8 NOT NULL, committed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (target, load_id, first_record))`);
    fs.writeFileSync(path.join(dir, 'old.csv'), 'id,name,n\n1,a,1\n2,b,2\n3,c,3\n');
    const result = await insert([T, '-f', 'old.csv', '--commit-every', '2']);
    expect(result.stderr).toMatch(/^inserted 3 rows/);
    expect(await sql(`SELECT first_record::int, end_record::int, next_byte::int, next_line::int FROM ${S}.pgfactory_load_progress ORDER BY first_record`)).toEqual([
      { first_record: -1, end_record: -1, next_byte: null, next_line: null },
      { first_record: 0, end_record: 2, next_byte: 22, next_line: 4 },
      { first_record: 2, end_record: 3, next_byte: 28, next_line: 5 },
    ]);
  });

  it('a different input is refused, naming the load id', async () => {
    fs.writeFileSync(path.join(dir, 'a.csv'), 'id,name,n\n1,a,1\n2,b,2\n');
    await sql(`ALTER TABLE ${T} ADD CONSTRAINT two CHECK (id <> 2)`);
    const failed = await insert([T, '-f', 'a.csv', '--commit-every', '1', '--load-id', 'nightly']);
    expect(failed.code).toBe(3);
    fs.writeFileSync(path.join(dir, 'a.csv'), 'id,name,n\n1,a,1\n2,b,2\n3,c,3\n');
    const refused = await insert([T, '-f', 'a.csv', '--commit-every', '1', '--load-id', 'nightly', '--resume']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^pgfactory: --resume: load "nightly" into insert_par\.t was started from a different input \(fingerprint [0-9a-f]{32}, this input [0-9a-f]{32}\); give this input another --load-id, or drop --resume\n$/);
  });
});
