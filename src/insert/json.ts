// A small exact JSON scanner: it finds the raw text of each value instead of building JS values,
// so numbers keep every digit (9007199254740993, 1.10) and nested objects/arrays go to json/jsonb
// columns exactly as written. Pure functions; offsets count UTF-16 code units of the line.
import { isUtf8 } from 'node:buffer';
import { tsvField } from '../output/values.js';

export type JsonKind = 'string' | 'number' | 'true' | 'false' | 'null' | 'object' | 'array';

export interface JsonField {
  key: string;
  kind: JsonKind;
  /** The value's raw JSON text. */
  text: string;
}

export class JsonSyntaxError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}

const WS = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipWs(text: string, i: number): number {
  while (i < text.length && WS(text.charCodeAt(i))) i += 1;
  return i;
}

function describe(text: string, i: number): string {
  return i >= text.length ? 'end of input' : `${JSON.stringify(text[i])}`;
}

function expectedError(what: string, text: string, i: number): JsonSyntaxError {
  return new JsonSyntaxError(`expected ${what}, found ${describe(text, i)} at column ${i + 1}`, i);
}

const PLAIN_STRING_BODY = /^[^\\\x00-\x1f]*$/;

/** End offset of the JSON string starting at `i` (text[i] === '"'). */
function scanString(text: string, i: number): number {
  // Fast path: no escapes and no control characters before the closing quote.
  const close = text.indexOf('"', i + 1);
  if (close > 0 && PLAIN_STRING_BODY.test(text.slice(i + 1, close))) return close + 1;
  let j = i + 1;
  for (;;) {
    if (j >= text.length) throw new JsonSyntaxError(`unterminated string starting at column ${i + 1}`, i);
    const c = text.charCodeAt(j);
    if (c === 0x22) return j + 1;
    if (c === 0x5c) {
      const e = text[j + 1];
      if (e === 'u') {
        if (!/^[0-9a-fA-F]{4}$/.test(text.slice(j + 2, j + 6))) throw new JsonSyntaxError(`bad \\u escape at column ${j + 1}`, j);
        j += 6;
      } else if (e !== undefined && '"\\/bfnrt'.includes(e)) j += 2;
      else throw new JsonSyntaxError(`bad escape at column ${j + 1}`, j);
      continue;
    }
    if (c < 0x20) throw new JsonSyntaxError(`control character in string at column ${j + 1}`, j);
    j += 1;
  }
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** Validates the JSON value starting at `i` (no leading blanks) and returns its kind and end. */
export function scanValue(text: string, i: number, depth = 0): { kind: JsonKind; end: number } {
  if (depth > 512) throw new JsonSyntaxError('nested too deeply', i);
  const c = text[i];
  if (c === '"') return { kind: 'string', end: scanString(text, i) };
  if (c === '{') {
    let j = skipWs(text, i + 1);
    if (text[j] === '}') return { kind: 'object', end: j + 1 };
    for (;;) {
      if (text[j] !== '"') throw expectedError('a string key', text, j);
      j = skipWs(text, scanString(text, j));
      if (text[j] !== ':') throw expectedError("':'", text, j);
      j = skipWs(text, scanValue(text, skipWs(text, j + 1), depth + 1).end);
      if (text[j] === '}') return { kind: 'object', end: j + 1 };
      if (text[j] !== ',') throw expectedError("',' or '}'", text, j);
      j = skipWs(text, j + 1);
    }
  }
  if (c === '[') {
    let j = skipWs(text, i + 1);
    if (text[j] === ']') return { kind: 'array', end: j + 1 };
    for (;;) {
      j = skipWs(text, scanValue(text, j, depth + 1).end);
      if (text[j] === ']') return { kind: 'array', end: j + 1 };
      if (text[j] !== ',') throw expectedError("',' or ']'", text, j);
      j = skipWs(text, j + 1);
    }
  }
  if (c === 't' && text.startsWith('true', i)) return { kind: 'true', end: i + 4 };
  if (c === 'f' && text.startsWith('false', i)) return { kind: 'false', end: i + 5 };
  if (c === 'n' && text.startsWith('null', i)) return { kind: 'null', end: i + 4 };
  NUMBER.lastIndex = i;
  const number = NUMBER.exec(text);
  if (number !== null && number[0] !== '' && number[0] !== '-') return { kind: 'number', end: i + number[0].length };
  throw expectedError('a JSON value', text, i);
}

function decodeString(raw: string): string {
  return raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
}

/** Parses one JSON object into its fields, keeping each value's raw text. */
export function parseJsonObject(text: string): JsonField[] {
  const start = skipWs(text, 0);
  if (text[start] !== '{') {
    if (start >= text.length) throw new JsonSyntaxError('empty input', start);
    throw new JsonSyntaxError(`expected a JSON object, found ${describe(text, start)} at column ${start + 1}`, start);
  }
  const fields: JsonField[] = [];
  let j = skipWs(text, start + 1);
  if (text[j] === '}') j += 1;
  else {
    for (;;) {
      if (text[j] !== '"') throw expectedError('a string key', text, j);
      const keyEnd = scanString(text, j);
      const key = decodeString(text.slice(j, keyEnd));
      j = skipWs(text, keyEnd);
      if (text[j] !== ':') throw expectedError("':'", text, j);
      const valueStart = skipWs(text, j + 1);
      const { kind, end } = scanValue(text, valueStart, 1);
      fields.push({ key, kind, text: text.slice(valueStart, end) });
      j = skipWs(text, end);
      if (text[j] === '}') {
        j += 1;
        break;
      }
      if (text[j] !== ',') throw expectedError("',' or '}'", text, j);
      j = skipWs(text, j + 1);
    }
  }
  j = skipWs(text, j);
  if (j < text.length) throw new JsonSyntaxError(`unexpected ${describe(text, j)} after the object at column ${j + 1}`, j);
  return fields;
}

/** Where a value goes: json/jsonb columns keep JSON text, array columns take PostgreSQL array literals. */
export interface ValueTarget {
  isJson: boolean;
  isArray: boolean;
}

/** One JSON value as a COPY text-format field (escaped; `\N` for null). */
export function copyTextValue(field: JsonField, column: ValueTarget): string {
  switch (field.kind) {
    case 'null':
      return '\\N';
    case 'number':
      return field.text;
    case 'true':
    case 'false':
      return field.kind;
    case 'string':
      return textField(column.isJson ? field.text : decodeString(field.text));
    case 'array':
      return textField(column.isArray && !column.isJson ? arrayLiteral(field.text) : field.text);
    case 'object':
      return textField(field.text);
  }
}

const NEEDS_TEXT_ESCAPE = /[\\\b\f\n\r\t\v]/;

/** tsvField with a cheap test first: most values need no escaping. */
function textField(value: string): string {
  return NEEDS_TEXT_ESCAPE.test(value) ? tsvField(value) : value;
}

function quoteArrayElement(text: string): string {
  return `"${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** A JSON array (raw text, already validated) as a PostgreSQL array literal: `[1,"a",null]` → `{1,"a",NULL}`. */
export function arrayLiteral(text: string): string {
  const convert = (i: number): { literal: string; end: number } => {
    const items: string[] = [];
    let j = skipWs(text, i + 1);
    if (text[j] === ']') return { literal: '{}', end: j + 1 };
    for (;;) {
      const { kind, end } = scanValue(text, j, 1);
      const raw = text.slice(j, end);
      if (kind === 'array') items.push(convert(j).literal);
      else if (kind === 'null') items.push('NULL');
      else if (kind === 'string') items.push(quoteArrayElement(decodeString(raw)));
      else if (kind === 'object') items.push(quoteArrayElement(raw));
      else items.push(raw);
      j = skipWs(text, end);
      if (text[j] === ']') return { literal: `{${items.join(',')}}`, end: j + 1 };
      j = skipWs(text, j + 1);
    }
  };
  return convert(skipWs(text, 0)).literal;
}

/**
 * One NDJSON object straight to its COPY text row, for the common object: flat values, keys
 * without escapes, every key a known column. Undefined for anything else (nested values, an
 * unknown key, a syntax error), which then takes parseJsonObject and copyTextValue, the exact
 * path: this one only skips their per-field objects and slices, most of a load's CPU time.
 * The keys of the last object are remembered by position, so the usual NDJSON (same keys, same
 * order) matches each key without slicing it out.
 */
export class FlatRowEncoder {
  private readonly values: string[];
  private readonly keys: string[] = [];
  private readonly keyColumns: number[] = [];

  constructor(private readonly columns: ValueTarget[], private readonly columnOf: (key: string) => number | undefined) {
    this.values = new Array<string>(columns.length);
  }

  encode(text: string): string | undefined {
    const values = this.values;
    values.fill('\\N');
    let i = skipWs(text, 0);
    if (text.charCodeAt(i) !== 0x7b) return undefined;
    i = skipWs(text, i + 1);
    if (text.charCodeAt(i) === 0x7d) return skipWs(text, i + 1) === text.length ? `${values.join('\t')}\n` : undefined;
    for (let position = 0; ; position += 1) {
      if (text.charCodeAt(i) !== 0x22) return undefined;
      const keyEnd = plainStringEnd(text, i + 1);
      if (keyEnd < 0) return undefined;
      const column = this.column(text, i + 1, keyEnd, position);
      if (column === undefined) return undefined;
      i = skipWs(text, keyEnd + 1);
      if (text.charCodeAt(i) !== 0x3a) return undefined;
      i = skipWs(text, i + 1);
      const c = text.charCodeAt(i);
      let end: number;
      if (c === 0x22) {
        end = plainStringEnd(text, i + 1);
        if (end >= 0) {
          // No escapes and no control characters: nothing to escape for COPY either.
          values[column] = this.columns[column].isJson ? text.slice(i, end + 1) : text.slice(i + 1, end);
          end += 1;
        } else {
          end = escapedStringEnd(text, i + 1);
          if (end < 0) return undefined;
          values[column] = copyTextValue({ key: '', kind: 'string', text: text.slice(i, end) }, this.columns[column]);
        }
      } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
        end = numberEnd(text, i);
        if (end < 0) return undefined;
        values[column] = text.slice(i, end);
      } else if (c === 0x74 && text.startsWith('true', i)) {
        end = i + 4;
        values[column] = 'true';
      } else if (c === 0x66 && text.startsWith('false', i)) {
        end = i + 5;
        values[column] = 'false';
      } else if (c === 0x6e && text.startsWith('null', i)) {
        end = i + 4;
        values[column] = '\\N';
      } else return undefined;
      i = skipWs(text, end);
      const next = text.charCodeAt(i);
      if (next === 0x7d) return skipWs(text, i + 1) === text.length ? `${values.join('\t')}\n` : undefined;
      if (next !== 0x2c) return undefined;
      i = skipWs(text, i + 1);
    }
  }

  /** The column of the key text[start, end), the one at this position last time when it matches. */
  private column(text: string, start: number, end: number, position: number): number | undefined {
    const known = this.keys[position];
    if (known !== undefined && known.length === end - start && sameChars(text, start, known)) return this.keyColumns[position];
    const key = text.slice(start, end);
    const column = this.columnOf(key);
    if (column === undefined) return undefined;
    this.keys[position] = key;
    this.keyColumns[position] = column;
    return column;
  }
}

/** Whether `text` holds `part` at `start` (startsWith with a position is a slow call in V8). */
function sameChars(text: string, start: number, part: string): boolean {
  for (let k = 0; k < part.length; k += 1) if (text.charCodeAt(start + k) !== part.charCodeAt(k)) return false;
  return true;
}

/** Offset of the closing quote of a string body starting at `i`, or -1 when it has an escape or a control character. */
function plainStringEnd(text: string, i: number): number {
  for (let j = i; j < text.length; j += 1) {
    const c = text.charCodeAt(j);
    if (c === 0x22) return j;
    if (c === 0x5c || c < 0x20) return -1;
  }
  return -1;
}

/** End (after the closing quote) of a string body with escapes starting at `i`, or -1 when not plainly valid. */
function escapedStringEnd(text: string, i: number): number {
  try {
    return scanString(text, i - 1);
  } catch {
    return -1;
  }
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** End of the JSON number starting at `i`, or -1 when it is not one. */
function numberEnd(text: string, i: number): number {
  let j = i;
  if (text.charCodeAt(j) === 0x2d) j += 1;
  if (text.charCodeAt(j) === 0x30) j += 1;
  else if (isDigit(text.charCodeAt(j))) while (isDigit(text.charCodeAt(j))) j += 1;
  else return -1;
  if (text.charCodeAt(j) === 0x2e) {
    j += 1;
    if (!isDigit(text.charCodeAt(j))) return -1;
    while (isDigit(text.charCodeAt(j))) j += 1;
  }
  const e = text.charCodeAt(j);
  if (e === 0x65 || e === 0x45) {
    j += 1;
    const sign = text.charCodeAt(j);
    if (sign === 0x2b || sign === 0x2d) j += 1;
    if (!isDigit(text.charCodeAt(j))) return -1;
    while (isDigit(text.charCodeAt(j))) j += 1;
  }
  return j;
}

/** COPY rows written into one growing buffer (the NDJSON reader's output for a chunk). */
export class RowBytes {
  buf: Buffer;
  length = 0;

  constructor(capacity = 1 << 16) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Room for `bytes` more. */
  ensure(bytes: number): void {
    if (this.length + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + bytes));
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }

  writeString(text: string): void {
    this.ensure(Buffer.byteLength(text));
    this.length += this.buf.write(text, this.length);
  }

  /** The bytes written so far, in a buffer of their own; the working buffer is kept for the next rows. */
  take(): Buffer {
    const data = Buffer.allocUnsafe(this.length);
    this.buf.copy(data, 0, 0, this.length);
    this.length = 0;
    return data;
  }
}

const TAB = 0x09;
const LF = 0x0a;
// How FlatRowBytesEncoder writes a value (see write()).
const RAW = 0;
const TEXT_ESCAPES = 1;
const JSON_ESCAPES = 2;

/**
 * FlatRowEncoder on the input's bytes: an NDJSON line straight from the read buffer to the COPY
 * row, with no string made for the line or its values. It takes what FlatRowEncoder takes, less
 * \u escapes, keys with escapes or bytes over 0x7f, and lines that are not valid UTF-8 (those
 * decline, and the line takes the string path, which reads invalid UTF-8 as U+FFFD); its rows are
 * FlatRowEncoder's, byte for byte.
 */
export class FlatRowBytesEncoder {
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  /** Row number in which each column was set (the others are NULL). */
  private readonly setIn: Float64Array;
  /** How each column's value is written: as it is, or with JSON escapes turned into COPY's. */
  private readonly escaped: Uint8Array;
  /** Whether the string stringEnd() last scanned holds escapes. */
  private escapes = false;
  private row = 0;
  private readonly keys: Buffer[] = [];
  private readonly keyColumns: number[] = [];

  constructor(private readonly columns: ValueTarget[], private readonly columnOf: (key: string) => number | undefined) {
    this.starts = new Int32Array(columns.length);
    this.ends = new Int32Array(columns.length);
    this.setIn = new Float64Array(columns.length).fill(-1);
    this.escaped = new Uint8Array(columns.length);
  }

  /** Appends the row of the object in buf[start, end) to `out`; false (nothing written) when it declines. */
  encode(buf: Buffer, start: number, end: number, out: RowBytes): boolean {
    const row = (this.row += 1);
    // Bytes over 0x7f are let through once the line is known to be valid UTF-8.
    let highBytes = false;
    let i = skipWsBytes(buf, start, end);
    if (i >= end || buf[i] !== 0x7b) return false;
    i = skipWsBytes(buf, i + 1, end);
    if (i < end && buf[i] !== 0x7d) {
      for (let position = 0; ; position += 1) {
        if (i >= end || buf[i] !== 0x22) return false;
        // A key with escapes or bytes over 0x7f takes the string path.
        const keyEnd = this.stringEnd(buf, i + 1, end, false);
        if (keyEnd < 0 || keyEnd > end || this.escapes) return false;
        const column = this.column(buf, i + 1, keyEnd, position);
        if (column === undefined) return false;
        i = skipWsBytes(buf, keyEnd + 1, end);
        if (i >= end || buf[i] !== 0x3a) return false;
        i = skipWsBytes(buf, i + 1, end);
        if (i >= end) return false;
        const c = buf[i];
        let valueEnd: number;
        if (c === 0x22) {
          let close = this.stringEnd(buf, i + 1, end, highBytes);
          if (close > end) {
            if (!isUtf8(buf.subarray(start, end))) return false;
            highBytes = true;
            close = this.stringEnd(buf, i + 1, end, true);
          }
          if (close < 0) return false;
          valueEnd = close + 1;
          const escapes = this.escapes ? (this.columns[column].isJson ? JSON_ESCAPES : TEXT_ESCAPES) : RAW;
          if (this.columns[column].isJson) this.set(column, i, valueEnd, row, escapes);
          else this.set(column, i + 1, close, row, escapes);
        } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
          valueEnd = numberEndBytes(buf, i, end);
          if (valueEnd < 0) return false;
          this.set(column, i, valueEnd, row);
        } else if (c === 0x74 && buf[i + 1] === 0x72 && buf[i + 2] === 0x75 && buf[i + 3] === 0x65) {
          valueEnd = i + 4;
          this.set(column, i, valueEnd, row);
        } else if (c === 0x66 && buf[i + 1] === 0x61 && buf[i + 2] === 0x6c && buf[i + 3] === 0x73 && buf[i + 4] === 0x65) {
          valueEnd = i + 5;
          this.set(column, i, valueEnd, row);
        } else if (c === 0x6e && buf[i + 1] === 0x75 && buf[i + 2] === 0x6c && buf[i + 3] === 0x6c) {
          valueEnd = i + 4;
          this.setIn[column] = -1;
        } else return false;
        if (valueEnd > end) return false;
        i = skipWsBytes(buf, valueEnd, end);
        if (i >= end) return false;
        if (buf[i] === 0x7d) break;
        if (buf[i] !== 0x2c) return false;
        i = skipWsBytes(buf, i + 1, end);
      }
    }
    if (i >= end || skipWsBytes(buf, i + 1, end) !== end) return false;
    this.write(buf, row, out);
    return true;
  }

  private set(column: number, start: number, end: number, row: number, escapes = RAW): void {
    this.starts[column] = start;
    this.ends[column] = end;
    this.setIn[column] = row;
    this.escaped[column] = escapes;
  }

  /**
   * Offset of the closing quote of the string body at `i`, noting in `escapes` whether it holds
   * any; -1 to decline (a \u escape, a control character, no closing quote); end + 1 for a byte
   * over 0x7f unless `highBytes`.
   */
  private stringEnd(buf: Buffer, i: number, end: number, highBytes: boolean): number {
    this.escapes = false;
    for (let j = i; j < end; j += 1) {
      const c = buf[j];
      if (c === 0x22) return j;
      if (c === 0x5c) {
        // The escapes COPY's text format spells the same way (\\ \b \f \n \r \t), and \" \/.
        const e = buf[j + 1];
        if (j + 1 >= end || !(e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74)) return -1;
        this.escapes = true;
        j += 1;
        continue;
      }
      if (c < 0x20) return -1;
      if (c > 0x7f && !highBytes) return end + 1;
    }
    return -1;
  }

  private write(buf: Buffer, row: number, out: RowBytes): void {
    const n = this.columns.length;
    let bytes = n * 3 + 1;
    for (let c = 0; c < n; c += 1) if (this.setIn[c] === row) bytes += (this.ends[c] - this.starts[c]) * (this.escaped[c] === JSON_ESCAPES ? 2 : 1);
    out.ensure(bytes);
    const o = out.buf;
    let p = out.length;
    for (let c = 0; c < n; c += 1) {
      if (c > 0) o[p++] = TAB;
      if (this.setIn[c] === row) {
        const s = this.starts[c];
        const e = this.ends[c];
        const escapes = this.escaped[c];
        if (escapes === TEXT_ESCAPES) {
          // JSON's \" and \/ are the character alone; its other escapes are COPY's as written.
          for (let k = s; k < e; k += 1) {
            const b = buf[k];
            if (b === 0x5c) {
              const next = buf[k + 1];
              if (next !== 0x22 && next !== 0x2f) o[p++] = b;
              o[p++] = next;
              k += 1;
            } else o[p++] = b;
          }
        } else if (escapes === JSON_ESCAPES) {
          // JSON text as it is, each backslash doubled for COPY.
          for (let k = s; k < e; k += 1) {
            const b = buf[k];
            if (b === 0x5c) o[p++] = b;
            o[p++] = b;
          }
        } else if (e - s > 256) {
          p += buf.copy(o, p, s, e);
        } else {
          // A byte loop beats a native call for short values.
          for (let k = s; k < e; k += 1) o[p++] = buf[k];
        }
      } else {
        o[p++] = 0x5c;
        o[p++] = 0x4e;
      }
    }
    o[p++] = LF;
    out.length = p;
  }

  /** The column of the key buf[start, end), the one at this position last time when it matches. */
  private column(buf: Buffer, start: number, end: number, position: number): number | undefined {
    const known = this.keys[position];
    if (known !== undefined && known.length === end - start) {
      let same = true;
      for (let k = 0; k < known.length; k += 1) {
        if (buf[start + k] !== known[k]) {
          same = false;
          break;
        }
      }
      if (same) return this.keyColumns[position];
    }
    const column = this.columnOf(buf.toString('utf8', start, end));
    if (column === undefined) return undefined;
    this.keys[position] = Buffer.from(buf.subarray(start, end));
    this.keyColumns[position] = column;
    return column;
  }
}

function skipWsBytes(buf: Buffer, i: number, end: number): number {
  while (i < end) {
    const c = buf[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) break;
    i += 1;
  }
  return i;
}

function numberEndBytes(buf: Buffer, i: number, end: number): number {
  const digit = (j: number) => j < end && buf[j] >= 0x30 && buf[j] <= 0x39;
  let j = i;
  if (buf[j] === 0x2d) j += 1;
  if (j < end && buf[j] === 0x30) j += 1;
  else if (digit(j)) while (digit(j)) j += 1;
  else return -1;
  if (j < end && buf[j] === 0x2e) {
    j += 1;
    if (!digit(j)) return -1;
    while (digit(j)) j += 1;
  }
  if (j < end && (buf[j] === 0x65 || buf[j] === 0x45)) {
    j += 1;
    if (j < end && (buf[j] === 0x2b || buf[j] === 0x2d)) j += 1;
    if (!digit(j)) return -1;
    while (digit(j)) j += 1;
  }
  return j;
}
