// Result writers: each output format as a small streaming sink. Rows arrive in batches (client
// path) or as raw COPY bytes (server path); either way they go out with back-pressure.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Column, Row } from './values.js';
import { csvLine, jsonObject, tsvLine } from './values.js';

export const OUTPUT_FORMATS = ['table', 'csv', 'tsv', 'json', 'ndjson'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface WriterOptions {
  nullString?: string;
  /** psql's \x layout; 'auto': only for a table wider than the terminal (as `\x auto`). */
  expanded?: boolean | 'auto';
  paintHeader?: (text: string) => string;
  /** table: a rule between every two rows, not only under the header. */
  rowRules?: boolean;
  /** table: cut values to this many columns (0: never); by default to the terminal's width on one. */
  maxValueWidth?: number;
  /** Set when stdout is a terminal: table output is fitted to it and may go through a pager. */
  terminal?: TerminalInfo;
  /** csv/tsv: false leaves out the header line (`--watch` appends later runs to the first). */
  header?: boolean;
}

export interface TerminalInfo {
  columns: number;
  rows: number;
  /** The pager for output taller or wider than the terminal; undefined: never page. */
  pager?: string;
  env: NodeJS.ProcessEnv;
}

/** Writes to a stream and waits for 'drain' when its buffer is full. */
export class Output {
  constructor(readonly stream: Writable) {}
  async write(text: string | Buffer): Promise<void> {
    if (!this.stream.write(text)) await once(this.stream, 'drain');
  }
}

/**
 * Bytes a writer can take straight from the server (see ResultWriter.serverFormat): COPY's csv or
 * text format with a header line and this NULL string, or one JSON object per line.
 */
export type ServerFormat = { kind: 'csv' | 'text'; nullString: string; header: boolean } | { kind: 'json-lines' };

export interface ResultWriter {
  readonly format: OutputFormat;
  /**
   * The server-formatted bytes writeCopy takes: with it the query core may have the server format
   * the rows (fast, flat memory); absent when this format cannot take them.
   */
  readonly serverFormat?: ServerFormat;
  beginRows(columns: Column[]): Promise<void>;
  writeRows(rows: Row[]): Promise<void>;
  endRows(rowCount: number): Promise<void>;
  /** Raw bytes in serverFormat (from a COPY, or rows the server formatted). */
  beginCopy(): Promise<void>;
  writeCopy(chunk: Buffer): Promise<void>;
  endCopy(rowCount: number): Promise<void>;
  /** A statement that returned no rows: its command tag (`INSERT 0 3`, `CREATE TABLE`). */
  commandTag(tag: string): Promise<void>;
}

export function createResultWriter(format: OutputFormat, stdout: Writable, stderr: Writable, options: WriterOptions = {}): ResultWriter {
  const out = new Output(stdout);
  const tagsTo = new Output(stderr);
  switch (format) {
    case 'table':
      return new TableWriter(out, options);
    case 'csv':
      return new LineWriter('csv', out, tagsTo, options.nullString ?? '', options.header !== false);
    case 'tsv':
      return new LineWriter('tsv', out, tagsTo, options.nullString ?? '\\N', options.header !== false);
    case 'ndjson':
      return new JsonWriter('ndjson', out, tagsTo);
    case 'json':
      return new JsonWriter('json', out, tagsTo);
  }
}

class TableWriter implements ResultWriter {
  readonly format = 'table' as const;
  private columns: Column[] = [];
  private rows: Row[] = [];
  // psql leaves a blank line after a table, none after a command tag.
  private tableBefore = false;

  constructor(private readonly out: Output, private readonly options: WriterOptions) {}

  async beginRows(columns: Column[]): Promise<void> {
    this.columns = columns;
    this.rows = [];
  }
  async writeRows(rows: Row[]): Promise<void> {
    // A table needs every row for its column widths, as psql's aligned format does.
    for (const row of rows) this.rows.push(row);
  }
  async endRows(): Promise<void> {
    // cli-table3 is loaded only when a table is printed.
    const { expandedValueWidth, formatExpanded, formatTable, widestLine } = await import('./table.js');
    const { expanded, terminal } = this.options;
    const options = { nullString: this.options.nullString, paint: this.options.paintHeader, rowRules: this.options.rowRules };
    // Long values are cut to fit the screen: a whole table row in table view, the value beside
    // its label in the expanded one.
    const fit = (layout: 'table' | 'expanded') =>
      this.options.maxValueWidth ?? (terminal === undefined ? 0 : layout === 'table' ? Math.max(10, terminal.columns - 4) : expandedValueWidth(this.columns, terminal.columns));
    let text: string;
    if (expanded === true) text = formatExpanded(this.columns, this.rows, { ...options, maxValueWidth: fit('expanded') });
    else {
      text = formatTable(this.columns, this.rows, { ...options, maxValueWidth: fit('table') });
      if (expanded === 'auto' && terminal !== undefined && widestLine(text.slice(0, text.indexOf('\n'))) > terminal.columns) {
        text = formatExpanded(this.columns, this.rows, { ...options, maxValueWidth: fit('expanded') });
      }
    }
    this.rows = [];
    await this.separate();
    this.tableBefore = true;
    if (terminal?.pager !== undefined && (countLines(text) >= terminal.rows || widestLine(text) > terminal.columns)) {
      const { runPager } = await import('../shell/pager.js');
      if (await runPager(terminal.pager, text, terminal.env)) return;
    }
    await this.out.write(text);
  }
  async beginCopy(): Promise<void> {
    throw new Error('table output does not take COPY data');
  }
  async writeCopy(): Promise<void> {}
  async endCopy(): Promise<void> {}
  async commandTag(tag: string): Promise<void> {
    await this.separate();
    await this.out.write(`${tag}\n`);
  }
  private async separate(): Promise<void> {
    if (this.tableBefore) await this.out.write('\n');
    this.tableBefore = false;
  }
}

function countLines(text: string): number {
  let lines = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines += 1;
  return lines;
}

/** csv and tsv: exactly what COPY TO STDOUT writes in FORMAT csv / text, with a header line. */
class LineWriter implements ResultWriter {
  private readonly line: (values: Row, nullString: string) => string;

  constructor(readonly format: 'csv' | 'tsv', private readonly out: Output, private readonly tags: Output, private readonly nullString: string, private readonly header: boolean) {
    this.line = format === 'csv' ? csvLine : tsvLine;
    this.serverFormat = { kind: format === 'csv' ? 'csv' : 'text', nullString, header };
  }

  readonly serverFormat: ServerFormat;

  async beginRows(columns: Column[]): Promise<void> {
    if (this.header) await this.out.write(this.line(columns.map((column) => column.name), this.nullString));
  }
  async writeRows(rows: Row[]): Promise<void> {
    let text = '';
    for (const row of rows) text += this.line(row, this.nullString);
    await this.out.write(text);
  }
  async endRows(): Promise<void> {}
  async beginCopy(): Promise<void> {}
  async writeCopy(chunk: Buffer): Promise<void> {
    await this.out.write(chunk);
  }
  async endCopy(): Promise<void> {}
  async commandTag(tag: string): Promise<void> {
    // Keep stdout parseable: tags of row-less statements go to stderr.
    await this.tags.write(`${tag}\n`);
  }
}

/**
 * ndjson: one JSON object per line. json: one array per result. For plain queries the server
 * builds each object (exact numbers, nested json, arrays) and sends one per line.
 */
class JsonWriter implements ResultWriter {
  private columns: Column[] = [];
  private rowsWritten = 0;
  // json: whether the COPY chunk so far ended with a row separator still to be written.
  private pendingNewline = false;
  // A chunk may end inside a multi-byte character.
  private decoder = new StringDecoder('utf8');

  constructor(readonly format: 'json' | 'ndjson', private readonly out: Output, private readonly tags: Output) {}

  readonly serverFormat: ServerFormat = { kind: 'json-lines' };

  async beginRows(columns: Column[]): Promise<void> {
    this.columns = columns;
    this.rowsWritten = 0;
    if (this.format === 'json') await this.out.write('[');
  }
  async writeRows(rows: Row[]): Promise<void> {
    let text = '';
    for (const row of rows) {
      if (this.format === 'json') text += this.rowsWritten === 0 ? '\n' : ',\n';
      text += jsonObject(this.columns, row);
      if (this.format === 'ndjson') text += '\n';
      this.rowsWritten += 1;
    }
    await this.out.write(text);
  }
  async endRows(): Promise<void> {
    if (this.format === 'json') await this.out.write(this.rowsWritten === 0 ? ']\n' : '\n]\n');
  }
  async beginCopy(): Promise<void> {
    // Nothing is written until the server sends the first row: an error leaves stdout empty.
    this.pendingNewline = false;
    this.rowsWritten = 0;
    this.decoder = new StringDecoder('utf8');
  }
  async writeCopy(chunk: Buffer): Promise<void> {
    if (this.format === 'ndjson') {
      await this.out.write(chunk);
      return;
    }
    // Each '\n' ends a row: write it as the separator before the next row instead.
    let text = this.decoder.write(chunk);
    const endsRow = text.endsWith('\n');
    if (endsRow) text = text.slice(0, -1);
    const lead = this.rowsWritten === 0 ? '[\n' : this.pendingNewline ? ',\n' : '';
    await this.out.write(lead + text.replace(/\n/g, ',\n'));
    this.rowsWritten += 1;
    this.pendingNewline = endsRow;
  }
  async endCopy(): Promise<void> {
    if (this.format === 'json') await this.out.write(this.rowsWritten === 0 ? '[]\n' : '\n]\n');
  }
  async commandTag(tag: string): Promise<void> {
    await this.tags.write(`${tag}\n`);
  }
}
