// Splitting SQL text into statements, as psql does before sending each one: semicolons end a
// statement except inside quotes, dollar quotes, identifiers and comments.

export interface Statement {
  /** The statement without its terminating semicolon. */
  text: string;
  /** 1-based line of the input on which the statement's text starts. */
  line: number;
  /** Offset of `text` in the input. */
  offset: number;
}

const DOLLAR_TAG = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

/** Splits `sql` at top-level semicolons; statements holding only blanks and comments are dropped. */
export function splitStatements(sql: string): Statement[] {
  const statements: Statement[] = [];
  let start = 0;
  let hasCode = false;
  let i = 0;
  // SQL-standard function bodies (BEGIN ATOMIC ... END) contain semicolons of their own.
  let atomicDepth = 0;

  // Line numbers counted on from the previous statement, not from the top each time (a dump of
  // 40k statements would otherwise take most of a minute to split).
  let countedTo = 0;
  let line = 1;
  const push = (end: number) => {
    if (hasCode) {
      const raw = sql.slice(start, end);
      const lead = raw.length - raw.trimStart().length;
      const offset = start + lead;
      for (; countedTo < offset; countedTo += 1) if (sql[countedTo] === '\n') line += 1;
      statements.push({ text: raw.trim(), line, offset });
    }
    hasCode = false;
    start = end + 1;
  };

  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      // Block comments nest in PostgreSQL.
      let depth = 1;
      i += 2;
      while (i < sql.length && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth += 1;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth -= 1;
          i += 2;
        } else i += 1;
      }
      continue;
    }
    hasCode = hasCode || (c !== ';' && !/\s/.test(c));
    if (c === "'") {
      const escapes = i > 0 && /[eE]/.test(sql[i - 1]) && (i < 2 || !/[A-Za-z0-9_]/.test(sql[i - 2]));
      i = skipQuoted(sql, i, "'", escapes);
      continue;
    }
    if (c === '"') {
      i = skipQuoted(sql, i, '"', false);
      continue;
    }
    if (c === '$' && (i === 0 || !/[A-Za-z0-9_]/.test(sql[i - 1]))) {
      const match = DOLLAR_TAG.exec(sql.slice(i, i + 64));
      if (match !== null) {
        const tag = match[0];
        const close = sql.indexOf(tag, i + tag.length);
        i = close === -1 ? sql.length : close + tag.length;
        continue;
      }
    }
    if (/[A-Za-z]/.test(c) && (i === 0 || !/[A-Za-z0-9_$]/.test(sql[i - 1]))) {
      const word = /^[A-Za-z_]+/.exec(sql.slice(i, i + 16))![0].toUpperCase();
      if (word === 'ATOMIC' && /BEGIN\s+$/i.test(sql.slice(Math.max(0, i - 12), i))) atomicDepth += 1;
      else if (word === 'END' && atomicDepth > 0) atomicDepth -= 1;
      i += word.length;
      continue;
    }
    if (c === ';' && atomicDepth === 0) push(i);
    i += 1;
  }
  push(sql.length);
  return statements;
}

function skipQuoted(sql: string, open: number, quote: string, backslashEscapes: boolean): number {
  let i = open + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (backslashEscapes && c === '\\') {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i += 1;
  }
  return sql.length;
}

/** The statement's words outside quotes and comments, upper-cased (for classifying it). */
export function topLevelWords(text: string): string[] {
  const words: string[] = [];
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end + 1;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
    } else if (c === "'" || c === '"') {
      i = skipQuoted(text, i, c, c === "'" && /[eE]/.test(text[i - 1] ?? ''));
    } else if (c === '$' && DOLLAR_TAG.test(text.slice(i, i + 64)) && (i === 0 || !/[A-Za-z0-9_]/.test(text[i - 1]))) {
      const tag = DOLLAR_TAG.exec(text.slice(i, i + 64))![0];
      const close = text.indexOf(tag, i + tag.length);
      i = close === -1 ? text.length : close + tag.length;
    } else if (c === '(') {
      depth += 1;
      i += 1;
    } else if (c === ')') {
      depth -= 1;
      i += 1;
    } else if (/[A-Za-z_]/.test(c)) {
      const word = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(text.slice(i))![0];
      if (depth === 0) words.push(word.toUpperCase());
      i += word.length;
    } else i += 1;
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
  const all = allWords(text);
  return !all.some((word) => word === 'INSERT' || word === 'UPDATE' || word === 'DELETE' || word === 'MERGE');
}

function allWords(text: string): string[] {
  // Parentheses hide nothing from this check: count every word outside quotes and comments.
  return topLevelWords(text.replace(/[()]/g, ' '));
}

/** Quotes an identifier for SQL: always, so case, spaces, quotes and keywords survive. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes a string literal for SQL (standard_conforming_strings is on in every supported server). */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
