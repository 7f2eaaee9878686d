/**
 * Use cases of the redrive function: the sweep of VoiceCalls still missing
 * hold-duration data and of pending syncs, the dead-letter queue redrive, and
 * START_CALL_PROCESSING.
 *
 * The sweep follows the Salesforce recipe "Retry CTR Sync for Voice Call
 * Records" (VoiceCalls with `CustomerHoldDuration = null`, re-synced from the
 * S3-archived contact records), without its defects: SCV's `queryRecord`
 * returns only the first row, so the sweep pages with a keyset on
 * VendorCallKey, one row per query, bounded per run, and resumable with
 * `startAfter`; and the sync ledger tells a record skipped on purpose from
 * one that is missing.
 */
import { parseContactRecordText } from './contact-record';
import { PermanentError } from './errors';
import type {
  ContactRecordArchive,
  DeadLetterQueue,
  FieldOverrides,
  LedgerItem,
  SalesforceRestApi,
  SyncLedger,
  SyncQueue,
  SyncQueueItem,
} from './ports';
import { contentDigest, timestampOfVersionKey, versionKey } from './versions';

/** Time window and cursor of one sweep. Timestamps are ISO-8601 UTC. */
export interface SweepWindow {
  /** Inclusive lower bound on VoiceCall.CreatedDate. */
  from: string;
  /** Exclusive upper bound on VoiceCall.CreatedDate. */
  to: string;
  /** Continue after this VendorCallKey (exclusive). */
  startAfter?: string;
}

/** Counts and cursor of one sweep run. */
export interface SweepResult {
  /**
   * - `queried`: VoiceCalls without hold data looked at;
   * - `enqueued`: records enqueued as resyncs (VoiceCalls and pending items);
   * - `skipped`: VoiceCalls whose record is skipped on purpose (the ledger says why);
   * - `noRecord`: VoiceCalls whose record is neither held nor in the archive window;
   * - `pending`: pending ledger items looked at; `pendingNotFound`: of those, not found.
   * - `archiveObjects`: archive objects read.
   */
  counts: {
    queried: number;
    enqueued: number;
    skipped: number;
    noRecord: number;
    pending: number;
    pendingNotFound: number;
    archiveObjects: number;
  };
  /** True when the window has no unsynced VoiceCall after the cursor; false when the run stopped early. */
  complete: boolean;
  /** Set when the run stopped early after at least one row; pass it as `startAfter` next time. */
  nextStartAfter?: string;
  /** Why the run stopped early when it was not its count or time limit: the error that stopped it. */
  error?: string;
}

/** Attempts of one query or read in a sweep, the first included. */
const SWEEP_STEP_ATTEMPTS = 3;

/** Run `step`, retrying any error but a PermanentError with backoff (100 ms, 200 ms). */
async function withRetries<T>(step: () => Promise<T>, sleep: (ms: number) => Promise<void>) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (error instanceof PermanentError || attempt === SWEEP_STEP_ATTEMPTS) throw error;
      await sleep(100 * 2 ** (attempt - 1));
    }
  }
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** SOQL string literal: backslash-escape `\` and `'` (SOQL reference, "Quoted String Escape Sequences"). */
export function soqlString(value: string): string {
  return `'${value.replace(/[\\']/g, (char) => `\\${char}`)}'`;
}

/** SOQL dateTime literal (unquoted, ISO-8601 UTC with Z), from any ISO-8601 timestamp. */
export function soqlDateTime(iso: string): string {
  const millis = Date.parse(iso);
  if (Number.isNaN(millis)) throw new RangeError(`Not an ISO-8601 timestamp: ${iso}`);
  return new Date(millis).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The sweep's query: the first VoiceCall after `startAfter` (by VendorCallKey)
 * in the window whose CustomerHoldDuration is null, with its CreatedDate.
 */
export function buildUnsyncedVoiceCallQuery(window: SweepWindow): string {
  // A VoiceCall without a VendorCallKey has no contact record to sync from, and would sort first for ever.
  const conditions = [
    'CustomerHoldDuration = null',
    'VendorCallKey != null',
    `CreatedDate >= ${soqlDateTime(window.from)}`,
    `CreatedDate < ${soqlDateTime(window.to)}`,
  ];
  if (window.startAfter !== undefined)
    conditions.push(`VendorCallKey > ${soqlString(window.startAfter)}`);
  return `SELECT Id, VendorCallKey, CreatedDate FROM VoiceCall WHERE ${conditions.join(' AND ')} ORDER BY VendorCallKey ASC LIMIT 1`;
}

const HOUR_MS = 3_600_000;

/**
 * Whether a contact record's JSON text may be of one of `wanted`, read
 * without parsing it: any `"ContactId":"<id>"` in it names a wanted id (an
 * attribute may carry that key too, so every one counts, and the parse after
 * it decides).
 */
function mayBeWanted(json: string, wanted: ReadonlyMap<string, unknown>): boolean {
  for (const match of json.matchAll(/"ContactId"\s*:\s*"([^"\\]+)"/g)) {
    if (wanted.has(match[1] as string)) return true;
  }
  return false;
}

/** A record found in the archive: its resync item and version key. */
interface FoundRecord {
  item: SyncQueueItem;
  version: string;
}

/**
 * Whether a record's LastUpdateTimestamp is after `latestTimestampMs` (ms
 * since the epoch): a version from the future, which Connect did not write
 * (see futureTimestampError in domain/contact-record.ts). The archive keeps
 * whatever was put on the bus, so lookups pass such versions over rather
 * than resend them.
 */
function isFromTheFuture(
  parsed: ReturnType<typeof parseContactRecordText>,
  latestTimestampMs: number | undefined,
): boolean {
  return (
    latestTimestampMs !== undefined &&
    Date.parse(parsed.contactRecord.LastUpdateTimestamp) > latestTimestampMs
  );
}

/**
 * The latest LastUpdateTimestamp (ms) a genuine record of archive object `key`
 * can have: the end of the hour its prefix names (`.../yyyy/MM/dd/HH/...`,
 * when the delivery stream received it) plus `toleranceMs`, and never after
 * `latestTimestampMs`. A version dated after the hour it was archived in was
 * forged then, even once that date has passed.
 */
function latestForObject(
  key: string,
  latestTimestampMs: number | undefined,
  toleranceMs: number | undefined,
): number | undefined {
  const hour = /\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\//.exec(key);
  if (!hour || toleranceMs === undefined) return latestTimestampMs;
  const [, year, month, day, hh] = hour.map(Number) as [number, number, number, number, number];
  const byHour = Date.UTC(year, month - 1, day, hh) + HOUR_MS + toleranceMs;
  return latestTimestampMs === undefined ? byHour : Math.min(byHour, latestTimestampMs);
}

/** Keep `parsed` in `found` under its ContactId when it is newer than the version kept there. */
function keepNewest(
  found: Map<string, FoundRecord>,
  parsed: ReturnType<typeof parseContactRecordText>,
): void {
  const { contactRecord, json } = parsed;
  const version = versionKey(contactRecord.LastUpdateTimestamp, contentDigest(json));
  const current = found.get(contactRecord.ContactId);
  if (current && current.version >= version) return;
  found.set(contactRecord.ContactId, {
    version,
    item: {
      contactId: contactRecord.ContactId,
      lastUpdateTimestamp: contactRecord.LastUpdateTimestamp,
      record: { json },
    },
  });
}

/**
 * Look for the newest version of each wanted contact in the archive objects
 * of its window (windows that overlap are read once). Reads at most
 * `maxObjects` objects; records that do not parse, or whose
 * LastUpdateTimestamp is after `latestTimestampMs` (ms since the epoch;
 * forged versions), are passed over.
 *
 * @param wanted - per ContactId, the window (epoch ms, `from` inclusive, `to` exclusive).
 * @returns the newest version found per ContactId, and the objects read.
 */
export async function findInArchive(
  wanted: ReadonlyMap<string, { from: number; to: number }>,
  ports: {
    archive: ContactRecordArchive;
    maxObjects: number;
    latestTimestampMs?: number;
    /** With it, a record dated after its object's hour plus this (ms) is passed over too. */
    toleranceMs?: number;
    sleep?: (ms: number) => Promise<void>;
  },
): Promise<{ found: Map<string, FoundRecord>; objectsRead: number }> {
  const sleep = ports.sleep ?? realSleep;
  const found = new Map<string, FoundRecord>();
  const ranges = [...wanted.values()]
    .map((window) => ({ ...window }))
    .sort((a, b) => a.from - b.from);
  const merged: { from: number; to: number }[] = [];
  for (const range of ranges) {
    const last = merged.at(-1);
    if (last && range.from <= last.to) last.to = Math.max(last.to, range.to);
    else merged.push(range);
  }
  let objectsRead = 0;
  for (const range of merged) {
    const window = {
      from: new Date(range.from).toISOString(),
      to: new Date(range.to).toISOString(),
    };
    let cursor: string | undefined;
    do {
      const page = await withRetries(() => ports.archive.listObjects(window, cursor), sleep);
      for (const key of page.keys) {
        if (objectsRead >= ports.maxObjects) return { found, objectsRead };
        objectsRead++;
        const texts = await withRetries(() => ports.archive.readObject(key), sleep);
        const latest = latestForObject(key, ports.latestTimestampMs, ports.toleranceMs);
        for (const text of texts) {
          if (!mayBeWanted(text, wanted)) continue;
          let parsed: ReturnType<typeof parseContactRecordText>;
          try {
            parsed = parseContactRecordText(text);
          } catch {
            continue;
          }
          if (!wanted.has(parsed.contactRecord.ContactId)) continue;
          if (isFromTheFuture(parsed, latest)) continue;
          keepNewest(found, parsed);
        }
      }
      cursor = page.next;
    } while (cursor !== undefined);
  }
  return { found, objectsRead };
}

/**
 * Where to look for a contact's record in the archive. With a claimed
 * version: the hour before and after it reached the sync queue
 * (`receivedAt`; both rule targets get the event within seconds, and a
 * message redriven later holds its record in the ledger instead); for an
 * item without it, from the version's LastUpdateTimestamp (Connect publishes
 * a record after it) for `lookupHours`. Without a claim: from the
 * VoiceCall's CreatedDate (the call started before its record was last
 * updated) for `lookupHours`.
 */
function archiveWindow(
  item: LedgerItem | undefined,
  createdDate: string | undefined,
  fallback: { from: string; to: string },
  lookupHours: number,
): { from: number; to: number } {
  if (item?.receivedAt !== undefined) {
    return { from: item.receivedAt - HOUR_MS, to: item.receivedAt + HOUR_MS };
  }
  const start = item?.claimed
    ? Date.parse(timestampOfVersionKey(item.claimed))
    : Date.parse(createdDate ?? fallback.from);
  const from = Number.isNaN(start) ? Date.parse(fallback.from) : start;
  return { from, to: from + lookupHours * HOUR_MS };
}

/** `found` when it is the `claimed` version or newer (or nothing is claimed); else undefined. */
function atLeast(found: FoundRecord | undefined, claimed: string | undefined) {
  return found && (claimed === undefined || found.version >= claimed) ? found : undefined;
}

/** The resync item of a ledger item's held record, when it holds the claimed version's. */
function heldItem(item: LedgerItem): SyncQueueItem | undefined {
  if (!item.claimed || !item.held || item.heldVersion !== item.claimed) return undefined;
  return {
    contactId: item.contactId,
    lastUpdateTimestamp: timestampOfVersionKey(item.claimed),
    record: item.held,
  };
}

/** Options of a sweep run; see {@link sweepUnsyncedVoiceCalls}. */
export interface SweepRequest extends SweepWindow {
  /** VoiceCalls handled in this run at most (pending items too). */
  maxRecords: number;
  /** Items pending since before this instant (ms) are resent; undefined: no pending pass. */
  pendingBefore?: number;
  /** Hours of archive objects read per contact (see {@link archiveWindow}). */
  archiveLookupHours: number;
  /** Archive objects read in this run at most. */
  maxArchiveObjects: number;
  /** Archived versions whose LastUpdateTimestamp is after this (ms since the epoch) are passed over. */
  latestTimestampMs?: number;
  /** And those dated more than this (ms) after the hour they were archived in. */
  toleranceMs?: number;
}

/**
 * Sweep: re-enqueue, as resyncs, the records of VoiceCalls that were never
 * synced and of syncs the ledger has pending.
 *
 * Primary course:
 * 1. On the first run of a window (no `startAfter`), list the ledger's items
 *    pending since before `pendingBefore` (a sparse index, never a scan).
 * 2. Query the next unsynced VoiceCall after the cursor (one row per query)
 *    and read its ledger item by VendorCallKey (= ContactId): a record skipped
 *    on purpose is counted as `skipped` (it is never coming).
 * 3. Take each record from the ledger when it holds the claimed version's,
 *    otherwise look for the newest version in the archive objects of its
 *    window; count it `noRecord` (or `pendingNotFound`) when there is none.
 * 4. Enqueue what was found for the updater, which decides through the
 *    ledger whether it is still the newest version.
 * 5. Stop when the query finds nothing, after `maxRecords` rows, or when
 *    `hasTimeLeft()` says so; report the cursor to resume from.
 *
 * A query or read that fails (other than with a PermanentError) is retried
 * (3 attempts in all); if it keeps failing, the run stops there and reports
 * the error with the cursor to resume from, after enqueueing what it found.
 *
 * @throws whatever the ports throw otherwise, and when enqueueing fails.
 */
export async function sweepUnsyncedVoiceCalls(
  request: SweepRequest,
  ports: {
    restApi: SalesforceRestApi;
    ledger: SyncLedger;
    archive: ContactRecordArchive;
    syncQueue: SyncQueue;
    hasTimeLeft?: () => boolean;
    /** Injected for tests. */
    sleep?: (ms: number) => Promise<void>;
    /** Milliseconds since the epoch (injected for tests). */
    now?: () => number;
  },
): Promise<SweepResult> {
  const sleep = ports.sleep ?? realSleep;
  const hasTimeLeft = () => ports.hasTimeLeft?.() ?? true;
  const counts: SweepResult['counts'] = {
    queried: 0,
    enqueued: 0,
    skipped: 0,
    noRecord: 0,
    pending: 0,
    pendingNotFound: 0,
    archiveObjects: 0,
  };
  const toEnqueue: SyncQueueItem[] = [];
  /** Contacts to look for in the archive, and whether each came from the pending pass. */
  const wanted = new Map<string, { from: number; to: number }>();
  const fromPending = new Set<string>();
  /** The version the ledger claims, per wanted contact: an older one found is no answer. */
  const claimed = new Map<string, string>();
  let error: string | undefined;

  if (request.pendingBefore !== undefined && request.startAfter === undefined) {
    let cursor: string | undefined;
    try {
      do {
        const page = await withRetries(
          () =>
            ports.ledger.listPending({
              before: request.pendingBefore as number,
              limit: Math.min(100, request.maxRecords - counts.pending),
              startAfter: cursor,
            }),
          sleep,
        );
        for (const item of page.items) {
          counts.pending++;
          const held = heldItem(item);
          if (held) toEnqueue.push(held);
          else if (item.claimed && item.skipped === undefined) {
            wanted.set(
              item.contactId,
              archiveWindow(item, undefined, request, request.archiveLookupHours),
            );
            claimed.set(item.contactId, item.claimed);
            fromPending.add(item.contactId);
          }
        }
        cursor = page.next;
      } while (cursor && counts.pending < request.maxRecords && hasTimeLeft());
    } catch (stepError) {
      if (stepError instanceof PermanentError) throw stepError;
      error = (stepError as Error).message;
    }
  }

  let cursor = request.startAfter;
  let exhausted = false;
  while (error === undefined && counts.queried < request.maxRecords && hasTimeLeft()) {
    try {
      const query = buildUnsyncedVoiceCallQuery({
        from: request.from,
        to: request.to,
        startAfter: cursor,
      });
      const row = await withRetries(() => ports.restApi.queryRecord(query), sleep);
      if (!row) {
        exhausted = true;
        break;
      }
      const item = await withRetries(() => ports.ledger.get(row.VendorCallKey), sleep);
      counts.queried++;
      cursor = row.VendorCallKey;
      if (item?.skipped !== undefined) {
        counts.skipped++;
        continue;
      }
      const held = item && heldItem(item);
      if (held) toEnqueue.push(held);
      else {
        fromPending.delete(row.VendorCallKey);
        wanted.set(
          row.VendorCallKey,
          archiveWindow(item, row.CreatedDate, request, request.archiveLookupHours),
        );
        if (item?.claimed) claimed.set(row.VendorCallKey, item.claimed);
      }
    } catch (stepError) {
      if (stepError instanceof PermanentError) throw stepError;
      error = (stepError as Error).message;
    }
  }

  if (wanted.size > 0) {
    try {
      const { found, objectsRead } = await findInArchive(wanted, {
        archive: ports.archive,
        maxObjects: request.maxArchiveObjects,
        latestTimestampMs: request.latestTimestampMs,
        toleranceMs: request.toleranceMs,
        sleep,
      });
      counts.archiveObjects = objectsRead;
      for (const contactId of wanted.keys()) {
        const record = atLeast(found.get(contactId), claimed.get(contactId));
        if (record) toEnqueue.push(record.item);
        else if (fromPending.has(contactId)) {
          counts.pendingNotFound++;
          // To the back of the pending index, so that items the sweep can resolve come first.
          await ports.ledger.deferPending(contactId, ports.now?.() ?? Date.now());
        } else counts.noRecord++;
      }
    } catch (stepError) {
      if (stepError instanceof PermanentError) throw stepError;
      error ??= (stepError as Error).message;
    }
  }

  await ports.syncQueue.enqueue(toEnqueue);
  counts.enqueued = toEnqueue.length;
  if (exhausted && error === undefined) return { counts, complete: true };
  return {
    counts,
    complete: false,
    ...(cursor === undefined ? {} : { nextStartAfter: cursor }),
    ...(error === undefined ? {} : { error }),
  };
}

/**
 * The two looks the scheduled sweep takes at each VoiceCall, by its age
 * (CreatedDate): `first-look` once it is `firstLookMinutes` old (its call has
 * most likely ended and its record arrived), `second-look` once it is
 * `lookbackHours` old (what arrived late, or failed for a day). Each band
 * keeps a cursor in the ledger, so every scheduled run sweeps only what
 * became old enough since the last one: each VoiceCall without hold data
 * costs two `queryRecord`s over its life (the stock recipe's hourly sweep of
 * the last 24 hours queried it 24 times).
 */
export const SWEEP_BANDS = ['first-look', 'second-look'] as const;

/** One of {@link SWEEP_BANDS}. */
export type SweepBand = (typeof SWEEP_BANDS)[number];

/**
 * The window (ms since the epoch, `from` inclusive, `to` exclusive) a band
 * sweeps now: from its cursor (or, before its first run, `lookbackMs` before
 * `to`) up to `nowMs - ageMs`, at most `maxWindowMs` long (after a long
 * outage, the oldest part is left to a manual sweep). `undefined` when
 * nothing became old enough since the cursor.
 */
export function sweepBandWindow(options: {
  nowMs: number;
  ageMs: number;
  cursor: number | undefined;
  lookbackMs: number;
  maxWindowMs: number;
}): { from: number; to: number } | undefined {
  const to = options.nowMs - options.ageMs;
  const from = Math.max(options.cursor ?? to - options.lookbackMs, to - options.maxWindowMs);
  return from < to ? { from, to } : undefined;
}

/** What one band of a scheduled sweep did; see {@link scheduledSweep}. */
export interface BandSweep {
  band: SweepBand;
  /** ISO-8601 UTC. */
  window: { from: string; to: string };
  result: SweepResult;
}

/**
 * The scheduled sweep: each band of {@link SWEEP_BANDS} over its window
 * ({@link sweepBandWindow}), the pending pass with the first band only; a band
 * swept to its end moves its cursor to its window's end. A band left
 * incomplete keeps its cursor: the caller continues it (`nextStartAfter`)
 * and calls {@link completeBand} when the continuation completes.
 *
 * @throws whatever {@link sweepUnsyncedVoiceCalls} and the ledger throw.
 */
export async function scheduledSweep(
  request: Omit<SweepRequest, 'from' | 'to' | 'startAfter'> & {
    nowMs: number;
    firstLookMinutes: number;
    lookbackHours: number;
    maxWindowDays: number;
  },
  ports: Parameters<typeof sweepUnsyncedVoiceCalls>[1],
): Promise<BandSweep[]> {
  const { nowMs, firstLookMinutes, lookbackHours, maxWindowDays, ...sweep } = request;
  const ages: Record<SweepBand, number> = {
    'first-look': bandAgeMs('first-look', { firstLookMinutes, lookbackHours }),
    'second-look': bandAgeMs('second-look', { firstLookMinutes, lookbackHours }),
  };
  const done: BandSweep[] = [];
  for (const band of SWEEP_BANDS) {
    if (done.length > 0 && !(ports.hasTimeLeft?.() ?? true)) break;
    const cursor = await ports.ledger.getSweepCursor(band);
    const window = sweepBandWindow({
      nowMs,
      ageMs: ages[band],
      cursor,
      lookbackMs: lookbackHours * HOUR_MS,
      maxWindowMs: maxWindowDays * 24 * HOUR_MS,
    });
    if (!window) continue;
    // After an outage longer than the window, the part before it is left to a manual sweep: the
    // cursor moves to the window's start, so that this window's continuations move it on.
    if (cursor !== undefined && cursor < window.from) {
      await ports.ledger.advanceSweepCursor(band, cursor, window.from);
    }
    const iso = {
      from: new Date(window.from).toISOString(),
      to: new Date(window.to).toISOString(),
    };
    const result = await sweepUnsyncedVoiceCalls(
      {
        ...sweep,
        ...iso,
        ...(band === 'first-look' ? {} : { pendingBefore: undefined }),
      },
      ports,
    );
    if (result.complete) await completeBand(band, iso, ports.ledger);
    done.push({ band, window: iso, result });
  }
  return done;
}

/** The age (ms) at which `band` looks at a VoiceCall. */
export function bandAgeMs(
  band: SweepBand,
  options: { firstLookMinutes: number; lookbackHours: number },
): number {
  return band === 'first-look'
    ? options.firstLookMinutes * 60_000
    : options.lookbackHours * HOUR_MS;
}

/**
 * `band`'s window (ISO-8601) was swept to its end: move its cursor to the
 * window's end, if the window starts at or before it (see SyncLedger.advanceSweepCursor).
 */
export async function completeBand(
  band: SweepBand,
  window: { from: string; to: string },
  ledger: SyncLedger,
): Promise<boolean> {
  return ledger.advanceSweepCursor(band, Date.parse(window.from), Date.parse(window.to));
}

/**
 * DLQ redrive: move up to `maxMessages` messages from the sync dead-letter
 * queue back to the sync queue, bodies unchanged. A message is deleted from
 * the DLQ only after the sync queue accepted it (at-least-once: a failed
 * delete can duplicate, never lose). A message that keeps failing in the
 * updater goes back to the DLQ through the sync queue's redrive policy
 * (maxReceiveCount); if it does so while this run is still going, the run
 * recognises its own `runId` on it, leaves it in the DLQ and counts it as
 * `returned`, so one run never moves a message twice.
 */
export async function redriveDeadLetters(
  request: { maxMessages: number; runId: string },
  ports: { deadLetters: DeadLetterQueue; syncQueue: SyncQueue; hasTimeLeft?: () => boolean },
): Promise<{ counts: { moved: number; returned: number } }> {
  const counts = { moved: 0, returned: 0 };
  let received = 0;
  while (received < request.maxMessages && (ports.hasTimeLeft?.() ?? true)) {
    const messages = await ports.deadLetters.receive(Math.min(10, request.maxMessages - received));
    if (messages.length === 0) break;
    received += messages.length;
    const fresh = messages.filter((message) => message.redriveRun !== request.runId);
    counts.returned += messages.length - fresh.length;
    if (fresh.length === 0) continue;
    await ports.syncQueue.sendRaw(
      fresh.map((message) => message.body),
      { redriveRun: request.runId },
    );
    await ports.deadLetters.delete(fresh);
    counts.moved += fresh.length;
  }
  return { counts };
}

/** Counts and cursor of one replay run. */
export interface ReplayResult {
  /**
   * Objects read, records in them, records enqueued, records that do not
   * parse and records from the future (both passed over).
   */
  counts: { objects: number; records: number; enqueued: number; invalid: number; future: number };
  /** True when the window's objects were all read. */
  complete: boolean;
  /** The last object read when the run stopped early: pass it as `startAfter`. */
  nextStartAfter?: string;
}

/**
 * Replay from the archive: feed the records of the archive objects of a
 * window through the normal sync path (not as resyncs), so the sync ledger
 * decides whether each is newer (sent), a duplicate or superseded (not
 * sent). A replay of a window already synced changes no VoiceCall; after the
 * ledger was restored or wiped, it brings every VoiceCall to the newest
 * version in the window.
 *
 * Primary course:
 * 1. List the window's objects after `startAfter`, in time order.
 * 2. Per object: read its records (newline-delimited or concatenated JSON,
 *    GZIP or not: the delivery stream's objects, or an Amazon Connect
 *    export's), pass over those that do not parse (counted `invalid`), whose
 *    LastUpdateTimestamp is after `latestTimestampMs` (counted `future`: the
 *    updater would quarantine them) or that are not among `contactIds`, and
 *    enqueue the newest version of each contact in it.
 * 3. Stop after `maxObjects` objects or when `hasTimeLeft()` says so, and
 *    report the last object read to continue after.
 *
 * @throws whatever the ports throw (after 3 attempts for reads).
 */
export async function replayArchive(
  request: {
    from: string;
    to: string;
    contactIds?: string[];
    startAfter?: string;
    maxObjects: number;
    latestTimestampMs?: number;
    toleranceMs?: number;
  },
  ports: {
    archive: ContactRecordArchive;
    syncQueue: SyncQueue;
    hasTimeLeft?: () => boolean;
    sleep?: (ms: number) => Promise<void>;
  },
): Promise<ReplayResult> {
  const sleep = ports.sleep ?? realSleep;
  const only = request.contactIds ? new Set(request.contactIds) : undefined;
  const counts = { objects: 0, records: 0, enqueued: 0, invalid: 0, future: 0 };
  let cursor = request.startAfter;
  let lastRead: string | undefined;
  const window = { from: request.from, to: request.to };
  for (;;) {
    const page = await withRetries(() => ports.archive.listObjects(window, cursor), sleep);
    for (const key of page.keys) {
      if (counts.objects >= request.maxObjects || !(ports.hasTimeLeft?.() ?? true)) {
        return lastRead === undefined
          ? { counts, complete: false }
          : { counts, complete: false, nextStartAfter: lastRead };
      }
      const texts = await withRetries(() => ports.archive.readObject(key), sleep);
      counts.objects++;
      lastRead = key;
      const latest = latestForObject(key, request.latestTimestampMs, request.toleranceMs);
      const newest = new Map<string, FoundRecord>();
      for (const text of texts) {
        counts.records++;
        let parsed: ReturnType<typeof parseContactRecordText>;
        try {
          parsed = parseContactRecordText(text);
        } catch {
          counts.invalid++;
          continue;
        }
        if (only && !only.has(parsed.contactRecord.ContactId)) continue;
        if (isFromTheFuture(parsed, latest)) {
          counts.future++;
          continue;
        }
        keepNewest(newest, parsed);
      }
      const items = [...newest.values()].map((found) => found.item);
      if (items.length > 0) await ports.syncQueue.enqueue(items, { resync: false });
      counts.enqueued += items.length;
    }
    if (page.next === undefined) return { counts, complete: true };
    cursor = page.next;
  }
}

/**
 * START_CALL_PROCESSING (AWS Live Call Analytics sends it for an in-progress
 * call, before its contact record exists): hold the phone-number overrides in
 * the ledger under the callId (= ContactId), so the updater applies them to
 * every send of the contact's record. When a version is already claimed,
 * resync it now: from the record the ledger holds, or the newest one in the
 * archive; if neither has it yet, mark it pending, and the sweep resends it.
 */
export async function holdCallOverrides(
  request: {
    contactId: string;
    fieldOverrides: FieldOverrides;
    at: number;
    archiveLookupHours: number;
    maxArchiveObjects: number;
    latestTimestampMs?: number;
    toleranceMs?: number;
  },
  ports: { ledger: SyncLedger; archive: ContactRecordArchive; syncQueue: SyncQueue },
): Promise<{ counts: { held: number; enqueued: number; pending: number } }> {
  const item = await ports.ledger.holdOverrides(
    request.contactId,
    request.fieldOverrides,
    request.at,
  );
  if (!item.claimed || item.skipped !== undefined) {
    return { counts: { held: 1, enqueued: 0, pending: 0 } };
  }
  let resync = heldItem(item);
  if (!resync) {
    const window = archiveWindow(item, undefined, { from: '', to: '' }, request.archiveLookupHours);
    const { found } = await findInArchive(new Map([[item.contactId, window]]), {
      archive: ports.archive,
      maxObjects: request.maxArchiveObjects,
      latestTimestampMs: request.latestTimestampMs,
      toleranceMs: request.toleranceMs,
    });
    resync = atLeast(found.get(item.contactId), item.claimed)?.item;
  }
  if (resync) {
    await ports.syncQueue.enqueue([resync]);
    return { counts: { held: 1, enqueued: 1, pending: 0 } };
  }
  await ports.ledger.markPending(item.contactId, item.claimed, request.at);
  return { counts: { held: 1, enqueued: 0, pending: 1 } };
}

/** Counts of one repair of a contact; see {@link resyncContact}. */
export interface ResyncResult {
  /**
   * - `reset`: 1 when the ledger's claim was reset;
   * - `archiveObjects`: archive objects read;
   * - `enqueued`: 1 when a record was found and enqueued as a resync;
   * - `noRecord`: 1 when no genuine version was in the window.
   */
  counts: { reset: number; archiveObjects: number; enqueued: number; noRecord: number };
  /** The window read, ISO-8601 UTC (`from` inclusive, `to` exclusive). */
  window: { from: string; to: string };
  /** The LastUpdateTimestamp of the version enqueued, when one was. */
  lastUpdateTimestamp?: string;
}

/**
 * Repair one contact (an operator's `ResyncRequested`): with `reset`, reset
 * its ledger claim first (held overrides kept, unless `resetOverrides`), then
 * find the newest genuine version of its record in the archive and enqueue it
 * as a resync, which the updater sends whatever version the ledger held.
 * Genuine: its LastUpdateTimestamp is neither after `latestTimestampMs` nor
 * more than `toleranceMs` after the hour it was archived in (a forged version,
 * archived like any other, is passed over even once its date has passed).
 *
 * The archive window is `from`/`to` when given; otherwise it starts an hour
 * before the VoiceCall's CreatedDate (one `queryRecord` by VendorCallKey) and
 * ends `maxWindowDays` after it or now (`nowMs`), whichever is first: every
 * version Connect republished in that time is read, so a reset does not bring
 * the VoiceCall back to an older one.
 *
 * @throws PermanentError when no window is given and SCV has no VoiceCall for
 *   the contact (nothing to repair, or the wrong ContactId); whatever the
 *   ports throw otherwise (after 3 attempts for queries and reads).
 */
export async function resyncContact(
  request: {
    contactId: string;
    reset: boolean;
    resetOverrides?: boolean;
    from?: string;
    to?: string;
    nowMs: number;
    maxWindowDays: number;
    maxArchiveObjects: number;
    latestTimestampMs: number;
    toleranceMs: number;
  },
  ports: {
    ledger: SyncLedger;
    restApi: SalesforceRestApi;
    archive: ContactRecordArchive;
    syncQueue: SyncQueue;
    sleep?: (ms: number) => Promise<void>;
  },
): Promise<ResyncResult> {
  const sleep = ports.sleep ?? realSleep;
  const { contactId } = request;
  let window: { from: number; to: number };
  if (request.from !== undefined && request.to !== undefined) {
    window = { from: Date.parse(request.from), to: Date.parse(request.to) };
  } else {
    const row = await withRetries(
      () =>
        ports.restApi.queryRecord(
          `SELECT Id, VendorCallKey, CreatedDate FROM VoiceCall WHERE VendorCallKey = ${soqlString(contactId)} LIMIT 1`,
        ),
      sleep,
    );
    const created = row?.CreatedDate === undefined ? Number.NaN : Date.parse(row.CreatedDate);
    if (Number.isNaN(created)) {
      throw new PermanentError(
        `No VoiceCall with VendorCallKey ${contactId} (or no CreatedDate): give from and to`,
      );
    }
    window = {
      from: created - HOUR_MS,
      to: Math.min(request.nowMs, created + request.maxWindowDays * 24 * HOUR_MS),
    };
  }
  const counts = { reset: 0, archiveObjects: 0, enqueued: 0, noRecord: 0 };
  if (request.reset) {
    const item = await ports.ledger.resetClaim(contactId, {
      overrides: request.resetOverrides ?? false,
    });
    counts.reset = item ? 1 : 0;
  }
  const { found, objectsRead } = await findInArchive(new Map([[contactId, window]]), {
    archive: ports.archive,
    maxObjects: request.maxArchiveObjects,
    latestTimestampMs: request.latestTimestampMs,
    toleranceMs: request.toleranceMs,
    sleep,
  });
  counts.archiveObjects = objectsRead;
  const record = found.get(contactId);
  const result: ResyncResult = {
    counts,
    window: { from: new Date(window.from).toISOString(), to: new Date(window.to).toISOString() },
  };
  if (!record) {
    counts.noRecord = 1;
    return result;
  }
  await ports.syncQueue.enqueue([record.item]);
  counts.enqueued = 1;
  return { ...result, lastUpdateTimestamp: record.item.lastUpdateTimestamp };
}
