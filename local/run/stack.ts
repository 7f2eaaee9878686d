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
 *
 * Started in the order of local/README.md's run/ row: the services
 * (services.ts), the stage's resources (resources.ts), the bus (bus.ts), the
 * functions (functions.ts), then the event source mappings; what an operator
 * does to the running stack is in operator.ts, its counts in summary.ts.
 */
import { join } from 'node:path';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PurgeQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { LedgerItem } from '../../domain/ports';
import { LOCAL_REGION } from '../emulators/start-emulators';
import { startKinesisEventSourceMapping } from '../event-source-mappings/kinesis';
import { s3OnFailureDestination } from '../event-source-mappings/s3-on-failure';
import { startSqsEventSourceMapping } from '../event-source-mappings/sqs';
import type { FaultPlan } from '../faults/plan';
import type { FunctionName, LocalFunction } from '../lambda/runtime';
import type { StoredVoiceCall } from '../scv/stand-in';
import { startBus } from './bus';
import { collectFunctionMetrics, startFunctions } from './functions';
import {
  archivedRecords,
  listQuarantine,
  peekMessages,
  putEvent,
  putRecords,
  type QuarantinedRecord,
  queueDepth,
  readLedgerItem,
  wipeLedger,
} from './operator';
import {
  ACCOUNT,
  BUCKET,
  createQueues,
  createStorage,
  QUEUES,
  queueArn,
  STREAM_NAME,
} from './resources';
import { startServices } from './services';
import { type LocalStackSummary, summarize } from './summary';
import { INGEST_MAPPING, UPDATER_MAPPING } from './topology';

export { LOCAL_STAGE } from './resources';
export type { QuarantinedRecord } from './operator';
export type { LocalStackSummary } from './summary';

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

/** Counts while the stack drains (the functions' metrics, and the sync queue's depth). */
export interface DrainProgress {
  received: number;
  published: number;
  synced: number;
  /** Messages in the sync queue, visible and in flight. */
  inSyncQueue: number;
}

/** A running local stack. */
export interface LocalStack {
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
   * KINESIS, SQS, S3, DYNAMODB, FIREHOSE, LAMBDA (the SCV stand-in) and
   * CLOUDWATCH (the queues' metrics and alarms, for `ctr-sync status`).
   */
  endpoints: Record<string, string>;
  /** Put an event on the bus as an operator would with `aws events put-events`. */
  putEvent(source: string, detailType: string, detail: object): Promise<void>;
  /** Delete every message of a dead-letter queue (SQS PurgeQueue), as if they had expired. */
  purgeDeadLetters(queue: 'sync'): Promise<void>;
  /** Delete every item of the sync ledger (as a restore from an empty backup would leave it). */
  wipeLedger(): Promise<number>;
  /**
   * Resolves when every stage is quiet: the stream consumed to its tip, the
   * bus, the sync queue, the functions and the delivery stream idle, twice in
   * a row. `onProgress` is called about every 2 s while it waits, with the
   * counts so far.
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
    const { faults } = options;
    const services = await startServices(options, stops);
    const { kinesisLocal, fauxqs, standIn, dynamoDb, firehose, proxy, clients } = services;
    const { dynamo, kinesis, s3, sqs } = clients;
    await createStorage(clients);
    const queueUrls = await createQueues(sqs, options.visibilityTimeoutSeconds ?? 10);

    // The bus needs the functions (its redrive targets) and the functions need its endpoint:
    // the targets look a function up when they deliver, after every function has started.
    const functions = {} as Record<FunctionName, LocalFunction>;
    const eventBridge = await startBus({
      sqs,
      firehose: clients.firehose,
      queueUrls,
      invoke: (name, event) => functions[name].invoke(event),
      faults,
    });
    stops.push(() => eventBridge.stop());
    const metrics = collectFunctionMetrics();
    Object.assign(
      functions,
      await startFunctions(
        {
          workDir: options.workDir,
          logDir,
          // The functions reach S3 and SQS through the fault proxy.
          endpoints: {
            s3AndSqs: proxy.endpoint,
            eventBridge: eventBridge.endpoint,
            lambda: standIn.endpoint,
            dynamoDb: dynamoDb.endpoint,
          },
          queueUrls,
          metrics,
          faults,
        },
        stops,
      ),
    );

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
        notify: async (eventJson) => {
          await sqs.send(
            new SendMessageCommand({ QueueUrl: queueUrls.ingestFailures, MessageBody: eventJson }),
          );
        },
      }),
    });
    stops.push(() => kinesisMapping.stop());
    const sqsMapping = startSqsEventSourceMapping({
      client: sqs,
      queueUrl: queueUrls.sync,
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
      const sync = await queueDepth(sqs, queueUrls.sync);
      const busy = Object.values(functions).some((fn) => fn.pending > 0);
      return sync.visible === 0 && sync.inFlight === 0 && !busy && firehose.buffered === 0;
    };

    return {
      logDir,
      putRecords: (records, partitionKeys, putOptions) =>
        putRecords(kinesis, records, partitionKeys, putOptions),
      createVoiceCall: (contactId, createdDate) => standIn.createVoiceCall(contactId, createdDate),
      endpoints: {
        EVENTBRIDGE: eventBridge.endpoint,
        KINESIS: kinesisLocal.endpoint,
        SQS: fauxqs.endpoint,
        S3: fauxqs.endpoint,
        DYNAMODB: dynamoDb.endpoint,
        FIREHOSE: firehose.endpoint,
        LAMBDA: standIn.endpoint,
        CLOUDWATCH: services.cloudWatch.endpoint,
      },
      async purgeDeadLetters() {
        await sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrls.syncDlq }));
      },
      wipeLedger: () => wipeLedger(dynamo),
      putEvent: (source, detailType, detail) =>
        putEvent(eventBridgeClient, source, detailType, detail),
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
            const depth = await queueDepth(sqs, queueUrls.sync).catch(() => ({
              visible: 0,
              inFlight: 0,
            }));
            onProgress({
              received: metrics.collector.total('Received'),
              published: metrics.collector.total('Published'),
              synced: metrics.collector.total('Synced'),
              inSyncQueue: depth.visible + depth.inFlight,
            });
          }
          quietRounds = idle ? quietRounds + 1 : 0;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      },
      summary: () =>
        summarize({
          metrics,
          functions,
          sqs,
          queueUrls,
          firehose,
          kinesisMapping,
          eventBridge,
          dynamoDb,
          standIn,
          platformRequests: services.platformRequests,
          faults,
          measureCapacity: options.measureCapacity,
        }),
      voiceCalls: () => standIn.readVoiceCalls(),
      quarantined: () => listQuarantine(s3),
      ledgerItem: (contactId) => readLedgerItem(dynamo, contactId),
      archivedRecords: () => archivedRecords(s3),
      peekDeadLetters: (queue) =>
        peekMessages(
          sqs,
          {
            sync: queueUrls.syncDlq,
            redrive: queueUrls.redriveDlq,
            ingest: queueUrls.ingestFailures,
            archive: queueUrls.archiveDlq,
          }[queue],
        ),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
