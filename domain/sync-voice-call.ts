/**
 * Use case: bring a VoiceCall up to date with one version of its contact record.
 */
import { type ContactRecord, parseContactRecord } from './contact-record';
import { evaluateSyncEligibility, type SkipReason } from './eligibility';
import { PermanentError, TransientError } from './errors';
import type { ContactRecordArchive, FieldOverrides, TelephonyIntegration } from './ports';
import { compareContactRecordVersions } from './versions';
import { toVoiceCallUpdate, type VoiceCallUpdate } from './voice-call';

/** What {@link syncVoiceCall} did: synced (and which version ended on the VoiceCall), or why not. */
export type SyncOutcome =
  | {
      outcome: 'synced';
      update: VoiceCallUpdate;
      lastUpdateTimestamp: string;
      /** True when this sync stored its version in the archive (false: it was archived before). */
      archived: boolean;
    }
  | { outcome: 'superseded'; archivedVersion: string }
  | { outcome: 'duplicate' }
  | { outcome: 'skipped'; reason: SkipReason };

/** Repairs after a newer version showed up during a sync, before giving up with a TransientError. */
const MAX_REPAIRS = 3;

function isOlder(version: string, than: string): boolean {
  return (
    compareContactRecordVersions({ LastUpdateTimestamp: version }, { LastUpdateTimestamp: than }) <
    0
  );
}

/**
 * What to sync: one version of a contact record, given inline, or (for a
 * record too large for an event) by its ContactId and LastUpdateTimestamp
 * (ISO-8601 UTC) only, in which case it is read from the archive.
 */
export type SyncRequest = { fieldOverrides?: FieldOverrides } & (
  | {
      contactRecord: ContactRecord;
      /** The record's JSON text with every field it arrived with; archived as is (default: the parsed record re-serialized). */
      contactRecordJson?: string;
    }
  | { contactId: string; lastUpdateTimestamp: string; contactRecord?: undefined }
) & {
    /**
     * True when this request was delivered before (SQS ApproximateReceiveCount > 1, or moved
     * back from the DLQ): an earlier attempt may have archived this version and then failed, so
     * the archive holding it does not mean it was sent, and a superseded version sends the
     * newest archived one again (see {@link syncVoiceCall}).
     */
    redelivered?: boolean;
    /** True for a resync (the sweep, START_CALL_PROCESSING): send even the version the archive holds. */
    resync?: boolean;
  };

/**
 * Sync one contact record version to its VoiceCall: one `updateVoiceCall`
 * per version newer than the archived one, none for a duplicate or a
 * superseded version, and the VoiceCall never ends on an older version than
 * the newest one archived.
 *
 * The archive (`ctr/{ContactId}.json`, newest version wins, written with
 * conditional writes) is the ordering authority and the record of what was
 * claimed for sending, because deliveries can be duplicated and reordered and
 * several updaters run at once.
 *
 * Primary course (an inline record, first delivery; three archive requests):
 * 1. Skip a record that is not eligible (it cannot normally reach the queue).
 * 2. Read the archived version (1 request):
 *    - newer than this one: superseded, nothing is sent (the newer version
 *      has its own message);
 *    - absent or older: archive this version with a conditional write on
 *      what was read (1 request). That write claims the version: if another
 *      updater stored the same version first, this delivery is a duplicate;
 *      if a newer one won, superseded;
 *    - equal: a duplicate delivery, nothing is sent, unless this is a
 *      redelivery, a resync, or a reference (see below).
 * 3. Transform to SCV `updateVoiceCall` fieldValues, apply any phone-number
 *    overrides, and invoke the telephony integration function.
 * 4. Read the archived version again (1 request). If a newer one arrived
 *    while this one was being sent, the VoiceCall may now hold the older one:
 *    send the newest archived version too (without overrides), and check again.
 *
 * Alternative courses:
 * - A redelivery (an earlier attempt may have archived the version and then
 *   failed to send it) or a resync sends the version the archive holds. A
 *   superseded redelivery sends the newest archived version: the earlier
 *   attempt may have been cut off while its `updateVoiceCall` still ran, and
 *   landed after the newer version's.
 * - A reference (no record in the request; the ingest function archived it
 *   before publishing) reads the record from the archive and sends it when
 *   the archive holds that version; it fails with a TransientError while the
 *   archive does not. A duplicate reference is sent again: the ingest
 *   function's write does not say whether a delivery was sent.
 *
 * @throws TransientError when the archive does not hold a referenced record,
 *   or keeps moving during repairs; whatever the ports throw otherwise. The caller reports the
 *   message as a batch item failure so SQS retries it.
 */
export async function syncVoiceCall(
  request: SyncRequest,
  ports: { archive: ContactRecordArchive; telephony: TelephonyIntegration },
): Promise<SyncOutcome> {
  const { fieldOverrides } = request;
  let contactRecord = request.contactRecord;
  const [contactId, version] = request.contactRecord
    ? [request.contactRecord.ContactId, request.contactRecord.LastUpdateTimestamp]
    : [request.contactId, request.lastUpdateTimestamp];
  if (contactRecord) {
    const eligibility = evaluateSyncEligibility(contactRecord);
    if (!eligibility.eligible) return { outcome: 'skipped', reason: eligibility.reason };
  }

  /** Send `update` of `sentVersion`, then send the newest archived version while a newer one appears. */
  const sendAndSettle = async (update: VoiceCallUpdate, sentVersion: string) => {
    await ports.telephony.updateVoiceCall(update);
    for (let repairs = 0; ; repairs++) {
      const latest = (await ports.archive.getVersion(contactId))?.lastUpdateTimestamp;
      if (latest === undefined || !isOlder(sentVersion, latest)) break;
      if (repairs === MAX_REPAIRS) {
        throw new TransientError(
          `ContactId ${contactId} kept changing while it was synced; retrying later`,
        );
      }
      const archived = await ports.archive.get(contactId);
      if (!archived) break;
      const newest = parseArchived(contactId, archived.json);
      update = toVoiceCallUpdate(newest);
      await ports.telephony.updateVoiceCall(update);
      sentVersion = newest.LastUpdateTimestamp;
    }
    return { outcome: 'synced' as const, update, lastUpdateTimestamp: sentVersion, archived };
  };

  /**
   * This version is older than the archived one. On a first delivery nothing is sent. On a
   * redelivery, an earlier attempt may have been cut off (timeout, crash) while its
   * `updateVoiceCall` was still running, and that call may have landed after the newer
   * version's: send the newest archived version again, so the VoiceCall ends on it.
   */
  const superseded = async (archivedVersion: string): Promise<SyncOutcome> => {
    if (!request.redelivered) return { outcome: 'superseded', archivedVersion };
    const archived = await ports.archive.get(contactId);
    if (!archived) return { outcome: 'superseded', archivedVersion };
    const newest = parseArchived(contactId, archived.json);
    if (!evaluateSyncEligibility(newest).eligible)
      return { outcome: 'superseded', archivedVersion };
    return sendAndSettle(toVoiceCallUpdate(newest), newest.LastUpdateTimestamp);
  };

  let archived = false;
  const current = await ports.archive.getVersion(contactId);
  if (current === undefined || isOlder(current.lastUpdateTimestamp, version)) {
    if (!contactRecord) {
      throw new TransientError(
        `Archive does not hold ContactId ${contactId} at this version yet; retrying later`,
      );
    }
    // Archive this version (newest wins), conditional on what was just read: the write claims it.
    const outcome = await ports.archive.putIfNewer(
      {
        contactId,
        lastUpdateTimestamp: version,
        json:
          ('contactRecordJson' in request && request.contactRecordJson) ||
          JSON.stringify(contactRecord),
      },
      current ?? null,
    );
    archived = outcome === 'stored';
    if (outcome === 'older') {
      return superseded(
        (await ports.archive.getVersion(contactId))?.lastUpdateTimestamp ?? version,
      );
    }
    if (outcome === 'duplicate' && !request.redelivered && !request.resync) {
      return { outcome: 'duplicate' };
    }
  } else if (isOlder(version, current.lastUpdateTimestamp)) {
    return superseded(current.lastUpdateTimestamp);
  } else if (contactRecord && !request.redelivered && !request.resync) {
    return { outcome: 'duplicate' };
  }
  if (!contactRecord) {
    const stored = await ports.archive.get(contactId);
    if (!stored) {
      throw new TransientError(`Archive no longer holds ContactId ${contactId}; retrying later`);
    }
    contactRecord = parseArchived(contactId, stored.json);
    if (isOlder(version, contactRecord.LastUpdateTimestamp)) {
      return superseded(contactRecord.LastUpdateTimestamp);
    }
    const eligibility = evaluateSyncEligibility(contactRecord);
    if (!eligibility.eligible) return { outcome: 'skipped', reason: eligibility.reason };
  }

  const update = toVoiceCallUpdate(contactRecord);
  if (fieldOverrides?.toNumber) update.fieldValues.toNumber = fieldOverrides.toNumber;
  if (fieldOverrides?.fromNumber) update.fieldValues.fromNumber = fieldOverrides.fromNumber;
  return sendAndSettle(update, contactRecord.LastUpdateTimestamp);
}

/**
 * An archived record's JSON text as a contact record.
 * @throws PermanentError when it is not JSON (without the parser's message, which quotes the input)
 *   or InvalidContactRecordError when it is not a valid contact record.
 */
function parseArchived(contactId: string, json: string): ContactRecord {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new PermanentError(`Archived contact record of ContactId ${contactId} is not JSON`);
  }
  return parseContactRecord(value);
}
