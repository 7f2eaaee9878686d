/**
 * The local stack: the whole pipeline on this machine, with no AWS account.
 *
 * Kinesis (kinesis-local) -> ingest -> local EventBridge -> the sync queue
 * (SQS in fauxqs) -> updater (sync ledger in DynamoDB: dynalite) -> the SCV
 * stand-in (Lambda Invoke API, VoiceCalls in a file); the archive rule ->
 * the Firehose stand-in -> GZIP objects in S3 (fauxqs); redrive on the bus. Functions
 * are the esbuild bundles `serverless package` would ship, each run in child
 * processes with its own environment; endpoints reach them through the SDK's
 * `AWS_ENDPOINT_URL_<SERVICE>` variables, never through code branches.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { FirehoseClient, PutRecordCommand } from '@aws-sdk/client-firehose';
import { PutRecordsCommand, UpdateMaxRecordSizeCommand } from '@aws-sdk/client-kinesis';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  createKinesisClient,
  createS3Client,
  createSqsClient,
  createStream,
  LOCAL_REGION,
  startFauxqsServer,
  startKinesisLocal,
} from '../emulators/start-emulators';
import { startKinesisEventSourceMapping } from '../event-source-mappings/kinesis';
import { s3OnFailureDestination } from '../event-source-mappings/s3-on-failure';
import { type CapacityCount, type DynamoDbFault, startLocalDynamoDb } from '../dynamodb/server';
import { startLocalFirehose } from '../firehose/server';
import { toLedgerItem } from '../../functions/shared/dynamodb-ledger';
import { createS3ArchiveReader } from '../../functions/shared/s3-archive';
import type { LedgerItem } from '../../domain/ports';
import { startFaultProxy } from '../faults/proxy';
import { contentKey, FaultPlan } from '../faults/plan';
import { startSqsEventSourceMapping } from '../event-source-mappings/sqs';
import {
  type EventBridgeEvent,
  type LocalRule,
  type RuleTarget,
  startLocalEventBridge,
} from '../eventbridge/server';
import {
  buildFunctions,
  type FunctionName,
  type LocalFunction,
  openLogFile,
  startLocalFunction,
} from '../lambda/runtime';
import { AWS_REQUESTS_METRIC_PREFIX, RequestCounts } from '../../functions/shared/request-metrics';
import { stageNames } from '../../cli/aws';
import { MetricsCollector } from '../lambda/metrics-collector';
import { type StandInFault, type StoredVoiceCall, startScvStandIn } from '../scv/stand-in';
import {
  ARCHIVE_STREAM,
  ASYNC_INVOKE_ATTEMPTS,
  FUNCTION_TIMEOUTS,
  INGEST_MAPPING,
  ledgerTableInput,
  RULES,
  SYNC_QUEUE,
  UPDATER_MAPPING,
} from './topology';

const ACCOUNT = '000000000000';
const STREAM_NAME = 'connect-contact-records';
/**
 * The local stack's resources are named as the `dev` stage's (cli/aws.ts
 * stageNames, after serverless.yml), so `events/examples/*.json` and
 * `ctr-sync <command> --stage dev` work against it unchanged.
 */
export const LOCAL_STAGE = 'dev';
const NAMES = stageNames(LOCAL_STAGE);
const BUS_NAME = NAMES.bus;
const BUCKET = `ctr-sync-${LOCAL_STAGE}-archive`;
const LEDGER_TABLE_NAME = NAMES.ledgerTable;
const DELIVERY_STREAM = `ctr-sync-${LOCAL_STAGE}-archive`;
const TELEPHONY_FUNCTION = 'InvokeTelephonyIntegrationApiFunction';
const REST_API_FUNCTION = 'InvokeSalesforceRestApiFunction';
const QUEUES = {
  sync: NAMES.queues.sync,
  syncDlq: NAMES.queues['sync-dlq'],
  redriveDlq: NAMES.queues['redrive-dlq'],
  ingestFailures: NAMES.queues['ingest-failures'],
  archiveDlq: NAMES.queues['archive-dlq'],
} as const;

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
/** Per-entry PutEvents error codes the fault plan picks from (PutEventsResultEntry.ErrorCode). */
const PUT_EVENTS_ENTRY_FAULTS = [
  { errorCode: 'InternalFailure', errorMessage: 'Injected internal failure' },
  { errorCode: 'ThrottlingException', errorMessage: 'Injected throttling' },
] as const;

/** Options of {@link startLocalStack}. */
export interface LocalStackOptions {
  /** Folder for bundles, logs and the VoiceCall store. */
  workDir: string;
  /**
   * Visibility timeout of the local sync queue, in seconds. Lambda asks for
   * at least 6x the function timeout (180 s in AWS); locally a failed message
   * should come back within seconds, but not before a cold-started updater
   * has finished its batch (that would deliver it twice), so the default is 10.
   */
  visibilityTimeoutSeconds?: number;
  /**
   * Faults to inject, decided by this seeded plan: PutEvents entries and
   * calls (`eventbridge`), S3 gets and puts and SQS sends of the functions
   * through a fault proxy (`s3`, `sqs`), the sync rule's sends to the sync
   * queue (`sqs`), the SCV stand-in's answers (`telephony`), and one crash
   * per function named in the plan.
   */
  faults?: FaultPlan;
  /**
   * Milliseconds the SCV stand-in's `updateVoiceCall` takes (default 0): the
   * time SCV's function spends calling Salesforce, for benchmarks.
   */
  telephonyLatencyMs?: number;
  /** Count the DynamoDB request units the functions' requests would bill (benchmarks). */
  measureCapacity?: boolean;
}

/** Counts while the stack drains (the functions' metrics, and the sync queue's depth). */
export interface DrainProgress {
  received: number;
  published: number;
  synced: number;
  /** Messages in the sync queue, visible and in flight. */
  inSyncQueue: number;
}

/** Counts of one run, from the functions' EMF metrics and the queues. */
export interface LocalStackSummary {
  received: number;
  skipped: Record<string, number>;
  rejected: number;
  published: number;
  archived: number;
  synced: number;
  /** `updateVoiceCall` calls beyond the first of a sync (a newer version sent after an older one). */
  repaired: number;
  /** Syncs that sent a version already claimed again, by reason (resync, redelivery, own-claim). */
  resent: Record<string, number>;
  superseded: number;
  /** Deliveries of a version already archived (claimed) by an earlier delivery: not sent again. */
  duplicate: number;
  failed: number;
  /**
   * Messages in each dead-letter queue (visible and in flight); `ingest` is the Kinesis
   * on-failure queue, `archive` the archive rule's dead-letter queue.
   */
  inDlq: { sync: number; redrive: number; ingest: number; archive: number };
  /**
   * The Firehose stand-in: records accepted and failed, archive objects written, and the bytes
   * Firehose bills for the accepted records (each rounded up to 5 KB).
   */
  archive: { accepted: number; failed: number; objects: number; billedBytes: number };
  /** With `measureCapacity`: DynamoDB request units of every request to the table. */
  dynamoDbCapacity?: CapacityCount;
  /**
   * The Kinesis event source mapping: whether it read the shard up to the
   * stream's tip with nothing in flight (the shard is not stalled), and its
   * counters (batches, records delivered with redeliveries, retries, records
   * given up to the on-failure queue).
   */
  kinesis: {
    reachedTip: boolean;
    batches: number;
    records: number;
    retries: number;
    recordsSentToOnFailure: number;
  };
  /** The local EventBridge's counts: entries accepted and failed, deliveries, dead-lettered events. */
  eventBridge: Record<string, number>;
  /** Faults injected, per target, and crashed execution environments per function. */
  faults: { injected: Record<string, number>; crashes: Record<string, number> };
  /**
   * AWS requests per operation (`S3.HeadObject`), retries included, counted by an SDK
   * middleware (functions/shared/request-metrics.ts): `functions`, what the functions sent (from
   * their EMF metrics); `platform`, what the local stack sent on AWS's behalf (the sync rule's
   * SendMessage, the SQS event source mapping's receives and deletes, on-failure destinations)
   * and for itself (CreateQueue, GetQueueAttributes while draining); `updater`, the updater's
   * share of `functions`.
   */
  requests: {
    functions: Record<string, number>;
    platform: Record<string, number>;
    updater: Record<string, number>;
  };
  /** Per ingest invocation: CtrReceived entries published, and PutEvents requests sent. */
  ingestInvocations: { published: number; putEventsRequests: number }[];
  /** Handler run time of every invocation that answered, per function, in milliseconds. */
  durationsMs: Record<string, number[]>;
  /** Bytes each function wrote to its log stream (what CloudWatch Logs would ingest). */
  logBytes: Record<string, number>;
  /** Invocations the SCV stand-in received, per function name, then per `methodName`. */
  scvInvocations: Record<string, Record<string, number>>;
}

/** A quarantined record as the bucket holds it. */
export interface QuarantinedRecord {
  key: string;
  /** The raw bytes of the Kinesis record. */
  data: Buffer;
  reason: string;
}

/** A running local stack. */
export interface LocalStack {
  /** Put records on the stream, each exactly as given (partition key: `partitionKeys[i]` or random). */
  /**
   * Put records on the stream, each exactly as given (partition key: `partitionKeys[i]` or
   * random), all at once or, with `rate`, that many per second (in slices every 100 ms).
   * Resolves with the time (ms since the epoch) each record's PutRecords call returned.
   */
  putRecords(
    records: Buffer[],
    partitionKeys?: (string | undefined)[],
    options?: { rate?: number },
  ): Promise<number[]>;
  /** What SCV does when a call starts: a VoiceCall whose CustomerHoldDuration is null. */
  createVoiceCall(contactId: string, createdDate: string): Promise<void>;
  /**
   * Where an operator (the AWS CLI, the SDK, `ctr-sync`) reaches each service,
   * by the suffix of its `AWS_ENDPOINT_URL_<SERVICE>` variable: EVENTBRIDGE,
   * KINESIS, SQS, S3, DYNAMODB, FIREHOSE and LAMBDA (the SCV stand-in).
   */
  endpoints: Record<string, string>;
  /** Put an event on the bus as an operator would with `aws events put-events`. */
  putEvent(source: string, detailType: string, detail: object): Promise<void>;
  /** Delete every message of a dead-letter queue (SQS PurgeQueue), as if they had expired. */
  purgeDeadLetters(queue: 'sync'): Promise<void>;
  /** Delete every item of the sync ledger (as a restore from an empty backup would leave it). */
  wipeLedger(): Promise<number>;
  /** Resolves when the stream is consumed to its tip and nothing is in flight anywhere. */
  /**
   * Resolves when every stage is quiet; `onProgress` is called about every
   * 2 s while it waits, with the counts so far.
   */
  drain(onProgress?: (progress: DrainProgress) => void): Promise<void>;
  summary(): Promise<LocalStackSummary>;
  voiceCalls(): Promise<Record<string, StoredVoiceCall>>;
  /** Every record under `quarantine/` in the archive bucket, with its raw bytes and reason. */
  quarantined(): Promise<QuarantinedRecord[]>;
  /** The sync ledger's item of a contact, if any. */
  ledgerItem(contactId: string): Promise<LedgerItem | undefined>;
  /** The JSON text of every record in every archive object, per object key. */
  archivedRecords(): Promise<Map<string, string[]>>;
  /** Up to 10 message bodies of a dead-letter queue, left in it (received with visibility timeout 0). */
  peekDeadLetters(queue: 'sync' | 'redrive' | 'ingest' | 'archive'): Promise<string[]>;
  /** Log files, one per function. */
  logDir: string;
  stop(): Promise<void>;
}

async function queueDepth(
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

async function listQuarantine(s3: S3Client): Promise<QuarantinedRecord[]> {
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

/**
 * Start every service, create the resources, and wire the functions.
 * Everything started here is stopped by `stop()`, also when start-up fails.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    stops.length = 0;
  };
  try {
    const logDir = join(options.workDir, 'logs');
    const kinesisLocal = await startKinesisLocal();
    stops.push(() => kinesisLocal.stop());
    // Queue URLs name the host the queues are created through (the fault proxy, when there is one).
    const fauxqs = await startFauxqsServer();
    stops.push(() => fauxqs.stop());
    const standIn = await startScvStandIn({
      storePath: join(options.workDir, 'voice-calls.json'),
      telephonyFunctionName: TELEPHONY_FUNCTION,
      restApiFunctionName: REST_API_FUNCTION,
      updateLatencyMs: options.telephonyLatencyMs,
      fault: (call) => {
        const key = `${call.functionName} ${call.methodName} ${call.contactId ?? ''}`;
        return options.faults?.decide('telephony', key)
          ? options.faults.choose('telephony', key, TELEPHONY_FAULTS)
          : undefined;
      },
    });
    stops.push(() => standIn.stop());

    const faultsPlan = options.faults;
    const dynamoDb = await startLocalDynamoDb({
      measureCapacity: options.measureCapacity,
      fault: (operation, body) => {
        const key = `${operation} ${contentKey(body)}`;
        return faultsPlan?.decide('dynamodb', key)
          ? faultsPlan.choose('dynamodb', key, DYNAMODB_FAULTS)
          : undefined;
      },
    });
    stops.push(() => dynamoDb.stop());
    // The stack's own client goes to the proxy too (its requests are not faulted: CreateTable and
    // reads are not in the fault plan's way, see the hook above) -- it uses no conditional writes.
    const dynamo = new DynamoDBClient({
      endpoint: dynamoDb.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await dynamo.send(new CreateTableCommand(ledgerTableInput(LEDGER_TABLE_NAME)));

    const kinesis = createKinesisClient(kinesisLocal.endpoint);
    const s3 = createS3Client(fauxqs.endpoint);
    await createStream(kinesis, STREAM_NAME, 1);
    // Connect contact records stay far below 1 MiB, but a stream can be raised to 10 MiB records
    // (Kinesis Data Streams Developer Guide, "Handle large records"), and ingest must cope with them.
    await kinesis.send(
      new UpdateMaxRecordSizeCommand({
        StreamARN: `arn:aws:kinesis:${LOCAL_REGION}:${ACCOUNT}:stream/${STREAM_NAME}`,
        MaxRecordSizeInKiB: 10_240,
      }),
    );
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const firehose = await startLocalFirehose({
      deliveryStreamName: DELIVERY_STREAM,
      s3,
      bucket: BUCKET,
      prefix: ARCHIVE_STREAM.prefix,
      bufferBytes: ARCHIVE_STREAM.bufferSizeMB * 1024 * 1024,
      bufferIntervalMs: ARCHIVE_STREAM.localBufferIntervalSeconds * 1000,
      fault: (scope, data) =>
        faultsPlan?.decide('firehose', `${scope} ${contentKey(data)}`) ?? false,
    });
    stops.push(() => firehose.stop());
    const firehoseClient = new FirehoseClient({
      endpoint: firehose.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    const faults = options.faults;
    // Always in front of fauxqs: it enforces S3 conditional writes, and injects faults when asked.
    const proxy = await startFaultProxy({
      upstream: fauxqs.endpoint,
      plan: faults ?? new FaultPlan({ rates: {}, crashes: [] }, 0),
      sqsQueueNames: [QUEUES.sync],
    });
    stops.push(() => proxy.stop());
    // The functions reach S3 and SQS through the proxy; SQS clients send to the queue URL's host,
    // so the queues are created through it too (it faults only sends to the sync queue: the rule
    // target's and the redrive's).
    const functionsEndpoint = proxy.endpoint;
    const platformRequests = new RequestCounts(true);
    const sqs = platformRequests.instrument(createSqsClient(functionsEndpoint));
    const queueUrl = async (name: string, attributes: Record<string, string> = {}) =>
      (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes })))
        .QueueUrl as string;
    const queueArn = (name: string) => `arn:aws:sqs:${LOCAL_REGION}:${ACCOUNT}:${name}`;
    const syncDlqUrl = await queueUrl(QUEUES.syncDlq);
    const redriveDlqUrl = await queueUrl(QUEUES.redriveDlq);
    const ingestFailuresUrl = await queueUrl(QUEUES.ingestFailures);
    const archiveDlqUrl = await queueUrl(QUEUES.archiveDlq);
    const syncQueueUrl = await queueUrl(QUEUES.sync, {
      VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 10),
      MaximumMessageSize: String(SYNC_QUEUE.maximumMessageSize),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: queueArn(QUEUES.syncDlq),
        maxReceiveCount: SYNC_QUEUE.maxReceiveCount,
      }),
    });

    const bundles = await buildFunctions(join(options.workDir, 'build'));
    const ingestInvocations: LocalStackSummary['ingestInvocations'] = [];
    const updaterRequests: Record<string, number> = {};
    const metrics = new MetricsCollector((service, values) => {
      if (service === 'updater') {
        for (const [name, value] of Object.entries(values)) {
          if (!name.startsWith(AWS_REQUESTS_METRIC_PREFIX)) continue;
          const operation = name.slice(AWS_REQUESTS_METRIC_PREFIX.length);
          updaterRequests[operation] = (updaterRequests[operation] ?? 0) + value;
        }
      }
      // The invocation's own line (with Received), not the single-metric lines of skip reasons.
      if (service !== 'ingest' || values.Received === undefined) return;
      ingestInvocations.push({
        published: values.Published ?? 0,
        putEventsRequests: values[`${AWS_REQUESTS_METRIC_PREFIX}EventBridge.PutEvents`] ?? 0,
      });
    });
    const functionEnvironment: Record<FunctionName, Record<string, string>> = {
      ingest: { EVENT_BUS_NAME: BUS_NAME },
      updater: {
        INVOKE_TELEPHONY_INTEGRATION_API_ARN: `arn:aws:lambda:${LOCAL_REGION}:${ACCOUNT}:function:${TELEPHONY_FUNCTION}`,
        LEDGER_TABLE_NAME,
      },
      redrive: {
        LEDGER_TABLE_NAME,
        // A local run sweeps after it drained: nothing is in flight, every pending item is due.
        PENDING_RESEND_AFTER_MINUTES: '0',
        // Generated records start weeks before a run (local/input/generate.ts, a fixed epoch), and the
        // run's sweep covers them all in one window: wider than a deployed stack's operator bound.
        MAX_TRIGGER_WINDOW_DAYS: '3660',
        EVENT_BUS_NAME: BUS_NAME,
        SYNC_QUEUE_URL: syncQueueUrl,
        SYNC_DLQ_URL: syncDlqUrl,
        INVOKE_SALESFORCE_REST_API_ARN: `arn:aws:lambda:${LOCAL_REGION}:${ACCOUNT}:function:${REST_API_FUNCTION}`,
      },
    };
    const functions = {} as Record<FunctionName, LocalFunction>;
    let eventBridgeEndpoint = '';
    // The bus must exist before the functions read its endpoint; functions start lazily on first invoke.
    const startFunction = async (name: FunctionName, concurrency: number) => {
      const log = await openLogFile(join(logDir, `${name}.log`));
      stops.push(() => new Promise<void>((resolve) => log.end(resolve)));
      const fn = startLocalFunction({
        name,
        workerPath: bundles.worker,
        bundlePath: bundles.bundles[name],
        concurrency,
        timeoutMs: FUNCTION_TIMEOUTS[name] * 1000,
        environment: {
          AWS_REGION: LOCAL_REGION,
          // Lambda runs these bundles on nodejs22.x; the local stack may run on Node 20.
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          AWS_ACCESS_KEY_ID: 'local',
          AWS_SECRET_ACCESS_KEY: 'local',
          AWS_ENDPOINT_URL_S3: functionsEndpoint,
          AWS_ENDPOINT_URL_SQS: functionsEndpoint,
          AWS_ENDPOINT_URL_EVENTBRIDGE: eventBridgeEndpoint,
          AWS_ENDPOINT_URL_LAMBDA: standIn.endpoint,
          AWS_ENDPOINT_URL_DYNAMODB: dynamoDb.endpoint,
          AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
          AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
          S3_FORCE_PATH_STYLE: 'true',
          ARCHIVE_BUCKET_NAME: BUCKET,
          POWERTOOLS_METRICS_NAMESPACE: 'CtrSync',
          CTR_SYNC_REQUEST_METRICS: 'true',
          ...functionEnvironment[name],
        },
        onLogLine: (line) => {
          metrics.accept(line);
          log.write(`${line}\n`);
        },
        crashOnInvocation: faults?.crashInvocation(name),
      });
      stops.push(() => fn.stop());
      functions[name] = fn;
    };

    const sendTo = (url: string) => async (body: string) => {
      await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
    };
    // Lambda's on-failure destination record for an asynchronous invocation (AWS Lambda Developer Guide, "Capturing records of Lambda asynchronous invocations").
    const onFailureRecord = (functionName: string, event: EventBridgeEvent, error: Error) =>
      JSON.stringify({
        version: '1.0',
        timestamp: new Date().toISOString(),
        requestContext: {
          functionArn: `arn:aws:lambda:${LOCAL_REGION}:${ACCOUNT}:function:${functionName}`,
          condition: 'RetriesExhausted',
          approximateInvokeCount: ASYNC_INVOKE_ATTEMPTS,
        },
        requestPayload: event,
        responseContext: { statusCode: 200, functionError: 'Unhandled' },
        responsePayload: { errorType: error.name, errorMessage: error.message },
      });
    const targetOf = ({ name, target }: (typeof RULES)[number]): RuleTarget => {
      if (target.kind === 'delivery-stream') {
        return {
          id: name,
          inputPath: target.inputPath,
          // EventBridge puts the selected input on the delivery stream as one record.
          deliver: async (input) => {
            await firehoseClient.send(
              new PutRecordCommand({
                DeliveryStreamName: DELIVERY_STREAM,
                Record: { Data: Buffer.from(JSON.stringify(input)) },
              }),
            );
          },
          deadLetter: (event) => sendTo(archiveDlqUrl)(JSON.stringify(event)),
        };
      }
      if (target.kind === 'queue') {
        return {
          id: name,
          inputPath: target.inputPath,
          // Through the fault proxy when there is one: a failed send is retried, then dead-lettered.
          deliver: (input) => sendTo(syncQueueUrl)(JSON.stringify(input)),
          deadLetter: (event) => sendTo(syncDlqUrl)(JSON.stringify(event)),
        };
      }
      const functionName = target.function;
      return {
        id: name,
        maxAttempts: ASYNC_INVOKE_ATTEMPTS,
        deliver: async (input) => {
          await functions[functionName].invoke(input);
        },
        deadLetter: (event, error) =>
          sendTo(redriveDlqUrl)(onFailureRecord(functionName, event, error)),
      };
    };
    const rules: LocalRule[] = RULES.map((rule) => ({
      name: rule.name,
      eventBusName: BUS_NAME,
      eventPattern: rule.eventPattern,
      targets: [targetOf(rule)],
    }));
    const eventBridge = await startLocalEventBridge({
      rules,
      eventBusNames: [BUS_NAME],
      account: ACCOUNT,
      region: LOCAL_REGION,
      entryFault: (entry) => {
        const key = `entry ${contentKey(entry.Detail ?? '')}`;
        return faults?.decide('eventbridge', key)
          ? faults.choose('eventbridge', key, PUT_EVENTS_ENTRY_FAULTS)
          : undefined;
      },
      throttleRequest: (body) => faults?.decide('eventbridge', `call ${contentKey(body)}`) ?? false,
    });
    stops.push(() => eventBridge.stop());
    eventBridgeEndpoint = eventBridge.endpoint;

    await startFunction('ingest', 1);
    await startFunction('updater', UPDATER_MAPPING.maximumConcurrency);
    await startFunction('redrive', 1);

    const kinesisMapping = startKinesisEventSourceMapping({
      client: kinesis,
      streamName: STREAM_NAME,
      batchSize: INGEST_MAPPING.batchSize,
      maximumRetryAttempts: INGEST_MAPPING.maximumRetryAttempts,
      bisectBatchOnFunctionError: INGEST_MAPPING.bisectBatchOnFunctionError,
      invoke: (event) => functions.ingest.invoke(event),
      // As deployed: the batch, records included, in the archive bucket; its S3 event in the queue.
      onFailure: s3OnFailureDestination({
        s3,
        bucket: BUCKET,
        region: LOCAL_REGION,
        account: ACCOUNT,
        notify: (eventJson) => sendTo(ingestFailuresUrl)(eventJson),
      }),
    });
    stops.push(() => kinesisMapping.stop());
    const sqsMapping = startSqsEventSourceMapping({
      client: sqs,
      queueUrl: syncQueueUrl,
      queueArn: queueArn(QUEUES.sync),
      batchSize: UPDATER_MAPPING.batchSize,
      maximumBatchingWindowSeconds: UPDATER_MAPPING.maximumBatchingWindowSeconds,
      maximumConcurrency: UPDATER_MAPPING.maximumConcurrency,
      invoke: (event) => functions.updater.invoke(event),
    });
    stops.push(() => sqsMapping.stop());

    const eventBridgeClient = new EventBridgeClient({
      endpoint: eventBridge.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });

    const quiet = async () => {
      const sync = await queueDepth(sqs, syncQueueUrl);
      const busy = Object.values(functions).some((fn) => fn.pending > 0);
      return sync.visible === 0 && sync.inFlight === 0 && !busy && firehose.buffered === 0;
    };

    const stack: LocalStack = {
      logDir,
      async putRecords(records, partitionKeys = [], putOptions = {}) {
        if (putOptions.rate) {
          const slice = Math.max(1, Math.round(putOptions.rate / 10));
          const putAt: number[] = [];
          for (let start = 0; start < records.length; start += slice) {
            const began = Date.now();
            putAt.push(
              ...(await stack.putRecords(
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
        for (let start = 0; start < records.length; start += 500) {
          const chunk = records.slice(start, start + 500);
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
      },
      createVoiceCall: (contactId, createdDate) => standIn.createVoiceCall(contactId, createdDate),
      endpoints: {
        EVENTBRIDGE: eventBridge.endpoint,
        KINESIS: kinesisLocal.endpoint,
        SQS: fauxqs.endpoint,
        S3: fauxqs.endpoint,
        DYNAMODB: dynamoDb.endpoint,
        FIREHOSE: firehose.endpoint,
        LAMBDA: standIn.endpoint,
      },
      async purgeDeadLetters() {
        await sqs.send(new PurgeQueueCommand({ QueueUrl: syncDlqUrl }));
      },
      async wipeLedger() {
        let deleted = 0;
        let start: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
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
      },
      async putEvent(source, detailType, detail) {
        // As an operator would: run `aws events put-events` again until the entry is accepted.
        let lastError = '';
        for (let attempt = 1; attempt <= 10; attempt++) {
          try {
            const result = await eventBridgeClient.send(
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
      },
      async drain(onProgress) {
        // Each stage is asked for a short while at a time, so progress can be reported on long inputs;
        // two quiet observations in a row, so that work handed from one stage to the next is not missed.
        const settled = (wait: Promise<void>) =>
          Promise.race([
            wait.then(() => true),
            new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2_000)),
          ]).catch(() => false);
        let quietRounds = 0;
        while (quietRounds < 2) {
          const idle =
            (await settled(kinesisMapping.waitUntilIdle({ timeoutMs: 2_000 }))) &&
            (await settled(eventBridge.waitUntilIdle())) &&
            (await settled(sqsMapping.waitUntilIdle({ timeoutMs: 2_000 }))) &&
            (await quiet());
          if (onProgress) {
            const depth = await queueDepth(sqs, syncQueueUrl).catch(() => ({
              visible: 0,
              inFlight: 0,
            }));
            onProgress({
              received: metrics.total('Received'),
              published: metrics.total('Published'),
              synced: metrics.total('Synced'),
              inSyncQueue: depth.visible + depth.inFlight,
            });
          }
          quietRounds = idle ? quietRounds + 1 : 0;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      },
      async summary() {
        const depth = async (url: string) => {
          const { visible, inFlight } = await queueDepth(sqs, url);
          return visible + inFlight;
        };
        return {
          received: metrics.total('Received'),
          skipped: metrics.byDimension('Skipped'),
          rejected: metrics.total('Quarantined'),
          published: metrics.total('Published'),
          archived: metrics.total('Archived'),
          synced: metrics.total('Synced'),
          repaired: metrics.total('Repaired'),
          resent: metrics.byDimension('Resent'),
          superseded: metrics.total('Superseded'),
          duplicate: metrics.total('Duplicate'),
          failed: metrics.total('Failed'),
          inDlq: {
            sync: await depth(syncDlqUrl),
            redrive: await depth(redriveDlqUrl),
            ingest: await depth(ingestFailuresUrl),
            archive: await depth(archiveDlqUrl),
          },
          archive: { ...firehose.stats },
          kinesis: {
            reachedTip: await kinesisMapping.waitUntilIdle({ timeoutMs: 10_000 }).then(
              () => true,
              () => false,
            ),
            batches: kinesisMapping.counters.batches,
            records: kinesisMapping.counters.records,
            retries: kinesisMapping.counters.retries,
            recordsSentToOnFailure: kinesisMapping.counters.recordsSentToOnFailure,
          },
          eventBridge: { ...eventBridge.stats },
          requests: {
            functions: Object.fromEntries(
              Object.entries(metrics.totalsWithPrefix(AWS_REQUESTS_METRIC_PREFIX)),
            ),
            platform: platformRequests.snapshot(),
            updater: { ...updaterRequests },
          },
          ...(options.measureCapacity ? { dynamoDbCapacity: { ...dynamoDb.capacity } } : {}),
          ingestInvocations: [...ingestInvocations],
          durationsMs: Object.fromEntries(
            Object.entries(functions).map(([name, fn]) => [name, [...fn.durationsMs]]),
          ),
          logBytes: Object.fromEntries(
            Object.entries(functions).map(([name, fn]) => [name, fn.logBytes]),
          ),
          scvInvocations: structuredClone(standIn.invocationCount),
          faults: {
            injected: { ...(faults?.injected ?? {}) },
            crashes: Object.fromEntries(
              Object.entries(functions).map(([name, fn]) => [name, fn.crashes]),
            ),
          },
        };
      },
      voiceCalls: () => standIn.readVoiceCalls(),
      quarantined: () => listQuarantine(s3),
      async ledgerItem(contactId) {
        const result = await dynamo.send(
          new GetItemCommand({
            TableName: LEDGER_TABLE_NAME,
            Key: { contactId: { S: contactId } },
            ConsistentRead: true,
          }),
        );
        return result.Item ? toLedgerItem(result.Item) : undefined;
      },
      async archivedRecords() {
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
      },
      async peekDeadLetters(queue) {
        const url = {
          sync: syncDlqUrl,
          redrive: redriveDlqUrl,
          ingest: ingestFailuresUrl,
          archive: archiveDlqUrl,
        }[queue];
        const result = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: 10,
            VisibilityTimeout: 0,
            WaitTimeSeconds: 0,
          }),
        );
        return (result.Messages ?? []).map((message) => message.Body ?? '');
      },
      stop: stopAll,
    };
    return stack;
  } catch (error) {
    await stopAll();
    throw error;
  }
}
