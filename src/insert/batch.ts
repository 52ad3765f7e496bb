// Batches: the records the loader sends in one COPY (and, for --commit-every, commits together).
// A batch knows where each of its records came from, so a server error on "COPY line N" maps back
// to the input line; when it may be sent again (--on-error skip, parallel workers) it keeps its bytes.
import { positionAfter, sliceChunk, type InputPosition, type RecordChunk } from './chunks.js';
import type { TargetColumn } from './target.js';

export class Batch {
  readonly pieces: RecordChunk[] = [];
  // Compact line map: consecutive lines are stored as their first line only.
  // COPY lines: where each run starts in the COPY data, and its records' spans when not all 1.
  private readonly lineRuns: Array<{ start: number; count: number; first: number; lines: Float64Array | undefined; copyStart: number; spans: number[] | undefined }> = [];
  private copyLines = 0;
  count = 0;
  bytes = 0;
  /** Where the record after its last one starts in the input, when the reader knows. */
  next: InputPosition | undefined;
  /** The buffer that holds all its bytes, when packLast() moved them there. */
  buffer: Buffer | undefined;
  /** Bytes of its pieces in `buffer`. */
  private packedBytes = 0;

  /**
   * @param columns the columns its records fill (JSON input may widen them between batches)
   * @param firstRecord ordinal of its first record in the input (what --resume counts)
   */
  constructor(readonly columns: TargetColumn[], readonly firstRecord: number, private readonly keepBytes: boolean) {}

  add(chunk: RecordChunk): void {
    const n = chunk.lines.length;
    const first = chunk.lines[0];
    const consecutive = chunk.lines[n - 1] - first === n - 1 && isRun(chunk.lines, first);
    this.lineRuns.push({ start: this.count, count: n, first, lines: consecutive ? undefined : chunk.lines, copyStart: this.copyLines, spans: chunk.spans });
    this.copyLines += chunk.spans !== undefined ? chunk.spans.reduce((sum, span) => sum + span, 0) : n;
    if (this.keepBytes) this.pieces.push(chunk);
    this.count += n;
    this.bytes += chunk.data.length;
    this.next = positionAfter(chunk);
  }

  get firstLine(): number {
    return this.lineRuns[0]?.first ?? NaN;
  }

  lineOf(index: number): number {
    for (const run of this.lineRuns) {
      if (index < run.start + run.count) return run.lines !== undefined ? run.lines[index - run.start] : run.first + index - run.start;
    }
    return NaN;
  }

  /** COPY lines before record `index` in a COPY of the whole batch. */
  copyLineOf(index: number): number {
    for (const run of this.lineRuns) {
      if (index < run.start + run.count) {
        const k = index - run.start;
        return run.copyStart + (run.spans === undefined ? k : run.spans.slice(0, k).reduce((sum, span) => sum + span, 0));
      }
    }
    return this.copyLines;
  }

  /**
   * The record COPY names as "line N" in a COPY that began with record `from`; undefined when out
   * of range. COPY counts a record's line breaks once it has read it, except those of its first
   * record (checked on PostgreSQL 15 and 18), so N is where the failing record ends, less the
   * extra lines of the first.
   */
  recordAtCopyLine(from: number, line: number): number | undefined {
    const target = this.copyLineOf(from) + line + this.copyLineOf(from + 1) - this.copyLineOf(from) - 1;
    for (const run of this.lineRuns) {
      if (run.start + run.count <= from) continue;
      if (run.spans === undefined) {
        const k = run.start + target - run.copyStart - 1;
        if (k < run.start + run.count) return Math.max(k, from);
        continue;
      }
      let end = run.copyStart;
      for (let k = 0; k < run.count; k += 1) {
        end += run.spans[k];
        if (run.start + k >= from && end >= target) return run.start + k;
      }
    }
    return undefined;
  }

  /**
   * Copies the bytes of the piece added last (kept batches only) into the batch's own buffer and
   * makes the piece a view of its copy: the read buffer it was a view of is free at once, to be
   * filled again. `obtain(n)` gives a buffer of at least n bytes: the first, or a larger one when
   * the batch outgrows its buffer (its pieces so far move there too).
   */
  packLast(obtain: (bytes: number) => Buffer): void {
    const piece = this.pieces[this.pieces.length - 1];
    const needed = this.packedBytes + piece.data.length;
    if (this.buffer === undefined || this.buffer.length < needed) {
      const buffer = obtain(needed);
      let at = 0;
      for (const earlier of this.pieces.slice(0, -1)) {
        earlier.data.copy(buffer, at);
        earlier.data = buffer.subarray(at, at + earlier.data.length);
        at += earlier.data.length;
      }
      this.buffer = buffer;
    }
    const at = this.packedBytes;
    piece.data.copy(this.buffer, at);
    piece.data = this.buffer.subarray(at, needed);
    this.packedBytes = needed;
  }

  /** Bytes of records [from, to) (kept batches only). */
  data(from: number, to: number): Buffer[] {
    const parts: Buffer[] = [];
    let start = 0;
    for (const piece of this.pieces) {
      const n = piece.lines.length;
      const a = Math.max(from, start) - start;
      const b = Math.min(to, start + n) - start;
      if (a < b) parts.push(piece.data.subarray(piece.offsets[a], piece.offsets[b]));
      start += n;
    }
    return parts;
  }

  raw(index: number): string {
    let start = 0;
    for (const piece of this.pieces) {
      if (index < start + piece.lines.length) return piece.raw?.[index - start] ?? piece.data.toString('utf8', piece.offsets[index - start], piece.offsets[index - start + 1]).replace(/\r?\n$/, '');
      start += piece.lines.length;
    }
    return '';
  }
}

/** Record ordinals [from, to) already committed by an earlier run of a resumed load. */
export interface DoneRange {
  from: number;
  to: number;
  /** Where record `to` starts in the input, when known. */
  next?: InputPosition;
}

/**
 * Cuts the reader's chunks into batches: at a record limit, at --commit-every boundaries (counted
 * in input records from the start, so a resumed run cuts the same windows), where JSON input
 * widens its columns, and around records a resumed load already committed.
 */
export class BatchCutter {
  private readonly iterator: AsyncIterator<RecordChunk>;
  private leftover: RecordChunk | undefined;
  /** Ordinal of the next record handed out (or dropped as done). */
  private ordinal: number;

  /** `firstRecord`: the ordinal of the first record the chunks hold (a resumed load may start past 0). */
  constructor(chunks: AsyncIterable<RecordChunk>, private readonly defaultColumns: TargetColumn[], private readonly done: DoneRange[] = [], firstRecord = 0) {
    this.iterator = chunks[Symbol.asyncIterator]();
    this.ordinal = firstRecord;
  }

  /** Line of the first record read but not yet in a batch. */
  pendingLine(): number | undefined {
    return this.leftover?.lines[0];
  }

  /** Records `batch` may still take before its --commit-every window ends. */
  roomInWindow(batch: Batch, commitEvery: number | undefined): number {
    if (commitEvery === undefined) return Number.MAX_SAFE_INTEGER;
    const windowEnd = (Math.floor(batch.firstRecord / commitEvery) + 1) * commitEvery;
    return windowEnd - (batch.firstRecord + batch.count);
  }

  /** A new, empty batch for the next records (undefined at the end of the input). */
  async open(keepBytes: boolean): Promise<Batch | undefined> {
    const chunk = await this.peek();
    if (chunk === undefined) return undefined;
    return new Batch(chunk.columns ?? this.defaultColumns, this.ordinal, keepBytes);
  }

  /** The next piece of at most `room` records that belongs to `batch` (same columns, contiguous). */
  async piece(batch: Batch, room: number): Promise<RecordChunk | undefined> {
    if (room <= 0) return undefined;
    const chunk = await this.peek();
    if (chunk === undefined || (chunk.columns ?? this.defaultColumns) !== batch.columns) return undefined;
    if (this.ordinal !== batch.firstRecord + batch.count) return undefined;
    this.leftover = undefined;
    const n = chunk.lines.length;
    let piece = chunk;
    if (n > room) {
      this.leftover = sliceChunk(chunk, room, n);
      piece = sliceChunk(chunk, 0, room);
    }
    this.ordinal += piece.lines.length;
    return piece;
  }

  /** The next chunk, with records of done ranges dropped. */
  private async peek(): Promise<RecordChunk | undefined> {
    for (;;) {
      if (this.leftover === undefined) {
        const next = await this.iterator.next();
        if (next.done === true) return undefined;
        this.leftover = next.value;
      }
      const chunk = this.leftover;
      const n = chunk.lines.length;
      const range = this.done.find((r) => r.to > this.ordinal && r.from < this.ordinal + n);
      if (range === undefined) return chunk;
      if (range.from > this.ordinal) {
        // Records before the done range stay; the range itself is dropped on a later call.
        return chunk;
      }
      const skip = Math.min(n, range.to - this.ordinal);
      this.ordinal += skip;
      this.leftover = skip < n ? sliceChunk(chunk, skip, n) : undefined;
    }
  }

  /** Records that may still join a batch before the next done range. */
  roomBeforeDone(): number {
    const next = this.done.filter((r) => r.from >= this.ordinal).reduce((min, r) => Math.min(min, r.from), Infinity);
    return next === Infinity ? Number.MAX_SAFE_INTEGER : next - this.ordinal;
  }
}

/** Whether lines[i] is first + i throughout (a loop: a callback per record allocated). */
function isRun(lines: Float64Array, first: number): boolean {
  for (let i = 0; i < lines.length; i += 1) if (lines[i] !== first + i) return false;
  return true;
}
