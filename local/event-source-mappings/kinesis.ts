/**
 * A local stand-in for a Lambda event source mapping on a Kinesis data
 * stream: polls every shard and invokes a function with batches of records,
 * with Lambda's checkpoint, retry, bisect and on-failure behaviour.
 *
 * Behaviour follows the AWS Lambda Developer Guide:
 * - "Using Lambda with Kinesis Data Streams" (event shape, polling, batching),
 *   https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html
 * - "Configuring partial batch response with Kinesis Data Streams and Lambda",
 *   https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html
 * - "Retain discarded batch records for a Kinesis Data Streams event source"
 *   (error handling, MaximumRetryAttempts, BisectBatchOnFunctionError,
 *   on-failure record), https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
 */
import { randomUUID } from 'node:crypto';
import {
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type KinesisClient,
  type _Record as KinesisRecord,
  ListShardsCommand,
  type Shard,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { requireInteger, sleep } from './common';

/** Where the mapping reports problems it handles itself (emulator errors, discarded batches). */
export interface MappingLogger {
  warn(message: string, ...details: unknown[]): void;
}

/**
 * The record Lambda sends to an on-failure destination when it gives up on a
 * batch from a Kinesis stream (an SQS or SNS destination receives exactly
 * this; an S3 destination also receives the invocation payload, which is the
 * second argument of {@link KinesisEventSourceMappingOptions.onFailure}).
 */
export interface KinesisOnFailureRecord {
  requestContext: {
    /** A fresh UUID per record. */
    requestId: string;
    functionArn: string;
    /** Why the batch was given up on. Only retry exhaustion is emulated. */
    condition: 'RetryAttemptsExhausted';
    /** How many times the records of this batch were sent to the function. */
    approximateInvokeCount: number;
  };
  responseContext: {
    statusCode: number;
    executedVersion: string;
    /** Present when the last invocation threw (or answered with an invalid response). */
    functionError?: 'Unhandled';
  };
  version: '1.0';
  /** When the batch was given up on, ISO-8601 UTC. */
  timestamp: string;
  KinesisBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    /** ISO-8601 UTC. */
    approximateArrivalOfFirstRecord: string;
    /** ISO-8601 UTC. */
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

/** Options for {@link startKinesisEventSourceMapping}. */
export interface KinesisEventSourceMappingOptions {
  /** Client for the Kinesis endpoint, e.g. from `createKinesisClient`. */
  client: KinesisClient;
  streamName: string;
  /**
   * The function. Its resolved value is read as a partial batch response
   * (`{ batchItemFailures: [{ itemIdentifier: sequenceNumber }] }`) when
   * {@link reportBatchItemFailures} is on; a rejection is a function error.
   */
  invoke(event: KinesisStreamEvent): Promise<unknown>;
  /** Most records per invocation, 1–10 000. Default 100, as in Lambda. */
  batchSize?: number;
  /**
   * Retries of a failed batch before it is given up on; -1 (the default, as
   * in Lambda) retries until the batch succeeds, 0–10 000 otherwise.
   */
  maximumRetryAttempts?: number;
  /** Split a batch in two after a function error, without using a retry. Default false. */
  bisectBatchOnFunctionError?: boolean;
  /**
   * Whether the mapping has `FunctionResponseTypes: ['ReportBatchItemFailures']`.
   * When false the function's response is ignored and only a rejection is a
   * failure. Default true, because the project's functions answer with
   * partial batch responses.
   */
  reportBatchItemFailures?: boolean;
  /**
   * The on-failure destination: called once per batch given up on after
   * retries ran out, with Lambda's destination record and the last failed
   * event. The shard moves on only after it resolves; if it rejects it is
   * called again after {@link retryDelayMs}. Without it such batches are
   * discarded with a warning, as Lambda does with no destination.
   */
  onFailure?(record: KinesisOnFailureRecord, event: KinesisStreamEvent): unknown;
  /**
   * Pause in milliseconds after a GetRecords call that returned nothing.
   * Default 200 (Lambda polls each shard about once per second; locally
   * shorter keeps the pipeline responsive).
   */
  pollIntervalMs?: number;
  /** Pause in milliseconds before retrying a failed batch. Default 200. */
  retryDelayMs?: number;
  /** Reported in on-failure records. Default `arn:aws:lambda:<region>:000000000000:function:local`. */
  functionArn?: string;
  /** `invokeIdentityArn` of every record. Default `arn:aws:iam::000000000000:role/local-lambda`. */
  invokeIdentityArn?: string;
  /** Default `console`. */
  logger?: MappingLogger;
}

/** Counts since the mapping started. */
export interface KinesisMappingCounters {
  /** Invocations of the function. */
  batches: number;
  /** Records sent to the function, counting every redelivery. */
  records: number;
  /** Failed invocations after which records of the batch were sent again (bisections included). */
  retries: number;
  /** Batches given up on after retries ran out (handed to `onFailure` when set). */
  sentToOnFailure: number;
  /** Records in those batches. */
  recordsSentToOnFailure: number;
}

/** Options for {@link KinesisEventSourceMapping.waitUntilIdle}. */
export interface WaitUntilIdleOptions {
  /** Give up after this many milliseconds. Default 60 000. */
  timeoutMs?: number;
}

/** A running mapping. */
export interface KinesisEventSourceMapping {
  /**
   * The stream's ARN and the shards being polled (those the stream had when
   * polling began), once the mapping has described the stream.
   */
  readonly source: { streamArn: string; shardIds: readonly string[] } | undefined;
  /** A snapshot of the counters. */
  readonly counters: KinesisMappingCounters;
  /**
   * Resolve once every shard has been read up to the stream's tip by a
   * GetRecords call made after this call began (an empty read with
   * `MillisBehindLatest` 0), and no batch is in flight or waiting for a retry.
   *
   * @throws Error when that does not happen within `timeoutMs` (e.g. a batch
   *   is being retried forever, or the stream cannot be described), or when
   *   the mapping is stopped meanwhile.
   */
  waitUntilIdle(options?: WaitUntilIdleOptions): Promise<void>;
  /**
   * Stop polling. Resolves when every shard's loop has ended; an invocation
   * in progress is awaited, a pending retry is abandoned (its records were
   * never checkpointed, so a new mapping would read them again).
   */
  stop(): Promise<void>;
}

/** A contiguous run of a shard's records that has not been checkpointed yet. */
interface PendingBatch {
  records: KinesisStreamRecord[];
  /** Failed attempts counted against `maximumRetryAttempts`. */
  failedAttempts: number;
  /** Invocations that included these records. */
  invocations: number;
  /** Why the latest attempt failed: the function's error or the invalid response. */
  lastFailure?: unknown;
}

type BatchOutcome =
  { kind: 'success' } | { kind: 'partial'; fromIndex: number } | { kind: 'error'; reason: unknown };

/**
 * Start polling every shard of `options.streamName` from TRIM_HORIZON, one
 * poller per shard, one batch in flight per shard, records in order.
 *
 * Returns at once; the stream is described and its shards listed in the
 * background, retried every second (with a warning) until that succeeds.
 *
 * Outcome of an invocation, per the Lambda Developer Guide:
 * - resolves with `undefined`/`null`, an object without `batchItemFailures`,
 *   or an empty list: success, the shard checkpoints past the batch;
 * - resolves with `batchItemFailures` whose every `itemIdentifier` is a
 *   sequence number in the batch: the shard checkpoints just before the
 *   lowest of them and retries from that record (a retry attempt);
 * - rejects, or resolves with an invalid response (not an object, a
 *   `batchItemFailures` that is not a list, an entry that is not an object,
 *   an empty, missing or non-string `itemIdentifier`, or one that is not in
 *   the batch): the whole batch failed; with `bisectBatchOnFunctionError` a
 *   batch of two or more records is split in halves (no retry used),
 *   otherwise it is retried.
 * After `maximumRetryAttempts` failed retries the batch goes to `onFailure`
 * and the shard moves on.
 *
 * Shards created later by resharding are not picked up.
 *
 * @throws RangeError for an option out of Lambda's range.
 */
export function startKinesisEventSourceMapping(
  options: KinesisEventSourceMappingOptions,
): KinesisEventSourceMapping {
  const batchSize = options.batchSize ?? 100;
  const maximumRetryAttempts = options.maximumRetryAttempts ?? -1;
  requireInteger('batchSize', batchSize, 1, 10_000);
  requireInteger('maximumRetryAttempts', maximumRetryAttempts, -1, 10_000);
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  const retryDelayMs = options.retryDelayMs ?? 200;
  requireInteger('pollIntervalMs', pollIntervalMs, 0, Number.MAX_SAFE_INTEGER);
  requireInteger('retryDelayMs', retryDelayMs, 0, Number.MAX_SAFE_INTEGER);

  const { client, streamName } = options;
  const logger = options.logger ?? console;
  const abort = new AbortController();
  const counters: KinesisMappingCounters = {
    batches: 0,
    records: 0,
    retries: 0,
    sentToOnFailure: 0,
    recordsSentToOnFailure: 0,
  };
  let source: { streamArn: string; shardIds: string[] } | undefined;
  let pollers: ShardPoller[] | undefined;
  let startError: unknown;
  /** Incremented at the start of every GetRecords call, across shards. */
  const readTick = { value: 0 };

  const run = async (): Promise<void> => {
    let described: { streamArn: string; shards: Shard[] } | undefined;
    while (described === undefined) {
      try {
        described = await describeStream(client, streamName, abort.signal);
      } catch (error) {
        if (abort.signal.aborted) return;
        startError = error;
        logger.warn(`Kinesis mapping: cannot describe stream ${streamName}:`, error);
        await sleep(1_000, abort.signal);
        if (abort.signal.aborted) return;
      }
    }
    const { streamArn, shards } = described;
    const awsRegion = streamArn.split(':')[3] ?? 'us-east-1';
    const context = createContext(streamArn, awsRegion);
    pollers = shards.map((shard) => new ShardPoller(context, shard));
    source = { streamArn, shardIds: pollers.map((poller) => poller.shardId) };
    await Promise.all(pollers.map((poller) => poller.run()));
  };

  const createContext = (streamArn: string, awsRegion: string): MappingContext => ({
    client,
    streamName,
    streamArn,
    invoke: options.invoke,
    batchSize,
    maximumRetryAttempts,
    bisect: options.bisectBatchOnFunctionError ?? false,
    reportBatchItemFailures: options.reportBatchItemFailures ?? true,
    onFailure: options.onFailure,
    pollIntervalMs,
    retryDelayMs,
    functionArn: options.functionArn ?? `arn:aws:lambda:${awsRegion}:000000000000:function:local`,
    invokeIdentityArn: options.invokeIdentityArn ?? 'arn:aws:iam::000000000000:role/local-lambda',
    awsRegion,
    logger,
    abort,
    readTick,
    counters,
  });

  const running = run();
  const isIdleSince = (tick: number): boolean =>
    pollers?.every((poller) => poller.isIdleSince(tick)) ?? false;
  const describeBusy = (tick: number): string =>
    pollers === undefined
      ? `stream not described yet${startError === undefined ? '' : `: ${String(startError)}`}`
      : pollers
          .filter((poller) => !poller.isIdleSince(tick))
          .map((poller) => poller.describe())
          .join('; ');

  let stopped: Promise<void> | undefined;
  return {
    get source() {
      return source;
    },
    get counters() {
      return { ...counters };
    },
    async waitUntilIdle(waitOptions = {}) {
      const timeoutMs = waitOptions.timeoutMs ?? 60_000;
      const since = readTick.value;
      const deadline = Date.now() + timeoutMs;
      while (!isIdleSince(since)) {
        if (abort.signal.aborted) throw new Error('The Kinesis mapping was stopped');
        if (Date.now() >= deadline) {
          throw new Error(
            `Kinesis mapping on ${streamName} not idle after ${timeoutMs} ms: ${describeBusy(since)}`,
          );
        }
        await sleep(20);
      }
    },
    stop() {
      if (stopped === undefined) {
        abort.abort();
        stopped = running;
      }
      return stopped;
    },
  };
}

interface MappingContext {
  client: KinesisClient;
  streamName: string;
  streamArn: string;
  invoke(event: KinesisStreamEvent): Promise<unknown>;
  batchSize: number;
  maximumRetryAttempts: number;
  bisect: boolean;
  reportBatchItemFailures: boolean;
  onFailure: KinesisEventSourceMappingOptions['onFailure'];
  pollIntervalMs: number;
  retryDelayMs: number;
  functionArn: string;
  invokeIdentityArn: string;
  awsRegion: string;
  logger: MappingLogger;
  abort: AbortController;
  readTick: { value: number };
  counters: KinesisMappingCounters;
}

class ShardPoller {
  readonly shardId: string;
  private iterator: string | undefined;
  private lastReadSequenceNumber: string | undefined;
  /** Batches read but not checkpointed, oldest first; the head is the one in flight. */
  private readonly pending: PendingBatch[] = [];
  /** `readTick` of the latest read that found the shard fully consumed. */
  private caughtUpAtTick = -1;
  /** The shard is closed and every record in it has been handled. */
  private finished = false;
  private lastError: unknown;

  constructor(
    private readonly context: MappingContext,
    shard: Shard,
  ) {
    this.shardId = shard.ShardId ?? '';
  }

  isIdleSince(tick: number): boolean {
    return this.pending.length === 0 && (this.finished || this.caughtUpAtTick > tick);
  }

  describe(): string {
    const head = this.pending[0];
    if (head !== undefined) {
      return `${this.shardId} has ${head.records.length} record(s) from ${head.records[0]?.kinesis.sequenceNumber} after ${head.failedAttempts} failed attempt(s), last: ${String(head.lastFailure)}`;
    }
    const error = this.lastError === undefined ? '' : `, last error: ${String(this.lastError)}`;
    return `${this.shardId} has not reached the stream tip${error}`;
  }

  async run(): Promise<void> {
    const { signal } = this.context.abort;
    while (!signal.aborted) {
      try {
        if (this.pending.length === 0) {
          const found = await this.read();
          if (this.finished) return;
          if (!found) await sleep(this.context.pollIntervalMs, signal);
          continue;
        }
        await this.processHead();
      } catch (error) {
        if (signal.aborted) return;
        this.lastError = error;
        this.context.logger.warn(`Kinesis mapping: shard ${this.shardId}:`, error);
        await sleep(1_000, signal);
      }
    }
  }

  private async openIterator(): Promise<void> {
    const { client, streamName } = this.context;
    const after = this.lastReadSequenceNumber;
    const response = await client.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: this.shardId,
        ...(after === undefined
          ? { ShardIteratorType: 'TRIM_HORIZON' }
          : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: after }),
      }),
      { abortSignal: this.context.abort.signal },
    );
    this.iterator = response.ShardIterator;
  }

  /** Read the next records into `pending`; false when there were none. */
  private async read(): Promise<boolean> {
    const context = this.context;
    if (this.iterator === undefined) {
      await this.openIterator();
      // Only a closed shard that has been read to its end has no iterator.
      if (this.iterator === undefined) {
        this.finished = true;
        return false;
      }
    }
    context.readTick.value += 1;
    const tick = context.readTick.value;
    let response: GetRecordsCommandOutput;
    try {
      response = await context.client.send(
        new GetRecordsCommand({ ShardIterator: this.iterator, Limit: context.batchSize }),
        { abortSignal: context.abort.signal },
      );
    } catch (error) {
      if (error instanceof Error && error.name === 'ExpiredIteratorException') {
        // Shard iterators expire after five minutes, e.g. while a batch is
        // retried; the next read opens one after the last record read.
        this.iterator = undefined;
        return false;
      }
      throw error;
    }
    this.lastError = undefined;
    this.iterator = response.NextShardIterator;
    const records = response.Records ?? [];
    const last = records.at(-1);
    if (last === undefined) {
      if ((response.MillisBehindLatest ?? 0) === 0) this.caughtUpAtTick = tick;
      if (this.iterator === undefined) this.finished = true;
      return false;
    }
    this.lastReadSequenceNumber = last.SequenceNumber;
    this.pending.push({
      records: records.map((record) => this.toLambdaRecord(record)),
      failedAttempts: 0,
      invocations: 0,
    });
    return true;
  }

  private toLambdaRecord(record: KinesisRecord): KinesisStreamRecord {
    const context = this.context;
    const sequenceNumber = record.SequenceNumber ?? '';
    const arrival = record.ApproximateArrivalTimestamp ?? new Date();
    return {
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: record.PartitionKey ?? '',
        sequenceNumber,
        data: Buffer.from(record.Data ?? new Uint8Array()).toString('base64'),
        approximateArrivalTimestamp: arrival.getTime() / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${this.shardId}:${sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: context.invokeIdentityArn,
      awsRegion: context.awsRegion,
      eventSourceARN: context.streamArn,
    };
  }

  private async processHead(): Promise<void> {
    const context = this.context;
    const batch = this.pending[0];
    if (batch === undefined) return;

    // A copy per invocation, so a function that mutates its event cannot
    // change what a retry delivers.
    const event: KinesisStreamEvent = { Records: structuredClone(batch.records) };
    context.counters.batches += 1;
    context.counters.records += batch.records.length;
    batch.invocations += 1;
    const outcome = await this.invoke(event, batch.records);

    if (outcome.kind === 'success') {
      this.pending.shift();
      return;
    }
    batch.lastFailure =
      outcome.kind === 'partial' ? 'reported batch item failures' : outcome.reason;
    if (outcome.kind === 'partial') {
      batch.records = batch.records.slice(outcome.fromIndex);
      batch.failedAttempts += 1;
    } else if (context.bisect && batch.records.length > 1) {
      const middle = Math.ceil(batch.records.length / 2);
      this.pending.splice(
        0,
        1,
        { ...batch, records: batch.records.slice(0, middle) },
        { ...batch, records: batch.records.slice(middle) },
      );
      context.counters.retries += 1;
      await sleep(context.retryDelayMs, context.abort.signal);
      return;
    } else {
      batch.failedAttempts += 1;
    }

    const retriesLeft =
      context.maximumRetryAttempts < 0 || batch.failedAttempts <= context.maximumRetryAttempts;
    if (retriesLeft) {
      context.counters.retries += 1;
      await sleep(context.retryDelayMs, context.abort.signal);
      return;
    }
    await this.giveUp(batch, outcome.kind === 'error');
    this.pending.shift();
  }

  private async invoke(
    event: KinesisStreamEvent,
    records: readonly KinesisStreamRecord[],
  ): Promise<BatchOutcome> {
    let response: unknown;
    try {
      response = await this.context.invoke(event);
    } catch (error) {
      return { kind: 'error', reason: error };
    }
    if (!this.context.reportBatchItemFailures) return { kind: 'success' };
    return interpretResponse(response, records);
  }

  /** Hand the batch to the on-failure destination; returns when the shard may move on. */
  private async giveUp(batch: PendingBatch, functionError: boolean): Promise<void> {
    const context = this.context;
    const first = batch.records[0];
    const last = batch.records.at(-1);
    if (first === undefined || last === undefined) return;
    context.counters.sentToOnFailure += 1;
    context.counters.recordsSentToOnFailure += batch.records.length;
    const record: KinesisOnFailureRecord = {
      requestContext: {
        requestId: randomUUID(),
        functionArn: context.functionArn,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: batch.invocations,
      },
      responseContext: {
        statusCode: 200,
        executedVersion: '$LATEST',
        ...(functionError ? { functionError: 'Unhandled' as const } : {}),
      },
      version: '1.0',
      timestamp: new Date().toISOString(),
      KinesisBatchInfo: {
        shardId: this.shardId,
        startSequenceNumber: first.kinesis.sequenceNumber,
        endSequenceNumber: last.kinesis.sequenceNumber,
        approximateArrivalOfFirstRecord: isoFromEpochSeconds(
          first.kinesis.approximateArrivalTimestamp,
        ),
        approximateArrivalOfLastRecord: isoFromEpochSeconds(
          last.kinesis.approximateArrivalTimestamp,
        ),
        batchSize: batch.records.length,
        streamArn: context.streamArn,
      },
    };
    const onFailure = context.onFailure;
    if (onFailure === undefined) {
      context.logger.warn(
        'Kinesis mapping: retries exhausted and no onFailure destination; discarding batch',
        record.KinesisBatchInfo,
      );
      return;
    }
    const event: KinesisStreamEvent = { Records: structuredClone(batch.records) };
    const { signal } = context.abort;
    // The shard must not move past records the destination has not accepted.
    while (!signal.aborted) {
      try {
        await onFailure(record, event);
        return;
      } catch (error) {
        context.logger.warn('Kinesis mapping: onFailure rejected; calling it again', error);
        await sleep(context.retryDelayMs, signal);
      }
    }
  }
}

/**
 * Read a function response as Lambda does with ReportBatchItemFailures
 * ("Success and failure conditions" in the partial batch response guide).
 */
function interpretResponse(
  response: unknown,
  records: readonly KinesisStreamRecord[],
): BatchOutcome {
  if (response === undefined || response === null) return { kind: 'success' };
  if (typeof response !== 'object' || Array.isArray(response)) {
    return invalid('the response is not an object');
  }
  const failures: unknown = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'success' };
  if (!Array.isArray(failures)) return invalid('batchItemFailures is not a list');
  if (failures.length === 0) return { kind: 'success' };

  const indexBySequenceNumber = new Map(
    records.map((record, index) => [record.kinesis.sequenceNumber, index]),
  );
  let fromIndex = records.length;
  for (const failure of failures) {
    const identifier: unknown =
      failure !== null && typeof failure === 'object'
        ? (failure as { itemIdentifier?: unknown }).itemIdentifier
        : undefined;
    if (typeof identifier !== 'string' || identifier === '') {
      return invalid('an itemIdentifier is missing, empty or not a string');
    }
    const index = indexBySequenceNumber.get(identifier);
    if (index === undefined) {
      return invalid(`itemIdentifier ${identifier} is not a sequence number in the batch`);
    }
    fromIndex = Math.min(fromIndex, index);
  }
  return { kind: 'partial', fromIndex };
}

function invalid(message: string): BatchOutcome {
  return { kind: 'error', reason: new Error(`Invalid partial batch response: ${message}`) };
}

async function describeStream(
  client: KinesisClient,
  streamName: string,
  abortSignal: AbortSignal,
): Promise<{ streamArn: string; shards: Shard[] }> {
  const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }), {
    abortSignal,
  });
  const streamArn = summary.StreamDescriptionSummary?.StreamARN;
  if (streamArn === undefined) throw new Error(`Stream ${streamName} has no ARN`);
  const shards: Shard[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      // ListShards accepts either a stream name or a continuation token, never both.
      new ListShardsCommand(
        nextToken === undefined ? { StreamName: streamName } : { NextToken: nextToken },
      ),
      { abortSignal },
    );
    shards.push(...(page.Shards ?? []));
    nextToken = page.NextToken;
  } while (nextToken !== undefined);
  return { streamArn, shards };
}

function isoFromEpochSeconds(seconds: number): string {
  return new Date(Math.round(seconds * 1000)).toISOString();
}
