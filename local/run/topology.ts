/**
 * The topology the local stack builds: the same bus rules, targets and event
 * source mapping settings as serverless.yml. The rule patterns are the very
 * JSON that serverless.yml includes (`events/patterns.json`); the mapping
 * settings are the parameter defaults, and test/template checks both against
 * the template `serverless package` produces.
 */
import patterns from '../../events/patterns.json';
import type { EventPattern } from '../eventbridge/event-pattern';
import type { FunctionName } from '../lambda/runtime';

/** Where a rule delivers. */
export type RuleTargetSpec =
  | { kind: 'function'; function: FunctionName }
  | { kind: 'queue'; queue: 'sync'; inputPath: '$.detail' }
  | { kind: 'delivery-stream'; inputPath: '$.detail' };

/** The rules on the ctr-sync bus, by the names the README uses. */
export const RULES: { name: string; eventPattern: EventPattern; target: RuleTargetSpec }[] = [
  {
    name: 'sync',
    eventPattern: patterns.ctrReceived,
    target: { kind: 'queue', queue: 'sync', inputPath: '$.detail' },
  },
  {
    name: 'archive',
    eventPattern: patterns.ctrReceived,
    target: { kind: 'delivery-stream', inputPath: '$.detail' },
  },
  {
    name: 'redrive-requested',
    eventPattern: patterns.redriveRequested,
    target: { kind: 'function', function: 'redrive' },
  },
  {
    name: 'start-call-processing',
    eventPattern: patterns.startCallProcessing,
    target: { kind: 'function', function: 'redrive' },
  },
];

/** Kinesis event source mapping of ingest (serverless.yml `ingest*` params). */
export const INGEST_MAPPING = {
  batchSize: 100,
  maximumRetryAttempts: 10,
  bisectBatchOnFunctionError: true,
  functionResponseType: 'ReportBatchItemFailures',
} as const;

/** SQS event source mapping of updater (serverless.yml `updater*` params). */
export const UPDATER_MAPPING = {
  batchSize: 10,
  maximumBatchingWindowSeconds: 1,
  maximumConcurrency: 5,
  functionResponseType: 'ReportBatchItemFailures',
} as const;

/**
 * Sync queue settings (serverless.yml params `maxReceiveCount`,
 * `syncQueueVisibilityTimeoutSeconds`; SyncQueue `MaximumMessageSize`, in
 * bytes: 1 MiB, the most SQS allows).
 */
export const SYNC_QUEUE = {
  maxReceiveCount: 5,
  visibilityTimeoutSeconds: 180,
  maximumMessageSize: 1_048_576,
} as const;

/** Function timeouts in seconds (serverless.yml). */
export const FUNCTION_TIMEOUTS: Record<FunctionName, number> = {
  ingest: 30,
  updater: 30,
  redrive: 300,
};

/** Async invocation attempts of an EventBridge-invoked function: the first and `maximumRetryAttempts: 2`. */
export const ASYNC_INVOKE_ATTEMPTS = 3;

/**
 * The sync ledger table (serverless.yml `SyncLedgerTable`): key, attribute
 * definitions and the sparse pending index, as CreateTable takes them.
 */
export const LEDGER_TABLE = {
  AttributeDefinitions: [
    { AttributeName: 'contactId', AttributeType: 'S' },
    { AttributeName: 'pending', AttributeType: 'S' },
    { AttributeName: 'pendingSince', AttributeType: 'N' },
  ],
  KeySchema: [{ AttributeName: 'contactId', KeyType: 'HASH' }],
  GlobalSecondaryIndexes: [
    {
      IndexName: 'pending',
      KeySchema: [
        { AttributeName: 'pending', KeyType: 'HASH' },
        { AttributeName: 'pendingSince', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'KEYS_ONLY' },
    },
  ],
} as const;

/** The CreateTable input of the sync ledger named `tableName` (on demand, as deployed). */
export function ledgerTableInput(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions: LEDGER_TABLE.AttributeDefinitions.map((definition) => ({
      ...definition,
    })),
    KeySchema: LEDGER_TABLE.KeySchema.map((key) => ({ ...key })),
    GlobalSecondaryIndexes: LEDGER_TABLE.GlobalSecondaryIndexes.map((index) => ({
      IndexName: index.IndexName,
      KeySchema: index.KeySchema.map((key) => ({ ...key })),
      Projection: { ...index.Projection },
    })),
  };
}

/**
 * The archive delivery stream (serverless.yml `ArchiveDeliveryStream`): its
 * prefix before the hour, compression and record delimiter. Buffering is the
 * template's default size; the interval is shorter locally (1 s instead of
 * 300 s) so a local run's archive is complete moments after it drains.
 */
export const ARCHIVE_STREAM = {
  prefix: 'archive/',
  timestampPrefix: 'archive/!{timestamp:yyyy/MM/dd/HH}/',
  compressionFormat: 'GZIP',
  bufferSizeMB: 5,
  localBufferIntervalSeconds: 1,
} as const;

/**
 * The alarms on the dead-letter and failures queues (resources/monitoring.yml
 * `*-not-empty`: `ApproximateNumberOfMessagesVisible` greater than
 * `dlqAlarmThreshold`, 0 by default), by the name after `ctr-sync-<stage>-`
 * and the queue's; the local CloudWatch evaluates these, and test/template
 * checks them against the template.
 */
export const QUEUE_ALARMS = [
  { alarm: 'sync-dlq-not-empty', queue: 'sync-dlq' },
  { alarm: 'redrive-dlq-not-empty', queue: 'redrive-dlq' },
  { alarm: 'ingest-failures-not-empty', queue: 'ingest-failures' },
  { alarm: 'archive-dlq-not-empty', queue: 'archive-dlq' },
] as const;

/** `dlqAlarmThreshold`'s default (serverless.yml). */
export const DLQ_ALARM_THRESHOLD = 0;
