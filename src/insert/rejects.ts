// The reject file of `--on-error skip`: rejected records in the input's own format, each with its
// input line and the reason. CSV/TSV get two leading fields (line, reason) before the record as
// written; NDJSON/JSON get an object {"line", "reason", "record"} holding the record as parsed
// JSON when it is valid, else as a string.
import fs from 'node:fs';
import { UsageError } from '../errors.js';
import { csvField, tsvField } from '../output/values.js';
import { scanValue } from './json.js';
import type { Rejected } from './load.js';

export type InputFormat = 'csv' | 'tsv' | 'ndjson' | 'json';

export class RejectFile {
  private fd: number;
  private count = 0;
  private pending: Rejected[] = [];

  constructor(readonly path: string, private readonly format: InputFormat) {
    try {
      this.fd = fs.openSync(path, 'w');
    } catch (error) {
      throw new UsageError(`cannot write the reject file "${path}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    if (format === 'json') this.write('[');
  }

  /** The input's header (CSV/TSV), written once before the first record. */
  header(raw: string | undefined): void {
    if (raw === undefined) return;
    if (this.format === 'csv') this.write(`line,reason,${raw}\n`);
    if (this.format === 'tsv') this.write(`line\treason\t${raw}\n`);
  }

  /**
   * Rejected rows arrive out of input order (a malformed record is found while reading, a server
   * rejection when its batch runs; parallel workers finish batches in any order): they are held
   * and written sorted by line when the load ends. Rejects are expected to be few.
   */
  add(row: Rejected): void {
    this.pending.push(row);
  }

  // Synchronous: keeps the file exact without back-pressure plumbing.
  private writeRow(row: Rejected): void {
    this.count += 1;
    switch (this.format) {
      case 'csv':
        this.write(`${row.line},${csvField(row.reason)},${row.raw}\n`);
        break;
      case 'tsv':
        this.write(`${row.line}\t${tsvField(row.reason)}\t${row.raw}\n`);
        break;
      case 'ndjson':
      case 'json': {
        const object = `{"line":${row.line},"reason":${JSON.stringify(row.reason)},"record":${asJson(row.raw)}}`;
        this.write(this.format === 'json' ? `${this.count === 1 ? '\n' : ',\n'}${object}` : `${object}\n`);
        break;
      }
    }
  }

  close(): void {
    for (const row of this.pending.sort((a, b) => a.line - b.line)) this.writeRow(row);
    this.pending = [];
    if (this.format === 'json') this.write(this.count === 0 ? ']\n' : '\n]\n');
    fs.closeSync(this.fd);
  }

  private write(text: string): void {
    fs.writeSync(this.fd, text);
  }
}

function asJson(raw: string): string {
  const text = raw.trim();
  try {
    if (scanValue(text, 0).end === text.length) return text;
  } catch {
    // not valid JSON: kept as a string below
  }
  return JSON.stringify(raw);
}
