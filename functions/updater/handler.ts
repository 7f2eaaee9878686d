/**
 * updater: drains the sync queue into SCV VoiceCalls.
 *
 * Each SQS message body is a `CtrReceived` detail (the sync rule's target
 * uses `InputPath: $.detail`; the redrive function sends the same shape) or a
 * whole `CtrReceived` event (dead-lettered by the sync rule, then redriven).
 * Messages of one ContactId in a batch are synced once, from the newest
 * version (see {@link planBatch}). Per message (see
 * domain/sync-voice-call.ts): skip a version older than the archived one
 * (superseded; on a redelivery, send the newest archived version again) or
 * the same as the archived one (a duplicate, unless redelivered or a
 * resync); archive a newer version with a newest-wins conditional write, which
 * claims it; read a record sent by reference (`contactRecordRef`) from the
 * archive; transform to `updateVoiceCall` fieldValues and invoke SCV's
 * telephony integration function synchronously; read the archived version
 * again to catch a newer one that arrived meanwhile.
 * A failed invoke (FunctionError, non-2xx, `success: false`, throttling)
 * fails that message only; SQS makes it visible again and, after
 * maxReceiveCount receives, moves it to the sync DLQ (redrive policy). A body
 * that does not parse fails the same way.
 *
 * Source: AWS Lambda Developer Guide, "Using Lambda with Amazon SQS",
 * partial batch responses (ReportBatchItemFailures).
 */

import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import { formatPath } from '../../domain/contact-record';
import { PermanentError } from '../../domain/errors';
import { syncVoiceCall } from '../../domain/sync-voice-call';
import { keepNewestDeliveries } from '../../domain/versions';
import {
  CtrReceived,
  type CtrReceivedDetail,
  CtrReceivedDetailSchema,
} from '../../events/ctr-received';
import { booleanFlag, readConfig, requiredString } from '../shared/config';
import { createObservability, InvocationCounters } from '../shared/observability';
import { RequestCounts } from '../shared/request-metrics';
import { createS3Archive } from '../shared/s3-archive';
import { createTelephonyIntegration } from '../shared/scv-functions';
import { REDRIVE_RUN_ATTRIBUTE, RESYNC_ATTRIBUTE } from '../shared/sync-message-attributes';

const config = readConfig(
  z.object({
    ARCHIVE_BUCKET_NAME: requiredString,
    INVOKE_TELEPHONY_INTEGRATION_API_ARN: requiredString,
    S3_FORCE_PATH_STYLE: booleanFlag(false),
  }),
);
const { logger, metrics } = createObservability('updater');
const counters = new InvocationCounters();
const requests = new RequestCounts();
const ports = {
  archive: createS3Archive({
    client: requests.instrument(new S3Client({ forcePathStyle: config.S3_FORCE_PATH_STYLE })),
    bucket: config.ARCHIVE_BUCKET_NAME,
  }),
  telephony: createTelephonyIntegration({
    client: requests.instrument(new LambdaClient({})),
    functionName: config.INVOKE_TELEPHONY_INTEGRATION_API_ARN,
  }),
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
  | { kind: 'invalid'; error: PermanentError };

/**
 * Parse every message of a batch and keep one sync per ContactId among the
 * messages that carry their record inline without phone-number overrides:
 * the first message of the newest version (LastUpdateTimestamp). The others
 * are `in-batch`, superseded or duplicate, and are done without a request:
 * if the kept message fails, it is retried itself. The kept message is
 * treated as a redelivery or a resync when any message it stands for is one
 * (a cut-off earlier attempt may have left an older update landing late).
 */
export function planBatch(records: readonly SQSRecord[]): Map<SQSRecord, MessagePlan> {
  const plans = new Map<SQSRecord, MessagePlan>();
  for (const record of records) {
    let parsed: ReturnType<typeof parseSyncMessage>;
    try {
      parsed = parseSyncMessage(record.body);
    } catch (error) {
      plans.set(record, { kind: 'invalid', error: error as PermanentError });
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
    const { contactId, contactRecord, fieldOverrides } = plan.detail;
    // The record's own LastUpdateTimestamp, which its schema checked (ISO-8601 UTC), as the
    // sync does.
    return contactRecord && !fieldOverrides
      ? { contactId, lastUpdateTimestamp: contactRecord.LastUpdateTimestamp }
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
  if (plan.kind === 'in-batch') {
    counters.add(plan.outcome === 'superseded' ? 'Superseded' : 'Duplicate');
    return;
  }
  const { detail, contactRecordJson, redelivered, resync } = plan;
  const { contactId, lastUpdateTimestamp, contactRecord, fieldOverrides } = detail;
  try {
    const result = await syncVoiceCall(
      contactRecord
        ? { contactRecord, contactRecordJson, fieldOverrides, redelivered, resync }
        : { contactId, lastUpdateTimestamp, fieldOverrides, redelivered, resync },
      ports,
    );
    if (result.outcome === 'synced') {
      counters.add('Synced');
      if (result.archived) counters.add('Archived');
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
