// pgbench's random numbers and hashes, bit for bit: PostgreSQL's pg_prng (xoroshiro128**
// seeded through splitmix64), pgbench's uniform/exponential/gaussian/zipfian draws, FNV-1a and
// Murmur2 hashes and permute(). Written here because no npm package reproduces pgbench's exact
// algorithms, and `hash()`/`permute()` must give the same numbers as pgbench for the same seed.
// 64-bit unsigned arithmetic uses BigInt, wrapped with asUintN as C's uint64 wraps.

const U64 = (value: bigint): bigint => BigInt.asUintN(64, value);
const rotl = (value: bigint, bits: bigint): bigint => U64((value << bits) | (value >> (64n - bits)));

const TWO_32 = 2 ** 32;

/**
 * pg_prng_state: two 64-bit words, each kept as two unsigned 32-bit halves in plain numbers: the
 * generator runs once or more per operation, and BigInt arithmetic allocates at every step.
 */
export class PgPrng {
  private s0h = 0;
  private s0l = 0;
  private s1h = 0;
  private s1l = 0;
  // The last draw, as halves.
  private vh = 0;
  private vl = 0;

  constructor(seed: bigint) {
    this.seed(seed);
  }

  /** pg_prng_seed: splitmix64 twice over the seed. */
  seed(seed: bigint): void {
    let state = U64(seed);
    const splitmix64 = (): bigint => {
      state = U64(state + 0x9e3779b97f4a7c15n);
      let value = state;
      value = U64((value ^ (value >> 30n)) * 0xbf58476d1ce4e5b9n);
      value = U64((value ^ (value >> 27n)) * 0x94d049bb133111ebn);
      return value ^ (value >> 31n);
    };
    let s0 = splitmix64();
    let s1 = splitmix64();
    // pg_prng_seed_check: never all zeroes.
    if (s0 === 0n && s1 === 0n) {
      s0 = 0x5851f42d4c957f2dn;
      s1 = 0x14057b7ef767814fn;
    }
    this.s0h = Number(s0 >> 32n);
    this.s0l = Number(s0 & 0xffffffffn);
    this.s1h = Number(s1 >> 32n);
    this.s1l = Number(s1 & 0xffffffffn);
  }

  /** Copies the state into `into` (4 numbers), for restore(): a retried operation draws the same numbers, as in pgbench. */
  save(into: Float64Array): void {
    into[0] = this.s0h;
    into[1] = this.s0l;
    into[2] = this.s1h;
    into[3] = this.s1l;
  }

  restore(from: Float64Array): void {
    this.s0h = from[0];
    this.s0l = from[1];
    this.s1h = from[2];
    this.s1l = from[3];
  }

  /** xoroshiro128**: val = rotl(s0 * 5, 7) * 9; s0 = rotl(s0, 24) ^ sx ^ (sx << 16); s1 = rotl(sx, 37). */
  private step(): void {
    const { s0h, s0l } = this;
    const sxh = (this.s1h ^ s0h) >>> 0;
    const sxl = (this.s1l ^ s0l) >>> 0;
    // s0 * 5
    let lo = s0l * 5;
    let hi = (s0h * 5 + Math.floor(lo / TWO_32)) >>> 0;
    lo >>>= 0;
    // rotl 7
    const rh = ((hi << 7) | (lo >>> 25)) >>> 0;
    const rl = ((lo << 7) | (hi >>> 25)) >>> 0;
    // * 9
    lo = rl * 9;
    hi = (rh * 9 + Math.floor(lo / TWO_32)) >>> 0;
    this.vh = hi;
    this.vl = lo >>> 0;
    // rotl(s0, 24) ^ sx ^ (sx << 16)
    const ah = ((s0h << 24) | (s0l >>> 8)) >>> 0;
    const al = ((s0l << 24) | (s0h >>> 8)) >>> 0;
    const bh = ((sxh << 16) | (sxl >>> 16)) >>> 0;
    const bl = (sxl << 16) >>> 0;
    this.s0h = (ah ^ sxh ^ bh) >>> 0;
    this.s0l = (al ^ sxl ^ bl) >>> 0;
    // rotl(sx, 37) = rotl(swap halves, 5)
    this.s1h = ((sxl << 5) | (sxh >>> 27)) >>> 0;
    this.s1l = ((sxh << 5) | (sxl >>> 27)) >>> 0;
  }

  /** pg_prng_uint64. */
  uint64(): bigint {
    this.step();
    return (BigInt(this.vh) << 32n) | BigInt(this.vl);
  }

  /** pg_prng_uint64_range: bitmask rejection, uniform in [min, max]. */
  uint64Range(min: bigint, max: bigint): bigint {
    if (max <= min) return min;
    const range = max - min;
    if (range < 2n ** 53n) return min + BigInt(this.smallRange(Number(range)));
    const shift = BigInt(63 - leftmostOnePos(range));
    let value: bigint;
    do value = this.uint64() >> shift;
    while (value > range);
    return min + value;
  }

  /** uint64Range(0, range) for range < 2^53, in numbers: the same draws, the same result. */
  smallRange(range: number): number {
    if (range <= 0) return 0;
    const highestBit = range >= TWO_32 ? 63 - Math.clz32(Math.floor(range / TWO_32)) : 31 - Math.clz32(range);
    const shift = 63 - highestBit;
    let value: number;
    do {
      this.step();
      value = shift >= 32 ? this.vh >>> (shift - 32) : this.vh * 2 ** (32 - shift) + (this.vl >>> shift);
    } while (value > range);
    return value;
  }

  /** pg_prng_double: 52 random bits in [0, 1). */
  double(): number {
    this.step();
    return (this.vh * 2 ** 20 + (this.vl >>> 12)) / 2 ** 52;
  }

  /** pg_prng_double_normal: Box-Muller. */
  doubleNormal(): number {
    const u1 = 1 - this.double();
    const u2 = 1 - this.double();
    return Math.sqrt(-2 * Math.log(u1)) * Math.sin(2 * Math.PI * u2);
  }
}

/** pg_leftmost_one_pos64: position of the highest set bit (value > 0). */
function leftmostOnePos(value: bigint): number {
  return value.toString(2).length - 1;
}

/** C's (int64) cast of a double: truncation toward zero. */
const truncToBig = (value: number): bigint => BigInt(Math.trunc(value));

/** getrand: uniform in [min, max]. */
export function randomUniform(prng: PgPrng, min: bigint, max: bigint): bigint {
  return BigInt.asIntN(64, min + prng.uint64Range(0n, U64(max - min)));
}

export function randomExponential(prng: PgPrng, min: bigint, max: bigint, parameter: number): bigint {
  const cut = Math.exp(-parameter);
  const uniform = 1 - prng.double();
  const rand = -Math.log(cut + (1 - cut) * uniform) / parameter;
  return min + truncToBig(Number(max - min + 1n) * rand);
}

export function randomGaussian(prng: PgPrng, min: bigint, max: bigint, parameter: number): bigint {
  let stdev: number;
  do stdev = prng.doubleNormal();
  while (stdev < -parameter || stdev >= parameter);
  const rand = (stdev + parameter) / (parameter * 2);
  return min + truncToBig(Number(max - min + 1n) * rand);
}

/** computeIterativeZipfian (Devroye's rejection method), s > 1. */
export function randomZipfian(prng: PgPrng, min: bigint, max: bigint, s: number): bigint {
  const n = Number(max - min + 1n);
  if (n <= 1) return min;
  const b = 2 ** (s - 1);
  let x: number;
  for (;;) {
    const u = prng.double();
    const v = prng.double();
    x = Math.floor(u ** (-1 / (s - 1)));
    const t = (1 + 1 / x) ** (s - 1);
    if ((v * x * (t - 1)) / (b - 1) <= t / b && x <= n) break;
  }
  return min - 1n + BigInt(x);
}

const FNV_PRIME = 0x100000001b3n;
const FNV_OFFSET_BASIS = 0xcbf29ce484222325n;
const MM2_MUL = 0xc6a4a7935bd1e995n;
const MM2_MUL_TIMES_8 = 0x35253c9ade8f4ca8n;
const MM2_ROT = 47n;

/** getHashFnv1a: FNV-1a over the value's 8 bytes, least significant first. */
export function hashFnv1a(value: bigint, seed: bigint): bigint {
  let result = U64(FNV_OFFSET_BASIS ^ U64(seed));
  let rest = BigInt.asIntN(64, value);
  for (let i = 0; i < 8; i += 1) {
    const octet = rest & 0xffn;
    rest >>= 8n; // arithmetic shift of a signed int64, as in C on every platform PostgreSQL supports
    result = U64((result ^ octet) * FNV_PRIME);
  }
  return BigInt.asIntN(64, result);
}

/** getHashMurmur2: 64-bit Murmur2 of one int64. */
export function hashMurmur2(value: bigint, seed: bigint): bigint {
  let result = U64(seed) ^ MM2_MUL_TIMES_8;
  let k = U64(value);
  k = U64(k * MM2_MUL);
  k ^= k >> MM2_ROT;
  k = U64(k * MM2_MUL);
  result ^= k;
  result = U64(result * MM2_MUL);
  result ^= result >> MM2_ROT;
  result = U64(result * MM2_MUL);
  result ^= result >> MM2_ROT;
  return BigInt.asIntN(64, result);
}

/** pgbench's permute(): a pseudorandom bijection of [0, size) chosen by the seed. */
export function permute(value: bigint, size: bigint, seed: bigint): bigint {
  if (size < 2n) return 0n;
  const prng = new PgPrng(seed);
  const usize = U64(size);
  let v = U64(value) % usize;
  const masklen = BigInt(leftmostOnePos(usize));
  const mask = (1n << masklen) - 1n;
  for (let round = 0; round < 6; round += 1) {
    let m = (prng.uint64() & mask) | 1n;
    let r = prng.uint64() & mask;
    if (v <= mask) {
      v = U64(v * m ^ r) & mask;
      v = ((v << 1n) & mask) | (v >> (masklen - 1n));
    }
    m = (prng.uint64() & mask) | 1n;
    r = prng.uint64() & mask;
    let t = usize - 1n - v;
    if (t <= mask) {
      t = U64(t * m ^ r) & mask;
      t = ((t << 1n) & mask) | (t >> (masklen - 1n));
      v = usize - 1n - t;
    }
    r = prng.uint64Range(0n, usize - 1n);
    v = U64(v + r) % usize;
  }
  return v;
}
