/**
 * A local stand-in for a Lambda event source mapping on a standard SQS
 * queue: polls the queue and invokes a function with batches of messages,
 * deleting only those the function handled.
 *
 * Behaviour follows the AWS Lambda Developer Guide:
 * - "Using Lambda with Amazon SQS" (event shape, batching window, maximum
 *   concurrency), https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
 * - "Handling errors for an SQS event source in Lambda" (partial batch
 *   responses with ReportBatchItemFailures, success and failure conditions),
 *   https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
 *
 * Failed messages are not sent anywhere: they stay in the queue, become
 * visible again after the queue's visibility timeout, and the queue's own
 * RedrivePolicy moves them to its dead-letter queue after `maxReceiveCount`
 * receives, exactly as with Lambda.
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSMessageAttribute, SQSRecord, SQSRecordAttributes } from 'aws-lambda';
import { requireInteger, sleep } from './common';

/** Where the mapping reports problems it handles itself (emulator errors, failed deletes). */
export interface MappingLogger {
  warn(message: string, ...details: unknown[]): void;
}

/** Options for {@link startSqsEventSourceMapping}. */
export interface SqsEventSourceMappingOptions {
  /** Client for the SQS endpoint, e.g. from `createSqsClient`. */
  client: SQSClient;
  queueUrl: string;
  /**
   * The queue's ARN, for `eventSourceARN` and `awsRegion`. When omitted it is
   * read with GetQueueAttributes before the first receive.
   */
  queueArn?: string;
  /**
   * The function. Its resolved value is read as a partial batch response
   * (`{ batchItemFailures: [{ itemIdentifier: messageId }] }`) when
   * {@link reportBatchItemFailures} is on; a rejection fails the whole batch.
   */
  invoke(event: SQSEvent): Promise<unknown>;
  /**
   * Most messages per invocation, 1–10 000. Default 10, as in Lambda. Above
   * 10, `maximumBatchingWindowSeconds` must be at least 1 (Lambda's rule),
   * because one ReceiveMessage call returns at most 10 messages.
   */
  batchSize?: number;
  /**
   * Longest time to gather a batch, in seconds, 0–300. Default 0: invoke with
   * whatever one ReceiveMessage call returns.
   */
  maximumBatchingWindowSeconds?: number;
  /**
   * Concurrent pollers, and so at most this many invocations at once. Default
   * 2 (Lambda's minimum; 1 is allowed here for strictly serial delivery).
   */
  maximumConcurrency?: number;
  /**
   * Whether the mapping has `FunctionResponseTypes: ['ReportBatchItemFailures']`.
   * When false the response is ignored and every message of a batch that
   * resolves is deleted. Default true, because the project's functions
   * answer with partial batch responses.
   */
  reportBatchItemFailures?: boolean;
  /**
   * `WaitTimeSeconds` of each ReceiveMessage call (long polling), 0–20.
   * Default 1, so that `stop()` and new messages are noticed quickly.
   */
  receiveWaitTimeSeconds?: number;
  /** Default `console`. */
  logger?: MappingLogger;
}

/** Counts since the mapping started. */
export interface SqsMappingCounters {
  /** Invocations of the function. */
  batches: number;
  /** Messages sent to the function, counting every redelivery. */
  messages: number;
  /** Messages deleted after the function handled them. */
  deleted: number;
  /** Messages left in the queue because the function failed them (or the whole batch). */
  failed: number;
}

/** Options for {@link SqsEventSourceMapping.waitUntilIdle}. */
export interface WaitUntilIdleOptions {
  /** Give up after this many milliseconds. Default 60 000. */
  timeoutMs?: number;
}

/** A running mapping. */
export interface SqsEventSourceMapping {
  /** A snapshot of the counters. */
  readonly counters: SqsMappingCounters;
  /**
   * Resolve once the queue shows no visible, in-flight or delayed messages
   * (ApproximateNumberOfMessages, …NotVisible, …Delayed all 0) on two
   * consecutive checks and the mapping holds no message.
   *
   * A failed message keeps the queue busy until it succeeds or the queue's
   * RedrivePolicy moves it to the dead-letter queue, which takes at least
   * one visibility timeout per receive.
   *
   * @throws Error when that does not happen within `timeoutMs`, or when the
   *   mapping is stopped meanwhile.
   */
  waitUntilIdle(options?: WaitUntilIdleOptions): Promise<void>;
  /**
   * Stop polling. Resolves when every poller has ended; an invocation in
   * progress is awaited and its successful messages deleted. Messages
   * received but not yet delivered become visible after the visibility
   * timeout.
   */
  stop(): Promise<void>;
}

/**
 * Start `maximumConcurrency` pollers on `options.queueUrl`, each gathering a
 * batch (up to `batchSize` messages within `maximumBatchingWindowSeconds`),
 * invoking the function, then deleting with DeleteMessageBatch the messages
 * that succeeded.
 *
 * Outcome of an invocation, per "Handling errors for an SQS event source":
 * - resolves with `undefined`/`null`, an object without `batchItemFailures`,
 *   or an empty list: every message is deleted;
 * - resolves with `batchItemFailures` whose every `itemIdentifier` is a
 *   messageId in the batch: all other messages are deleted;
 * - rejects, or resolves with an invalid response (not an object, a
 *   `batchItemFailures` that is not a list, an entry that is not an object,
 *   an empty, missing or non-string `itemIdentifier`, or one that is not in
 *   the batch): nothing is deleted.
 *
 * Returns at once; if the queue's ARN has to be read and that fails, it is
 * retried every second with a warning.
 *
 * @throws RangeError for an option out of range.
 */
export function startSqsEventSourceMapping(
  options: SqsEventSourceMappingOptions,
): SqsEventSourceMapping {
  const batchSize = options.batchSize ?? 10;
  const windowSeconds = options.maximumBatchingWindowSeconds ?? 0;
  const concurrency = options.maximumConcurrency ?? 2;
  const receiveWaitTimeSeconds = options.receiveWaitTimeSeconds ?? 1;
  requireInteger('batchSize', batchSize, 1, 10_000);
  requireInteger('maximumBatchingWindowSeconds', windowSeconds, 0, 300);
  requireInteger('maximumConcurrency', concurrency, 1, 1_000);
  requireInteger('receiveWaitTimeSeconds', receiveWaitTimeSeconds, 0, 20);
  if (batchSize > 10 && windowSeconds < 1) {
    throw new RangeError('batchSize above 10 needs maximumBatchingWindowSeconds of at least 1');
  }

  const { client, queueUrl } = options;
  const logger = options.logger ?? console;
  const reportBatchItemFailures = options.reportBatchItemFailures ?? true;
  const abort = new AbortController();
  const { signal } = abort;
  const counters: SqsMappingCounters = { batches: 0, messages: 0, deleted: 0, failed: 0 };
  /** Messages received and not yet deleted or given up on by this mapping. */
  let held = 0;
  let lastError: unknown;
  let source: Promise<{ queueArn: string; awsRegion: string }> | undefined;

  const resolveSource = async (): Promise<{ queueArn: string; awsRegion: string }> => {
    let queueArn = options.queueArn;
    while (queueArn === undefined) {
      try {
        const { Attributes } = await client.send(
          new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
          { abortSignal: signal },
        );
        queueArn = Attributes?.QueueArn;
        if (queueArn === undefined) throw new Error(`Queue ${queueUrl} has no QueueArn`);
      } catch (error) {
        if (signal.aborted) throw error;
        lastError = error;
        logger.warn(`SQS mapping: cannot read the ARN of ${queueUrl}:`, error);
        await sleep(1_000, signal);
      }
    }
    return { queueArn, awsRegion: queueArn.split(':')[3] ?? 'us-east-1' };
  };

  const receive = async (maxMessages: number, waitSeconds: number): Promise<Message[]> => {
    const { Messages } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: maxMessages,
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: signal },
    );
    const messages = Messages ?? [];
    held += messages.length;
    return messages;
  };

  /** Fill `batch` with up to `batchSize` messages; it stays empty when the queue is. */
  const gather = async (batch: Message[]): Promise<void> => {
    batch.push(...(await receive(Math.min(10, batchSize), receiveWaitTimeSeconds)));
    if (windowSeconds === 0) return;
    const deadline = Date.now() + windowSeconds * 1000;
    while (batch.length < batchSize && !signal.aborted) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) break;
      // Long polling returns as soon as a message arrives, so waiting up to
      // the end of the window (rounded up to whole seconds) costs no latency.
      const wait = Math.min(receiveWaitTimeSeconds, Math.ceil(remainingMs / 1000));
      batch.push(...(await receive(Math.min(10, batchSize - batch.length), wait)));
    }
  };

  const deliver = async (
    messages: Message[],
    { queueArn, awsRegion }: { queueArn: string; awsRegion: string },
  ): Promise<void> => {
    const records = messages.map((message) => toLambdaRecord(message, queueArn, awsRegion));
    counters.batches += 1;
    counters.messages += records.length;
    let failed: ReadonlySet<string> | 'all';
    try {
      const response = await options.invoke({ Records: records });
      failed = reportBatchItemFailures ? failedMessageIds(response, records) : new Set();
    } catch {
      failed = 'all';
    }
    const succeeded = failed === 'all' ? [] : records.filter((r) => !failed.has(r.messageId));
    counters.failed += records.length - succeeded.length;
    await deleteMessages(succeeded);
  };

  const deleteMessages = async (records: SQSRecord[]): Promise<void> => {
    for (let start = 0; start < records.length; start += 10) {
      const chunk = records.slice(start, start + 10);
      try {
        // Not aborted on stop: the function has handled these messages.
        const result = await client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map((record, index) => ({
              Id: String(index),
              ReceiptHandle: record.receiptHandle,
            })),
          }),
        );
        counters.deleted += result.Successful?.length ?? 0;
        if (result.Failed !== undefined && result.Failed.length > 0) {
          logger.warn('SQS mapping: some handled messages were not deleted', result.Failed);
        }
      } catch (error) {
        logger.warn(
          'SQS mapping: DeleteMessageBatch failed; the messages will be redelivered',
          error,
        );
      }
    }
  };

  const poll = async (): Promise<void> => {
    while (!signal.aborted) {
      const messages: Message[] = [];
      try {
        source ??= resolveSource();
        const resolved = await source;
        await gather(messages);
        if (messages.length > 0 && !signal.aborted) await deliver(messages, resolved);
        lastError = undefined;
      } catch (error) {
        if (signal.aborted) return;
        lastError = error;
        logger.warn(`SQS mapping: polling ${queueUrl}:`, error);
        await sleep(1_000, signal);
      } finally {
        held -= messages.length;
      }
    }
  };

  const pollers = Array.from({ length: concurrency }, () => poll());
  let stopped: Promise<void> | undefined;

  const queueIsEmpty = async (): Promise<boolean> => {
    const heldBefore = held;
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    );
    return (
      heldBefore === 0 &&
      held === 0 &&
      Attributes?.ApproximateNumberOfMessages === '0' &&
      Attributes.ApproximateNumberOfMessagesNotVisible === '0' &&
      (Attributes.ApproximateNumberOfMessagesDelayed ?? '0') === '0'
    );
  };

  return {
    get counters() {
      return { ...counters };
    },
    async waitUntilIdle(waitOptions = {}) {
      const timeoutMs = waitOptions.timeoutMs ?? 60_000;
      const deadline = Date.now() + timeoutMs;
      let idleChecks = 0;
      while (idleChecks < 2) {
        if (signal.aborted) throw new Error('The SQS mapping was stopped');
        if (Date.now() >= deadline) {
          const error = lastError === undefined ? '' : `; last error: ${String(lastError)}`;
          throw new Error(
            `SQS mapping on ${queueUrl} not idle after ${timeoutMs} ms (${held} message(s) held${error})`,
          );
        }
        idleChecks = (await queueIsEmpty()) ? idleChecks + 1 : 0;
        if (idleChecks < 2) await sleep(50);
      }
    },
    stop() {
      if (stopped === undefined) {
        abort.abort();
        stopped = Promise.all(pollers).then(() => undefined);
      }
      return stopped;
    },
  };
}

/** A received message in the shape Lambda gives the function. */
function toLambdaRecord(message: Message, queueArn: string, awsRegion: string): SQSRecord {
  const record: SQSRecord = {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: { ...message.Attributes } as SQSRecordAttributes,
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        toLambdaMessageAttribute(value),
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion,
  };
  if (message.MD5OfMessageAttributes !== undefined) {
    record.md5OfMessageAttributes = message.MD5OfMessageAttributes;
  }
  return record;
}

/** Lambda spells message attributes in camelCase, binary values in base64, and always sends the (unused) list fields. */
function toLambdaMessageAttribute(value: MessageAttributeValue): SQSMessageAttribute {
  return {
    ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
    ...(value.BinaryValue === undefined
      ? {}
      : { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
    stringListValues: value.StringListValues ?? [],
    binaryListValues: (value.BinaryListValues ?? []).map((bytes) =>
      Buffer.from(bytes).toString('base64'),
    ),
    dataType: value.DataType ?? 'String',
  };
}

/**
 * The messageIds a response reports as failed, or `'all'` when the response
 * is invalid, read as Lambda does with ReportBatchItemFailures.
 */
function failedMessageIds(response: unknown, records: readonly SQSRecord[]): Set<string> | 'all' {
  if (response === undefined || response === null) return new Set();
  if (typeof response !== 'object' || Array.isArray(response)) return 'all';
  const failures: unknown = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return 'all';
  const known = new Set(records.map((record) => record.messageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const identifier: unknown =
      failure !== null && typeof failure === 'object'
        ? (failure as { itemIdentifier?: unknown }).itemIdentifier
        : undefined;
    if (typeof identifier !== 'string' || identifier === '' || !known.has(identifier)) return 'all';
    failed.add(identifier);
  }
  return failed;
}
