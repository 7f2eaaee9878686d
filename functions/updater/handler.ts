/**
 * updater: drains the sync queue into SCV VoiceCalls.
 *
 * Each SQS message body is a `CtrReceived` detail (the sync rule's target
 * uses `InputPath: $.detail`; the redrive function sends the same shape) or a
 * whole `CtrReceived` event (dead-lettered by the sync rule, then redriven).
 * Messages of one ContactId in a batch are synced once, from the newest
 * version (see {@link planBatch}). Per message (see
 * domain/sync-voice-call.ts): read a record sent by reference
 * (`contactRecordRef`) from its S3 object; claim its version in the sync
 * ledger (a DynamoDB conditional write: newest version wins); skip a
 * superseded or duplicate version, or a record skipped on purpose (its reason
 * stays in the ledger); transform to `updateVoiceCall` fieldValues with any
 * held START_CALL_PROCESSING overrides, invoke SCV's telephony integration
 * function synchronously, and mark the version sent (a conditional write
 * that also tells when a newer version was claimed meanwhile).
 * A failed invoke (FunctionError, non-2xx, `success: false`, throttling)
 * fails that message only; SQS makes it visible again and, after
 * maxReceiveCount receives, moves it to the sync DLQ (redrive policy). A body
 * that does not parse fails the same way.
 *
 * Source: AWS Lambda Developer Guide, "Using Lambda with Amazon SQS",
 * partial batch responses (ReportBatchItemFailures).
 */

import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import {
  DEFAULT_FUTURE_TIMESTAMP_TOLERANCE_MINUTES,
  formatPath,
  futureTimestampError,
  parseContactRecordText,
} from '../../domain/contact-record';
import {
  type InvalidContactRecordError,
  PermanentError,
  TransientError,
} from '../../domain/errors';
import type { HeldRecord } from '../../domain/ports';
import { syncVoiceCall } from '../../domain/sync-voice-call';
import { contentDigest, keepNewestDeliveries } from '../../domain/versions';
import {
  CtrReceived,
  type CtrReceivedDetail,
  CtrReceivedDetailSchema,
} from '../../events/ctr-received';
import {
  booleanFlag,
  nonNegativeInt,
  positiveInt,
  readConfig,
  requiredString,
} from '../shared/config';
import { createDynamoDbLedger } from '../shared/dynamodb-ledger';
import { createObservability, InvocationCounters } from '../shared/observability';
import { RequestCounts } from '../shared/request-metrics';
import { createS3Quarantine, createS3ReferenceStore, S3Client } from '../shared/s3-references';
import { createTelephonyIntegration } from '../shared/scv-functions';
import { REDRIVE_RUN_ATTRIBUTE, RESYNC_ATTRIBUTE } from '../shared/sync-message-attributes';

const config = readConfig(
  z.object({
    ARCHIVE_BUCKET_NAME: requiredString,
    LEDGER_TABLE_NAME: requiredString,
    LEDGER_TTL_DAYS: positiveInt(730),
    INVOKE_TELEPHONY_INTEGRATION_API_ARN: requiredString,
    S3_FORCE_PATH_STYLE: booleanFlag(false),
    /** Minutes a LastUpdateTimestamp may lie ahead of the processing time (`future-timestamp`). */
    FUTURE_TIMESTAMP_TOLERANCE_MINUTES: nonNegativeInt(DEFAULT_FUTURE_TIMESTAMP_TOLERANCE_MINUTES),
  }),
);
const futureToleranceMs = config.FUTURE_TIMESTAMP_TOLERANCE_MINUTES * 60_000;
const { logger, metrics } = createObservability('updater');
const counters = new InvocationCounters();
const requests = new RequestCounts();
/**
 * Records sent by reference. The S3 client is built at init although only
 * records too large for an event (or holding U+FFFE / U+FFFF) use it: loaded
 * on first use, it made the bundle 33 KB larger (esbuild cannot tree-shake a
 * dynamically imported module as well) and the init no faster (README,
 * Performance, figure 5).
 */
const s3Client = requests.instrument(new S3Client({ forcePathStyle: config.S3_FORCE_PATH_STYLE }));
const references = createS3ReferenceStore({ client: s3Client, bucket: config.ARCHIVE_BUCKET_NAME });
/** Messages whose record is refused for good (`future-timestamp`), kept with the reason. */
const quarantine = createS3Quarantine({ client: s3Client, bucket: config.ARCHIVE_BUCKET_NAME });

/**
 * The JSON text of a held record: inline, or read from the object its
 * reference names (only in the archive bucket).
 * @throws PermanentError for a reference to another bucket; TransientError when the object is missing.
 */
async function heldText(held: HeldRecord): Promise<string> {
  if ('json' in held) return held.json;
  if (held.ref.bucket !== config.ARCHIVE_BUCKET_NAME) {
    throw new PermanentError('contactRecordRef names a bucket other than the archive bucket');
  }
  const text = await references.get(held.ref);
  if (text === undefined) {
    throw new TransientError(`Referenced contact record ${held.ref.key} does not exist (yet)`);
  }
  return text;
}

const ports = {
  ledger: createDynamoDbLedger({
    client: requests.instrument(new DynamoDBClient({})),
    tableName: config.LEDGER_TABLE_NAME,
    ttlDays: config.LEDGER_TTL_DAYS,
  }),
  telephony: createTelephonyIntegration({
    client: requests.instrument(new LambdaClient({})),
    functionName: config.INVOKE_TELEPHONY_INTEGRATION_API_ARN,
  }),
  readHeld: async (held: HeldRecord) => parseContactRecordText(await heldText(held)).contactRecord,
};
const processor = new BatchProcessor(EventType.SQS);

/**
 * The message body as a `CtrReceived` detail: the detail itself (what the sync
 * rule and the redrive send) or a whole `CtrReceived` event (what EventBridge
 * dead-letters); with `contactRecordJson`, the record's JSON text with every
 * field it arrived with (what the archive keeps), when the detail has the record.
 * @throws PermanentError naming the invalid fields by path (never their values).
 */
export function parseSyncMessage(body: string): {
  detail: CtrReceivedDetail;
  contactRecordJson: string | undefined;
} {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new PermanentError('Sync message body is not JSON');
  }
  // A message the sync rule's target could not deliver reaches the sync DLQ as the whole event,
  // not its detail; after a DLQ redrive it arrives here in that form.
  const envelope = value as { 'detail-type'?: unknown; detail?: unknown } | null;
  if (envelope?.['detail-type'] === CtrReceived.detailType && typeof envelope.detail === 'object') {
    value = envelope.detail;
  }
  const result = CtrReceivedDetailSchema.safeParse(value);
  if (result.success) {
    const raw = (value as { contactRecord?: unknown }).contactRecord;
    return {
      detail: result.data,
      contactRecordJson: raw === undefined ? undefined : JSON.stringify(raw),
    };
  }
  const paths = result.error.issues.map((issue) => formatPath(issue.path));
  throw new PermanentError(`Sync message is not a CtrReceived detail: invalid ${paths.join(', ')}`);
}

/** What one message of a batch is to the updater; see {@link planBatch}. */
export type MessagePlan =
  | {
      kind: 'sync';
      detail: CtrReceivedDetail;
      contactRecordJson: string | undefined;
      redelivered: boolean;
      resync: boolean;
    }
  | { kind: 'in-batch'; outcome: 'superseded' | 'duplicate'; contactId: string }
  | { kind: 'invalid'; error: PermanentError }
  | { kind: 'quarantine'; contactId: string; error: InvalidContactRecordError };

/**
 * Parse every message of a batch and keep one sync per ContactId among the
 * messages that carry their record inline: the first message of the newest
 * version (LastUpdateTimestamp, then the content digest). The others
 * are `in-batch`, superseded or duplicate, and are done without a request:
 * if the kept message fails, it is retried itself. The kept message is
 * treated as a redelivery or a resync when any message it stands for is one
 * (a cut-off earlier attempt may have left an older update landing late).
 * A message whose LastUpdateTimestamp (the detail's, or its record's) is
 * more than `toleranceMs` after `nowMs` is `quarantine`d before that choice,
 * so a forged future version neither stands for genuine ones nor is claimed.
 *
 * @param nowMs - the batch's processing time, milliseconds since the Unix epoch.
 * @param toleranceMs - how far ahead of it a LastUpdateTimestamp may be, in ms.
 */
export function planBatch(
  records: readonly SQSRecord[],
  nowMs = Date.now(),
  toleranceMs = futureToleranceMs,
): Map<SQSRecord, MessagePlan> {
  const plans = new Map<SQSRecord, MessagePlan>();
  for (const record of records) {
    let parsed: ReturnType<typeof parseSyncMessage>;
    try {
      parsed = parseSyncMessage(record.body);
    } catch (error) {
      plans.set(record, { kind: 'invalid', error: error as PermanentError });
      continue;
    }
    const { contactId, lastUpdateTimestamp, contactRecord } = parsed.detail;
    const future =
      futureTimestampError(contactId, lastUpdateTimestamp, nowMs, toleranceMs) ??
      (contactRecord &&
        futureTimestampError(contactId, contactRecord.LastUpdateTimestamp, nowMs, toleranceMs));
    if (future) {
      plans.set(record, { kind: 'quarantine', contactId, error: future });
      continue;
    }
    const attributes = record.messageAttributes ?? {};
    plans.set(record, {
      kind: 'sync',
      ...parsed,
      // Received before, or moved back from the DLQ by a redrive run: an earlier attempt may
      // have archived this version and failed before sending it.
      redelivered:
        Number(record.attributes.ApproximateReceiveCount) > 1 ||
        attributes[REDRIVE_RUN_ATTRIBUTE] !== undefined,
      resync: attributes[RESYNC_ATTRIBUTE]?.stringValue === 'true',
    });
  }
  const dropped = keepNewestDeliveries(records, (record) => {
    const plan = plans.get(record);
    if (plan?.kind !== 'sync') return undefined;
    const { contactId, contactRecord } = plan.detail;
    const json = plan.contactRecordJson;
    // The record's own LastUpdateTimestamp, which its schema checked (ISO-8601 UTC), and its
    // digest when two versions share it, as the sync orders them.
    return contactRecord && json !== undefined
      ? {
          contactId,
          lastUpdateTimestamp: contactRecord.LastUpdateTimestamp,
          digest: () => contentDigest(json),
        }
      : undefined;
  });
  for (const [record, { outcome, keptBy }] of dropped) {
    const drop = plans.get(record) as MessagePlan & { kind: 'sync' };
    const keep = plans.get(keptBy) as MessagePlan & { kind: 'sync' };
    keep.redelivered ||= drop.redelivered;
    keep.resync ||= drop.resync;
    plans.set(record, { kind: 'in-batch', outcome, contactId: drop.detail.contactId });
  }
  return plans;
}

/**
 * Handle one message as planned. Resolves when the VoiceCall was updated or
 * the version was superseded, a duplicate or skipped; throws (a batch item
 * failure) otherwise.
 */
async function handleMessage(record: SQSRecord, plan: MessagePlan): Promise<void> {
  const receiveCount = record.attributes.ApproximateReceiveCount;
  if (plan.kind === 'invalid') {
    // It fails like any other message: SQS retries it, then moves it to the sync DLQ with its body intact.
    counters.add('Failed');
    logger.warn('Sync message rejected', {
      messageId: record.messageId,
      error: plan.error.message,
      receiveCount,
    });
    throw plan.error;
  }
  if (plan.kind === 'quarantine') return quarantineMessage(record, plan.contactId, plan.error);
  if (plan.kind === 'in-batch') {
    counters.add(plan.outcome === 'superseded' ? 'Superseded' : 'Duplicate');
    return;
  }
  const { detail, contactRecordJson, redelivered, resync } = plan;
  const { contactId, lastUpdateTimestamp, contactRecord, contactRecordRef } = detail;
  const receivedAt = Number(record.attributes.SentTimestamp) || Date.now();
  const claimToken = record.messageId;
  try {
    let request: Parameters<typeof syncVoiceCall>[0];
    if (contactRecord && contactRecordJson !== undefined) {
      const held = { json: contactRecordJson };
      request = {
        contactRecord,
        json: contactRecordJson,
        held,
        receivedAt,
        claimToken,
        redelivered,
        resync,
      };
    } else {
      const ref = contactRecordRef as NonNullable<typeof contactRecordRef>;
      const parsed = parseContactRecordText(await heldText({ ref }));
      if (parsed.contactRecord.ContactId !== contactId) {
        throw new PermanentError(
          `contactRecordRef of ContactId ${contactId} holds another contact`,
        );
      }
      const { LastUpdateTimestamp } = parsed.contactRecord;
      const future = futureTimestampError(
        contactId,
        LastUpdateTimestamp,
        Date.now(),
        futureToleranceMs,
      );
      if (future) return await quarantineMessage(record, contactId, future);
      request = { ...parsed, held: { ref }, receivedAt, claimToken, redelivered, resync };
    }
    const result = await syncVoiceCall(request, ports);
    if (result.outcome === 'synced') {
      counters.add('Synced');
      if (result.repairs > 0) counters.add('Repaired', result.repairs);
      if (result.resend) counters.addWithDimension('Resent', 'Reason', result.resend);
    } else if (result.outcome === 'superseded') counters.add('Superseded');
    else if (result.outcome === 'duplicate') counters.add('Duplicate');
    else counters.addWithDimension('Skipped', 'Reason', result.reason);
    logger.info('VoiceCall sync', {
      contactId,
      lastUpdateTimestamp,
      outcome: result.outcome,
      receiveCount,
    });
  } catch (error) {
    counters.add('Failed');
    logger.warn('VoiceCall sync failed, message will be retried', {
      contactId,
      error: (error as Error).message,
      receiveCount,
    });
    throw error;
  }
}

/**
 * Keep a message whose record is refused for good under
 * `quarantine/updater/{yyyy-mm-dd}/{messageId}` (the body as received, with the
 * reason), count it, and let SQS delete it: retrying cannot help, and a
 * redrive from the DLQ would bring it back.
 * @throws when the quarantine write fails (the message is then retried).
 */
async function quarantineMessage(
  record: SQSRecord,
  contactId: string,
  error: InvalidContactRecordError,
): Promise<void> {
  const day = new Date().toISOString().slice(0, 10);
  await quarantine.put({
    id: `updater/${day}/${record.messageId}`,
    data: Buffer.from(record.body),
    reason: error.reason,
    message: error.message,
  });
  counters.add('Quarantined');
  logger.warn('Sync message quarantined', {
    contactId,
    reason: error.reason,
    error: error.message,
  });
}

/** Lambda entry point: an SQS batch in, `{ batchItemFailures }` out. */
export async function handler(event: SQSEvent, context: Context) {
  try {
    const plans = planBatch(event.Records);
    return await processPartialResponse(
      event,
      (record: SQSRecord) => handleMessage(record, plans.get(record) as MessagePlan),
      processor,
      { context, throwOnFullBatchFailure: false },
    );
  } finally {
    requests.addTo(metrics);
    counters.flush(metrics);
  }
}
