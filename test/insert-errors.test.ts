import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BIN, databaseUrl, runCli, scratchDir, sql, useTestSchema } from './helpers.js';
import { pollUntil } from './support/cli.js';

const S = 'insert_err';
const T = `${S}.t`;
let dir: string;

function file(name: string, content: string): string {
  fs.writeFileSync(path.join(dir, name), content);
  return name;
}
const insert = (args: string[], input?: string) => runCli(['insert', ...args], { cwd: dir, input });
const count = async () => Number((await sql<{ n: string }>(`SELECT count(*) AS n FROM ${T}`))[0].n);

useTestSchema(S);
beforeAll(async () => {
  dir = scratchDir();
});
beforeEach(async () => {
  await sql(`DROP TABLE IF EXISTS ${T}; CREATE TABLE ${T} (id int PRIMARY KEY, name text NOT NULL, age int CHECK (age >= 0))`);
});

describe('target and column checks', () => {
  it('an unknown table is an error, not a create', async () => {
    const result = await insert([`${S}.nope`, '--set', 'id=1']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('pgfactory: table insert_err.nope does not exist\n');
  });
  it('an unknown header column lists the table columns, before any data is sent', async () => {
    file('h.csv', 'id,Nme\n1,a\n');
    const result = await insert([T, '-f', 'h.csv']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('pgfactory: h.csv, line 1: column "Nme" does not exist in table insert_err.t (columns: id, name, age)\n');
    expect(await count()).toBe(0);
  });
});

describe('malformed input names file and line, and commits nothing', () => {
  it('a quote inside an unquoted field', async () => {
    file('q.csv', 'id,name\n1,a\n2,"multi\nline"\n3,b"c\n');
    const result = await insert([T, '-f', 'q.csv']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('pgfactory: q.csv, line 5: quote inside an unquoted field (field 2); quote the whole field and double the quote\n');
    expect(await count()).toBe(0);
  });
  it('a row with the wrong number of fields: the server\'s COPY names it, a dry run counts them', async () => {
    file('w.tsv', 'id\tname\n1\ta\n2\tb\textra\n');
    file('short.csv', 'id,name\n1,a\n"2",b\n3\n4,d\n');
    for (const jobs of ['1', '2']) {
      const extra = await insert([T, '-f', 'w.tsv', '--jobs', jobs]);
      expect(extra.stderr).toBe('pgfactory: w.tsv, line 3: extra data after last expected column\n');
      expect(extra.code).toBe(1);
      const short = await insert([T, '-f', 'short.csv', '--jobs', jobs]);
      expect(short.stderr).toBe('pgfactory: short.csv, line 4: missing data for column "name"\n');
      expect(short.code).toBe(1);
      expect(await count()).toBe(0);
    }
    const dry = await insert([T, '-f', 'w.tsv', '--dry-run']);
    expect(dry.stderr).toBe('pgfactory: w.tsv, line 3: expected 2 fields, found 3\n');
    expect(dry.code).toBe(1);
  });
  it('a bad JSON line', async () => {
    const result = await insert([T, '-f', '-', '--format', 'ndjson'], '{"id":1,"name":"a"}\n{"id":2,"name":"b"\n');
    expect(result.stderr).toBe('pgfactory: stdin, line 2: invalid JSON: expected \',\' or \'}\', found end of input at column 19\n');
    expect(result.code).toBe(1);
    expect(await count()).toBe(0);
  });
});

describe('rows the server rejects name the input line and column', () => {
  it('a bad value, after a field spanning lines (records and lines differ)', async () => {
    file('v.csv', 'id,name,age\n1,"two\nlines",1\n2,b,2\n3,c,abc\n');
    const result = await insert([T, '-f', 'v.csv']);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('pgfactory: v.csv, line 5, column age: invalid input syntax for type integer: "abc"\n');
    expect(await count()).toBe(0);
  });
  it('a constraint violation in COPY', async () => {
    file('c.ndjson', '{"id":1,"name":"a"}\n{"id":2,"name":"b"}\n\n{"id":1,"name":"c"}\n');
    const result = await insert([T, '-f', 'c.ndjson']);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('pgfactory: c.ndjson, line 4: duplicate key value violates unique constraint "t_pkey" (Key (id)=(1) already exists)\n');
    expect(await count()).toBe(0);
  });
  it('a violation in the upsert path is found by bisection', async () => {
    await sql(`INSERT INTO ${T} VALUES (1, 'old', 1)`);
    file('u.csv', 'id,name,age\n1,new,1\n2,b,2\n3,c,-3\n4,d,4\n');
    const result = await insert([T, '-f', 'u.csv', '--on-conflict', 'update', '--conflict-key', 'id']);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('pgfactory: u.csv, line 4: new row for relation "t" violates check constraint "t_age_check" (Failing row contains (3, c, -3))\n');
    expect(await sql(`SELECT * FROM ${T}`)).toEqual([{ id: 1, name: 'old', age: 1 }]);
  });
});

describe('--commit-every', () => {
  it('reports the rows committed and the line to resume from', async () => {
    file('b.csv', 'id,name\n1,a\n2,b\n3,c\n4,\n5,e\n');
    // "4," has an empty unquoted name: NULL, which NOT NULL rejects
    const result = await insert([T, '-f', 'b.csv', '--commit-every', '2']);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('pgfactory: b.csv, line 5, column name: null value in column "name" of relation "t" violates not-null constraint (Failing row contains (4, null, null)); 2 rows committed in earlier batches; resume from input line 4 (the same command with --resume loads the rest)\n');
    expect(await count()).toBe(2);
  });
});

describe('--on-error skip', () => {
  it('loads the good rows, writes rejects in the input format with line and reason', async () => {
    file('s.csv', 'id,name,age\n1,a,1\n2,b"x,2\n3,c,-1\n4,d,4\n1,dup,5\n5,e,x\n6,f,6\n');
    const result = await insert([T, '-f', 's.csv', '--on-error', 'skip', '--reject-file', 'rej.csv']);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^inserted 3 rows into insert_err\.t in .*; rejected 4 rows \(see rej\.csv\)\n$/);
    expect((await sql(`SELECT id FROM ${T} ORDER BY id`)).map((r) => r.id)).toEqual([1, 4, 6]);
    expect(fs.readFileSync(path.join(dir, 'rej.csv'), 'utf8')).toBe([
      'line,reason,id,name,age',
      '3,quote inside an unquoted field (field 2); quote the whole field and double the quote,2,b"x,2',
      '4,"new row for relation ""t"" violates check constraint ""t_age_check"" (Failing row contains (3, c, -1))",3,c,-1',
      // in input order, though the server finds line 7 first (COPY checks unique keys when it flushes its buffer)
      '6,"duplicate key value violates unique constraint ""t_pkey"" (Key (id)=(1) already exists)",1,dup,5',
      '7,"column age: invalid input syntax for type integer: ""x""",5,e,x',
      '',
    ].join('\n'));
  });
});

describe('Ctrl-C', () => {
  it('cancels a running load: exit 130 and no rows', async () => {
    const big = path.join(dir, 'big.csv');
    const out = fs.createWriteStream(big);
    out.write('id,name,age\n');
    for (let block = 0; block < 40; block += 1) {
      let text = '';
      for (let i = block * 50_000; i < (block + 1) * 50_000; i += 1) text += `${i},name ${i},${i % 90}\n`;
      out.write(text);
    }
    await new Promise((resolve) => out.end(resolve));
    const env = { ...process.env, DATABASE_URL: databaseUrl(), NO_COLOR: '1', HOME: dir };
    const child = spawn(process.execPath, [BIN, 'insert', T, '-f', big], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Wait until the COPY is running on the server, then interrupt.
    const copying = await pollUntil(async () => (await sql(`SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY "insert_err"."t"%' AND state = 'active'`)).length > 0, 30_000);
    expect(copying, 'the COPY never showed up in pg_stat_activity').toBe(true);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).toBe('pgfactory: interrupted: the load was cancelled and rolled back; nothing was committed\n');
    expect(code).toBe(130);
    expect(await count()).toBe(0);
  });
});
