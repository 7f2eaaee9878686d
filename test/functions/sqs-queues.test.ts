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
import { contentDigest, versionKey } from '../../domain/versions';
import { buildCtrReceivedDetail, CtrReceivedDetailSchema } from '../../events/ctr-received';
import {
  createSqsSyncQueue,
  REDRIVE_RUN_ATTRIBUTE,
  RESYNC_ATTRIBUTE,
} from '../../functions/shared/sqs-queues';
import { FakeReferenceStore } from '../fixtures/fakes';

const sqs = mockClient(SQSClient);
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/ctr-sync-sync';

const TIMESTAMP = '2024-03-12T14:11:02Z';

/** Where the queue stores records that do not fit a message. */
let references: FakeReferenceStore;

function queue() {
  return createSqsSyncQueue({
    client: new SQSClient({ region: 'us-east-1' }),
    queueUrl: QUEUE_URL,
    references,
    sleep: async () => {},
  });
}

/** A contact record of contact c-1 with a transcript of `padding` bytes, as JSON text. */
function record(padding: number): string {
  return JSON.stringify({
    ContactId: 'c-1',
    LastUpdateTimestamp: TIMESTAMP,
    Attributes: { transcript: 'x'.repeat(padding) },
  });
}

/** Bytes of the `CtrReceived` detail that carries `json` inline. */
function bodyBytes(json: string): number {
  return Buffer.byteLength(buildCtrReceivedDetail(json, 'c-1', TIMESTAMP));
}

/** The reference store's key of a record's version. */
function storedKey(contactId: string, json: string): string {
  return `large/${contactId}/${versionKey(TIMESTAMP, contentDigest(json))}.json`;
}

function sentBodies() {
  return batches().flatMap((batch) =>
    (batch.Entries ?? []).map((entry) => JSON.parse(entry.MessageBody ?? '')),
  );
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
  references = new FakeReferenceStore();
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

  it('enqueues a record inline, marked as a resync', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(answer(() => false));
    const json = JSON.stringify({ ContactId: 'c-2', LastUpdateTimestamp: TIMESTAMP });

    await queue().enqueue([{ contactId: 'c-2', lastUpdateTimestamp: TIMESTAMP, record: { json } }]);

    const entry = batches()[0]?.Entries?.[0];
    expect(entry?.MessageAttributes).toEqual({
      [RESYNC_ATTRIBUTE]: { DataType: 'String', StringValue: 'true' },
    });
    expect(entry?.MessageBody).toBe(buildCtrReceivedDetail(json, 'c-2', TIMESTAMP));
    expect(references.objects.size).toBe(0);
  });

  it('stores a record too large for a message, one object per version, and enqueues a reference to it', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(answer(() => false));
    const big = record(1_048_576 - 25 - bodyBytes(record(0)) + 1);
    const small = JSON.stringify({ ContactId: 'c-2', LastUpdateTimestamp: TIMESTAMP });

    await queue().enqueue([
      { contactId: 'c-1', lastUpdateTimestamp: TIMESTAMP, record: { json: big } },
      { contactId: 'c-2', lastUpdateTimestamp: TIMESTAMP, record: { json: small } },
    ]);

    const key = storedKey('c-1', big);
    expect([...references.objects]).toEqual([[key, big]]);
    const bodies = sentBodies();
    expect(bodies[0]).toEqual({
      schemaVersion: '1',
      contactId: 'c-1',
      lastUpdateTimestamp: TIMESTAMP,
      contactRecordRef: { bucket: 'archive-bucket', key },
    });
    expect(bodies[1].contactRecord).toEqual(JSON.parse(small));
    for (const body of bodies) expect(CtrReceivedDetailSchema.safeParse(body).success).toBe(true);
  });

  it('stores a record holding U+FFFF, which SQS rejects, and enqueues a reference to it', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(answer(() => false));
    const json = JSON.stringify({
      ContactId: 'c-1',
      LastUpdateTimestamp: TIMESTAMP,
      Attributes: { note: 'a\uffffb' },
    });

    await queue().enqueue([{ contactId: 'c-1', lastUpdateTimestamp: TIMESTAMP, record: { json } }]);

    expect(references.objects.get(storedKey('c-1', json))).toBe(json);
    expect(sentBodies()[0]?.contactRecordRef).toEqual({
      bucket: 'archive-bucket',
      key: storedKey('c-1', json),
    });
    expect(batches()[0]?.Entries?.[0]?.MessageBody).not.toMatch(/\uffff/);
  });

  it('enqueues a record held by reference as that reference, without storing it again', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(answer(() => false));
    const ref = { bucket: 'ctr-sync-archive', key: 'large/c-1/2024-03-12T14_11_02.000Z_0a1b.json' };

    await queue().enqueue([{ contactId: 'c-1', lastUpdateTimestamp: TIMESTAMP, record: { ref } }]);

    expect(sentBodies()).toEqual([
      {
        schemaVersion: '1',
        contactId: 'c-1',
        lastUpdateTimestamp: TIMESTAMP,
        contactRecordRef: ref,
      },
    ]);
    expect(batches()[0]?.Entries?.[0]?.MessageAttributes).toEqual({
      [RESYNC_ATTRIBUTE]: { DataType: 'String', StringValue: 'true' },
    });
    expect(references.objects.size).toBe(0);
  });

  it('sends nothing when storing a record that does not fit fails', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(answer(() => false));
    references.put = async () => {
      throw new TransientError('PutObject failed (SlowDown)');
    };
    const big = record(1_048_576 - 25 - bodyBytes(record(0)) + 1);
    const small = JSON.stringify({ ContactId: 'c-2', LastUpdateTimestamp: TIMESTAMP });

    const enqueue = queue().enqueue([
      { contactId: 'c-1', lastUpdateTimestamp: TIMESTAMP, record: { json: big } },
      { contactId: 'c-2', lastUpdateTimestamp: TIMESTAMP, record: { json: small } },
    ]);

    await expect(enqueue).rejects.toThrow('PutObject failed (SlowDown)');
    expect(batches()).toHaveLength(0);
  });

  it('sends by reference a record that fits a message only without its resync attribute', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(answer(() => false));
    // 10 bytes under 1 MiB on its own; the attribute ('ctr-sync-resync', 'String', 'true') adds 25.
    const json = record(1_048_576 - 10 - bodyBytes(record(0)));
    expect(bodyBytes(json)).toBe(1_048_566);

    await queue().enqueue([{ contactId: 'c-1', lastUpdateTimestamp: TIMESTAMP, record: { json } }]);

    expect(sentBodies()[0]?.contactRecordRef).toEqual({
      bucket: 'archive-bucket',
      key: storedKey('c-1', json),
    });
  });

  it('sends inline a record that fits a message with its resync attribute', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(answer(() => false));
    // Exactly 1 MiB with the attribute's 25 bytes: far over the old 256 KiB limit.
    const json = record(1_048_576 - 25 - bodyBytes(record(0)));
    expect(bodyBytes(json)).toBe(1_048_551);

    await queue().enqueue([{ contactId: 'c-1', lastUpdateTimestamp: TIMESTAMP, record: { json } }]);

    expect(sentBodies()[0]?.contactRecord).toEqual(JSON.parse(json));
    expect(references.objects.size).toBe(0);
  });

  it('sends messages of 1 MiB in all in one SendMessageBatch and starts another one byte later', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(answer(() => false));
    const body = (bytes: number) => 'x'.repeat(bytes);

    await queue().sendRaw([body(400_000), body(400_000), body(248_576)]);
    await queue().sendRaw([body(400_000), body(400_000), body(248_577)]);

    expect(
      batches().map((batch) => batch.Entries?.map((entry) => entry.MessageBody?.length)),
    ).toEqual([[400_000, 400_000, 248_576], [400_000, 400_000], [248_577]]);
  });

  it('counts the redrive-run attribute toward a SendMessageBatch', async () => {
    sqs.on(SendMessageBatchCommand).callsFake(answer(() => false));
    // 'ctr-sync-redrive-run' (20) + 'String' (6) + 'run-1' (5): 31 bytes per message.
    const body = (bytes: number) => 'x'.repeat(bytes);

    await queue().sendRaw([body(524_257), body(524_257)], { redriveRun: 'run-1' });
    await queue().sendRaw([body(524_257), body(524_258)], { redriveRun: 'run-1' });

    expect(batches().map((batch) => batch.Entries?.length)).toEqual([2, 1, 1]);
  });
});
