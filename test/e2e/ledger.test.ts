/**
 * The sync ledger and the archive end to end, on the local stack: overrides
 * from START_CALL_PROCESSING before and after the record, two versions of the
 * same second in both orders, a sync DLQ that expires, and replays of the
 * archive.
 */
import { describe, expect, it } from 'vitest';
import { parseContactRecord } from '../../domain/contact-record';
import { evaluateSyncEligibility } from '../../domain/eligibility';
import { contentDigest, versionKey } from '../../domain/versions';
import { toVoiceCallUpdate } from '../../domain/voice-call';
import { ReplayRequested } from '../../events/redrive';
import { StartCallProcessing } from '../../events/start-call-processing';
import { FaultPlan, parseFaultSpec } from '../../local/faults/plan';
import { generateContactRecords } from '../../local/input/generate';
import type { InputRecord } from '../../local/input/read';
import { type PutEventsEntry, runLocal } from '../../local/run/start';
import { type JsonObject, loadContactRecordFixture } from '../fixtures/factories';

function asInput(records: JsonObject[]): InputRecord[] {
  return records.map((record) => ({
    data: Buffer.from(JSON.stringify(record), 'utf8'),
    contactId: String(record.ContactId),
    initiationTimestamp: String(record.InitiationTimestamp),
    voice: true,
  }));
}

/** The inbound-answered sample as another contact, with a queue name that shows the version. */
function contact(contactId: string, queue: string, lastUpdateTimestamp?: string): JsonObject {
  const sample = loadContactRecordFixture('inbound-answered');
  return {
    ...sample,
    ContactId: contactId,
    Queue: { ...(sample.Queue as JsonObject), Name: queue },
    ...(lastUpdateTimestamp ? { LastUpdateTimestamp: lastUpdateTimestamp } : {}),
  };
}

function startCallProcessing(callId: string, toNumber: string, fromNumber: string): PutEventsEntry {
  return {
    Source: StartCallProcessing.source,
    DetailType: StartCallProcessing.detailType,
    Detail: JSON.stringify({ callId, toNumber, fromNumber }),
  };
}

const BEFORE = '11111111-1111-4111-8111-111111111111';
const AFTER = '22222222-2222-4222-8222-222222222222';
const SAME_SECOND = '33333333-3333-4333-8333-333333333333';

describe('the sync ledger on the local stack', () => {
  it('applies START_CALL_PROCESSING overrides sent before the record and after it, and ends two same-second versions on the same one in either order', async () => {
    const a = contact(SAME_SECOND, 'Version A', '2022-04-08T15:03:02Z');
    const b = contact(SAME_SECOND, 'Version B', '2022-04-08T15:03:02Z');
    const keyOf = (record: JsonObject) =>
      versionKey(String(record.LastUpdateTimestamp), contentDigest(JSON.stringify(record)));
    const winner = keyOf(a) > keyOf(b) ? 'Version A' : 'Version B';
    const runs = [];
    for (const order of [
      [a, b],
      [b, a],
    ]) {
      runs.push(
        await runLocal(asInput([contact(BEFORE, 'Before'), contact(AFTER, 'After'), ...order]), {
          events: [startCallProcessing(BEFORE, '+15550100001', '+15550100002')],
          afterPasses: async (stack) => {
            const entry = startCallProcessing(AFTER, '+15550100003', '+15550100004');
            await stack.putEvent(entry.Source, entry.DetailType, JSON.parse(entry.Detail));
            await stack.drain();
          },
        }),
      );
    }

    for (const result of runs) {
      expect(result.voiceCalls[BEFORE]).toMatchObject({
        toNumber: '+15550100001',
        fromNumber: '+15550100002',
        queue: 'Before',
      });
      expect(result.voiceCalls[AFTER]).toMatchObject({
        toNumber: '+15550100003',
        fromNumber: '+15550100004',
        queue: 'After',
      });
      expect(result.voiceCalls[SAME_SECOND]?.queue).toBe(winner);
      // The overrides sent before the record count as the expected fieldValues; the ones sent
      // after it do not, so that contact shows up as not on its newest version.
      expect(result.reconciliation.lostContactIds).toEqual([AFTER]);
    }
    expect(runs[0]?.voiceCalls[SAME_SECOND]).toEqual(runs[1]?.voiceCalls[SAME_SECOND]);
  }, 240_000);

  it('brings every VoiceCall to its newest version when the sync DLQ is purged (its messages expired)', async () => {
    const records = generateContactRecords({ count: 300, seed: 11 });
    const faults = new FaultPlan(parseFaultSpec('telephony=0.6'), 11);

    const result = await runLocal(records, { faults, purgeDlq: true });

    expect(result.purged?.[0]).toBeGreaterThan(0);
    expect(result.summary.inDlq.sync).toBe(0);
    expect(result.reconciliation).toMatchObject({ onOlderVersion: 0, neverSynced: 0, lost: 0 });
    expect(result.reconciliation.synced).toBe(result.reconciliation.toSync);
  }, 300_000);

  it('changes no VoiceCall when the archive is replayed, and after the ledger is wiped and older versions arrive, a replay brings every VoiceCall back to its newest version', async () => {
    const records = generateContactRecords({ count: 300, seed: 5 });
    // The first delivery of a contact with later versions: an older version, to put again.
    const byContact = new Map<string, InputRecord[]>();
    for (const record of records) {
      if (!record.contactId || record.malformed) continue;
      byContact.set(record.contactId, [...(byContact.get(record.contactId) ?? []), record]);
    }
    const eligible = (record: InputRecord) =>
      evaluateSyncEligibility(parseContactRecord(JSON.parse(record.data.toString()))).eligible;
    const olderVersions = [...byContact.values()]
      .filter((list) => new Set(list.map((record) => record.data.toString())).size > 1)
      .filter((list) => list.every(eligible))
      .map((list) => {
        const parsed = list.map((record) => ({
          record,
          at: String(JSON.parse(record.data.toString()).LastUpdateTimestamp),
        }));
        parsed.sort((x, y) => x.at.localeCompare(y.at));
        return (parsed[0] as { record: InputRecord }).record;
      });
    const replayWindow = {
      from: new Date(Date.now() - 3_600_000).toISOString(),
      to: new Date(Date.now() + 3_600_000).toISOString(),
    };
    const observed: {
      unchanged?: boolean;
      updatesBefore?: number;
      updatesAfterReplay?: number;
      onOlderAfterWipe?: number;
    } = {};

    const result = await runLocal(records, {
      afterPasses: async (stack) => {
        const before = await stack.voiceCalls();
        await stack.putEvent(ReplayRequested.source, ReplayRequested.detailType, replayWindow);
        await stack.drain();
        const after = await stack.voiceCalls();
        const updates = (calls: typeof before) =>
          Object.values(calls).reduce((sum, call) => sum + call.updateCount, 0);
        observed.unchanged = JSON.stringify(before) === JSON.stringify(after);
        observed.updatesBefore = updates(before);
        observed.updatesAfterReplay = updates(after);

        await stack.wipeLedger();
        await stack.putRecords(olderVersions.map((record) => record.data));
        await stack.drain();
        const wiped = await stack.voiceCalls();
        observed.onOlderAfterWipe = olderVersions.filter((record) => {
          const older = toVoiceCallUpdate(parseContactRecord(JSON.parse(record.data.toString())));
          const stored = wiped[older.contactId]?.fieldValues;
          return (
            JSON.stringify(stored?.callAttributes) ===
            JSON.stringify(older.fieldValues.callAttributes)
          );
        }).length;

        await stack.putEvent(ReplayRequested.source, ReplayRequested.detailType, replayWindow);
        await stack.drain();
      },
    });

    expect(observed.unchanged).toBe(true);
    expect(observed.updatesAfterReplay).toBe(observed.updatesBefore);
    // Without the ledger the older versions were claimed as new: the VoiceCalls went back.
    expect(olderVersions.length).toBeGreaterThan(20);
    expect(observed.onOlderAfterWipe).toBe(olderVersions.length);
    // The replay of the archive brought them forward again.
    expect(result.reconciliation).toMatchObject({ onOlderVersion: 0, neverSynced: 0, lost: 0 });
    expect(result.reconciliation.archive).toMatchObject({ notFromInput: 0, newestMissing: 0 });
  }, 300_000);
});
