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
  expanded?: boolean;
  paintHeader?: (text: string) => string;
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
export type ServerFormat = { kind: 'csv' | 'text'; nullString: string } | { kind: 'json-lines' };

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
      return new LineWriter('csv', out, tagsTo, options.nullString ?? '');
    case 'tsv':
      return new LineWriter('tsv', out, tagsTo, options.nullString ?? '\\N');
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
    const { formatExpanded, formatTable } = await import('./table.js');
    const render = this.options.expanded === true ? formatExpanded : formatTable;
    await this.separate();
    this.tableBefore = true;
    await this.out.write(render(this.columns, this.rows, { nullString: this.options.nullString, paint: this.options.paintHeader }));
    this.rows = [];
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

/** csv and tsv: exactly what COPY TO STDOUT writes in FORMAT csv / text, with a header line. */
class LineWriter implements ResultWriter {
  private readonly line: (values: Row, nullString: string) => string;

  constructor(readonly format: 'csv' | 'tsv', private readonly out: Output, private readonly tags: Output, private readonly nullString: string) {
    this.line = format === 'csv' ? csvLine : tsvLine;
    this.serverFormat = { kind: format === 'csv' ? 'csv' : 'text', nullString };
  }

  readonly serverFormat: ServerFormat;

  async beginRows(columns: Column[]): Promise<void> {
    await this.out.write(this.line(columns.map((column) => column.name), this.nullString));
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
