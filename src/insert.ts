// The core of `insert`: one row from --set flags, or many from a CSV/TSV/NDJSON/JSON file or
// stdin, into one table, all-or-nothing by default. The target and its columns are checked before
// any data is sent; readers turn the input into COPY rows (src/insert/*), the loader sends them.
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { InputError, ServerError, UsageError } from './errors.js';
import type { ConnectionFactory } from './factory.js';
import { RAW_TEXT_TYPES } from './factory.js';
import type { ResultWriter } from './output/writer.js';
import type { Row } from './output/values.js';
import { isDatabaseError } from './db-errors.js';
import { quoteIdent, quoteLiteral } from './sql.js';
import type { InputPosition, Malformed, RecordChunk } from './insert/chunks.js';
import { DelimitedReader } from './insert/delimited.js';
import { JsonReader } from './insert/jsoninput.js';
import { conflictAndReturning, load, serverMessage, TARGET_ALIAS, type ConflictAction, type LoadOptions, type LoadResult } from './insert/load.js';
import { checkTwoPhase, ExtraConnections, leftoverPrepared, loadParallel } from './insert/parallel.js';
import { fingerprintInput, planResume } from './insert/resume.js';
import { RejectFile, type InputFormat } from './insert/rejects.js';
import { displayIdent, displayTable, matchColumns, noSuchColumn, resolveTarget, sqlTable, writableColumns, type Target, type TargetColumn } from './insert/target.js';

export type { InputFormat } from './insert/rejects.js';

export interface InsertOptions {
  table: string;
  /** A path, or '-' for stdin. */
  file?: string;
  format?: InputFormat;
  header: boolean;
  columns?: string[];
  /** --set col=value, in order. */
  set: Array<{ column: string; value: string | null }>;
  onConflict?: 'nothing' | 'update';
  conflictKey?: string[];
  returning?: string[] | '*';
  dryRun: boolean;
  commitEvery?: number;
  onError: 'abort' | 'skip';
  rejectFile?: string;
  /** CSV/TSV: one character, or 'auto' (sniffed from the first line). */
  delimiter?: string;
  /** CSV only. */
  quote?: string;
  escape?: string;
  /** Any encoding name PostgreSQL knows; the server converts, as COPY's ENCODING does. */
  encoding?: string;
  /** The text that means NULL (COPY's NULL). */
  nullString?: string;
  /** Parallel connections (default 1). */
  jobs?: number;
  /** Load the rest of an earlier --commit-every load of the same input. */
  resume?: boolean;
  /** Names the load for --resume (default: the file's name). */
  loadId?: string;
}

/** What happens during a load, for the command to show (runInsert itself prints nothing). */
export type InsertEvent =
  | { type: 'start'; totalBytes: number | undefined }
  | { type: 'progress'; rows: number; bytesRead: number }
  | { type: 'notice'; message: string };

export interface InsertIo {
  stdin: () => Readable;
  onEvent?: (event: InsertEvent) => void;
  /** Where --returning rows go. */
  writer?: ResultWriter;
  interrupted: () => boolean;
  /** Registers what to do on Ctrl-C/SIGTERM besides cancelling the statement. */
  onInterrupt: (listener: () => void) => void;
}

export interface InsertSummary {
  rows: number;
  conflicts: number;
  rejected: number;
  seconds: number;
  table: string;
  /** Connections that loaded rows in parallel (1 without --jobs). */
  workers: number;
  onConflict: InsertOptions['onConflict'];
  /** Set under --on-error skip. */
  rejectFile: string | undefined;
  /** --resume: rows an earlier run had committed. */
  resumed: number | undefined;
  /** Set for --dry-run: what would have been loaded. */
  dryRun: { rows: number; columns: string[]; malformed: number | undefined } | undefined;
}

const EXTENSIONS: Record<string, InputFormat> = { '.csv': 'csv', '.tsv': 'tsv', '.tab': 'tsv', '.ndjson': 'ndjson', '.jsonl': 'ndjson', '.json': 'json' };

/** Option combinations that cannot work, caught before connecting. */
export function checkInsertOptions(options: InsertOptions): InputFormat | undefined {
  const fromFlags = options.set.length > 0;
  if (fromFlags && options.file !== undefined) throw new UsageError('give rows either with --file or with --set/--null, not both');
  if (!fromFlags && options.file === undefined) throw new UsageError("nothing to insert: give --file PATH ('-' for stdin) or --set col=value");
  if (options.onConflict === 'update' && (options.conflictKey === undefined || options.conflictKey.length === 0)) {
    throw new UsageError('--on-conflict update needs --conflict-key col[,col]');
  }
  if (options.conflictKey !== undefined && options.onConflict === undefined) throw new UsageError('--conflict-key needs --on-conflict nothing|update');
  if (options.onError === 'skip' && options.rejectFile === undefined) throw new UsageError('--on-error skip needs --reject-file PATH for the rejected rows');
  if (options.rejectFile !== undefined && options.onError !== 'skip') throw new UsageError('--reject-file goes with --on-error skip');
  const jobs = options.jobs ?? 1;
  if (jobs > 1 && (options.onConflict !== undefined || options.returning !== undefined)) {
    throw new UsageError(`--jobs ${jobs} cannot go with ${options.onConflict !== undefined ? '--on-conflict' : '--returning'}: upserts and returned rows run in one job (parallel upserts of one key would wait on each other until the load ends)`);
  }
  if ((options.resume === true || options.loadId !== undefined) && options.commitEvery === undefined) {
    throw new UsageError(`${options.resume === true ? '--resume' : '--load-id'} needs --commit-every N: only committed batches can be resumed`);
  }
  if (fromFlags) {
    if (options.jobs !== undefined) throw new UsageError('--jobs applies to --file input, not to --set');
    for (const flag of ['columns', 'format', 'commitEvery'] as const) {
      if (options[flag] !== undefined) throw new UsageError(`--${flag === 'commitEvery' ? 'commit-every' : flag} applies to --file input, not to --set`);
    }
    if (options.onError === 'skip') throw new UsageError('--on-error skip applies to --file input, not to --set');
    return undefined;
  }
  const format = options.format ?? guessFormat(options.file!);
  checkTextOptions(options, format);
  return format;
}

/** --delimiter, --quote, --escape, --encoding, --null-string: what COPY would refuse, said before connecting. */
function checkTextOptions(options: InsertOptions, format: InputFormat): void {
  const given = (['delimiter', 'quote', 'escape', 'encoding', 'nullString'] as const).filter((key) => options[key] !== undefined);
  const flag = (key: string) => `--${key === 'nullString' ? 'null-string' : key}`;
  if ((format === 'ndjson' || format === 'json') && given.length > 0) throw new UsageError(`${flag(given[0])} applies to csv/tsv input, not to ${format}`);
  if (format === 'tsv') {
    for (const key of ['quote', 'escape'] as const) if (options[key] !== undefined) throw new UsageError(`${flag(key)} applies to csv input only (tsv has no quoting; it escapes with \\)`);
  }
  for (const key of ['delimiter', 'quote', 'escape'] as const) {
    const value = options[key];
    if (value === undefined || (key === 'delimiter' && value === 'auto')) continue;
    if (Buffer.byteLength(value) !== 1 || value === '\n' || value === '\r') throw new UsageError(`${flag(key)} takes one single-byte character (or \\t for tab${key === 'delimiter' ? ", or auto" : ''}), got ${JSON.stringify(value)}`);
  }
  if (options.delimiter !== undefined && options.delimiter === (options.quote ?? '"') && format === 'csv') throw new UsageError('--delimiter and --quote must differ');
  if (format === 'tsv' && options.delimiter === '\\') throw new UsageError('--delimiter cannot be \\ in tsv (it is the escape character)');
}

function guessFormat(file: string): InputFormat {
  if (file === '-') throw new UsageError('cannot guess the format of stdin: pass --format csv|tsv|ndjson|json');
  const format = EXTENSIONS[path.extname(file).toLowerCase()];
  if (format === undefined) throw new UsageError(`cannot guess the format of "${file}" from its extension: pass --format csv|tsv|ndjson|json`);
  return format;
}

// Client encodings whose two-byte characters may hold bytes of ASCII punctuation ('|', '\\'):
// COPY converts them before splitting fields; pgfactory splits first, so those bytes may not be special.
const ASCII_UNSAFE = new Set(['SJIS', 'SHIFT_JIS_2004', 'BIG5', 'GBK', 'UHC', 'GB18030', 'JOHAB']);

/** The encoding's canonical name, checked against the server's list (as COPY's ENCODING would). */
async function checkEncoding(client: pg.Client, options: InsertOptions, format: InputFormat): Promise<string | undefined> {
  if (options.encoding === undefined) return undefined;
  const found = await client.query<{ name: string }>('SELECT pg_encoding_to_char(pg_char_to_encoding($1)) AS name', [options.encoding]);
  const name = found.rows[0].name;
  if (name === '' ) throw new UsageError(`--encoding: PostgreSQL knows no encoding ${JSON.stringify(options.encoding)} (e.g. LATIN1, WIN1252, UTF8, SJIS)`);
  if (ASCII_UNSAFE.has(name)) {
    const special = [options.delimiter ?? (format === 'csv' ? ',' : '\t'), options.quote ?? '"', options.escape ?? '"'];
    if (format === 'tsv' || special.some((c) => c.charCodeAt(0) >= 0x40)) {
      throw new UsageError(`--encoding ${name}: its two-byte characters may contain ${format === 'tsv' ? 'the tsv escape \\' : 'the delimiter, quote or escape byte'}; use --format csv with , ; or tab and the default quote`);
    }
  }
  return name;
}

/** The COPY options beyond FORMAT, as SQL. */
function copyExtra(options: InsertOptions, reader: DelimitedReader, format: InputFormat, encoding: string | undefined): string {
  let sql = '';
  const standard = format === 'csv' ? ',' : '\t';
  const delimiter = String.fromCharCode(reader.delimiter);
  if (delimiter !== standard) sql += `, DELIMITER ${quoteLiteral(delimiter)}`;
  if (options.quote !== undefined) sql += `, QUOTE ${quoteLiteral(options.quote)}`;
  if (options.escape !== undefined) sql += `, ESCAPE ${quoteLiteral(options.escape)}`;
  if (options.nullString !== undefined) sql += `, NULL ${quoteLiteral(options.nullString)}`;
  if (encoding !== undefined) sql += `, ENCODING ${quoteLiteral(encoding)}`;
  return sql;
}

/** Header names read byte for byte (latin1), converted by the server from the input's encoding. */
async function convertNames(client: pg.Client, names: string[] | undefined, encoding: string, file: string): Promise<string[] | undefined> {
  if (names === undefined || names.length === 0) return names;
  try {
    const converted = await client.query<{ name: string }>('SELECT convert_from(decode(x, \'hex\'), $2) AS name FROM unnest($1::text[]) WITH ORDINALITY AS u(x, i) ORDER BY i', [
      names.map((name) => Buffer.from(name, 'latin1').toString('hex')),
      encoding,
    ]);
    return converted.rows.map((row) => row.name);
  } catch (error) {
    if (isDatabaseError(error)) throw new InputError(`header: ${error.message}`, { file, line: 1 });
    throw error;
  }
}

export async function runInsert(factory: ConnectionFactory, options: InsertOptions, io: InsertIo): Promise<InsertSummary> {
  const format = checkInsertOptions(options);
  if (format === undefined) return insertFromFlags(factory, options, io);
  return insertFromFile(factory, options, format, io);
}

function conflictAction(options: InsertOptions, target: Target, columns: TargetColumn[]): ConflictAction | undefined {
  if (options.onConflict === undefined) return undefined;
  const key = options.conflictKey ?? [];
  matchColumns(target, key, { what: '--conflict-key' });
  const loaded = new Set(columns.map((column) => column.name));
  for (const name of key) {
    if (!loaded.has(name)) throw new UsageError(`--conflict-key column ${quoteIdent(name)} is not among the columns being inserted`);
  }
  if (options.onConflict === 'nothing') return { action: 'nothing', key };
  return { action: 'update', key };
}

function checkReturning(options: InsertOptions, target: Target): void {
  if (options.returning === undefined || options.returning === '*') return;
  const names = new Set(target.columns.map((column) => column.name));
  for (const name of options.returning) {
    if (!names.has(name)) {
      throw new InputError(`--returning: ${noSuchColumn(target, name)}`);
    }
  }
}

async function writeReturned(writer: ResultWriter | undefined, fields: pg.FieldDef[], rows: Row[], started: { yes: boolean }): Promise<void> {
  if (writer === undefined) return;
  if (!started.yes) {
    started.yes = true;
    await writer.beginRows(fields.map((field) => ({ name: field.name, typeOid: field.dataTypeID })));
  }
  if (rows.length > 0) await writer.writeRows(rows);
}

async function insertFromFlags(factory: ConnectionFactory, options: InsertOptions, io: InsertIo): Promise<InsertSummary> {
  const started = performance.now();
  return factory.withConnection(async (client) => {
    const target = await resolveTarget(client, options.table);
    for (const message of await leftoverPrepared(client, target)) io.onEvent?.({ type: 'notice', message });
    const columns = matchColumns(target, options.set.map((entry) => entry.column), { what: '--set/--null' });
    const conflict = conflictAction(options, target, columns);
    checkReturning(options, target);
    const table = displayTable(target);
    if (options.dryRun) return summaryOf(options, table, { dryRun: { rows: 1, columns: columns.map((c) => displayIdent(c.name)), malformed: undefined } });
    const sql = `INSERT INTO ${sqlTable(target)} AS ${TARGET_ALIAS} (${columns.map((c) => quoteIdent(c.name)).join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`
      + conflictAndReturning(conflict, columns, options.returning);
    let result: pg.QueryResult;
    try {
      result = await client.query({ text: sql, values: options.set.map((entry) => entry.value), types: RAW_TEXT_TYPES, rowMode: 'array' });
    } catch (error) {
      if (isDatabaseError(error) && !io.interrupted()) {
        throw new ServerError(`${error.column !== undefined ? `column ${error.column}: ` : ''}${serverMessage(error)}`, error.code);
      }
      throw error;
    }
    const rows = result.rowCount ?? 0;
    if (options.returning !== undefined && io.writer !== undefined) {
      const state = { yes: false };
      await writeReturned(io.writer, result.fields, result.rows as Row[], state);
      await io.writer.endRows(result.rows.length);
    }
    return summaryOf(options, table, { rows, conflicts: 1 - rows, seconds: (performance.now() - started) / 1000 });
  });
}

function summaryOf(options: InsertOptions, table: string, values: Partial<InsertSummary>): InsertSummary {
  return {
    rows: 0,
    conflicts: 0,
    rejected: 0,
    seconds: 0,
    table,
    workers: 1,
    onConflict: options.onConflict,
    rejectFile: options.onError === 'skip' ? options.rejectFile : undefined,
    resumed: undefined,
    dryRun: undefined,
    ...values,
  };
}

type Reader = DelimitedReader | JsonReader;

/** Buffers fileInTurns() fills in turn: the chunk being read, the one before (a line cut by its end), one read ahead, one spare. */
const TURN_BUFFERS = 4;
const READ_BYTES = 1 << 18;

/**
 * A file read into a few buffers in turn instead of a fresh one per read, for a reader done with
 * each chunk before it asks for the one after next (NDJSON: each line is copied into a COPY row or
 * decoded). Fresh 256 KiB buffers cost page faults and collections (bench/README.md, Figures
 * behind the code). Blocking reads, as psql/reader.ts: from the page cache they take microseconds.
 */
function fileInTurns(file: string, start = 0): Readable {
  function* chunks(): Generator<Buffer> {
    const fd = fs.openSync(file, 'r');
    try {
      const buffers = Array.from({ length: TURN_BUFFERS }, () => Buffer.allocUnsafeSlow(READ_BYTES));
      let position = start;
      for (let turn = 0; ; turn += 1) {
        const buffer = buffers[turn % TURN_BUFFERS];
        const bytesRead = fs.readSync(fd, buffer, 0, READ_BYTES, position);
        if (bytesRead === 0) return;
        position += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  // One chunk read ahead at most, so no chunk is read into a buffer still in use.
  return Readable.from(chunks(), { highWaterMark: 1 });
}

function openInput(options: InsertOptions, io: InsertIo, inTurns: boolean): { stream: Readable; name: string; size: number | undefined; inTurns: boolean } {
  if (options.file === '-') return { stream: io.stdin(), name: 'stdin', size: undefined, inTurns: false };
  const file = options.file!;
  let size: number | undefined;
  try {
    const stat = fs.statSync(file);
    if (stat.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    size = stat.isFile() ? stat.size : undefined;
  } catch (error) {
    throw new UsageError(`cannot read "${file}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const turns = inTurns && size !== undefined;
  return { stream: turns ? fileInTurns(file) : fs.createReadStream(file, { highWaterMark: READ_BYTES }), name: file, size, inTurns: turns };
}

async function insertFromFile(factory: ConnectionFactory, options: InsertOptions, format: InputFormat, io: InsertIo): Promise<InsertSummary> {
  const skip = options.onError === 'skip';
  // Readers that let go of each read chunk in time for fileInTurns, unless they keep records for a
  // reject file: NDJSON's (it copies each line into a COPY row), and CSV/TSV under --jobs (a record
  // cut by a chunk's end is copied out, and each piece into its batch's buffer as it joins it).
  const delimited = format === 'csv' || format === 'tsv';
  const inTurns = (format === 'ndjson' || (delimited && (options.jobs ?? 1) > 1 && !options.dryRun)) && !skip;
  const input = openInput(options, io, inTurns);
  // Resumable loads (--commit-every) name their input by a fingerprint; stdin's first 64 KiB are read for it.
  const resumable = options.commitEvery !== undefined && !options.dryRun;
  const { fingerprint, source } = resumable ? await fingerprintInput(input, format) : { fingerprint: '', source: input.stream as AsyncIterable<Buffer> };
  let malformedCount = 0;
  let rejects: RejectFile | undefined;
  const onMalformed = (record: Malformed) => {
    if (!skip) throw new InputError(record.reason, { file: input.name, line: record.line });
    malformedCount += 1;
    rejects?.add(record);
  };
  const reader: Reader =
    format === 'csv' || format === 'tsv'
      ? new DelimitedReader(source, {
          format,
          file: input.name,
          hasHeader: options.header,
          delimiter: options.delimiter === 'auto' ? 'auto' : options.delimiter?.charCodeAt(0),
          quote: options.quote?.charCodeAt(0),
          escape: options.escape?.charCodeAt(0),
          binaryHeader: options.encoding !== undefined,
          keepRaw: skip,
          onMalformed,
          // Rejected or dry-run records are judged here; a strict load's by the server's COPY.
          countFields: skip || options.dryRun,
          inputInTurns: input.inTurns,
        })
      : new JsonReader(source, { format, file: input.name, keepRaw: skip, onMalformed });

  // Ctrl-C also stops reading: a load waiting on stdin must not wait for more input.
  const streams: Readable[] = [input.stream];
  io.onInterrupt(() => streams.forEach((stream) => stream.destroy(new InputError('interrupted'))));
  const jobs = options.jobs ?? 1;
  // --jobs N: the other connections open alongside the first.
  const extra = jobs > 1 && !options.dryRun ? new ExtraConnections(factory, jobs - 1) : undefined;
  try {
    return await factory.withConnection(async (client) => {
      const target = await resolveTarget(client, options.table);
      const table = displayTable(target);
      for (const message of await leftoverPrepared(client, target)) io.onEvent?.({ type: 'notice', message });
      if (jobs > 1 && options.commitEvery === undefined && !options.dryRun) await checkTwoPhase(client, jobs);
      const encoding = await checkEncoding(client, options, format);
      let names = await reader.names();
      if (encoding !== undefined && reader instanceof DelimitedReader) names = await convertNames(client, names, encoding, input.name);
      if (options.delimiter === 'auto' && reader instanceof DelimitedReader) {
        io.onEvent?.({ type: 'notice', message: `delimiter: ${JSON.stringify(String.fromCharCode(reader.delimiter))} (detected from the first line)` });
      }
      const columns = planColumns(reader, names, options, target, input.name);
      const conflict = conflictAction(options, target, columns);
      checkReturning(options, target);
      if (skip && !options.dryRun) {
        rejects = new RejectFile(options.rejectFile!, format);
        rejects.header(reader.headerRaw);
      }
      const started = performance.now();
      const loadId = options.loadId ?? (options.file === '-' ? 'stdin' : path.basename(input.name));
      const progress = resumable ? await planResume(client, target, loadId, fingerprint, options.resume === true) : undefined;
      try {
        if (progress?.complete === true) {
          io.onEvent?.({ type: 'notice', message: `load ${JSON.stringify(loadId)} into ${table} is already complete: nothing to resume` });
          return summaryOf(options, table, { resumed: progress.rowsBefore, workers: jobs });
        }
        if (options.dryRun) {
          let rows = 0;
          for await (const chunk of reader.records()) rows += chunk.lines.length;
          return summaryOf(options, table, { rejected: malformedCount, dryRun: { rows, columns: columns.map((c) => displayIdent(c.name)), malformed: skip ? malformedCount : undefined } });
        }
        // A resumed file load (CSV, TSV, NDJSON) reads on from the first record no earlier run committed.
        const seekable = (reader instanceof DelimitedReader || format === 'ndjson') && !skip;
        const seek = progress?.seek !== undefined && seekable ? seekableFrom(input, progress.seek.next, inTurns) : undefined;
        if (seek !== undefined) {
          streams.push(seek.stream);
          reader.restartAt(seek.stream, progress!.seek!.next);
        }
        io.onEvent?.({ type: 'start', totalBytes: input.size });
        let sent = 0;
        const returned = { yes: false };
        const loadOptions: LoadOptions = {
            target,
            columns,
            copyFormat: reader.copyFormat,
            copyExtra: reader instanceof DelimitedReader ? copyExtra(options, reader, format, encoding) : '',
            file: input.name,
            onConflict: conflict,
            returning: options.returning,
            commitEvery: options.commitEvery,
            onReject: rejects !== undefined ? (row) => rejects!.add(row) : undefined,
            onSent: (records, bytesRead) => {
              sent += records;
              io.onEvent?.({ type: 'progress', rows: sent, bytesRead });
            },
            onReturned: io.writer !== undefined ? (fields, rows) => writeReturned(io.writer, fields, rows, returned) : undefined,
            interrupted: io.interrupted,
            pendingLine: () => reader.pendingLine(),
            done: progress?.done,
            firstRecord: seek !== undefined ? progress!.seek!.to : undefined,
            onWindowCommit: progress?.record,
            inputInTurns: input.inTurns,
            inputBytes: seek === undefined ? input.size : undefined,
          };
        const records = reader.records() as AsyncIterable<RecordChunk>;
        let result: LoadResult;
        try {
          result = extra !== undefined ? await loadParallel(extra, client, records, loadOptions) : await load(client, records, loadOptions);
        } catch (error) {
          await progress?.flush(client);
          throw error;
        }
        await progress?.finish(client);
        if (io.writer !== undefined && options.returning !== undefined) {
          if (!returned.yes) await writeReturned(io.writer, [], [], returned);
          await io.writer.endRows(result.rows);
        }
        return summaryOf(options, table, { rows: result.rows, conflicts: result.conflicts, rejected: result.rejected + malformedCount, seconds: (performance.now() - started) / 1000, workers: jobs, resumed: options.resume === true ? progress?.rowsBefore : undefined });
      } finally {
        rejects?.close();
      }
    });
  } finally {
    await extra?.release();
    for (const stream of streams) stream.destroy();
  }
}

/**
 * The file read from `position` on, when it is a regular file whose byte before that position
 * ends a line (else the resumed load reads it from the start and skips what is done).
 */
function seekableFrom(input: { name: string; size: number | undefined }, position: InputPosition, inTurns: boolean): { stream: Readable } | undefined {
  if (input.size === undefined || position.byte > input.size) return undefined;
  if (position.byte > 0) {
    const before = Buffer.alloc(1);
    const fd = fs.openSync(input.name, 'r');
    try {
      fs.readSync(fd, before, 0, 1, position.byte - 1);
    } finally {
      fs.closeSync(fd);
    }
    if (before[0] !== 0x0a) return undefined;
  }
  return { stream: inTurns ? fileInTurns(input.name, position.byte) : fs.createReadStream(input.name, { start: position.byte, highWaterMark: READ_BYTES }) };
}

/** Which columns the input fills, checked against the table before any data is sent. */
function planColumns(reader: Reader, names: string[] | undefined, options: InsertOptions, target: Target, file: string): TargetColumn[] {
  if (reader instanceof DelimitedReader) {
    if (names !== undefined) {
      if (options.columns !== undefined) {
        const select = options.columns.map((name) => {
          const index = names.indexOf(name);
          if (index < 0) throw new InputError(`--columns: column ${quoteIdent(name)} is not in the header (header: ${names.map(displayIdent).join(', ')})`, { file, line: 1 });
          return index;
        });
        const columns = matchColumns(target, options.columns, { what: '--columns' });
        reader.setPlan({ fieldCount: names.length, select });
        return columns;
      }
      const columns = matchColumns(target, names, { file, line: 1, what: 'the header' });
      reader.setPlan({ fieldCount: names.length, select: undefined });
      return columns;
    }
    const columns = options.columns !== undefined ? matchColumns(target, options.columns, { what: '--columns' }) : writableColumns(target);
    reader.setPlan({ fieldCount: columns.length, select: undefined });
    return columns;
  }
  const firstLine = reader.firstLine();
  const chosen = options.columns ?? names ?? [];
  const columns = matchColumns(target, chosen, options.columns !== undefined ? { what: '--columns' } : { file, line: firstLine, what: 'the first object' });
  const byName = new Map(target.columns.map((column) => [column.name, column]));
  reader.setPlan({
    columns,
    // Keys that vary from object to object: the columns are the union of the keys seen.
    unknownKey: (key) => {
      if (options.columns !== undefined) return undefined;
      const column = byName.get(key);
      if (column === undefined) return `key ${JSON.stringify(key)} is not a column of table ${displayTable(target)} (columns: ${target.columns.map((c) => displayIdent(c.name)).join(', ')})`;
      if (column.generated) return `key ${JSON.stringify(key)}: column ${quoteIdent(key)} of table ${displayTable(target)} is a generated column and cannot be written`;
      return column;
    },
  });
  return columns;
}
