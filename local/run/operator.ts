/**
 * What an operator (or a test, or `npm start`) does to a running local stack
 * and reads back from it, through the same APIs as against AWS: Kinesis
 * PutRecords, EventBridge PutEvents, DynamoDB reads and deletes of the
 * ledger, S3 reads of the archive and quarantine, SQS reads of the queues.
 */
import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { LedgerItem } from '../../domain/ports';
import { toLedgerItem } from '../../functions/shared/dynamodb-ledger';
import { createS3ArchiveReader } from '../../functions/shared/s3-archive';
import { BUCKET, BUS_NAME, LEDGER_TABLE_NAME, STREAM_NAME } from './resources';

/** A quarantined record as the bucket holds it. */
export interface QuarantinedRecord {
  key: string;
  /** The raw bytes of the Kinesis record. */
  data: Buffer;
  reason: string;
}

/** PutRecords accepts at most 500 records (Amazon Kinesis Data Streams API Reference, PutRecords). */
const PUT_RECORDS_MAX = 500;

/**
 * Put records on the stream, each exactly as given (partition key:
 * `partitionKeys[i]` or random), all at once or, with `rate`, that many per
 * second (in slices every 100 ms). Records PutRecords reports as failed are
 * put again, up to 21 attempts, then it throws. Resolves with the time (ms
 * since the epoch) each record's PutRecords call returned.
 */
export async function putRecords(
  kinesis: KinesisClient,
  records: Buffer[],
  partitionKeys: (string | undefined)[] = [],
  options: { rate?: number } = {},
): Promise<number[]> {
  if (options.rate) {
    const slice = Math.max(1, Math.round(options.rate / 10));
    const putAt: number[] = [];
    for (let start = 0; start < records.length; start += slice) {
      const began = Date.now();
      putAt.push(
        ...(await putRecords(
          kinesis,
          records.slice(start, start + slice),
          partitionKeys.slice(start, start + slice),
        )),
      );
      const wait = Math.max(0, 100 - (Date.now() - began));
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    return putAt;
  }
  const putAt = new Array<number>(records.length);
  for (let start = 0; start < records.length; start += PUT_RECORDS_MAX) {
    const chunk = records.slice(start, start + PUT_RECORDS_MAX);
    let entries = chunk.map((data, index) => ({
      Data: data,
      PartitionKey: partitionKeys[start + index] ?? randomUUID(),
      index: start + index,
    }));
    for (let attempt = 0; entries.length > 0; attempt++) {
      const result = await kinesis.send(
        new PutRecordsCommand({
          StreamName: STREAM_NAME,
          Records: entries.map(({ Data, PartitionKey }) => ({ Data, PartitionKey })),
        }),
      );
      const now = Date.now();
      const results = result.Records ?? [];
      entries.forEach((entry, index) => {
        if (!results[index]?.ErrorCode) putAt[entry.index] = now;
      });
      entries = entries.filter((_, index) => results[index]?.ErrorCode);
      if (entries.length > 0 && attempt > 20)
        throw new Error(`PutRecords kept failing for ${entries.length} records`);
      if (entries.length > 0)
        await new Promise((resolve) => setTimeout(resolve, 100 * (attempt + 1)));
    }
  }
  return putAt;
}

/**
 * Put one event on the bus as an operator would with `aws events put-events`,
 * and put it again (10 attempts, 100 ms more each time) until the entry is
 * accepted. Throws with the last error when it never is.
 */
export async function putEvent(
  eventBridge: EventBridgeClient,
  source: string,
  detailType: string,
  detail: object,
): Promise<void> {
  let lastError = '';
  for (let attempt = 1; attempt <= 10; attempt++) {
    try {
      const result = await eventBridge.send(
        new PutEventsCommand({
          Entries: [
            {
              Source: source,
              DetailType: detailType,
              Detail: JSON.stringify(detail),
              EventBusName: BUS_NAME,
            },
          ],
        }),
      );
      if (!result.FailedEntryCount) return;
      lastError = result.Entries?.[0]?.ErrorCode ?? 'unknown';
    } catch (error) {
      lastError = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
  }
  throw new Error(`put-events failed 10 times: ${lastError}`);
}

/** Delete every item of the sync ledger (as a restore from an empty backup would leave it); resolves with the count. */
export async function wipeLedger(dynamo: DynamoDBClient): Promise<number> {
  let deleted = 0;
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamo.send(
      new ScanCommand({ TableName: LEDGER_TABLE_NAME, ExclusiveStartKey: start }),
    );
    for (const item of page.Items ?? []) {
      await dynamo.send(
        new DeleteItemCommand({
          TableName: LEDGER_TABLE_NAME,
          Key: { contactId: item.contactId as { S: string } },
        }),
      );
      deleted++;
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return deleted;
}

/** The sync ledger's item of a contact (a strongly consistent read), if any. */
export async function readLedgerItem(
  dynamo: DynamoDBClient,
  contactId: string,
): Promise<LedgerItem | undefined> {
  const result = await dynamo.send(
    new GetItemCommand({
      TableName: LEDGER_TABLE_NAME,
      Key: { contactId: { S: contactId } },
      ConsistentRead: true,
    }),
  );
  return result.Item ? toLedgerItem(result.Item) : undefined;
}

/** Every record under `quarantine/` in the archive bucket, with its raw bytes and reason (object metadata). */
export async function listQuarantine(s3: S3Client): Promise<QuarantinedRecord[]> {
  const records: QuarantinedRecord[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'quarantine/', ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      if (!object.Key) continue;
      const result = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: object.Key }));
      const data = Buffer.from((await result.Body?.transformToByteArray()) ?? []);
      records.push({ key: object.Key, data, reason: result.Metadata?.reason ?? '' });
    }
    token = page.NextContinuationToken;
  } while (token);
  return records;
}

/** The JSON text of every record in every archive object, per object key (through the functions' archive reader). */
export async function archivedRecords(s3: S3Client): Promise<Map<string, string[]>> {
  const reader = createS3ArchiveReader({ client: s3, bucket: BUCKET });
  const records = new Map<string, string[]>();
  const window = { from: '2000-01-01T00:00:00Z', to: '2100-01-01T00:00:00Z' };
  let cursor: string | undefined;
  do {
    const page = await reader.listObjects(window, cursor);
    for (const key of page.keys) records.set(key, await reader.readObject(key));
    cursor = page.next;
  } while (cursor);
  return records;
}

/** Up to 10 message bodies of a queue, left in it (received with visibility timeout 0). */
export async function peekMessages(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  const result = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 0,
      WaitTimeSeconds: 0,
    }),
  );
  return (result.Messages ?? []).map((message) => message.Body ?? '');
}

/** Messages of a queue, visible and in flight (SQS's approximate counts). */
export async function queueDepth(
  sqs: SQSClient,
  queueUrl: string,
): Promise<{ visible: number; inFlight: number }> {
  const result = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(result.Attributes?.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(result.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}
