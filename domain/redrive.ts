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
 *
 * Records are looked for in the archive by domain/archive-lookup.ts; queries
 * and reads are retried by domain/retries.ts.
 */
import {
  type ArchiveLookup,
  type FoundRecord,
  findInArchive,
  HOUR_MS,
  isFromTheFuture,
  keepNewest,
  latestForObject,
  newArchiveReadState,
  type Versioned,
} from './archive-lookup';
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
import { realSleep, withRetries } from './retries';
import { timestampOfVersionKey } from './versions';

export {
  type ArchiveLookup,
  type ArchiveReadState,
  findInArchive,
  newArchiveReadState,
  READ_STATE_MAX_IDS,
} from './archive-lookup';

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
   * - `deferred`: VoiceCalls queried but left to the next run, from the first
   *   whose archive window this run could not read to its end (`maxArchiveObjects`,
   *   no time left, or a read that kept failing).
   * - `pendingUnread`: pending items whose archive window this run could not
   *   read to its end: they stay pending.
   */
  counts: {
    queried: number;
    enqueued: number;
    skipped: number;
    noRecord: number;
    pending: number;
    pendingNotFound: number;
    archiveObjects: number;
    deferred: number;
    pendingUnread: number;
  };
  /** True when the window has no unsynced VoiceCall after the cursor; false when the run stopped early. */
  complete: boolean;
  /** Set when the run stopped early after at least one row; pass it as `startAfter` next time. */
  nextStartAfter?: string;
  /** Why the run stopped early when it was not its count or time limit: the error that stopped it. */
  error?: string;
  /**
   * The VoiceCall the run could not resolve although it read its archive
   * window first, with the run's whole time: its band cannot move past it
   * until the cause (`error`) is fixed.
   */
  stuck?: string;
  /** Why a pending item's archive window could not be read (it stays pending; not `error`). */
  pendingError?: string;
}

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

/** The ports of a sweep run; see {@link sweepUnsyncedVoiceCalls}. */
export interface SweepPorts {
  restApi: SalesforceRestApi;
  ledger: SyncLedger;
  archive: ContactRecordArchive;
  syncQueue: SyncQueue;
  /** Whether there is time left to read the archive (and then enqueue). */
  hasTimeLeft?: () => boolean;
  /**
   * Whether there is time left to query another VoiceCall or page of
   * pending items, keeping the time the archive lookup of what was queried
   * needs; default {@link hasTimeLeft}.
   */
  hasTimeToQuery?: () => boolean;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
  /** Milliseconds since the epoch (injected for tests). */
  now?: () => number;
}

/** What the pending pass found; see {@link listPendingToResend}. */
interface PendingPass {
  /** Items listed. */
  listed: number;
  /** Records the ledger holds for the claimed version: resent as they are. */
  held: Versioned[];
  /** The archive window of each of the others. */
  wanted: Map<string, { from: number; to: number }>;
  /** The version each of the others claims. */
  claimed: Map<string, string>;
  /** Set when a page kept failing (3 attempts): the items listed before it are kept. */
  error?: string;
}

/**
 * The ledger's items pending since before `request.pendingBefore` (its sparse
 * index, pages of at most 100, `maxRecords` items at most, while there is time
 * to query): each with the record the ledger holds, or the window to look for
 * it in the archive. Items skipped on purpose or never claimed are passed over.
 *
 * @throws PermanentError from the ledger.
 */
async function listPendingToResend(
  request: SweepRequest,
  ports: SweepPorts,
  run: { sleep: (ms: number) => Promise<void>; hasTimeToQuery: () => boolean },
): Promise<PendingPass> {
  const pass: PendingPass = { listed: 0, held: [], wanted: new Map(), claimed: new Map() };
  let cursor: string | undefined;
  try {
    do {
      const page = await withRetries(
        () =>
          ports.ledger.listPending({
            before: request.pendingBefore as number,
            limit: Math.min(100, request.maxRecords - pass.listed),
            startAfter: cursor,
          }),
        run.sleep,
      );
      for (const item of page.items) {
        pass.listed++;
        const held = heldItem(item);
        if (held) pass.held.push({ item: held, version: item.claimed as string });
        else if (item.claimed && item.skipped === undefined) {
          pass.wanted.set(
            item.contactId,
            archiveWindow(item, undefined, request, request.archiveLookupHours),
          );
          pass.claimed.set(item.contactId, item.claimed);
        }
      }
      cursor = page.next;
    } while (cursor && pass.listed < request.maxRecords && run.hasTimeToQuery());
  } catch (stepError) {
    if (stepError instanceof PermanentError) throw stepError;
    pass.error = (stepError as Error).message;
  }
  return pass;
}

/** A VoiceCall the sweep queried, with what the ledger says of it. */
interface SweepRow {
  contactId: string;
  /** Its record is skipped on purpose. */
  skipped?: true;
  /** The record the ledger holds for its claimed version. */
  held?: Versioned;
}

/** What {@link queryUnsyncedVoiceCalls} queried. */
interface QueriedRows {
  /** In query (VendorCallKey) order. */
  rows: SweepRow[];
  /** The archive window of each row that needs the archive, but the first (`early`). */
  wanted: Map<string, { from: number; to: number }>;
  /** The claimed version (or none) of each row that needs the archive. */
  claims: Map<string, string | undefined>;
  /** The lookup of the first row that needs the archive, done when it was queried. */
  early?: ArchiveLookup;
  /** The query found no more VoiceCalls. */
  exhausted: boolean;
  /** Set when a query or ledger read kept failing (3 attempts). */
  error?: string;
}

/**
 * Query the unsynced VoiceCalls after the cursor, one row per query, while
 * there is time to and fewer than `maxRecords` were, and read each one's
 * ledger item by VendorCallKey (= ContactId). The first one that needs the
 * archive is looked up at once, its window whole, with all the run's time
 * ({@link findInArchive}): the run takes at least it, however long the others
 * would have let it read; querying stops when it cannot be resolved.
 *
 * @throws PermanentError from the REST API, the ledger or the archive.
 */
async function queryUnsyncedVoiceCalls(
  request: SweepRequest,
  ports: SweepPorts,
  run: {
    sleep: (ms: number) => Promise<void>;
    hasTimeToQuery: () => boolean;
    lookupPorts: Omit<Parameters<typeof findInArchive>[1], 'maxObjects'>;
  },
): Promise<QueriedRows> {
  const queried: QueriedRows = { rows: [], wanted: new Map(), claims: new Map(), exhausted: false };
  const { rows } = queried;
  while (rows.length < request.maxRecords && run.hasTimeToQuery()) {
    try {
      const query = buildUnsyncedVoiceCallQuery({
        from: request.from,
        to: request.to,
        startAfter: rows.at(-1)?.contactId ?? request.startAfter,
      });
      const row = await withRetries(() => ports.restApi.queryRecord(query), run.sleep);
      if (!row) {
        queried.exhausted = true;
        break;
      }
      const contactId = row.VendorCallKey;
      const item = await withRetries(() => ports.ledger.get(contactId), run.sleep);
      if (item?.skipped !== undefined) {
        rows.push({ contactId, skipped: true });
        continue;
      }
      const held = item && heldItem(item);
      if (held) {
        rows.push({ contactId, held: { item: held, version: item.claimed as string } });
        continue;
      }
      rows.push({ contactId });
      queried.claims.set(contactId, item?.claimed);
      const window = archiveWindow(item, row.CreatedDate, request, request.archiveLookupHours);
      if (queried.early === undefined) {
        queried.early = await findInArchive(new Map([[contactId, window]]), {
          ...run.lookupPorts,
          maxObjects: 0,
        });
        // Not even it: the rows after it would be left to the next run anyway.
        if (queried.early.unresolved.size > 0) break;
      } else queried.wanted.set(contactId, window);
    } catch (stepError) {
      if (stepError instanceof PermanentError) throw stepError;
      queried.error = (stepError as Error).message;
      break;
    }
  }
  return queried;
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
 *    `hasTimeToQuery()` says so; report the cursor to resume from.
 *
 * The archive is read for the VoiceCalls in query order, then for the pending
 * items ({@link findInArchive}; the first one's window whole, then up to
 * `maxArchiveObjects` objects). When it cannot be read to the end of a
 * VoiceCall's window (`maxArchiveObjects`, no time left, or a read that keeps
 * failing), that VoiceCall and every one queried after it are left to the
 * next run (`deferred`, nothing enqueued for them): the cursor stops before
 * them, so a VoiceCall is never passed over unresolved. A pending item not
 * resolved stays pending (`pendingUnread`), in its place, unless an object of
 * its own window kept failing: then it goes to the back of the index, so that
 * it does not hold the others. When not even the first VoiceCall could be resolved,
 * the run reports why, naming the VoiceCall and the object that failed, so
 * that it does not continue in place for ever. A record is enqueued once per
 * run, also when a pending item's VoiceCall is queried too.
 *
 * A query or read that fails (other than with a PermanentError) is retried
 * (3 attempts in all); if it keeps failing, the run stops there and reports
 * the error with the cursor to resume from, after enqueueing what it found.
 *
 * @throws whatever the ports throw otherwise, and when enqueueing fails.
 */
export async function sweepUnsyncedVoiceCalls(
  request: SweepRequest,
  ports: SweepPorts,
): Promise<SweepResult> {
  const sleep = ports.sleep ?? realSleep;
  const hasTimeToQuery = () => (ports.hasTimeToQuery ?? ports.hasTimeLeft)?.() ?? true;
  const counts: SweepResult['counts'] = {
    queried: 0,
    enqueued: 0,
    skipped: 0,
    noRecord: 0,
    pending: 0,
    pendingNotFound: 0,
    archiveObjects: 0,
    deferred: 0,
    pendingUnread: 0,
  };
  const lookupPorts = {
    archive: ports.archive,
    latestTimestampMs: request.latestTimestampMs,
    toleranceMs: request.toleranceMs,
    hasTimeLeft: ports.hasTimeLeft,
    // The lookup of the rest does not read again what the first VoiceCall's read for nothing.
    state: newArchiveReadState(),
    sleep,
  };
  const pending: PendingPass =
    request.pendingBefore !== undefined && request.startAfter === undefined
      ? await listPendingToResend(request, ports, { sleep, hasTimeToQuery })
      : { listed: 0, held: [], wanted: new Map(), claimed: new Map<string, string>() };
  counts.pending = pending.listed;
  const queried: QueriedRows =
    pending.error === undefined
      ? await queryUnsyncedVoiceCalls(request, ports, { sleep, hasTimeToQuery, lookupPorts })
      : { rows: [], wanted: new Map(), claims: new Map(), exhausted: false };
  let error = pending.error ?? queried.error;
  const { rows, early, exhausted, wanted: rowsWanted } = queried;
  // `claimed`: the version the ledger claims, per wanted contact: an older one found is no answer.
  const { held: pendingHeld, wanted: pendingWanted, claimed } = pending;
  // A pending item whose VoiceCall was queried is the VoiceCall's, with the claim read then.
  for (const [contactId, claim] of queried.claims) {
    pendingWanted.delete(contactId);
    if (claim === undefined) claimed.delete(contactId);
    else claimed.set(contactId, claim);
  }

  // The VoiceCalls first, in query order: the cursor can only move past a resolved one.
  const wanted = new Map([...rowsWanted, ...pendingWanted]);
  const later: ArchiveLookup =
    wanted.size === 0
      ? { found: new Map(), unresolved: new Set(), objectsRead: 0 }
      : await findInArchive(wanted, {
          ...lookupPorts,
          maxObjects: Math.max(0, request.maxArchiveObjects - (early?.objectsRead ?? 0)),
          // Without an early lookup, this one's first VoiceCall (or pending item) is read whole.
          firstWhole: early === undefined,
        });
  counts.archiveObjects = (early?.objectsRead ?? 0) + later.objectsRead;
  const unresolved = new Set([...(early?.unresolved ?? []), ...later.unresolved]);
  const found = new Map([...later.found, ...(early?.found ?? [])]);
  const firstUnresolved = rows.findIndex((row) => unresolved.has(row.contactId));
  const taken = firstUnresolved < 0 ? rows : rows.slice(0, firstUnresolved);
  counts.deferred = rows.length - taken.length;
  // The early lookup had the run's whole time: a VoiceCall it could not resolve is stuck. Say which,
  // and why (a read that keeps failing, or no time left).
  const stuck = early === undefined ? undefined : [...early.unresolved][0];
  if (early !== undefined && stuck !== undefined) {
    const why =
      early.error ?? `no time left to read its archive window (${early.objectsRead} objects read)`;
    error = `VoiceCall ${stuck}: ${why}${error === undefined ? '' : `; ${error}`}`;
  }
  // A pending item's object failing is the pending item's (`stoppedOn` is set on a read error
  // only): it stays pending, the band goes on. Pending items and queried VoiceCalls are disjoint.
  const failedPending =
    later.stoppedOn !== undefined && pendingWanted.has(later.stoppedOn)
      ? later.stoppedOn
      : undefined;
  const pendingError = failedPending === undefined ? undefined : later.error;
  if (later.error !== undefined && failedPending === undefined) error ??= later.error;
  if (rows.length === 0 && !exhausted && error === undefined) {
    // Not one query: a continuation would start again from the same place.
    error = 'no time left to query a VoiceCall';
  }

  const toEnqueue = [...pendingHeld];
  for (const row of taken) {
    counts.queried++;
    if (row.skipped) counts.skipped++;
    else if (row.held) toEnqueue.push(row.held);
    else {
      const record = atLeast(found.get(row.contactId), claimed.get(row.contactId));
      if (record) toEnqueue.push(record);
      else counts.noRecord++;
    }
  }
  for (const contactId of pendingWanted.keys()) {
    if (unresolved.has(contactId)) {
      counts.pendingUnread++;
      // The one whose object kept failing goes to the back of the pending index, so that it does
      // not hold the others behind it for ever; the others keep their place.
      if (contactId === failedPending) {
        await ports.ledger.deferPending(contactId, ports.now?.() ?? Date.now());
      }
      continue;
    }
    const record = atLeast(found.get(contactId), claimed.get(contactId));
    if (record) toEnqueue.push(record);
    else {
      counts.pendingNotFound++;
      // To the back of the pending index, so that items the sweep can resolve come first.
      await ports.ledger.deferPending(contactId, ports.now?.() ?? Date.now());
    }
  }

  // A version is enqueued once, also when a pending item's VoiceCall was queried too.
  const once = [
    ...new Map(
      toEnqueue.map(({ item, version }) => [`${item.contactId} ${version}`, item]),
    ).values(),
  ];
  await ports.syncQueue.enqueue(once);
  counts.enqueued = once.length;
  const pendingReport = pendingError === undefined ? {} : { pendingError };
  if (exhausted && error === undefined && counts.deferred === 0) {
    return { counts, complete: true, ...pendingReport };
  }
  const cursor = taken.at(-1)?.contactId ?? request.startAfter;
  return {
    counts,
    complete: false,
    ...(cursor === undefined ? {} : { nextStartAfter: cursor }),
    ...(error === undefined ? {} : { error }),
    ...(stuck === undefined ? {} : { stuck }),
    ...pendingReport,
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
 * and calls {@link completeBand} when the continuation completes. The bands
 * take turns at going first, by the hour (`nowMs`): when a run has time for
 * one band only (a band that takes the whole run, or is stuck), the other
 * still runs every other hour; the bands not run for want of time are
 * returned as `notRun`.
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
): Promise<BandSweep[] & { notRun?: SweepBand[] }> {
  const { nowMs, firstLookMinutes, lookbackHours, maxWindowDays, ...sweep } = request;
  const ages: Record<SweepBand, number> = {
    'first-look': bandAgeMs('first-look', { firstLookMinutes, lookbackHours }),
    'second-look': bandAgeMs('second-look', { firstLookMinutes, lookbackHours }),
  };
  const done: BandSweep[] = [];
  const order =
    Math.floor(nowMs / HOUR_MS) % 2 === 0 ? [...SWEEP_BANDS] : [...SWEEP_BANDS].reverse();
  const notRun: SweepBand[] = [];
  for (const band of order) {
    if (done.length > 0 && !((ports.hasTimeToQuery ?? ports.hasTimeLeft)?.() ?? true)) {
      notRun.push(band);
      continue;
    }
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
  return notRun.length > 0 ? Object.assign(done, { notRun }) : done;
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
    latestTimestampMs?: number;
    toleranceMs?: number;
  },
  ports: {
    ledger: SyncLedger;
    archive: ContactRecordArchive;
    syncQueue: SyncQueue;
    hasTimeLeft?: () => boolean;
  },
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
    // One contact: its window is read whole (findInArchive), within the time left.
    const lookup = await findInArchive(new Map([[item.contactId, window]]), {
      archive: ports.archive,
      maxObjects: 0,
      latestTimestampMs: request.latestTimestampMs,
      toleranceMs: request.toleranceMs,
      hasTimeLeft: ports.hasTimeLeft,
    });
    resync = atLeast(lookup.found.get(item.contactId), item.claimed)?.item;
    if (!resync && lookup.error !== undefined) {
      // Pending first, so the sweep resends it even if every retry of this event fails too.
      await ports.ledger.markPending(item.contactId, item.claimed, request.at);
      throw new Error(lookup.error);
    }
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
 * The window is read whole before the claim is reset: when there is not the
 * time to (`hasTimeLeft`), or a read keeps failing, nothing is reset or sent.
 *
 * @throws PermanentError when no window is given and SCV has no VoiceCall for
 *   the contact (nothing to repair, or the wrong ContactId), or when the time
 *   ran out before the window was read; an Error naming the object when a
 *   read kept failing (3 attempts); whatever the ports throw otherwise.
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
    latestTimestampMs: number;
    toleranceMs: number;
  },
  ports: {
    ledger: SyncLedger;
    restApi: SalesforceRestApi;
    archive: ContactRecordArchive;
    syncQueue: SyncQueue;
    hasTimeLeft?: () => boolean;
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
  // Read the whole window before resetting anything: a version found in part of it may not be
  // the newest, and a reset claim lets the updater send an older one.
  // One contact: its window is read whole (findInArchive), within the time left.
  const lookup = await findInArchive(new Map([[contactId, window]]), {
    archive: ports.archive,
    maxObjects: 0,
    latestTimestampMs: request.latestTimestampMs,
    toleranceMs: request.toleranceMs,
    hasTimeLeft: ports.hasTimeLeft,
    sleep,
  });
  if (lookup.error !== undefined) throw new Error(lookup.error);
  if (lookup.unresolved.size > 0) {
    throw new PermanentError(
      `No time left to read the archive window of contact ${contactId} ` +
        `(${lookup.objectsRead} objects read): give a narrower from and to`,
    );
  }
  counts.archiveObjects = lookup.objectsRead;
  if (request.reset) {
    const item = await ports.ledger.resetClaim(contactId, {
      overrides: request.resetOverrides ?? false,
    });
    counts.reset = item ? 1 : 0;
  }
  const record = lookup.found.get(contactId);
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
