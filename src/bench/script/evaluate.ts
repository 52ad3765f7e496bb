// Evaluation of pgbench expressions with pgbench's rules (pgbench.c evalStandardFunc and
// evalLazyFunc): int arithmetic is 64-bit and checked ("bigint out of range"), a double on either
// side makes it double arithmetic, any NULL argument makes a function NULL (except IS and debug),
// AND/OR/CASE evaluate lazily. Errors are ScriptRuntimeError: the operation fails, the run goes on.
import type { Expr, Value } from './parser.js';
import { hashFnv1a, hashMurmur2, permute, randomExponential, randomGaussian, randomUniform, randomZipfian, type PgPrng } from './random.js';

/** A variable holds an expression value, or a string (from -D) turned into a value when used. */
export type VariableValue = Value | string;

export interface EvalContext {
  variables: Map<string, VariableValue>;
  prng: PgPrng;
  /** Where `debug()` writes. */
  debug?: (line: string) => void;
}

/** An error while running a script (not a server error): counted as a failed operation. */
export class ScriptRuntimeError extends Error {}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const MIN_GAUSSIAN_PARAM = 2.0;
const MIN_ZIPFIAN_PARAM = 1.001;
const MAX_ZIPFIAN_PARAM = 1000.0;

function checked(value: bigint): bigint {
  if (value < INT64_MIN || value > INT64_MAX) throw new ScriptRuntimeError('bigint out of range');
  return value;
}

function typeName(value: Value): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return 'boolean';
  return typeof value === 'bigint' ? 'int' : 'double';
}

export function toInt(value: Value): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    const rounded = roundHalfEven(value);
    // FLOAT8_FITS_IN_INT64: -2^63 <= x < 2^63.
    if (Number.isNaN(rounded) || rounded < -(2 ** 63) || rounded >= 2 ** 63) throw new ScriptRuntimeError(`double to int overflow for ${rounded.toFixed(6)}`);
    return BigInt(rounded);
  }
  throw new ScriptRuntimeError(`cannot coerce ${typeName(value)} to int`);
}

export function toDouble(value: Value): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  throw new ScriptRuntimeError(`cannot coerce ${typeName(value)} to double`);
}

function toBool(value: Value): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return value !== 0n;
  if (typeof value === 'number') return value !== 0;
  throw new ScriptRuntimeError('cannot coerce NULL to boolean');
}

/** C's rint() in the default rounding mode: to nearest, ties to even. */
function roundHalfEven(value: number): number {
  if (!Number.isFinite(value)) return value;
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** pgbench's makeVariableValue: a -D string read as null, boolean, int or double. */
export function parseVariableString(name: string, text: string): Value {
  const lower = text.toLowerCase();
  if (text.length === 0) throw new ScriptRuntimeError(`malformed variable "${name}" value: ""`);
  if (lower === 'null') return null;
  if ('true'.startsWith(lower) || 'yes'.startsWith(lower) || lower === 'on') return true;
  if ('false'.startsWith(lower) || 'no'.startsWith(lower) || lower === 'off' || lower === 'of') return false;
  if (/^\s*[-+]?\d+\s*$/.test(text)) {
    const value = BigInt(text.trim());
    if (value < INT64_MIN || value > INT64_MAX) throw new ScriptRuntimeError(`malformed variable "${name}" value: "${text}"`);
    return value;
  }
  const trimmed = text.trim();
  const double = Number(trimmed);
  if (trimmed === '' || Number.isNaN(double) && !/^[-+]?nan$/i.test(trimmed)) throw new ScriptRuntimeError(`malformed variable "${name}" value: "${text}"`);
  return double;
}

/** A value as pgbench writes it into SQL: ints in full, doubles as %.15g, NULL as "NULL". */
export function valueToText(value: VariableValue): string {
  if (typeof value === 'string') return value;
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return value.toString();
  return formatG15(value);
}

/** printf("%.15g"). */
export function formatG15(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const [mantissa, exponentText] = value.toExponential(14).split('e');
  const exponent = Number(exponentText);
  const trim = (text: string) => (text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text);
  if (exponent < -4 || exponent >= 15) return `${trim(mantissa)}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  return trim(value.toFixed(14 - exponent));
}

export function lookupVariable(context: EvalContext, name: string): Value {
  const value = context.variables.get(name);
  if (value === undefined) throw new ScriptRuntimeError(`undefined variable "${name}"`);
  if (typeof value !== 'string') return value;
  const parsed = parseVariableString(name, value);
  context.variables.set(name, parsed);
  return parsed;
}

export function evaluate(expr: Expr, context: EvalContext): Value {
  switch (expr.kind) {
    case 'const':
      return expr.value;
    case 'var':
      return lookupVariable(context, expr.name);
    case 'case':
      for (const [condition, result] of expr.whens) {
        const test = evaluate(condition, context);
        if (test !== null && toBool(test)) return evaluate(result, context);
      }
      return evaluate(expr.otherwise, context);
    case 'call':
      if (expr.fn === 'and' || expr.fn === 'or') return logical(expr.fn, expr.args, context);
      return callFunction(expr.fn, expr.args.map((arg) => evaluate(arg, context)), context);
  }
}

function logical(fn: 'and' | 'or', args: Expr[], context: EvalContext): Value {
  const left = evaluate(args[0], context);
  if (left === null) return null;
  const leftBool = toBool(left);
  if (fn === 'and' ? !leftBool : leftBool) return leftBool;
  const right = evaluate(args[1], context);
  return right === null ? null : toBool(right);
}

function arithmetic(fn: string, left: Value, right: Value): Value {
  if (typeof left === 'bigint' && typeof right === 'bigint') {
    switch (fn) {
      case '+':
        return checked(left + right);
      case '-':
        return checked(left - right);
      case '*':
        return checked(left * right);
      default:
        if (right === 0n) throw new ScriptRuntimeError('division by zero');
        return checked(left / right);
    }
  }
  const l = toDouble(left);
  const r = toDouble(right);
  if (fn === '+') return l + r;
  if (fn === '-') return l - r;
  if (fn === '*') return l * r;
  return l / r;
}

function compare(fn: string, left: Value, right: Value): boolean {
  let order: number;
  if (typeof left === 'bigint' && typeof right === 'bigint') order = left < right ? -1 : left > right ? 1 : 0;
  else {
    const l = toDouble(left);
    const r = toDouble(right);
    if (fn === '<>') return l !== r;
    order = l < r ? -1 : l > r ? 1 : l === r ? 0 : NaN;
  }
  switch (fn) {
    case '=':
      return order === 0;
    case '<>':
      return order !== 0;
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    default:
      return order >= 0;
  }
}

function bitwise(fn: string, left: bigint, right: bigint): bigint {
  switch (fn) {
    case '&':
      return left & right;
    case '|':
      return left | right;
    case '#':
      return left ^ right;
    case '<<':
      return right >= 0n && right < 64n ? BigInt.asIntN(64, left << right) : 0n;
    default:
      return right >= 0n && right < 64n ? left >> right : left < 0n ? -1n : 0n;
  }
}

function extremum(fn: 'least' | 'greatest', args: Value[]): Value {
  if (args.some((arg) => typeof arg === 'number')) {
    const values = args.map(toDouble);
    return fn === 'least' ? Math.min(...values) : Math.max(...values);
  }
  const values = args.map(toInt);
  return values.reduce((best, value) => ((fn === 'least' ? value < best : value > best) ? value : best));
}

function randomRange(args: Value[]): [bigint, bigint] {
  const min = toInt(args[0]);
  const max = toInt(args[1]);
  if (min > max) throw new ScriptRuntimeError('empty range given to random');
  if (max - min + 1n > INT64_MAX) throw new ScriptRuntimeError('random range is too large');
  return [min, max];
}

function callFunction(fn: string, args: Value[], context: EvalContext): Value {
  if (fn === 'is') {
    const [left, right] = args;
    return left === right || (typeof left === 'boolean' && typeof right === 'boolean' && left === right);
  }
  if (fn === 'debug') {
    const [value] = args;
    context.debug?.(value === null ? 'null' : `${typeName(value)} ${valueToText(value)}`);
    return value;
  }
  if (args.some((arg) => arg === null)) return null;
  switch (fn) {
    case '+':
    case '-':
    case '*':
    case '/':
      return arithmetic(fn, args[0], args[1]);
    case '%':
    case 'mod': {
      const left = toInt(args[0]);
      const right = toInt(args[1]);
      if (right === 0n) throw new ScriptRuntimeError('division by zero');
      return right === -1n ? 0n : left % right;
    }
    case '=':
    case '<>':
    case '<':
    case '<=':
    case '>':
    case '>=':
      return compare(fn, args[0], args[1]);
    case '&':
    case '|':
    case '#':
    case '<<':
    case '>>':
      return bitwise(fn, toInt(args[0]), toInt(args[1]));
    case 'not':
      return !toBool(args[0]);
    case 'pi':
      return Math.PI;
    case 'abs': {
      const [value] = args;
      if (typeof value === 'bigint') return value < 0n ? checked(-value) : value;
      const double = toDouble(value);
      return double < 0 ? -double : double;
    }
    case 'double':
      return toDouble(args[0]);
    case 'sqrt':
      return Math.sqrt(toDouble(args[0]));
    case 'ln':
      return Math.log(toDouble(args[0]));
    case 'exp':
      return Math.exp(toDouble(args[0]));
    case 'int':
      return toInt(args[0]);
    case 'least':
    case 'greatest':
      return extremum(fn, args);
    case 'pow':
      return toDouble(args[0]) ** toDouble(args[1]);
    case 'hash_murmur2':
      return hashMurmur2(toInt(args[0]), toInt(args[1]));
    case 'hash_fnv1a':
      return hashFnv1a(toInt(args[0]), toInt(args[1]));
    case 'permute': {
      const size = toInt(args[1]);
      if (size <= 0n) throw new ScriptRuntimeError('permute size parameter must be greater than zero');
      return permute(toInt(args[0]), size, toInt(args[2]));
    }
    case 'random': {
      const [min, max] = randomRange(args);
      return randomUniform(context.prng, min, max);
    }
    case 'random_exponential':
    case 'random_gaussian':
    case 'random_zipfian': {
      const [min, max] = randomRange(args);
      const parameter = toDouble(args[2]);
      if (fn === 'random_gaussian') {
        if (parameter < MIN_GAUSSIAN_PARAM) throw new ScriptRuntimeError(`gaussian parameter must be at least ${MIN_GAUSSIAN_PARAM.toFixed(6)} (not ${parameter.toFixed(6)})`);
        return randomGaussian(context.prng, min, max, parameter);
      }
      if (fn === 'random_zipfian') {
        if (parameter < MIN_ZIPFIAN_PARAM || parameter > MAX_ZIPFIAN_PARAM) throw new ScriptRuntimeError(`zipfian parameter must be in range [${MIN_ZIPFIAN_PARAM.toFixed(3)}, ${MAX_ZIPFIAN_PARAM.toFixed(0)}] (not ${parameter.toFixed(6)})`);
        return randomZipfian(context.prng, min, max, parameter);
      }
      if (parameter <= 0) throw new ScriptRuntimeError(`exponential parameter must be greater than zero (not ${parameter.toFixed(6)})`);
      return randomExponential(context.prng, min, max, parameter);
    }
    default:
      throw new ScriptRuntimeError(`unknown function "${fn}"`);
  }
}
