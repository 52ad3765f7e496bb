// The core of `query`: runs each statement of the input in order on one connection and streams
// every result into a ResultWriter. Plain queries in csv/tsv/json/ndjson go through
// `COPY (…) TO STDOUT` so the server formats the rows and memory stays flat; everything else
// reads through a cursor in batches, as raw server text.
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import Cursor from 'pg-cursor';
import { copyNeedsColumns, copyPlanFor, serverFormattedQueryFor, type CopyPlan } from './copy-plan.js';
import { formatServerError, isDatabaseError, type ServerNotice } from './db-errors.js';
import { ServerError, UsageError } from './errors.js';
import type { ConnectionFactory } from './factory.js';
import { RAW_TEXT_TYPES } from './factory.js';
import type { ResultWriter } from './output/writer.js';
import { tagKeepingCursor } from './pg-internals.js';
import type { Column, Row } from './output/values.js';
import { isPlainQuery, splitStatements, type Statement } from './sql.js';

export interface QueryOptions {
  sql: string;
  /** Where the SQL came from, for error messages ('-' for stdin, a file path, or undefined). */
  sourceName?: string;
  params?: string[];
  singleTransaction?: boolean;
  /**
   * statement_timeout for these statements only: SET LOCAL in a transaction around each one, so
   * nothing stays behind on the server connection (PgBouncer transaction pooling hands that
   * connection to the next client).
   */
  statementTimeoutMs?: number;
  /** Called after each statement with its elapsed time (for --timing). */
  onTiming?: (elapsedMs: number, statement: Statement) => void;
  /** Called for each NOTICE/WARNING the server sends (db-errors' formatNotice prints it as psql does). */
  onNotice?: (notice: ServerNotice) => void;
}

export interface StatementSummary {
  tag: string;
  rowCount: number;
  elapsedMs: number;
}

const BATCH_ROWS = 2000;

/** pg-cursor with the raw command tag kept (`CREATE TABLE`, not just `CREATE`). */
const TaggedCursor = tagKeepingCursor(Cursor);

export async function runQuery(factory: ConnectionFactory, options: QueryOptions, writer: ResultWriter): Promise<StatementSummary[]> {
  const statements = splitStatements(options.sql);
  if (statements.length === 0) throw new UsageError('no SQL statement to run');
  const params = options.params ?? [];
  if (params.length > 0 && statements.length > 1) {
    throw new UsageError(`--param binds to a single statement, but the input holds ${statements.length}`);
  }

  return factory.withConnection(async (client) => {
    const onNotice = (notice: ServerNotice) => options.onNotice?.(notice);
    client.on('notice', onNotice);
    const summaries: StatementSummary[] = [];
    let inTransaction = false;
    try {
      if (options.singleTransaction === true) {
        await client.query('BEGIN');
        inTransaction = true;
      }
      for (const statement of statements) {
        const started = performance.now();
        const summary = await withStatementTimeout(client, statement.text, options.statementTimeoutMs, (own) =>
          runStatement(client, statement, params, writer, options.sourceName, own),
        );
        summary.elapsedMs = performance.now() - started;
        options.onTiming?.(summary.elapsedMs, statement);
        summaries.push(summary);
      }
      if (inTransaction) {
        inTransaction = false;
        await client.query('COMMIT');
      }
      return summaries;
    } catch (error) {
      if (inTransaction) await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.removeListener('notice', onNotice);
    }
  });
}

/** pg's transaction status; before the first ReadyForQuery pg reports null: nothing has run, the session is idle. */
const transactionStatus = (client: pg.Client): string => client.getTransactionStatus() ?? 'I';

// Statements PostgreSQL refuses inside a transaction block, and transaction control itself.
const NO_TRANSACTION_BLOCK =
  /^\s*(vacuum|create\s+database|drop\s+database|alter\s+system|create\s+tablespace|drop\s+tablespace|(create|drop)\s+(unique\s+)?index\s+concurrently|reindex\b.*\bconcurrently|create\s+subscription|drop\s+subscription|alter\s+subscription|cluster\s*;?\s*$)/i;
const TRANSACTION_CONTROL = /^\s*(begin|start\s+transaction|commit|end|rollback|abort|savepoint|release|prepare\s+transaction|commit\s+prepared|rollback\s+prepared)\b/i;

/**
 * Runs one statement under `timeoutMs` without leaving the setting on the session. Idle: BEGIN,
 * SET LOCAL, the statement, COMMIT (`work` is told it runs in a transaction of ours). Inside the
 * user's transaction: SET LOCAL, which ends with it. Transaction control and statements that
 * cannot run in a transaction block get a session SET and a RESET right after (the only case
 * where a PgBouncer in transaction mode could hand the setting on, for the statement's duration).
 */
export async function withStatementTimeout<T>(client: pg.Client, text: string, timeoutMs: number | undefined, work: (ownTransaction: boolean) => Promise<T>): Promise<T> {
  if (timeoutMs === undefined) return work(false);
  const value = Math.trunc(timeoutMs);
  const status = transactionStatus(client);
  if (status === 'E') return work(false); // a failed transaction refuses every statement anyway
  if (status === 'T' && !TRANSACTION_CONTROL.test(text)) {
    await client.query(`SET LOCAL statement_timeout = ${value}`);
    return work(false);
  }
  if (TRANSACTION_CONTROL.test(text) || NO_TRANSACTION_BLOCK.test(text)) {
    if (status === 'T') return work(false);
    await client.query(`SET statement_timeout = ${value}`);
    try {
      return await work(false);
    } finally {
      if (transactionStatus(client) === 'I') await client.query('RESET statement_timeout').catch(() => undefined);
    }
  }
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL statement_timeout = ${value}`);
    const result = await work(true);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

export async function runStatement(client: pg.Client, statement: Statement, params: string[], writer: ResultWriter, sourceName: string | undefined, ownTransaction = false): Promise<StatementSummary> {
  const plain = isPlainQuery(statement.text);
  // What was last sent for this statement: error positions count from its start.
  let sent = statement.text;
  try {
    const serverFormat = plain ? writer.serverFormat : undefined;
    if (params.length === 0 && serverFormat !== undefined) {
      let columns: Column[] | undefined;
      if (copyNeedsColumns(serverFormat)) {
        sent = `SELECT * FROM (\n${statement.text}\n) q LIMIT 0`;
        columns = await describeColumns(client, sent);
      }
      const plan = copyPlanFor(statement.text, serverFormat, columns);
      sent = plan.sql;
      const rowCount = await withPlanSettings(client, plan.settings, ownTransaction, () => copyOut(client, plan, writer));
      return { tag: `SELECT ${rowCount}`, rowCount, elapsedMs: 0 };
    }
    const formattedSql = serverFormat !== undefined ? serverFormattedQueryFor(statement.text, serverFormat) : undefined;
    if (formattedSql !== undefined) {
      sent = formattedSql;
      const rowCount = await readServerFormatted(client, formattedSql, params, writer);
      return { tag: `SELECT ${rowCount}`, rowCount, elapsedMs: 0 };
    }
    return await readWithCursor(client, statement.text, params, writer);
  } catch (error) {
    if (isDatabaseError(error)) {
      throw new ServerError(formatServerError(error, statement, sent.indexOf(statement.text), sourceName), error.code);
    }
    throw error;
  }
}

/** The result columns of a query, from running it wrapped in `LIMIT 0` (no row is computed). */
async function describeColumns(client: pg.Client, describeSql: string): Promise<Column[]> {
  const result = await client.query({ text: describeSql, rowMode: 'array' });
  return result.fields.map((field) => ({ name: field.name, typeOid: field.dataTypeID }));
}

/**
 * Runs `work` with SET LOCAL settings in a transaction of its own (so nothing leaks, also through
 * PgBouncer). Inside the user's own transaction the settings are skipped rather than changed
 * under them.
 */
async function withPlanSettings<T>(client: pg.Client, settings: string[] | undefined, ownTransaction: boolean, work: () => Promise<T>): Promise<T> {
  if (settings !== undefined && ownTransaction) {
    // Already in a transaction of ours (see withStatementTimeout): SET LOCAL ends with it.
    for (const setting of settings) await client.query(setting);
    return work();
  }
  if (settings === undefined || transactionStatus(client) !== 'I') return work();
  await client.query('BEGIN');
  try {
    for (const setting of settings) await client.query(setting);
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function copyOut(client: pg.Client, plan: CopyPlan, writer: ResultWriter): Promise<number> {
  // Loaded on first use: `query` in table format never needs it, and start-up time counts.
  const { copyOutStream } = await import('./copy-out.js');
  const stream = client.query(copyOutStream(plan.sql, plan.encoding));
  await writer.beginCopy();
  for await (const chunk of stream) await writer.writeCopy(chunk as Buffer);
  await writer.endCopy(stream.rowCount);
  return stream.rowCount;
}

/** Rows the server formatted itself (one text column each), passed on like COPY output. */
async function readServerFormatted(client: pg.Client, sql: string, params: string[], writer: ResultWriter): Promise<number> {
  const cursor = client.query(new TaggedCursor(sql, params, { rowMode: 'array', types: RAW_TEXT_TYPES }));
  let rowCount = 0;
  await writer.beginCopy();
  try {
    for (;;) {
      const { rows } = await readBatch(cursor);
      if (rows.length === 0) break;
      rowCount += rows.length;
      await writer.writeCopy(Buffer.from(rows.map((row) => `${row[0]}\n`).join('')));
    }
  } finally {
    await cursor.close().catch(() => undefined);
  }
  await writer.endCopy(rowCount);
  return rowCount;
}

async function readWithCursor(client: pg.Client, text: string, params: string[], writer: ResultWriter): Promise<StatementSummary> {
  const cursor = client.query(new TaggedCursor(text, params, { rowMode: 'array', types: RAW_TEXT_TYPES }));
  let columns: Column[] | undefined;
  let rowCount = 0;
  try {
    for (;;) {
      const { rows, fields } = await readBatch(cursor);
      if (columns === undefined && fields.length > 0) {
        columns = fields.map((field) => ({ name: field.name, typeOid: field.dataTypeID }));
        await writer.beginRows(columns);
      }
      if (rows.length === 0) break;
      rowCount += rows.length;
      await writer.writeRows(rows);
    }
  } finally {
    await cursor.close().catch(() => undefined);
  }
  const tag = cursor.tag ?? '';
  if (columns !== undefined) {
    await writer.endRows(rowCount);
    return { tag, rowCount, elapsedMs: 0 };
  }
  await writer.commandTag(tag);
  return { tag, rowCount: Number(/ (\d+)$/.exec(tag)?.[1] ?? 0), elapsedMs: 0 };
}

function readBatch(cursor: Cursor): Promise<{ rows: Row[]; fields: pg.FieldDef[] }> {
  return new Promise((resolve, reject) => {
    cursor.read(BATCH_ROWS, (error: Error | undefined, rows: Row[], result: pg.QueryResult) => {
      if (error) reject(error);
      else resolve({ rows, fields: result?.fields ?? [] });
    });
  });
}
