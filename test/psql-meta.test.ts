// psql's meta-commands, variables and error rules in `query -f`, each with its exact output.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, scratchDir, sql, useTestSchema } from './helpers.js';

const S = 'psql_meta';
useTestSchema(S);

/** Writes the script into a fresh directory and runs `query -f` on it there. */
async function runScript(script: string, args: string[] = [], files: Record<string, string> = {}) {
  const dir = scratchDir();
  fs.writeFileSync(path.join(dir, 'script.sql'), script);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return { dir, ...(await runCli(['query', ...args, '-f', 'script.sql'], { cwd: dir })) };
}

describe('variables', () => {
  it('interpolates :NAME, :\'NAME\' and :"NAME" outside literals, dollar quotes and comments', async () => {
    const result = await runScript(
      [
        `\\set t ${S}.vars`,
        `\\set name 'it''s "x"'`,
        'CREATE TABLE :t (a text, b text);',
        "INSERT INTO :t VALUES (:'name', ':name'), ($$:name$$, E':name') -- :name",
        '/* :name */ ;',
        'SELECT a, b, :"col" FROM :t ORDER BY a;',
        `\\echo :name :'name' :"name" :undefined ::text`,
      ].join('\n'),
      ['--format', 'csv', '-v', 'col=a', '--set', 'unused'],
    );
    expect(result.stderr).toBe('CREATE TABLE\nINSERT 0 2\n');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`a,b,a\n:name,:name,:name\n"it's ""x""",:name,"it's ""x"""\nit's "x" 'it''s "x"' "it's ""x""" :undefined ::text\n`);
  });
});

describe('meta-commands', () => {
  it('\\echo, \\qecho, \\set, \\unset and \\if/\\elif/\\else/\\endif with psql\'s boolean words', async () => {
    const result = await runScript(
      [
        '\\set flag yes',
        '\\set empty',
        '\\if :flag',
        '  \\echo -n one',
        '  \\qecho \' two\\tthree\'',
        '  \\if off',
        '    \\echo never',
        '    SELECT 1/0;',
        '  \\elif t',
        '    \\echo nested elif',
        '  \\else',
        '    \\echo never',
        '  \\endif',
        '\\elif true',
        '  \\echo never',
        '\\else',
        '  \\echo never',
        '\\endif',
        '\\if :{?empty}',
        '  \\echo empty is set to :\'empty\' ":empty"',
        '\\endif',
        '\\unset flag',
        '\\if :{?flag}',
        '\\else',
        '  \\echo flag is unset, :flag stays',
        '\\endif',
      ].join('\n'),
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('one two\tthree\nnested elif\nempty is set to \'\' ":empty"\nflag is unset, :flag stays\n');
  });

  it('\\if with a value that is not a boolean is an error naming file and line', async () => {
    const result = await runScript('\\echo a\n\\if maybe\n\\endif\n');
    expect(result.stdout).toBe('a\n');
    expect(result.stderr).toBe('pgfactory: script.sql:2: \\if: unrecognized value "maybe" for "\\if expression": Boolean expected\n');
    expect(result.code).toBe(1);
  });

  it('\\gset stores a row in variables and \\gexec runs each value as a statement', async () => {
    const result = await runScript(
      [
        `SELECT 2 AS n, 'x' AS word \\gset my_`,
        '\\echo :my_n :my_word',
        `SELECT format('CREATE TABLE ${S}.g%s (id int)', i) FROM generate_series(1, :my_n) i ORDER BY i \\gexec`,
        `SELECT count(*) FROM pg_tables WHERE schemaname = '${S}' AND tablename LIKE 'g%' \\gset`,
        '\\echo tables: :count',
      ].join('\n'),
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('2 x\nCREATE TABLE\nCREATE TABLE\ntables: 2\n');
  });

  it('\\i and \\ir include files (\\ir relative to the including file)', async () => {
    const result = await runScript('\\i sub/a.sql\n\\echo back\n', ['-q'], {
      'sub/a.sql': '\\echo in a\n\\ir b.sql\n',
      'sub/b.sql': `\\echo in b\nSELECT 'b' AS x;\n`,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('in a\nin b\n┌───┐\n│ x │\n├───┤\n│ b │\n└───┘\n(1 row)\nback\n');
  });

  it('\\pset null and format, \\timing', async () => {
    const result = await runScript("\\pset null (null)\n\\pset format csv\nSELECT NULL AS a, 1 AS b;\n\\timing on\nSELECT 2 AS c;\n");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('a,b\n(null),1\nc\n2\n');
    expect(result.stderr).toMatch(/^Timing is on\.\nTime: \d+\.\d{3} ms\n$/);
  });

  it('\\connect opens a new connection to another database with the same settings', async () => {
    await sql('DROP DATABASE IF EXISTS psql_meta_other');
    await sql('CREATE DATABASE psql_meta_other');
    try {
      const result = await runScript("SELECT current_database() AS db;\n\\c psql_meta_other\nSELECT current_database() AS db;\n\\connect -reuse-previous=on \"dbname='postgres'\"\nSELECT current_database() AS db;\n", ['--format', 'csv']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const user = (await sql<{ u: string }>('SELECT current_user AS u'))[0].u;
      const first = (await sql<{ d: string }>('SELECT current_database() AS d'))[0].d;
      expect(result.stdout).toBe(`db\n${first}\nYou are now connected to database "psql_meta_other" as user "${user}".\ndb\npsql_meta_other\nYou are now connected to database "postgres" as user "${user}".\ndb\npostgres\n`);
    } finally {
      await sql('DROP DATABASE IF EXISTS psql_meta_other WITH (FORCE)');
    }
  });

  it('\\restrict refuses every other meta-command until \\unrestrict with the same key', async () => {
    const ok = await runScript('\\restrict abc123\nSELECT 1 AS a;\n\\unrestrict abc123\n\\echo free\n', ['--format', 'csv']);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toBe('a\n1\nfree\n');
    const refused = await runScript('\\restrict abc123\n\\echo no\n');
    expect(refused.stderr).toBe('pgfactory: script.sql:2: \\echo: refused: the script is restricted (\\restrict); only \\unrestrict is allowed\n');
    expect(refused.code).toBe(1);
    const wrongKey = await runScript('\\restrict abc123\n\\unrestrict abc\n');
    expect(wrongKey.stderr).toBe('pgfactory: script.sql:2: \\unrestrict: wrong key\n');
    expect(wrongKey.code).toBe(1);
  });

  it('an unsupported meta-command is refused with file and line before any statement runs', async () => {
    const result = await runScript(`CREATE TABLE ${S}.never (a int);\n\\echo x\n\\o out.txt\n`);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('pgfactory: script.sql:3: unsupported meta-command \\o\n');
    expect(result.code).toBe(1);
    expect(await sql(`SELECT 1 FROM pg_tables WHERE schemaname = '${S}' AND tablename = 'never'`)).toEqual([]);
  });
});

describe('a pipe given as the file', () => {
  it('-f on a named pipe (as `-f <(…)` gives) reads it once, checks and runs it whole, with COPY data', async () => {
    const dir = scratchDir();
    const fifo = path.join(dir, 'script.fifo');
    execFileSync('mkfifo', [fifo]);
    const script = `CREATE TABLE ${S}.piped (n int);\nCOPY ${S}.piped FROM stdin;\n1\n2\n\\.\nSELECT sum(n) AS total FROM ${S}.piped;\n`;
    // Opening a pipe's write end waits for its reader: the CLI.
    const writer = fs.promises.writeFile(fifo, script);
    const result = await runCli(['query', '--format', 'csv', '-f', fifo], { cwd: dir });
    await writer;
    // In csv the tags go to stderr: stdout stays one csv document.
    expect(result.stderr).toBe('CREATE TABLE\nCOPY 2\n');
    expect(result.stdout).toBe('total\n3\n');
    expect(result.code).toBe(0);
  });
});

describe('COPY and \\copy', () => {
  it('takes inline COPY data up to \\. in text and csv, and prints COPY … TO stdout', async () => {
    const result = await runScript(
      [
        `CREATE TABLE ${S}.c (id int, note text);`,
        `COPY ${S}.c FROM stdin;`,
        '1\ttab\\there',
        '2\t\\N',
        '\\.',
        `COPY ${S}.c FROM stdin (FORMAT csv, HEADER);`,
        'id,note',
        '3,"comma, and ""quote"""',
        '4,\\.x',
        '\\.',
        `COPY (SELECT * FROM ${S}.c ORDER BY id) TO stdout (FORMAT csv);`,
      ].join('\n') + '\n',
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('CREATE TABLE\nCOPY 2\nCOPY 2\n1,tab\there\n2,\n3,"comma, and ""quote"""\n4,\\.x\nCOPY 4\n');
  });

  it('loads COPY data of many read buffers exactly (views and copies of the reader\'s buffers)', async () => {
    const rows: string[] = [];
    for (let i = 1; i <= 120_000; i += 1) rows.push(`${i}\trow ${i} ${'x'.repeat(i % 50)}`);
    const result = await runScript(`CREATE TABLE ${S}.many (i int, t text);\nCOPY ${S}.many FROM stdin;\n${rows.join('\n')}\n\\.\nSELECT 1 AS after;\n`, ['-q', '--format', 'csv']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('after\n1\n');
    expect(await sql(`SELECT count(*)::int AS n, sum(i)::bigint::text AS total, bool_and(t = 'row ' || i || ' ' || repeat('x', i % 50)) AS exact FROM ${S}.many`)).toEqual([
      { n: 120_000, total: String((120_000 * 120_001) / 2), exact: true },
    ]);
  });

  it('\\copy … from stdin in a script takes the lines after it up to \\. (the check skips them too)', async () => {
    const result = await runScript(`CREATE TABLE ${S}.inline (n int, t text);\n\\copy ${S}.inline from stdin\n1\tone\n2\t\\N\n\\.\nSELECT count(*) AS n FROM ${S}.inline;\n`, ['--format', 'csv']);
    expect(result.stderr).toBe('CREATE TABLE\nCOPY 2\n');
    expect(result.stdout).toBe('n\n2\n');
    expect(result.code).toBe(0);
    expect(await sql(`SELECT n, t FROM ${S}.inline ORDER BY n`)).toEqual([{ n: 1, t: 'one' }, { n: 2, t: null }]);
  });

  it('\\copy reads and writes files on the client', async () => {
    const result = await runScript(
      `CREATE TABLE ${S}.cc (id int, note text);\n\\copy ${S}.cc (id, note) from 'in.csv' with (format csv)\n\\copy (SELECT * FROM ${S}.cc ORDER BY id) to out.tsv\n`,
      ['-q'],
      { 'in.csv': '1,one\n2,"two, too"\n' },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(fs.readFileSync(path.join(result.dir, 'out.tsv'), 'utf8')).toBe('1\tone\n2\ttwo, too\n');
  });
});

describe('errors', () => {
  it('stops at the first error by default; ON_ERROR_STOP=0 runs the rest and exits 3', async () => {
    const script = `CREATE TABLE ${S}.e (id int PRIMARY KEY);\nINSERT INTO ${S}.e VALUES (1);\nINSERT INTO ${S}.e VALUES (1);\nINSERT INTO ${S}.e VALUES (2);\n`;
    const stopped = await runScript(script);
    expect(stopped.stdout).toBe('CREATE TABLE\nINSERT 0 1\n');
    expect(stopped.stderr).toBe(`pgfactory: script.sql:3: ERROR:  23505: duplicate key value violates unique constraint "e_pkey"\nDETAIL:  Key (id)=(1) already exists.\n`);
    expect(stopped.code).toBe(3);
    // The statements before the failing one are committed, as psql leaves them.
    expect(await sql(`SELECT id FROM ${S}.e ORDER BY id`)).toEqual([{ id: 1 }]);

    await sql(`DROP TABLE ${S}.e`);
    const continued = await runScript(script, ['-v', 'ON_ERROR_STOP=0']);
    expect(continued.stdout).toBe('CREATE TABLE\nINSERT 0 1\nINSERT 0 1\n');
    expect(continued.stderr).toBe(
      'script.sql:3: ERROR:  23505: duplicate key value violates unique constraint "e_pkey"\nDETAIL:  Key (id)=(1) already exists.\n' +
        'pgfactory: 1 statement failed (ON_ERROR_STOP is off, so the rest ran)\n',
    );
    expect(continued.code).toBe(3);
    expect(await sql(`SELECT id FROM ${S}.e ORDER BY id`)).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('names the failing statement of a batch inside a transaction, and rolls everything back', async () => {
    const lines = [`CREATE TABLE ${S}.b (id int);`];
    for (let i = 0; i < 30; i += 1) lines.push(`INSERT INTO ${S}.b VALUES (${i});`);
    lines.push(`INSERT INTO ${S}.b VALUES (oops);`, `INSERT INTO ${S}.b VALUES (99);`);
    const result = await runScript(lines.join('\n'), ['-1', '-q']);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`pgfactory: script.sql:32: ERROR:  42703: column "oops" does not exist\nLINE 32: INSERT INTO ${S}.b VALUES (oops)\n${' '.repeat(32 + S.length)}^\n`);
    expect(result.code).toBe(3);
    expect(await sql(`SELECT 1 FROM pg_tables WHERE schemaname = '${S}' AND tablename = 'b'`)).toEqual([]);
  });

  it('a syntax error in autocommit leaves every statement before it committed', async () => {
    const lines = [`CREATE TABLE ${S}.a (id int);`];
    for (let i = 0; i < 10; i += 1) lines.push(`INSERT INTO ${S}.a VALUES (${i});`);
    lines.push(`INSERT INTO ${S}.a VALUES (;`, `INSERT INTO ${S}.a VALUES (99);`);
    const result = await runScript(lines.join('\n'), ['-q']);
    expect(result.stderr).toMatch(/^pgfactory: script\.sql:12: ERROR: {2}42601: syntax error at or near ";"\n/);
    expect(result.code).toBe(3);
    expect(await sql(`SELECT count(*)::int AS n FROM ${S}.a`)).toEqual([{ n: 10 }]);
  });
});
