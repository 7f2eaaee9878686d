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
      /**
       * Set when the version was already claimed, so this send repeats one:
       * `resync` (the sweep, START_CALL_PROCESSING, a repair trigger),
       * `redelivery` (an earlier attempt may have failed around its invoke), or
       * `own-claim` (this message's claim was applied but its answer lost).
       */
      resend?: ResendReason;
    }
  | { outcome: 'superseded'; claimedVersion: string }
  | { outcome: 'duplicate' }
  | { outcome: 'skipped'; reason: SkipReason };

/** Why a claimed version is sent again; see {@link SyncOutcome}. */
export type ResendReason = 'resync' | 'redelivery' | 'own-claim';

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
 * one claimed (or the ledger holds that version pending, and the sweep
 * resends it).
 *
 * The sync ledger is the ordering authority and the record of what was
 * claimed and acknowledged, because deliveries are duplicated and reordered
 * and several updaters run at once. Versions are ordered by
 * {@link versionKey}: LastUpdateTimestamp, then the content digest. Each send
 * takes a send generation from the ledger; it is marked sent only when no
 * later send started and no out-of-order landing was found since it started,
 * because the updates of concurrent sends can land at SCV in any order.
 *
 * Primary course (a first delivery of a new version; two ledger writes):
 * 1. Claim the version: a conditional write that succeeds only when it is
 *    newer than the claimed one, and starts a send generation. It returns the
 *    item as it was, with any held START_CALL_PROCESSING overrides.
 * 2. A record skipped on purpose (voicemail, NoSync, initiation method) is
 *    claimed with its reason and not sent.
 * 3. Invoke `updateVoiceCall` with the record's fieldValues and the overrides.
 * 4. Mark it sent, on condition that it is still the claimed version, its
 *    generation the last started, nothing found out of order, and the
 *    overrides unchanged.
 *
 * Alternative courses:
 * - The same version is claimed already: a duplicate, not sent, unless this
 *   is a resync, or a redelivery or the claiming message itself (its claim's
 *   answer was lost and the SDK retried it) and SCV has not acknowledged it;
 *   such a send starts a generation of its own first.
 * - A newer version is claimed: superseded, not sent. A redelivery repairs
 *   (below): an earlier attempt may have been cut off while its older
 *   `updateVoiceCall` still ran, and landed after the newer one.
 * - Claimed while another version was claimed and not acknowledged: the
 *   record is held in the ledger before it is sent, so the updater of the
 *   older version, finding it claimed, can send it at once.
 * - Marking sent fails:
 *   - the same version is still claimed, with the same overrides, and only
 *     later sends of it started: they carry the same content; done;
 *   - the overrides changed, or an out-of-order landing was found: send this
 *     version again (a new generation);
 *   - a newer version was claimed: an update of this older one may have
 *     landed last. Send the newer one when the ledger holds its record (a
 *     repair), or mark it pending and out of order, so that its own sender
 *     cannot mark it sent without sending again, and the sweep resends it.
 * - A failed send marks the version pending with its record held, and a
 *   redelivery holds its record and marks it pending as it claims: if the
 *   message is then lost (its dead-letter copy expires), the sweep still
 *   finds the version pending.
 *
 * @throws TransientError when the version keeps changing during repairs;
 *   whatever the ports throw otherwise (after marking the version pending
 *   when the send failed). The caller reports the message as a batch item
 *   failure, so SQS retries it.
 */
export async function syncVoiceCall(request: SyncRequest, ports: SyncPorts): Promise<SyncOutcome> {
  const now = ports.now ?? Date.now;
  const withClock = { ...ports, now };
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
    if (request.redelivered) await repairNewer(item, withClock);
    return { outcome: 'superseded', claimedVersion: item.claimed ?? version };
  }

  const before = claim.before;
  let generation: number;
  let resend: ResendReason | undefined;
  if (claim.outcome === 'duplicate') {
    const acknowledged = before?.sent === version;
    // An unacknowledged version is sent again by a redelivery, and by the message that claimed
    // it (its claim's answer was lost and retried): otherwise nobody would send it.
    const again = request.redelivered || claim.own;
    if (!request.resync && (acknowledged || !again)) return { outcome: 'duplicate' };
    if (request.redelivered && !acknowledged && before?.pendingSince === undefined) {
      // The claim did not write (the version was claimed): mark it pending and hold it now.
      await ports.ledger.markPending(contactId, version, now(), { record: request.held });
    }
    const started = await ports.ledger.beginSend(contactId, version);
    if (started === undefined) return superseded(contactId, version, ports);
    generation = started;
    resend = request.resync ? 'resync' : request.redelivered ? 'redelivery' : 'own-claim';
  } else {
    generation = claim.generation;
    if (
      !request.redelivered &&
      before?.claimed !== undefined &&
      before.claimed !== before.sent &&
      before.skipped === undefined
    ) {
      // Another version is claimed and not acknowledged: hold this one, so its updater can send it.
      const held = await ports.ledger.markPending(contactId, version, now(), {
        record: request.held,
      });
      if (!held) return superseded(contactId, version, ports);
    }
  }

  const update = withOverrides(record, before?.overrides);
  await send(contactId, version, update, request.held, withClock);
  const outcome = await settle(
    { contactId, version, generation, record, update, overridesAt: before?.overridesAt },
    withClock,
  );
  return resend && outcome.outcome === 'synced' ? { ...outcome, resend } : outcome;
}

/** Superseded after all: a newer version was claimed in between (one read, to report it). */
async function superseded(
  contactId: string,
  version: string,
  ports: SyncPorts,
): Promise<SyncOutcome> {
  const item = await ports.ledger.get(contactId);
  return { outcome: 'superseded', claimedVersion: item?.claimed ?? version };
}

/** Invoke `updateVoiceCall`; when it fails, mark the version pending (holding `held`) first. */
async function send(
  contactId: string,
  version: string,
  update: VoiceCallUpdate,
  held: HeldRecord | undefined,
  ports: SyncPorts & { now: () => number },
): Promise<void> {
  try {
    await ports.telephony.updateVoiceCall(update);
  } catch (error) {
    // Best effort: a lost message must not leave this version unsent for ever.
    await ports.ledger
      .markPending(contactId, version, ports.now(), held ? { record: held } : {})
      .catch(() => false);
    throw error;
  }
}

/**
 * After a send: mark it sent, and while the ledger says the VoiceCall may not
 * hold the newest claimed version with the current overrides, send that.
 */
async function settle(
  sent: {
    contactId: string;
    version: string;
    generation: number;
    record: ContactRecord;
    update: VoiceCallUpdate;
    overridesAt: number | undefined;
  },
  ports: SyncPorts & { now: () => number },
): Promise<SyncOutcome> {
  const { contactId } = sent;
  let { version, generation, record, update, overridesAt } = sent;
  for (let repairs = 0; ; repairs++) {
    const mark = await ports.ledger.markSent(contactId, version, generation, overridesAt);
    if (mark.outcome === 'sent') return { outcome: 'synced', update, version, repairs };
    const item = mark.item;
    const done = { outcome: 'synced' as const, update, version, repairs };
    if (item.claimed === undefined || item.skipped !== undefined) return done;
    if (item.claimed === version) {
      const sameContent = item.overridesAt === overridesAt && (item.dirty ?? 0) < generation;
      // Only later sends of this same version and overrides started: whichever lands last, the
      // VoiceCall holds this content, and their senders mark it sent.
      if (sameContent) return done;
    } else {
      const newer = await heldRecordOf(item, ports);
      if (!newer) {
        await ports.ledger.markPending(contactId, item.claimed, ports.now(), {
          outOfOrder: item.sends ?? 0,
        });
        return done;
      }
      record = newer;
      version = item.claimed;
    }
    if (repairs === MAX_REPAIRS) {
      await ports.ledger.markPending(contactId, version, ports.now(), {
        outOfOrder: item.sends ?? 0,
      });
      throw new TransientError(
        `ContactId ${contactId} kept changing while it was synced; retrying later`,
      );
    }
    const started = await ports.ledger.beginSend(contactId, version);
    if (started === undefined) continue;
    generation = started;
    // This version again (new overrides, or found out of order), or the newer one held.
    update = withOverrides(record, item.overrides);
    overridesAt = item.overridesAt;
    await send(contactId, version, update, undefined, ports);
  }
}

/**
 * An older version of this contact may have reached SCV after the newer,
 * claimed one (a redelivery of a cut-off attempt): send the claimed version
 * again if the ledger holds it, or mark it pending and out of order, so the
 * sweep resends it.
 */
async function repairNewer(
  item: LedgerItem,
  ports: SyncPorts & { now: () => number },
): Promise<void> {
  if (item.skipped !== undefined || item.claimed === undefined) return;
  const newer = await heldRecordOf(item, ports);
  if (!newer) {
    await ports.ledger.markPending(item.contactId, item.claimed, ports.now(), {
      outOfOrder: item.sends ?? 0,
    });
    return;
  }
  const generation = await ports.ledger.beginSend(item.contactId, item.claimed);
  if (generation === undefined) return;
  const update = withOverrides(newer, item.overrides);
  await send(item.contactId, item.claimed, update, undefined, ports);
  await settle(
    {
      contactId: item.contactId,
      version: item.claimed,
      generation,
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
