/**
 * The VoiceCall update that a contact record produces: the `fieldValues` SCV's
 * `updateVoiceCall` telephony integration method takes.
 *
 * Source: SCV CTRDataSyncFunction field mapping; Amazon Connect admin guide,
 * "Data model for Amazon Connect contact records".
 */
import type { ContactRecord } from './contact-record';

/** Disconnect reasons that SCV reports as an error on the VoiceCall. */
export const ERROR_DISCONNECT_REASONS: readonly string[] = [
  'TELECOM_PROBLEM',
  'CONTACT_FLOW_DISCONNECT',
  'OTHER',
];

/** Contact attribute prefix that marks an attribute for the VoiceCall. */
export const CALL_ATTRIBUTE_PREFIX = 'sfdc-';

/** Contact attribute SCV sets when real-time transcription hits a limit; always forwarded. */
export const TRANSCRIPTION_STATUS_ATTRIBUTE = 'sf_realtime_transcription_status';

/**
 * The `fieldValues` of SCV's `updateVoiceCall`. Every key is optional and a
 * present key never holds `null` or `undefined`: a value the contact record
 * lacks is left out, so the VoiceCall keeps what it has.
 *
 * Timestamps are ISO-8601 UTC strings as Connect wrote them; durations are
 * whole seconds; phone numbers are E.164 strings.
 *
 * Source: SCV CTRDataSyncFunction field mapping.
 */
export type VoiceCallFieldValues = {
  /** CallStartDateTime, from InitiationTimestamp. */
  startTime?: string;
  /** CallEndDateTime, from DisconnectTimestamp. */
  endTime?: string;
  /** ContactId of the previous contact (transfers, callbacks). */
  parentCallIdentifier?: string;
  /** CallAcceptDateTime, from Agent.ConnectedToAgentTimestamp. */
  acceptTime?: string;
  /** CustomerHoldDuration, seconds. */
  totalHoldDuration?: number;
  /** LongestHoldDuration, seconds. */
  longestHoldDuration?: number;
  /** Seconds the agent interacted with the customer. */
  agentInteractionDuration?: number;
  /** NumberOfHolds. */
  numberOfHolds?: number;
  /** CallQueuedDateTime, from Queue.EnqueueTimestamp. */
  enqueueTime?: string;
  /** QueueName, from Queue.Name. */
  queue?: string;
  /** CallType when SCV creates the VoiceCall; API is sent as INBOUND. */
  initiationMethod?: string;
  /** FromPhoneNumber. */
  fromNumber?: string;
  /** ToPhoneNumber. */
  toNumber?: string;
  /** `WebRTC` for WEBRTC_API contacts, `PSTN` otherwise. */
  callSubType?: 'PSTN' | 'WebRTC';
  /** S3 location (bucket/key) of the call recording. */
  recordingLocation?: string;
  /** JSON object, as a string, of the `sfdc-` attributes (prefix removed). */
  callAttributes?: string;
  /** Connect's DisconnectReason, and whether SCV treats it as an error. */
  disconnectReason?: { value: string; isError: boolean };
};

/**
 * One VoiceCall update: the VoiceCall is found by its vendor call key, the
 * Connect `contactId`.
 */
export type VoiceCallUpdate = { contactId: string; fieldValues: VoiceCallFieldValues };

/**
 * Maps a contact record to the VoiceCall update SCV's `updateVoiceCall` takes.
 *
 * Mapping (SCV CTRDataSyncFunction field mapping unless noted):
 * - startTime = InitiationTimestamp, endTime = DisconnectTimestamp,
 *   parentCallIdentifier = PreviousContactId.
 * - With an Agent: acceptTime = ConnectedToAgentTimestamp, totalHoldDuration =
 *   CustomerHoldDuration, longestHoldDuration = LongestHoldDuration,
 *   agentInteractionDuration = AgentInteractionDuration, numberOfHolds =
 *   NumberOfHolds.
 * - With a Queue: enqueueTime = EnqueueTimestamp, queue = Name.
 * - initiationMethod = InitiationMethod, except API, which is sent as INBOUND.
 * - OUTBOUND and CALLBACK: fromNumber = SystemEndpoint.Address, toNumber =
 *   CustomerEndpoint.Address. Every other method, and a missing one: toNumber =
 *   SystemEndpoint.Address, fromNumber = CustomerEndpoint.Address.
 *   WEBRTC_API prefers the `WebRTC_From` / `WebRTC_To` attributes (when
 *   non-empty) for fromNumber / toNumber.
 * - callSubType = `WebRTC` for WEBRTC_API, `PSTN` otherwise.
 * - recordingLocation = Recording.Location, else the Location of the first
 *   `Recordings` entry with MediaStreamType AUDIO and StorageType S3 that has
 *   one (this project: newer records may carry only `Recordings`; an entry
 *   stored in a Kinesis video stream has a stream ARN as its Location, which
 *   is no recording location. SCV's ctrDataSync/utils.js reads `Recording`
 *   only).
 * - callAttributes = JSON of the attributes whose key starts with `sfdc-`, the
 *   prefix removed, plus `sf_realtime_transcription_status` when present (it
 *   wins over `sfdc-sf_realtime_transcription_status`). `"{}"` when Attributes
 *   has none of them; left out when Attributes is absent or `null`.
 * - disconnectReason = `{ value: DisconnectReason, isError }`, isError true for
 *   TELECOM_PROBLEM, CONTACT_FLOW_DISCONNECT and OTHER.
 * - A `null` or absent source value leaves its key out.
 *
 * Deliberate difference from the stock CTRDataSyncFunction: totalHoldDuration
 * and numberOfHolds are always sent, `0` when the record has no Agent
 * (abandoned in queue, IVR only) or its Agent has `null` CustomerHoldDuration
 * or NumberOfHolds. SCV documents that CustomerHoldDuration stays empty until
 * the contact record is synced, and the redrive sweep looks for VoiceCalls with
 * `CustomerHoldDuration = null`; sending 0 makes "empty" mean exactly "not
 * synced yet", so synced agentless calls are not redriven forever.
 *
 * Pure; never throws. Works on any contact record, eligible or not.
 *
 * @param ctr - a validated contact record.
 * @returns the ContactId and the field values to send.
 */
export function toVoiceCallUpdate(ctr: ContactRecord): VoiceCallUpdate {
  const fieldValues: VoiceCallFieldValues = {};
  const set = <K extends keyof VoiceCallFieldValues>(
    key: K,
    value: VoiceCallFieldValues[K] | null | undefined,
  ): void => {
    if (value !== null && value !== undefined) {
      fieldValues[key] = value;
    }
  };

  set('startTime', ctr.InitiationTimestamp);
  set('endTime', ctr.DisconnectTimestamp);
  set('parentCallIdentifier', ctr.PreviousContactId);

  const agent = ctr.Agent;
  set('acceptTime', agent?.ConnectedToAgentTimestamp);
  set('totalHoldDuration', agent?.CustomerHoldDuration ?? 0);
  set('longestHoldDuration', agent?.LongestHoldDuration);
  set('agentInteractionDuration', agent?.AgentInteractionDuration);
  set('numberOfHolds', agent?.NumberOfHolds ?? 0);

  set('enqueueTime', ctr.Queue?.EnqueueTimestamp);
  set('queue', ctr.Queue?.Name);

  const method = ctr.InitiationMethod;
  set('initiationMethod', method === 'API' ? 'INBOUND' : method);

  const systemNumber = ctr.SystemEndpoint?.Address;
  const customerNumber = ctr.CustomerEndpoint?.Address;
  if (method === 'OUTBOUND' || method === 'CALLBACK') {
    set('fromNumber', systemNumber);
    set('toNumber', customerNumber);
  } else if (method === 'WEBRTC_API') {
    set('fromNumber', nonEmptyAttribute(ctr, 'WebRTC_From') ?? customerNumber);
    set('toNumber', nonEmptyAttribute(ctr, 'WebRTC_To') ?? systemNumber);
  } else {
    set('fromNumber', customerNumber);
    set('toNumber', systemNumber);
  }
  set('callSubType', method === 'WEBRTC_API' ? 'WebRTC' : 'PSTN');

  set('recordingLocation', findRecordingLocation(ctr));
  set('callAttributes', toCallAttributes(ctr.Attributes));

  const reason = ctr.DisconnectReason;
  if (reason != null) {
    set('disconnectReason', { value: reason, isError: ERROR_DISCONNECT_REASONS.includes(reason) });
  }

  return { contactId: ctr.ContactId, fieldValues };
}

function findRecordingLocation(ctr: ContactRecord): string | undefined {
  const legacy = ctr.Recording?.Location;
  if (legacy != null && legacy !== '') {
    return legacy;
  }
  const audio = ctr.Recordings?.find(
    (entry) =>
      entry.MediaStreamType === 'AUDIO' &&
      entry.StorageType === 'S3' &&
      entry.Location != null &&
      entry.Location !== '',
  );
  return audio?.Location ?? undefined;
}

/**
 * The `callAttributes` JSON string. The object is built without a prototype,
 * so keys such as `sfdc-__proto__` become plain own keys and cannot reach
 * `Object.prototype`.
 */
function toCallAttributes(attributes: ContactRecord['Attributes']): string | undefined {
  if (attributes == null) {
    return undefined;
  }
  const callAttributes: Record<string, string> = Object.create(null);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith(CALL_ATTRIBUTE_PREFIX)) {
      callAttributes[key.slice(CALL_ATTRIBUTE_PREFIX.length)] = value;
    }
  }
  if (Object.hasOwn(attributes, TRANSCRIPTION_STATUS_ATTRIBUTE)) {
    const status = attributes[TRANSCRIPTION_STATUS_ATTRIBUTE];
    if (status !== undefined) {
      callAttributes[TRANSCRIPTION_STATUS_ATTRIBUTE] = status;
    }
  }
  return JSON.stringify(callAttributes);
}

function nonEmptyAttribute(ctr: ContactRecord, name: string): string | undefined {
  const attributes = ctr.Attributes;
  if (attributes == null || !Object.hasOwn(attributes, name)) {
    return undefined;
  }
  const value = attributes[name];
  return value === undefined || value === '' ? undefined : value;
}
