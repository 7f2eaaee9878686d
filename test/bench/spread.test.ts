/**
 * The spread input of figure 4 (bench/end-to-end.ts): the same deliveries,
 * each contact's in its order, two of one contact at least `gap` apart.
 */
import { describe, expect, it } from 'vitest';
import { spreadDeliveries } from '../../bench/end-to-end';
import { generateContactRecords } from '../../local/input/generate';

describe('spreadDeliveries', () => {
  const records = generateContactRecords({ count: 2_000, seed: 3 });
  const spread = spreadDeliveries(records, 100);

  it('keeps every delivery, and each contact’s deliveries in their order', () => {
    // Compared as text, grouped in one pass: deep equality of 2,000 Buffers per contact is slow.
    const texts = (list: typeof records) => list.map((record) => record.data.toString('base64'));
    const byContact = (list: typeof records) => {
      const groups = new Map<string, string[]>();
      for (const record of list) {
        if (!record.contactId) continue;
        const group = groups.get(record.contactId) ?? [];
        group.push(record.data.toString('base64'));
        groups.set(record.contactId, group);
      }
      return groups;
    };

    expect(texts(spread).sort()).toEqual(texts(records).sort());
    expect(byContact(spread)).toEqual(byContact(records));
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
