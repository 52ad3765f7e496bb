// A real pg_dump (15.18, plain format, --no-owner, with the \restrict lines current pg_dump writes) restored
// with `query -f` into an empty database must rebuild what it was dumped from: the dump's source
// (test/fixtures/dump-source.sql) is built on the test server too, and both databases' catalogs
// and contents are compared through SQL. (The test server is PostgreSQL 18; pg_dump 15 refuses to
// dump a newer server, so the dump is a committed fixture.)
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrl, ROOT, runCli, sql } from './helpers.js';

const FIXTURES = path.join(ROOT, 'test', 'fixtures');
const DUMP = path.join(FIXTURES, 'dump-pg15.sql');
const DATABASES = ['psql_restore_src', 'psql_restore_file', 'psql_restore_stdin'];

function urlFor(database: string): string {
  const url = new URL(databaseUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

async function onDatabase<T>(database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlFor(database) });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`;
const CATALOG = {
  columns: `SELECT c.table_schema, c.table_name, c.column_name, c.data_type, c.udt_name, c.column_default, c.is_nullable, c.is_generated,
      c.generation_expression, c.is_identity FROM information_schema.columns c JOIN pg_namespace n ON n.nspname = c.table_schema
    WHERE ${USER_SCHEMAS} ORDER BY 1, 2, c.ordinal_position`,
  constraints: `SELECT conrelid::regclass::text, conname, pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
    WHERE ${USER_SCHEMAS} ORDER BY 1, 2`,
  indexes: `SELECT schemaname, indexname, indexdef FROM pg_indexes WHERE schemaname IN ('public', 'Odd Schema') ORDER BY 1, 2`,
  views: `SELECT schemaname, viewname, definition FROM pg_views WHERE schemaname = 'public' ORDER BY 1, 2`,
  matviews: `SELECT schemaname, matviewname, definition, ispopulated FROM pg_matviews ORDER BY 1, 2`,
  routines: `SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' ORDER BY 1`,
  sequences: `SELECT schemaname, sequencename, start_value, increment_by, last_value FROM pg_sequences ORDER BY 1, 2`,
  triggers: `SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`,
  types: `SELECT n.nspname, t.typname, t.typtype, pg_catalog.format_type(t.typbasetype, t.typtypmod),
      (SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = t.oid)
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname IN ('public', 'Odd Schema') AND t.typtype IN ('e', 'd', 'c') ORDER BY 1, 2`,
  comments: `SELECT d.classoid::regclass::text, d.objsubid, d.description FROM pg_description d WHERE d.objoid >= 16384 ORDER BY 3`,
  schemas: `SELECT nspname FROM pg_namespace n WHERE ${USER_SCHEMAS} AND nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%' ORDER BY 1`,
};

/** Everything the dump should carry over: catalog descriptions and every table's rows as text. */
async function snapshot(database: string): Promise<Record<string, unknown>> {
  return onDatabase(database, async (client) => {
    const result: Record<string, unknown> = {};
    for (const [name, text] of Object.entries(CATALOG)) result[name] = (await client.query({ text, rowMode: 'array' })).rows;
    const tables = await client.query<{ name: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm') AND ${USER_SCHEMAS} ORDER BY 1`,
    );
    for (const { name } of tables.rows) {
      result[`rows of ${name}`] = (await client.query({ text: `SELECT t::text FROM ${name} t ORDER BY 1`, rowMode: 'array' })).rows;
    }
    return result;
  });
}

beforeAll(async () => {
  for (const database of DATABASES) {
    await sql(`DROP DATABASE IF EXISTS ${database}`);
    await sql(`CREATE DATABASE ${database} TEMPLATE template0`);
  }
  await onDatabase('psql_restore_src', (client) => client.query(fs.readFileSync(path.join(FIXTURES, 'dump-source.sql'), 'utf8')));
});

afterAll(async () => {
  for (const database of DATABASES) await sql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
});

describe('restoring a plain pg_dump with query -f', () => {
  it('rebuilds every object and row of the dumped database, from a file and from stdin', async () => {
    const original = await snapshot('psql_restore_src');
    // The fixture holds what the catalog comparison relies on.
    expect((original['rows of "Odd Schema"."Table ""with"" quotes"'] as unknown[]).length).toBe(4);
    expect(original.sequences).toContainEqual(['public', 'counter', '100', '5', '130']);

    const fromFile = await runCli(['query', '-q', '-f', DUMP], { env: { DATABASE_URL: urlFor('psql_restore_file') }, timeoutMs: 60_000 });
    expect(fromFile.stderr).toBe('');
    expect(fromFile.code).toBe(0);
    // psql prints the results of the dump's SELECTs (set_config, setval), and -q drops every command tag.
    const setval = (value: string) => ['┌────────┐', '│ setval │', '├────────┤', `│ ${value.padStart(6)} │`, '└────────┘', '(1 row)'].join('\n');
    const setConfig = ['┌────────────┐', '│ set_config │', '├────────────┤', '│            │', '└────────────┘', '(1 row)'].join('\n');
    expect(fromFile.stdout).toBe(`${[setConfig, setval('4'), setval('4'), setval('130')].join('\n\n')}\n`);
    expect(await snapshot('psql_restore_file')).toEqual(original);

    const fromStdin = await runCli(['query', '-'], { env: { DATABASE_URL: urlFor('psql_restore_stdin') }, input: fs.readFileSync(DUMP), timeoutMs: 60_000 });
    expect(fromStdin.stderr).toBe('');
    expect(fromStdin.code).toBe(0);
    const tags = fromStdin.stdout.split('\n').filter((line) => /^[A-Z]/.test(line));
    // The tags psql 15 prints for this dump (checked), one per line: no blank line between them.
    const PSQL_TAGS = 'SET|SET|SET|SET|SET|SET|SET|SET|SET|CREATE SCHEMA|CREATE TYPE|CREATE TYPE|CREATE DOMAIN|CREATE FUNCTION|COMMENT|CREATE PROCEDURE|CREATE FUNCTION|CREATE FUNCTION|SET|SET|CREATE TABLE|COMMENT|CREATE SEQUENCE|ALTER SEQUENCE|CREATE TABLE|COMMENT|CREATE MATERIALIZED VIEW|ALTER TABLE|CREATE VIEW|CREATE SEQUENCE|ALTER TABLE|COPY 4|COPY 4|ALTER TABLE|ALTER TABLE|ALTER TABLE|CREATE INDEX|CREATE TRIGGER|ALTER TABLE|REFRESH MATERIALIZED VIEW';
    expect(tags.join('|')).toBe(PSQL_TAGS);
    expect(fromStdin.stdout).toContain('\nALTER TABLE\nALTER TABLE\nALTER TABLE\nCREATE INDEX\nCREATE TRIGGER\nALTER TABLE\nREFRESH MATERIALIZED VIEW\n');
    expect(await snapshot('psql_restore_stdin')).toEqual(original);
  });
});
