/**
 * ingest: Kinesis consumer of Amazon Connect contact records.
 *
 * Per record: base64-decode, UTF-8 decode, parse and validate; skip records
 * that are not for SCV (counted by reason); quarantine records that cannot be
 * parsed or validated (raw bytes and reason under `quarantine/` in the
 * archive bucket, not retried, the shard moves on); publish `CtrReceived` for
 * the rest. PutEvents requests carry up to 10 entries; a record whose entry
 * still fails after retries is reported in `batchItemFailures` by sequence
 * number, so Lambda retries from the lowest failed one (ReportBatchItemFailures).
 *
 * Source: AWS Lambda Developer Guide, "Using Lambda with Kinesis Data Streams"
 * and partial batch responses; Amazon Connect, contact records are published
 * to Kinesis base64-encoded, at least once, and again when they change.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { Context, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { z } from 'zod';
import { decodeContactRecordWithText } from '../../domain/contact-record';
import { evaluateSyncEligibility } from '../../domain/eligibility';
import { InvalidContactRecordError, PermanentError } from '../../domain/errors';
import type { QuarantineStore } from '../../domain/ports';
import { buildCtrReceivedDetail, CtrReceived } from '../../events/ctr-received';
import { booleanFlag, positiveInt, readConfig, requiredString } from '../shared/config';
import { createBatchingPublisher, createEventPublisher } from '../shared/event-publisher';
import { createObservability, InvocationCounters } from '../shared/observability';

const config = readConfig(
  z.object({
    EVENT_BUS_NAME: requiredString,
    ARCHIVE_BUCKET_NAME: requiredString,
    S3_FORCE_PATH_STYLE: booleanFlag(false),
    /** Base of the PutEvents retry backoff in ms (default 100); tests lower it to stay fast. */
    PUT_EVENTS_RETRY_BASE_DELAY_MS: positiveInt(100),
  }),
);
const { logger, metrics } = createObservability('ingest');
const counters = new InvocationCounters();
const publisher = createBatchingPublisher(
  createEventPublisher({
    client: new EventBridgeClient({}),
    eventBusName: config.EVENT_BUS_NAME,
    baseDelayMs: config.PUT_EVENTS_RETRY_BASE_DELAY_MS,
  }),
);
const processor = new BatchProcessor(EventType.KinesisDataStreams);

let quarantineStore: Promise<QuarantineStore> | undefined;
/**
 * The S3 client is created on first use: quarantine is rare, so the common
 * path does not construct it. (esbuild inlines the dynamic import into the
 * single bundle; only its evaluation is deferred.)
 */
function quarantine(): Promise<QuarantineStore> {
  quarantineStore ??= Promise.all([
    import('@aws-sdk/client-s3'),
    import('../shared/s3-archive'),
  ]).then(([{ S3Client }, { createS3Quarantine }]) =>
    createS3Quarantine({
      client: new S3Client({ forcePathStyle: config.S3_FORCE_PATH_STYLE }),
      bucket: config.ARCHIVE_BUCKET_NAME,
    }),
  );
  return quarantineStore;
}

/** Quarantine key of a Kinesis record: `{arrival date}/{shardId}/{sequenceNumber}`. */
export function quarantineId(record: KinesisStreamRecord): string {
  const arrival = new Date(record.kinesis.approximateArrivalTimestamp * 1000);
  const day = Number.isNaN(arrival.getTime()) ? 'unknown-date' : arrival.toISOString().slice(0, 10);
  const shardId = record.eventID.split(':')[0] || 'unknown-shard';
  return `${day}/${shardId}/${record.kinesis.sequenceNumber}`;
}

async function quarantineRecord(
  record: KinesisStreamRecord,
  data: Uint8Array,
  error: PermanentError,
): Promise<void> {
  const reason = error instanceof InvalidContactRecordError ? error.reason : 'unpublishable';
  const sequenceNumber = record.kinesis.sequenceNumber;
  try {
    await (
      await quarantine()
    ).put({ id: quarantineId(record), data, reason, message: error.message });
  } catch (putError) {
    counters.add('Failed');
    logger.error('Quarantine failed, record will be retried', {
      sequenceNumber,
      reason,
      error: (putError as Error).message,
    });
    throw putError;
  }
  counters.add('Quarantined');
  logger.warn('Contact record quarantined', { sequenceNumber, reason, error: error.message });
}

/**
 * Handle one Kinesis record. Resolves when it was published, skipped or
 * quarantined; throws (a batch item failure) when publishing or quarantining
 * failed transiently.
 */
export async function recordHandler(record: KinesisStreamRecord): Promise<void> {
  counters.add('Received');
  const data = Buffer.from(record.kinesis.data, 'base64');
  let decoded: ReturnType<typeof decodeContactRecordWithText>;
  try {
    decoded = decodeContactRecordWithText(data);
  } catch (error) {
    if (error instanceof InvalidContactRecordError) return quarantineRecord(record, data, error);
    throw error;
  }
  const { contactRecord, json } = decoded;
  const eligibility = evaluateSyncEligibility(contactRecord);
  if (!eligibility.eligible) {
    counters.addWithDimension('Skipped', 'Reason', eligibility.reason);
    logger.info('Contact record skipped', {
      contactId: contactRecord.ContactId,
      reason: eligibility.reason,
    });
    return;
  }
  try {
    await publisher.publish({
      Source: CtrReceived.source,
      DetailType: CtrReceived.detailType,
      Detail: buildCtrReceivedDetail(
        json,
        contactRecord.ContactId,
        contactRecord.LastUpdateTimestamp,
      ),
    });
  } catch (error) {
    if (error instanceof PermanentError) return quarantineRecord(record, data, error);
    counters.add('Failed');
    logger.error('CtrReceived not published', {
      contactId: contactRecord.ContactId,
      error: (error as Error).message,
    });
    throw error;
  }
  counters.add('Published');
}

/** Lambda entry point: a Kinesis batch in, `{ batchItemFailures }` out. */
export async function handler(event: KinesisStreamEvent, context: Context) {
  try {
    return await processPartialResponse(event, recordHandler, processor, { context });
  } finally {
    counters.flush(metrics);
  }
}
