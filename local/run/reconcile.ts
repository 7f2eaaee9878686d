/**
 * Reconciliation of a local run: what was put on the stream against what
 * the VoiceCalls and the quarantine hold at the end.
 *
 * The input is the truth. Each record is decoded with the domain's own rules;
 * valid records are grouped by ContactId and the newest version (by
 * LastUpdateTimestamp, then content digest: domain/versions.ts `versionKey`)
 * decides what the contact's VoiceCall must hold: the
 * `updateVoiceCall` fieldValues of that version, or nothing when the version
 * is not synced (skipped, with its reason). A record that does not decode must
 * be in the quarantine with its exact bytes and a reason.
 *
 * `lost` counts every way the pipeline could have lost something: a contact
 * to sync whose VoiceCall does not hold its newest version (it holds an older
 * one, or none), and a malformed record missing from the quarantine.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  type ContactRecord,
  canonicalJson,
  decodeContactRecordWithText,
} from '../../domain/contact-record';
import { evaluateSyncEligibility } from '../../domain/eligibility';
import { InvalidContactRecordError } from '../../domain/errors';
import { contentDigest, versionKey } from '../../domain/versions';
import { toVoiceCallUpdate } from '../../domain/voice-call';
import type { FieldOverrides } from '../../domain/ports';
import { contentKey } from '../faults/plan';
import type { QuarantinedRecord } from './stack';

/** The outcome of a run, by contact and by record. */
export interface Reconciliation {
  /** Records put on the stream, duplicates and republished versions included. */
  received: number;
  /** Distinct contacts among the valid records. */
  contacts: number;
  /** Contacts whose newest version is synced to a VoiceCall. */
  toSync: number;
  /** Of those, contacts whose VoiceCall holds exactly their newest version. */
  synced: number;
  /** Contacts not synced, by the reason of their newest version. */
  skipped: Record<string, number>;
  /** Records that do not decode (malformed), by reason. */
  rejected: Record<string, number>;
  /** Of the malformed records, those in the quarantine with their exact bytes and a reason. */
  quarantined: number;
  /** Contacts to sync whose VoiceCall holds an older version than the newest received. */
  onOlderVersion: number;
  /** Contacts to sync whose VoiceCall holds no version (no update reached it). */
  neverSynced: number;
  /** Malformed records not found in the quarantine. */
  notQuarantined: number;
  /** `onOlderVersion + neverSynced + notQuarantined`: a run is good when this is 0. */
  lost: number;
  /** Up to 20 ContactIds of lost contacts, to look into. */
  lostContactIds: string[];
  /**
   * The archive against the input, when the archive was given: its objects and records,
   * archived records that are no input record (`notFromInput`), and voice contacts whose
   * newest version is not archived (`newestMissing`).
   */
  archive?: { objects: number; records: number; notFromInput: number; newestMissing: number };
  /** Set by the local run: where each of `lostContactIds` stands (ledger versions, VoiceCall updates). */
  lostContacts?: {
    contactId: string;
    claimedVersion: string | null;
    sentVersion: string | null;
    voiceCallUpdates: number | null;
  }[];
}

/** What the reconciliation needs to know of each stored VoiceCall. */
export type StoredFieldValues = Record<string, { fieldValues: Record<string, unknown> }>;

/**
 * Whether the stored fieldValues hold every field the update of `record` sets, with the
 * START_CALL_PROCESSING overrides of its contact applied.
 */
function holds(
  stored: Record<string, unknown> | undefined,
  record: ContactRecord,
  overrides: FieldOverrides | undefined,
): boolean {
  if (!stored) return false;
  const expected = {
    ...(toVoiceCallUpdate(record).fieldValues as Record<string, unknown>),
    ...(overrides?.toNumber ? { toNumber: overrides.toNumber } : {}),
    ...(overrides?.fromNumber ? { fromNumber: overrides.fromNumber } : {}),
  };
  return Object.entries(expected).every(([key, value]) => isDeepStrictEqual(stored[key], value));
}

/**
 * Reconcile the input of a run with its final VoiceCalls and quarantine.
 *
 * @param input - the Kinesis record bytes, as put on the stream.
 * @param voiceCalls - the stand-in's VoiceCalls by VendorCallKey (= ContactId).
 * @param quarantine - every object under `quarantine/`.
 * @param options - `overrides`: START_CALL_PROCESSING phone numbers by ContactId, which the
 *   VoiceCall must hold instead of the record's; `archived`: the JSON texts of the records of
 *   every archive object, by key, to reconcile the archive too.
 */
export function reconcile(
  input: readonly { data: Uint8Array }[],
  voiceCalls: StoredFieldValues,
  quarantine: readonly QuarantinedRecord[],
  options: {
    overrides?: ReadonlyMap<string, FieldOverrides>;
    archived?: Map<string, string[]>;
  } = {},
): Reconciliation {
  const versions = new Map<
    string,
    { record: ContactRecord; version: string; canonical: string }[]
  >();
  const rejected: Record<string, number> = {};
  const malformed: Uint8Array[] = [];
  for (const { data } of input) {
    try {
      const { contactRecord: record, json } = decodeContactRecordWithText(data);
      const canonical = canonicalJson(json);
      const digest = contentDigest(canonical);
      const list = versions.get(record.ContactId) ?? [];
      list.push({ record, version: versionKey(record.LastUpdateTimestamp, digest), canonical });
      versions.set(record.ContactId, list);
    } catch (error) {
      if (!(error instanceof InvalidContactRecordError)) throw error;
      rejected[error.reason] = (rejected[error.reason] ?? 0) + 1;
      malformed.push(data);
    }
  }

  const quarantinedKeys = new Set(
    quarantine.filter((entry) => entry.reason !== '').map((entry) => contentKey(entry.data)),
  );
  const notQuarantined = malformed.filter((data) => !quarantinedKeys.has(contentKey(data))).length;

  const skipped: Record<string, number> = {};
  const lostContactIds: string[] = [];
  let toSync = 0;
  let synced = 0;
  let onOlderVersion = 0;
  let neverSynced = 0;
  const archivedTexts = new Set<string>();
  let archivedRecords = 0;
  for (const texts of options.archived?.values() ?? []) {
    for (const text of texts) {
      archivedRecords++;
      try {
        archivedTexts.add(canonicalJson(text));
      } catch {
        archivedTexts.add(text);
      }
    }
  }
  const inputTexts = new Set<string>();
  let newestMissing = 0;
  for (const [contactId, keyed] of versions) {
    for (const { canonical } of keyed) inputTexts.add(canonical);
    const sorted = [...keyed].sort((a, b) =>
      a.version < b.version ? -1 : a.version > b.version ? 1 : 0,
    );
    const ordered = sorted.map(({ record }) => record);
    const newest = ordered[ordered.length - 1] as ContactRecord;
    const newestText = (sorted[sorted.length - 1] as { canonical: string }).canonical;
    const eligibility = evaluateSyncEligibility(newest);
    if (
      options.archived &&
      !(!eligibility.eligible && eligibility.reason === 'channel-not-voice') &&
      !archivedTexts.has(newestText)
    ) {
      newestMissing++;
    }
    if (!eligibility.eligible) {
      skipped[eligibility.reason] = (skipped[eligibility.reason] ?? 0) + 1;
      continue;
    }
    toSync++;
    const stored = voiceCalls[contactId]?.fieldValues;
    const overrides = options.overrides?.get(contactId);
    if (holds(stored, newest, overrides)) {
      synced++;
      continue;
    }
    if (stored && ordered.some((record) => holds(stored, record, overrides))) onOlderVersion++;
    else neverSynced++;
    if (lostContactIds.length < 20) lostContactIds.push(contactId);
  }

  return {
    received: input.length,
    contacts: versions.size,
    toSync,
    synced,
    skipped,
    rejected,
    quarantined: malformed.length - notQuarantined,
    onOlderVersion,
    neverSynced,
    notQuarantined,
    lost: onOlderVersion + neverSynced + notQuarantined,
    lostContactIds,
    ...(options.archived
      ? {
          archive: {
            objects: options.archived.size,
            records: archivedRecords,
            notFromInput: [...archivedTexts].filter((text) => !inputTexts.has(text)).length,
            newestMissing,
          },
        }
      : {}),
  };
}
