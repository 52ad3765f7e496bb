// insert: the CSV files people have (delimiters, quotes, encodings, NULL text) and NDJSON/JSON
// whose keys vary from row to row, against the real server with exact contents.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, scratchDir, sql, useTestSchema } from './helpers.js';

const S = 'insert_opts';
const T = `${S}.t`;
let dir: string;

function file(name: string, content: string | Buffer): string {
  fs.writeFileSync(path.join(dir, name), content);
  return name;
}
const insert = (args: string[], input?: string) => runCli(['insert', ...args], { cwd: dir, input });
const rows = () => sql(`SELECT * FROM ${T} ORDER BY id`);

useTestSchema(S);
beforeAll(() => {
  dir = scratchDir();
});
beforeEach(async () => {
  await sql(`DROP TABLE IF EXISTS ${T}; CREATE TABLE ${T} (id int PRIMARY KEY, name text, note text DEFAULT 'dflt', n int)`);
});

describe('delimiters', () => {
  it('semicolon, found by --delimiter auto and said so', async () => {
    file('semi.csv', 'id;name\n1;Zoë\n2;"a;b"\n');
    const result = await insert([T, '-f', 'semi.csv', '--delimiter', 'auto']);
    expect(result.stderr).toMatch(/^delimiter: ";" \(detected from the first line\)\ninserted 2 rows into insert_opts\.t in /);
    expect(result.code).toBe(0);
    expect(await rows()).toEqual([
      { id: 1, name: 'Zoë', note: 'dflt', n: null },
      { id: 2, name: 'a;b', note: 'dflt', n: null },
    ]);
  });
  it('pipe and tab, given', async () => {
    file('pipe.csv', 'id|name\n1|p|q\n');
    const bad = await insert([T, '-f', 'pipe.csv', '--delimiter', '|']);
    expect(bad.stderr).toBe('pgfactory: pipe.csv, line 2: extra data after last expected column\n');
    file('pipe2.csv', 'id|name\n1|p,q\n');
    expect((await insert([T, '-f', 'pipe2.csv', '--delimiter', '|'])).code).toBe(0);
    file('tab.csv', 'id\tname\n2\t"x\ty"\n');
    expect((await insert([T, '-f', 'tab.csv', '--delimiter', '\\t'])).code).toBe(0);
    expect(await rows()).toEqual([
      { id: 1, name: 'p,q', note: 'dflt', n: null },
      { id: 2, name: 'x\ty', note: 'dflt', n: null },
    ]);
  });
  it('a semicolon file without --delimiter fails naming the header', async () => {
    file('semi2.csv', 'id;name\n1;a\n');
    const result = await insert([T, '-f', 'semi2.csv']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('pgfactory: semi2.csv, line 1: column "id;name" does not exist in table insert_opts.t (columns: id, name, note, n)\n');
  });
  it('--quote, --escape and --null-string', async () => {
    file('q.csv', "id,name,note\n1,'x,y',NIL\n2,'it\\'s',''\n");
    const result = await insert([T, '-f', 'q.csv', '--quote', "'", '--escape', '\\', '--null-string', 'NIL']);
    expect(result.stderr).toMatch(/^inserted 2 rows/);
    expect(await rows()).toEqual([
      { id: 1, name: 'x,y', note: null, n: null },
      { id: 2, name: "it's", note: '', n: null },
    ]);
  });
  it('bad option values are usage errors', async () => {
    file('a.csv', 'id\n1\n');
    expect((await insert([T, '-f', 'a.csv', '--delimiter', 'ab'])).stderr).toBe('pgfactory: --delimiter takes one single-byte character (or \\t for tab, or auto), got "ab"\n');
    expect((await insert([T, '-f', 'a.csv', '--delimiter', '"'])).stderr).toBe('pgfactory: --delimiter and --quote must differ\n');
    file('a.ndjson', '{"id":1}\n');
    const json = await insert([T, '-f', 'a.ndjson', '--encoding', 'latin1']);
    expect(json.stderr).toBe('pgfactory: --encoding applies to csv/tsv input, not to ndjson\n');
    expect(json.code).toBe(1);
    file('a.tsv', 'id\n1\n');
    expect((await insert([T, '-f', 'a.tsv', '--quote', "'"])).stderr).toBe('pgfactory: --quote applies to csv input only (tsv has no quoting; it escapes with \\)\n');
  });
});

describe('--encoding', () => {
  it('Latin-1 and Windows-1252 files, header included, converted by the server', async () => {
    file('l1.csv', Buffer.from('id,name,note\n1,caf\xe9,\xe0 la\n', 'latin1'));
    file('w.csv', Buffer.concat([Buffer.from('id,name,note\n2,', 'latin1'), Buffer.from([0x80]), Buffer.from('uro,\x93q\x94\n', 'latin1')]));
    file('hdr.tsv', Buffer.from('id\tn\xe9\n', 'latin1'));
    expect((await insert([T, '-f', 'l1.csv', '--encoding', 'LATIN1'])).code).toBe(0);
    expect((await insert([T, '-f', 'w.csv', '--encoding', 'windows-1252'])).code).toBe(0);
    expect(await rows()).toEqual([
      { id: 1, name: 'café', note: 'à la', n: null },
      { id: 2, name: '€uro', note: '“q”', n: null },
    ]);
    const header = await insert([T, '-f', 'hdr.tsv', '--encoding', 'latin1']);
    expect(header.stderr).toBe('pgfactory: hdr.tsv, line 1: column "né" does not exist in table insert_opts.t (columns: id, name, note, n)\n');
  });
  it('a byte the encoding lacks: file, line and column', async () => {
    file('w2.csv', Buffer.concat([Buffer.from('id,name\n1,ok\n2,a'), Buffer.from([0x81]), Buffer.from('b\n')]));
    const result = await insert([T, '-f', 'w2.csv', '--encoding', 'WIN1252']);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe('pgfactory: w2.csv, line 3: character with byte sequence 0x81 in encoding "WIN1252" has no equivalent in encoding "UTF8"\n');
    expect(await rows()).toEqual([]);
    const unknown = await insert([T, '-f', 'w2.csv', '--encoding', 'klingon']);
    expect(unknown.stderr).toBe('pgfactory: --encoding: PostgreSQL knows no encoding "klingon" (e.g. LATIN1, WIN1252, UTF8, SJIS)\n');
  });
});

describe('JSON keys that vary', () => {
  for (const jobs of [1, 2]) {
    it(`a key first seen late on stdin widens the load (rows before it keep the DEFAULT), --jobs ${jobs}`, async () => {
      const lines: string[] = [];
      for (let i = 1; i <= 60_000; i += 1) lines.push(JSON.stringify(i < 50_000 ? { id: i, name: `r${i}` } : i % 2 === 0 ? { id: i, note: `late ${i}` } : { id: i, name: `r${i}`, n: i }));
      const result = await insert([T, '-f', '-', '--format', 'ndjson', '--jobs', String(jobs)], `${lines.join('\n')}\n`);
      expect(result.stderr).toMatch(/^inserted 60000 rows/);
      expect(result.code).toBe(0);
      const summary = await sql(`SELECT count(*) FILTER (WHERE note = 'dflt')::int AS dflt, count(*) FILTER (WHERE note IS NULL)::int AS nulls,
        count(*) FILTER (WHERE note = 'late ' || id)::int AS late, count(n)::int AS n, count(name)::int AS names, count(DISTINCT id)::int AS ids FROM ${T}`);
      expect(summary).toEqual([{ dflt: 49_999, nulls: 5_000, late: 5_001, n: 5_000, names: 54_999, ids: 60_000 }]);
    });
  }
  it('a JSON array whose objects name different columns', async () => {
    file('v.json', '[{"id": 1}, {"id": 2, "name": "b"},\n {"n": 3, "id": 3, "note": null}]');
    expect((await insert([T, '-f', 'v.json'])).code).toBe(0);
    expect(await rows()).toEqual([
      { id: 1, name: null, note: 'dflt', n: null },
      { id: 2, name: 'b', note: 'dflt', n: null },
      { id: 3, name: null, note: null, n: 3 },
    ]);
  });
  it('a key that is not a column: file, line, key and columns; nothing written', async () => {
    const result = await insert([T, '-f', '-', '--format', 'ndjson'], '{"id":1}\n{"id":2,"name":"x"}\n{"id":3,"nmae":"y"}\n');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('pgfactory: stdin, line 3: key "nmae" is not a column of table insert_opts.t (columns: id, name, note, n)\n');
    expect(await rows()).toEqual([]);
  });
  it('with --on-conflict update', async () => {
    await sql(`INSERT INTO ${T} VALUES (1, 'old', 'keep', 5)`);
    const result = await insert([T, '-f', '-', '--format', 'ndjson', '--on-conflict', 'update', '--conflict-key', 'id'], '{"id":1,"name":"new"}\n{"id":2,"n":7}\n');
    expect(result.stderr).toMatch(/^inserted or updated 2 rows .*; 0 rows already up to date\n$/);
    expect(await rows()).toEqual([
      { id: 1, name: 'new', note: 'keep', n: 5 },
      { id: 2, name: null, note: 'dflt', n: 7 },
    ]);
  });
});
