import { describe, expect, it } from 'vitest';
import { type ContactRecord, parseContactRecordText } from '../../domain/contact-record';
import { TransientError } from '../../domain/errors';
import type { HeldRecord } from '../../domain/ports';
import { type SyncRequest, syncVoiceCall } from '../../domain/sync-voice-call';
import { contentDigest, versionKey } from '../../domain/versions';
import { toVoiceCallUpdate } from '../../domain/voice-call';
import { buildContactRecord, loadContactRecord } from '../fixtures/factories';
import { FakeLedger, FakeTelephony } from '../fixtures/fakes';

/** The inbound-answered sample: LastUpdateTimestamp 2022-04-08T15:03:02Z. */
const CONTACT_ID = '15a5cf14-3212-45a1-9f86-a8e97db8afaf';

/** A sync request for `record`, as the updater builds it from an inline message. */
function requestOf(record: ContactRecord, extra: Partial<SyncRequest> = {}): SyncRequest {
  const json = JSON.stringify(record);
  return {
    contactRecord: record,
    json,
    held: { json },
    receivedAt: 1_700_000_000_000,
    claimToken: `message-${record.LastUpdateTimestamp}-${contentDigest(json)}`,
    ...extra,
  };
}

function keyOf(record: ContactRecord): string {
  return versionKey(record.LastUpdateTimestamp, contentDigest(JSON.stringify(record)));
}

/** A version of the sample that differs where the VoiceCall shows it (the queue). */
function version(lastUpdateTimestamp: string, queue: string): ContactRecord {
  return buildContactRecord({
    LastUpdateTimestamp: lastUpdateTimestamp,
    Queue: { ...loadContactRecord('inbound-answered').Queue, Name: queue },
  });
}

const readHeld = async (held: HeldRecord) =>
  'json' in held ? parseContactRecordText(held.json).contactRecord : undefined;

function portsOf(ledger: FakeLedger, telephony = new FakeTelephony()) {
  return { ledger, telephony, readHeld, now: () => 5_000 };
}

describe('syncVoiceCall', () => {
  it('claims a new version, sends its fieldValues and marks it sent: two ledger writes, no read', async () => {
    const record = loadContactRecord('inbound-answered');
    const ledger = new FakeLedger();
    const telephony = new FakeTelephony();

    const result = await syncVoiceCall(requestOf(record), portsOf(ledger, telephony));

    expect(result).toMatchObject({ outcome: 'synced', version: keyOf(record), repairs: 0 });
    expect(telephony.updates).toEqual([toVoiceCallUpdate(loadContactRecord('inbound-answered'))]);
    expect(ledger.requests).toEqual({ writes: 2, reads: 0 });
    const item = ledger.items.get(CONTACT_ID);
    expect(item).toMatchObject({ claimed: keyOf(record), sent: keyOf(record) });
    expect(item?.pendingSince).toBeUndefined();
    expect(item?.held).toBeUndefined();
  });

  it('sends nothing for a duplicate delivery of an acknowledged version: one conditional write', async () => {
    const record = loadContactRecord('inbound-answered');
    const ledger = new FakeLedger();
    await syncVoiceCall(requestOf(record, { claimToken: 'first' }), portsOf(ledger));
    const telephony = new FakeTelephony();
    const writesBefore = ledger.requests.writes;

    const result = await syncVoiceCall(
      requestOf(record, { claimToken: 'second' }),
      portsOf(ledger, telephony),
    );

    expect(result).toEqual({ outcome: 'duplicate' });
    expect(telephony.updates).toHaveLength(0);
    expect(ledger.requests.writes - writesBefore).toBe(1);
  });

  it('sends nothing for a delivery older than the claimed version', async () => {
    const ledger = new FakeLedger();
    await syncVoiceCall(requestOf(version('2022-04-09T00:00:00Z', 'Newer')), portsOf(ledger));
    const telephony = new FakeTelephony();

    const result = await syncVoiceCall(
      requestOf(version('2022-04-08T15:03:02Z', 'Older')),
      portsOf(ledger, telephony),
    );

    expect(result.outcome).toBe('superseded');
    expect(telephony.updates).toHaveLength(0);
  });

  it('treats two different records of the same second as two versions, and every order ends on the same one', async () => {
    const a = version('2022-04-08T15:03:02Z', 'Queue A');
    const b = version('2022-04-08T15:03:02Z', 'Queue B');
    const expected = keyOf(a) > keyOf(b) ? 'Queue A' : 'Queue B';

    const finals: unknown[] = [];
    for (const order of [
      [a, b],
      [b, a],
    ]) {
      const ledger = new FakeLedger();
      const telephony = new FakeTelephony();
      for (const record of order)
        await syncVoiceCall(requestOf(record), portsOf(ledger, telephony));
      finals.push(telephony.updates.at(-1)?.fieldValues.queue);
    }

    expect(keyOf(a)).not.toBe(keyOf(b));
    expect(finals).toEqual([expected, expected]);
  });

  it('applies the overrides held in the ledger to the fieldValues sent, and marks them sent', async () => {
    const record = loadContactRecord('inbound-answered');
    const ledger = new FakeLedger([
      {
        contactId: CONTACT_ID,
        overrides: { toNumber: '+15550109999', fromNumber: '+15550108888' },
        overridesAt: 42,
      },
    ]);
    const telephony = new FakeTelephony();

    const result = await syncVoiceCall(requestOf(record), portsOf(ledger, telephony));

    expect(result.outcome).toBe('synced');
    expect(telephony.updates[0]?.fieldValues).toMatchObject({
      toNumber: '+15550109999',
      fromNumber: '+15550108888',
      queue: 'BasicQueue',
    });
    expect(ledger.items.get(CONTACT_ID)?.sent).toBe(keyOf(record));
  });

  it.each([
    ['voicemail', 'voicemail'],
    ['no-sync', 'no-sync-attribute'],
  ] as const)(
    'claims a %s record with its skip reason and sends nothing',
    async (fixture, reason) => {
      const record = loadContactRecord(fixture);
      const ledger = new FakeLedger();
      const telephony = new FakeTelephony();

      const result = await syncVoiceCall(requestOf(record), portsOf(ledger, telephony));

      expect(result).toEqual({ outcome: 'skipped', reason });
      expect(telephony.updates).toHaveLength(0);
      expect(ledger.items.get(record.ContactId)).toMatchObject({
        claimed: keyOf(record),
        skipped: reason,
      });
    },
  );

  it('marks the version pending with its record held when the send fails, and lets the failure propagate', async () => {
    const record = loadContactRecord('inbound-answered');
    const ledger = new FakeLedger();
    const telephony = new FakeTelephony();
    telephony.failWith = new TransientError('throttled');

    const sync = syncVoiceCall(requestOf(record), portsOf(ledger, telephony));

    await expect(sync).rejects.toBeInstanceOf(TransientError);
    const item = ledger.items.get(CONTACT_ID);
    expect(item).toMatchObject({ claimed: keyOf(record), pendingSince: 5_000 });
    expect(item?.sent).toBeUndefined();
    expect(item?.heldVersion).toBe(keyOf(record));
    expect(item?.held).toEqual({ json: JSON.stringify(record) });
  });

  it('sends a redelivered version that was claimed but never acknowledged', async () => {
    const record = loadContactRecord('inbound-answered');
    const ledger = new FakeLedger();
    const failing = new FakeTelephony();
    failing.failWith = new TransientError('timeout');
    await syncVoiceCall(requestOf(record, { claimToken: 'm1' }), portsOf(ledger, failing)).catch(
      () => undefined,
    );
    const telephony = new FakeTelephony();

    const result = await syncVoiceCall(
      requestOf(record, { claimToken: 'm1', redelivered: true }),
      portsOf(ledger, telephony),
    );

    expect(result.outcome).toBe('synced');
    expect(telephony.updates).toHaveLength(1);
    expect(ledger.items.get(CONTACT_ID)).toMatchObject({ sent: keyOf(record) });
    expect(ledger.items.get(CONTACT_ID)?.pendingSince).toBeUndefined();
  });

  it('sends the version its own claim wrote when the claim is retried (its answer was lost)', async () => {
    const record = loadContactRecord('inbound-answered');
    const ledger = new FakeLedger();
    // The claim reached the table, its answer did not: the retry finds the version claimed by itself.
    await ledger.claim({
      contactId: CONTACT_ID,
      version: keyOf(record),
      token: 'm1',
      receivedAt: 1,
    });
    const telephony = new FakeTelephony();

    const result = await syncVoiceCall(
      requestOf(record, { claimToken: 'm1' }),
      portsOf(ledger, telephony),
    );

    expect(result.outcome).toBe('synced');
    expect(telephony.updates).toHaveLength(1);
  });

  it('does not send the version another message claimed and has not acknowledged yet', async () => {
    const record = loadContactRecord('inbound-answered');
    const ledger = new FakeLedger();
    await ledger.claim({
      contactId: CONTACT_ID,
      version: keyOf(record),
      token: 'm1',
      receivedAt: 1,
    });
    const telephony = new FakeTelephony();

    const result = await syncVoiceCall(
      requestOf(record, { claimToken: 'm2' }),
      portsOf(ledger, telephony),
    );

    expect(result).toEqual({ outcome: 'duplicate' });
    expect(telephony.updates).toHaveLength(0);
  });

  it('sends an acknowledged version again for a resync', async () => {
    const record = loadContactRecord('inbound-answered');
    const ledger = new FakeLedger();
    await syncVoiceCall(requestOf(record, { claimToken: 'm1' }), portsOf(ledger));
    const telephony = new FakeTelephony();

    const result = await syncVoiceCall(
      requestOf(record, { claimToken: 'resync', resync: true }),
      portsOf(ledger, telephony),
    );

    expect(result.outcome).toBe('synced');
    expect(telephony.updates).toHaveLength(1);
  });

  it('holds its record before sending when another version is claimed and unacknowledged', async () => {
    const older = version('2022-04-08T15:03:02Z', 'Older');
    const newer = version('2022-04-09T00:00:00Z', 'Newer');
    const ledger = new FakeLedger();
    await ledger.claim({
      contactId: CONTACT_ID,
      version: keyOf(older),
      token: 'm1',
      receivedAt: 1,
    });
    let heldWhenSent: string | undefined;
    const telephony = new FakeTelephony();
    telephony.duringUpdate = async () => {
      heldWhenSent = ledger.items.get(CONTACT_ID)?.heldVersion;
    };

    await syncVoiceCall(requestOf(newer, { claimToken: 'm2' }), portsOf(ledger, telephony));

    expect(heldWhenSent).toBe(keyOf(newer));
  });

  it('sends the newer version held in the ledger when one was claimed while this one was sent', async () => {
    const older = version('2022-04-08T15:03:02Z', 'Older');
    const newer = version('2022-04-09T00:00:00Z', 'Newer');
    const ledger = new FakeLedger();
    const telephony = new FakeTelephony();
    let raced = false;
    telephony.duringUpdate = async () => {
      if (raced) return;
      raced = true;
      // Another updater claims the newer version and holds it (an older one is unacknowledged).
      await ledger.claim({
        contactId: CONTACT_ID,
        version: keyOf(newer),
        token: 'm2',
        receivedAt: 2,
      });
      await ledger.markPending(CONTACT_ID, keyOf(newer), 6, {
        record: { json: JSON.stringify(newer) },
      });
    };

    const result = await syncVoiceCall(
      requestOf(older, { claimToken: 'm1' }),
      portsOf(ledger, telephony),
    );

    expect(result).toMatchObject({ outcome: 'synced', version: keyOf(newer), repairs: 1 });
    expect(telephony.updates.map((update) => update.fieldValues.queue)).toEqual(['Older', 'Newer']);
    expect(ledger.items.get(CONTACT_ID)?.sent).toBe(keyOf(newer));
  });

  it('marks the newer version pending when it was acknowledged during this send and is not held', async () => {
    const older = version('2022-04-08T15:03:02Z', 'Older');
    const newer = version('2022-04-09T00:00:00Z', 'Newer');
    const ledger = new FakeLedger();
    const telephony = new FakeTelephony();
    telephony.duringUpdate = async (update) => {
      if (update.fieldValues.queue !== 'Older') return;
      await ledger.claim({
        contactId: CONTACT_ID,
        version: keyOf(newer),
        token: 'm2',
        receivedAt: 2,
      });
      const item = ledger.items.get(CONTACT_ID);
      await ledger.markSent(CONTACT_ID, keyOf(newer), item?.sends ?? 0, undefined);
    };

    await syncVoiceCall(requestOf(older, { claimToken: 'm1' }), portsOf(ledger, telephony));

    expect(ledger.items.get(CONTACT_ID)).toMatchObject({
      claimed: keyOf(newer),
      pendingSince: 5_000,
    });
  });

  it('sends again with the overrides that arrived during the send', async () => {
    const record = loadContactRecord('inbound-answered');
    const ledger = new FakeLedger();
    const telephony = new FakeTelephony();
    telephony.duringUpdate = async () => {
      if (telephony.updates.length === 0) {
        await ledger.holdOverrides(CONTACT_ID, { toNumber: '+15550107777' }, 99);
      }
    };

    const result = await syncVoiceCall(requestOf(record), portsOf(ledger, telephony));

    expect(result).toMatchObject({ outcome: 'synced', repairs: 1 });
    expect(telephony.updates.map((update) => update.fieldValues.toNumber)).toEqual([
      toVoiceCallUpdate(record).fieldValues.toNumber,
      '+15550107777',
    ]);
  });

  it('resends the newer held version when a superseded version is a redelivery', async () => {
    const older = version('2022-04-08T15:03:02Z', 'Older');
    const newer = version('2022-04-09T00:00:00Z', 'Newer');
    const ledger = new FakeLedger();
    await ledger.claim({
      contactId: CONTACT_ID,
      version: keyOf(newer),
      token: 'm2',
      receivedAt: 2,
    });
    await ledger.markPending(CONTACT_ID, keyOf(newer), 6, {
      record: { json: JSON.stringify(newer) },
    });
    await ledger.markSent(CONTACT_ID, keyOf(newer), 1, undefined);
    const telephony = new FakeTelephony();

    const result = await syncVoiceCall(
      requestOf(older, { claimToken: 'm1', redelivered: true }),
      portsOf(ledger, telephony),
    );

    expect(result.outcome).toBe('superseded');
    expect(telephony.updates.map((update) => update.fieldValues.queue)).toEqual(['Newer']);
  });

  it('gives up with a TransientError when the claimed version keeps changing', async () => {
    const record = loadContactRecord('inbound-answered');
    const ledger = new FakeLedger();
    const telephony = new FakeTelephony();
    let at = 100;
    telephony.duringUpdate = async () => {
      await ledger.holdOverrides(CONTACT_ID, { toNumber: `+1555010${at}` }, at++);
    };

    const sync = syncVoiceCall(requestOf(record), portsOf(ledger, telephony));

    await expect(sync).rejects.toBeInstanceOf(TransientError);
    expect(telephony.updates).toHaveLength(4);
  });
});
