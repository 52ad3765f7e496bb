// What input readers hand to the loader: chunks of whole records, already in COPY format, with the
// input line of every record so a server error on "COPY line N" maps back to the file.
import type { TargetColumn } from './target.js';

export interface RecordChunk {
  /** COPY payload: whole records, each ending with a newline (the input's last one may not). */
  data: Buffer;
  /** Byte offset in `data` where each record starts, then `data.length` (count + 1 entries). */
  offsets: Float64Array;
  /** Input line on which each record starts. */
  lines: Float64Array;
  /**
   * Lines each record takes in the COPY data (COPY's "line N" counts them), when some record
   * takes more than one (a quoted line break); undefined when every record is one line.
   */
  spans?: number[];
  /** Each record as written in the input (without its line end), when the reader was asked to keep them. */
  raw: string[] | undefined;
  /** Input bytes consumed so far, for progress. */
  bytesRead: number;
  /** The columns these records fill when not the load's own (JSON input whose keys grew). */
  columns?: TargetColumn[];
  /**
   * Where `data` starts in the input, when `data` is exactly the input's bytes from there (every
   * record passed through unchanged, none skipped between them): a resumed load seeks past what
   * earlier runs committed instead of reading it again.
   */
  inputStart?: number;
  /** One-line records converted on the way (NDJSON): the input offset just past each one's line end. */
  lineEnds?: Float64Array;
}

/** Where the record after the last one of `chunk` starts in the input, when known. */
export function positionAfter(chunk: RecordChunk): InputPosition | undefined {
  const last = chunk.lines.length - 1;
  if (chunk.lineEnds !== undefined) return { byte: chunk.lineEnds[last], line: chunk.lines[last] + 1 };
  if (chunk.inputStart === undefined) return undefined;
  // A last record without a line end counts one COPY line more than its line breaks.
  const unended = chunk.data.length > 0 && chunk.data[chunk.data.length - 1] !== 0x0a ? 1 : 0;
  return { byte: chunk.inputStart + chunk.data.length, line: chunk.lines[last] + (chunk.spans?.[last] ?? 1) - unended };
}

/** A record boundary in the input: its byte offset and the line that starts there. */
export interface InputPosition {
  byte: number;
  line: number;
}

/** A record the reader could not parse. */
export interface Malformed {
  line: number;
  reason: string;
  raw: string;
}

/** Strict loads throw here (InputError); `--on-error skip` writes the record to the reject file. */
export type MalformedHandler = (record: Malformed) => void;

/**
 * Collects records into one chunk; runs of adjacent input bytes are kept as one slice (no copying).
 * Offsets and lines are typed arrays: a parallel load keeps many chunks alive at once, and number
 * arrays of a million records made the garbage collector copy them over and over.
 */
export class ChunkBuilder {
  private parts: Buffer[] = [];
  private length = 0;
  private count_ = 0;
  private offsets = new Float64Array(1024);
  private lines = new Float64Array(1024);
  private raw: string[] | undefined;
  private spans: number[] | undefined;
  // The pending run of input bytes: buf[runStart, runEnd).
  private runBuf: Buffer | undefined;
  private runStart = 0;
  private runEnd = 0;
  // Input offset of the current buffer's first byte (setInputBase), where the chunk's data starts
  // in the input, and where its last record ended; NaN once the data is not the input's bytes.
  private inputBase = NaN;
  private inputStart = NaN;
  private inputEnd = NaN;
  // Per record, where its line ends in the input (addBuffer with lineEnd); NaN marks one unknown.
  private lineEnds: Float64Array | undefined;

  constructor(keepRaw: boolean) {
    this.raw = keepRaw ? [] : undefined;
  }

  get count(): number {
    return this.count_;
  }

  /** Whether records are kept as written (the `raw` callbacks are called). */
  get keepsRaw(): boolean {
    return this.raw !== undefined;
  }

  /** Input line of the first record collected and not yet taken. */
  get firstLine(): number | undefined {
    return this.count_ > 0 ? this.lines[0] : undefined;
  }

  private addSpan(span: number): void {
    if (span !== 1 && this.spans === undefined) this.spans = new Array<number>(this.count_).fill(1);
    this.spans?.push(span);
  }

  /** Records a new record's offset and line (offsets keep one slot more for the end). */
  private push(offset: number, line: number): void {
    const n = this.count_;
    if (n + 1 >= this.offsets.length) {
      const offsets = new Float64Array(this.offsets.length * 2);
      offsets.set(this.offsets);
      this.offsets = offsets;
      const lines = new Float64Array(this.lines.length * 2);
      lines.set(this.lines);
      this.lines = lines;
    }
    this.offsets[n] = offset;
    this.lines[n] = line;
    this.count_ = n + 1;
  }

  /** The input offset of `buf[0]` for the records that follow (readers that know it). */
  setInputBase(offset: number): void {
    this.inputBase = offset;
  }

  /** A record passed through unchanged: input bytes [start, end), `span` lines long. */
  addSlice(buf: Buffer, start: number, end: number, line: number, raw?: () => string, span = 1): void {
    if (this.count_ === 0) this.inputStart = this.inputBase + start;
    else if (this.inputEnd !== this.inputBase + start) this.inputStart = NaN;
    this.inputEnd = this.inputBase + end;
    this.addSpan(span);
    this.push(this.length + (this.runBuf !== undefined ? this.runEnd - this.runStart : 0), line);
    if (this.raw !== undefined && raw !== undefined) this.raw.push(raw());
    if (this.runBuf === buf && this.runEnd === start) {
      this.runEnd = end;
      return;
    }
    this.flushRun();
    this.runBuf = buf;
    this.runStart = start;
    this.runEnd = end;
  }

  /** A record rewritten for COPY; `lineEnd`: the input offset just past its line (one-line records). */
  addBuffer(data: Buffer, line: number, raw?: () => string, span = 1, lineEnd = NaN): void {
    this.inputStart = NaN;
    this.addSpan(span);
    this.flushRun();
    const n = this.count_;
    this.push(this.length, line);
    if (!Number.isNaN(lineEnd) || this.lineEnds !== undefined) {
      if (this.lineEnds === undefined || this.lineEnds.length < this.offsets.length) {
        const wider = new Float64Array(this.offsets.length).fill(NaN);
        if (this.lineEnds !== undefined) wider.set(this.lineEnds);
        this.lineEnds = wider;
      }
      this.lineEnds[n] = lineEnd;
    }
    if (this.raw !== undefined && raw !== undefined) this.raw.push(raw());
    // JSON readers write their rows elsewhere and pass an empty buffer (see jsoninput.ts take()).
    if (data.length === 0) return;
    this.parts.push(data);
    this.length += data.length;
  }

  private flushRun(): void {
    if (this.runBuf === undefined) return;
    this.parts.push(this.runBuf.subarray(this.runStart, this.runEnd));
    this.length += this.runEnd - this.runStart;
    this.runBuf = undefined;
  }

  /** The chunk so far (undefined when empty); the builder starts over. */
  take(bytesRead: number): RecordChunk | undefined {
    this.flushRun();
    const n = this.count_;
    if (n === 0) return undefined;
    const data = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.length);
    this.offsets[n] = data.length;
    const chunk: RecordChunk = { data, offsets: this.offsets.slice(0, n + 1), lines: this.lines.slice(0, n), raw: this.raw, bytesRead, spans: this.spans };
    if (!Number.isNaN(this.inputStart)) chunk.inputStart = this.inputStart;
    if (this.lineEnds !== undefined) {
      const ends = this.lineEnds.slice(0, n);
      if (allKnown(ends)) chunk.lineEnds = ends;
      this.lineEnds = undefined;
    }
    this.spans = undefined;
    this.parts = [];
    this.length = 0;
    this.count_ = 0;
    this.raw = this.raw !== undefined ? [] : undefined;
    return chunk;
  }
}

/** Whether no entry is NaN (a loop: a callback per record allocated). */
function allKnown(values: Float64Array): boolean {
  for (let i = 0; i < values.length; i += 1) if (Number.isNaN(values[i])) return false;
  return true;
}

/**
 * A record's text, made only if asked for (the reject file of --on-error skip). Readers make
 * these closures here: one written inside a reader's loop would capture the loop's variables,
 * and V8 then allocates them afresh for every record, closure or not (bench/README.md).
 */
export function textOf(buf: Buffer, start: number, end: number): () => string {
  return () => buf.toString('utf8', start, end);
}

/** Records [from, to) of a chunk as a chunk of their own (no copying). */
export function sliceChunk(chunk: RecordChunk, from: number, to: number): RecordChunk {
  const base = chunk.offsets[from];
  return {
    data: chunk.data.subarray(base, chunk.offsets[to]),
    offsets: chunk.offsets.slice(from, to + 1).map((offset) => offset - base),
    lines: chunk.lines.slice(from, to),
    raw: chunk.raw?.slice(from, to),
    spans: chunk.spans?.slice(from, to),
    bytesRead: chunk.bytesRead,
    columns: chunk.columns,
    inputStart: chunk.inputStart !== undefined ? chunk.inputStart + base : undefined,
    lineEnds: chunk.lineEnds?.slice(from, to),
  };
}

/**
 * What the input readers share: the plan, set once the columns are known, and the chunk being
 * filled, whose first line is where a failed load resumes.
 */
export abstract class RecordReader<Plan> {
  private plan: Plan | undefined;
  private builder: ChunkBuilder | undefined;

  constructor(private readonly keepRaw: boolean) {}

  /** Line of the first record read but not yet handed out. */
  pendingLine(): number | undefined {
    return this.builder?.firstLine;
  }

  setPlan(plan: Plan): void {
    this.plan = plan;
  }

  /** The plan and a new chunk builder, as records() starts. */
  protected beginRecords(): { plan: Plan; builder: ChunkBuilder } {
    if (this.plan === undefined) throw new Error('setPlan() first');
    this.builder = new ChunkBuilder(this.keepRaw);
    return { plan: this.plan, builder: this.builder };
  }
}
