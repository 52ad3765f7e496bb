// The one SQL lexer: PostgreSQL's token rules for what hides a semicolon (quotes, dollar quotes,
// quoted identifiers, nested comments, E'' strings), plus psql's own tokens (backslash commands,
// :variables). Hand-written because no npm lexer knows psql's additions, and the statement splitter,
// the statement classifier and the psql script reader must agree on every rule.

export interface Statement {
  /** The statement without its terminating semicolon. */
  text: string;
  /** 1-based line of the input on which the statement's text starts. */
  line: number;
  /** Offset of `text` in the input. */
  offset: number;
}

export const enum Token {
  Space,
  Comment,
  /** '…', E'…', U&'…', B'…', X'…' */
  String,
  /** "…" */
  QuotedIdent,
  /** $tag$ … $tag$ */
  DollarQuoted,
  /** A keyword or identifier (letters, digits, _, $). */
  Word,
  /** psql: `:name`, `:'name'`, `:"name"` */
  Variable,
  /** psql: a backslash outside quotes starts a meta-command. */
  Backslash,
  Semicolon,
  Open,
  Close,
  Other,
}

const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13);
const isIdentStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 128;
const isIdentChar = (c: number) => isIdentStart(c) || (c >= 48 && c <= 57) || c === 36;
const isDigit = (c: number) => c >= 48 && c <= 57;
const isVariableChar = (c: number) => isIdentStart(c) || isDigit(c);

/**
 * Reads `text` token by token. `end` and `kind` describe the token last read by next();
 * `unterminated` says it ran into the end of the text (a quote or comment not closed yet).
 */
export class SqlLexer {
  pos: number;
  start = 0;
  end = 0;
  kind: Token = Token.Space;
  unterminated = false;

  constructor(readonly text: string, from = 0, private readonly psql = false) {
    this.pos = from;
  }

  /** Reads the next token; false at the end of the text. */
  next(): boolean {
    const text = this.text;
    const i = this.pos;
    if (i >= text.length) return false;
    this.start = i;
    this.unterminated = false;
    const c = text.charCodeAt(i);
    const n = text.charCodeAt(i + 1);
    if (isSpace(c)) {
      let j = i + 1;
      while (j < text.length && isSpace(text.charCodeAt(j))) j += 1;
      return this.token(Token.Space, j);
    }
    if (c === 45 /* - */ && n === 45) {
      const eol = text.indexOf('\n', i);
      if (eol === -1) this.unterminated = true;
      return this.token(Token.Comment, eol === -1 ? text.length : eol + 1);
    }
    if (c === 47 /* / */ && n === 42 /* * */) return this.token(Token.Comment, this.blockCommentEnd(i));
    if (c === 39 /* ' */) return this.token(Token.String, this.quotedEnd(i, 39, false));
    if (c === 34 /* " */) return this.token(Token.QuotedIdent, this.quotedEnd(i, 34, false));
    if ((c === 69 || c === 101) /* E e */ && n === 39) return this.token(Token.String, this.quotedEnd(i + 1, 39, true));
    if ((c === 85 || c === 117) /* U u */ && n === 38 /* & */ && (text.charCodeAt(i + 2) === 39 || text.charCodeAt(i + 2) === 34)) {
      const quote = text.charCodeAt(i + 2);
      return this.token(quote === 39 ? Token.String : Token.QuotedIdent, this.quotedEnd(i + 2, quote, false));
    }
    if (c === 36 /* $ */) {
      const tagEnd = this.dollarTagEnd(i);
      if (tagEnd !== -1) {
        const tag = text.slice(i, tagEnd);
        const close = text.indexOf(tag, tagEnd);
        if (close === -1) this.unterminated = true;
        return this.token(Token.DollarQuoted, close === -1 ? text.length : close + tag.length);
      }
      // $1: a parameter.
      let j = i + 1;
      while (j < text.length && isDigit(text.charCodeAt(j))) j += 1;
      return this.token(Token.Other, j);
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < text.length && isIdentChar(text.charCodeAt(j))) j += 1;
      return this.token(Token.Word, j);
    }
    if (isDigit(c)) {
      // A number, with its exponent, fraction or trailing junk in one token.
      let j = i + 1;
      while (j < text.length && (isIdentChar(text.charCodeAt(j)) || text.charCodeAt(j) === 46)) j += 1;
      return this.token(Token.Other, j);
    }
    if (c === 59) return this.token(Token.Semicolon, i + 1);
    if (c === 40) return this.token(Token.Open, i + 1);
    if (c === 41) return this.token(Token.Close, i + 1);
    if (this.psql && c === 92 /* \ */) return this.token(Token.Backslash, i + 1);
    if (c === 58 /* : */) {
      if (n === 58) {
        // `::` is a cast, never a variable.
        let j = i + 2;
        while (text.charCodeAt(j) === 58) j += 1;
        return this.token(Token.Other, j);
      }
      if (this.psql) {
        if (isVariableChar(n)) {
          let j = i + 2;
          while (j < text.length && isVariableChar(text.charCodeAt(j))) j += 1;
          return this.token(Token.Variable, j);
        }
        if (n === 39 || n === 34) {
          let j = i + 2;
          while (j < text.length && isVariableChar(text.charCodeAt(j))) j += 1;
          if (j > i + 2 && text.charCodeAt(j) === n) return this.token(Token.Variable, j + 1);
        }
      }
    }
    return this.token(Token.Other, i + 1);
  }

  /** The text of the token last read. */
  get value(): string {
    return this.text.slice(this.start, this.end);
  }

  private token(kind: Token, end: number): true {
    this.kind = kind;
    this.end = end;
    this.pos = end;
    return true;
  }

  private blockCommentEnd(open: number): number {
    // Block comments nest in PostgreSQL.
    const text = this.text;
    let depth = 1;
    let i = open + 2;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 47 && text.charCodeAt(i + 1) === 42) {
        depth += 1;
        i += 2;
      } else if (c === 42 && text.charCodeAt(i + 1) === 47) {
        depth -= 1;
        i += 2;
        if (depth === 0) return i;
      } else i += 1;
    }
    this.unterminated = true;
    return text.length;
  }

  private quotedEnd(open: number, quote: number, backslashEscapes: boolean): number {
    const text = this.text;
    let i = open + 1;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (backslashEscapes && c === 92) {
        i += 2;
        continue;
      }
      if (c === quote) {
        // A doubled quote is one quote; at the very end of the text it may be one still to come.
        if (i + 1 >= text.length) {
          this.unterminated = true;
          return text.length;
        }
        if (text.charCodeAt(i + 1) === quote) {
          i += 2;
          continue;
        }
        return i + 1;
      }
      i += 1;
    }
    this.unterminated = true;
    return text.length;
  }

  /** The end of a dollar-quote tag starting at `i` (`$$`, `$tag$`), or -1 when `$` starts none. */
  private dollarTagEnd(i: number): number {
    const text = this.text;
    let j = i + 1;
    if (j < text.length && isIdentStart(text.charCodeAt(j))) {
      j += 1;
      while (j < text.length && (isIdentStart(text.charCodeAt(j)) || isDigit(text.charCodeAt(j)))) j += 1;
    }
    if (j >= text.length) {
      // `$ab` at the end of the text may still become `$ab$`.
      this.unterminated = true;
      return -1;
    }
    return text.charCodeAt(j) === 36 ? j + 1 : -1;
  }
}

/**
 * psql's rule for where a statement ends: a semicolon outside parentheses, except inside the body
 * of CREATE [OR REPLACE] FUNCTION|PROCEDURE … BEGIN … END (SQL-standard bodies; CASE … END nests
 * there). Fed every token of one statement; reset() after each.
 */
export class StatementEnd {
  private parens = 0;
  private beginDepth = 0;
  private words = 0;
  private routine = '';
  hasCode = false;

  reset(): void {
    this.parens = 0;
    this.beginDepth = 0;
    this.words = 0;
    this.routine = '';
    this.hasCode = false;
  }

  /** True when the token just read ends the statement. */
  ends(lexer: SqlLexer): boolean {
    switch (lexer.kind) {
      case Token.Space:
      case Token.Comment:
        return false;
      case Token.Semicolon:
        return this.parens === 0 && this.beginDepth === 0;
      case Token.Open:
        this.parens += 1;
        break;
      case Token.Close:
        if (this.parens > 0) this.parens -= 1;
        break;
      case Token.Word:
        this.word(lexer.value.toLowerCase());
        break;
      default:
        break;
    }
    this.hasCode = true;
    return false;
  }

  private word(word: string): void {
    if (this.words < 4) {
      // The first letters of CREATE / OR / REPLACE / FUNCTION / PROCEDURE, as psql keeps them.
      const known = word === 'create' || word === 'or' || word === 'replace' || word === 'function' || word === 'procedure';
      this.routine += known ? word[0] : ' ';
    }
    this.words += 1;
    const r = this.routine;
    const isRoutine = r[0] === 'c' && (r[1] === 'f' || r[1] === 'p' || (r[1] === 'o' && r[2] === 'r' && (r[3] === 'f' || r[3] === 'p')));
    if (!isRoutine || this.parens > 0) return;
    if (word === 'begin') this.beginDepth += 1;
    else if (word === 'case') {
      if (this.beginDepth > 0) this.beginDepth += 1;
    } else if (word === 'end' && this.beginDepth > 0) this.beginDepth -= 1;
  }
}

/** Splits `sql` at statement-ending semicolons; statements holding only blanks and comments are dropped. */
export function splitStatements(sql: string): Statement[] {
  const statements: Statement[] = [];
  const lexer = new SqlLexer(sql);
  const end = new StatementEnd();
  let start = 0;
  // Line numbers counted on from the previous statement, not from the top each time (a dump of
  // 40k statements would otherwise take most of a minute to split).
  let countedTo = 0;
  let line = 1;
  const push = (stop: number) => {
    if (end.hasCode) {
      const raw = sql.slice(start, stop);
      const offset = start + (raw.length - raw.trimStart().length);
      for (; countedTo < offset; countedTo += 1) if (sql.charCodeAt(countedTo) === 10) line += 1;
      statements.push({ text: raw.trim(), line, offset });
    }
    end.reset();
  };
  while (lexer.next()) {
    if (end.ends(lexer)) {
      push(lexer.start);
      start = lexer.end;
    }
  }
  push(sql.length);
  return statements;
}

/** The statement's words outside quotes, comments and parentheses, upper-cased (for classifying it). */
export function topLevelWords(text: string, insideParentheses = false): string[] {
  const words: string[] = [];
  const lexer = new SqlLexer(text);
  let depth = 0;
  while (lexer.next()) {
    if (lexer.kind === Token.Open) depth += 1;
    else if (lexer.kind === Token.Close) depth -= 1;
    else if (lexer.kind === Token.Word && (depth === 0 || insideParentheses)) words.push(lexer.value.toUpperCase());
  }
  return words;
}

/**
 * True when the statement is a plain query that `COPY (…) TO STDOUT` accepts and that changes no
 * data: a SELECT/VALUES/TABLE, or a WITH whose top level holds no INSERT/UPDATE/DELETE/MERGE.
 * (Data-modifying CTEs nest inside parentheses, so all words are checked, not only the top level.)
 */
export function isPlainQuery(text: string): boolean {
  const top = topLevelWords(text);
  const first = top[0];
  if (first === undefined) return false;
  if (top.includes('INTO')) return false; // SELECT … INTO creates a table
  if (first === 'SELECT' || first === 'VALUES' || first === 'TABLE') return true;
  if (first !== 'WITH') return false;
  const all = topLevelWords(text, true);
  return !all.some((word) => word === 'INSERT' || word === 'UPDATE' || word === 'DELETE' || word === 'MERGE');
}

/** Quotes an identifier for SQL: always, so case, spaces, quotes and keywords survive. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes a string literal for SQL (standard_conforming_strings is on in every supported server). */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
