// Tokens of pgbench's `\set` expression language (pgbench's exprscan.l): numbers, :variables,
// function names and keywords (case-insensitive), operators. Hand-written: the language is a
// dozen token kinds and no npm lexer knows pgbench's rules (`9223372036854775808` only after `-`).

export type TokenKind = 'int' | 'maxint1' | 'double' | 'variable' | 'word' | 'op' | 'end';

export interface Token {
  kind: TokenKind;
  /** The token's text; for words, lower-cased. */
  text: string;
  /** 0-based offset in the expression. */
  at: number;
  int?: bigint;
  double?: number;
}

/** A syntax error at an offset of the expression. */
export class ExpressionSyntaxError extends Error {
  constructor(message: string, readonly at: number) {
    super(message);
  }
}

const INT64_MAX = 9223372036854775807n;
const OPERATORS = ['<=', '>=', '<>', '!=', '<<', '>>', '+', '-', '*', '/', '%', '(', ')', ',', '<', '>', '=', '&', '|', '#', '~'];
const NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?/y;
const NAME = /[A-Za-z0-9_\u0080-\uffff]+/y;
const WORD = /[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*/y;

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const char = source[i];
    if (/\s/.test(char)) {
      i += 1;
      continue;
    }
    if (char === ':') {
      NAME.lastIndex = i + 1;
      const match = NAME.exec(source);
      if (match === null) throw new ExpressionSyntaxError('a variable name must follow ":"', i);
      tokens.push({ kind: 'variable', text: match[0], at: i });
      i = NAME.lastIndex;
      continue;
    }
    if (/[0-9.]/.test(char)) {
      NUMBER.lastIndex = 0;
      const match = NUMBER.exec(source.slice(i));
      if (match === null) throw new ExpressionSyntaxError(`unexpected character "${char}"`, i);
      const text = match[0];
      if (/^\d+$/.test(text)) {
        const value = BigInt(text);
        if (value === INT64_MAX + 1n) tokens.push({ kind: 'maxint1', text, at: i });
        else if (value > INT64_MAX) throw new ExpressionSyntaxError(`bigint constant overflow: ${text}`, i);
        else tokens.push({ kind: 'int', text, at: i, int: value });
      } else {
        tokens.push({ kind: 'double', text, at: i, double: Number(text) });
      }
      i += text.length;
      continue;
    }
    WORD.lastIndex = i;
    const word = WORD.exec(source);
    if (word !== null && word.index === i) {
      tokens.push({ kind: 'word', text: word[0].toLowerCase(), at: i });
      i = WORD.lastIndex;
      continue;
    }
    const op = OPERATORS.find((candidate) => source.startsWith(candidate, i));
    if (op === undefined) throw new ExpressionSyntaxError(`unexpected character "${char}"`, i);
    tokens.push({ kind: 'op', text: op, at: i });
    i += op.length;
  }
  tokens.push({ kind: 'end', text: '', at: source.length });
  return tokens;
}
