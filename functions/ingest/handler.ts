/**
 * ingest: Kinesis consumer of Amazon Connect contact records.
 *
 * Per record: base64-decode, UTF-8 decode, parse and validate; skip records
 * of other channels than VOICE (counted by reason; a voice record skipped for
 * another reason is published, so the updater records the reason in the sync
 * ledger and the sweep can tell it from a missing one); quarantine records that cannot be
 * parsed or validated (raw bytes and reason under `quarantine/` in the
 * archive bucket, not retried, the shard moves on); publish `CtrReceived` for
 * the rest, one per ContactId and batch: only the first delivery of the
 * newest version in the batch is published, the others are counted as
 * superseded or duplicate (see {@link decideBatch}). A record too large for
 * an event entry, or holding a character
 * SQS rejects (U+FFFE, U+FFFF), is stored first (`large/{ContactId}/{version}.json`,
 * one object per version) and published with a `contactRecordRef` instead of
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
import * as z from 'zod';
import {
  canonicalJson,
  DEFAULT_FUTURE_TIMESTAMP_TOLERANCE_MINUTES,
  decodeContactRecordWithText,
  futureTimestampError,
} from '../../domain/contact-record';
import { evaluateSyncEligibility, type SkipReason } from '../../domain/eligibility';
import { InvalidContactRecordError, PermanentError } from '../../domain/errors';
import type { QuarantineStore, RecordReferenceStore } from '../../domain/ports';
import { contentDigest, keepNewestDeliveries, versionKey } from '../../domain/versions';
import {
  buildCtrReceivedDetail,
  buildCtrReceivedReferenceDetail,
  CtrReceived,
  hasCharactersSqsRejects,
} from '../../events/ctr-received';
import {
  booleanFlag,
  nonNegativeInt,
  positiveInt,
  readConfig,
  requiredString,
} from '../shared/config';
import {
  createBatchingPublisher,
  createEventPublisher,
  type EventEntry,
  entrySize,
  MAX_REQUEST_BYTES,
} from '../shared/event-publisher';
import { createObservability, InvocationCounters } from '../shared/observability';
import { RequestCounts } from '../shared/request-metrics';

const config = readConfig(
  z.object({
    EVENT_BUS_NAME: requiredString,
    ARCHIVE_BUCKET_NAME: requiredString,
    S3_FORCE_PATH_STYLE: booleanFlag(false),
    /** Base of the PutEvents retry backoff in ms (default 100); tests lower it to stay fast. */
    PUT_EVENTS_RETRY_BASE_DELAY_MS: positiveInt(100),
    /** Minutes a LastUpdateTimestamp may lie ahead of the processing time (`future-timestamp`). */
    FUTURE_TIMESTAMP_TOLERANCE_MINUTES: nonNegativeInt(DEFAULT_FUTURE_TIMESTAMP_TOLERANCE_MINUTES),
  }),
);
const futureToleranceMs = config.FUTURE_TIMESTAMP_TOLERANCE_MINUTES * 60_000;
const { logger, metrics } = createObservability('ingest');
const counters = new InvocationCounters();
const requests = new RequestCounts();
const publisher = createBatchingPublisher(
  createEventPublisher({
    client: requests.instrument(new EventBridgeClient({})),
    eventBusName: config.EVENT_BUS_NAME,
    baseDelayMs: config.PUT_EVENTS_RETRY_BASE_DELAY_MS,
  }),
);
const processor = new BatchProcessor(EventType.KinesisDataStreams);

interface S3Stores {
  quarantine: QuarantineStore;
  references: RecordReferenceStore;
}

let s3Stores: Promise<S3Stores> | undefined;
/**
 * The quarantine and the reference store, over an S3 client created on first use:
 * both are rare (bad records, records too large for an event), so the common
 * path does not construct it. (esbuild inlines the dynamic import into the
 * single bundle; only its evaluation is deferred.)
 */
function s3(): Promise<S3Stores> {
  s3Stores ??= import('../shared/s3-archive').then(
    ({ S3Client, createS3Quarantine, createS3ReferenceStore }) => {
      const client = requests.instrument(
        new S3Client({ forcePathStyle: config.S3_FORCE_PATH_STYLE }),
      );
      const bucket = config.ARCHIVE_BUCKET_NAME;
      return {
        quarantine: createS3Quarantine({ client, bucket }),
        references: createS3ReferenceStore({ client, bucket }),
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

/**
 * Quarantine a record with its raw bytes. The bytes are decoded again from
 * the record here rather than kept from the first decode: a record waiting
 * for PutEvents would otherwise hold them (10,000 records, about 25 MB).
 */
async function quarantineRecord(record: KinesisStreamRecord, error: PermanentError): Promise<void> {
  const data = Buffer.from(record.kinesis.data, 'base64');
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
 * What ingest does with one record's bytes, decided without I/O:
 * - `publish`: a `CtrReceived` entry with the record embedded in its Detail
 *   (`json`: the record's text as received);
 * - `archive-first`: the record is valid but cannot travel in an event entry
 *   (too large, or holding U+FFFE / U+FFFF, which the sync rule could not
 *   deliver to SQS nor to its DLQ): store it, publish a reference;
 * - `skip`: valid but of another channel than VOICE (no VoiceCall), with the
 *   {@link SkipReason}; voice records skipped for other reasons are published;
 * - `invalid`: the bytes are not a valid contact record, or its
 *   LastUpdateTimestamp lies in the future (reason `future-timestamp`); quarantine them.
 */
export type IngestDecision =
  | {
      action: 'publish';
      contactId: string;
      lastUpdateTimestamp: string;
      entry: EventEntry;
      json: string;
    }
  | { action: 'archive-first'; contactId: string; lastUpdateTimestamp: string; json: string }
  | { action: 'skip'; contactId: string; reason: SkipReason }
  | { action: 'invalid'; error: InvalidContactRecordError };

/** When a record is processed and how far ahead of that its LastUpdateTimestamp may be, in ms. */
export interface FutureTimestampClock {
  nowMs: number;
  toleranceMs: number;
}

/**
 * The record path of ingest, pure and synchronous: strict UTF-8 decoding,
 * JSON parsing, structure and schema checks ({@link decodeContactRecordWithText}),
 * eligibility, then the `CtrReceived` entry, whose Detail embeds the record's
 * own JSON text (never re-serialized). `decideBatch` calls it per record and
 * the handler acts on the result; the benchmark (bench/ingest.ts) times it.
 *
 * @param data - the Kinesis record's data, base64-decoded.
 * @param clock - `nowMs`, the processing time in milliseconds since the Unix
 *   epoch, and `toleranceMs`, how far ahead of it a LastUpdateTimestamp may be
 *   ({@link futureTimestampError}); by default now and 15 minutes.
 * @returns the {@link IngestDecision}; never throws for bad input.
 */
export function toCtrReceivedEntry(
  data: Uint8Array,
  clock: FutureTimestampClock = {
    nowMs: Date.now(),
    toleranceMs: DEFAULT_FUTURE_TIMESTAMP_TOLERANCE_MINUTES * 60_000,
  },
): IngestDecision {
  let decoded: ReturnType<typeof decodeContactRecordWithText>;
  try {
    decoded = decodeContactRecordWithText(data);
  } catch (error) {
    if (error instanceof InvalidContactRecordError) return { action: 'invalid', error };
    throw error;
  }
  const { contactRecord, json } = decoded;
  const { ContactId: contactId, LastUpdateTimestamp: lastUpdateTimestamp } = contactRecord;
  const future = futureTimestampError(
    contactId,
    lastUpdateTimestamp,
    clock.nowMs,
    clock.toleranceMs,
  );
  if (future) return { action: 'invalid', error: future };
  const eligibility = evaluateSyncEligibility(contactRecord);
  if (!eligibility.eligible && eligibility.reason === 'channel-not-voice') {
    return { action: 'skip', contactId, reason: eligibility.reason };
  }
  const entry: EventEntry = {
    Source: CtrReceived.source,
    DetailType: CtrReceived.detailType,
    Detail: buildCtrReceivedDetail(json, contactId, lastUpdateTimestamp),
  };
  // UTF-8 needs at most 3 bytes per UTF-16 unit, so the byte count is only taken when the
  // entry may be too large.
  const mayBeTooLarge =
    3 * (entry.Source.length + entry.DetailType.length + entry.Detail.length) >= MAX_REQUEST_BYTES;
  if ((mayBeTooLarge && entrySize(entry) >= MAX_REQUEST_BYTES) || hasCharactersSqsRejects(json)) {
    return { action: 'archive-first', contactId, lastUpdateTimestamp, json };
  }
  return { action: 'publish', contactId, lastUpdateTimestamp, entry, json };
}

/**
 * What a record of the batch became when a record later or earlier in the
 * same batch carries the same ContactId: `superseded` when that record's
 * version is newer, `duplicate` when it is the same version (the first
 * delivery of the newest version is the one kept).
 */
export type InBatchOutcome = 'superseded' | 'duplicate';

/**
 * Decide every record of a batch, and keep one record per ContactId: the
 * first delivery of its newest version (LastUpdateTimestamp, then the content
 * digest when two records share one, as the updater orders them). Amazon Connect
 * publishes a contact's versions and redeliveries close together on its
 * shard, so a batch often holds several; publishing only the newest spares
 * an event, a sync message, archive requests and an `updateVoiceCall` per
 * extra record, and nothing is lost: if the kept record fails, Lambda
 * retries from its sequence number, the records after it included.
 *
 * @param records - the batch, in shard order.
 * @param clock - the batch's processing time and the future-timestamp tolerance (ms).
 * @returns per record, its {@link IngestDecision}, or the {@link InBatchOutcome}
 *   when another record of the batch stands for it.
 */
export function decideBatch(
  records: readonly KinesisStreamRecord[],
  clock: FutureTimestampClock = { nowMs: Date.now(), toleranceMs: futureToleranceMs },
): Map<KinesisStreamRecord, IngestDecision | InBatchOutcome> {
  const decisions = new Map<KinesisStreamRecord, IngestDecision | InBatchOutcome>(
    records.map((record) => [
      record,
      toCtrReceivedEntry(Buffer.from(record.kinesis.data, 'base64'), clock),
    ]),
  );
  const dropped = keepNewestDeliveries(records, (record) => {
    const decision = decisions.get(record);
    if (
      typeof decision !== 'object' ||
      (decision.action !== 'publish' && decision.action !== 'archive-first')
    ) {
      return undefined;
    }
    const { contactId, lastUpdateTimestamp, json } = decision;
    // Asked for only when two records of a contact share a LastUpdateTimestamp.
    const digest = () => contentDigest(canonicalJson(json));
    return { contactId, lastUpdateTimestamp, digest };
  });
  for (const [record, { outcome }] of dropped) decisions.set(record, outcome);
  return decisions;
}

/** The `CtrReceived` details of the batch's records archived first, and when they all settled. */
interface ReferenceDetails {
  details: Map<KinesisStreamRecord, Promise<string>>;
  settled: Promise<unknown>;
}

/**
 * Handle one Kinesis record, given its decision. Resolves when it was
 * published, skipped, stood for by another record of the batch, or
 * quarantined; throws (a batch item failure) when publishing or quarantining
 * failed transiently.
 */
async function handleRecord(
  record: KinesisStreamRecord,
  decision: IngestDecision | InBatchOutcome,
  references: ReferenceDetails,
): Promise<void> {
  counters.add('Received');
  if (decision === 'superseded' || decision === 'duplicate') {
    counters.add(decision === 'superseded' ? 'Superseded' : 'Duplicate');
    return;
  }
  if (decision.action === 'invalid') return quarantineRecord(record, decision.error);
  const { contactId } = decision;
  if (decision.action === 'skip') {
    counters.addWithDimension('Skipped', 'Reason', decision.reason);
    logger.info('Contact record skipped', { contactId, reason: decision.reason });
    return;
  }
  try {
    const entry =
      decision.action === 'publish'
        ? decision.entry
        : {
            Source: CtrReceived.source,
            DetailType: CtrReceived.detailType,
            Detail: await (references.details.get(record) as Promise<string>),
          };
    // Every entry of the batch is handed to the publisher in the same turn, once the records
    // archived first are: one flush, ceil(entries / 10) PutEvents requests.
    await references.settled;
    await publisher.publish(entry);
  } catch (error) {
    if (error instanceof PermanentError) return quarantineRecord(record, error);
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
 * Store a record that cannot travel in the event (an entry of
 * {@link MAX_REQUEST_BYTES}, 1,000,000 bytes, or more, or holding a character
 * SQS rejects) as its own object, one per version, and return the
 * `CtrReceived` detail that refers to it.
 */
async function archiveFirst(
  contactId: string,
  lastUpdateTimestamp: string,
  json: string,
): Promise<string> {
  const { references } = await s3();
  const version = versionKey(lastUpdateTimestamp, contentDigest(canonicalJson(json)));
  const ref = await references.put(contactId, version, json);
  counters.add('Archived');
  logger.info('Contact record stored before publishing a reference', {
    contactId,
    lastUpdateTimestamp,
  });
  return buildCtrReceivedReferenceDetail(contactId, lastUpdateTimestamp, ref);
}

/** Lambda entry point: a Kinesis batch in, `{ batchItemFailures }` out. */
export async function handler(event: KinesisStreamEvent, context: Context) {
  try {
    const decisions = decideBatch(event.Records);
    const details = new Map<KinesisStreamRecord, Promise<string>>();
    for (const [record, decision] of decisions) {
      if (typeof decision === 'object' && decision.action === 'archive-first') {
        const { contactId, lastUpdateTimestamp, json } = decision;
        details.set(record, archiveFirst(contactId, lastUpdateTimestamp, json));
      }
    }
    const references = { details, settled: Promise.allSettled(details.values()) };
    return await processPartialResponse(
      event,
      (record: KinesisStreamRecord) =>
        handleRecord(record, decisions.get(record) as IngestDecision | InBatchOutcome, references),
      processor,
      { context },
    );
  } finally {
    requests.addTo(metrics);
    counters.flush(metrics);
  }
}
