/**
 * Publishing to an EventBridge bus with PutEvents, the way its API reference
 * asks: at most 10 entries and less than 1 MB (counted as 1,000,000 bytes) of
 * entries per request, every response entry's ErrorCode checked (a request
 * can succeed while some of its entries fail; FailedEntryCount alone is not
 * trusted), failed entries retried with backoff.
 *
 * Sources: Amazon EventBridge API Reference, PutEvents; EventBridge User
 * Guide, "Sending events with PutEvents" and "Calculating PutEvents event
 * entry size"; AWS Compute Blog, "More room to build: serverless services now
 * support payloads up to 1 MB" (January 2026, the limit raised from 256 KB).
 */
import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { PermanentError, TransientError } from '../../domain/errors';

/** Entries per PutEvents request (EventBridge quota). */
export const MAX_ENTRIES_PER_REQUEST = 10;
/**
 * Total entry size per PutEvents request must be less than this many bytes:
 * "the total entry size must be less than 1MB" (Amazon EventBridge API
 * Reference, PutEvents; the same words in `@aws-sdk/client-eventbridge`'s
 * PutEventsCommand), entries sized as {@link entrySize} does. 1 MB is read as
 * 1,000,000 bytes, the smaller of its two readings. That also keeps the
 * archive rule's Firehose record (`InputPath: $.detail`, never larger than
 * the entry) under Firehose's 1,000 KiB (1,024,000 bytes) per record (Amazon
 * Data Firehose API Reference, Record), and the sync rule's SQS message (the
 * same detail) under SQS's 1 MiB (functions/shared/sqs-queues.ts).
 */
export const MAX_REQUEST_BYTES = 1_000_000;
/**
 * PutEvents requests in flight at once, by default: the sockets the SDK's
 * Node HTTP handler opens per host (maxSockets 50). Requests beyond it would
 * only wait for a socket with their bodies already serialized (a 10,000
 * record batch is 800 requests, about 30 MB of bodies), and the handler warns
 * when more than twice that many wait.
 */
export const DEFAULT_MAX_CONCURRENT_REQUESTS = 50;

/** An event to publish; `EventBusName` is added by the publisher. */
export interface EventEntry {
  Source: string;
  DetailType: string;
  /** JSON text. */
  Detail: string;
}

/** Per-entry outcome, in the order of the entries given. */
export type PublishOutcome = { ok: true } | { ok: false; errorCode: string; errorMessage: string };

/** Options of {@link createEventPublisher}. */
export interface EventPublisherOptions {
  client: EventBridgeClient;
  eventBusName: string;
  /** Attempts per entry, the first included (default 4). */
  maxAttempts?: number;
  /** Base of the exponential backoff between attempts, in milliseconds (default 100). */
  baseDelayMs?: number;
  /** Upper bound of one backoff delay, in milliseconds (default 2000). */
  maxDelayMs?: number;
  /** PutEvents requests in flight at once (default {@link DEFAULT_MAX_CONCURRENT_REQUESTS}). */
  maxConcurrentRequests?: number;
  /** Injected for tests; defaults to a real timer. */
  sleep?: (ms: number) => Promise<void>;
}

/** Publishes entries and reports each one's outcome. */
export interface EventPublisher {
  /**
   * Publish `entries`, retrying failed ones; resolves with one outcome per
   * entry once each has succeeded or used its attempts. Requests go out at
   * most `maxConcurrentRequests` at a time. Entries that can
   * never be published (over the size limit) fail without a request.
   * Request-level errors that outlast the SDK's own retries count as a
   * failed attempt for every entry of that request.
   */
  publishAll(entries: readonly EventEntry[]): Promise<PublishOutcome[]>;
}

/** UTF-8 size of an entry as EventBridge counts it (no Time, no Resources). */
export function entrySize(entry: EventEntry): number {
  return (
    Buffer.byteLength(entry.Source, 'utf8') +
    Buffer.byteLength(entry.DetailType, 'utf8') +
    Buffer.byteLength(entry.Detail, 'utf8')
  );
}

/**
 * Split entry indices into requests of at most 10 entries and less than
 * {@link MAX_REQUEST_BYTES} (1,000,000 bytes) of entries each. Indices of
 * entries too large for any request (that size or more on their own) are
 * returned in `oversized`.
 *
 * @param sizes - each entry's size in bytes, as {@link entrySize} counts it.
 */
export function chunkEntries(sizes: readonly number[]): {
  chunks: number[][];
  oversized: number[];
} {
  const chunks: number[][] = [];
  const oversized: number[] = [];
  let current: number[] = [];
  let currentBytes = 0;
  sizes.forEach((size, index) => {
    if (size >= MAX_REQUEST_BYTES) {
      oversized.push(index);
      return;
    }
    if (current.length === MAX_ENTRIES_PER_REQUEST || currentBytes + size >= MAX_REQUEST_BYTES) {
      chunks.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(index);
    currentBytes += size;
  });
  if (current.length > 0) chunks.push(current);
  return { chunks, oversized };
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `fn` of every item, at most `limit` pending at once; results in the order of `items`. */
async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Create an {@link EventPublisher} over the given client and bus. */
export function createEventPublisher(options: EventPublisherOptions): EventPublisher {
  const { client, eventBusName } = options;
  const maxAttempts = options.maxAttempts ?? 4;
  const baseDelayMs = options.baseDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 2000;
  const maxConcurrentRequests = Math.max(
    1,
    options.maxConcurrentRequests ?? DEFAULT_MAX_CONCURRENT_REQUESTS,
  );
  const sleep = options.sleep ?? realSleep;

  async function sendChunk(
    entries: readonly EventEntry[],
    indices: number[],
    outcomes: PublishOutcome[],
  ): Promise<number[]> {
    const request: PutEventsRequestEntry[] = indices.map((index) => ({
      ...(entries[index] as EventEntry),
      EventBusName: eventBusName,
    }));
    let response: PutEventsCommandOutput;
    try {
      response = await client.send(new PutEventsCommand({ Entries: request }));
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      for (const index of indices) {
        outcomes[index] = { ok: false, errorCode: name, errorMessage: 'PutEvents request failed' };
      }
      return indices;
    }
    const failed: number[] = [];
    indices.forEach((index, position) => {
      const result = response.Entries?.[position];
      if (result && !result.ErrorCode && result.EventId) {
        outcomes[index] = { ok: true };
      } else {
        outcomes[index] = {
          ok: false,
          errorCode: result?.ErrorCode ?? 'MissingResultEntry',
          errorMessage: result?.ErrorMessage ?? 'No result entry for this event',
        };
        failed.push(index);
      }
    });
    return failed;
  }

  return {
    async publishAll(entries) {
      const outcomes: PublishOutcome[] = new Array(entries.length);
      const sizes = entries.map(entrySize);
      const { chunks, oversized } = chunkEntries(sizes);
      for (const index of oversized) {
        outcomes[index] = {
          ok: false,
          errorCode: 'EntryTooLarge',
          errorMessage: `Entry of ${sizes[index]} bytes exceeds the PutEvents limit of ${MAX_REQUEST_BYTES}`,
        };
      }
      let pending = chunks.flat();
      for (let attempt = 1; pending.length > 0; attempt++) {
        const retry: number[] = [];
        const round = chunkEntries(pending.map((index) => sizes[index] as number)).chunks.map(
          (positions) => positions.map((position) => pending[position] as number),
        );
        const results = await mapWithConcurrency(round, maxConcurrentRequests, (indices) =>
          sendChunk(entries, indices, outcomes),
        );
        for (const failed of results) retry.push(...failed);
        if (retry.length === 0 || attempt >= maxAttempts) break;
        const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
        await sleep(Math.random() * ceiling);
        pending = retry;
      }
      return outcomes;
    },
  };
}

/**
 * Error for an entry that failed to publish; transient unless the entry can
 * never be published (too large).
 */
export function publishError(outcome: Extract<PublishOutcome, { ok: false }>): Error {
  const message = `PutEvents entry failed: ${outcome.errorCode}`;
  return outcome.errorCode === 'EntryTooLarge'
    ? new PermanentError(message)
    : new TransientError(message);
}

/**
 * Collects entries published in the same turn of the event loop and sends
 * them together through `publisher`, so that a batch handler can publish
 * record by record while the requests still carry up to 10 entries each.
 * Each `publish` call resolves when its own entry is on the bus and rejects
 * with {@link publishError} when that entry failed.
 */
export function createBatchingPublisher(publisher: EventPublisher): {
  publish(entry: EventEntry): Promise<void>;
} {
  let queue: { entry: EventEntry; resolve: () => void; reject: (error: Error) => void }[] = [];

  async function flush(): Promise<void> {
    const batch = queue;
    queue = [];
    try {
      const outcomes = await publisher.publishAll(batch.map((item) => item.entry));
      batch.forEach((item, index) => {
        const outcome = outcomes[index];
        if (outcome?.ok) item.resolve();
        else
          item.reject(
            publishError(outcome ?? { ok: false, errorCode: 'Unknown', errorMessage: '' }),
          );
      });
    } catch (error) {
      for (const item of batch)
        item.reject(error instanceof Error ? error : new TransientError(String(error)));
    }
  }

  return {
    publish(entry) {
      return new Promise<void>((resolve, reject) => {
        if (queue.length === 0) setImmediate(() => void flush());
        queue.push({ entry, resolve, reject });
      });
    },
  };
}
