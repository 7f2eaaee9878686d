/**
 * Use cases of the redrive function: the sweep of VoiceCalls still missing
 * hold-duration data, the dead-letter queue redrive, and the resync of one
 * call on START_CALL_PROCESSING.
 *
 * The sweep follows the Salesforce recipe "Retry CTR Sync for Voice Call
 * Records" (VoiceCalls with `CustomerHoldDuration = null`, looked up in the
 * archive by VendorCallKey), without its defects: SCV's `queryRecord` returns
 * only the first row, so the sweep pages with a keyset on VendorCallKey, one
 * row per query, bounded per run, and resumable with `startAfter`.
 */
import { PermanentError } from './errors';
import type {
  ContactRecordArchive,
  DeadLetterQueue,
  FieldOverrides,
  SalesforceRestApi,
  SyncQueue,
  SyncQueueItem,
} from './ports';

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
  counts: { queried: number; enqueued: number; noArchive: number };
  /** True when the window has no unsynced VoiceCall after the cursor; false when the run stopped early. */
  complete: boolean;
  /** Set when the run stopped early after at least one row; pass it as `startAfter` next time. */
  nextStartAfter?: string;
  /** Why the run stopped early when it was not its count or time limit: the error that stopped it. */
  error?: string;
}

/** Attempts of one query or archive read in a sweep, the first included. */
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
 * in the window whose CustomerHoldDuration is null.
 */
export function buildUnsyncedVoiceCallQuery(window: SweepWindow): string {
  // A VoiceCall without a VendorCallKey has no archive to sync from, and would sort first for ever.
  const conditions = [
    'CustomerHoldDuration = null',
    'VendorCallKey != null',
    `CreatedDate >= ${soqlDateTime(window.from)}`,
    `CreatedDate < ${soqlDateTime(window.to)}`,
  ];
  if (window.startAfter !== undefined)
    conditions.push(`VendorCallKey > ${soqlString(window.startAfter)}`);
  return `SELECT Id, VendorCallKey FROM VoiceCall WHERE ${conditions.join(' AND ')} ORDER BY VendorCallKey ASC LIMIT 1`;
}

/**
 * Sweep: re-enqueue archived contact records of VoiceCalls that were never synced.
 *
 * Primary course:
 * 1. Query the next unsynced VoiceCall after the cursor (one row per query).
 * 2. Load its contact record from the archive by VendorCallKey (= ContactId);
 *    count it as `noArchive` when there is none (it is not retried forever:
 *    the cursor moves past it).
 * 3. Enqueue what was found for the updater, 10 at a time.
 * 4. Stop when the query finds nothing, after `maxRecords` rows, or when
 *    `hasTimeLeft()` says so; report the cursor to resume from.
 *
 * A query or archive read that fails (other than with a PermanentError) is
 * retried (3 attempts in all); if it keeps failing, the run stops there and
 * reports the error with the cursor to resume from, after enqueueing what it
 * found.
 *
 * @throws whatever the ports throw otherwise, and when enqueueing fails.
 */
export async function sweepUnsyncedVoiceCalls(
  request: SweepWindow & { maxRecords: number },
  ports: {
    restApi: SalesforceRestApi;
    archive: ContactRecordArchive;
    syncQueue: SyncQueue;
    hasTimeLeft?: () => boolean;
    /** Injected for tests. */
    sleep?: (ms: number) => Promise<void>;
  },
): Promise<SweepResult> {
  const sleep = ports.sleep ?? realSleep;
  const counts = { queried: 0, enqueued: 0, noArchive: 0 };
  let cursor = request.startAfter;
  let pending: SyncQueueItem[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    await ports.syncQueue.enqueue(pending);
    counts.enqueued += pending.length;
    pending = [];
  };

  let exhausted = false;
  let error: string | undefined;
  while (counts.queried < request.maxRecords && (ports.hasTimeLeft?.() ?? true)) {
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
      const archived = await withRetries(() => ports.archive.get(row.VendorCallKey), sleep);
      counts.queried++;
      cursor = row.VendorCallKey;
      if (archived) pending.push(archived);
      else counts.noArchive++;
    } catch (stepError) {
      if (stepError instanceof PermanentError) throw stepError;
      error = (stepError as Error).message;
      break;
    }
    if (pending.length === 10) await flush();
  }
  await flush();
  if (exhausted) return { counts, complete: true };
  return {
    counts,
    complete: false,
    ...(cursor === undefined ? {} : { nextStartAfter: cursor }),
    ...(error === undefined ? {} : { error }),
  };
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

/**
 * Resync one call now (START_CALL_PROCESSING): enqueue its archived contact
 * record with the given phone-number overrides. A call with no archived
 * record is counted, not retried.
 */
export async function resyncCall(
  request: { contactId: string; fieldOverrides: FieldOverrides },
  ports: { archive: ContactRecordArchive; syncQueue: SyncQueue },
): Promise<{ counts: { enqueued: number; noArchive: number } }> {
  const archived = await ports.archive.get(request.contactId);
  if (!archived) return { counts: { enqueued: 0, noArchive: 1 } };
  await ports.syncQueue.enqueue([{ ...archived, fieldOverrides: request.fieldOverrides }]);
  return { counts: { enqueued: 1, noArchive: 0 } };
}
