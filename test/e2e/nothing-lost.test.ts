/**
 * Nothing lost, measured on the local stack (emulators, local EventBridge,
 * the bundled functions in child processes, the SCV stand-in) with generated
 * contact records and injected faults. The 10,000-record run of the README's
 * "Delivery guarantees" is this test's first case at a larger count.
 */
import { describe, expect, it } from 'vitest';
import { FaultPlan, parseFaultSpec } from '../../local/faults/plan';
import { generateContactRecords } from '../../local/input/generate';
import { runLocal } from '../../local/run/start';

/** Every target at 10 %, and one crash per function, in a batch that is not the first. */
const FAULTS =
  'eventbridge=0.1,s3=0.1,sqs=0.1,telephony=0.1,dynamodb=0.1,firehose=0.1,' +
  'crash=ingest:2,crash=updater:3,crash=redrive:1';

describe('nothing lost under faults (1,000 generated records)', () => {
  it('ends with every contact on its newest version, every malformed record quarantined, every archived record accounted for, the shard at its tip, and a replay of the whole input changing no VoiceCall', async () => {
    const records = generateContactRecords({ count: 1_000, seed: 7 });
    const faults = new FaultPlan(parseFaultSpec(FAULTS), 7);

    const result = await runLocal(records, { faults, replay: true });

    const { reconciliation, summary } = result;
    // The faults did happen: every target, and every function crashed once.
    for (const target of ['eventbridge', 's3', 'sqs', 'telephony', 'dynamodb', 'firehose']) {
      expect(summary.faults.injected[target]).toBeGreaterThan(0);
    }
    expect(summary.faults.crashes).toEqual({ ingest: 1, updater: 1, redrive: 1 });
    // Nothing lost, nothing left on an older version.
    expect(reconciliation.toSync).toBeGreaterThan(200);
    expect(reconciliation).toMatchObject({
      received: 1_000,
      onOlderVersion: 0,
      neverSynced: 0,
      notQuarantined: 0,
      lost: 0,
    });
    expect(reconciliation.synced).toBe(reconciliation.toSync);
    // Every malformed record is in the quarantine with its raw bytes and a reason.
    const malformed = records.filter((record) => record.malformed).length;
    expect(reconciliation.quarantined).toBe(malformed);
    expect(Object.keys(reconciliation.rejected).sort()).toEqual([
      'forbidden-key',
      'invalid-json',
      'invalid-utf8',
      'schema',
      'too-deep',
      'too-large',
    ]);
    // Every archived record is an input record, and the newest version of every voice contact
    // is in the archive, or its event waits in the archive DLQ.
    expect(reconciliation.archive?.notFromInput).toBe(0);
    expect(reconciliation.archive?.newestMissing).toBeLessThanOrEqual(summary.inDlq.archive);
    expect(reconciliation.archive?.records).toBeGreaterThan(reconciliation.toSync);
    // The shard was never stalled: the consumer reached the stream's tip, nothing given up on.
    expect(summary.kinesis).toMatchObject({ reachedTip: true, recordsSentToOnFailure: 0 });
    // Synced agentless contacts carry hold data too, so none stays in the sweep's result.
    const unsynced = Object.values(result.voiceCalls).filter(
      (fields) => Object.keys(fields).length > 0 && fields.totalHoldDuration === undefined,
    );
    expect(unsynced).toEqual([]);
    // Redelivery is idempotent end to end.
    expect(result.firstPass).toBeDefined();
    expect(result.voiceCalls).toEqual(result.firstPass);
  }, 600_000);
});
