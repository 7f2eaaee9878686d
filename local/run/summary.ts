/**
 * The counts of a local run: the functions' EMF metrics (what the CloudWatch
 * dashboard shows in AWS), the queues' depths, and what each stand-in and
 * event source mapping counted.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  AWS_REQUESTS_METRIC_PREFIX,
  type RequestCounts,
} from '../../functions/shared/request-metrics';
import type { CapacityCount, LocalDynamoDb } from '../dynamodb/server';
import type { KinesisEventSourceMapping } from '../event-source-mappings/kinesis';
import type { LocalEventBridge } from '../eventbridge/server';
import type { FaultPlan } from '../faults/plan';
import type { LocalFirehose } from '../firehose/server';
import type { FunctionName, LocalFunction } from '../lambda/runtime';
import type { ScvStandIn } from '../scv/stand-in';
import type { FunctionMetrics } from './functions';
import { queueDepth } from './operator';
import type { QueueUrls } from './resources';

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

/** Where {@link summarize} reads its counts. */
export interface SummarySources {
  metrics: FunctionMetrics;
  functions: Record<FunctionName, LocalFunction>;
  sqs: SQSClient;
  queueUrls: QueueUrls;
  firehose: LocalFirehose;
  kinesisMapping: KinesisEventSourceMapping;
  eventBridge: LocalEventBridge;
  dynamoDb: LocalDynamoDb;
  standIn: ScvStandIn;
  platformRequests: RequestCounts;
  faults?: FaultPlan;
  measureCapacity?: boolean;
}

/**
 * The run's counts so far. Waits up to 10 s for the Kinesis mapping to reach
 * the stream's tip (`kinesis.reachedTip` false if it does not). Throws when a
 * queue's depth cannot be read.
 */
export async function summarize(sources: SummarySources): Promise<LocalStackSummary> {
  const { metrics, functions, sqs, queueUrls, kinesisMapping } = sources;
  const total = (name: string) => metrics.collector.total(name);
  const depth = async (url: string) => {
    const { visible, inFlight } = await queueDepth(sqs, url);
    return visible + inFlight;
  };
  const perFunction = <T>(read: (fn: LocalFunction) => T) =>
    Object.fromEntries(Object.entries(functions).map(([name, fn]) => [name, read(fn)]));
  return {
    received: total('Received'),
    skipped: metrics.collector.byDimension('Skipped'),
    rejected: total('Quarantined'),
    published: total('Published'),
    archived: total('Archived'),
    synced: total('Synced'),
    repaired: total('Repaired'),
    resent: metrics.collector.byDimension('Resent'),
    superseded: total('Superseded'),
    duplicate: total('Duplicate'),
    failed: total('Failed'),
    inDlq: {
      sync: await depth(queueUrls.syncDlq),
      redrive: await depth(queueUrls.redriveDlq),
      ingest: await depth(queueUrls.ingestFailures),
      archive: await depth(queueUrls.archiveDlq),
    },
    archive: { ...sources.firehose.stats },
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
    eventBridge: { ...sources.eventBridge.stats },
    requests: {
      functions: Object.fromEntries(
        Object.entries(metrics.collector.totalsWithPrefix(AWS_REQUESTS_METRIC_PREFIX)),
      ),
      platform: sources.platformRequests.snapshot(),
      updater: { ...metrics.updaterRequests },
    },
    ...(sources.measureCapacity ? { dynamoDbCapacity: { ...sources.dynamoDb.capacity } } : {}),
    ingestInvocations: [...metrics.ingestInvocations],
    durationsMs: perFunction((fn) => [...fn.durationsMs]),
    logBytes: perFunction((fn) => fn.logBytes),
    scvInvocations: structuredClone(sources.standIn.invocationCount),
    faults: {
      injected: { ...(sources.faults?.injected ?? {}) },
      crashes: perFunction((fn) => fn.crashes),
    },
  };
}
