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

/** What {@link keepNewestDeliveries} needs of a delivery: its contact and its version. */
export interface VersionedDelivery {
  contactId: string;
  /** ISO-8601 UTC. */
  lastUpdateTimestamp: string;
}

/**
 * Among deliveries in arrival order (one batch), keep one per ContactId: the
 * first delivery of its newest version. Deliveries whose `versionOf` is
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
  const kept = new Map<string, { delivery: T; version: string }>();
  for (const delivery of deliveries) {
    const versioned = versionOf(delivery);
    if (!versioned) continue;
    const current = kept.get(versioned.contactId);
    if (
      !current ||
      compareContactRecordVersions(
        { LastUpdateTimestamp: versioned.lastUpdateTimestamp },
        { LastUpdateTimestamp: current.version },
      ) > 0
    ) {
      kept.set(versioned.contactId, { delivery, version: versioned.lastUpdateTimestamp });
    }
  }
  const dropped = new Map<T, { outcome: 'superseded' | 'duplicate'; keptBy: T }>();
  for (const delivery of deliveries) {
    const versioned = versionOf(delivery);
    const keeper = versioned && kept.get(versioned.contactId);
    if (!versioned || !keeper || keeper.delivery === delivery) continue;
    const order = compareContactRecordVersions(
      { LastUpdateTimestamp: versioned.lastUpdateTimestamp },
      { LastUpdateTimestamp: keeper.version },
    );
    dropped.set(delivery, {
      outcome: order === 0 ? 'duplicate' : 'superseded',
      keptBy: keeper.delivery,
    });
  }
  return dropped;
}
