/**
 * The spread input of figure 4 (bench/end-to-end.ts): the same deliveries,
 * each contact's in its order, two of one contact at least `gap` apart.
 */
import { describe, expect, it } from 'vitest';
import { spreadDeliveries } from '../../bench/end-to-end';
import { generateContactRecords } from '../../local/generate';

describe('spreadDeliveries', () => {
  const records = generateContactRecords({ count: 2_000, seed: 3 });
  const spread = spreadDeliveries(records, 100);

  it('keeps every delivery, and each contact’s deliveries in their order', () => {
    expect([...spread].sort((a, b) => a.data.compare(b.data))).toEqual(
      [...records].sort((a, b) => a.data.compare(b.data)),
    );
    const order = (list: typeof records, contactId: string) =>
      list.filter((record) => record.contactId === contactId).map((record) => record.data);
    for (const contactId of new Set(records.map((record) => record.contactId ?? ''))) {
      if (contactId) expect(order(spread, contactId)).toEqual(order(records, contactId));
    }
  });

  it('puts two deliveries of one contact at least the gap apart, but for a short tail', () => {
    const lastAt = new Map<string, number>();
    const close: number[] = [];
    spread.forEach((record, index) => {
      const last = record.contactId === undefined ? undefined : lastAt.get(record.contactId);
      if (last !== undefined && index - last < 100) close.push(index);
      if (record.contactId !== undefined) lastAt.set(record.contactId, index);
    });
    expect(close.length).toBeLessThan(records.length * 0.02);
    expect(close.every((index) => index >= records.length * 0.9)).toBe(true);
  });
});
