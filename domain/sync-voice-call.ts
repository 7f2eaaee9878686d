/**
 * Use case: bring a VoiceCall up to date with one version of its contact record.
 */
import type { ContactRecord } from './contact-record';
import { evaluateSyncEligibility, type SkipReason } from './eligibility';
import type { ContactRecordArchive, FieldOverrides, TelephonyIntegration } from './ports';
import { compareContactRecordVersions } from './versions';
import { toVoiceCallUpdate, type VoiceCallUpdate } from './voice-call';

/** What {@link syncVoiceCall} did: synced, or why it did not need to. */
export type SyncOutcome =
  | { outcome: 'synced'; update: VoiceCallUpdate }
  | { outcome: 'superseded'; archivedVersion: string }
  | { outcome: 'skipped'; reason: SkipReason };

/**
 * Sync one contact record version to its VoiceCall.
 *
 * Primary course:
 * 1. Skip a record that is not eligible (it cannot normally reach the queue).
 * 2. Read the archived version; if the archive already holds a newer one,
 *    this version is superseded and nothing is sent (the newer one is or
 *    will be synced by its own message). Equal versions are synced: a resync
 *    or a redelivery must be able to repair a VoiceCall.
 * 3. Transform to SCV `updateVoiceCall` fieldValues, apply any phone-number
 *    overrides, and invoke the telephony integration function.
 *
 * @throws whatever the ports throw (TransientError for a failed invoke): the
 *   caller reports the message as a batch item failure so SQS retries it.
 */
export async function syncVoiceCall(
  request: { contactRecord: ContactRecord; fieldOverrides?: FieldOverrides },
  ports: { archive: ContactRecordArchive; telephony: TelephonyIntegration },
): Promise<SyncOutcome> {
  const { contactRecord, fieldOverrides } = request;
  const eligibility = evaluateSyncEligibility(contactRecord);
  if (!eligibility.eligible) return { outcome: 'skipped', reason: eligibility.reason };

  const archivedVersion = await ports.archive.getVersion(contactRecord.ContactId);
  if (
    archivedVersion !== undefined &&
    compareContactRecordVersions(contactRecord, { LastUpdateTimestamp: archivedVersion }) < 0
  ) {
    return { outcome: 'superseded', archivedVersion };
  }

  const update = toVoiceCallUpdate(contactRecord);
  if (fieldOverrides?.toNumber) update.fieldValues.toNumber = fieldOverrides.toNumber;
  if (fieldOverrides?.fromNumber) update.fieldValues.fromNumber = fieldOverrides.fromNumber;
  await ports.telephony.updateVoiceCall(update);
  return { outcome: 'synced', update };
}
