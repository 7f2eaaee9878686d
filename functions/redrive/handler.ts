/**
 * redrive: the repair paths of the pipeline, triggered by events on the bus.
 *
 * - `SweepRequested` (schedule or operator): re-enqueue, from the sync ledger
 *   or the archive, the records of VoiceCalls still missing hold-duration
 *   data in a time window, and of syncs the ledger has pending. A run
 *   stopped by its count or time limit publishes a `SweepRequested` that
 *   continues after its cursor, so a window is always swept to its end in
 *   bounded runs.
 * - `DlqRedriveRequested` (operator): move messages from the sync DLQ back to
 *   the sync queue, bodies unchanged.
 * - `ReplayRequested` (operator): feed the records of the archive objects of a
 *   time window through the normal sync path; a run stopped by its limits
 *   continues itself, as the sweep does.
 * - `ResyncRequested` (operator): repair one contact: optionally reset its
 *   ledger claim, then resync the newest genuine version in the archive.
 * - `START_CALL_PROCESSING` (AWS Live Call Analytics): hold the call's
 *   toNumber/fromNumber overrides (E.164 or SCV's WebRTC_Default) in the
 *   ledger for its record's syncs, and resync it now when a version is
 *   already claimed.
 *
 * Operator windows are bounded: a sweep or replay window (or a sweep's
 * lookback) longer than MAX_TRIGGER_WINDOW_DAYS is refused with the reason,
 * as is any trigger whose detail does not validate. Archived versions whose
 * LastUpdateTimestamp lies more than FUTURE_TIMESTAMP_TOLERANCE_MINUTES
 * ahead are never resent (forged versions; the updater would quarantine
 * them).
 *
 * Each run logs its counts and publishes them as `RedriveCompleted`. An event
 * that is not one of these (unknown detail-type, invalid detail) fails with a
 * PermanentError naming the problem: after Lambda's async retries it lands in
 * the function's on-failure destination, nothing is dropped silently.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { formatPath } from '../../domain/contact-record';
import { PermanentError } from '../../domain/errors';
import { TransientError } from '../../domain/errors';
import { DEFAULT_FUTURE_TIMESTAMP_TOLERANCE_MINUTES } from '../../domain/contact-record';
import {
  bandAgeMs,
  completeBand,
  holdCallOverrides,
  redriveDeadLetters,
  replayArchive,
  resyncContact,
  type SweepBand,
  type SweepResult,
  scheduledSweep,
  sweepUnsyncedVoiceCalls,
} from '../../domain/redrive';
import {
  DlqRedriveRequested,
  DlqRedriveRequestedDetailSchema,
  RedriveCompleted,
  type RedriveCompletedDetail,
  ReplayRequested,
  ReplayRequestedDetailSchema,
  ResyncRequested,
  ResyncRequestedDetailSchema,
  SweepRequested,
  type SweepRequestedDetail,
  SweepRequestedDetailSchema,
} from '../../events/redrive';
import {
  StartCallProcessing,
  StartCallProcessingDetailSchema,
} from '../../events/start-call-processing';
import {
  booleanFlag,
  nonNegativeInt,
  positiveInt,
  readConfig,
  requiredString,
} from '../shared/config';
import { createEventPublisher, publishError } from '../shared/event-publisher';
import { redactDeep } from '../shared/log-redaction';
import { createObservability, InvocationCounters } from '../shared/observability';
import { RequestCounts } from '../shared/request-metrics';
import { createDynamoDbLedger } from '../shared/dynamodb-ledger';
import { createRunReportStore, LAST_SWEEP } from '../shared/run-reports';
import { createS3ArchiveReader, createS3ReferenceStore } from '../shared/s3-archive';
import { createSalesforceRestApi } from '../shared/scv-functions';
import { createSqsDeadLetterQueue, createSqsSyncQueue } from '../shared/sqs-queues';

const config = readConfig(
  z.object({
    EVENT_BUS_NAME: requiredString,
    ARCHIVE_BUCKET_NAME: requiredString,
    LEDGER_TABLE_NAME: requiredString,
    LEDGER_TTL_DAYS: positiveInt(730),
    SYNC_QUEUE_URL: requiredString,
    SYNC_DLQ_URL: requiredString,
    INVOKE_SALESFORCE_REST_API_ARN: requiredString,
    SWEEP_LOOKBACK_HOURS: positiveInt(24),
    /** Minutes after its CreatedDate the scheduled sweep first looks at a VoiceCall. */
    SWEEP_FIRST_LOOK_MINUTES: positiveInt(60),
    SWEEP_MAX_RECORDS: positiveInt(500),
    DLQ_REDRIVE_MAX_MESSAGES: positiveInt(1000),
    /** A sync pending (unacknowledged after a failure) for longer than this is resent by the sweep (minutes). */
    PENDING_RESEND_AFTER_MINUTES: nonNegativeInt(15),
    /** Hours of archive objects read for one contact, from its record's LastUpdateTimestamp or its VoiceCall's CreatedDate. */
    ARCHIVE_LOOKUP_HOURS: positiveInt(6),
    /** Archive objects one run reads at most. */
    MAX_ARCHIVE_OBJECTS: positiveInt(2000),
    /** Days a sweep or replay window (or a sweep's lookback) may span at most. */
    MAX_TRIGGER_WINDOW_DAYS: positiveInt(7),
    /** Minutes a LastUpdateTimestamp may lie ahead of now; later archived versions are not resent. */
    FUTURE_TIMESTAMP_TOLERANCE_MINUTES: nonNegativeInt(DEFAULT_FUTURE_TIMESTAMP_TOLERANCE_MINUTES),
    S3_FORCE_PATH_STYLE: booleanFlag(false),
  }),
);
const DAY_MS = 86_400_000;
const futureToleranceMs = config.FUTURE_TIMESTAMP_TOLERANCE_MINUTES * 60_000;
/** The latest LastUpdateTimestamp (ms since the epoch) a genuine archived version can have now. */
const latestTimestampMs = () => Date.now() + futureToleranceMs;

/**
 * Refuse an operator window longer than MAX_TRIGGER_WINDOW_DAYS: one trigger
 * must not start an unbounded run over the archive or Salesforce.
 * @throws PermanentError naming the window's length, the limit and the fix.
 */
export function assertWindowWithinLimit(kind: string, from: string, to: string): void {
  const days = (Date.parse(to) - Date.parse(from)) / DAY_MS;
  if (days > config.MAX_TRIGGER_WINDOW_DAYS) {
    throw new PermanentError(
      `${kind} window of ${days.toFixed(1)} days is longer than maxTriggerWindowDays ` +
        `(${config.MAX_TRIGGER_WINDOW_DAYS}): split it into windows of at most that many days`,
    );
  }
}
const { logger, metrics } = createObservability('redrive');
const counters = new InvocationCounters();
const requests = new RequestCounts();
const sqs = requests.instrument(new SQSClient({}));
/**
 * An S3 request whose socket stays idle 5 s is cut (the SDK sets no timeout of its own), and the
 * SDK tries each request twice: one archive read attempt takes at most about 10 s of idleness,
 * less than the run's 15 s reserve, and the sweep retries it only while there is time
 * (domain/archive-lookup.ts, withRetries of domain/retries.ts).
 */
const s3 = requests.instrument(
  new S3Client({
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    maxAttempts: 2,
    // socketTimeout is the idle-socket timeout (@smithy/node-http-handler); requestTimeout is not.
    requestHandler: { socketTimeout: 5_000, connectionTimeout: 3_000 },
  }),
);
const archive = createS3ArchiveReader({ client: s3, bucket: config.ARCHIVE_BUCKET_NAME });
const dynamoDb = requests.instrument(new DynamoDBClient({}));
const ledger = createDynamoDbLedger({
  client: dynamoDb,
  tableName: config.LEDGER_TABLE_NAME,
  ttlDays: config.LEDGER_TTL_DAYS,
});
/** Each run's report, under its trigger's event id, for `ctr-sync ... --wait` and `ctr-sync status`. */
const runReports = createRunReportStore({ client: dynamoDb, tableName: config.LEDGER_TABLE_NAME });
const syncQueue = createSqsSyncQueue({
  client: sqs,
  queueUrl: config.SYNC_QUEUE_URL,
  references: createS3ReferenceStore({ client: s3, bucket: config.ARCHIVE_BUCKET_NAME }),
});
const deadLetters = createSqsDeadLetterQueue({ client: sqs, queueUrl: config.SYNC_DLQ_URL });
const restApi = createSalesforceRestApi({
  client: requests.instrument(new LambdaClient({})),
  functionName: config.INVOKE_SALESFORCE_REST_API_ARN,
});
const reports = createEventPublisher({
  client: requests.instrument(new EventBridgeClient({})),
  eventBusName: config.EVENT_BUS_NAME,
});

/** Publish events and throw a TransientError unless every one was accepted. */
async function publishEvents(
  entries: { Source: string; DetailType: string; Detail: string }[],
): Promise<void> {
  const outcomes = await reports.publishAll(entries);
  const failed = outcomes.find((outcome) => !outcome.ok);
  if (failed && !failed.ok) throw publishError(failed);
}

/** Time kept in reserve to enqueue, report and return before the function times out (ms). */
const RESERVE_MS = 15_000;
/**
 * Time a sweep stops querying VoiceCalls before the reserve, for the archive
 * lookup of those it queried (ms): at about 100 ms an object, 1,200 objects,
 * well above one VoiceCall's window at the default archiveLookupHours.
 */
const LOOKUP_RESERVE_MS = 120_000;

/**
 * The EventBridge event envelope, as Powertools' parser defines it
 * (`@aws-lambda-powertools/parser/schemas/eventbridge`), here because that
 * module imports zod as `{ z }`, which keeps all of zod in the bundle.
 * Source: Amazon EventBridge User Guide, "Amazon EventBridge events".
 */
const EventBridgeSchema = z.object({
  version: z.string(),
  id: z.string(),
  source: z.string(),
  account: z.string(),
  time: z.iso.datetime(),
  region: z.string(),
  resources: z.array(z.string()),
  'detail-type': z.string(),
  detail: z.unknown(),
  'replay-name': z.string().optional(),
});

const RedriveEventSchema = z.discriminatedUnion('detail-type', [
  EventBridgeSchema.extend({
    source: z.literal(SweepRequested.source),
    'detail-type': z.literal(SweepRequested.detailType),
    detail: SweepRequestedDetailSchema,
  }),
  EventBridgeSchema.extend({
    source: z.literal(DlqRedriveRequested.source),
    'detail-type': z.literal(DlqRedriveRequested.detailType),
    detail: DlqRedriveRequestedDetailSchema,
  }),
  EventBridgeSchema.extend({
    source: z.literal(ReplayRequested.source),
    'detail-type': z.literal(ReplayRequested.detailType),
    detail: ReplayRequestedDetailSchema,
  }),
  EventBridgeSchema.extend({
    source: z.literal(ResyncRequested.source),
    'detail-type': z.literal(ResyncRequested.detailType),
    detail: ResyncRequestedDetailSchema,
  }),
  EventBridgeSchema.extend({
    source: z.literal(StartCallProcessing.source),
    'detail-type': z.literal(StartCallProcessing.detailType),
    detail: StartCallProcessingDetailSchema,
  }),
]);

/**
 * Keep the run's report under its trigger's event id (and a sweep's as the
 * last sweep's). Best effort: the report is logged and published already, and
 * failing the run for it would only run it again.
 */
async function storeReport(
  triggerId: string,
  report: RedriveCompletedDetail,
  invocationId: string,
): Promise<void> {
  try {
    await runReports.put(triggerId, report, invocationId);
    if (report.operation === 'sweep') await runReports.put(LAST_SWEEP, report, invocationId);
  } catch (error) {
    logger.warn('Run report not stored', { triggerId, error: (error as Error).message });
  }
}

/** A PutEvents entry on the bus (the bus name is the publisher's). */
type PutEventsEntry = { Source: string; DetailType: string; Detail: string };

/** A `SweepRequested` continuation of `window` after `startAfter`, for `band` when one. */
function sweepContinuation(
  window: { from: string; to: string },
  startAfter: string,
  maxRecords: number,
  band?: SweepBand,
): PutEventsEntry {
  return {
    Source: SweepRequested.source,
    DetailType: SweepRequested.detailType,
    Detail: JSON.stringify({ ...window, startAfter, maxRecords, ...(band ? { band } : {}) }),
  };
}

/**
 * One `SweepRequested`: the scheduled sweep's bands when the detail names no
 * window (the schedule's `{}`), else the window it names (a continuation
 * moves its band's cursor when it completes). A run stopped by its limits
 * continues in a new run (returned, published after the report); a run that
 * made no progress fails instead, so Lambda retries it and then keeps it in
 * the redrive DLQ.
 */
async function runSweep(
  detail: SweepRequestedDetail,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<{ report: RedriveCompletedDetail; continuations: PutEventsEntry[] }> {
  const hasTimeLeft = () => context.getRemainingTimeInMillis() > RESERVE_MS;
  const hasTimeToQuery = () => context.getRemainingTimeInMillis() > RESERVE_MS + LOOKUP_RESERVE_MS;
  const maxRecords = detail.maxRecords ?? config.SWEEP_MAX_RECORDS;
  const common = {
    maxRecords,
    pendingBefore: Date.now() - config.PENDING_RESEND_AFTER_MINUTES * 60_000,
    archiveLookupHours: config.ARCHIVE_LOOKUP_HOURS,
    maxArchiveObjects: config.MAX_ARCHIVE_OBJECTS,
    latestTimestampMs: latestTimestampMs(),
    toleranceMs: futureToleranceMs,
  };
  const ports = { restApi, ledger, archive, syncQueue, hasTimeLeft, hasTimeToQuery };
  const scheduled =
    detail.from === undefined &&
    detail.to === undefined &&
    detail.lookbackHours === undefined &&
    detail.startAfter === undefined;
  let runs: { band?: SweepBand; window: { from: string; to: string }; result: SweepResult }[];
  let notRun: SweepBand[] = [];
  if (scheduled) {
    const swept = await scheduledSweep(
      {
        ...common,
        nowMs: Date.now(),
        firstLookMinutes: config.SWEEP_FIRST_LOOK_MINUTES,
        lookbackHours: config.SWEEP_LOOKBACK_HOURS,
        maxWindowDays: config.MAX_TRIGGER_WINDOW_DAYS,
      },
      ports,
    );
    runs = swept;
    notRun = swept.notRun ?? [];
    for (const band of notRun) logger.warn('Sweep band not run: no time left', { band });
  } else {
    const to = detail.to ?? new Date().toISOString();
    const from =
      detail.from ??
      new Date(
        Date.parse(to) - (detail.lookbackHours ?? config.SWEEP_LOOKBACK_HOURS) * 3_600_000,
      ).toISOString();
    assertWindowWithinLimit('Sweep', from, to);
    if (detail.band) {
      // A band's window ends where its VoiceCalls were old enough when the schedule ran: never later.
      const latest =
        Date.now() -
        bandAgeMs(detail.band, {
          firstLookMinutes: config.SWEEP_FIRST_LOOK_MINUTES,
          lookbackHours: config.SWEEP_LOOKBACK_HOURS,
        });
      if (Date.parse(to) > latest) {
        throw new PermanentError(
          `Sweep of band ${detail.band} ends at ${to}, after its VoiceCalls' age allows ` +
            `(${new Date(latest).toISOString()}): a band's window comes from the schedule`,
        );
      }
    }
    const result = await sweepUnsyncedVoiceCalls(
      { ...common, from, to, startAfter: detail.startAfter },
      ports,
    );
    if (detail.band && result.complete) await completeBand(detail.band, { from, to }, ledger);
    runs = [{ band: detail.band, window: { from, to }, result }];
  }
  const counts: Record<string, number> = {};
  for (const { result } of runs) {
    for (const [name, value] of Object.entries(result.counts)) {
      counts[name] = (counts[name] ?? 0) + value;
    }
  }
  // A band (or window) stuck on a VoiceCall does not move, whatever the other band or the pending
  // pass did, and whether or not this run fails: its own metric and alarm, counted first.
  for (const { band, result } of runs) {
    if (result.stuck !== undefined) {
      counters.add('SweepStuck');
      logger.error('Sweep stuck', { band, contactId: result.stuck, error: result.error });
    }
    if (result.pendingError !== undefined) {
      logger.warn('Pending sync not read', { band, error: result.pendingError });
    }
  }
  const failed = runs.find(({ result }) => result.error !== undefined);
  // No progress: no VoiceCall taken and nothing enqueued (a rerun would enqueue the same again).
  if (
    failed &&
    runs.every(({ result }) => result.counts.queried === 0 && result.counts.enqueued === 0)
  ) {
    throw new TransientError(`Sweep made no progress: ${failed.result.error}`);
  }
  if (failed) {
    counters.add('Failed');
    logger.warn('Sweep stopped early by an error', { error: failed.result.error });
  }
  const continuations = runs.flatMap(({ band, window, result }) =>
    !result.complete && result.nextStartAfter
      ? [sweepContinuation(window, result.nextStartAfter, maxRecords, band)]
      : [],
  );
  const [only] = runs;
  const report: RedriveCompletedDetail = {
    schemaVersion: '1',
    operation: 'sweep',
    counts: Object.keys(counts).length > 0 ? counts : { queried: 0, enqueued: 0 },
    complete: runs.every(({ result }) => result.complete),
    ...(runs.length === 1 && only?.result.nextStartAfter
      ? { nextStartAfter: only.result.nextStartAfter }
      : {}),
    ...(failed ? { error: failed.result.error } : {}),
    ...(scheduled ? { bands: runs.map(({ band, window }) => ({ band, ...window })) } : {}),
    ...(notRun.length > 0 ? { bandsNotRun: notRun } : {}),
  };
  return { report, continuations };
}

/** Parse the trigger. @throws PermanentError naming what is wrong with it. */
export function parseRedriveEvent(event: unknown): z.infer<typeof RedriveEventSchema> {
  const result = RedriveEventSchema.safeParse(event);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${formatPath(issue.path)}: ${issue.message}`,
  );
  throw new PermanentError(`Unsupported redrive trigger: ${problems.join('; ')}`);
}

/**
 * Run one redrive operation and report it.
 *
 * @returns the `RedriveCompleted` detail that was published.
 * @throws PermanentError for an invalid trigger; any port error otherwise.
 */
export async function handler(
  event: unknown,
  context: Pick<Context, 'getRemainingTimeInMillis' | 'awsRequestId'>,
) {
  const hasTimeLeft = () => context.getRemainingTimeInMillis() > RESERVE_MS;
  let triggerId: string | undefined;
  let operator = false;
  try {
    const trigger = parseRedriveEvent(event);
    triggerId = trigger.id;
    // Reports are kept for the ctr-sync triggers (source ctr-sync), not for each START_CALL_PROCESSING.
    operator = trigger.source === SweepRequested.source;
    let report: RedriveCompletedDetail;
    const continuations: PutEventsEntry[] = [];
    switch (trigger['detail-type']) {
      case 'SweepRequested': {
        const sweep = await runSweep(trigger.detail, context);
        report = sweep.report;
        continuations.push(...sweep.continuations);
        break;
      }
      case 'DlqRedriveRequested': {
        const maxMessages = trigger.detail.maxMessages ?? config.DLQ_REDRIVE_MAX_MESSAGES;
        const result = await redriveDeadLetters(
          { maxMessages, runId: context.awsRequestId },
          { deadLetters, syncQueue, hasTimeLeft },
        );
        report = { schemaVersion: '1', operation: 'dlq-redrive', counts: result.counts };
        break;
      }
      case 'ReplayRequested': {
        const { detail } = trigger;
        assertWindowWithinLimit('Replay', detail.from, detail.to);
        const maxObjects = detail.maxObjects ?? config.MAX_ARCHIVE_OBJECTS;
        const reader = createS3ArchiveReader({
          client: s3,
          bucket: config.ARCHIVE_BUCKET_NAME,
          prefix: detail.prefix ?? 'archive/',
        });
        const result = await replayArchive(
          {
            ...detail,
            maxObjects,
            latestTimestampMs: latestTimestampMs(),
            toleranceMs: futureToleranceMs,
          },
          { archive: reader, syncQueue, hasTimeLeft },
        );
        report = { schemaVersion: '1', operation: 'replay', ...result };
        if (!result.complete && result.counts.objects === 0) {
          throw new TransientError('Replay made no progress: no time left to read an object');
        }
        if (!result.complete && result.nextStartAfter) {
          continuations.push({
            Source: ReplayRequested.source,
            DetailType: ReplayRequested.detailType,
            Detail: JSON.stringify({ ...detail, maxObjects, startAfter: result.nextStartAfter }),
          });
        }
        break;
      }
      case 'ResyncRequested': {
        const { contactId, reset = false, resetOverrides, from, to } = trigger.detail;
        if (from !== undefined && to !== undefined) assertWindowWithinLimit('Resync', from, to);
        const result = await resyncContact(
          {
            contactId,
            reset,
            resetOverrides,
            from,
            to,
            nowMs: Date.now(),
            maxWindowDays: config.MAX_TRIGGER_WINDOW_DAYS,
            latestTimestampMs: latestTimestampMs(),
            toleranceMs: futureToleranceMs,
          },
          { ledger, restApi, archive, syncQueue, hasTimeLeft },
        );
        logger.info('Contact resync', {
          contactId,
          window: result.window,
          lastUpdateTimestamp: result.lastUpdateTimestamp,
        });
        report = { schemaVersion: '1', operation: 'resync', counts: result.counts };
        break;
      }
      case 'START_CALL_PROCESSING': {
        const { callId, toNumber, fromNumber } = trigger.detail;
        const result = await holdCallOverrides(
          {
            contactId: callId,
            fieldOverrides: { toNumber, fromNumber },
            at: Date.now(),
            archiveLookupHours: config.ARCHIVE_LOOKUP_HOURS,
            latestTimestampMs: latestTimestampMs(),
            toleranceMs: futureToleranceMs,
          },
          { ledger, archive, syncQueue, hasTimeLeft },
        );
        report = { schemaVersion: '1', operation: 'start-call-processing', counts: result.counts };
        break;
      }
    }
    const redriven = report.counts.enqueued ?? report.counts.moved ?? 0;
    counters.addWithDimension('Redriven', 'Operation', report.operation, redriven);
    logger.info('Redrive completed', { ...report });
    await publishEvents([
      {
        Source: RedriveCompleted.source,
        DetailType: RedriveCompleted.detailType,
        Detail: JSON.stringify(report),
      },
    ]);
    if (operator) await storeReport(trigger.id, report, context.awsRequestId);
    // Last, so a failure before it (and Lambda's retry of this run) cannot start a second chain.
    if (continuations.length > 0) await publishEvents(continuations);
    return report;
  } catch (error) {
    counters.add('Failed');
    logger.error('Redrive failed', { error: (error as Error).message });
    // An operator waiting on this run (ctr-sync --wait) learns why it failed, not only that no
    // report came; Lambda may still retry it, and a retry that succeeds replaces this report. A
    // report of another invocation of the same trigger that completed is kept.
    if (operator && triggerId !== undefined) {
      await runReports
        .putFailure(
          triggerId,
          { failed: true, error: (redactDeep(error) as Error).message },
          context.awsRequestId,
        )
        .then((stored) => {
          if (!stored)
            logger.info('Failure report not stored: a completed run of the trigger reported', {
              triggerId,
            });
        })
        .catch((reportError: unknown) =>
          logger.warn('Failure report not stored', {
            triggerId,
            error: (reportError as Error).message,
          }),
        );
    }
    // Lambda logs what a handler throws and puts it in the on-failure record: redact it too.
    throw redactDeep(error);
  } finally {
    requests.addTo(metrics);
    counters.flush(metrics);
  }
}
