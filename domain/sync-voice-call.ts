/**
 * Use case: bring a VoiceCall up to date with one version of its contact record.
 */
import { type ContactRecord, parseContactRecord } from './contact-record';
import { evaluateSyncEligibility, type SkipReason } from './eligibility';
import { TransientError } from './errors';
import type { ContactRecordArchive, FieldOverrides, TelephonyIntegration } from './ports';
import { compareContactRecordVersions } from './versions';
import { toVoiceCallUpdate, type VoiceCallUpdate } from './voice-call';

/** What {@link syncVoiceCall} did: synced (and which version ended on the VoiceCall), or why not. */
export type SyncOutcome =
  | { outcome: 'synced'; update: VoiceCallUpdate; lastUpdateTimestamp: string }
  | { outcome: 'superseded'; archivedVersion: string }
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
  | { contactRecord: ContactRecord }
  | { contactId: string; lastUpdateTimestamp: string; contactRecord?: undefined }
);

/**
 * Sync one contact record version to its VoiceCall, so that the VoiceCall
 * never ends on an older version than the newest one archived.
 *
 * The archive (`ctr/{ContactId}.json`, newest version wins) is the ordering
 * authority, because deliveries can be duplicated and reordered and several
 * updaters run at once.
 *
 * Primary course:
 * 1. Skip a record that is not eligible (it cannot normally reach the queue).
 * 2. Read the archived version. Newer than this one: superseded, nothing is
 *    sent (the newer version has its own message). Absent or older: the
 *    archive function (which runs beside the sync queue, not before it) has
 *    not stored this version yet; store it here with the same newest-wins
 *    conditional write (superseded if a newer one won meanwhile) and go on.
 *    Equal: go on; a resync or a redelivery must be able to repair a
 *    VoiceCall. A request without the record (a reference; the ingest
 *    function archived it before publishing) reads it from the archive now,
 *    and fails with a TransientError while the archive does not hold it.
 * 3. Transform to SCV `updateVoiceCall` fieldValues, apply any phone-number
 *    overrides, and invoke the telephony integration function.
 * 4. Read the archived version again. If a newer one arrived while this one
 *    was being sent, the VoiceCall may now hold the older one: send the
 *    newest archived version too (without overrides), and check again.
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

  const archivedVersion = await ports.archive.getVersion(contactId);
  if (archivedVersion === undefined || isOlder(archivedVersion, version)) {
    if (!contactRecord) {
      throw new TransientError(
        `Archive does not hold ContactId ${contactId} at this version yet; retrying later`,
      );
    }
    // The archive function runs beside the sync queue and may not have stored this version yet:
    // store it here, with the same newest-wins conditional write, rather than wait for it.
    const outcome = await ports.archive.putIfNewer({
      contactId,
      lastUpdateTimestamp: version,
      json: JSON.stringify(contactRecord),
    });
    if (outcome === 'older') {
      const newer = (await ports.archive.getVersion(contactId)) ?? version;
      return { outcome: 'superseded', archivedVersion: newer };
    }
  } else if (isOlder(version, archivedVersion)) {
    return { outcome: 'superseded', archivedVersion };
  }
  if (!contactRecord) {
    const archived = await ports.archive.get(contactId);
    if (!archived) {
      throw new TransientError(`Archive no longer holds ContactId ${contactId}; retrying later`);
    }
    contactRecord = parseContactRecord(JSON.parse(archived.json));
    if (isOlder(version, contactRecord.LastUpdateTimestamp)) {
      return { outcome: 'superseded', archivedVersion: contactRecord.LastUpdateTimestamp };
    }
    const eligibility = evaluateSyncEligibility(contactRecord);
    if (!eligibility.eligible) return { outcome: 'skipped', reason: eligibility.reason };
  }

  let update = toVoiceCallUpdate(contactRecord);
  if (fieldOverrides?.toNumber) update.fieldValues.toNumber = fieldOverrides.toNumber;
  if (fieldOverrides?.fromNumber) update.fieldValues.fromNumber = fieldOverrides.fromNumber;
  let sentVersion = contactRecord.LastUpdateTimestamp;
  await ports.telephony.updateVoiceCall(update);

  for (let repairs = 0; ; repairs++) {
    const latest = await ports.archive.getVersion(contactId);
    if (latest === undefined || !isOlder(sentVersion, latest)) break;
    if (repairs === MAX_REPAIRS) {
      throw new TransientError(
        `ContactId ${contactId} kept changing while it was synced; retrying later`,
      );
    }
    const archived = await ports.archive.get(contactId);
    if (!archived) break;
    const newest = parseContactRecord(JSON.parse(archived.json));
    update = toVoiceCallUpdate(newest);
    await ports.telephony.updateVoiceCall(update);
    sentVersion = newest.LastUpdateTimestamp;
  }
  return { outcome: 'synced', update, lastUpdateTimestamp: sentVersion };
}
