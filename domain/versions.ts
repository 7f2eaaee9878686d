/**
 * Ordering the versions of one contact record.
 *
 * Connect delivers a contact record at least once and publishes it again when
 * it changes (attributes updated after the contact, for example), so versions
 * arrive duplicated and out of order. LastUpdateTimestamp tells which copy
 * holds newer data; ContactId identifies the contact.
 *
 * Source: Amazon Connect admin guide, "Data model for Amazon Connect contact
 * records" ("Important things to know").
 */
import { createHash } from 'node:crypto';
import { toEpochMilliseconds } from './contact-record';
import { InvalidContactRecordError } from './errors';

/** The part of a contact record that orders its versions: an ISO-8601 UTC timestamp. */
export type ContactRecordVersion = { LastUpdateTimestamp: string };

/**
 * How a received version relates to the latest one already known:
 * - `new`: no version of this contact is known yet;
 * - `newer`: later LastUpdateTimestamp than the known one;
 * - `duplicate`: same instant (a redelivery, or a republication without a
 *   newer timestamp);
 * - `older`: earlier; the known version supersedes it.
 */
export type VersionClassification = 'new' | 'newer' | 'duplicate' | 'older';

/**
 * Compares two versions of a contact record by the instant of their
 * LastUpdateTimestamp, to the millisecond: `2022-01-05T17:48:35Z` and
 * `2022-01-05T17:48:35.000Z` are equal.
 *
 * @returns `-1` when `a` is older than `b`, `0` when both are the same
 *   instant, `1` when `a` is newer.
 * @throws {InvalidContactRecordError} reason `schema` when either
 *   LastUpdateTimestamp is not an ISO-8601 UTC timestamp
 *   (`YYYY-MM-DDThh:mm:ss[.sss]Z`). The message names the argument, not the
 *   value.
 *
 * Source: Amazon Connect admin guide, "Data model for Amazon Connect contact
 * records" (LastUpdateTimestamp decides which copy is newer).
 */
export function compareContactRecordVersions(
  a: ContactRecordVersion,
  b: ContactRecordVersion,
): -1 | 0 | 1 {
  const left = lastUpdateMilliseconds(a, 'first');
  const right = lastUpdateMilliseconds(b, 'second');
  if (left < right) {
    return -1;
  }
  return left > right ? 1 : 0;
}

/**
 * Whether `candidate` is strictly newer than `current` (a duplicate is not).
 *
 * @throws {InvalidContactRecordError} as {@link compareContactRecordVersions}.
 */
export function isNewerVersion(
  candidate: ContactRecordVersion,
  current: ContactRecordVersion,
): boolean {
  return compareContactRecordVersions(candidate, current) === 1;
}

/**
 * Classifies a received version against the latest known version of the same
 * contact (`undefined` when none is known). The caller matches the ContactId.
 *
 * @throws {InvalidContactRecordError} as {@link compareContactRecordVersions};
 *   with no `current`, when `candidate`'s LastUpdateTimestamp is invalid.
 */
export function classifyVersion(
  candidate: ContactRecordVersion,
  current: ContactRecordVersion | undefined,
): VersionClassification {
  if (current === undefined) {
    lastUpdateMilliseconds(candidate, 'candidate');
    return 'new';
  }
  switch (compareContactRecordVersions(candidate, current)) {
    case 1:
      return 'newer';
    case 0:
      return 'duplicate';
    default:
      return 'older';
  }
}

function lastUpdateMilliseconds(version: ContactRecordVersion, role: string): number {
  const timestamp = version.LastUpdateTimestamp;
  const milliseconds = typeof timestamp === 'string' ? toEpochMilliseconds(timestamp) : undefined;
  if (milliseconds === undefined) {
    throw new InvalidContactRecordError(
      'schema',
      `LastUpdateTimestamp of the ${role} version: expected an ISO-8601 UTC timestamp (YYYY-MM-DDThh:mm:ss[.sss]Z)`,
    );
  }
  return milliseconds;
}

/**
 * Digest of a contact record's content: the first 16 hex digits of the SHA-256
 * of its JSON text as `JSON.stringify` writes it after `JSON.parse` (so
 * whitespace and number spelling do not count, key order does). It tells two
 * records with the same LastUpdateTimestamp apart: Connect's timestamps have
 * whole-second resolution, so two different records of one contact can share
 * one, and they are two versions, not a duplicate.
 *
 * @param json - the record's JSON text, already in `JSON.stringify` form.
 */
export function contentDigest(json: string): string {
  return createHash('sha256').update(json, 'utf8').digest('hex').slice(0, 16);
}

/**
 * The version key of a contact record: its LastUpdateTimestamp as a
 * fixed-width ISO-8601 UTC instant to the millisecond, `#`, and its
 * {@link contentDigest}, e.g. `2022-04-08T15:00:12.000Z#3f1c9a0b7d2e4f61`.
 * Comparing two keys as strings (as DynamoDB compares S values, byte by byte)
 * orders versions: the later LastUpdateTimestamp first, and between records
 * of the same instant, the larger digest. Every order of delivery therefore
 * converges on the same version. Equal keys are the same record: a duplicate.
 *
 * @param lastUpdateTimestamp - ISO-8601 UTC (`YYYY-MM-DDThh:mm:ss[.sss]Z`).
 * @param digest - the record's {@link contentDigest}.
 * @throws {InvalidContactRecordError} reason `schema` when the timestamp is not ISO-8601 UTC.
 */
export function versionKey(lastUpdateTimestamp: string, digest: string): string {
  const milliseconds = lastUpdateMilliseconds(
    { LastUpdateTimestamp: lastUpdateTimestamp },
    'keyed',
  );
  return `${new Date(milliseconds).toISOString()}#${digest}`;
}

/** The LastUpdateTimestamp part of a {@link versionKey}, ISO-8601 UTC with milliseconds. */
export function timestampOfVersionKey(key: string): string {
  return key.slice(0, key.indexOf('#'));
}

/** What {@link keepNewestDeliveries} needs of a delivery: its contact and its version. */
export interface VersionedDelivery {
  contactId: string;
  /** ISO-8601 UTC. */
  lastUpdateTimestamp: string;
  /**
   * The record's {@link contentDigest}, asked for only when two deliveries of
   * the contact share a LastUpdateTimestamp. Without it such deliveries are
   * taken for the same version.
   */
  digest?: () => string;
}

/** -1, 0 or 1 as `a` is an older, the same or a newer version than `b` (timestamp, then digest). */
function compareDeliveries(a: VersionedDelivery, b: VersionedDelivery): number {
  const order = compareContactRecordVersions(
    { LastUpdateTimestamp: a.lastUpdateTimestamp },
    { LastUpdateTimestamp: b.lastUpdateTimestamp },
  );
  if (order !== 0 || !a.digest || !b.digest) return order;
  const left = a.digest();
  const right = b.digest();
  if (left === right) return 0;
  return left < right ? -1 : 1;
}

/**
 * Among deliveries in arrival order (one batch), keep one per ContactId: the
 * first delivery of its newest version (LastUpdateTimestamp, then the digest
 * when timestamps tie and both deliveries offer one, as {@link versionKey}
 * orders them). Deliveries whose `versionOf` is
 * `undefined` take no part, and are kept.
 *
 * @returns for each delivery not kept, `superseded` (the kept one is newer) or
 *   `duplicate` (the same version), and the delivery kept in its place.
 * @throws {InvalidContactRecordError} as {@link compareContactRecordVersions}.
 */
export function keepNewestDeliveries<T>(
  deliveries: readonly T[],
  versionOf: (delivery: T) => VersionedDelivery | undefined,
): Map<T, { outcome: 'superseded' | 'duplicate'; keptBy: T }> {
  const kept = new Map<string, { delivery: T; version: VersionedDelivery }>();
  for (const delivery of deliveries) {
    const versioned = versionOf(delivery);
    if (!versioned) continue;
    const current = kept.get(versioned.contactId);
    if (!current || compareDeliveries(versioned, current.version) > 0) {
      kept.set(versioned.contactId, { delivery, version: versioned });
    }
  }
  const dropped = new Map<T, { outcome: 'superseded' | 'duplicate'; keptBy: T }>();
  for (const delivery of deliveries) {
    const versioned = versionOf(delivery);
    const keeper = versioned && kept.get(versioned.contactId);
    if (!versioned || !keeper || keeper.delivery === delivery) continue;
    const order = compareDeliveries(versioned, keeper.version);
    dropped.set(delivery, {
      outcome: order === 0 ? 'duplicate' : 'superseded',
      keptBy: keeper.delivery,
    });
  }
  return dropped;
}
