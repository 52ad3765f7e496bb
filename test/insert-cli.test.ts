import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, scratchDir, sql, useTestSchema } from './helpers.js';

const S = 'insert_cli';
let dir: string;

function file(name: string, content: string): string {
  fs.writeFileSync(path.join(dir, name), content);
  return name;
}
const insert = (args: string[], input?: string) => runCli(['insert', ...args], { cwd: dir, input });
const rows = (table = `${S}.people`) => sql(`SELECT * FROM ${table} ORDER BY 1`);
const summary = /^inserted \d+ rows? into .+ in \d+\.\d\d s \(\d+ rows\/s\)/;

useTestSchema(S);
beforeAll(async () => {
  dir = scratchDir();
});
beforeEach(async () => {
  await sql(`DROP TABLE IF EXISTS ${S}.people; CREATE TABLE ${S}.people (id int PRIMARY KEY, name text, age int, tags text[], meta jsonb)`);
});

describe('insert from files', () => {
  it('csv: empty unquoted field is NULL, "" is the empty string, quotes and newlines inside fields', async () => {
    file('p.csv', 'id,name,age\n1,Ann,31\n2,"",\n3,"B, ""x""\nline2",40\n');
    const result = await insert([`${S}.people`, '--file', 'p.csv']);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(summary);
    expect(result.stderr).toMatch(/^inserted 3 rows into insert_cli\.people in /);
    expect(result.code).toBe(0);
    expect(await rows()).toEqual([
      { id: 1, name: 'Ann', age: 31, tags: null, meta: null },
      { id: 2, name: '', age: null, tags: null, meta: null },
      { id: 3, name: 'B, "x"\nline2', age: 40, tags: null, meta: null },
    ]);
  });

  it('tsv is COPY text format: \\N is NULL, escapes are decoded', async () => {
    file('p.tsv', 'id\tname\tage\n1\t\\N\t5\n2\ta\\tb\\\\c\t\\N\n3\t\t\\N\n');
    const result = await insert([`${S}.people`, '-f', 'p.tsv']);
    expect(result.code).toBe(0);
    expect((await rows()).map((r) => [r.id, r.name, r.age])).toEqual([[1, null, 5], [2, 'a\tb\\c', null], [3, '', null]]);
  });

  it('ndjson: null, missing keys, exact numbers, arrays and json values', async () => {
    file('p.ndjson', '{"id":1,"name":"Ann","age":null,"tags":["a","b c"],"meta":{"x":[1,2.50]}}\n\n{"id":2,"name":null,"age":7,"meta":"s"}\n');
    const result = await insert([`${S}.people`, '-f', 'p.ndjson']);
    expect(result.stderr).toMatch(summary);
    expect(await sql(`SELECT id, name, age, tags, meta::text FROM ${S}.people ORDER BY id`)).toEqual([
      { id: 1, name: 'Ann', age: null, tags: ['a', 'b c'], meta: '{"x": [1, 2.50]}' },
      { id: 2, name: null, age: 7, tags: null, meta: '"s"' },
    ]);
  });

  it('json: an array of objects, pretty-printed', async () => {
    file('p.json', '[\n  {"id": 1, "name": "A"},\n  {"id": 2,\n   "name": "B"}\n]\n');
    const result = await insert([`${S}.people`, '-f', 'p.json']);
    expect(result.code).toBe(0);
    expect((await rows()).map((r) => [r.id, r.name])).toEqual([[1, 'A'], [2, 'B']]);
  });

  it('reads stdin with --file - and --format', async () => {
    const result = await insert([`${S}.people`, '--file', '-', '--format', 'csv'], 'id,name\n1,x\n2,y\n');
    expect(result.stderr).toMatch(/^inserted 2 rows/);
    expect((await rows()).map((r) => r.name)).toEqual(['x', 'y']);
    const guess = await insert([`${S}.people`, '--file', '-'], '');
    expect(guess.code).toBe(1);
    expect(guess.stderr).toBe('pgfactory: cannot guess the format of stdin: pass --format csv|tsv|ndjson|json\n');
  });

  it('--no-header with --columns, and --columns selecting and ordering header columns', async () => {
    file('n.csv', 'Ann,1\nBob,2\n');
    expect((await insert([`${S}.people`, '-f', 'n.csv', '--no-header', '--columns', 'name,id'])).code).toBe(0);
    file('h.csv', 'age,id,name,extra\n30,3,Cy,zzz\n');
    expect((await insert([`${S}.people`, '-f', 'h.csv', '--columns', 'name,id'])).code).toBe(0);
    expect((await rows()).map((r) => [r.id, r.name, r.age])).toEqual([[1, 'Ann', null], [2, 'Bob', null], [3, 'Cy', null]]);
  });

  it('quotes odd identifiers: mixed case, spaces, quotes, dots, reserved words, non-ASCII', async () => {
    await sql(`CREATE SCHEMA IF NOT EXISTS "My Schema"; DROP TABLE IF EXISTS "My Schema"."Odd ""name"".x"; CREATE TABLE "My Schema"."Odd ""name"".x" ("Select" int, "we""ird col" text, "ünï" text)`);
    file('odd.csv', 'Select,"we""ird col",ünï\n1,a,b\n');
    const result = await insert(['"My Schema"."Odd ""name"".x"', '-f', 'odd.csv']);
    expect(result.stderr).toMatch(/^inserted 1 row into "My Schema"\."Odd ""name""\.x" in /);
    expect(await sql(`SELECT * FROM "My Schema"."Odd ""name"".x"`)).toEqual([{ Select: 1, 'we"ird col': 'a', ünï: 'b' }]);
    const set = await insert(['"My Schema"."Odd ""name"".x"', '--set', 'Select=2', '--set', 'we"ird col=', '--null', 'ünï']);
    expect(set.code).toBe(0);
    expect(await sql(`SELECT * FROM "My Schema"."Odd ""name"".x" WHERE "Select" = 2`)).toEqual([{ Select: 2, 'we"ird col': '', ünï: null }]);
    await sql(`DROP SCHEMA "My Schema" CASCADE`);
  });

  it('unquoted table names fold to lower case; column names are exact', async () => {
    const ok = await insert([`${S.toUpperCase()}.PEOPLE`, '--set', 'id=1']);
    expect(ok.code).toBe(0);
    const bad = await insert([`${S}.people`, '--set', 'ID=2']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('pgfactory: column "ID" does not exist in table insert_cli.people (columns: id, name, age, tags, meta)\n');
  });
});

describe('insert --set', () => {
  it('one row from flags: values are parameters, --set col= is empty, --null is NULL', async () => {
    const result = await insert([`${S}.people`, '--set', 'id=1', '--set', 'meta=']);
    // meta= is the empty string: not valid jsonb, so the server rejects it
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('pgfactory: invalid input syntax for type json (The input string ended unexpectedly)\n');
    const ok = await insert([`${S}.people`, '--set', 'id=1', '--set', "name=O'Brien; DROP TABLE x", '--null', 'age']);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toMatch(/^inserted 1 row into insert_cli\.people/);
    const empty = await insert([`${S}.people`, '--set', 'id=2', '--set', 'name=']);
    expect(empty.code).toBe(0);
    expect((await rows()).map((r) => [r.id, r.name, r.age])).toEqual([[1, "O'Brien; DROP TABLE x", null], [2, '', null]]);
  });

  it('--returning prints the rows in the --output format', async () => {
    const result = await insert([`${S}.people`, '--set', 'id=5', '--set', 'name=E', '--returning', 'id,name', '--output', 'csv']);
    expect(result.stdout).toBe('id,name\n5,E\n');
    file('r.csv', 'id,name\n6,F\n7,G\n');
    const many = await insert([`${S}.people`, '-f', 'r.csv', '--returning', '*', '--output', 'ndjson']);
    expect(many.stdout).toBe('{"id":6,"name":"F","age":null,"tags":null,"meta":null}\n{"id":7,"name":"G","age":null,"tags":null,"meta":null}\n');
    expect(many.stderr).toMatch(/^inserted 2 rows/);
  });
});

describe('upserts', () => {
  it('--on-conflict update updates existing rows and inserts new ones', async () => {
    await sql(`INSERT INTO ${S}.people (id, name, age) VALUES (1, 'old', 1), (2, 'keep', 2)`);
    file('u.csv', 'id,name,age\n1,new,10\n3,three,30\n');
    const result = await insert([`${S}.people`, '-f', 'u.csv', '--on-conflict', 'update', '--conflict-key', 'id']);
    expect(result.stderr).toMatch(/^inserted or updated 2 rows into insert_cli\.people in /);
    expect((await rows()).map((r) => [r.id, r.name, r.age])).toEqual([[1, 'new', 10], [2, 'keep', 2], [3, 'three', 30]]);
  });

  it('--on-conflict update leaves rows alone when nothing would change (json included)', async () => {
    await sql(`INSERT INTO ${S}.people (id, name, age, meta) VALUES (1, 'same', 1, '{"a": 1}'), (2, 'old', 2, '{"a": 2}')`);
    const before = await sql(`SELECT xmin::text AS x FROM ${S}.people WHERE id = 1`);
    file('same.ndjson', '{"id":1,"name":"same","age":1,"meta":{"a":1}}\n{"id":2,"name":"new","age":2,"meta":{"a":2}}\n');
    const result = await insert([`${S}.people`, '-f', 'same.ndjson', '--on-conflict', 'update', '--conflict-key', 'id']);
    expect(result.stderr).toMatch(/^inserted or updated 1 row into insert_cli\.people in .*; 1 row already up to date\n$/);
    expect((await rows()).map((r) => [r.id, r.name])).toEqual([[1, 'same'], [2, 'new']]);
    // The unchanged row was not rewritten: same tuple version.
    expect(await sql(`SELECT xmin::text AS x FROM ${S}.people WHERE id = 1`)).toEqual(before);
  });

  it('--on-conflict nothing keeps existing rows and counts the skipped ones', async () => {
    await sql(`INSERT INTO ${S}.people (id, name) VALUES (1, 'old')`);
    file('n.ndjson', '{"id":1,"name":"new"}\n{"id":2,"name":"two"}\n');
    const result = await insert([`${S}.people`, '-f', 'n.ndjson', '--on-conflict', 'nothing']);
    expect(result.stderr).toMatch(/^inserted 1 row into insert_cli\.people in .*; skipped 1 conflicting row\n$/);
    expect((await rows()).map((r) => [r.id, r.name])).toEqual([[1, 'old'], [2, 'two']]);
  });

  it('--on-conflict update without --conflict-key is a usage error', async () => {
    const result = await insert([`${S}.people`, '--set', 'id=1', '--on-conflict', 'update']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('pgfactory: --on-conflict update needs --conflict-key col[,col]\n');
  });
});

describe('--dry-run', () => {
  it('checks everything and writes nothing', async () => {
    file('d.csv', 'id,name\n1,a\n2,b\n');
    const result = await insert([`${S}.people`, '-f', 'd.csv', '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('dry run: 2 rows would be inserted into insert_cli.people (columns: id, name); nothing was written\n');
    expect(await rows()).toEqual([]);
    file('d2.csv', 'id,name\n1,a\n2,"b\n');
    const broken = await insert([`${S}.people`, '-f', 'd2.csv', '--dry-run']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toBe('pgfactory: d2.csv, line 3: unterminated quoted field (the closing quote is missing)\n');
  });
});
