/**
 * Interleavings of two updaters that an adversarial review of the sync ledger
 * found leaving a VoiceCall on an older version while the ledger said the
 * newest one was sent. Each forces its interleaving with the fakes' hooks; the
 * promise is that the VoiceCall ends on the newest claimed version, or the
 * ledger holds that version pending and out of order, so its own sender
 * cannot mark it sent without sending again and the sweep resends it.
 */
import { describe, expect, it } from 'vitest';
import { type ContactRecord, parseContactRecordText } from '../../domain/contact-record';
import type { HeldRecord, LedgerItem, SyncLedger } from '../../domain/ports';
import { type SyncRequest, syncVoiceCall } from '../../domain/sync-voice-call';
import { contentDigest, versionKey } from '../../domain/versions';
import { buildContactRecord, loadContactRecord } from '../fixtures/factories';
import { FakeLedger, FakeTelephony } from '../fixtures/fakes';

const CONTACT_ID = '15a5cf14-3212-45a1-9f86-a8e97db8afaf';
const now = () => 5_000;

function version(at: string, queue: string, extra: Record<string, unknown> = {}): ContactRecord {
  return buildContactRecord({
    LastUpdateTimestamp: at,
    Queue: { ...loadContactRecord('inbound-answered').Queue, Name: queue },
    ...extra,
  });
}

const keyOf = (record: ContactRecord) =>
  versionKey(record.LastUpdateTimestamp, contentDigest(JSON.stringify(record)));

function requestOf(record: ContactRecord, extra: Partial<SyncRequest>): SyncRequest {
  const json = JSON.stringify(record);
  return { contactRecord: record, json, held: { json }, receivedAt: 1, claimToken: 'm', ...extra };
}

const readHeld = async (held: HeldRecord) =>
  'json' in held ? parseContactRecordText(held.json).contactRecord : undefined;

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/**
 * One updater's view of a shared ledger: its claim's answer can be lost (the
 * claim is applied, and the SDK's retry answers), and its mark-sent can wait
 * for a gate (its send landed, its updater is slow to record it).
 */
function viewOf(
  shared: SyncLedger,
  options: { lostClaimAnswer?: boolean; gate?: Promise<void>; atMarkSent?: () => void },
): SyncLedger {
  return {
    claim: async (request) => {
      if (options.lostClaimAnswer) await shared.claim(request);
      return shared.claim(request);
    },
    markSent: async (...args) => {
      options.atMarkSent?.();
      await options.gate;
      return shared.markSent(...args);
    },
    beginSend: (...args) => shared.beginSend(...args),
    markPending: (...args) => shared.markPending(...args),
    deferPending: (...args) => shared.deferPending(...args),
    holdOverrides: (...args) => shared.holdOverrides(...args),
    get: (contactId) => shared.get(contactId),
    listPending: (request) => shared.listPending(request),
    forget: (contactId) => shared.forget(contactId),
    resetClaim: (contactId, options) => shared.resetClaim(contactId, options),
    getSweepCursor: (band) => shared.getSweepCursor(band),
    advanceSweepCursor: (band, from, to) => shared.advanceSweepCursor(band, from, to),
  };
}

/**
 * U1 syncs `first`. While U1's send of `trigger` is in flight, U2 syncs
 * `second` up to its mark-sent (so U2's update lands first); then U1's update
 * lands and U1 settles; then U2 marks sent.
 */
async function race(
  shared: FakeLedger,
  first: SyncRequest,
  second: SyncRequest,
  trigger: string,
  secondView: { lostClaimAnswer?: boolean } = {},
) {
  const telephony = new FakeTelephony();
  const gate = deferred();
  const secondAtMarkSent = deferred();
  let secondSync: Promise<unknown> | undefined;
  telephony.duringUpdate = async (update) => {
    if (update.fieldValues.queue !== trigger || secondSync) return;
    secondSync = syncVoiceCall(second, {
      ledger: viewOf(shared, {
        ...secondView,
        gate: gate.promise,
        atMarkSent: secondAtMarkSent.resolve,
      }),
      telephony,
      readHeld,
      now,
    });
    await secondAtMarkSent.promise;
  };
  await syncVoiceCall(first, { ledger: shared, telephony, readHeld, now });
  gate.resolve();
  await secondSync;
  return { telephony, item: shared.items.get(CONTACT_ID) as LedgerItem };
}

/** The VoiceCall holds `newest`, or the ledger holds it pending and out of order for the sweep. */
function expectNewestOrPending(
  telephony: FakeTelephony,
  item: LedgerItem,
  newest: ContactRecord,
): void {
  const last = telephony.updates.at(-1)?.fieldValues.queue;
  const newestQueue = toQueue(newest);
  if (last === newestQueue) {
    expect(item.claimed).toBe(keyOf(newest));
    return;
  }
  expect(item).toMatchObject({ claimed: keyOf(newest), pendingSince: expect.any(Number) });
  expect(item.dirty).toBeGreaterThanOrEqual(item.sends ?? 0);
}

const toQueue = (record: ContactRecord) => (record.Queue as { Name: string }).Name;
const older = version('2022-04-08T15:03:02Z', 'Older');
const newer = version('2022-04-09T00:00:00Z', 'Newer');

describe('two updaters, one contact', () => {
  it('repairs at once when the newer version was claimed normally (its record held)', async () => {
    const { telephony, item } = await race(
      new FakeLedger(),
      requestOf(older, { claimToken: 'm1' }),
      requestOf(newer, { claimToken: 'm2' }),
      'Older',
    );

    expect(telephony.updates.at(-1)?.fieldValues.queue).toBe('Newer');
    expect(item.sent).toBe(keyOf(newer));
  });

  it('ends on the newer version when its claim was applied but answered with an error and retried', async () => {
    const { telephony, item } = await race(
      new FakeLedger(),
      requestOf(older, { claimToken: 'm1' }),
      requestOf(newer, { claimToken: 'm2' }),
      'Older',
      { lostClaimAnswer: true },
    );

    expectNewestOrPending(telephony, item, newer);
  });

  it('ends on the newer version when a resync of the acknowledged older one races its first delivery', async () => {
    const shared = new FakeLedger();
    await syncVoiceCall(requestOf(older, { claimToken: 'm1' }), {
      ledger: shared,
      telephony: new FakeTelephony(),
      readHeld,
      now,
    });

    const { telephony, item } = await race(
      shared,
      requestOf(older, { claimToken: 'resync', resync: true }),
      requestOf(newer, { claimToken: 'm2' }),
      'Older',
    );

    expectNewestOrPending(telephony, item, newer);
  });

  it('ends on the newest version when a repair of an acknowledged held version races a newer first delivery', async () => {
    const middle = version('2022-04-09T00:00:00Z', 'Middle');
    const newest = version('2022-04-10T00:00:00Z', 'Newest');
    const shared = new FakeLedger();
    await syncVoiceCall(requestOf(middle, { claimToken: 'm2', redelivered: true }), {
      ledger: shared,
      telephony: new FakeTelephony(),
      readHeld,
      now,
    });

    const { telephony, item } = await race(
      shared,
      requestOf(older, { claimToken: 'm1', redelivered: true }),
      requestOf(newest, { claimToken: 'm3' }),
      'Middle',
    );

    expect(telephony.updates.map((update) => update.fieldValues.queue)).toContain('Middle');
    expectNewestOrPending(telephony, item, newest);
  });

  it('ends on the newest version when a version skipped on purpose was claimed between two sent ones', async () => {
    const sample = loadContactRecord('inbound-answered');
    const skipped = version('2022-04-09T00:00:00Z', 'Skipped', {
      Attributes: { ...sample.Attributes, NoSync: 'true' },
    });
    const newest = version('2022-04-10T00:00:00Z', 'Newest');
    const shared = new FakeLedger();
    const telephony = new FakeTelephony();
    const gate = deferred();
    const atMarkSent = deferred();
    let third: Promise<unknown> | undefined;
    telephony.duringUpdate = async (update) => {
      if (update.fieldValues.queue !== 'Older' || third) return;
      await syncVoiceCall(requestOf(skipped, { claimToken: 'm2' }), {
        ledger: shared,
        telephony,
        readHeld,
        now,
      });
      third = syncVoiceCall(requestOf(newest, { claimToken: 'm3' }), {
        ledger: viewOf(shared, { gate: gate.promise, atMarkSent: atMarkSent.resolve }),
        telephony,
        readHeld,
        now,
      });
      await atMarkSent.promise;
    };

    await syncVoiceCall(requestOf(older, { claimToken: 'm1' }), {
      ledger: shared,
      telephony,
      readHeld,
      now,
    });
    gate.resolve();
    await third;

    expectNewestOrPending(telephony, shared.items.get(CONTACT_ID) as LedgerItem, newest);
  });

  it('does not ping-pong when two resyncs of the same version and overrides run at once', async () => {
    const shared = new FakeLedger();
    await syncVoiceCall(requestOf(newer, { claimToken: 'm1' }), {
      ledger: shared,
      telephony: new FakeTelephony(),
      readHeld,
      now,
    });

    const { telephony, item } = await race(
      shared,
      requestOf(newer, { claimToken: 'r1', resync: true }),
      requestOf(newer, { claimToken: 'r2', resync: true }),
      'Newer',
    );

    expect(telephony.updates).toHaveLength(2);
    expect(item).toMatchObject({ sent: keyOf(newer) });
    expect(item.pendingSince).toBeUndefined();
  });
});
