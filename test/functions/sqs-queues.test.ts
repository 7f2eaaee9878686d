/**
 * The SQS sync queue adapter: per-entry retries of SendMessageBatch, the
 * redrive-run stamp, and records too large for a message sent by reference.
 */
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandInput,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { TransientError } from '../../domain/errors';
import { buildCtrReceivedDetail, CtrReceivedDetailSchema } from '../../events/ctr-received';
import {
  createSqsSyncQueue,
  MAX_MESSAGE_BYTES,
  REDRIVE_RUN_ATTRIBUTE,
} from '../../functions/shared/sqs-queues';

const sqs = mockClient(SQSClient);
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/ctr-sync-sync';

function queue() {
  return createSqsSyncQueue({
    client: new SQSClient({ region: 'us-east-1' }),
    queueUrl: QUEUE_URL,
    archiveBucket: 'ctr-sync-archive',
    sleep: async () => {},
  });
}

function batches(): SendMessageBatchCommandInput[] {
  return sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);
}

/** Accepts every entry except those whose body `fails` picks, on every call. */
function answer(fails: (body: string, call: number) => boolean) {
  let call = 0;
  return (input: SendMessageBatchCommandInput) => {
    call++;
    const entries = input.Entries ?? [];
    return {
      Successful: entries
        .filter((entry) => !fails(entry.MessageBody ?? '', call))
        .map((entry) => ({ Id: entry.Id, MessageId: `m-${entry.Id}`, MD5OfMessageBody: 'x' })),
      Failed: entries
        .filter((entry) => fails(entry.MessageBody ?? '', call))
        .map((entry) => ({ Id: entry.Id, Code: 'InternalError', SenderFault: false })),
    };
  };
}

beforeEach(() => {
  sqs.reset();
});

describe('createSqsSyncQueue', () => {
  it('resends only the entries SendMessageBatch reported as failed', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(answer((body, call) => body === 'b' && call === 1));

    await queue().sendRaw(['a', 'b', 'c']);

    expect(batches().map((batch) => batch.Entries?.map((entry) => entry.MessageBody))).toEqual([
      ['a', 'b', 'c'],
      ['b'],
    ]);
  });

  it('throws a TransientError naming the count when an entry fails in every round', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(answer((body) => body === 'b'));

    const send = queue().sendRaw(['a', 'b']);

    await expect(send).rejects.toBeInstanceOf(TransientError);
    await expect(queue().sendRaw(['a', 'b'])).rejects.toThrow(
      'SendMessageBatch failed for 1 of 2 messages (InternalError)',
    );
    expect(
      batches()
        .slice(0, 4)
        .map((batch) => batch.Entries?.length),
    ).toEqual([2, 1, 1, 1]);
  });

  it('stamps messages sent back by a DLQ redrive with the run id', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(answer(() => false));

    await queue().sendRaw(['a'], { redriveRun: 'run-1' });
    await queue().sendRaw(['b']);

    const [stamped, plain] = batches();
    expect(stamped?.Entries?.[0]?.MessageAttributes).toEqual({
      [REDRIVE_RUN_ATTRIBUTE]: { DataType: 'String', StringValue: 'run-1' },
    });
    expect(plain?.Entries?.[0]?.MessageAttributes).toBeUndefined();
  });

  it('enqueues a record too large for a message as a reference to the archive', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(answer(() => false));
    const big = JSON.stringify({
      ContactId: 'c-1',
      LastUpdateTimestamp: '2024-03-12T14:11:02Z',
      Attributes: { transcript: 'x'.repeat(MAX_MESSAGE_BYTES) },
    });
    const small = JSON.stringify({ ContactId: 'c-2', LastUpdateTimestamp: '2024-03-12T14:11:02Z' });

    await queue().enqueue([
      { contactId: 'c-1', lastUpdateTimestamp: '2024-03-12T14:11:02Z', json: big },
      { contactId: 'c-2', lastUpdateTimestamp: '2024-03-12T14:11:02Z', json: small },
    ]);

    const bodies = batches()[0]?.Entries?.map((entry) => JSON.parse(entry.MessageBody ?? '')) ?? [];
    expect(bodies[0]).toEqual({
      schemaVersion: '1',
      contactId: 'c-1',
      lastUpdateTimestamp: '2024-03-12T14:11:02Z',
      contactRecordRef: { bucket: 'ctr-sync-archive', key: 'ctr/c-1.json' },
    });
    expect(bodies[1].contactRecord).toEqual(JSON.parse(small));
    for (const body of bodies) expect(CtrReceivedDetailSchema.safeParse(body).success).toBe(true);
  });

  it('sends by reference a record that fits a message only without its resync attribute', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(answer(() => false));
    const record = (padding: number) =>
      JSON.stringify({
        ContactId: 'c-1',
        LastUpdateTimestamp: '2024-03-12T14:11:02Z',
        Attributes: { transcript: 'x'.repeat(padding) },
      });
    const bodyBytes = (json: string) =>
      Buffer.byteLength(buildCtrReceivedDetail(json, 'c-1', '2024-03-12T14:11:02Z'));
    // 10 bytes under the limit on its own; the attribute ('ctr-sync-resync', 'String', 'true') adds 25.
    const json = record(MAX_MESSAGE_BYTES - 10 - bodyBytes(record(0)));
    expect(bodyBytes(json)).toBe(MAX_MESSAGE_BYTES - 10);

    await queue().enqueue([
      { contactId: 'c-1', lastUpdateTimestamp: '2024-03-12T14:11:02Z', json },
    ]);

    const body = JSON.parse(batches()[0]?.Entries?.[0]?.MessageBody ?? '');
    expect(body.contactRecordRef).toEqual({ bucket: 'ctr-sync-archive', key: 'ctr/c-1.json' });
  });
});
