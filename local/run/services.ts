/**
 * Start what the local stack stands on: the emulators (kinesis-local,
 * fauxqs), the DynamoDB proxy over dynalite, the Firehose stand-in, the SCV
 * stand-in, the fault proxy in front of fauxqs and the CloudWatch stand-in
 * for the operator's `ctr-sync status`, each given the fault plan's
 * decisions for its target. The functions and the bus are started by
 * local/run/functions.ts and local/run/bus.ts.
 */
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { RequestCounts } from '../../functions/shared/request-metrics';
import { stageNames } from '../../cli/aws';
import { type LocalCloudWatch, startLocalCloudWatch } from '../cloudwatch/server';
import { type DynamoDbFault, type LocalDynamoDb, startLocalDynamoDb } from '../dynamodb/server';
import {
  createKinesisClient,
  createS3Client,
  createSqsClient,
  type EmulatorHandle,
  LOCAL_REGION,
  startFauxqsServer,
  startKinesisLocal,
} from '../emulators/start-emulators';
import { contentKey, FaultPlan } from '../faults/plan';
import { type FaultProxy, startFaultProxy } from '../faults/proxy';
import { type LocalFirehose, startLocalFirehose } from '../firehose/server';
import { type ScvStandIn, type StandInFault, startScvStandIn } from '../scv/stand-in';
import {
  BUCKET,
  DELIVERY_STREAM,
  LOCAL_STAGE,
  QUEUES,
  REST_API_FUNCTION,
  TELEPHONY_FUNCTION,
} from './resources';
import { ARCHIVE_STREAM, DLQ_ALARM_THRESHOLD, QUEUE_ALARMS } from './topology';

/** What the DynamoDB proxy answers with when the fault plan picks a request. */
const DYNAMODB_FAULTS: readonly NonNullable<DynamoDbFault>[] = [
  { when: 'before', kind: 'throttling' },
  { when: 'before', kind: 'provisioned-throughput' },
  { when: 'before', kind: 'internal' },
  { when: 'after' },
];

/** What the SCV stand-in answers with when the fault plan picks a telephony invocation. */
const TELEPHONY_FAULTS: readonly StandInFault[] = [
  { kind: 'throttle' },
  { kind: 'server-error' },
  { kind: 'function-error' },
  { kind: 'timeout', delayMs: 200 },
  { kind: 'success-false' },
];

/** The running services, and the stack's own clients of them. */
export interface Services {
  kinesisLocal: EmulatorHandle;
  fauxqs: EmulatorHandle;
  standIn: ScvStandIn;
  dynamoDb: LocalDynamoDb;
  firehose: LocalFirehose;
  /** In front of fauxqs: the functions' S3 and SQS endpoint. */
  proxy: FaultProxy;
  /** For the operator's `ctr-sync status`: the queues' metrics and alarms. */
  cloudWatch: LocalCloudWatch;
  /**
   * The stack's clients: `sqs` goes through the proxy (queue URLs name it) and
   * counts its requests in `platformRequests`; `firehose` does not retry (the
   * archive rule retries, as EventBridge does).
   */
  clients: {
    dynamo: DynamoDBClient;
    kinesis: KinesisClient;
    s3: S3Client;
    sqs: SQSClient;
    firehose: FirehoseClient;
  };
  /** Requests the stack sends on AWS's behalf (the sync rule, the SQS event source mapping). */
  platformRequests: RequestCounts;
}

/**
 * Start every service; each one's stop is pushed onto `stops` as soon as it
 * is running (the caller stops them in reverse, also when a later one fails).
 */
export async function startServices(
  options: {
    workDir: string;
    faults?: FaultPlan;
    telephonyLatencyMs?: number;
    measureCapacity?: boolean;
  },
  stops: (() => Promise<void>)[],
): Promise<Services> {
  const faults = options.faults;
  const kinesisLocal = await startKinesisLocal();
  stops.push(() => kinesisLocal.stop());
  const fauxqs = await startFauxqsServer();
  stops.push(() => fauxqs.stop());
  const standIn = await startScvStandIn({
    storePath: join(options.workDir, 'voice-calls.json'),
    telephonyFunctionName: TELEPHONY_FUNCTION,
    restApiFunctionName: REST_API_FUNCTION,
    updateLatencyMs: options.telephonyLatencyMs,
    fault: (call) => {
      const key = `${call.functionName} ${call.methodName} ${call.contactId ?? ''}`;
      return faults?.decide('telephony', key)
        ? faults.choose('telephony', key, TELEPHONY_FAULTS)
        : undefined;
    },
  });
  stops.push(() => standIn.stop());
  const dynamoDb = await startLocalDynamoDb({
    measureCapacity: options.measureCapacity,
    fault: (operation, body) => {
      const key = `${operation} ${contentKey(body)}`;
      return faults?.decide('dynamodb', key)
        ? faults.choose('dynamodb', key, DYNAMODB_FAULTS)
        : undefined;
    },
  });
  stops.push(() => dynamoDb.stop());
  const s3 = createS3Client(fauxqs.endpoint);
  const firehose = await startLocalFirehose({
    deliveryStreamName: DELIVERY_STREAM,
    s3,
    bucket: BUCKET,
    prefix: ARCHIVE_STREAM.prefix,
    bufferBytes: ARCHIVE_STREAM.bufferSizeMB * 1024 * 1024,
    bufferIntervalMs: ARCHIVE_STREAM.localBufferIntervalSeconds * 1000,
    fault: (scope, data) => faults?.decide('firehose', `${scope} ${contentKey(data)}`) ?? false,
  });
  stops.push(() => firehose.stop());
  // Always in front of fauxqs: it enforces S3 conditional writes, and injects faults when asked
  // (of SQS sends, only those to the sync queue: the rule target's and the redrive's).
  const proxy = await startFaultProxy({
    upstream: fauxqs.endpoint,
    plan: faults ?? new FaultPlan({ rates: {}, crashes: [] }, 0),
    sqsQueueNames: [QUEUES.sync],
  });
  stops.push(() => proxy.stop());
  const names = stageNames(LOCAL_STAGE);
  const cloudWatch = await startLocalCloudWatch({
    fauxqsEndpoint: fauxqs.endpoint,
    alarms: QUEUE_ALARMS.map(({ alarm, queue }) => ({
      alarmName: `${names.alarmPrefix}${alarm}`,
      queueName: names.queues[queue],
      metricName: 'ApproximateNumberOfMessagesVisible',
      threshold: DLQ_ALARM_THRESHOLD,
    })),
  });
  stops.push(() => cloudWatch.stop());

  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const platformRequests = new RequestCounts(true);
  return {
    kinesisLocal,
    fauxqs,
    standIn,
    dynamoDb,
    firehose,
    proxy,
    cloudWatch,
    clients: {
      // The stack's own DynamoDB requests go through the proxy too; they are not faulted
      // (CreateTable and reads are not in the fault plan's way) and use no conditional writes.
      dynamo: new DynamoDBClient({
        endpoint: dynamoDb.endpoint,
        region: LOCAL_REGION,
        credentials,
      }),
      kinesis: createKinesisClient(kinesisLocal.endpoint),
      s3,
      // SQS clients send to the queue URL's host, so the queues are created through the proxy.
      sqs: platformRequests.instrument(createSqsClient(proxy.endpoint)),
      firehose: new FirehoseClient({
        endpoint: firehose.endpoint,
        region: LOCAL_REGION,
        credentials,
        maxAttempts: 1,
      }),
    },
    platformRequests,
  };
}
