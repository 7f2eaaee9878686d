/**
 * DLQ redrive and bad input on every entry point, on the local stack:
 * - a sync message that keeps failing returns to the sync DLQ after each
 *   redrive (maxReceiveCount), exactly once, instead of looping;
 * - one that failed for a while is synced after the redrive, not lost;
 * - a contact record too large for an event is archived first and synced
 *   from a reference;
 * - malformed manual triggers and a START_CALL_PROCESSING without callId end
 *   in the redrive DLQ with the reason.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseContactRecord } from '../../domain/contact-record';
import { toVoiceCallUpdate } from '../../domain/voice-call';
import { DlqRedriveRequested, SweepRequested } from '../../events/redrive';
import { StartCallProcessing } from '../../events/start-call-processing';
import { type FaultTarget, FaultPlan } from '../../local/faults/plan';
import { type LocalStack, startLocalStack } from '../../local/run/stack';
import { loadContactRecordFixture } from '../fixtures/factories';

const answered = loadContactRecordFixture('inbound-answered');
const alwaysFailing = loadContactRecordFixture('outbound-answered');
const failingForAWhile = loadContactRecordFixture('callback');
/** Over 1,000,000 bytes, too large for an event entry; under 1 MiB, a valid record. */
const large = loadContactRecordFixture('sfdc-attributes');
large.Attributes = { ...(large.Attributes as object), transcript: 'é'.repeat(500_000) };

/**
 * The SCV stand-in answers with a FunctionError: always for one contact, and
 * for the first five invocations (maxReceiveCount) for another.
 */
class ContactFaults extends FaultPlan {
  private transientLeft = 5;

  constructor() {
    super({ rates: {}, crashes: [] }, 1);
  }

  override decide(target: FaultTarget, key: string): boolean {
    if (target !== 'telephony') return false;
    if (key.endsWith(String(alwaysFailing.ContactId))) return true;
    if (key.endsWith(String(failingForAWhile.ContactId)) && this.transientLeft > 0) {
      this.transientLeft--;
      return true;
    }
    return false;
  }

  override choose<T>(_target: FaultTarget, _key: string, options: readonly T[]): T {
    return options.find((option) => (option as { kind?: string }).kind === 'function-error') as T;
  }
}

let workDir: string;
let stack: LocalStack;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'ctr-sync-redrive-test-'));
  stack = await startLocalStack({
    workDir,
    faults: new ContactFaults(),
    visibilityTimeoutSeconds: 2,
  });
  for (const record of [answered, alwaysFailing, failingForAWhile, large]) {
    await stack.createVoiceCall(String(record.ContactId), '2024-03-12T14:00:00Z');
  }
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await rm(workDir, { recursive: true, force: true });
});

const fieldValuesOf = (record: Record<string, unknown>) =>
  toVoiceCallUpdate(parseContactRecord(record)).fieldValues;

describe('DLQ redrive and bad input on the local stack', () => {
  it('dead-letters what keeps failing, syncs a record too large for an event by reference, and dead-letters bad triggers with their reason', async () => {
    await stack.putRecords(
      [answered, alwaysFailing, failingForAWhile, large].map((record) =>
        Buffer.from(JSON.stringify(record)),
      ),
    );
    await stack.putEvent(SweepRequested.source, SweepRequested.detailType, { maxRecords: -1 });
    await stack.putEvent(DlqRedriveRequested.source, DlqRedriveRequested.detailType, {
      queues: 'sync',
    });
    await stack.putEvent(StartCallProcessing.source, StartCallProcessing.detailType, {
      toNumber: '+15550100001',
    });
    await stack.drain();

    const voiceCalls = await stack.voiceCalls();
    expect(voiceCalls[String(answered.ContactId)]?.fieldValues).toEqual(fieldValuesOf(answered));
    expect(voiceCalls[String(large.ContactId)]?.fieldValues).toEqual(fieldValuesOf(large));
    expect(voiceCalls[String(alwaysFailing.ContactId)]?.updateCount).toBe(0);
    expect(voiceCalls[String(failingForAWhile.ContactId)]?.updateCount).toBe(0);
    const syncDeadLetters = (await stack.peekDeadLetters('sync')).map(
      (body) => JSON.parse(body).contactId,
    );
    expect(syncDeadLetters.sort()).toEqual(
      [String(alwaysFailing.ContactId), String(failingForAWhile.ContactId)].sort(),
    );
    const redriveFailures = (await stack.peekDeadLetters('redrive')).map(
      (body) => JSON.parse(body).responsePayload.errorMessage as string,
    );
    expect(redriveFailures).toHaveLength(3);
    expect(redriveFailures.join('\n')).toMatch(/detail\.maxRecords/);
    expect(redriveFailures.join('\n')).toMatch(/detail(\.queues)?: Unrecognized key/);
    expect(redriveFailures.join('\n')).toMatch(/detail\.callId/);
    expect(await stack.summary()).toMatchObject({
      archived: 1,
      inDlq: { sync: 2, redrive: 3 },
    });
  }, 180_000);

  it('moves the sync DLQ back: the record that failed for a while is synced, the one that keeps failing returns to the DLQ once', async () => {
    await stack.putEvent(DlqRedriveRequested.source, DlqRedriveRequested.detailType, {});
    await stack.drain();

    const voiceCalls = await stack.voiceCalls();
    expect(voiceCalls[String(failingForAWhile.ContactId)]?.fieldValues).toEqual(
      fieldValuesOf(failingForAWhile),
    );
    expect(voiceCalls[String(alwaysFailing.ContactId)]?.updateCount).toBe(0);
    const syncDeadLetters = (await stack.peekDeadLetters('sync')).map(
      (body) => JSON.parse(body).contactId,
    );
    expect(syncDeadLetters).toEqual([String(alwaysFailing.ContactId)]);
    expect((await stack.summary()).inDlq.sync).toBe(1);
  }, 180_000);
});
