// The only module that knows cli-table3: pure functions from rows to the text to print.
import Table from 'cli-table3';
import { cliTableWidth as strlen } from '../pg-internals.js';
import type { Column, Row } from './values.js';
import { isNumericType } from './values.js';

export interface TableOptions {
  nullString?: string;
  /** Colour the header (only on a terminal; the caller decides). */
  paint?: (header: string) => string;
  /** psql's `(N rows)` footer (default true; psql's `\pset footer off` is false). */
  footer?: boolean;
}

export function rowCountFooter(count: number): string {
  return `(${count} ${count === 1 ? 'row' : 'rows'})`;
}

/**
 * cli-table3 costs ~35 µs a row and its layout grows with the square of the row count (200k
 * rows took minutes), so a long result is laid out by cli-table3 for its header and first rows
 * only, with the column widths fixed up front; the remaining rows are drawn line by line in
 * exactly the same layout (test/table.test.ts compares the two).
 */
const ROWS_BY_CLI_TABLE = 500;

/** A boxed table followed by psql's `(N rows)` footer (unless options.footer is false). */
export function formatTable(columns: Column[], rows: Row[], options: TableOptions = {}): string {
  const nullString = options.nullString ?? '';
  const paint = options.paint ?? ((text: string) => text);
  const colAligns = columns.map((column) => (isNumericType(column.typeOid) ? 'right' : 'left')) as Array<'left' | 'right'>;
  const cells = rows.map((row) => row.map((value) => (value === null ? nullString : value)));
  const header = columns.map((column) => paint(column.name));
  // The header goes in as the first row, not as `head`: cli-table3 prepends `head` with
  // push.apply(), which overflows the stack at ~150k rows. With no head style the text is the same.
  const all = columns.length > 0 ? [header, ...cells] : cells;
  const render = (slice: string[][], colWidths?: number[]) => {
    const table = new Table({ style: { head: [], border: [], compact: false }, colAligns, ...(colWidths !== undefined ? { colWidths } : {}) });
    for (const row of slice) table.push(row);
    return table.toString();
  };
  const footer = options.footer === false ? '' : `${rowCountFooter(rows.length)}\n`;
  if (all.length <= ROWS_BY_CLI_TABLE) return `${render(all)}\n${footer}`;

  // Width of a column = its widest line + one space of padding on each side, as cli-table3 does.
  const contentWidths = columns.map((_, i) => {
    let widest = 0;
    for (const row of all) for (const line of row[i].split('\n')) widest = Math.max(widest, width(line));
    return widest;
  });
  const head = render(all.slice(0, ROWS_BY_CLI_TABLE), contentWidths.map((w) => w + 2)).split('\n');
  const separator = `├${contentWidths.map((w) => '─'.repeat(w + 2)).join('┼')}┤`;
  const parts = [head.slice(0, -1).join('\n')];
  for (const row of all.slice(ROWS_BY_CLI_TABLE)) parts.push(separator, drawRow(row, contentWidths, colAligns));
  parts.push(head[head.length - 1]);
  return `${parts.join('\n')}\n${footer}`;
}

/** One row of the table in cli-table3's layout: `│ value │`, cells top-aligned over its lines. */
function drawRow(row: string[], contentWidths: number[], colAligns: Array<'left' | 'right'>): string {
  const cellLines = row.map((value) => value.split('\n'));
  const height = Math.max(...cellLines.map((lines) => lines.length));
  const out: string[] = [];
  for (let lineIndex = 0; lineIndex < height; lineIndex += 1) {
    let line = '│';
    for (let i = 0; i < row.length; i += 1) {
      const text = cellLines[i][lineIndex] ?? '';
      const pad = ' '.repeat(contentWidths[i] - width(text));
      line += colAligns[i] === 'right' ? ` ${pad}${text} │` : ` ${text}${pad} │`;
    }
    out.push(line);
  }
  return out.join('\n');
}

// Printable ASCII is one column per character; anything else is measured as cli-table3 does.
const PLAIN = /^[\x20-\x7e]*$/;
function width(text: string): number {
  return PLAIN.test(text) ? text.length : strlen(text);
}

/** psql's `\x` layout: one block per record, `name | value` lines. */
export function formatExpanded(columns: Column[], rows: Row[], options: TableOptions = {}): string {
  const nullString = options.nullString ?? '';
  const paint = options.paint ?? ((text: string) => text);
  if (rows.length === 0) return '(0 rows)\n';
  const width = Math.max(...columns.map((column) => displayWidth(column.name)));
  // The same for every record: measured and painted once.
  const labels = columns.map((column) => `${paint(column.name)}${' '.repeat(width - displayWidth(column.name))}`);
  let out = '';
  rows.forEach((row, index) => {
    out += `-[ RECORD ${index + 1} ]${'-'.repeat(Math.max(1, width - 8))}\n`;
    columns.forEach((_, i) => {
      const value = row[i] === null ? nullString : (row[i] as string);
      const [first, ...rest] = value.split('\n');
      out += `${labels[i]} | ${first}\n`;
      for (const line of rest) out += `${' '.repeat(width)} | ${line}\n`;
    });
  });
  return out + rowCountFooter(rows.length) + '\n';
}

/** Columns a string takes on a terminal (wide characters count two), as cli-table3 measures. */
function displayWidth(text: string): number {
  return strlen(text);
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
