// CSV and TSV input, scanned byte by byte with the rules COPY itself uses, so records pass through
// to `COPY … FROM STDIN` unchanged (an unquoted empty CSV field stays NULL, a quoted "" stays the
// empty string) while every record's input line and field count are known. TSV is COPY's text
// format: tab-separated, backslash escapes, \N for NULL.
import { InputError } from '../errors.js';
import { scavengeAfterReading } from '../memory.js';
import { RecordReader, textOf, type InputPosition, type MalformedHandler, type RecordChunk } from './chunks.js';

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;
const TAB = 0x09;
const BACKSLASH = 0x5c;
const DOT = 0x2e;

export interface DelimitedOptions {
  /** The input's name in messages. */
  file: string;
  format: 'csv' | 'tsv';
  hasHeader: boolean;
  /** The field delimiter (one byte), or 'auto' to choose among , ; tab | from the first line. */
  delimiter?: number | 'auto';
  /** Header text is decoded as latin1 (byte for byte) when the input is not UTF-8: the caller converts it. */
  binaryHeader?: boolean;
  /** CSV quote and escape bytes (default: both "). */
  quote?: number;
  escape?: number;
  keepRaw: boolean;
  onMalformed: MalformedHandler;
  /**
   * Whether every record's fields are counted here (default yes). A strict load leaves the count
   * of a plain record (no quote, no CR) to the server's COPY, which reports one with too many or
   * too few fields, with its line and the missing column: counting cost more CPU than the rest of
   * the scan (bench/README.md, Figures behind the code).
   */
  countFields?: boolean;
  /** The input comes in a few buffers filled in turn (fileInTurns): no fresh read buffer to collect. */
  inputInTurns?: boolean;
}

/** Which input fields go to the server: every one in order, or a selection (from --columns). */
export interface FieldPlan {
  fieldCount: number;
  /** Input field indexes to send, in column order; undefined sends every field as it is. */
  select: number[] | undefined;
}

interface Scanned {
  start: number;
  /** End of the record's content (before its line end). */
  contentEnd: number;
  /** Start of the next record. */
  end: number;
  fields: number;
  /** Line breaks inside the record (quoted fields, escaped newlines) plus its own line end. */
  newlines: number;
  error: string | undefined;
  /** Line (relative to the record's first) on which the error is. */
  errorLine: number;
}

const INCOMPLETE = null;
/** A record's field count when it was not counted (see DelimitedOptions.countFields). */
const UNCOUNTED = -1;

export class DelimitedReader extends RecordReader<FieldPlan> {
  readonly copyFormat: 'csv' | 'text';
  /** The header as written, for the reject file. */
  headerRaw: string | undefined;
  /** The delimiter in use (known after names() when it was 'auto'). */
  delimiter: number;
  private readonly autoDelimiter: boolean;
  private sniffed = false;
  private readonly quote: number;
  private readonly escape: number;
  private iterator: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private eof = false;
  private line = 1;
  private bytesRead = 0;
  /** The part of a read chunk not yet in `buf` (see fill). */
  private held: Buffer | undefined;
  /** Whether scans must record where each field is (header, or a column subset to send). */
  private needFields = true;
  // Where the next quote (csv) or backslash (text), and the next CR, are in `buf` (see fastLine).
  private specialsOf: Buffer | undefined;
  private nextSpecial = 0;
  private nextCr = 0;
  private readonly lineResult: Scanned = { start: 0, contentEnd: 0, end: 0, fields: 0, newlines: 0, error: undefined, errorLine: 0 };
  private fieldStarts = new Int32Array(64);
  private fieldEnds = new Int32Array(64);
  private ended = false;

  constructor(source: AsyncIterable<Buffer>, private readonly options: DelimitedOptions) {
    super(options.keepRaw);
    this.copyFormat = options.format === 'csv' ? 'csv' : 'text';
    const standard = options.format === 'csv' ? COMMA : TAB;
    this.autoDelimiter = options.delimiter === 'auto';
    this.delimiter = typeof options.delimiter === 'number' ? options.delimiter : standard;
    this.quote = options.quote ?? QUOTE;
    this.escape = options.escape ?? this.quote;
    this.iterator = source[Symbol.asyncIterator]();
  }

  /**
   * --delimiter auto: the candidate seen most often outside quotes on the first line (the
   * format's own delimiter when none is seen).
   */
  private async sniffDelimiter(): Promise<void> {
    if (!this.autoDelimiter || this.sniffed) return;
    this.sniffed = true;
    while (this.buf.indexOf(LF, this.pos) < 0 && (await this.fill()));
    const end = this.buf.indexOf(LF, this.pos);
    let best = this.delimiter;
    let bestCount = 0;
    for (const candidate of [COMMA, 0x3b, TAB, 0x7c]) {
      let count = 0;
      let quoted = false;
      for (let i = this.pos; i < (end < 0 ? this.buf.length : end); i += 1) {
        const c = this.buf[i];
        if (this.copyFormat === 'csv' && c === this.quote) quoted = !quoted;
        else if (!quoted && c === candidate) count += 1;
      }
      if (count > bestCount) {
        best = candidate;
        bestCount = count;
      }
    }
    this.delimiter = best;
  }

  /** Reads the header record; undefined without --header or for an empty input. */
  async names(): Promise<string[] | undefined> {
    await this.sniffDelimiter();
    if (!this.options.hasHeader) return undefined;
    for (;;) {
      const scanned = this.scan();
      if (scanned === INCOMPLETE) {
        if (!(await this.fill())) return undefined;
        continue;
      }
      const line = this.line;
      this.pos = scanned.end;
      this.line += scanned.newlines;
      if (scanned.start === scanned.contentEnd && scanned.end === scanned.start) return undefined;
      this.headerRaw = this.buf.toString(this.options.binaryHeader === true ? 'latin1' : 'utf8', scanned.start, scanned.contentEnd);
      // A header that cannot be read cannot be skipped either.
      if (scanned.error !== undefined) throw new InputError(`header: ${scanned.error}`, { file: this.options.file, line: line + scanned.errorLine });
      const names: string[] = [];
      for (let f = 0; f < scanned.fields; f += 1) names.push(this.decodeField(this.fieldStarts[f], this.fieldEnds[f]));
      return names;
    }
  }

  /** Line of the first record not yet handed out: one being collected, else the next to be read. */
  override pendingLine(): number | undefined {
    const collected = super.pendingLine();
    if (collected !== undefined) return collected;
    return this.ended || (this.eof && this.pos >= this.buf.length && this.held === undefined) ? undefined : this.line;
  }

  /**
   * Reads on from `position` of the input (from `source`, which starts there) instead of where the
   * header left off: a resumed load skips what earlier runs committed. Before records().
   */
  restartAt(source: AsyncIterable<Buffer>, position: InputPosition): void {
    this.iterator = source[Symbol.asyncIterator]();
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    this.held = undefined;
    this.eof = false;
    this.specialsOf = undefined;
    this.bytesRead = position.byte;
    this.line = position.line;
  }

  /** Input offset of `buf[0]`: what was read, less what is still held or unscanned. */
  private bufferBase(): number {
    return this.bytesRead - (this.held?.length ?? 0) - this.buf.length;
  }

  async *records(): AsyncGenerator<RecordChunk> {
    await this.sniffDelimiter();
    const { plan, builder } = this.beginRecords();
    builder.setInputBase(this.bufferBase());
    this.needFields = plan.select !== undefined;
    const delimiter = Buffer.from([this.delimiter]);
    const newline = Buffer.from([LF]);
    while (!this.ended) {
      const scanned = this.scan();
      if (scanned === INCOMPLETE) {
        const chunk = builder.take(this.bytesRead);
        if (chunk !== undefined) yield chunk;
        if (!(await this.fill())) break;
        builder.setInputBase(this.bufferBase());
        continue;
      }
      const { start, contentEnd, end } = scanned;
      const line = this.line;
      const buf = this.buf;
      this.pos = end;
      this.line += scanned.newlines;
      if (end === start) break;
      // A closure per record only when the records are kept as written (--on-error skip).
      const raw = builder.keepsRaw ? textOf(buf, start, contentEnd) : undefined;
      if (scanned.error !== undefined) {
        this.options.onMalformed({ line: line + scanned.errorLine, reason: scanned.error, raw: buf.toString('utf8', start, contentEnd) });
        continue;
      }
      // A blank line cannot be a record of several columns: skip it, as people expect of CSV.
      if (contentEnd === start && plan.fieldCount > 1) continue;
      const isEndMarker = contentEnd - start === 2 && buf[start] === BACKSLASH && buf[start + 1] === DOT;
      if (isEndMarker && this.copyFormat === 'text') {
        // COPY's own end-of-data line.
        this.ended = true;
        break;
      }
      if (scanned.fields !== plan.fieldCount && scanned.fields !== UNCOUNTED) {
        this.options.onMalformed({ line, reason: `expected ${plan.fieldCount} field${plan.fieldCount === 1 ? '' : 's'}, found ${scanned.fields}`, raw: buf.toString('utf8', start, contentEnd) });
        continue;
      }
      // Lines the record takes in the COPY data: its line breaks, and one for a last line without one.
      const span = scanned.newlines + (end === contentEnd ? 1 : 0);
      if (isEndMarker) {
        // In CSV, \. alone on a line would end the COPY data: quote it to keep it a value.
        builder.addBuffer(Buffer.from('"\\."\n'), line, raw);
      } else if (plan.select === undefined) {
        builder.addSlice(buf, start, end, line, raw, span);
      } else {
        const parts: Buffer[] = [];
        for (let i = 0; i < plan.select.length; i += 1) {
          if (i > 0) parts.push(delimiter);
          parts.push(buf.subarray(this.fieldStarts[plan.select[i]], this.fieldEnds[plan.select[i]]));
        }
        parts.push(newline);
        builder.addBuffer(Buffer.concat(parts), line, raw, span);
      }
      if (builder.count >= 8192) {
        const chunk = builder.take(this.bytesRead);
        if (chunk !== undefined) yield chunk;
      }
    }
    const chunk = builder.take(this.bytesRead);
    if (chunk !== undefined) yield chunk;
  }

  private async fill(): Promise<boolean> {
    let chunk: Buffer;
    const fromHeld = this.held !== undefined;
    if (this.held !== undefined) {
      chunk = this.held;
      this.held = undefined;
    } else {
      if (this.eof) return false;
      const next = await this.iterator.next();
      if (next.done === true) {
        this.eof = true;
        // Rescan what is left with end-of-input rules.
        return this.pos < this.buf.length;
      }
      chunk = next.value;
      this.bytesRead += chunk.length;
      if (this.options.inputInTurns !== true) scavengeAfterReading(chunk.length);
      if (this.bytesRead === chunk.length && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
    }
    if (this.pos < this.buf.length) {
      // Only the record cut by the chunk's end is copied, joined with the new chunk's first line;
      // the rest of the chunk is scanned in place (copying every chunk cost more than scanning it).
      // A record still cut after that (a quoted line break) takes the whole rest.
      const lf = fromHeld ? -1 : chunk.indexOf(LF);
      if (lf >= 0 && lf + 1 < chunk.length) {
        this.held = chunk.subarray(lf + 1);
        chunk = chunk.subarray(0, lf + 1);
      }
      chunk = Buffer.concat([this.buf.subarray(this.pos), chunk]);
    }
    this.buf = chunk;
    this.pos = 0;
    return true;
  }

  private setField(f: number, start: number, end: number): void {
    if (f >= this.fieldStarts.length) {
      const starts = new Int32Array(this.fieldStarts.length * 2);
      const ends = new Int32Array(this.fieldEnds.length * 2);
      starts.set(this.fieldStarts);
      ends.set(this.fieldEnds);
      this.fieldStarts = starts;
      this.fieldEnds = ends;
    }
    this.fieldStarts[f] = start;
    this.fieldEnds[f] = end;
  }

  /** Scans the record at `pos`; INCOMPLETE when more input is needed to see its end. */
  private scan(): Scanned | typeof INCOMPLETE {
    return this.copyFormat === 'csv' ? this.scanCsv() : this.scanText();
  }

  /** A well-formed record; the object is reused by the next scan. */
  private recordEnd(start: number, fields: number, newlines: number, contentEnd: number, end: number): Scanned {
    const result = this.lineResult;
    result.start = start;
    result.contentEnd = contentEnd;
    result.end = end;
    result.fields = fields;
    result.newlines = newlines;
    return result;
  }

  /**
   * The common record, found without walking it field by field: one line with no quote (csv) or
   * backslash (text) and no CR but its line end's. Its fields are counted, not located, so only
   * when no field positions are needed. Undefined: take the full scan.
   */
  private fastLine(start: number, special: number): Scanned | undefined {
    const { buf } = this;
    const lf = buf.indexOf(LF, start);
    if (lf < 0) return undefined;
    if (this.specialsOf !== buf) {
      this.specialsOf = buf;
      this.nextSpecial = -1;
      this.nextCr = -1;
    }
    // Cached positions, found again only once passed: in most data these bytes are rare.
    if (this.nextSpecial < start) {
      const found = buf.indexOf(special, start);
      this.nextSpecial = found < 0 ? buf.length : found;
    }
    if (this.nextSpecial < lf) return undefined;
    if (this.nextCr < start) {
      const found = buf.indexOf(CR, start);
      this.nextCr = found < 0 ? buf.length : found;
    }
    let contentEnd = lf;
    if (this.nextCr < lf) {
      if (this.nextCr !== lf - 1) return undefined;
      contentEnd = lf - 1;
    }
    if (this.options.countFields === false) return this.recordEnd(start, UNCOUNTED, 1, contentEnd, lf + 1);
    const delimiter = this.delimiter;
    let fields = 1;
    for (let i = start; i < contentEnd; i += 1) if (buf[i] === delimiter) fields += 1;
    return this.recordEnd(start, fields, 1, contentEnd, lf + 1);
  }

  /**
   * The record ends at the line break at `i` (LF or CR LF). INCOMPLETE when a CR is the last byte
   * read so far; undefined for a CR without LF, which the caller reports.
   */
  private lineEnd(start: number, fields: number, newlines: number, i: number): Scanned | typeof INCOMPLETE | undefined {
    const { buf } = this;
    if (buf[i] === LF) return this.recordEnd(start, fields, newlines + 1, i, i + 1);
    if (i + 1 >= buf.length && !this.eof) return INCOMPLETE;
    return buf[i + 1] === LF ? this.recordEnd(start, fields, newlines + 1, i, i + 2) : undefined;
  }

  /** A malformed record: it runs to the next line end, where reading resumes. */
  private bad(start: number, from: number, newlines: number, error: string): Scanned | typeof INCOMPLETE {
    const { buf, eof } = this;
    const lf = buf.indexOf(LF, from);
    if (lf < 0 && !eof) return INCOMPLETE;
    const end = lf < 0 ? buf.length : lf + 1;
    const contentEnd = lf < 0 ? buf.length : lf > start && buf[lf - 1] === CR ? lf - 1 : lf;
    return { start, contentEnd, end, fields: 0, newlines: newlines + (lf < 0 ? 0 : 1), error, errorLine: newlines };
  }

  private scanCsv(): Scanned | typeof INCOMPLETE {
    if (!this.needFields) {
      const line = this.fastLine(this.pos, this.quote);
      if (line !== undefined) return line;
    }
    const { buf, eof } = this;
    const n = buf.length;
    const { delimiter, quote, escape } = this;
    const start = this.pos;
    let i = start;
    let fields = 0;
    let newlines = 0;
    if (i >= n) return eof ? this.recordEnd(start, 0, 0, start, start) : INCOMPLETE;
    for (;;) {
      const fieldStart = i;
      if (i < n && buf[i] === quote) {
        i += 1;
        if (escape !== quote) {
          // An escape byte before a quote or another escape makes it part of the value.
          let j = i;
          for (;;) {
            if (j >= n) {
              if (!eof) return INCOMPLETE;
              return unterminated(buf, start, i, newlines);
            }
            const b = buf[j];
            if (b === escape) {
              if (j + 1 >= n && !eof) return INCOMPLETE;
              j += buf[j + 1] === quote || buf[j + 1] === escape ? 2 : 1;
              continue;
            }
            if (b === quote) break;
            j += 1;
          }
          newlines += countNewlines(buf, i, j);
          i = j + 1;
        } else for (;;) {
          const q = buf.indexOf(quote, i);
          if (q < 0) {
            if (!eof) return INCOMPLETE;
            return unterminated(buf, start, i, newlines);
          }
          newlines += countNewlines(buf, i, q);
          if (q + 1 >= n && !eof) return INCOMPLETE;
          if (buf[q + 1] === quote) {
            i = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
        this.setField(fields, fieldStart, i);
        fields += 1;
        if (i >= n) return this.recordEnd(start, fields, newlines, n, n);
        const c = buf[i];
        if (c === delimiter) {
          i += 1;
          continue;
        }
        if (c === LF || c === CR) {
          const ended = this.lineEnd(start, fields, newlines, i);
          if (ended !== undefined) return ended;
        }
        return this.bad(start, i, newlines, `unexpected character ${describeByte(c)} after a closing quote (field ${fields})`);
      }
      let c = 0;
      while (i < n) {
        c = buf[i];
        if (c === delimiter || c === LF || c === CR || c === quote) break;
        i += 1;
      }
      if (i >= n) {
        if (!eof) return INCOMPLETE;
        this.setField(fields, fieldStart, i);
        return this.recordEnd(start, fields + 1, newlines, n, n);
      }
      if (c === delimiter) {
        this.setField(fields, fieldStart, i);
        fields += 1;
        i += 1;
        continue;
      }
      if (c === LF || c === CR) {
        this.setField(fields, fieldStart, i);
        const ended = this.lineEnd(start, fields + 1, newlines, i);
        // Not `??`: INCOMPLETE is null.
        return ended !== undefined ? ended : this.bad(start, i, newlines, `carriage return inside an unquoted field (field ${fields + 1}); quote the field`);
      }
      return this.bad(start, i, newlines, `quote inside an unquoted field (field ${fields + 1}); quote the whole field and double the quote`);
    }
  }

  private scanText(): Scanned | typeof INCOMPLETE {
    if (!this.needFields) {
      const line = this.fastLine(this.pos, BACKSLASH);
      if (line !== undefined) return line;
    }
    const { buf, eof } = this;
    const n = buf.length;
    const start = this.pos;
    let i = start;
    let fields = 0;
    let newlines = 0;
    if (i >= n) return eof ? this.recordEnd(start, 0, 0, start, start) : INCOMPLETE;
    let fieldStart = i;
    for (;;) {
      if (i >= n) {
        if (!eof) return INCOMPLETE;
        this.setField(fields, fieldStart, i);
        return this.recordEnd(start, fields + 1, newlines, n, n);
      }
      const c = buf[i];
      if (c === BACKSLASH) {
        if (i + 1 >= n && !eof) return INCOMPLETE;
        // COPY skips the escaped byte, an escaped line break included.
        if (buf[i + 1] === LF) newlines += 1;
        i += 2;
        continue;
      }
      if (c === this.delimiter) {
        this.setField(fields, fieldStart, i);
        fields += 1;
        i += 1;
        fieldStart = i;
        continue;
      }
      if (c === LF || c === CR) {
        this.setField(fields, fieldStart, i);
        const ended = this.lineEnd(start, fields + 1, newlines, i);
        // Not `??`: INCOMPLETE is null.
        return ended !== undefined ? ended : this.bad(start, i, newlines, `carriage return inside a field (field ${fields + 1}); write it as \\r`);
      }
      i += 1;
    }
  }

  /** A header field's text: CSV unquoted, or COPY text escapes resolved. */
  private decodeField(start: number, end: number): string {
    const text = this.buf.toString(this.options.binaryHeader === true ? 'latin1' : 'utf8', start, end);
    if (this.copyFormat === 'csv') {
      const quote = String.fromCharCode(this.quote);
      if (!text.startsWith(quote)) return text;
      const escape = String.fromCharCode(this.escape);
      const inner = text.slice(1, -1);
      let value = '';
      for (let i = 0; i < inner.length; i += 1) {
        if (inner[i] === escape && (inner[i + 1] === quote || inner[i + 1] === escape)) i += 1;
        value += inner[i];
      }
      return value;
    }
    return text.replace(/\\(.)/gs, (_, c: string) => ({ t: '\t', n: '\n', r: '\r', b: '\b', f: '\f', v: '\v' } as Record<string, string>)[c] ?? c);
  }
}

function countNewlines(buf: Buffer, from: number, to: number): number {
  let count = 0;
  for (let i = from; i < to; i += 1) if (buf[i] === LF) count += 1;
  return count;
}

function describeByte(c: number): string {
  return c >= 0x20 && c < 0x7f ? JSON.stringify(String.fromCharCode(c)) : `0x${c.toString(16).padStart(2, '0')}`;
}

/** A quoted field that runs to the end of the input: the record is malformed from `start` on. */
function unterminated(buf: Buffer, start: number, quoted: number, newlines: number): Scanned {
  const n = buf.length;
  return { start, contentEnd: n, end: n, fields: 0, newlines: newlines + countNewlines(buf, quoted, n), error: 'unterminated quoted field (the closing quote is missing)', errorLine: newlines };
}
