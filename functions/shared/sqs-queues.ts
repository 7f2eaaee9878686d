/**
 * The sync queue and the dead-letter queue, over SQS.
 * Source: Amazon SQS API Reference (SendMessageBatch: at most 10 entries,
 * per-entry `Failed` results; ReceiveMessage: at most 10 messages per call).
 */
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { TransientError } from '../../domain/errors';
import type { DeadLetter, DeadLetterQueue, SyncQueue } from '../../domain/ports';
import { buildCtrReceivedDetail } from '../../events/ctr-received';

const MAX_BATCH = 10;

/**
 * The sync queue. `enqueue` sends each item as a `CtrReceived` detail (the
 * same body the sync rule delivers); `sendRaw` sends bodies unchanged. Both
 * send in batches of 10 and fail if any entry failed.
 */
export function createSqsSyncQueue(options: { client: SQSClient; queueUrl: string }): SyncQueue {
  async function sendRaw(bodies: string[]): Promise<void> {
    for (let start = 0; start < bodies.length; start += MAX_BATCH) {
      const chunk = bodies.slice(start, start + MAX_BATCH);
      const result = await options.client.send(
        new SendMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: chunk.map((body, index) => ({ Id: String(index), MessageBody: body })),
        }),
      );
      const failed = result.Failed ?? [];
      if (failed.length > 0) {
        throw new TransientError(
          `SendMessageBatch failed for ${failed.length} of ${chunk.length} messages (${failed[0]?.Code ?? 'unknown'})`,
        );
      }
    }
  }
  return {
    sendRaw,
    enqueue: (items) =>
      sendRaw(
        items.map((item) =>
          buildCtrReceivedDetail(
            item.json,
            item.contactId,
            item.lastUpdateTimestamp,
            item.fieldOverrides,
          ),
        ),
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
        }),
      );
      return (result.Messages ?? []).flatMap((message): DeadLetter[] =>
        message.Body !== undefined && message.ReceiptHandle
          ? [{ body: message.Body, receiptHandle: message.ReceiptHandle }]
          : [],
      );
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
