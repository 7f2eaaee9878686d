/**
 * Use case: bring a VoiceCall up to date with one version of its contact record.
 */
import type { ContactRecord } from './contact-record';
import { evaluateSyncEligibility, type SkipReason } from './eligibility';
import { TransientError } from './errors';
import type {
  FieldOverrides,
  HeldRecord,
  LedgerItem,
  SyncLedger,
  TelephonyIntegration,
} from './ports';
import { contentDigest, versionKey } from './versions';
import { toVoiceCallUpdate, type VoiceCallUpdate } from './voice-call';

/** What {@link syncVoiceCall} did: synced (the version that ended on the VoiceCall), or why not. */
export type SyncOutcome =
  | {
      outcome: 'synced';
      update: VoiceCallUpdate;
      /** Version key of the last version sent. */
      version: string;
      /** `updateVoiceCall` calls beyond the first (a newer version or new overrides sent as well). */
      repairs: number;
    }
  | { outcome: 'superseded'; claimedVersion: string }
  | { outcome: 'duplicate' }
  | { outcome: 'skipped'; reason: SkipReason };

/** One version of a contact record to sync. */
export interface SyncRequest {
  contactRecord: ContactRecord;
  /** The record's JSON text in `JSON.stringify` form (its digest orders same-second versions). */
  json: string;
  /** What the ledger holds for a later send of this version: the JSON, or the reference it came by. */
  held: HeldRecord;
  /** When the message reached the sync queue (SQS SentTimestamp), ms since the epoch. */
  receivedAt: number;
  /** Unique to the message (its SQS message id): tells the ledger a retried claim is its own. */
  claimToken: string;
  /**
   * Delivered before (SQS ApproximateReceiveCount > 1, or moved back from the
   * DLQ): an earlier attempt may have claimed this version and failed, or been
   * cut off while its `updateVoiceCall` was still running.
   */
  redelivered?: boolean;
  /** A resync (the sweep, START_CALL_PROCESSING, a replay): send even a version already acknowledged. */
  resync?: boolean;
}

/** The ports of {@link syncVoiceCall}. */
export interface SyncPorts {
  ledger: SyncLedger;
  telephony: TelephonyIntegration;
  /** Reads a held record (JSON inline, or the object a reference names). */
  readHeld: (held: HeldRecord) => Promise<ContactRecord | undefined>;
  /** Milliseconds since the epoch (injected for tests). */
  now?: () => number;
}

/** Sends after the first within one sync (newer versions or new overrides) before a TransientError. */
const MAX_REPAIRS = 3;

function withOverrides(
  record: ContactRecord,
  overrides: FieldOverrides | undefined,
): VoiceCallUpdate {
  const update = toVoiceCallUpdate(record);
  if (overrides?.toNumber) update.fieldValues.toNumber = overrides.toNumber;
  if (overrides?.fromNumber) update.fieldValues.fromNumber = overrides.fromNumber;
  return update;
}

/**
 * Sync one contact record version to its VoiceCall: one `updateVoiceCall` per
 * version newer than the claimed one, none for a duplicate or a superseded
 * version, and the VoiceCall never ends on an older version than the newest
 * one claimed.
 *
 * The sync ledger is the ordering authority and the record of what was
 * claimed and acknowledged, because deliveries are duplicated and reordered
 * and several updaters run at once. Versions are ordered by
 * {@link versionKey}: LastUpdateTimestamp, then the content digest.
 *
 * Primary course (a first delivery of a new version; two ledger writes):
 * 1. Claim the version: a conditional write that succeeds only when it is
 *    newer than the claimed one. It returns the item as it was, with any
 *    held START_CALL_PROCESSING overrides.
 * 2. A record skipped on purpose (voicemail, NoSync, initiation method) is
 *    claimed with its reason and not sent.
 * 3. Invoke `updateVoiceCall` with the record's fieldValues and the overrides.
 * 4. Mark it sent, on condition that it is still the claimed version and the
 *    overrides are unchanged.
 *
 * Alternative courses:
 * - The same version is claimed already: a duplicate, not sent, unless this
 *   is a resync, or a redelivery or the claiming message itself (its claim's
 *   answer was lost and the SDK retried it) and SCV has not acknowledged it.
 * - A newer version is claimed: superseded, not sent. A redelivery repairs
 *   (below): an earlier attempt may have been cut off while its older
 *   `updateVoiceCall` still ran, and landed after the newer one.
 * - Claimed while another version was claimed and not acknowledged (in
 *   flight, or failed): the record is held in the ledger before it is sent,
 *   so the updater of the older version, finding it claimed, can send it.
 * - Marking sent fails because a newer version was claimed meanwhile: when
 *   the ledger holds that version's record, send it as well (a repair);
 *   when it was already acknowledged but is not held, mark it pending, and
 *   the sweep resends it from the archive. When the overrides changed, send
 *   again with the new ones.
 * - A redelivery holds its record and marks the version pending as it
 *   claims, and a failed send does so too: if the message is then lost (its
 *   dead-letter copy expires), the sweep still finds the version pending.
 *
 * @throws TransientError when the version keeps changing during repairs;
 *   whatever the ports throw otherwise (after marking the version pending
 *   when the send failed). The caller reports the message as a batch item
 *   failure, so SQS retries it.
 */
export async function syncVoiceCall(request: SyncRequest, ports: SyncPorts): Promise<SyncOutcome> {
  const now = ports.now ?? Date.now;
  const record = request.contactRecord;
  const contactId = record.ContactId;
  const version = versionKey(record.LastUpdateTimestamp, contentDigest(request.json));
  const eligibility = evaluateSyncEligibility(record);
  const skipped = eligibility.eligible ? undefined : eligibility.reason;

  const claim = await ports.ledger.claim({
    contactId,
    version,
    token: request.claimToken,
    receivedAt: request.receivedAt,
    ...(skipped ? { skipped } : {}),
    ...(request.redelivered && !skipped ? { hold: request.held } : {}),
  });
  if (skipped) {
    return claim.outcome === 'older'
      ? { outcome: 'superseded', claimedVersion: claim.before.claimed ?? version }
      : { outcome: 'skipped', reason: skipped };
  }

  if (claim.outcome === 'older') {
    const item = claim.before;
    if (request.redelivered) {
      await repairNewer(item, { ...ports, now });
    }
    return { outcome: 'superseded', claimedVersion: item.claimed ?? version };
  }

  const before = claim.before;
  if (claim.outcome === 'duplicate') {
    const acknowledged = before?.sent === version;
    // An unacknowledged version is sent again by a redelivery, and by the message that claimed
    // it (its claim's answer was lost and retried): otherwise nobody would send it.
    const again = request.redelivered || claim.own;
    if (!request.resync && (acknowledged || !again)) return { outcome: 'duplicate' };
    if (request.redelivered && !acknowledged && before?.pendingSince === undefined) {
      // The claim did not write (the version was claimed): mark it pending and hold it now.
      await ports.ledger.markPending(contactId, version, now(), request.held);
    }
  } else if (
    !request.redelivered &&
    before?.claimed !== undefined &&
    before.claimed !== before.sent &&
    before.skipped === undefined
  ) {
    // Another version is claimed and not acknowledged: hold this one, so its updater can send it.
    if (!(await ports.ledger.markPending(contactId, version, now(), request.held))) {
      const item = await ports.ledger.get(contactId);
      return { outcome: 'superseded', claimedVersion: item?.claimed ?? version };
    }
  }

  const update = withOverrides(record, before?.overrides);
  try {
    await ports.telephony.updateVoiceCall(update);
  } catch (error) {
    // Best effort: a lost message must not leave this version unsent for ever.
    await ports.ledger.markPending(contactId, version, now(), request.held).catch(() => false);
    throw error;
  }
  return settle(
    { contactId, version, record, update, overridesAt: before?.overridesAt },
    { ...ports, now },
  );
}

/**
 * After a send: mark it sent, and while the ledger says the VoiceCall may not
 * hold the newest claimed version with the current overrides, send that.
 */
async function settle(
  sent: {
    contactId: string;
    version: string;
    record: ContactRecord;
    update: VoiceCallUpdate;
    overridesAt: number | undefined;
  },
  ports: SyncPorts & { now: () => number },
): Promise<SyncOutcome> {
  let { version, record, update, overridesAt } = sent;
  for (let repairs = 0; ; repairs++) {
    const mark = await ports.ledger.markSent(sent.contactId, version, overridesAt);
    if (mark.outcome === 'sent') return { outcome: 'synced', update, version, repairs };
    const item = mark.item;
    if (repairs === MAX_REPAIRS) {
      throw new TransientError(
        `ContactId ${sent.contactId} kept changing while it was synced; retrying later`,
      );
    }
    if (item.claimed !== version) {
      const newer = await heldRecordOf(item, ports);
      if (!newer) {
        await markNewerPendingIfAcknowledged(item, ports);
        return { outcome: 'synced', update, version, repairs };
      }
      record = newer;
      version = item.claimed as string;
    }
    // The same version with new overrides, or the newer version held in the ledger.
    update = withOverrides(record, item.overrides);
    overridesAt = item.overridesAt;
    await ports.telephony.updateVoiceCall(update);
  }
}

/**
 * An older version of this contact may have reached SCV after the newer,
 * claimed one (a redelivery of a cut-off attempt): send the claimed version
 * again if the ledger holds it, or leave it pending for the sweep.
 */
async function repairNewer(
  item: LedgerItem,
  ports: SyncPorts & { now: () => number },
): Promise<void> {
  if (item.skipped !== undefined || item.claimed === undefined) return;
  const newer = await heldRecordOf(item, ports);
  if (!newer) {
    await markNewerPendingIfAcknowledged(item, ports);
    return;
  }
  const update = withOverrides(newer, item.overrides);
  await ports.telephony.updateVoiceCall(update);
  await settle(
    {
      contactId: item.contactId,
      version: item.claimed,
      record: newer,
      update,
      overridesAt: item.overridesAt,
    },
    ports,
  );
}

/** The claimed version's record when the ledger holds it (and it is still that version's). */
async function heldRecordOf(
  item: LedgerItem,
  ports: SyncPorts,
): Promise<ContactRecord | undefined> {
  if (!item.held || item.heldVersion !== item.claimed || item.skipped !== undefined) {
    return undefined;
  }
  return ports.readHeld(item.held);
}

/**
 * The claimed version was acknowledged before an older send landed: it needs
 * sending again, and without its record at hand, the sweep resends it from
 * the archive. (When it is not acknowledged yet, its own updater sends it
 * after this point: it holds its record before sending, and no record was
 * held when this was read.)
 */
async function markNewerPendingIfAcknowledged(
  item: LedgerItem,
  ports: SyncPorts & { now: () => number },
): Promise<void> {
  if (item.claimed === undefined || item.skipped !== undefined) return;
  if (item.sent === item.claimed) {
    await ports.ledger.markPending(item.contactId, item.claimed, ports.now());
  }
}
