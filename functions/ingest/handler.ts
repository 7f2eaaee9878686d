/**
 * ingest: Kinesis consumer of Amazon Connect contact records.
 *
 * Per record: base64-decode, UTF-8 decode, parse and validate; skip records
 * that are not for SCV (counted by reason); quarantine records that cannot be
 * parsed or validated (raw bytes and reason under `quarantine/` in the
 * archive bucket, not retried, the shard moves on); publish `CtrReceived` for
 * the rest. A record too large for an event entry, or holding a character
 * SQS rejects (U+FFFE, U+FFFF), is archived first (`ctr/{ContactId}.json`,
 * newest version wins) and published with a `contactRecordRef` instead of
 * its body. PutEvents requests carry up to 10
 * entries; a record whose entry still fails after retries is reported in
 * `batchItemFailures` by sequence number, so Lambda retries from the lowest
 * failed one (ReportBatchItemFailures).
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
import type { ContactRecordArchive, QuarantineStore } from '../../domain/ports';
import {
  buildCtrReceivedDetail,
  buildCtrReceivedReferenceDetail,
  CtrReceived,
  hasCharactersSqsRejects,
} from '../../events/ctr-received';
import { booleanFlag, positiveInt, readConfig, requiredString } from '../shared/config';
import {
  createBatchingPublisher,
  createEventPublisher,
  entrySize,
  MAX_REQUEST_BYTES,
} from '../shared/event-publisher';
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

interface S3Stores {
  quarantine: QuarantineStore;
  archive: ContactRecordArchive;
  /** The archive key of a ContactId (`ctr/{ContactId}.json`). */
  archiveKey(contactId: string): string;
}

let s3Stores: Promise<S3Stores> | undefined;
/**
 * The quarantine and the archive, over an S3 client created on first use:
 * both are rare (bad records, records too large for an event), so the common
 * path does not construct it. (esbuild inlines the dynamic import into the
 * single bundle; only its evaluation is deferred.)
 */
function s3(): Promise<S3Stores> {
  s3Stores ??= Promise.all([import('@aws-sdk/client-s3'), import('../shared/s3-archive')]).then(
    ([{ S3Client }, { createS3Quarantine, createS3Archive, archiveKey }]) => {
      const client = new S3Client({ forcePathStyle: config.S3_FORCE_PATH_STYLE });
      const bucket = config.ARCHIVE_BUCKET_NAME;
      return {
        quarantine: createS3Quarantine({ client, bucket }),
        archive: createS3Archive({ client, bucket }),
        archiveKey,
      };
    },
  );
  return s3Stores;
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
      await s3()
    ).quarantine.put({
      id: quarantineId(record),
      data,
      reason,
      message: error.message,
    });
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
  const { ContactId: contactId, LastUpdateTimestamp: lastUpdateTimestamp } = contactRecord;
  try {
    const entry = {
      Source: CtrReceived.source,
      DetailType: CtrReceived.detailType,
      Detail: buildCtrReceivedDetail(json, contactId, lastUpdateTimestamp),
    };
    // Too large for an event entry, or holding U+FFFE / U+FFFF, which the sync rule could not
    // deliver to SQS (nor to its DLQ): archive first, publish a reference. UTF-8 needs at most
    // 3 bytes per UTF-16 unit, so the byte count is only taken when the entry may be too large.
    const mayBeTooLarge =
      3 * (entry.Source.length + entry.DetailType.length + entry.Detail.length) >=
      MAX_REQUEST_BYTES;
    if ((mayBeTooLarge && entrySize(entry) >= MAX_REQUEST_BYTES) || hasCharactersSqsRejects(json)) {
      entry.Detail = await archiveFirst(contactId, lastUpdateTimestamp, json);
    }
    await publisher.publish(entry);
  } catch (error) {
    if (error instanceof PermanentError) return quarantineRecord(record, data, error);
    counters.add('Failed');
    logger.error('CtrReceived not published', {
      contactId,
      error: (error as Error).message,
    });
    throw error;
  }
  counters.add('Published');
}

/**
 * Archive a record that cannot travel in the event (over 256 KB, or holding
 * a character SQS rejects) and return the `CtrReceived` detail that refers
 * to it. The archive keeps the newest
 * version: when it already holds a newer one, this version is superseded and
 * the reference still tells the updater so.
 */
async function archiveFirst(
  contactId: string,
  lastUpdateTimestamp: string,
  json: string,
): Promise<string> {
  const { archive, archiveKey } = await s3();
  const outcome = await archive.putIfNewer({ contactId, lastUpdateTimestamp, json });
  if (outcome === 'stored') counters.add('Archived');
  logger.info('Contact record archived before publishing a reference', {
    contactId,
    lastUpdateTimestamp,
    outcome,
  });
  return buildCtrReceivedReferenceDetail(contactId, lastUpdateTimestamp, {
    bucket: config.ARCHIVE_BUCKET_NAME,
    key: archiveKey(contactId),
  });
}

/** Lambda entry point: a Kinesis batch in, `{ batchItemFailures }` out. */
export async function handler(event: KinesisStreamEvent, context: Context) {
  try {
    return await processPartialResponse(event, recordHandler, processor, { context });
  } finally {
    counters.flush(metrics);
  }
}
