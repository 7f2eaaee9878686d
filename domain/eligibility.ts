/**
 * Which contact records are synced to a Salesforce VoiceCall.
 *
 * Source: SCV CTRDataSyncFunction field mapping (supported InitiationMethod
 * values; voicemail contacts are left to the voicemail packager), Amazon
 * Connect admin guide, "Contact initiation methods" (WEBRTC_API) and
 * "Data model for Amazon Connect contact records" (Channel, Recordings).
 */
import type { ContactRecord } from './contact-record';

/**
 * The InitiationMethod values whose contacts are synced: SCV's supported
 * list (INBOUND, OUTBOUND, TRANSFER, CALLBACK, API) plus WEBRTC_API (in-app
 * and web calling). Any other value (QUEUE_TRANSFER, DISCONNECT, MONITOR,
 * EXTERNAL_OUTBOUND, AGENT_REPLY, FLOW, a future one) or none is skipped.
 */
export const SYNCED_INITIATION_METHODS = [
  'INBOUND',
  'OUTBOUND',
  'TRANSFER',
  'CALLBACK',
  'API',
  'WEBRTC_API',
] as const;

/** One of {@link SYNCED_INITIATION_METHODS}. */
export type SyncedInitiationMethod = (typeof SYNCED_INITIATION_METHODS)[number];

/**
 * Why a contact record is not synced. A skip is an expected outcome, not a
 * failure:
 * - `channel-not-voice`: Channel is present and not VOICE (CHAT, TASK, EMAIL).
 * - `initiation-method-not-synced`: InitiationMethod is absent, `null` or not
 *   in {@link SYNCED_INITIATION_METHODS}.
 * - `no-sync-attribute`: the contact attribute `NoSync` is `"true"`.
 * - `voicemail`: a voicemail flag attribute has a value and the record has
 *   recordings; the voicemail packager owns that VoiceCall.
 */
export type SkipReason =
  'channel-not-voice' | 'initiation-method-not-synced' | 'no-sync-attribute' | 'voicemail';

/** Outcome of {@link evaluateSyncEligibility}. */
export type SyncEligibility = { eligible: true } | { eligible: false; reason: SkipReason };

/** Contact attributes that mark a voicemail (SCV voicemail and the VMX/VMX3 voicemail solutions). */
const VOICEMAIL_FLAG_ATTRIBUTES = ['vm_flag', 'vmx_flag', 'vmx3_flag'] as const;

/**
 * Decides whether a contact record is synced to its VoiceCall, and if not,
 * why. The rules are checked in this order, the first that applies wins:
 * 1. Channel, when present and not `null`, must be VOICE.
 * 2. InitiationMethod must be one of {@link SYNCED_INITIATION_METHODS}.
 * 3. `Attributes.NoSync` must not be `"true"` (compared trimmed and
 *    case-insensitively).
 * 4. The record is not a voicemail: no `vm_flag`, `vmx_flag` or `vmx3_flag`
 *    attribute has a non-empty value (trimmed) while `Recordings` is a
 *    non-empty array. `"0"` counts: SCV's voicemail audio processor sets
 *    `vm_flag` to `"0"` once it processed the voicemail
 *    (voiceMailAudioProcessing/handler.js), and its ctrDataSync skips any
 *    non-empty `vm_flag` with recordings (ctrDataSync/handler.js,
 *    `shouldProcessCtr`): syncing it would overwrite what the voicemail
 *    packager wrote (recordingLocation, callOrigin "Voicemail").
 *
 * Pure; never throws.
 *
 * Source: SCV CTRDataSyncFunction field mapping (supported InitiationMethod
 * values, voicemail left to the packager), service-cloud-voice/ServiceCloudVoiceLambdas
 * ctrDataSync/handler.js `shouldProcessCtr` and voiceMailAudioProcessing/handler.js
 * (`vm_flag` "0"); this project (VOICE channel only, the vmx flags).
 */
export function evaluateSyncEligibility(ctr: ContactRecord): SyncEligibility {
  if (ctr.Channel != null && ctr.Channel !== 'VOICE') {
    return { eligible: false, reason: 'channel-not-voice' };
  }
  if (!isSyncedInitiationMethod(ctr.InitiationMethod)) {
    return { eligible: false, reason: 'initiation-method-not-synced' };
  }
  if (normalizeFlag(readAttribute(ctr, 'NoSync')) === 'true') {
    return { eligible: false, reason: 'no-sync-attribute' };
  }
  if (isVoicemail(ctr)) {
    return { eligible: false, reason: 'voicemail' };
  }
  return { eligible: true };
}

/** Whether `value` is one of {@link SYNCED_INITIATION_METHODS}. */
export function isSyncedInitiationMethod(
  value: string | null | undefined,
): value is SyncedInitiationMethod {
  return (SYNCED_INITIATION_METHODS as readonly (string | null | undefined)[]).includes(value);
}

function isVoicemail(ctr: ContactRecord): boolean {
  const hasRecordings = Array.isArray(ctr.Recordings) && ctr.Recordings.length > 0;
  return (
    hasRecordings &&
    VOICEMAIL_FLAG_ATTRIBUTES.some((name) => {
      const flag = normalizeFlag(readAttribute(ctr, name));
      return flag !== undefined && flag !== '';
    })
  );
}

/** An own attribute value; inherited properties never count. */
function readAttribute(ctr: ContactRecord, name: string): string | undefined {
  const attributes = ctr.Attributes;
  if (attributes == null || !Object.hasOwn(attributes, name)) {
    return undefined;
  }
  return attributes[name];
}

function normalizeFlag(value: string | undefined): string | undefined {
  return value?.trim().toLowerCase();
}
