// The only module that knows cli-table3: pure functions from rows to the text to print.
import Table from 'cli-table3';
import type { Column, Row } from './values.js';
import { isNumericType } from './values.js';

export interface TableOptions {
  nullString?: string;
  /** Colour the header (only on a terminal; the caller decides). */
  paint?: (header: string) => string;
}

export function rowCountFooter(count: number): string {
  return `(${count} ${count === 1 ? 'row' : 'rows'})`;
}

/** A boxed table followed by psql's `(N rows)` footer. */
export function formatTable(columns: Column[], rows: Row[], options: TableOptions = {}): string {
  const nullString = options.nullString ?? '';
  const paint = options.paint ?? ((text: string) => text);
  const alignments = columns.map((column) => (isNumericType(column.typeOid) ? 'right' : 'left'));
  // The header goes in as the first row, not as `head`: cli-table3 prepends `head` with
  // push.apply(), which overflows the stack at ~150k rows. With no head style the text is the same.
  const table = new Table({
    style: { head: [], border: [], compact: false },
    colAligns: alignments as Array<'left' | 'right'>,
  });
  if (columns.length > 0) table.push(columns.map((column) => paint(column.name)));
  for (const row of rows) table.push(row.map((value) => (value === null ? nullString : value)));
  return `${table.toString()}\n${rowCountFooter(rows.length)}\n`;
}

/** psql's `\x` layout: one block per record, `name | value` lines. */
export function formatExpanded(columns: Column[], rows: Row[], options: TableOptions = {}): string {
  const nullString = options.nullString ?? '';
  const paint = options.paint ?? ((text: string) => text);
  if (rows.length === 0) return '(0 rows)\n';
  const width = Math.max(...columns.map((column) => displayWidth(column.name)));
  let out = '';
  rows.forEach((row, index) => {
    out += `-[ RECORD ${index + 1} ]${'-'.repeat(Math.max(1, width - 8))}\n`;
    columns.forEach((column, i) => {
      const value = row[i] === null ? nullString : (row[i] as string);
      const pad = ' '.repeat(width - displayWidth(column.name));
      const [first, ...rest] = value.split('\n');
      out += `${paint(column.name)}${pad} | ${first}\n`;
      for (const line of rest) out += `${' '.repeat(width)} | ${line}\n`;
    });
  });
  return out + rowCountFooter(rows.length) + '\n';
}

function displayWidth(text: string): number {
  return [...text].length;
}

/** A plain boxed grid of ready-made strings (no row footer): the first column left, the rest right. */
export function formatGrid(head: string[], rows: string[][], options: TableOptions = {}): string {
  const paint = options.paint ?? ((text: string) => text);
  const table = new Table({
    head: head.map((name) => paint(name)),
    style: { head: [], border: [], compact: true },
    colAligns: head.map((_, index) => (index === 0 ? 'left' : 'right')),
  });
  for (const row of rows) table.push(row);
  return `${table.toString()}\n`;
}
