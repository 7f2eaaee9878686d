/**
 * The reconciliation of a local run: each way of losing something is counted.
 */
import { describe, expect, it } from 'vitest';
import { toVoiceCallUpdate } from '../../domain/voice-call';
import { reconcile } from '../../local/run/reconcile';
import { encodeContactRecord, loadContactRecord } from '../fixtures/factories';

const older = loadContactRecord('inbound-answered');
const newer = { ...older, LastUpdateTimestamp: '2022-04-08T16:00:00Z', Queue: { Name: 'Later' } };
const chat = loadContactRecord('chat');
const malformed = Buffer.from('{"ContactId": "truncated');

const input = [
  { data: encodeContactRecord(newer) },
  { data: encodeContactRecord(older) },
  { data: encodeContactRecord(chat) },
  { data: malformed },
];

const holding = (record: typeof older) => ({
  [record.ContactId]: { fieldValues: toVoiceCallUpdate(record).fieldValues },
});
const quarantine = [{ key: 'quarantine/x', data: malformed, reason: 'invalid-json' }];

describe('reconcile', () => {
  it('finds nothing lost when the VoiceCall holds the newest version and the bad record is quarantined', () => {
    const result = reconcile(input, holding(newer), quarantine);

    expect(result).toMatchObject({
      received: 4,
      contacts: 2,
      toSync: 1,
      synced: 1,
      skipped: { 'channel-not-voice': 1 },
      rejected: { 'invalid-json': 1 },
      quarantined: 1,
      lost: 0,
    });
  });

  it('counts a VoiceCall left on an older version as lost', () => {
    const result = reconcile(input, holding(older), quarantine);

    expect(result).toMatchObject({ synced: 0, onOlderVersion: 1, neverSynced: 0, lost: 1 });
    expect(result.lostContactIds).toEqual([older.ContactId]);
  });

  it('counts a contact whose VoiceCall got no update as lost', () => {
    const result = reconcile(input, {}, quarantine);

    expect(result).toMatchObject({ neverSynced: 1, lost: 1 });
  });

  it('counts a malformed record missing from the quarantine, or quarantined without a reason, as lost', () => {
    const withoutReason = [{ key: 'quarantine/x', data: malformed, reason: '' }];
    const otherBytes = [
      { key: 'quarantine/x', data: Buffer.from('{"ContactId": "other'), reason: 'invalid-json' },
    ];

    for (const stored of [[], withoutReason, otherBytes]) {
      expect(reconcile(input, holding(newer), stored)).toMatchObject({
        quarantined: 0,
        notQuarantined: 1,
        lost: 1,
      });
    }
  });

  it('does not count fields the newest version leaves out, as Salesforce keeps earlier values', () => {
    const stored = holding(newer);
    (stored[newer.ContactId] as { fieldValues: Record<string, unknown> }).fieldValues.extra = 'x';

    expect(reconcile(input, stored, quarantine).lost).toBe(0);
  });
});
