// pgbench's `\set` expression grammar (pgbench's exprparse.y) as a precedence-climbing parser.
// Operators become calls, as in pgbench: `a + b` is the function "+" of (a, b), `-x` is 0 - x,
// `~x` is -1 # x, `x IS NULL` is "is"(x, NULL); `hash(x)` and `permute(i, n)` get :default_seed.
import { ExpressionSyntaxError, tokenize, type Token } from './lexer.js';

/** An expression value: bigint = pgbench int, number = double, boolean, null. */
export type Value = bigint | number | boolean | null;

export type Expr =
  | { kind: 'const'; value: Value }
  | { kind: 'var'; name: string }
  | { kind: 'call'; fn: string; args: Expr[] }
  | { kind: 'case'; whens: Array<[Expr, Expr]>; otherwise: Expr };

/** Argument counts: [min, max]; max -1 = any number. */
export const FUNCTIONS: Record<string, [number, number]> = {
  abs: [1, 1],
  debug: [1, 1],
  double: [1, 1],
  exp: [1, 1],
  greatest: [1, -1],
  hash: [1, 2],
  hash_fnv1a: [1, 2],
  hash_murmur2: [1, 2],
  int: [1, 1],
  least: [1, -1],
  ln: [1, 1],
  mod: [2, 2],
  permute: [2, 3],
  pi: [0, 0],
  pow: [2, 2],
  power: [2, 2],
  random: [2, 2],
  random_exponential: [3, 3],
  random_gaussian: [3, 3],
  random_zipfian: [3, 3],
  sqrt: [1, 1],
};

// Binding strength of binary operators, loosest first (exprparse.y's %left/%right lines).
const BINARY: Record<string, number> = {
  or: 1,
  and: 2,
  '<': 5, '>': 5, '=': 5, '<=': 5, '>=': 5, '<>': 5, '!=': 5,
  '|': 6, '#': 6, '&': 6, '<<': 6, '>>': 6,
  '+': 7, '-': 7,
  '*': 8, '/': 8, '%': 8,
};
const NOT_PREC = 3;
const IS_PREC = 4;
const UNARY_PREC = 9;

const NULL_EXPR: Expr = { kind: 'const', value: null };
const call = (fn: string, ...args: Expr[]): Expr => ({ kind: 'call', fn, args });
const DEFAULT_SEED: Expr = { kind: 'var', name: 'default_seed' };

class Parser {
  private position = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.position];
  }

  private next(): Token {
    return this.tokens[this.position++];
  }

  private isWord(word: string): boolean {
    const token = this.peek();
    return token.kind === 'word' && token.text === word;
  }

  private expect(kind: Token['kind'], text: string): Token {
    const token = this.next();
    if (token.kind !== kind || token.text !== text) throw unexpected(token, `"${text}"`);
    return token;
  }

  parseAll(): Expr {
    const expr = this.expression(1);
    const rest = this.peek();
    if (rest.kind !== 'end') throw unexpected(rest);
    return expr;
  }

  expression(minPrec: number): Expr {
    let left = this.prefix();
    for (;;) {
      const token = this.peek();
      const name = token.kind === 'op' || token.kind === 'word' ? token.text : undefined;
      if (name === undefined) return left;
      if ((name === 'is' || name === 'isnull' || name === 'notnull') && IS_PREC >= minPrec) {
        this.next();
        left = this.postfixIs(name, left);
        continue;
      }
      const prec = Object.hasOwn(BINARY, name) ? BINARY[name] : undefined;
      if (prec === undefined || prec < minPrec || (token.kind === 'word' && name !== 'and' && name !== 'or')) return left;
      this.next();
      const right = this.expression(prec + 1);
      left = name === '!=' ? call('<>', left, right) : call(name, left, right);
    }
  }

  private postfixIs(word: string, operand: Expr): Expr {
    if (word === 'isnull') return call('is', operand, NULL_EXPR);
    if (word === 'notnull') return call('not', call('is', operand, NULL_EXPR));
    const negate = this.isWord('not');
    if (negate) this.next();
    const token = this.next();
    const constants: Record<string, Value> = { null: null, true: true, false: false };
    if (token.kind !== 'word' || !Object.hasOwn(constants, token.text)) throw unexpected(token, 'NULL, TRUE or FALSE');
    const test = call('is', operand, { kind: 'const', value: constants[token.text] });
    return negate ? call('not', test) : test;
  }

  private prefix(): Expr {
    const token = this.next();
    switch (token.kind) {
      case 'int':
        return { kind: 'const', value: token.int! };
      case 'double':
        return { kind: 'const', value: token.double! };
      case 'variable':
        return { kind: 'var', name: token.text };
      case 'maxint1':
        throw new ExpressionSyntaxError(`bigint constant overflow: ${token.text}`, token.at);
      case 'end':
        throw unexpected(token);
      case 'op':
        return this.prefixOperator(token);
      case 'word':
        return this.prefixWord(token);
    }
  }

  private prefixOperator(token: Token): Expr {
    if (token.text === '(') {
      const inner = this.expression(1);
      this.expect('op', ')');
      return inner;
    }
    if (token.text === '-') {
      // -9223372036854775808 is the one place the lexer's "max int + 1" is allowed.
      const following = this.peek();
      if (following.kind === 'maxint1') {
        this.next();
        return { kind: 'const', value: -(2n ** 63n) };
      }
      return call('-', { kind: 'const', value: 0n }, this.expression(UNARY_PREC));
    }
    if (token.text === '+') return this.expression(UNARY_PREC);
    if (token.text === '~') return call('#', { kind: 'const', value: -1n }, this.expression(UNARY_PREC));
    throw unexpected(token);
  }

  private prefixWord(token: Token): Expr {
    switch (token.text) {
      case 'true':
        return { kind: 'const', value: true };
      case 'false':
        return { kind: 'const', value: false };
      case 'null':
        return NULL_EXPR;
      case 'not':
        return call('not', this.expression(NOT_PREC));
      case 'case':
        return this.caseExpression();
    }
    const arity = Object.hasOwn(FUNCTIONS, token.text) ? FUNCTIONS[token.text] : undefined;
    if (arity === undefined) {
      if (this.peek().text === '(') throw new ExpressionSyntaxError(`unexpected function name "${token.text}"`, token.at);
      throw unexpected(token);
    }
    this.expect('op', '(');
    const args: Expr[] = [];
    if (this.peek().text !== ')') {
      args.push(this.expression(1));
      while (this.peek().kind === 'op' && this.peek().text === ',') {
        this.next();
        args.push(this.expression(1));
      }
    }
    this.expect('op', ')');
    const [min, max] = arity;
    if (args.length < min || (max !== -1 && args.length > max)) throw new ExpressionSyntaxError(`unexpected number of arguments (${token.text})`, token.at);
    let fn = token.text;
    if (fn === 'hash') fn = 'hash_murmur2';
    if (fn === 'power') fn = 'pow';
    if ((fn === 'hash_murmur2' || fn === 'hash_fnv1a') && args.length === 1) args.push(DEFAULT_SEED);
    if (fn === 'permute' && args.length === 2) args.push(DEFAULT_SEED);
    return call(fn, ...args);
  }

  private caseExpression(): Expr {
    const whens: Array<[Expr, Expr]> = [];
    while (this.isWord('when')) {
      this.next();
      const condition = this.expression(1);
      this.expect('word', 'then');
      whens.push([condition, this.expression(1)]);
    }
    if (whens.length === 0) throw unexpected(this.peek(), 'WHEN');
    let otherwise = NULL_EXPR;
    if (this.isWord('else')) {
      this.next();
      otherwise = this.expression(1);
    }
    this.expect('word', 'end');
    return { kind: 'case', whens, otherwise };
  }
}

function unexpected(token: Token, wanted?: string): ExpressionSyntaxError {
  const found = token.kind === 'end' ? 'end of expression' : `"${token.text}"`;
  return new ExpressionSyntaxError(`syntax error: unexpected ${found}${wanted !== undefined ? `, expected ${wanted}` : ''}`, token.at);
}

/** Parses one `\set` expression; throws ExpressionSyntaxError with the offending offset. */
export function parseExpression(source: string): Expr {
  return new Parser(tokenize(source)).parseAll();
}
