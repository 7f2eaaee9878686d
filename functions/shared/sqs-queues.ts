/**
 * The sync queue and the dead-letter queue, over SQS.
 * Source: Amazon SQS API Reference (SendMessageBatch: at most 10 entries,
 * per-entry `Failed` results; ReceiveMessage: at most 10 messages per call).
 */
import {
  DeleteMessageBatchCommand,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { TransientError } from '../../domain/errors';
import type {
  DeadLetter,
  DeadLetterQueue,
  RecordReferenceStore,
  SyncQueue,
  SyncQueueItem,
} from '../../domain/ports';
import { contentDigest, versionKey } from '../../domain/versions';
import {
  buildCtrReceivedDetail,
  buildCtrReceivedReferenceDetail,
  hasCharactersSqsRejects,
} from '../../events/ctr-received';
import { REDRIVE_RUN_ATTRIBUTE, RESYNC_ATTRIBUTE } from './sync-message-attributes';

export { REDRIVE_RUN_ATTRIBUTE, RESYNC_ATTRIBUTE };

const MAX_BATCH = 10;
/**
 * Largest message sent as is, body and attributes, in bytes: 1 MiB
 * (1,048,576), the largest `MaximumMessageSize` SQS allows and the
 * `MaximumMessageSize` the sync queue is created with (serverless.yml; Amazon
 * SQS API Reference, CreateQueue and SetQueueAttributes, range 1,024 to
 * 1,048,576, the default since August 2025; the same in
 * `@aws-sdk/client-sqs`'s model). A bigger record is stored and enqueued by
 * reference.
 */
export const MAX_MESSAGE_BYTES = 1_048_576;
/**
 * Largest total of bodies and attributes in one SendMessageBatch, in bytes:
 * the same 1 MiB (Amazon SQS API Reference, SendMessageBatch).
 */
const MAX_BATCH_BYTES = 1_048_576;
/**
 * Whether `body` can travel as an SQS message with attributes of
 * `attributeBytes`: body and attributes at most {@link MAX_MESSAGE_BYTES}
 * bytes together (SQS counts message attributes toward the size limit), and
 * no character SQS rejects.
 */
export function fitsSqsMessage(body: string, attributeBytes = 0): boolean {
  return (
    Buffer.byteLength(body, 'utf8') + attributeBytes <= MAX_MESSAGE_BYTES &&
    !hasCharactersSqsRejects(body)
  );
}

/** Bytes SQS counts for message attributes: each name, data type and value. */
function attributeSize(attributes: Record<string, MessageAttributeValue> | undefined): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(attributes ?? {})) {
    bytes +=
      Buffer.byteLength(name) +
      Buffer.byteLength(value.DataType ?? '') +
      Buffer.byteLength(value.StringValue ?? '');
  }
  return bytes;
}

/** Rounds of SendMessageBatch for the entries that failed, the first included. */
const SEND_ATTEMPTS = 4;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The sync queue. `enqueue` sends each item as a `CtrReceived` detail (the
 * same body the sync rule delivers; a record held by reference, or one that
 * does not fit a message by size or by a character SQS rejects, as a
 * `contactRecordRef`, storing it first) marked with {@link RESYNC_ATTRIBUTE}; `sendRaw` sends bodies
 * unchanged, marked with {@link REDRIVE_RUN_ATTRIBUTE} when given a run id. Both send in batches of at most
 * 10 messages and 1 MiB, resend only the entries SendMessageBatch reported
 * as failed (up to 4 rounds, with backoff), and throw a TransientError if any
 * entry still failed.
 */
export function createSqsSyncQueue(options: {
  client: SQSClient;
  queueUrl: string;
  /** Where a record that does not fit a message is stored, to travel as a `contactRecordRef`. */
  references: RecordReferenceStore;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
}): SyncQueue {
  const sleep = options.sleep ?? realSleep;
  async function sendChunk(
    bodies: string[],
    attributes: Record<string, MessageAttributeValue> | undefined,
  ): Promise<void> {
    let pending = bodies.map((body, index) => ({ Id: String(index), MessageBody: body }));
    for (let attempt = 1; ; attempt++) {
      const result = await options.client.send(
        new SendMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: pending.map((entry) =>
            attributes ? { ...entry, MessageAttributes: attributes } : entry,
          ),
        }),
      );
      const failedIds = new Set((result.Failed ?? []).map((failure) => failure.Id));
      if (failedIds.size === 0) return;
      if (attempt === SEND_ATTEMPTS) {
        throw new TransientError(
          `SendMessageBatch failed for ${failedIds.size} of ${bodies.length} messages (${result.Failed?.[0]?.Code ?? 'unknown'})`,
        );
      }
      pending = pending.filter((entry) => failedIds.has(entry.Id));
      await sleep(50 * 2 ** attempt);
    }
  }
  async function send(
    bodies: string[],
    attributes: Record<string, MessageAttributeValue> | undefined,
  ): Promise<void> {
    // Batches of at most 10 messages and 1 MiB in all (attribute names and values included).
    const attributeBytes = attributeSize(attributes);
    let chunk: string[] = [];
    let chunkBytes = 0;
    for (const body of bodies) {
      const bytes = Buffer.byteLength(body, 'utf8') + attributeBytes;
      if (
        chunk.length === MAX_BATCH ||
        (chunk.length > 0 && chunkBytes + bytes > MAX_BATCH_BYTES)
      ) {
        await sendChunk(chunk, attributes);
        chunk = [];
        chunkBytes = 0;
      }
      chunk.push(body);
      chunkBytes += bytes;
    }
    if (chunk.length > 0) await sendChunk(chunk, attributes);
  }
  const sendRaw = (bodies: string[], sendOptions: { redriveRun?: string } = {}) =>
    send(
      bodies,
      sendOptions.redriveRun
        ? { [REDRIVE_RUN_ATTRIBUTE]: { DataType: 'String', StringValue: sendOptions.redriveRun } }
        : undefined,
    );
  const resync = { [RESYNC_ATTRIBUTE]: { DataType: 'String', StringValue: 'true' } };
  const bodyOf = async (item: SyncQueueItem): Promise<string> => {
    const { contactId, lastUpdateTimestamp, record } = item;
    if ('json' in record) {
      const body = buildCtrReceivedDetail(record.json, contactId, lastUpdateTimestamp);
      if (fitsSqsMessage(body, attributeSize(resync))) return body;
      const version = versionKey(lastUpdateTimestamp, contentDigest(record.json));
      const ref = await options.references.put(contactId, version, record.json);
      return buildCtrReceivedReferenceDetail(contactId, lastUpdateTimestamp, ref);
    }
    return buildCtrReceivedReferenceDetail(contactId, lastUpdateTimestamp, record.ref);
  };
  return {
    sendRaw,
    enqueue: async (items, enqueueOptions = {}) =>
      send(
        await Promise.all(items.map(bodyOf)),
        enqueueOptions.resync === false ? undefined : resync,
      ),
  };
}

/**
 * A dead-letter queue: receive and delete. Receives long-poll for 1 second:
 * a short poll samples only some SQS servers and can answer empty while a
 * small queue (a DLQ usually is) still holds messages, which would end a
 * redrive early (Amazon SQS Developer Guide, "Amazon SQS short and long polling").
 */
export function createSqsDeadLetterQueue(options: {
  client: SQSClient;
  queueUrl: string;
}): DeadLetterQueue {
  return {
    async receive(max) {
      const result = await options.client.send(
        new ReceiveMessageCommand({
          QueueUrl: options.queueUrl,
          MaxNumberOfMessages: Math.min(MAX_BATCH, Math.max(1, max)),
          WaitTimeSeconds: 1,
          MessageAttributeNames: [REDRIVE_RUN_ATTRIBUTE],
        }),
      );
      return (result.Messages ?? []).flatMap((message): DeadLetter[] => {
        if (message.Body === undefined || !message.ReceiptHandle) return [];
        const redriveRun = message.MessageAttributes?.[REDRIVE_RUN_ATTRIBUTE]?.StringValue;
        return [
          {
            body: message.Body,
            receiptHandle: message.ReceiptHandle,
            ...(redriveRun ? { redriveRun } : {}),
          },
        ];
      });
    },
    async delete(messages) {
      for (let start = 0; start < messages.length; start += MAX_BATCH) {
        const chunk = messages.slice(start, start + MAX_BATCH);
        const result = await options.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: options.queueUrl,
            Entries: chunk.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.receiptHandle,
            })),
          }),
        );
        if ((result.Failed ?? []).length > 0) {
          throw new TransientError(
            `DeleteMessageBatch failed for ${result.Failed?.length} messages`,
          );
        }
      }
    },
  };
}
