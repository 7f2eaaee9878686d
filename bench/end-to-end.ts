/**
 * End-to-end runs for `npm run bench` (figures 3, 4 and 6): generated
 * contact records through the local stack, and through the stock design
 * (bench/stock-design/handler.ts) on the same emulators, both against the
 * SCV stand-in answering `updateVoiceCall` after the same latency.
 *
 * Each run starts its own services on 127.0.0.1 and stops them. What is
 * measured, per run:
 * - `seconds`: from the first PutRecords call to the last VoiceCall update
 *   (the stand-in's LastModifiedDate), in seconds; `recordsPerSecond` is the
 *   records put divided by it. The stream has one shard, so it is per shard.
 * - `latencyMs`: per contact whose VoiceCall was updated, from the return of
 *   the PutRecords call that carried its newest version (first delivery) to
 *   its VoiceCall's last update, in milliseconds; p50 and p99.
 * - `requests`: AWS requests by operation (`S3.HeadObject`), retries
 *   included, counted by the SDK middleware of functions/shared/request-metrics.ts
 *   in the functions and in what the local stack does on AWS's behalf.
 * - `durationsMs`: handler run time of every invocation, per function.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KinesisStreamEvent } from 'aws-lambda';
import { compareContactRecordVersions } from '../domain/versions';
import {
  createKinesisClient,
  createS3Client,
  createStream,
  startFauxqsServer,
  startKinesisLocal,
} from '../local/emulators/start-emulators';
import { startKinesisEventSourceMapping } from '../local/event-source-mappings/kinesis';
import type { InputRecord } from '../local/input/read';
import { buildFunctions, BUNDLE_OPTIONS, startLocalFunction } from '../local/lambda/runtime';
import { type StoredVoiceCall, startScvStandIn } from '../local/scv/stand-in';
import { startLocalStack } from '../local/run/stack';
import { quantile } from './figure';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';

const REGION = 'us-east-1';
const TELEPHONY_FUNCTION = 'InvokeTelephonyIntegrationApiFunction';
const TELEPHONY_ARN = `arn:aws:lambda:${REGION}:000000000000:function:${TELEPHONY_FUNCTION}`;

/** What one end-to-end run measured; see the module comment. */
export interface EndToEndRun {
  design: 'ctr-sync' | 'stock' | 'stock, batch at once';
  records: number;
  telephonyLatencyMs: number;
  seconds: number;
  recordsPerSecond: number;
  latencyMs: { p50: number; p99: number; contacts: number };
  requests: Record<string, number>;
  /** `updateVoiceCall` invocations the SCV stand-in received. */
  telephonyInvokes: number;
  durationsMs: Record<string, number[]>;
  /** Bytes each function wrote to its log stream. */
  logBytes: Record<string, number>;
}

/** A ctr-sync run: also what the pipeline's metrics counted. */
export interface PipelineRun extends EndToEndRun {
  design: 'ctr-sync';
  /** Versions the updater stored and sent (newer than what the archive held), duplicates, superseded. */
  synced: number;
  /** Sends beyond the first of a sync (repairs), and syncs that sent a claimed version again, by reason. */
  repaired: number;
  resent: Record<string, number>;
  duplicate: number;
  superseded: number;
  published: number;
  ingestInvocations: { published: number; putEventsRequests: number }[];
  /** Whether every DLQ is empty and the shard reached its tip. */
  clean: boolean;
  /** DynamoDB request units of the ledger (see local/dynamodb/server.ts CapacityCount). */
  dynamoDb: {
    writeUnits: number;
    readUnits: number;
    indexWriteUnits: number;
    failedConditionalWrites: number;
  };
  /** Bytes the archive delivery stream bills (records rounded up to 5 KB), and its objects. */
  firehose: { billedBytes: number; records: number; objects: number };
  /** The updater's AWS requests by operation. */
  updaterRequests: Record<string, number>;
}

/** The newest version's first record, per ContactId. */
function newestRecords(records: readonly InputRecord[]): Map<string, number> {
  const newest = new Map<string, { index: number; version: string }>();
  records.forEach((record, index) => {
    if (!record.contactId) return;
    let version: unknown;
    try {
      version = (JSON.parse(record.data.toString('utf8')) as { LastUpdateTimestamp?: unknown })
        .LastUpdateTimestamp;
    } catch {
      return;
    }
    if (typeof version !== 'string') return;
    const current = newest.get(record.contactId);
    if (
      !current ||
      compareContactRecordVersions(
        { LastUpdateTimestamp: version },
        { LastUpdateTimestamp: current.version },
      ) > 0
    ) {
      newest.set(record.contactId, { index, version });
    }
  });
  return new Map([...newest].map(([contactId, { index }]) => [contactId, index]));
}

/**
 * The same deliveries, reordered so that two deliveries of one ContactId are
 * at least `gap` records apart, each contact's deliveries kept in their order:
 * a stream where versions arrive minutes apart, as Connect publishes them,
 * rather than the compressed replay of the generated timeline, in which a
 * contact's versions often share an ingest or an updater batch.
 */
export function spreadDeliveries(records: readonly InputRecord[], gap: number): InputRecord[] {
  const out: InputRecord[] = [];
  const lastAt = new Map<string, number>();
  let waiting = [...records];
  while (waiting.length > 0) {
    const next: InputRecord[] = [];
    const blocked = new Set<string>();
    for (const record of waiting) {
      const key = record.contactId;
      const last = key === undefined ? undefined : lastAt.get(key);
      if (
        key !== undefined &&
        (blocked.has(key) || (last !== undefined && out.length - last < gap))
      ) {
        blocked.add(key);
        next.push(record);
        continue;
      }
      if (key !== undefined) lastAt.set(key, out.length);
      out.push(record);
    }
    if (next.length === waiting.length) {
      // Too few contacts left to keep them apart: append the rest in order.
      out.push(...next);
      break;
    }
    waiting = next;
  }
  return out;
}

/** Seconds, records per second and latencies from put times and the stored VoiceCalls. */
function timing(
  records: readonly InputRecord[],
  putAt: readonly number[],
  voiceCalls: Record<string, StoredVoiceCall>,
) {
  const firstPut = Math.min(...putAt);
  const newest = newestRecords(records);
  const latencies: number[] = [];
  let lastUpdate = firstPut;
  for (const [contactId, call] of Object.entries(voiceCalls)) {
    if (!call.LastModifiedDate || call.updateCount === 0) continue;
    const updatedAt = Date.parse(call.LastModifiedDate);
    lastUpdate = Math.max(lastUpdate, updatedAt);
    const index = newest.get(contactId);
    const putTime = index === undefined ? undefined : putAt[index];
    if (putTime !== undefined) latencies.push(updatedAt - putTime);
  }
  const seconds = (lastUpdate - firstPut) / 1000;
  return {
    seconds,
    recordsPerSecond: records.length / seconds,
    latencyMs: {
      p50: latencies.length ? quantile(latencies, 0.5) : Number.NaN,
      p99: latencies.length ? quantile(latencies, 0.99) : Number.NaN,
      contacts: latencies.length,
    },
  };
}

/** SCV creates the VoiceCall when a voice call starts; the contact record comes after it ends. */
async function createVoiceCalls(
  records: readonly InputRecord[],
  create: (contactId: string, createdDate: string) => Promise<void>,
): Promise<void> {
  const created = new Set<string>();
  for (const record of records) {
    if (!record.contactId || !record.voice || created.has(record.contactId)) continue;
    created.add(record.contactId);
    await create(record.contactId, record.initiationTimestamp ?? '2024-01-01T00:00:00Z');
  }
}

/** Requests the platform makes that AWS bills (not the local stack's own set-up and drain probes). */
const BILLED_PLATFORM_OPERATIONS = new Set([
  'SQS.SendMessage',
  'SQS.SendMessageBatch',
  'SQS.ReceiveMessage',
  'SQS.DeleteMessage',
  'SQS.DeleteMessageBatch',
  'SQS.ChangeMessageVisibility',
  'SQS.ChangeMessageVisibilityBatch',
]);

/** Run `records` through the local stack (ctr-sync). */
export async function runPipeline(
  records: readonly InputRecord[],
  options: { telephonyLatencyMs: number; rate?: number },
): Promise<PipelineRun> {
  const workDir = await mkdtemp(join(tmpdir(), 'ctr-sync-bench-'));
  const stack = await startLocalStack({
    workDir,
    telephonyLatencyMs: options.telephonyLatencyMs,
    measureCapacity: true,
  });
  try {
    await createVoiceCalls(records, (contactId, date) => stack.createVoiceCall(contactId, date));
    const putAt = await stack.putRecords(
      records.map((record) => record.data),
      records.map((record) => record.contactId),
      { rate: options.rate },
    );
    await stack.drain();
    const voiceCalls = await stack.voiceCalls();
    const summary = await stack.summary();
    const platform = Object.fromEntries(
      Object.entries(summary.requests.platform).filter(([operation]) =>
        BILLED_PLATFORM_OPERATIONS.has(operation),
      ),
    );
    const requests = { ...summary.requests.functions };
    for (const [operation, count] of Object.entries(platform)) {
      requests[operation] = (requests[operation] ?? 0) + count;
    }
    // The delivery stream's writes of archive objects are S3 PUTs billed to the account.
    requests['S3.PutObject'] = (requests['S3.PutObject'] ?? 0) + summary.archive.objects;
    return {
      design: 'ctr-sync',
      records: records.length,
      telephonyLatencyMs: options.telephonyLatencyMs,
      ...timing(records, putAt, voiceCalls),
      requests,
      telephonyInvokes: summary.scvInvocations[TELEPHONY_FUNCTION]?.updateVoiceCall ?? 0,
      durationsMs: summary.durationsMs,
      logBytes: summary.logBytes,
      synced: summary.synced,
      repaired: summary.repaired,
      resent: summary.resent,
      duplicate: summary.duplicate,
      superseded: summary.superseded,
      published: summary.published,
      ingestInvocations: summary.ingestInvocations,
      clean:
        summary.kinesis.reachedTip &&
        summary.inDlq.sync === 0 &&
        summary.inDlq.redrive === 0 &&
        summary.inDlq.ingest === 0 &&
        summary.inDlq.archive === 0,
      dynamoDb: summary.dynamoDbCapacity ?? {
        writeUnits: 0,
        readUnits: 0,
        indexWriteUnits: 0,
        failedConditionalWrites: 0,
      },
      firehose: {
        billedBytes: summary.archive.billedBytes,
        records: summary.archive.accepted,
        objects: summary.archive.objects,
      },
      updaterRequests: summary.requests.updater,
    };
  } finally {
    await stack.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

/**
 * Run `records` through the stock design: the same emulators (kinesis-local,
 * fauxqs S3, the SCV stand-in with the same latency) and the same local
 * Kinesis event source mapping (batches of 100, one at a time per shard),
 * with bench/stock-design/handler.ts bundled like the functions and run in
 * a local execution environment.
 */
export async function runStock(
  records: readonly InputRecord[],
  options: { telephonyLatencyMs: number; concurrency?: 'sequential' | 'batch' },
): Promise<EndToEndRun> {
  const workDir = await mkdtemp(join(tmpdir(), 'ctr-sync-bench-stock-'));
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const kinesisLocal = await startKinesisLocal();
    stops.push(() => kinesisLocal.stop());
    const fauxqs = await startFauxqsServer();
    stops.push(() => fauxqs.stop());
    const standIn = await startScvStandIn({
      storePath: join(workDir, 'voice-calls.json'),
      telephonyFunctionName: TELEPHONY_FUNCTION,
      restApiFunctionName: 'InvokeSalesforceRestApiFunction',
      updateLatencyMs: options.telephonyLatencyMs,
    });
    stops.push(() => standIn.stop());
    const kinesis = createKinesisClient(kinesisLocal.endpoint);
    await createStream(kinesis, 'stock', 1);
    const s3 = createS3Client(fauxqs.endpoint);
    await s3.send(new CreateBucketCommand({ Bucket: 'stock-backup' }));

    const { worker } = await buildFunctions(join(workDir, 'build'));
    const bundlePath = join(workDir, 'build', 'stock.mjs');
    await build({
      ...BUNDLE_OPTIONS,
      entryPoints: [fileURLToPath(new URL('./stock-design/handler.ts', import.meta.url))],
      outfile: bundlePath,
      logLevel: 'error',
    });
    const durationsMs: number[] = [];
    const stock = startLocalFunction({
      name: 'stock',
      workerPath: worker,
      bundlePath,
      concurrency: 1,
      timeoutMs: 900_000,
      environment: {
        AWS_REGION: REGION,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_S3: fauxqs.endpoint,
        AWS_ENDPOINT_URL_LAMBDA: standIn.endpoint,
        AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
        AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
        S3_FORCE_PATH_STYLE: 'true',
        ARCHIVE_BUCKET_NAME: 'stock-backup',
        INVOKE_TELEPHONY_INTEGRATION_API_ARN: TELEPHONY_ARN,
        CTR_SYNC_REQUEST_METRICS: 'true',
        STOCK_CONCURRENCY: options.concurrency ?? 'sequential',
      },
    });
    stops.push(() => stock.stop());
    const requests: Record<string, number> = {};
    const mapping = startKinesisEventSourceMapping({
      client: kinesis,
      streamName: 'stock',
      batchSize: 100,
      invoke: async (event: KinesisStreamEvent) => {
        const answer = (await stock.invoke(event)) as { requests?: Record<string, number> };
        for (const [operation, count] of Object.entries(answer.requests ?? {})) {
          requests[operation] = (requests[operation] ?? 0) + count;
        }
        return { batchItemFailures: [] };
      },
    });
    stops.push(() => mapping.stop());

    await createVoiceCalls(records, (contactId, date) => standIn.createVoiceCall(contactId, date));
    const putAt = new Array<number>(records.length);
    for (let start = 0; start < records.length; start += 500) {
      const chunk = records.slice(start, start + 500);
      const result = await kinesis.send(
        new PutRecordsCommand({
          StreamName: 'stock',
          Records: chunk.map((record) => ({
            Data: record.data,
            PartitionKey: record.contactId ?? randomUUID(),
          })),
        }),
      );
      if (result.FailedRecordCount) throw new Error('PutRecords failed for the stock run');
      putAt.fill(Date.now(), start, start + chunk.length);
    }
    await mapping.waitUntilIdle({ timeoutMs: 3_600_000 });
    while (stock.pending > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    const voiceCalls = await standIn.readVoiceCalls();
    durationsMs.push(...stock.durationsMs);
    return {
      design: options.concurrency === 'batch' ? 'stock, batch at once' : 'stock',
      records: records.length,
      telephonyLatencyMs: options.telephonyLatencyMs,
      ...timing(records, putAt, voiceCalls),
      requests,
      telephonyInvokes: standIn.invocationCount[TELEPHONY_FUNCTION]?.updateVoiceCall ?? 0,
      durationsMs: { stock: durationsMs },
      logBytes: { stock: stock.logBytes },
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  }
}
