/**
 * The sync ledger's contract, run against the DynamoDB adapter
 * (functions/shared/dynamodb-ledger.ts) over local DynamoDB (dynalite behind
 * local/dynamodb/server.ts) and against the in-memory FakeLedger that the
 * use-case tests use, so the fake cannot drift from the adapter. Then the
 * sync use case on the real adapter: concurrent updaters, and a claim whose
 * answer is lost.
 */
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseContactRecordText } from '../../domain/contact-record';
import type { HeldRecord, SyncLedger } from '../../domain/ports';
import { syncVoiceCall } from '../../domain/sync-voice-call';
import { contentDigest, versionKey } from '../../domain/versions';
import { createDynamoDbLedger } from '../../functions/shared/dynamodb-ledger';
import type { DynamoDbFault } from '../../local/dynamodb/server';
import { ledgerTableInput } from '../../local/run/topology';
import { buildContactRecord, loadContactRecord } from '../fixtures/factories';
import { FakeLedger, FakeTelephony } from '../fixtures/fakes';
import { startTestDynamoDb, type TestDynamoDb } from './local-dynamodb';

let local: TestDynamoDb;
/** Set by a test to fail the next request(s) of the proxy. */
let nextFault: ((operation: string) => DynamoDbFault) | undefined;
let tables = 0;

beforeAll(async () => {
  local = await startTestDynamoDb({ fault: (operation) => nextFault?.(operation) });
});

afterAll(async () => {
  await local?.stop();
});

async function dynamoDbLedger(): Promise<SyncLedger> {
  const tableName = `ledger-${++tables}`;
  await local.client.send(new CreateTableCommand(ledgerTableInput(tableName)));
  return createDynamoDbLedger({
    client: local.client,
    tableName,
    ttlDays: 730,
    now: () => 1_000_000,
  });
}

const V1 = '2022-04-08T15:03:02.000Z#1111111111111111';
const V2 = '2022-04-08T15:03:02.000Z#2222222222222222';
const V3 = '2022-04-09T00:00:00.000Z#0000000000000000';

describe.each([
  ['DynamoDB adapter on local DynamoDB', dynamoDbLedger],
  ['FakeLedger', async () => new FakeLedger() as SyncLedger],
])('sync ledger contract: %s', (_name, create) => {
  it('claims a new version, and then answers duplicate (own or not) and older', async () => {
    const ledger = await create();

    const first = await ledger.claim({ contactId: 'c', version: V2, token: 'm1', receivedAt: 5 });
    const own = await ledger.claim({ contactId: 'c', version: V2, token: 'm1', receivedAt: 6 });
    const other = await ledger.claim({ contactId: 'c', version: V2, token: 'm2', receivedAt: 6 });
    const older = await ledger.claim({ contactId: 'c', version: V1, token: 'm3', receivedAt: 6 });

    expect(first).toEqual({ outcome: 'claimed', before: undefined, generation: 1 });
    expect(own).toMatchObject({ outcome: 'duplicate', own: true, before: { claimed: V2 } });
    expect(other).toMatchObject({ outcome: 'duplicate', own: false });
    expect(older).toMatchObject({ outcome: 'older', before: { claimed: V2, receivedAt: 5 } });
  });

  it('orders versions of the same second by digest, and returns the item before a newer claim', async () => {
    const ledger = await create();
    await ledger.claim({ contactId: 'c', version: V1, token: 'm1', receivedAt: 5 });
    await ledger.markSent('c', V1, 1, undefined);

    const newer = await ledger.claim({ contactId: 'c', version: V2, token: 'm2', receivedAt: 7 });
    const newest = await ledger.claim({ contactId: 'c', version: V3, token: 'm3', receivedAt: 8 });

    expect(newer).toMatchObject({
      outcome: 'claimed',
      generation: 2,
      before: { claimed: V1, sent: V1 },
    });
    expect(newest).toMatchObject({
      outcome: 'claimed',
      generation: 3,
      before: { claimed: V2, sent: V1 },
    });
    expect(await ledger.get('c')).toMatchObject({ claimed: V3, sent: V1, receivedAt: 8 });
  });

  it('marks a version sent only while it is claimed and its overrides are unchanged', async () => {
    const ledger = await create();
    await ledger.claim({ contactId: 'c', version: V1, token: 'm1', receivedAt: 5 });
    await ledger.holdOverrides('c', { toNumber: '+15550100001' }, 10);

    const stale = await ledger.markSent('c', V1, 1, undefined);
    const current = await ledger.markSent('c', V1, 1, 10);
    await ledger.claim({ contactId: 'c', version: V2, token: 'm2', receivedAt: 5 });
    const superseded = await ledger.markSent('c', V1, 1, 10);

    expect(stale).toMatchObject({ outcome: 'changed', item: { overridesAt: 10 } });
    expect(current).toEqual({ outcome: 'sent' });
    expect(superseded).toMatchObject({ outcome: 'changed', item: { claimed: V2, sent: V1 } });
  });

  it('marks the claimed version pending with its record held, and lists it from the pending index', async () => {
    const ledger = await create();
    const held: HeldRecord = { json: '{"ContactId":"c"}' };
    await ledger.claim({ contactId: 'c', version: V1, token: 'm1', receivedAt: 5 });
    await ledger.claim({ contactId: 'd', version: V1, token: 'm2', receivedAt: 5 });

    const wrongVersion = await ledger.markPending('c', V2, 100, { record: held });
    const marked = await ledger.markPending('c', V1, 100, { record: held });
    await ledger.markPending('d', V1, 300);
    const due = await ledger.listPending({ before: 200, limit: 10 });

    expect(wrongVersion).toBe(false);
    expect(marked).toBe(true);
    expect(due.items).toEqual([
      expect.objectContaining({ contactId: 'c', pendingSince: 100, held, heldVersion: V1 }),
    ]);
  });

  it('clears pending when the version is marked sent, and a newer claim drops the held record', async () => {
    const ledger = await create();
    await ledger.claim({ contactId: 'c', version: V1, token: 'm1', receivedAt: 5 });
    await ledger.markPending('c', V1, 100, { record: { json: '{}' } });

    await ledger.markSent('c', V1, 1, undefined);
    const afterSent = await ledger.get('c');
    await ledger.claim({ contactId: 'c', version: V2, token: 'm2', receivedAt: 5 });

    expect(afterSent?.pendingSince).toBeUndefined();
    expect((await ledger.listPending({ before: 1_000, limit: 10 })).items).toEqual([]);
    expect((await ledger.get('c'))?.held).toBeUndefined();
  });

  it('holds the record and marks it pending when the claim says so (a redelivery), by reference too', async () => {
    const ledger = await create();
    const ref: HeldRecord = { ref: { bucket: 'b', key: 'large/c/v.json' } };

    await ledger.claim({ contactId: 'c', version: V1, token: 'm1', receivedAt: 5, hold: ref });

    expect(await ledger.get('c')).toMatchObject({ held: ref, heldVersion: V1 });
    expect((await ledger.get('c'))?.pendingSince).toBeDefined();
  });

  it('holds overrides for a contact it has not seen, and keeps them through claims', async () => {
    const ledger = await create();

    const held = await ledger.holdOverrides('c', { fromNumber: '+15550100002' }, 10);
    const claim = await ledger.claim({ contactId: 'c', version: V1, token: 'm1', receivedAt: 5 });

    expect(held).toEqual({
      contactId: 'c',
      overrides: { fromNumber: '+15550100002' },
      overridesAt: 10,
    });
    expect(claim).toMatchObject({
      outcome: 'claimed',
      before: { overrides: { fromNumber: '+15550100002' } },
    });
    expect(await ledger.get('c')).toMatchObject({
      claimed: V1,
      overrides: { fromNumber: '+15550100002' },
    });
  });

  it('records the skip reason of a claimed version, and a newer claim clears it', async () => {
    const ledger = await create();

    await ledger.claim({
      contactId: 'c',
      version: V1,
      token: 'm1',
      receivedAt: 5,
      skipped: 'voicemail',
    });
    const skipped = await ledger.get('c');
    await ledger.claim({ contactId: 'c', version: V2, token: 'm2', receivedAt: 5 });

    expect(skipped?.skipped).toBe('voicemail');
    expect((await ledger.get('c'))?.skipped).toBeUndefined();
  });

  it('marks a version sent only by the send generation started last', async () => {
    const ledger = await create();
    await ledger.claim({ contactId: 'c', version: V1, token: 'm1', receivedAt: 5 });

    const second = await ledger.beginSend('c', V1);
    const byFirst = await ledger.markSent('c', V1, 1, undefined);
    const bySecond = await ledger.markSent('c', V1, 2, undefined);
    const ofOther = await ledger.beginSend('c', V2);

    expect(second).toBe(2);
    expect(byFirst).toMatchObject({ outcome: 'changed', item: { sends: 2 } });
    expect(bySecond).toEqual({ outcome: 'sent' });
    expect(ofOther).toBeUndefined();
  });

  it('refuses to mark sent a send started at or before an out-of-order landing, and accepts a later one', async () => {
    const ledger = await create();
    await ledger.claim({ contactId: 'c', version: V1, token: 'm1', receivedAt: 5 });

    await ledger.markPending('c', V1, 100, { outOfOrder: 1 });
    const lower = await ledger.markPending('c', V1, 100, { outOfOrder: 0 });
    const dirty = await ledger.markSent('c', V1, 1, undefined);
    const again = await ledger.beginSend('c', V1);
    const clean = await ledger.markSent('c', V1, again as number, undefined);

    expect(lower).toBe(false);
    expect(dirty).toMatchObject({ outcome: 'changed', item: { dirty: 1, pendingSince: 100 } });
    expect(clean).toEqual({ outcome: 'sent' });
    expect(await ledger.get('c')).not.toHaveProperty('dirty');
    expect((await ledger.get('c'))?.pendingSince).toBeUndefined();
  });

  it('moves a pending item to the back of the pending index, and leaves one that is not pending', async () => {
    const ledger = await create();
    await ledger.claim({ contactId: 'c', version: V1, token: 'm1', receivedAt: 5 });
    await ledger.claim({ contactId: 'd', version: V1, token: 'm2', receivedAt: 5 });
    await ledger.markPending('c', V1, 100);
    await ledger.markPending('d', V1, 200);

    const deferred = await ledger.deferPending('c', 300);
    const notPending = await ledger.deferPending('e', 300);
    const due = await ledger.listPending({ before: 1_000, limit: 10 });

    expect([deferred, notPending]).toEqual([true, false]);
    expect(due.items.map((item) => item.contactId)).toEqual(['d', 'c']);
  });

  it('forgets an item', async () => {
    const ledger = await create();
    await ledger.claim({ contactId: 'c', version: V1, token: 'm1', receivedAt: 5 });

    await ledger.forget('c');

    expect(await ledger.get('c')).toBeUndefined();
  });

  it('keeps a sweep cursor per band that only moves forward, over windows that start at or before it', async () => {
    const ledger = await create();

    const before = await ledger.getSweepCursor('first-look');
    const moved = [
      await ledger.advanceSweepCursor('first-look', 1_000, 2_000),
      // Back: a late continuation of an older window.
      await ledger.advanceSweepCursor('first-look', 500, 1_000),
      // A jump over [2000, 3000), which nobody swept.
      await ledger.advanceSweepCursor('first-look', 3_000, 4_000),
      await ledger.advanceSweepCursor('first-look', 2_000, 3_000),
    ];
    await ledger.advanceSweepCursor('second-look', 0, 500);

    expect(before).toBeUndefined();
    expect(moved).toEqual([true, false, false, true]);
    expect(await ledger.getSweepCursor('first-look')).toBe(3_000);
    expect(await ledger.getSweepCursor('second-look')).toBe(500);
    expect((await ledger.listPending({ before: 10_000, limit: 10 })).items).toEqual([]);
  });

  it('resets a claim, keeping the overrides and the send generation, so an older version is claimed as new', async () => {
    const ledger = await create();
    await ledger.claim({ contactId: 'c', version: V2, token: 'm1', receivedAt: 5 });
    await ledger.holdOverrides('c', { toNumber: '+15550100001' }, 7);
    const generation = await ledger.beginSend('c', V2);
    await ledger.markPending('c', V2, 9, { record: { json: '{}' } });

    const reset = await ledger.resetClaim('c');
    const missing = await ledger.resetClaim('nobody');
    const claim = await ledger.claim({ contactId: 'c', version: V1, token: 'm2', receivedAt: 11 });

    expect(missing).toBeUndefined();
    expect(await ledger.get('nobody')).toBeUndefined();
    expect(reset).toEqual({
      contactId: 'c',
      overrides: { toNumber: '+15550100001' },
      overridesAt: 7,
      sends: generation,
    });
    expect(claim.outcome).toBe('claimed');
    expect((await ledger.listPending({ before: 1_000, limit: 10 })).items).toEqual([]);
    // The send begun before the reset cannot be marked sent after it.
    expect((await ledger.markSent('c', V2, generation as number, 7)).outcome).not.toBe('sent');
  });

  it('resets a claim with its held overrides when asked', async () => {
    const ledger = await create();
    await ledger.claim({ contactId: 'c', version: V2, token: 'm1', receivedAt: 5 });
    await ledger.holdOverrides('c', { fromNumber: '+15550100002' }, 7);

    const reset = await ledger.resetClaim('c', { overrides: true });

    expect(reset?.overrides).toBeUndefined();
    expect(reset?.overridesAt).toBeUndefined();
    expect((await ledger.get('c'))?.claimed).toBeUndefined();
  });
});

const readHeld = async (held: HeldRecord) =>
  'json' in held ? parseContactRecordText(held.json).contactRecord : undefined;

describe('syncVoiceCall on the DynamoDB ledger', () => {
  it('ends on the newer version, sent, whenever two updaters sync two versions of a contact at once', async () => {
    const ledger = await dynamoDbLedger();
    const sample = loadContactRecord('inbound-answered');
    const queues = ['Older', 'Newer'];
    for (let round = 0; round < 12; round++) {
      const contactId = `00000000-0000-4000-8000-${String(round).padStart(12, '0')}`;
      const versions = ['2022-04-08T15:03:02Z', '2022-04-08T15:04:02Z'].map((timestamp, index) =>
        buildContactRecord({
          ContactId: contactId,
          LastUpdateTimestamp: timestamp,
          Queue: { ...sample.Queue, Name: queues[index] },
        }),
      );
      const landed: string[] = [];
      const telephony = new FakeTelephony();
      // Sends take different times from round to round, so in some rounds the older version's
      // send is still running when the newer one's has landed.
      telephony.duringUpdate = async (update) => {
        const older = update.fieldValues.queue === 'Older';
        const delay = older ? (round % 3) * 15 : ((round + 1) % 3) * 5;
        await new Promise((resolve) => setTimeout(resolve, delay));
        landed.push(update.fieldValues.queue as string);
      };
      const order = round % 4 < 2 ? versions : [...versions].reverse();

      await Promise.all(
        order.map((record, index) => {
          const json = JSON.stringify(record);
          return syncVoiceCall(
            {
              contactRecord: record,
              json,
              held: { json },
              receivedAt: 1,
              claimToken: `m${round}-${index}`,
            },
            { ledger, telephony, readHeld },
          );
        }),
      );

      const newest = versions[1] as (typeof versions)[number];
      const newestKey = versionKey(
        newest.LastUpdateTimestamp,
        contentDigest(JSON.stringify(newest)),
      );
      const item = await ledger.get(contactId);
      expect([round, landed.at(-1)]).toEqual([round, 'Newer']);
      expect([
        round,
        item?.sent ?? (item?.pendingSince !== undefined ? 'pending' : 'none'),
      ]).toEqual([round, newestKey]);
    }
  });

  it('sends the version whose claim was written but answered with an error (the SDK retries it)', async () => {
    const ledger = await dynamoDbLedger();
    const record = loadContactRecord('inbound-answered');
    const json = JSON.stringify(record);
    const telephony = new FakeTelephony();
    let faulted = false;
    nextFault = (operation) => {
      if (operation !== 'UpdateItem' || faulted) return undefined;
      faulted = true;
      return { when: 'after' };
    };

    try {
      const result = await syncVoiceCall(
        { contactRecord: record, json, held: { json }, receivedAt: 1, claimToken: 'm1' },
        { ledger, telephony, readHeld },
      );

      expect(faulted).toBe(true);
      expect(result.outcome).toBe('synced');
      expect(telephony.updates).toHaveLength(1);
    } finally {
      nextFault = undefined;
    }
  });
});
