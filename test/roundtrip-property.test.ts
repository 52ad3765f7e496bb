// Property: any table name, any column names and any text values survive `insert` and come back
// exactly through `query --format json`. Values travel as COPY data or parameters and identifiers
// are always quoted, so nothing in them can change the SQL that runs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runCli, sql, useTestSchema } from './helpers.js';

const SCHEMA = 'roundtrip';

/** PGFACTORY_PROPERTY_RUNS (default 25): a whole number >= 1, so the property can never pass untried. */
function propertyRuns(value: string | undefined): number {
  if (value === undefined || value === '') return 25;
  const runs = Number(value);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`PGFACTORY_PROPERTY_RUNS must be a whole number >= 1, got "${value}"`);
  return runs;
}
const RUNS = propertyRuns(process.env.PGFACTORY_PROPERTY_RUNS);
const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

// PostgreSQL text holds any Unicode except NUL; identifiers at most 63 bytes (longer ones are cut).
// Random Unicode, and strings built from the characters that break naive quoting or COPY formats.
const tricky = fc.constantFrom('"', "'", '.', ',', ' ', '\t', '\n', '\r', '\\', 'N', '$', '=', ';', '-', '{', '}', '[', ']', ':', 'a', 'A', 'é', '😀', '\u2028', '\ufeff');
const anyText = (options: { minLength?: number; maxLength: number }) =>
  fc.oneof(fc.string({ unit: 'binary', ...options }), fc.string({ unit: tricky, ...options }), fc.constantFrom('\\N', 'NULL', '', ' ', '""'));
const text = anyText({ maxLength: 40 }).filter((value) => !value.includes('\u0000'));
const identifier = anyText({ minLength: 1, maxLength: 20 })
  .filter((name) => name !== '' && !name.includes('\u0000') && Buffer.byteLength(name, 'utf8') <= 63);

interface Case {
  table: string;
  columns: string[];
  rows: Array<Array<string | null>>;
  format: 'csv' | 'ndjson' | 'set';
}

const cases: fc.Arbitrary<Case> = fc
  .record({
    table: identifier,
    columns: fc.uniqueArray(identifier, { minLength: 1, maxLength: 4 }),
    format: fc.constantFrom<'csv' | 'ndjson' | 'set'>('csv', 'ndjson', 'set'),
  })
  .chain(({ table, columns, format }) =>
    fc.array(fc.array(fc.option(text, { nil: null }), { minLength: columns.length, maxLength: columns.length }), { minLength: 1, maxLength: format === 'set' ? 1 : 5 })
      .map((rows) => ({ table, columns, rows, format })),
  )
  // --set splits col=value at the first '=', and only a name without '=' can be named there.
  .filter((c) => c.format !== 'set' || c.columns.every((name) => !name.includes('=')));

/** CSV as COPY reads it: every value quoted, NULL as an empty unquoted field. */
function csvField(value: string | null): string {
  return value === null ? '' : `"${value.replace(/"/g, '""')}"`;
}

function inputFor(c: Case): { args: string[]; input: string } {
  const target = `${quoteIdent(SCHEMA)}.${quoteIdent(c.table)}`;
  if (c.format === 'csv') {
    const lines = [c.columns.map((name) => csvField(name)).join(','), ...c.rows.map((row) => row.map(csvField).join(','))];
    return { args: ['insert', target, '--file', '-', '--format', 'csv'], input: `${lines.join('\n')}\n` };
  }
  if (c.format === 'ndjson') {
    const lines = c.rows.map((row) => JSON.stringify(Object.fromEntries(c.columns.map((name, i) => [name, row[i]]))));
    return { args: ['insert', target, '--file', '-', '--format', 'ndjson'], input: `${lines.join('\n')}\n` };
  }
  const row = c.rows[0]!;
  const args = ['insert', target];
  c.columns.forEach((name, i) => {
    const value = row[i];
    if (value === null) args.push('--null', name);
    else args.push('--set', `${name}=${value}`);
  });
  return { args, input: '' };
}

/** Rows as JSON objects in a stable order, for comparing multisets. */
const sorted = (rows: Array<Record<string, unknown>>) => rows.map((row) => JSON.stringify(Object.entries(row))).sort();

useTestSchema(SCHEMA);

describe('insert → query --format json round trip', () => {
  it('refuses a run count that would try nothing', () => {
    expect(propertyRuns(undefined)).toBe(25);
    expect(propertyRuns('3')).toBe(3);
    for (const bad of ['0', '-1', '1.5', 'many']) expect(() => propertyRuns(bad)).toThrow(`PGFACTORY_PROPERTY_RUNS must be a whole number >= 1, got "${bad}"`);
  });

  it('is exact for arbitrary table names, column names and text values (NULL and empty kept apart)', async () => {
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        tried += 1;
        const table = `${quoteIdent(SCHEMA)}.${quoteIdent(c.table)}`;
        await sql(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (${c.columns.map((name) => `${quoteIdent(name)} text`).join(', ')})`);
        try {
          const { args, input } = inputFor(c);
          const inserted = await runCli(args, { input });
          expect({ code: inserted.code, stderr: inserted.stderr.startsWith('inserted ') ? 'inserted' : inserted.stderr }).toEqual({ code: 0, stderr: 'inserted' });

          const read = await runCli(['query', '--format', 'json', `SELECT * FROM ${table}`]);
          expect({ code: read.code, stderr: read.stderr }).toEqual({ code: 0, stderr: '' });
          const got = JSON.parse(read.stdout) as Array<Record<string, unknown>>;
          const expected = c.rows.map((row) => Object.fromEntries(c.columns.map((name, i) => [name, row[i]])));
          expect(sorted(got)).toEqual(sorted(expected));
        } finally {
          await sql(`DROP TABLE IF EXISTS ${table}`);
        }
      }),
      { numRuns: RUNS },
    );
    expect(tried).toBe(RUNS);
  }, 900_000);
});
