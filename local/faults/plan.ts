/**
 * The deterministic fault plan of the local stack: `npm start -- --faults SPEC --seed N`.
 *
 * A plan answers "inject a fault here?" for each occurrence of a request. The
 * answer is a pure function of (seed, target, key, occurrence number of that
 * key on that target), so concurrent requests that arrive in a different
 * order from one run to the next still get the same answers, and a run can be
 * reproduced from its spec and seed.
 *
 * Hashing is 32-bit murmur3-style mixing in plain JavaScript (no allocation per
 * call); {@link contentKey} runs two such lanes for a 64-bit key.
 */

/** A service whose calls the plan can fail. */
export type FaultTarget = 'eventbridge' | 's3' | 'sqs' | 'telephony' | 'dynamodb' | 'firehose';

/** A function of the pipeline whose process the plan can kill. */
export type CrashFunction = 'ingest' | 'updater' | 'redrive';

/** A parsed `--faults` spec. */
export interface FaultSpec {
  /** Probability of a fault per call, in [0, 1], per target; an absent target is never faulted. */
  rates: Partial<Record<FaultTarget, number>>;
  /** Processes to kill: `function`'s process dies during its `invocation`-th invocation (1-based). */
  crashes: { function: CrashFunction; invocation: number }[];
}

const FAULT_TARGETS: readonly FaultTarget[] = [
  'eventbridge',
  's3',
  'sqs',
  'telephony',
  'dynamodb',
  'firehose',
];
const CRASH_FUNCTIONS: readonly CrashFunction[] = ['ingest', 'updater', 'redrive'];

const RATE_PATTERN = /^(?:\d+(?:\.\d*)?|\.\d+)$/;
const POSITIVE_INTEGER_PATTERN = /^[1-9]\d*$/;

/**
 * Parse a `--faults` spec: a comma-separated list of `target=rate` items
 * (target one of `eventbridge`, `s3`, `sqs`, `telephony`, `dynamodb`, `firehose`; rate a decimal
 * number in [0, 1]) and `crash=<function>:<n>` items (function one of
 * `ingest`, `updater`, `redrive`; n a positive integer). Spaces
 * around items are ignored. Example:
 * `eventbridge=0.1,s3=0.1,sqs=0.1,telephony=0.1,crash=updater:3,crash=ingest:2`.
 *
 * @throws Error whose message quotes the offending item: an empty item, an
 *   item without `=`, an unknown target, a rate that is not a decimal number
 *   in [0, 1], a malformed crash (unknown function, n not a positive integer),
 *   a target given twice, or a crash given twice for the same function.
 */
export function parseFaultSpec(spec: string): FaultSpec {
  const rates: Partial<Record<FaultTarget, number>> = {};
  const crashes: FaultSpec['crashes'] = [];
  const bad = (item: string, why: string) =>
    new Error(`Invalid --faults item "${item}": ${why} (spec "${spec}")`);

  for (const rawItem of spec.split(',')) {
    const item = rawItem.trim();
    if (item === '') throw bad(rawItem, 'empty item');
    const eq = item.indexOf('=');
    if (eq < 0) throw bad(item, 'expected target=rate or crash=<function>:<n>');
    const name = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();

    if (name === 'crash') {
      const colon = value.indexOf(':');
      const fn = colon < 0 ? value : value.slice(0, colon);
      const n = colon < 0 ? '' : value.slice(colon + 1);
      if (!(CRASH_FUNCTIONS as readonly string[]).includes(fn)) {
        throw bad(item, `malformed crash: function must be one of ${CRASH_FUNCTIONS.join(', ')}`);
      }
      const invocation = Number(n);
      if (!POSITIVE_INTEGER_PATTERN.test(n) || !Number.isSafeInteger(invocation)) {
        throw bad(item, 'malformed crash: expected crash=<function>:<n>, n a positive integer');
      }
      if (crashes.some((crash) => crash.function === fn)) {
        throw bad(item, `duplicate crash for ${fn}`);
      }
      crashes.push({ function: fn as CrashFunction, invocation });
      continue;
    }

    if (!(FAULT_TARGETS as readonly string[]).includes(name)) {
      throw bad(
        item,
        `unknown target "${name}", expected one of ${FAULT_TARGETS.join(', ')}, crash`,
      );
    }
    const target = name as FaultTarget;
    const rate = Number(value);
    if (!RATE_PATTERN.test(value) || !(rate >= 0 && rate <= 1)) {
      throw bad(item, 'rate must be a number in [0, 1]');
    }
    if (rates[target] !== undefined) throw bad(item, `duplicate target ${target}`);
    rates[target] = rate;
  }
  return { rates, crashes };
}

// Salts keep decide() and choose() independent of each other.
const DECIDE_SALT = 0x9e3779b9;
const CHOOSE_SALT = 0x85ebca6b;
const TWO_TO_32 = 0x1_0000_0000;

/**
 * The fault decisions of one run, from a {@link FaultSpec} and a seed.
 *
 * Keep one plan per process that injects faults; its occurrence counts are
 * what make repeated calls with the same key independent draws.
 */
export class FaultPlan {
  /** Faults injected so far (calls of {@link decide} that answered true), per target. */
  readonly injected: Record<FaultTarget, number> = {
    eventbridge: 0,
    s3: 0,
    sqs: 0,
    telephony: 0,
    dynamodb: 0,
    firehose: 0,
  };

  private readonly rates: Record<FaultTarget, number>;
  private readonly crashes: ReadonlyMap<CrashFunction, number>;
  private readonly seedLow: number;
  private readonly seedHigh: number;
  /** Per target: how many times decide() saw each key. One entry per distinct key. */
  private readonly occurrences: Record<FaultTarget, Map<string, number>> = {
    eventbridge: new Map(),
    s3: new Map(),
    sqs: new Map(),
    telephony: new Map(),
    dynamodb: new Map(),
    firehose: new Map(),
  };

  /**
   * @param spec the parsed spec (see {@link parseFaultSpec}); rates outside [0, 1] are rejected.
   * @param seed any safe integer (`--seed N`); the same spec and seed give the same decisions.
   * @throws RangeError when the seed is not a safe integer or a rate is outside [0, 1].
   */
  constructor(spec: FaultSpec, seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Fault seed must be an integer: ${seed}`);
    this.rates = { eventbridge: 0, s3: 0, sqs: 0, telephony: 0, dynamodb: 0, firehose: 0 };
    for (const target of FAULT_TARGETS) {
      const rate = spec.rates[target] ?? 0;
      if (!(rate >= 0 && rate <= 1)) {
        throw new RangeError(`Fault rate for ${target} must be in [0, 1]: ${rate}`);
      }
      this.rates[target] = rate;
    }
    this.crashes = new Map(spec.crashes.map((crash) => [crash.function, crash.invocation]));
    this.seedLow = seed >>> 0;
    this.seedHigh = Math.floor(seed / TWO_TO_32) >>> 0;
  }

  /**
   * True when a fault should be injected for this occurrence of `key` on
   * `target`. The answer depends only on (seed, target, key, how many times
   * this method saw this target and key before), never on the order in which
   * different keys arrive. Rate 0 or an absent target: always false (and
   * nothing is recorded); rate 1: always true.
   */
  decide(target: FaultTarget, key: string): boolean {
    const rate = this.rates[target];
    if (rate <= 0) return false;
    const seen = this.occurrences[target];
    const occurrence = seen.get(key) ?? 0;
    seen.set(key, occurrence + 1);
    const faulted = rate >= 1 || this.uniform(DECIDE_SALT, target, key, occurrence) < rate;
    if (faulted) this.injected[target] += 1;
    return faulted;
  }

  /**
   * A deterministic choice among `options` for the occurrence of `key` on
   * `target` that {@link decide} saw last (its first occurrence when decide()
   * never saw it): the same inputs give the same choice, drawn with a
   * different hash salt than decide(), so the choice is uniform among the
   * faulted occurrences.
   *
   * @throws RangeError when `options` is empty.
   */
  choose<T>(target: FaultTarget, key: string, options: readonly T[]): T {
    if (options.length === 0) throw new RangeError('FaultPlan.choose needs at least one option');
    const occurrence = Math.max(0, (this.occurrences[target].get(key) ?? 0) - 1);
    const index = Math.floor(this.uniform(CHOOSE_SALT, target, key, occurrence) * options.length);
    return options[Math.min(index, options.length - 1)] as T;
  }

  /** The 1-based invocation during which `fn`'s process should die, or undefined for none. */
  crashInvocation(fn: CrashFunction): number | undefined {
    return this.crashes.get(fn);
  }

  /** A number in [0, 1) from (seed, salt, target, key, occurrence), 32 bits of resolution. */
  private uniform(salt: number, target: FaultTarget, key: string, occurrence: number): number {
    let h = mixBlock(salt ^ this.seedLow, this.seedHigh);
    h = mixBlock(h, FAULT_TARGETS.indexOf(target));
    h = mixString(h, key);
    h = mixBlock(h, occurrence >>> 0);
    h = mixBlock(h, Math.floor(occurrence / TWO_TO_32) >>> 0);
    return fmix32(h ^ key.length) / TWO_TO_32;
  }
}

/**
 * A stable 64-bit key for request content, as 16 lowercase hex digits: two
 * independent 32-bit murmur3-style lanes over the content. A string is
 * hashed as its UTF-16 code units, a Uint8Array (Buffer) as its bytes, so a
 * string and its UTF-8 encoding give different keys; hash the same form on
 * both sides. Not cryptographic: only for naming occurrences in a
 * {@link FaultPlan}.
 */
export function contentKey(content: string | Uint8Array): string {
  let a = 0x2545f491;
  let b = 0x6b43a9b5;
  if (typeof content === 'string') {
    const length = content.length;
    let i = 0;
    for (; i + 1 < length; i += 2) {
      const block = content.charCodeAt(i) | (content.charCodeAt(i + 1) << 16);
      a = mixBlock(a, block);
      b = mixBlock(b, block ^ 0x5bd1e995);
    }
    if (i < length) {
      const block = content.charCodeAt(i);
      a = mixBlock(a, block);
      b = mixBlock(b, block ^ 0x5bd1e995);
    }
    a ^= length;
    b ^= length;
  } else {
    const length = content.length;
    let i = 0;
    for (; i + 3 < length; i += 4) {
      const block =
        (content[i] as number) |
        ((content[i + 1] as number) << 8) |
        ((content[i + 2] as number) << 16) |
        ((content[i + 3] as number) << 24);
      a = mixBlock(a, block);
      b = mixBlock(b, block ^ 0x5bd1e995);
    }
    let tail = 0;
    for (let shift = 0; i < length; i += 1, shift += 8) {
      tail |= (content[i] as number) << shift;
    }
    a = mixBlock(a, tail);
    b = mixBlock(b, tail ^ 0x5bd1e995);
    a ^= length;
    b ^= length;
  }
  return hex32(fmix32(a)) + hex32(fmix32(b));
}

/** One murmur3 32-bit block step: mix the 32-bit `block` into the state `h`. */
function mixBlock(h: number, block: number): number {
  let k = Math.imul(block, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Mix a string's UTF-16 code units into `h`, two per block (the caller mixes in the length). */
function mixString(h: number, text: string): number {
  const length = text.length;
  let i = 0;
  for (; i + 1 < length; i += 2) {
    h = mixBlock(h, text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16));
  }
  if (i < length) h = mixBlock(h, text.charCodeAt(i));
  return h;
}

/** murmur3's finaliser: avalanche the state into an unsigned 32-bit integer. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hex32(value: number): string {
  return value.toString(16).padStart(8, '0');
}
