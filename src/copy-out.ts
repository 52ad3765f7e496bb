// `COPY … TO STDOUT` as a readable stream of the bytes the rows make, read in one pass over each
// socket chunk. The server sends every row as its own CopyData message; pg-copy-streams keeps a
// buffer object per message, which for a 1M-row export cost more client CPU (and garbage
// collection) than the server's side of the work on 2 cores. Here each chunk is compacted in
// place — message headers squeezed out — and passed on as one buffer. pg-copy-streams still
// attaches the stream to pg's connection and hands the socket back afterwards; only its parser is
// replaced (its private parts are reached through src/pg-internals.ts).
import type { Readable } from 'node:stream';
import type { Submittable } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { scavengeAfterReading } from './memory.js';
import { copyToStreamClass, handCopySocketBack, releaseCopyStream } from './pg-internals.js';

const COPY_DATA = 0x64; // d
const COPY_DONE = 0x63; // c
const ERROR_RESPONSE = 0x45; // E
// Messages the server may send in the middle of COPY data; anything else ends it.
const PASSED_OVER = new Set([0x48 /* H CopyOutResponse */, 0x53 /* S ParameterStatus */, 0x4e /* N Notice */, 0x41 /* A Notification */]);
const MESSAGE_HEADER = 5;
// FORMAT binary: an 11-byte signature, flags and header-extension length (always 0 from the
// server) open the data; every row starts with its field count (int16) and field length (int32).
const BINARY_FILE_HEADER = 19;
const BINARY_ROW_HEADER = 6;
const NEWLINE = Buffer.from('\n');

/**
 * What the COPY sends: `text` passes the rows through as they are (csv, text formats);
 * `binary-lines` reads a one-column, never-null FORMAT binary COPY and writes each value followed
 * by a newline — for text that must reach the client unescaped (JSON), with no per-byte work for
 * the server.
 */
export type CopyOutEncoding = 'text' | 'binary-lines';

export interface CopyOutStream extends Readable, Submittable {
  /** Rows copied, from the server's command tag; set once the stream has ended. */
  readonly rowCount: number;
}

const CopyStreamQuery = copyToStreamClass(copyTo);

class CompactingCopyOut extends CopyStreamQuery {
  private readonly binary: boolean;
  // Bytes of a message header cut off at the end of the previous chunk.
  private pendingHeader: Buffer | null = null;
  private inMessage = false;
  private messageCode = 0;
  private remaining = 0;
  private skip = 0;
  private endsLine = false;
  private sawData = false;

  constructor(text: string, encoding: CopyOutEncoding) {
    super(text);
    this.binary = encoding === 'binary-lines';
  }

  /** Replaces pg-copy-streams' parser (see copyToStreamClass); returns whether the consumer still wants data. */
  _parse(chunk: Buffer): boolean {
    // The chunks are passed on as they are and die soon after, with little other garbage.
    scavengeAfterReading(chunk.length);
    let buf = chunk;
    if (this.pendingHeader !== null) {
      buf = Buffer.concat([this.pendingHeader, chunk]);
      this.pendingHeader = null;
    }
    // Output is written into `buf` itself, behind the read position `pos`: [flushed, out).
    let pos = 0;
    let flushed = 0;
    let out = 0;
    let wanted = true;
    let done = false;
    while (pos < buf.length) {
      if (!this.inMessage) {
        const code = buf[pos];
        if (code === ERROR_RESPONSE) {
          // pg's own parser reads the error and fails the query (as pg-copy-streams does).
          handCopySocketBack(this, buf.subarray(pos));
          return false;
        }
        if (code !== COPY_DATA && code !== COPY_DONE && !PASSED_OVER.has(code)) {
          done = true;
          break;
        }
        if (buf.length - pos < MESSAGE_HEADER) {
          this.pendingHeader = Buffer.from(buf.subarray(pos));
          pos = buf.length;
          break;
        }
        this.messageCode = code;
        this.remaining = buf.readUInt32BE(pos + 1) - 4;
        pos += MESSAGE_HEADER;
        this.inMessage = true;
        if (code === COPY_DATA && this.binary) {
          this.skip = this.sawData ? BINARY_ROW_HEADER : BINARY_FILE_HEADER + BINARY_ROW_HEADER;
          // The last message holds only the trailer (field count -1): no line for it.
          this.endsLine = this.remaining > this.skip;
        }
        if (code === COPY_DATA) this.sawData = true;
      }
      const available = Math.min(this.remaining, buf.length - pos);
      if (this.messageCode === COPY_DATA && available > 0) {
        let start = pos;
        if (this.skip > 0) {
          const skipped = Math.min(this.skip, available);
          this.skip -= skipped;
          start += skipped;
        }
        const end = pos + available;
        if (end > start) {
          if (out !== start) buf.copyWithin(out, start, end);
          out += end - start;
        }
      }
      pos += available;
      this.remaining -= available;
      if (this.remaining > 0) continue;
      this.inMessage = false;
      if (this.messageCode === COPY_DATA && this.endsLine) {
        if (out < pos) {
          buf[out++] = 0x0a;
        } else {
          // The row began in an earlier chunk, so no header bytes are free here for its newline.
          if (out > flushed) wanted = this.push(buf.subarray(flushed, out));
          wanted = this.push(NEWLINE);
          flushed = out = pos;
        }
      }
      if (this.messageCode === COPY_DONE) {
        done = true;
        break;
      }
    }
    if (out > flushed) wanted = this.push(buf.subarray(flushed, out));
    if (done) {
      // CommandComplete and ReadyForQuery follow: pg's parser reads them (and sets rowCount).
      handCopySocketBack(this, buf.subarray(pos));
      this.push(null);
      releaseCopyStream(this);
      // Stop pg-copy-streams' read loop: the socket belongs to pg again.
      return false;
    }
    return wanted;
  }
}

/** A `COPY … TO STDOUT` statement to pass to `client.query()`, read as a stream. */
export function copyOutStream(sql: string, encoding: CopyOutEncoding): CopyOutStream {
  return new CompactingCopyOut(sql, encoding) as unknown as CopyOutStream;
}
