// The pgbench expression language against values pgbench 15 printed with debug() for the same
// expressions (pgbench -t 1 -f script with `\set x debug(...)`), and the script parser's errors.
import { describe, expect, it } from 'vitest';
import { evaluate, formatG15, ScriptRuntimeError, type EvalContext } from '../src/bench/script/evaluate.js';
import { parseExpression } from '../src/bench/script/parser.js';
import { PgPrng, permute } from '../src/bench/script/random.js';
import { builtinScript, parseScript } from '../src/bench/script/script.js';

function context(variables: Record<string, bigint | number | boolean | null | string> = {}, seed = 1n): EvalContext {
  return { variables: new Map(Object.entries(variables)), prng: new PgPrng(seed) };
}
const run = (text: string, ctx = context()) => evaluate(parseExpression(text), ctx);

describe('pgbench expressions: the values pgbench computes', () => {
  it.each([
    ['hash_murmur2(12345, 42)', -591810079667318857n],
    ['hash_fnv1a(12345, 42)', -5267424053501251834n],
    ['hash_murmur2(-7, -1234567890123)', -9196652112557478611n],
    ['hash_fnv1a(-7, -1234567890123)', 5236831316386748750n],
    ['hash(3, 0)', 5173830478357570162n],
    ['permute(0, 10, 5)', 6n],
    ['permute(1, 10, 5)', 4n],
    ['permute(7, 1000003, -99)', 339850n],
    ['permute(123456789, 9223372036854775807, 1)', 2972289395276036698n],
    ['int(2.5) + int(3.5) + int(-2.5)', 4n],
    ['5 % -3', 2n],
    ['-7 / 2', -3n],
    ['1 << 3 | 1 # 3', 10n],
    ['case when 1 > 2 then 1 when null then 2 else 3 end', 3n],
    ['-9223372036854775808', -(2n ** 63n)],
    ['greatest(1, 2.5, -3)', 2.5],
    ['1 = 1.0 and not false or null', true],
    ['~5', -6n],
    ['2 is not null', true],
    ['abs(-4) + mod(7, 3) + least(3, 1, 2)', 6n],
    ['sqrt(16) + exp(0) + ln(1) + double(2)', 7],
    ['pow(2, 10)', 1024],
    ['power(2, 3) = 8', true],
    ['null isnull and 1 notnull', true],
    ['3 between_is_not_here', undefined],
  ])('%s', (text, expected) => {
    if (expected === undefined) {
      expect(() => parseExpression(text)).toThrow(/syntax error/);
      return;
    }
    expect(run(text)).toBe(expected);
  });

  it('formats doubles as pgbench (%.15g)', () => {
    expect(formatG15(1 / 3)).toBe('0.333333333333333');
    expect(formatG15(2 ** 0.5 * 1e20)).toBe('1.4142135623731e+20');
    expect(formatG15(2.5)).toBe('2.5');
    expect(formatG15(1e-5)).toBe('1e-05');
  });

  it('pi(), and a default seed from :default_seed', () => {
    expect(run('pi()')).toBe(Math.PI);
    expect(run('hash(12345)', context({ default_seed: 42n }))).toBe(-591810079667318857n);
    expect(run('permute(1, 10)', context({ default_seed: 5n }))).toBe(4n);
  });

  it('permute is a permutation of [0, size)', () => {
    for (const size of [1n, 2n, 3n, 10n, 17n, 1000n]) {
      const seen = new Set<bigint>();
      for (let i = 0n; i < size; i += 1n) seen.add(permute(i, size, 12345n));
      expect(seen.size).toBe(Number(size));
      expect([...seen].every((value) => value >= 0n && value < size)).toBe(true);
    }
  });

  it('random functions stay within their bounds and cover them', () => {
    const ctx = context({}, 99n);
    const seen = new Set<bigint>();
    for (let i = 0; i < 2000; i += 1) {
      const value = run('random(-2, 3)', ctx) as bigint;
      expect(value >= -2n && value <= 3n).toBe(true);
      seen.add(value);
      for (const fn of ['random_exponential(1, 10, 2.5)', 'random_gaussian(1, 10, 2.5)', 'random_zipfian(1, 10, 1.5)']) {
        const drawn = run(fn, ctx) as bigint;
        expect(drawn >= 1n && drawn <= 10n, fn).toBe(true);
      }
    }
    expect([...seen].sort((a, b) => Number(a - b))).toEqual([-2n, -1n, 0n, 1n, 2n, 3n]);
  });

  it.each([
    ['1 / 0', 'division by zero'],
    ['mod(1, 0)', 'division by zero'],
    ['9223372036854775807 + 1', 'bigint out of range'],
    [':nope + 1', 'undefined variable "nope"'],
    ['random(5, 1)', 'empty range given to random'],
    ['random_gaussian(1, 10, 1.5)', 'gaussian parameter must be at least 2.000000 (not 1.500000)'],
    ['random_exponential(1, 10, 0)', 'exponential parameter must be greater than zero (not 0.000000)'],
    ['random_zipfian(1, 10, 1)', 'zipfian parameter must be in range [1.001, 1000] (not 1.000000)'],
    ['permute(1, 0, 1)', 'permute size parameter must be greater than zero'],
    ['int(1e300)', 'double to int overflow'],
    ['true + 1', 'cannot coerce boolean to double'],
    [':s * 2', 'malformed variable "s" value: "abc"'],
  ])('%s fails at run time with "%s"', (text, message) => {
    expect(() => run(text, context({ s: 'abc' }))).toThrow(ScriptRuntimeError);
    expect(() => run(text, context({ s: 'abc' }))).toThrow(message);
  });

  it('reads -D strings as pgbench does', () => {
    expect(run(':a + 1', context({ a: '41' }))).toBe(42n);
    expect(run(':a * 2', context({ a: '1.5' }))).toBe(3);
    expect(run(':a', context({ a: 'yes' }))).toBe(true);
    expect(run(':a', context({ a: 'off' }))).toBe(false);
  });
});

describe('pgbench scripts', () => {
  const parse = (text: string) => parseScript({ name: 'w.sql', text, weight: 1, builtin: false });

  it('parses meta-commands, SQL over several lines and variable references', () => {
    const script = parse('\\set a 1 + \\\n  2\n\\sleep 10 ms\nSELECT :a::int,\n  \':x\';\n\\sleep :a\nSELECT 2');
    expect(script.commands.map((command) => [command.type, command.line])).toEqual([['set', 1], ['sleep', 3], ['sql', 4], ['sleep', 6], ['sql', 7]]);
    const sql = script.commands[2];
    if (sql.type !== 'sql') throw new Error('not sql');
    expect(sql.names).toEqual(['a', 'x']);
    expect(sql.parameterized).toBe("SELECT $1::int,\n  '$2'");
  });

  it.each([
    ['SELECT 1;\n\\shell echo hi\n', 'w.sql, line 2: unsupported meta-command "\\shell" (bench runs \\set and \\sleep)'],
    ['\\if true\nSELECT 1;\n\\endif', 'w.sql, line 1: unsupported meta-command "\\if" (bench runs \\set and \\sleep)'],
    ['SELECT 1\n\n  \\gset\n', 'w.sql, line 3: unsupported meta-command "\\gset" (bench runs \\set and \\sleep)'],
    ['\\set x 1 +* 2', 'w.sql, line 1: \\set: syntax error: unexpected "*" at column 11'],
    ['\\set x nofunc(1)', 'w.sql, line 1: \\set: unexpected function name "nofunc" at column 8'],
    ['\\set x random(1)', 'w.sql, line 1: \\set: unexpected number of arguments (random) at column 8'],
    ['\\sleep 1 min', 'w.sql, line 1: \\sleep: unrecognized time unit "min", must be us, ms or s'],
    ['\\frobnicate', 'w.sql, line 1: invalid command "\\frobnicate"'],
  ])('%j is refused', (text, message) => {
    expect(() => parse(text)).toThrow(message);
  });

  it('has pgbench\'s built-in scripts, chosen by prefix, with a weight', () => {
    const script = builtinScript('select@3');
    expect(script).toMatchObject({ name: 'builtin: select-only', weight: 3, builtin: true });
    expect(parseScript(builtinScript('tpcb-like')).commands.map((command) => command.type)).toEqual(['set', 'set', 'set', 'set', 'sql', 'sql', 'sql', 'sql', 'sql', 'sql', 'sql']);
    const simpleUpdate = parseScript(builtinScript('simple-update')).commands;
    expect(simpleUpdate.map((command) => (command.type === 'sql' ? command.text.split(' ')[0] : command.type))).toEqual(['set', 'set', 'set', 'set', 'BEGIN', 'UPDATE', 'SELECT', 'INSERT', 'END']);
    expect(() => builtinScript('s')).toThrow('ambiguous built-in script name "s"');
    expect(() => builtinScript('nope')).toThrow('no built-in script named "nope"');
  });
});
