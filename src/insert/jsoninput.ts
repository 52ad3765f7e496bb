// NDJSON (one object per line) and JSON (one array of objects) input, streamed: each object becomes
// one COPY text-format row. Keys are matched to columns exactly; a missing key is NULL, as
// json_populate_record does; a key first seen late widens the columns (see records()).
import { StringDecoder } from 'node:string_decoder';
import { InputError } from '../errors.js';
import { capYoungGeneration, scavengeAfterReading } from '../memory.js';
import { RecordReader, textOf, type InputPosition, type MalformedHandler, type RecordChunk } from './chunks.js';
import { copyTextValue, FlatRowBytesEncoder, FlatRowEncoder, JsonSyntaxError, parseJsonObject, RowBytes, type JsonField } from './json.js';
import type { TargetColumn } from './target.js';

export interface JsonInputOptions {
  format: 'ndjson' | 'json';
  file: string;
  keepRaw: boolean;
  onMalformed: MalformedHandler;
}

export interface KeyPlan {
  /** The columns the first object names (a key is a column's name). */
  columns: TargetColumn[];
  /**
   * A key outside the columns so far: a column to add (the load goes on wider), a reason that
   * makes its record malformed, or undefined to ignore the key.
   */
  unknownKey: (key: string) => TargetColumn | string | undefined;
}

interface Element {
  text: string;
  line: number;
  /** NDJSON: the input offset just past its line. */
  next?: number;
}

interface ElementBatch {
  elements: Element[];
  bytesRead: number;
}

/**
 * NDJSON lines as spans of a read buffer (no string is made for a line the byte encoder takes).
 * Typed arrays with a count: number arrays grown by push were most of what a NDJSON load
 * allocated (bench/README.md, Figures behind the code).
 */
interface LineBatch {
  buf: Buffer;
  count: number;
  starts: Int32Array;
  ends: Int32Array;
  lines: Float64Array;
  /** The input offset just past each line's end (where a resumed load may start reading). */
  nexts: Float64Array;
  /** The first line not handed out yet. */
  next: number;
  bytesRead: number;
}

function newLineBatch(buf: Buffer, bytesRead: number): LineBatch {
  const capacity = 1024;
  return { buf, count: 0, starts: new Int32Array(capacity), ends: new Int32Array(capacity), lines: new Float64Array(capacity), nexts: new Float64Array(capacity), next: 0, bytesRead };
}

function addLine(batch: LineBatch, start: number, end: number, line: number, next: number): void {
  const k = batch.count;
  if (k === batch.starts.length) {
    batch.starts = grown(batch.starts, new Int32Array(k * 2));
    batch.ends = grown(batch.ends, new Int32Array(k * 2));
    batch.lines = grown(batch.lines, new Float64Array(k * 2));
    batch.nexts = grown(batch.nexts, new Float64Array(k * 2));
  }
  batch.starts[k] = start;
  batch.ends[k] = end;
  batch.lines[k] = line;
  batch.nexts[k] = next;
  batch.count = k + 1;
}

function grown<T extends Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

function isLineBatch(batch: ElementBatch | LineBatch): batch is LineBatch {
  return 'buf' in batch;
}

function lineElement(batch: LineBatch, k: number): Element {
  return { text: batch.buf.toString('utf8', batch.starts[k], batch.ends[k]), line: batch.lines[k], next: batch.nexts[k] };
}

export class JsonReader extends RecordReader<KeyPlan> {
  readonly copyFormat = 'text' as const;
  readonly headerRaw = undefined;
  private batches: AsyncGenerator<ElementBatch | LineBatch>;
  /** NDJSON: the line the next element read will start on (undefined for a JSON array). */
  private readonly position: { line: number | undefined } = { line: undefined };
  private widening: number | undefined;
  // The first record, parsed to learn the keys, is loaded with the rest.
  private first: { element: Element; fields: JsonField[] } | undefined;
  private held: ElementBatch | LineBatch | undefined;

  constructor(source: AsyncIterable<Buffer>, private readonly options: JsonInputOptions) {
    super(options.keepRaw);
    this.batches = options.format === 'ndjson' ? ndjsonLines(source, this.position) : arrayElements(source, options.file);
  }

  /** The keys of the first object, in their order; undefined for an input without objects. */
  async names(): Promise<string[] | undefined> {
    for (;;) {
      const next = await this.batches.next();
      if (next.done === true) return undefined;
      const batch = next.value;
      for (;;) {
        let element: Element;
        if (isLineBatch(batch)) {
          if (batch.next >= batch.count) break;
          element = lineElement(batch, batch.next);
          batch.next += 1;
        } else {
          if (batch.elements.length === 0) break;
          element = batch.elements.shift()!;
        }
        const fields = this.parse(element);
        if (fields === undefined) continue;
        this.first = { element, fields };
        this.held = batch;
        return fields.map((field) => field.key);
      }
    }
  }

  /**
   * NDJSON: reads on from `position` of the input (from `source`, which starts there) instead of
   * after the first object: a resumed load skips what earlier runs committed. Before records().
   */
  restartAt(source: AsyncIterable<Buffer>, position: InputPosition): void {
    if (this.options.format !== 'ndjson') throw new Error('restartAt: NDJSON only');
    this.batches = ndjsonLines(source, this.position, position);
    this.first = undefined;
    this.held = undefined;
  }

  /** Line of the first record not yet handed out: one being collected, else (NDJSON) the next line to be read. */
  override pendingLine(): number | undefined {
    return super.pendingLine() ?? this.widening ?? this.position.line;
  }

  /** Input line of the object whose keys name the columns. */
  firstLine(): number | undefined {
    return this.first?.element.line;
  }

  async *records(): AsyncGenerator<RecordChunk> {
    const { plan, builder } = this.beginRecords();
    // The columns grow when a later object names another column of the table: the chunk so far
    // goes out with the old list, and later chunks carry the wider one (the loader starts a new COPY).
    let columns = plan.columns;
    let widened = false;
    let indexOf = new Map(columns.map((column, i) => [column.name, i]));
    let values: string[] = new Array(columns.length);

    /** False when the object names new columns (nothing added yet); true when handled. */
    const add = (element: Element, fields: JsonField[]): TargetColumn[] | undefined => {
      let wider: TargetColumn[] | undefined;
      for (const field of fields) {
        if (indexOf.has(field.key)) continue;
        const outcome = plan.unknownKey(field.key);
        if (typeof outcome === 'string') {
          this.options.onMalformed({ line: element.line, reason: outcome, raw: element.text });
          return undefined;
        }
        if (outcome !== undefined && !(wider ?? []).includes(outcome)) (wider ??= []).push(outcome);
      }
      if (wider !== undefined) return wider;
      values.fill('\\N');
      for (const field of fields) {
        const index = indexOf.get(field.key);
        if (index !== undefined) values[index] = copyTextValue(field, columns[index]);
      }
      addRow(`${values.join('\t')}\n`, element);
      return undefined;
    };
    let flat = new FlatRowEncoder(columns, (key) => indexOf.get(key));
    let flatBytes = new FlatRowBytesEncoder(columns, (key) => indexOf.get(key));
    // A chunk's rows are written into one buffer; rowStarts holds where each begins.
    const out = new RowBytes();
    let rowStarts = new Float64Array(1024);
    let rowCount = 0;
    const startRow = (at: number) => {
      if (rowCount === rowStarts.length) rowStarts = grown(rowStarts, new Float64Array(rowCount * 2));
      rowStarts[rowCount] = at;
      rowCount += 1;
    };
    const addRow = (row: string, element: Element) => {
      startRow(out.length);
      out.writeString(row);
      builder.addBuffer(EMPTY, element.line, builder.keepsRaw ? elementText(element) : undefined, 1, element.next);
    };
    const take = (bytesRead: number): RecordChunk | undefined => {
      capYoungGeneration();
      const chunk = builder.take(bytesRead);
      if (chunk === undefined) return undefined;
      chunk.offsets.set(rowStarts.subarray(0, rowCount));
      chunk.offsets[rowCount] = out.length;
      chunk.data = out.take();
      rowCount = 0;
      if (widened) chunk.columns = columns;
      return chunk;
    };
    const widen = (more: TargetColumn[]) => {
      columns = [...columns, ...more];
      widened = true;
      indexOf = new Map(columns.map((column, i) => [column.name, i]));
      values = new Array(columns.length);
      flat = new FlatRowEncoder(columns, (key) => indexOf.get(key));
      flatBytes = new FlatRowBytesEncoder(columns, (key) => indexOf.get(key));
    };

    let batch = this.held;
    this.held = undefined;
    let pending: Array<{ element: Element; fields: JsonField[] }> = this.first !== undefined ? [this.first] : [];
    for (;;) {
      if (batch === undefined && pending.length === 0) {
        const next = await this.batches.next();
        if (next.done === true) break;
        batch = next.value;
      }
      const items = pending;
      pending = [];
      const bytesRead = batch?.bytesRead ?? 0;
      const lines = batch !== undefined && isLineBatch(batch) ? batch : undefined;
      const elements = batch !== undefined && !isLineBatch(batch) ? batch.elements : [];
      const first = lines?.next ?? 0;
      const count = lines !== undefined ? lines.count - first : elements.length;
      batch = undefined;
      // The first object (parsed by names()) goes first, then the batch in order.
      for (let i = 0; i < items.length + count; i += 1) {
        let item = items[i];
        if (item === undefined) {
          let element: Element;
          if (lines !== undefined) {
            const k = first + i - items.length;
            const start = lines.starts[k];
            const end = lines.ends[k];
            const at = out.length;
            if (flatBytes.encode(lines.buf, start, end, out)) {
              startRow(at);
              builder.addBuffer(EMPTY, lines.lines[k], builder.keepsRaw ? textOf(lines.buf, start, end) : undefined, 1, lines.nexts[k]);
              continue;
            }
            element = lineElement(lines, k);
          } else {
            element = elements[i - items.length];
          }
          const row = flat.encode(element.text);
          if (row !== undefined) {
            addRow(row, element);
            continue;
          }
          const fields = this.parse(element);
          if (fields === undefined) continue;
          item = { element, fields };
        }
        const wider = add(item.element, item.fields);
        if (wider === undefined) continue;
        const chunk = take(bytesRead);
        // While that chunk is out, this object is the first not handed out.
        this.widening = item.element.line;
        if (chunk !== undefined) yield chunk;
        this.widening = undefined;
        widen(wider);
        add(item.element, item.fields);
      }
      const chunk = take(bytesRead);
      if (chunk !== undefined) yield chunk;
    }
  }

  private parse(element: Element): JsonField[] | undefined {
    try {
      return parseJsonObject(element.text);
    } catch (error) {
      if (!(error instanceof JsonSyntaxError)) throw error;
      // Within a pretty-printed array element, name the line the problem is on.
      const line = element.line + countNewlines(element.text, error.offset);
      this.options.onMalformed({ line, reason: `invalid JSON: ${error.message}`, raw: element.text });
      return undefined;
    }
  }
}

const EMPTY = Buffer.alloc(0);

function countNewlines(text: string, end: number): number {
  let count = 0;
  for (let i = 0; i < end && i < text.length; i += 1) if (text.charCodeAt(i) === 10) count += 1;
  return count;
}

/**
 * JSON array input: bytes decoded into one string at a time. A string over V8's largest regular object (128 KiB)
 * goes to its large-object space, allocated and freed page by page: decoding the 256 KiB read
 * chunks whole cost many times the CPU (bench/README.md).
 */
const DECODE_BYTES = 1 << 16;

/**
 * The input as text, decoded across chunk boundaries (a chunk may end inside a UTF-8 character)
 * and without a leading byte-order mark; the last item (`final`) carries the decoder's remainder.
 */
async function* decodedText(source: AsyncIterable<Buffer>): AsyncGenerator<{ text: string; bytesRead: number; final: boolean }> {
  const decoder = new StringDecoder('utf8');
  let bytesRead = 0;
  let first = true;
  for await (const chunk of source) {
    scavengeAfterReading(chunk.length);
    for (let at = 0; at < chunk.length; at += DECODE_BYTES) {
      const piece = chunk.subarray(at, at + DECODE_BYTES);
      bytesRead += piece.length;
      let text = decoder.write(piece);
      if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text !== '') first = false;
      yield { text, bytesRead, final: false };
    }
  }
  yield { text: decoder.end(), bytesRead, final: true };
}

/**
 * Non-blank lines of the input as spans of its read chunks, batched per chunk; a line cut by a
 * chunk's end is joined with the rest of it in a batch of its own. No text is decoded here: a
 * line is decoded only when the byte encoder declines it.
 */
async function* ndjsonLines(source: AsyncIterable<Buffer>, position: { line: number | undefined }, from: InputPosition = { byte: 0, line: 1 }): AsyncGenerator<LineBatch> {
  let carry: Buffer | undefined;
  // Input offset of carry[0], and of the chunk being read.
  let carryBase = 0;
  let chunkBase = from.byte;
  let line = from.line;
  let bytesRead = from.byte;
  let first = from.byte === 0;
  position.line = line;
  /** The lines of buf[0, to); `base` is buf[0]'s input offset. */
  const batchOf = (buf: Buffer, base: number, to: number, final: boolean): LineBatch => {
    const batch = newLineBatch(buf, bytesRead);
    let start = 0;
    // A byte-order mark before the first line (that line is always whole here: see carry).
    if (first && to - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
    for (;;) {
      const lf = buf.indexOf(0x0a, start);
      if (lf < 0 || lf >= to) break;
      const end = lf > start && buf[lf - 1] === 0x0d ? lf - 1 : lf;
      if (!isBlankBytes(buf, start, end)) addLine(batch, start, end, line, base + lf + 1);
      line += 1;
      start = lf + 1;
      first = false;
    }
    if (final) {
      const end = to > start && buf[to - 1] === 0x0d ? to - 1 : to;
      if (!isBlankBytes(buf, start, end)) addLine(batch, start, end, line, base + to);
      carry = undefined;
    } else {
      carry = start < to ? buf.subarray(start, to) : undefined;
      carryBase = base + start;
    }
    return batch;
  };
  for await (let chunk of source) {
    bytesRead += chunk.length;
    scavengeAfterReading(chunk.length);
    let base = chunkBase;
    chunkBase += chunk.length;
    let head: LineBatch | undefined;
    if (carry !== undefined) {
      const lf = chunk.indexOf(0x0a);
      const cut = lf < 0 ? chunk.length : lf + 1;
      const joined = Buffer.concat([carry, chunk.subarray(0, cut)]);
      head = batchOf(joined, carryBase, joined.length, false);
      chunk = chunk.subarray(cut);
      base += cut;
    }
    // Both scanned before either goes out, so position.line is past the chunk's blank lines.
    const batch = head === undefined || chunk.length > 0 ? batchOf(chunk, base, chunk.length, false) : undefined;
    position.line = line;
    if (head !== undefined) yield head;
    if (batch !== undefined) yield batch;
  }
  const last = carry !== undefined ? batchOf(carry, carryBase, carry.length, true) : undefined;
  position.line = undefined;
  if (last !== undefined && last.count > 0) yield last;
}

function isBlankBytes(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i += 1) {
    const c = buf[i];
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}

/**
 * The elements of one top-level JSON array, found by tracking strings and nesting, so a
 * pretty-printed file streams as well as a one-line one. Broken structure (no array, an
 * unterminated one) is fatal: there is no record boundary to resume from.
 */
async function* arrayElements(source: AsyncIterable<Buffer>, file: string): AsyncGenerator<ElementBatch> {
  type State = 'before' | 'first' | 'element' | 'after' | 'next' | 'done';
  let state: State = 'before';
  let line = 1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let acc = '';
  let elementLine = 0;
  let arrayLine = 1;
  const fatal = (message: string, at: number) => new InputError(message, { file, line: at });

  const feed = (text: string): Element[] => {
    const elements: Element[] = [];
    let elementStart = state === 'element' ? 0 : -1;
    for (let i = 0; i < text.length; i += 1) {
      const c = text.charCodeAt(i);
      if (state === 'element') {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 92) escaped = true;
          else if (c === 34) inString = false;
          if (c === 10) line += 1;
          continue;
        }
        let endsBefore = false;
        let endsAfter = false;
        if (c === 34) inString = true;
        else if (c === 123 || c === 91) depth += 1;
        else if (c === 125 || c === 93) {
          if (depth === 0) endsBefore = true;
          else {
            depth -= 1;
            if (depth === 0) endsAfter = true;
          }
        } else if (c === 44 && depth === 0) endsBefore = true;
        if (c === 10) line += 1;
        if (!endsBefore && !endsAfter) continue;
        const end = endsAfter ? i + 1 : i;
        elements.push({ text: acc + text.slice(elementStart, end), line: elementLine });
        acc = '';
        state = 'after';
        if (endsAfter) continue;
        // The ',' or ']' that ended a scalar element is read again below.
      }
      if (c === 10) {
        line += 1;
        continue;
      }
      if (c === 32 || c === 9 || c === 13) continue;
      switch (state) {
        case 'before':
          if (c !== 91) throw fatal(`expected a JSON array ('[') at the start of the input, found ${JSON.stringify(text[i])}`, line);
          arrayLine = line;
          state = 'first';
          break;
        case 'first':
        case 'next':
          if (c === 93 && state === 'first') {
            state = 'done';
            break;
          }
          if (c === 93 || c === 44) throw fatal(`expected an array element, found ${JSON.stringify(text[i])}`, line);
          state = 'element';
          elementStart = i;
          elementLine = line;
          depth = 0;
          inString = false;
          escaped = false;
          i -= 1; // read this character as part of the element
          break;
        case 'after':
          if (c === 44) state = 'next';
          else if (c === 93) state = 'done';
          else throw fatal(`expected ',' or ']' after an array element, found ${JSON.stringify(text[i])}`, line);
          break;
        case 'done':
          throw fatal(`unexpected ${JSON.stringify(text[i])} after the end of the JSON array`, line);
      }
    }
    if (state === 'element') acc += text.slice(elementStart);
    return elements;
  };

  for await (const { text, bytesRead, final } of decodedText(source)) {
    const elements = feed(text);
    // At the end an empty input holds no rows; anything else must have closed its array.
    if (final && state !== 'before') {
      if (state === 'element') throw fatal('unterminated array element (the input ends inside it)', elementLine);
      if (state !== 'done') throw fatal('unterminated JSON array (the closing "]" is missing)', arrayLine);
    }
    yield { elements, bytesRead };
  }
}

/** An element's text for the reject file, as textOf (chunks.ts) makes a record's. */
function elementText(element: Element): () => string {
  return () => element.text;
}
