// Reads a psql script (a file, stdin or a string) item by item without holding it whole: SQL
// statements (variables interpolated as psql does), backslash meta-commands, and the inline data
// of `COPY … FROM stdin` up to `\.`, passed on as the file's own bytes.
//
// The bytes are lexed through a latin1 view (one char per byte): every token psql cares about is
// ASCII and UTF-8 never uses ASCII bytes inside a multi-byte character, so offsets in the view are
// offsets in the buffer; only statement text is decoded as UTF-8.
//
// The file is read with positional reads into buffers the reader owns (no stream, no
// Buffer.concat per chunk). `checking` turns on the cheap pass runScript makes before anything
// runs: no statement text is decoded, no line is counted (a line is found again only for an
// error), COPY data is skipped by looking for backslashes, and one buffer is reused throughout.
import fs from 'node:fs';
import { SqlLexer, StatementEnd, Token } from '../sql.js';

export type ScriptItem =
  | { kind: 'sql'; text: string; line: number; /** Byte offset in the source (for lineOfOffset while checking). */ offset: number; words: string[]; copyFromStdin: boolean }
  | {
      kind: 'meta';
      name: string;
      args: string;
      line: number;
      offset: number;
      /** SQL typed before the command on its line or lines, not yet sent. */
      pending: string;
    };

export interface VariableLookup {
  get(name: string): string | undefined;
}

// COPY data goes on in pieces of this size (one CopyData message each). Larger reads did not
// speed a restore up, and their latin1 views (over ~1 MB) become external strings outside the heap.
const CHUNK_BYTES = 1 << 18;

type Source = { kind: 'file'; path: string } | { kind: 'buffer' };

export class ScriptReader {
  private buf: Buffer = Buffer.alloc(0);
  // The latin1 view of buf, made when a statement is lexed (COPY data is scanned as bytes).
  private view: string | undefined = '';
  private get text(): string {
    return (this.view ??= this.buf.toString('latin1'));
  }
  // Whether `pos` is at the start of a line (for finding the `\.` line in COPY data).
  private lineStart = true;
  private pos = 0;
  private eof = false;
  /** Line number at `countedTo` (an offset in buf). */
  private line = 1;
  private countedTo = 0;
  /** Bytes of the source before buf[0]. */
  private dropped = 0;
  private readonly source: Source;
  private fd: number | undefined;
  private readAt = 0;
  /** The memory behind buf, and the one used before it: read into in turn (see fill()). */
  private memory: Buffer | undefined;
  private spare: Buffer | undefined;
  // SQL text carried over a meta-command in the middle of a statement.
  private carried = '';
  private carriedLine = 0;
  private readonly end = new StatementEnd();
  /** False inside an \if branch not taken: nothing is interpolated. */
  interpolate = true;
  /** The check pass: items carry no text and no line (see the top of this file). */
  checking = false;

  constructor(
    readonly name: string,
    source: { path: string } | Buffer,
    private readonly variables: VariableLookup,
    private readonly chunkBytes = CHUNK_BYTES,
  ) {
    if (Buffer.isBuffer(source)) {
      this.buf = source;
      this.view = undefined;
      this.eof = true;
      this.source = { kind: 'buffer' };
    } else this.source = { kind: 'file', path: source.path };
  }

  static fromFile(path: string, variables: VariableLookup, name = path, chunkBytes?: number): ScriptReader {
    return new ScriptReader(name, { path }, variables, chunkBytes);
  }

  /** Reads more of the source; false at its end. Drops what was consumed before `pos`. */
  private async fill(): Promise<boolean> {
    if (this.eof || this.source.kind !== 'file') return false;
    // The reads block: while checking, let the connection that opens meanwhile go on.
    if (this.checking) await new Promise(setImmediate);
    else this.lineAt(this.pos);
    const rest = this.buf.length - this.pos;
    const size = rest + this.chunkBytes;
    // Two buffers in turn, so a fresh 256 KiB is not left to the garbage collector per read (a
    // restore's RSS grew by the dead buffers). Reusing one is safe: while checking nothing read is
    // handed on; while running, COPY data goes out as views of at least HANDED_ON_WHOLE bytes
    // (smaller pieces as copies), and copyIn() asks for the next piece only when write() of the
    // last one was drained: for a piece over the streams' 16 KiB high-water mark, only once the
    // socket has passed it to the kernel. The next read comes after that ask.
    let target = this.spare !== undefined && this.spare.length >= size ? this.spare : Buffer.allocUnsafeSlow(size);
    if (target === this.memory) target = Buffer.allocUnsafeSlow(size);
    this.buf.copy(target, 0, this.pos);
    this.spare = this.memory;
    this.memory = target;
    // Blocking reads: from the page cache they take microseconds, and the thread pool's hand-offs
    // cost more CPU than the reads (futex and epoll wake-ups in strace).
    this.fd ??= fs.openSync(this.source.path, 'r');
    const bytesRead = fs.readSync(this.fd, target, rest, size - rest, this.readAt);
    this.readAt += bytesRead;
    this.dropped += this.pos;
    this.countedTo -= this.pos;
    this.pos = 0;
    this.view = undefined;
    this.buf = target.subarray(0, rest + bytesRead);
    if (bytesRead === 0) {
      this.eof = true;
      await this.close();
      return false;
    }
    return true;
  }

  /** Lets go of the file (at its end this happens by itself). */
  async close(): Promise<void> {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) fs.closeSync(fd);
  }

  /** The 1-based line of a byte offset of the source, read again from its start (for errors found while checking). */
  async lineOfOffset(offset: number): Promise<number> {
    let lines = 1;
    const count = (bytes: Buffer, upTo: number) => {
      for (let at = bytes.indexOf(10); at !== -1 && at < upTo; at = bytes.indexOf(10, at + 1)) lines += 1;
    };
    if (this.source.kind === 'buffer') {
      count(this.buf, offset);
      return lines;
    }
    const handle = await fs.promises.open(this.source.path, 'r');
    try {
      const chunk = Buffer.allocUnsafeSlow(this.chunkBytes);
      for (let at = 0; at < offset; ) {
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, at);
        if (bytesRead === 0) break;
        count(chunk.subarray(0, bytesRead), offset - at);
        at += bytesRead;
      }
    } finally {
      await handle.close();
    }
    return lines;
  }

  /** The 1-based line of `offset`, counted on from the last call (offsets only grow). */
  private lineAt(offset: number): number {
    if (offset <= this.countedTo) return this.line;
    let from = this.countedTo;
    for (;;) {
      const nl = this.buf.indexOf(10, from);
      if (nl === -1 || nl >= offset) break;
      this.line += 1;
      from = nl + 1;
    }
    this.countedTo = offset;
    return this.line;
  }

  private decode(start: number, end: number): string {
    return this.buf.toString('utf8', start, end);
  }

  /** The next statement or meta-command; null at the end of the script. */
  async next(): Promise<ScriptItem | null> {
    for (;;) {
      const item = this.scan();
      if (item !== 'more') return item;
      if (!(await this.fill())) {
        if (!this.eof) return null;
      }
    }
  }

  /** Lexes from `pos`; 'more' when the item runs past the buffered text and more may come. */
  private scan(): ScriptItem | null | 'more' {
    const lexer = new SqlLexer(this.text, this.pos, true);
    this.end.reset();
    let codeStart = -1;
    let pieces = '';
    let pieceStart = this.pos;
    const words: string[] = [];
    let depth = 0;
    while (lexer.next()) {
      if (lexer.unterminated && !this.eof) return 'more';
      const kind = lexer.kind;
      if (kind === Token.Backslash) {
        const lineEnd = this.text.indexOf('\n', lexer.start);
        if (lineEnd === -1 && !this.eof) return 'more';
        return this.meta(lexer.start, lineEnd === -1 ? this.text.length : lineEnd, codeStart, pieces + this.decode(pieceStart, lexer.start));
      }
      if (kind !== Token.Space && kind !== Token.Comment && codeStart === -1) codeStart = lexer.start;
      if (this.end.ends(lexer)) {
        const item = this.statement(codeStart, this.checking ? '' : pieces + this.decode(pieceStart, lexer.start), words);
        this.pos = lexer.end;
        if (item !== null) {
          if (item.copyFromStdin) this.skipRestOfLine();
          return item;
        }
        // An empty statement (a lone `;`): go on.
        return this.scan();
      }
      if (kind === Token.Open) depth += 1;
      else if (kind === Token.Close) depth -= 1;
      else if (kind === Token.Word && depth === 0 && words.length < 8 && (!this.checking || words.length === 0 || words[0] === 'COPY')) words.push(lexer.value.toUpperCase());
      else if (kind === Token.Variable && this.interpolate) {
        const value = this.variable(lexer.value);
        if (value !== undefined) {
          pieces += this.decode(pieceStart, lexer.start) + value;
          pieceStart = lexer.end;
        }
      }
    }
    if (!this.eof) return 'more';
    // The end of the script: what is left is sent without a semicolon, as psql does.
    const item = this.statement(codeStart, this.checking ? '' : pieces + this.decode(pieceStart, this.text.length), words);
    this.pos = this.text.length;
    return item;
  }

  private statement(codeStart: number, text: string, words: string[]): Extract<ScriptItem, { kind: 'sql' }> | null {
    const hasCode = codeStart !== -1;
    if (!hasCode && this.carried === '') return null;
    const line = this.checking ? 0 : this.carried !== '' ? this.carriedLine : this.lineAt(codeStart);
    const full = (this.carried + text).trim();
    this.carried = '';
    const fromAt = words.indexOf('FROM');
    const copyFromStdin = words[0] === 'COPY' && fromAt !== -1 && words[fromAt + 1] === 'STDIN';
    return { kind: 'sql', text: full, line, offset: this.dropped + Math.max(codeStart, 0), words, copyFromStdin };
  }

  private meta(backslash: number, lineEnd: number, codeStart: number, before: string): ScriptItem {
    if (codeStart !== -1 && this.carried === '' && !this.checking) this.carriedLine = this.lineAt(codeStart);
    const line = this.checking ? 0 : this.lineAt(backslash);
    const pending = this.carried + before;
    // `\\` ends a meta-command early; what follows on the line is SQL again.
    let stop = this.text.indexOf('\\\\', backslash + 1);
    if (stop === -1 || stop > lineEnd) stop = lineEnd;
    const body = this.decode(backslash + 1, stop).replace(/\r$/, '');
    const nameMatch = /^[^\s\\]*/.exec(body)!;
    this.pos = stop === lineEnd ? Math.min(lineEnd + 1, this.text.length) : stop + 2;
    this.carried = pending.trim() === '' ? '' : pending;
    return { kind: 'meta', name: nameMatch[0], args: body.slice(nameMatch[0].length), line, offset: this.dropped + backslash, pending };
  }

  /** Clears SQL typed before a meta-command that sent it (\g, \gset, \gexec) or dropped it (\r). */
  clearPending(): void {
    this.carried = '';
  }

  private variable(token: string): string | undefined {
    const quote = token[1];
    if (quote === "'" || quote === '"') {
      const value = this.variables.get(token.slice(2, -1));
      if (value === undefined) return undefined;
      return quote === "'" ? `'${value.replace(/'/g, "''")}'` : `"${value.replace(/"/g, '""')}"`;
    }
    return this.variables.get(token.slice(1));
  }

  private skipRestOfLine(): void {
    const nl = this.text.indexOf('\n', this.pos);
    // The data starts on the line after the COPY statement.
    this.pos = nl === -1 ? this.text.length : nl + 1;
    if (nl === -1) this.pendingDataLine = true;
  }

  private pendingDataLine = false;

  /**
   * The inline data after `COPY … FROM stdin`, up to a line holding only `\.` (or the end of the
   * script), as the script's own bytes: whole chunks are passed on without copying.
   */
  async *copyData(): AsyncGenerator<Buffer> {
    if (this.pendingDataLine) {
      // The statement ended at the end of the buffer: the rest of its line may still be to come.
      this.pendingDataLine = false;
      for (;;) {
        const nl = this.buf.indexOf(10, this.pos);
        if (nl !== -1) {
          this.pos = nl + 1;
          break;
        }
        this.pos = this.buf.length;
        if (!(await this.fill())) return;
      }
    }
    this.lineStart = true;
    for (;;) {
      const marker = this.findEndMarker();
      if (marker !== -1) {
        if (marker > this.pos) yield this.handOn(this.pos, marker);
        const nl = this.buf.indexOf(10, marker);
        this.pos = nl === -1 ? this.buf.length : nl + 1;
        this.lineStart = true;
        return;
      }
      // Pass on everything but a last line that may still become `\.`.
      let upTo = this.buf.length;
      if (!this.eof) {
        const lastNl = this.buf.lastIndexOf(10);
        const tailStart = lastNl === -1 ? this.pos : lastNl + 1;
        const tailAtLineStart = lastNl !== -1 || this.lineStart;
        if (tailAtLineStart && tailStart >= this.pos && isMarkerPrefix(this.buf.subarray(tailStart))) upTo = tailStart;
      }
      if (upTo > this.pos) {
        yield this.handOn(this.pos, upTo);
        this.lineStart = this.buf[upTo - 1] === 10;
        this.pos = upTo;
      }
      if (!(await this.fill())) {
        if (this.pos < this.buf.length) {
          yield this.handOn(this.pos, this.buf.length);
          this.pos = this.buf.length;
        }
        return;
      }
    }
  }

  /** COPY data passed on: a view of the buffer, or a copy when small (see fill()). */
  private handOn(start: number, end: number): Buffer {
    const piece = this.buf.subarray(start, end);
    return piece.length >= HANDED_ON_WHOLE ? piece : Buffer.from(piece);
  }

  /** Offset of a `\.` line at or after `pos`, or -1 (also when its line end is not read yet). */
  private findEndMarker(): number {
    const buf = this.buf;
    let at = this.pos;
    for (;;) {
      // One byte is searched with memchr; a two-byte needle took several times longer.
      const found = buf.indexOf(BACKSLASH, at);
      if (found === -1) return -1;
      if (buf[found + 1] !== DOT) {
        at = found + 1;
        continue;
      }
      const atLineStart = found === this.pos ? this.lineStart : buf[found - 1] === 10;
      const after = found + 2;
      const lineEnds = buf[after] === 10 || (buf[after] === 13 && buf[after + 1] === 10) || (after === buf.length && this.eof);
      if (atLineStart && lineEnds) return found;
      at = found + 1;
    }
  }
}

/** Pieces of COPY data this large go on as views of the read buffer (see fill()). */
const HANDED_ON_WHOLE = 64 << 10;
const BACKSLASH = 0x5c;
const DOT = 0x2e;

/** Whether the bytes of a partial last line could still become the `\.` end line. */
function isMarkerPrefix(tail: Buffer): boolean {
  const marker = '\\.\r';
  if (tail.length > marker.length) return false;
  for (let i = 0; i < tail.length; i += 1) if (tail[i] !== marker.charCodeAt(i)) return false;
  return true;
}
