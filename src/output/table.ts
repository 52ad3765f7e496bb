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
  /** A rule between every two rows (the fully ruled look); by default only under the header. */
  rowRules?: boolean;
  /** Cut each line of a value to this many columns, ending it with `…`; undefined or 0: never. */
  maxValueWidth?: number;
}

export function rowCountFooter(count: number): string {
  return `(${count} ${count === 1 ? 'row' : 'rows'})`;
}

/**
 * cli-table3 is slow per row and its layout grows with the square of the row count (figures in
 * bench/README.md), so a long result is laid out by cli-table3 for its header and first rows
 * only, with the column widths fixed up front; the remaining rows are drawn line by line in
 * exactly the same layout (test/table.test.ts compares the two).
 */
const ROWS_BY_CLI_TABLE = 500;

/** A boxed table followed by psql's `(N rows)` footer (unless options.footer is false). */
export function formatTable(columns: Column[], rows: Row[], options: TableOptions = {}): string {
  const nullString = options.nullString ?? '';
  const paint = options.paint ?? ((text: string) => text);
  const cut = options.maxValueWidth !== undefined && options.maxValueWidth > 0 ? options.maxValueWidth : undefined;
  const colAligns = columns.map((column) => (isNumericType(column.typeOid) ? 'right' : 'left')) as Array<'left' | 'right'>;
  const cells = rows.map((row) => row.map((value) => (value === null ? nullString : cut !== undefined ? cutToWidth(value, cut) : value)));
  const header = columns.map((column) => paint(column.name));
  const footer = options.footer === false ? '' : `${rowCountFooter(rows.length)}\n`;
  // cli-table3 draws a rule under `head` (and, in its compact style, nowhere else). It prepends
  // `head` to the rows with push.apply(), which overflows the stack at ~150k rows: it never gets
  // more than ROWS_BY_CLI_TABLE rows.
  const render = (body: string[][], colWidths?: number[]) => {
    const table = new Table({
      head: header,
      style: { head: [], border: [], compact: options.rowRules !== true },
      colAligns,
      ...(colWidths !== undefined ? { colWidths } : {}),
    });
    for (const row of body) table.push(row);
    return table.toString();
  };
  if (cells.length < ROWS_BY_CLI_TABLE) return `${render(cells)}\n${footer}`;

  // Width of a column = its widest line + one space of padding on each side, as cli-table3 does.
  const contentWidths = columns.map((_, i) => {
    let widest = width(header[i]);
    for (const row of cells) for (const line of row[i].split('\n')) widest = Math.max(widest, width(line));
    return widest;
  });
  const head = render(cells.slice(0, ROWS_BY_CLI_TABLE), contentWidths.map((w) => w + 2)).split('\n');
  const separator = `├${contentWidths.map((w) => '─'.repeat(w + 2)).join('┼')}┤`;
  const parts = [head.slice(0, -1).join('\n')];
  for (const row of cells.slice(ROWS_BY_CLI_TABLE)) {
    if (options.rowRules === true) parts.push(separator);
    parts.push(drawRow(row, contentWidths, colAligns));
  }
  parts.push(head[head.length - 1]);
  return `${parts.join('\n')}\n${footer}`;
}

/**
 * Each line of `value` cut to `maxWidth` terminal columns, the last one a `…`. Hand-written:
 * cli-table3's truncate() re-measures the whole string after every character it drops.
 */
export function cutToWidth(value: string, maxWidth: number): string {
  if (value.length <= maxWidth && PLAIN.test(value)) return value;
  return value.split('\n').map((line) => cutLine(line, maxWidth)).join('\n');
}

function cutLine(line: string, maxWidth: number): string {
  if (PLAIN.test(line)) return line.length <= maxWidth ? line : `${line.slice(0, maxWidth - 1)}…`;
  if (width(line) <= maxWidth) return line;
  let out = '';
  let used = 0;
  for (const char of line) {
    const w = width(char);
    if (used + w > maxWidth - 1) break;
    out += char;
    used += w;
  }
  return `${out}…`;
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
  const cut = options.maxValueWidth !== undefined && options.maxValueWidth > 0 ? options.maxValueWidth : undefined;
  if (rows.length === 0) return '(0 rows)\n';
  const width = Math.max(...columns.map((column) => displayWidth(column.name)));
  // The same for every record: measured and painted once.
  const labels = columns.map((column) => `${paint(column.name)}${' '.repeat(width - displayWidth(column.name))}`);
  let out = '';
  rows.forEach((row, index) => {
    out += `-[ RECORD ${index + 1} ]${'-'.repeat(Math.max(1, width - 8))}\n`;
    columns.forEach((_, i) => {
      const value = row[i] === null ? nullString : cut !== undefined ? cutToWidth(row[i] as string, cut) : (row[i] as string);
      const [first, ...rest] = value.split('\n');
      out += `${labels[i]} | ${first}\n`;
      for (const line of rest) out += `${' '.repeat(width)} | ${line}\n`;
    });
  });
  return out + rowCountFooter(rows.length) + '\n';
}

/** The widest line of `text` in terminal columns (colour codes take none). */
export function widestLine(text: string): number {
  let widest = 0;
  for (const line of text.split('\n')) widest = Math.max(widest, PLAIN.test(line) ? line.length : strlen(line));
  return widest;
}

/** Room for a value beside its label in the expanded layout on a terminal this wide. */
export function expandedValueWidth(columns: Column[], terminalColumns: number): number {
  const label = Math.max(0, ...columns.map((column) => displayWidth(column.name)));
  return Math.max(10, terminalColumns - label - 3);
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
