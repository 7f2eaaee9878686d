/**
 * The fault plan of `npm start -- --faults SPEC --seed N`: spec parsing and
 * the deterministic decisions.
 */
import { describe, expect, it } from 'vitest';
import { contentKey, FaultPlan, type FaultSpec, parseFaultSpec } from '../../local/faults/plan';

function keys(count: number, prefix = 'PUT /bucket/ctr/'): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}.json`);
}

function decisions(plan: FaultPlan, target: 's3' | 'sqs', list: string[]): Map<string, boolean> {
  return new Map(list.map((key) => [key, plan.decide(target, key)]));
}

describe('parseFaultSpec', () => {
  it('parses rates for every target and crashes', () => {
    expect(
      parseFaultSpec('eventbridge=0.1,s3=0.1,sqs=0.1,telephony=0.1,crash=updater:3,crash=ingest:2'),
    ).toEqual({
      rates: { eventbridge: 0.1, s3: 0.1, sqs: 0.1, telephony: 0.1 },
      crashes: [
        { function: 'updater', invocation: 3 },
        { function: 'ingest', invocation: 2 },
      ],
    });
  });

  it('accepts rates 0 and 1, spaces around items, and a spec of crashes only', () => {
    expect(parseFaultSpec(' s3=0 , sqs=1 ')).toEqual({ rates: { s3: 0, sqs: 1 }, crashes: [] });
    expect(parseFaultSpec('crash=redrive:10')).toEqual({
      rates: {},
      crashes: [{ function: 'redrive', invocation: 10 }],
    });
  });

  it.each([
    ['kinesis=0.1', 'kinesis=0.1', 'unknown target'],
    ['s3=1.5', 's3=1.5', 'rate must be a number in [0, 1]'],
    ['s3=-0.1', 's3=-0.1', 'rate must be a number in [0, 1]'],
    ['s3=', 's3=', 'rate must be a number in [0, 1]'],
    ['sqs=abc', 'sqs=abc', 'rate must be a number in [0, 1]'],
    ['s3=0.1,s3=0.2', 's3=0.2', 'duplicate target s3'],
    ['crash=updater', 'crash=updater', 'malformed crash'],
    ['crash=updater:0', 'crash=updater:0', 'malformed crash'],
    ['crash=updater:1.5', 'crash=updater:1.5', 'malformed crash'],
    ['crash=lambda:2', 'crash=lambda:2', 'malformed crash'],
    ['crash=ingest:1,crash=ingest:2', 'crash=ingest:2', 'duplicate crash for ingest'],
    ['s3', 's3', 'expected target=rate'],
    ['s3=0.1,,sqs=0.1', '', 'empty item'],
  ])('rejects %j naming the item', (spec, item, why) => {
    let error: unknown;
    try {
      parseFaultSpec(spec);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain(`"${item}"`);
    expect((error as Error).message).toContain(why);
  });
});

describe('FaultPlan', () => {
  const spec = (rates: FaultSpec['rates']): FaultSpec => ({ rates, crashes: [] });

  it('never faults at rate 0 or for a target without a rate', () => {
    const plan = new FaultPlan(spec({ s3: 0 }), 1);

    const faulted = [...keys(1000)].filter(
      (key) => plan.decide('s3', key) || plan.decide('sqs', key),
    );

    expect(faulted).toEqual([]);
    expect(plan.injected).toEqual({
      dynamodb: 0,
      firehose: 0,
      eventbridge: 0,
      s3: 0,
      sqs: 0,
      telephony: 0,
    });
  });

  it('always faults at rate 1 and counts every fault', () => {
    const plan = new FaultPlan(spec({ sqs: 1 }), 1);

    const answers = keys(1000).flatMap((key) => [plan.decide('sqs', key), plan.decide('sqs', key)]);

    expect(answers.every((answer) => answer)).toBe(true);
    expect(plan.injected.sqs).toBe(2000);
  });

  it('faults about the given fraction of distinct keys', () => {
    const plan = new FaultPlan(spec({ s3: 0.1 }), 7);

    const faulted = keys(10_000).filter((key) => plan.decide('s3', key)).length;

    expect(faulted / 10_000).toBeGreaterThanOrEqual(0.08);
    expect(faulted / 10_000).toBeLessThanOrEqual(0.12);
    expect(plan.injected.s3).toBe(faulted);
  });

  it('gives the same decisions for the same seed whatever order the keys come in', () => {
    const list = keys(2000);
    const forward = decisions(new FaultPlan(spec({ s3: 0.3 }), 42), 's3', list);
    const backward = decisions(new FaultPlan(spec({ s3: 0.3 }), 42), 's3', [...list].reverse());

    expect(backward).toEqual(forward);
    expect([...forward.values()].filter(Boolean).length).toBeGreaterThan(0);
  });

  it('gives different decisions for different seeds', () => {
    const list = keys(2000);
    const one = decisions(new FaultPlan(spec({ s3: 0.3 }), 1), 's3', list);
    const two = decisions(new FaultPlan(spec({ s3: 0.3 }), 2), 's3', list);

    const differing = list.filter((key) => one.get(key) !== two.get(key)).length;
    expect(differing).toBeGreaterThan(200);
  });

  it('decides targets independently for the same key', () => {
    const list = keys(2000);
    const plan = new FaultPlan(spec({ s3: 0.3, sqs: 0.3 }), 5);
    const s3 = decisions(plan, 's3', list);
    const sqs = decisions(plan, 'sqs', list);

    expect(list.filter((key) => s3.get(key) !== sqs.get(key)).length).toBeGreaterThan(200);
  });

  it('decides the n-th occurrence of a key independently of other keys', () => {
    const list = keys(500);
    // Plan A: each key three times in a row. Plan B: round-robin over the keys.
    const a = new FaultPlan(spec({ sqs: 0.5 }), 9);
    const b = new FaultPlan(spec({ sqs: 0.5 }), 9);
    const inA = new Map(list.map((key) => [key, [1, 2, 3].map(() => a.decide('sqs', key))]));
    const inB = new Map(list.map((key) => [key, [] as boolean[]]));
    for (let round = 0; round < 3; round += 1) {
      for (const key of list) inB.get(key)?.push(b.decide('sqs', key));
    }

    expect(inB).toEqual(inA);
    // Later occurrences are fresh draws, not repeats of the first.
    const changed = list.filter((key) => new Set(inA.get(key)).size > 1).length;
    expect(changed).toBeGreaterThan(100);
  });

  it('chooses deterministically among options, covering all of them', () => {
    const options = ['InternalError', 'SlowDown'] as const;
    const run = (seed: number) => {
      const plan = new FaultPlan(spec({ s3: 1 }), seed);
      return keys(1000).map((key) => {
        plan.decide('s3', key);
        return plan.choose('s3', key, options);
      });
    };

    const first = run(3);
    expect(run(3)).toEqual(first);
    expect(new Set(first)).toEqual(new Set(options));
    const internal = first.filter((choice) => choice === 'InternalError').length;
    expect(internal).toBeGreaterThan(400);
    expect(internal).toBeLessThan(600);
  });

  it('chooses anew for a later occurrence of the same key', () => {
    const plan = new FaultPlan(spec({ s3: 1 }), 3);
    const choices = Array.from({ length: 64 }, () => {
      plan.decide('s3', 'GET /bucket/key');
      return plan.choose('s3', 'GET /bucket/key', [0, 1, 2, 3]);
    });

    expect(new Set(choices).size).toBeGreaterThan(1);
  });

  it('reports the crash invocation of each function', () => {
    const plan = new FaultPlan(parseFaultSpec('crash=updater:3,crash=ingest:2'), 1);

    expect(plan.crashInvocation('updater')).toBe(3);
    expect(plan.crashInvocation('ingest')).toBe(2);
    expect(plan.crashInvocation('redrive')).toBeUndefined();
  });

  it('rejects a seed that is not an integer', () => {
    expect(() => new FaultPlan(spec({}), 1.5)).toThrow(RangeError);
  });
});

describe('contentKey', () => {
  it('is 16 hex digits, stable, and differs for different content', () => {
    const key = contentKey('{"MessageBody":"a"}');

    expect(key).toMatch(/^[0-9a-f]{16}$/);
    expect(contentKey('{"MessageBody":"a"}')).toBe(key);
    expect(contentKey('{"MessageBody":"b"}')).not.toBe(key);
    expect(contentKey(Buffer.from('abc'))).toBe(contentKey(new Uint8Array([0x61, 0x62, 0x63])));
  });

  it('gives 10,000 distinct strings and byte arrays 10,000 distinct keys each', () => {
    const strings = Array.from({ length: 10_000 }, (_, i) => `message ${i}`);

    expect(new Set(strings.map((text) => contentKey(text))).size).toBe(10_000);
    expect(new Set(strings.map((text) => contentKey(Buffer.from(text)))).size).toBe(10_000);
  });

  it('tells apart contents that differ only in length or trailing bytes', () => {
    expect(contentKey('a')).not.toBe(contentKey('a\u0000'));
    expect(contentKey(new Uint8Array([1]))).not.toBe(contentKey(new Uint8Array([1, 0])));
    expect(contentKey('')).not.toBe(contentKey(new Uint8Array([0])));
  });
});
