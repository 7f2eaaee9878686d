import { describe, expect, it } from 'vitest';
import { parseContactRecord } from '../../domain/contact-record';
import { InvalidContactRecordError } from '../../domain/errors';
import {
  classifyVersion,
  compareContactRecordVersions,
  isNewerVersion,
  keepNewestDeliveries,
} from '../../domain/versions';
import { loadContactRecordFixture } from '../fixtures/factories';

const at = (LastUpdateTimestamp: string) => ({ LastUpdateTimestamp });

/** The six deliveries of the republished sample: versions 1, 1, 2, 2, 3, 3. */
function loadRepublishedVersions() {
  return loadContactRecordFixture('republished-inbound-transfer').map((raw) =>
    parseContactRecord(raw),
  );
}

describe('compareContactRecordVersions', () => {
  it('orders an older LastUpdateTimestamp first', () => {
    const older = at('2022-01-05T17:48:35Z');
    const newer = at('2022-01-11T03:41:32Z');

    expect(compareContactRecordVersions(older, newer)).toBe(-1);
    expect(compareContactRecordVersions(newer, older)).toBe(1);
  });

  it('treats the same instant written with and without milliseconds as equal', () => {
    const withoutMilliseconds = at('2022-01-05T17:48:35Z');
    const withMilliseconds = at('2022-01-05T17:48:35.000Z');

    const order = compareContactRecordVersions(withoutMilliseconds, withMilliseconds);

    expect(order).toBe(0);
  });

  it('compares instants, not strings', () => {
    const shorter = at('2022-01-05T17:48:35Z');
    const laterByMilliseconds = at('2022-01-05T17:48:35.001Z');

    const order = compareContactRecordVersions(shorter, laterByMilliseconds);

    expect(order).toBe(-1);
  });

  it('sorts the republished sample into its three versions in order', () => {
    const deliveries = loadRepublishedVersions();
    const shuffled = [deliveries[5], deliveries[0], deliveries[3], deliveries[1], deliveries[4]];

    const sorted = shuffled
      .filter((ctr) => ctr !== undefined)
      .sort(compareContactRecordVersions)
      .map((ctr) => ctr.LastUpdateTimestamp);

    expect(sorted).toEqual([
      '2022-01-05T17:48:35Z',
      '2022-01-05T17:48:35Z',
      '2022-01-11T03:41:32Z',
      '2022-01-11T04:09:47Z',
      '2022-01-11T04:09:47Z',
    ]);
  });

  it('finds each delivery of the republished sample equal to its twin', () => {
    const deliveries = loadRepublishedVersions();

    const twins = [0, 2, 4].map((index) => {
      const first = deliveries[index];
      const second = deliveries[index + 1];
      if (first === undefined || second === undefined) {
        throw new Error('the republished sample has six deliveries');
      }
      return compareContactRecordVersions(first, second);
    });

    expect(twins).toEqual([0, 0, 0]);
  });

  it.each([
    ['free text', 'yesterday'],
    ['an empty string', ''],
    ['an impossible date', '2022-02-30T17:48:35Z'],
    ['a timestamp with an offset', '2022-01-05T18:48:35+01:00'],
  ])('throws InvalidContactRecordError for %s', (_case, timestamp) => {
    const valid = at('2022-01-05T17:48:35Z');

    const compare = () => compareContactRecordVersions(valid, at(timestamp));

    expect(compare).toThrow(InvalidContactRecordError);
    expect(compare).toThrow(/LastUpdateTimestamp of the second version/);
  });

  it('reports the reason schema for an unparseable timestamp', () => {
    let caught: unknown;

    try {
      compareContactRecordVersions(at('not a time'), at('2022-01-05T17:48:35Z'));
    } catch (error) {
      caught = error;
    }

    expect(caught).toBeInstanceOf(InvalidContactRecordError);
    expect((caught as InvalidContactRecordError).reason).toBe('schema');
    expect((caught as InvalidContactRecordError).message).not.toContain('not a time');
  });
});

describe('isNewerVersion', () => {
  it('is true for a later LastUpdateTimestamp', () => {
    const newer = isNewerVersion(at('2022-01-11T04:09:47Z'), at('2022-01-11T03:41:32Z'));

    expect(newer).toBe(true);
  });

  it('is false for the same instant', () => {
    const newer = isNewerVersion(at('2022-01-11T04:09:47.000Z'), at('2022-01-11T04:09:47Z'));

    expect(newer).toBe(false);
  });

  it('is false for an earlier LastUpdateTimestamp', () => {
    const newer = isNewerVersion(at('2022-01-05T17:48:35Z'), at('2022-01-11T03:41:32Z'));

    expect(newer).toBe(false);
  });
});

describe('classifyVersion', () => {
  it('classifies the first version seen as new', () => {
    const classification = classifyVersion(at('2022-01-05T17:48:35Z'), undefined);

    expect(classification).toBe('new');
  });

  it('throws for an invalid first version', () => {
    const classify = () => classifyVersion(at('2022-01-05'), undefined);

    expect(classify).toThrow(InvalidContactRecordError);
  });

  it('classifies newer, duplicate and older versions', () => {
    const current = at('2022-01-11T03:41:32Z');

    const classifications = [
      classifyVersion(at('2022-01-11T04:09:47Z'), current),
      classifyVersion(at('2022-01-11T03:41:32.000Z'), current),
      classifyVersion(at('2022-01-05T17:48:35Z'), current),
    ];

    expect(classifications).toEqual(['newer', 'duplicate', 'older']);
  });

  it('keeps only the latest version when the republished sample arrives out of order', () => {
    const deliveries = loadRepublishedVersions();
    const arrivalOrder = [2, 0, 4, 1, 5, 3];
    let latest: { LastUpdateTimestamp: string } | undefined;
    const seen: string[] = [];

    for (const index of arrivalOrder) {
      const delivery = deliveries[index];
      if (delivery === undefined) {
        throw new Error('the republished sample has six deliveries');
      }
      const classification = classifyVersion(delivery, latest);
      seen.push(classification);
      if (classification === 'new' || classification === 'newer') {
        latest = delivery;
      }
    }

    expect(seen).toEqual(['new', 'older', 'newer', 'older', 'duplicate', 'older']);
    expect(latest?.LastUpdateTimestamp).toBe('2022-01-11T04:09:47Z');
  });
});

describe('keepNewestDeliveries', () => {
  const delivery = (contactId: string, lastUpdateTimestamp: string) => ({
    contactId,
    lastUpdateTimestamp,
  });

  it('keeps the first delivery of each contact’s newest version and says what the others are', () => {
    const a1 = delivery('a', '2022-01-05T17:48:35Z');
    const a1again = delivery('a', '2022-01-05T17:48:35.000Z');
    const a2 = delivery('a', '2022-01-11T04:09:47Z');
    const a2again = delivery('a', '2022-01-11T04:09:47Z');
    const b1 = delivery('b', '2022-01-05T17:48:35Z');
    const unversioned = delivery('c', 'not a version');

    const dropped = keepNewestDeliveries([a1, a1again, b1, a2, unversioned, a2again], (d) =>
      d.contactId === 'c' ? undefined : d,
    );

    expect([...dropped]).toEqual([
      [a1, { outcome: 'superseded', keptBy: a2 }],
      [a1again, { outcome: 'superseded', keptBy: a2 }],
      [a2again, { outcome: 'duplicate', keptBy: a2 }],
    ]);
  });
});
