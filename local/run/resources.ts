/**
 * The local stack's resources: named as the `dev` stage's (cli/aws.ts
 * stageNames, after serverless.yml), so `events/examples/*.json` and
 * `ctr-sync <command> --stage dev` work against it unchanged, and created as
 * serverless.yml creates them (the ledger table, the stream, the archive
 * bucket, the sync queue with its redrive policy and the dead-letter queues).
 */
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type KinesisClient, UpdateMaxRecordSizeCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { stageNames } from '../../cli/aws';
import { createStream, LOCAL_REGION } from '../emulators/start-emulators';
import { ledgerTableInput, SYNC_QUEUE } from './topology';

/** The account every local ARN names. */
export const ACCOUNT = '000000000000';
/** The stage whose names the local stack takes. */
export const LOCAL_STAGE = 'dev';
const NAMES = stageNames(LOCAL_STAGE);
export const STREAM_NAME = 'connect-contact-records';
export const BUS_NAME = NAMES.bus;
export const BUCKET = `ctr-sync-${LOCAL_STAGE}-archive`;
export const LEDGER_TABLE_NAME = NAMES.ledgerTable;
export const DELIVERY_STREAM = `ctr-sync-${LOCAL_STAGE}-archive`;
/** SCV's functions, as the SCV stand-in answers to them. */
export const TELEPHONY_FUNCTION = 'InvokeTelephonyIntegrationApiFunction';
export const REST_API_FUNCTION = 'InvokeSalesforceRestApiFunction';
export const QUEUES = {
  sync: NAMES.queues.sync,
  syncDlq: NAMES.queues['sync-dlq'],
  redriveDlq: NAMES.queues['redrive-dlq'],
  ingestFailures: NAMES.queues['ingest-failures'],
  archiveDlq: NAMES.queues['archive-dlq'],
} as const;

/** The URL of each queue of {@link QUEUES}. */
export type QueueUrls = Record<keyof typeof QUEUES, string>;

/** `arn:aws:sqs:...` of a local queue. */
export const queueArn = (name: string) => `arn:aws:sqs:${LOCAL_REGION}:${ACCOUNT}:${name}`;

/** `arn:aws:lambda:...` of a function (the functions' environments name SCV's by ARN). */
export const functionArn = (name: string) =>
  `arn:aws:lambda:${LOCAL_REGION}:${ACCOUNT}:function:${name}`;

/** Create the ledger table, the stream (1 shard, 10 MiB records) and the archive bucket. */
export async function createStorage(clients: {
  dynamo: DynamoDBClient;
  kinesis: KinesisClient;
  s3: S3Client;
}): Promise<void> {
  await clients.dynamo.send(new CreateTableCommand(ledgerTableInput(LEDGER_TABLE_NAME)));
  await createStream(clients.kinesis, STREAM_NAME, 1);
  // Connect contact records stay far below 1 MiB, but a stream can be raised to 10 MiB records
  // (Kinesis Data Streams Developer Guide, "Handle large records"), and ingest must cope with them.
  await clients.kinesis.send(
    new UpdateMaxRecordSizeCommand({
      StreamARN: `arn:aws:kinesis:${LOCAL_REGION}:${ACCOUNT}:stream/${STREAM_NAME}`,
      MaxRecordSizeInKiB: 10_240,
    }),
  );
  await clients.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
}

/**
 * Create the dead-letter queues and the sync queue (its visibility timeout
 * `visibilityTimeoutSeconds`, its redrive policy into the sync DLQ after
 * `maxReceiveCount` receives). The queue URLs name the host `sqs` sends to.
 */
export async function createQueues(
  sqs: SQSClient,
  visibilityTimeoutSeconds: number,
): Promise<QueueUrls> {
  const create = async (name: string, attributes: Record<string, string> = {}) =>
    (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes })))
      .QueueUrl as string;
  const syncDlq = await create(QUEUES.syncDlq);
  const redriveDlq = await create(QUEUES.redriveDlq);
  const ingestFailures = await create(QUEUES.ingestFailures);
  const archiveDlq = await create(QUEUES.archiveDlq);
  const sync = await create(QUEUES.sync, {
    VisibilityTimeout: String(visibilityTimeoutSeconds),
    MaximumMessageSize: String(SYNC_QUEUE.maximumMessageSize),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: queueArn(QUEUES.syncDlq),
      maxReceiveCount: SYNC_QUEUE.maxReceiveCount,
    }),
  });
  return { sync, syncDlq, redriveDlq, ingestFailures, archiveDlq };
}
