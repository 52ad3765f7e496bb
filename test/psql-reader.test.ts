// The script reader alone (no server): what it hands out must not depend on where its reads end,
// and the check pass (no text, no lines) must find the same items and lines as the run.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScriptReader, type ScriptItem } from '../src/psql/reader.js';
import { scratchDir } from './helpers.js';

const SCRIPT = [
  '-- a comment; with a semicolon',
  "INSERT INTO t VALUES (1, 'a;b', $$x;\\.$$);",
  'COPY t FROM stdin;',
  '1\tback\\\\slash',
  '\\.x is data, and so is \\. after text',
  '\\N\t\\.',
  '\\.',
  'SELECT :v, :\'v\';',
  'COPY t (a) FROM STDIN (FORMAT csv);',
  '"multi',
  'line"',
  '\\.\r',
  '\\echo after copy',
  'SELECT 2 \\g',
  'SELECT 3',
].join('\n');

type Seen = { item: Omit<ScriptItem, 'offset'> | null; data?: string };

async function readAll(reader: ScriptReader): Promise<Seen[]> {
  const seen: Seen[] = [];
  for (;;) {
    const item = await reader.next();
    if (item === null) break;
    const { offset: _, ...rest } = item;
    const entry: Seen = { item: rest };
    // \g sends the query buffer, as the run does.
    if (item.kind === 'meta' && item.name === 'g') reader.clearPending();
    if (item.kind === 'sql' && item.copyFromStdin) {
      const pieces: Buffer[] = [];
      for await (const piece of reader.copyData()) pieces.push(Buffer.from(piece));
      entry.data = Buffer.concat(pieces).toString();
    }
    seen.push(entry);
  }
  return seen;
}

describe('ScriptReader', () => {
  const dir = scratchDir('psql-reader');
  const file = path.join(dir, 'script.sql');
  fs.writeFileSync(file, SCRIPT);
  const variables = new Map([['v', "it's"]]);

  it('hands out the same items and COPY data whatever the size of its reads', async () => {
    const whole = await readAll(new ScriptReader('script.sql', Buffer.from(SCRIPT), variables));
    expect(whole.map((seen) => seen.data).filter((data) => data !== undefined)).toEqual([
      '1\tback\\\\slash\n\\.x is data, and so is \\. after text\n\\N\t\\.\n',
      '"multi\nline"\n',
    ]);
    expect(whole.map((seen) => seen.item && ('text' in seen.item ? seen.item.text : `\\${seen.item.name}${seen.item.args}`))).toEqual([
      "-- a comment; with a semicolon\nINSERT INTO t VALUES (1, 'a;b', $$x;\\.$$)",
      'COPY t FROM stdin',
      "SELECT it's, 'it''s'",
      'COPY t (a) FROM STDIN (FORMAT csv)',
      '\\echo after copy',
      '\\g',
      'SELECT 3',
    ]);
    expect(whole.map((seen) => seen.item?.line)).toEqual([2, 3, 8, 9, 13, 14, 15]);
    for (const chunk of [1, 2, 3, 5, 7, 64]) {
      expect(await readAll(ScriptReader.fromFile(file, variables, 'script.sql', chunk)), `reads of ${chunk} bytes`).toEqual(whole);
    }
  });

  it('while checking, finds the same items without text or lines; lineOfOffset gives the line', async () => {
    for (const chunk of [1, 3, 64]) {
      const reader = ScriptReader.fromFile(file, variables, 'script.sql', chunk);
      reader.checking = true;
      reader.interpolate = false;
      const kinds: string[] = [];
      const lines: number[] = [];
      for (let item = await reader.next(); item !== null; item = await reader.next()) {
        kinds.push(item.kind === 'meta' ? item.name : item.copyFromStdin ? 'copy' : 'sql');
        lines.push(await reader.lineOfOffset(item.offset));
        if (item.kind === 'sql' && item.copyFromStdin) for await (const _ of reader.copyData()) void _;
        if (item.kind === 'meta') reader.clearPending();
      }
      expect(kinds).toEqual(['sql', 'copy', 'sql', 'copy', 'echo', 'g', 'sql']);
      expect(lines).toEqual([2, 3, 8, 9, 13, 14, 15]);
    }
  });
});
