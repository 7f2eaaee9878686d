/**
 * The SDK adapters of functions/shared against the local emulators, over the
 * real wire protocols: S3 and SQS in fauxqs, PutEvents in the local
 * EventBridge, PutRecord in the local Firehose stand-in. (The DynamoDB ledger
 * has its own: test/local/ledger-contract.test.ts.)
 */
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCtrReceivedDetail, CtrReceivedDetailSchema } from '../../events/ctr-received';
import { createEventPublisher } from '../../functions/shared/event-publisher';
import {
  createS3ArchiveReader,
  createS3Quarantine,
  createS3ReferenceStore,
} from '../../functions/shared/s3-archive';
import { startLocalFirehose } from '../../local/firehose/server';
import { createSqsDeadLetterQueue, createSqsSyncQueue } from '../../functions/shared/sqs-queues';
import {
  createS3Client,
  createSqsClient,
  type EmulatorHandle,
  LOCAL_REGION,
  startFauxqsServer,
} from '../../local/emulators/start-emulators';
import {
  type EventBridgeEvent,
  type LocalEventBridge,
  startLocalEventBridge,
} from '../../local/eventbridge/server';
import { SYNC_QUEUE } from '../../local/run/topology';

let fauxqs: EmulatorHandle;
let s3: S3Client;
let sqs: SQSClient;
const bucket = 'adapters-test';

beforeAll(async () => {
  fauxqs = await startFauxqsServer();
  s3 = createS3Client(fauxqs.endpoint);
  sqs = createSqsClient(fauxqs.endpoint);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(async () => {
  s3?.destroy();
  sqs?.destroy();
  await fauxqs?.stop();
});

describe('S3 archive reader against fauxqs', () => {
  it("lists the objects of the window's hours in time order and reads GZIP and plain objects", async () => {
    const prefix = `archive-${randomUUID()}/`;
    const put = (key: string, body: Buffer | string) =>
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}${key}`, Body: body }));
    await put('2024/05/01/09/a.gz', gzipSync('{"ContactId":"early"}\n'));
    await put('2024/05/01/10/b.gz', gzipSync('{"ContactId":"x","A":"}{"}\n{"ContactId":"y"}\n'));
    await put('2024/05/01/11/c', '{"ContactId":"z"}{"ContactId":"w"}');
    await put('2024/05/01/13/d.gz', gzipSync('{"ContactId":"late"}\n'));
    const reader = createS3ArchiveReader({ client: s3, bucket, prefix });

    const { keys, next } = await reader.listObjects({
      from: '2024-05-01T10:30:00Z',
      to: '2024-05-01T11:59:59Z',
    });

    expect(next).toBeUndefined();
    expect(keys).toEqual([`${prefix}2024/05/01/10/b.gz`, `${prefix}2024/05/01/11/c`]);
    expect(await reader.readObject(keys[0] as string)).toEqual([
      '{"ContactId":"x","A":"}{"}',
      '{"ContactId":"y"}',
    ]);
    expect(await reader.readObject(keys[1] as string)).toEqual([
      '{"ContactId":"z"}',
      '{"ContactId":"w"}',
    ]);
  });
});

describe('S3 archive reader on CtrReceived details', () => {
  it('reads the record of each detail, follows a contactRecordRef into large/, and passes plain records and broken lines on', async () => {
    const prefix = `details-${randomUUID()}/`;
    const references = createS3ReferenceStore({ client: s3, bucket });
    const ref = await references.put('c-2', 'v', '{"ContactId":"c-2","Big":true}');
    const lines = [
      '{"schemaVersion":"1","contactId":"c-1","lastUpdateTimestamp":"t","contactRecord":{"ContactId":"c-1","A":1}}',
      `{"schemaVersion":"1","contactId":"c-2","lastUpdateTimestamp":"t","contactRecordRef":${JSON.stringify(ref)}}`,
      `{"schemaVersion":"1","contactId":"c-3","lastUpdateTimestamp":"t","contactRecordRef":{"bucket":"elsewhere","key":"large/x"}}`,
      '{"ContactId":"c-4"}',
      '{"schemaVersion":"1", broken',
    ];
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${prefix}2024/05/01/10/a.gz`,
        Body: gzipSync(`${lines.join('\n')}\n`),
      }),
    );
    const reader = createS3ArchiveReader({ client: s3, bucket, prefix });

    const records = await reader.readObject(`${prefix}2024/05/01/10/a.gz`);

    expect(records).toEqual([
      '{"ContactId":"c-1","A":1}',
      '{"ContactId":"c-2","Big":true}',
      lines[2],
      '{"ContactId":"c-4"}',
      '{"schemaVersion":"1", broken',
    ]);
  });
});

describe('Firehose stand-in against fauxqs', () => {
  it('writes buffered records as one GZIP object of newline-delimited records under the hour of arrival', async () => {
    const prefix = `stream-${randomUUID()}/`;
    const firehose = await startLocalFirehose({
      deliveryStreamName: 'archive',
      s3,
      bucket,
      prefix,
      bufferBytes: 1024 * 1024,
      bufferIntervalMs: 60_000,
    });
    const client = new FirehoseClient({
      endpoint: firehose.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      const result = await client.send(
        new PutRecordBatchCommand({
          DeliveryStreamName: 'archive',
          Records: [
            { Data: Buffer.from('{"ContactId":"a"}') },
            { Data: Buffer.from('{"ContactId":"b"}') },
          ],
        }),
      );
      await firehose.flush();
      const reader = createS3ArchiveReader({ client: s3, bucket, prefix });
      const now = new Date().toISOString();
      const { keys } = await reader.listObjects({ from: now, to: now });

      expect(result.FailedPutCount).toBe(0);
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatch(/\/archive-1-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9a-f-]{36}\.gz$/);
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keys[0] }));
      const bytes = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
      expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
      expect(await reader.readObject(keys[0] as string)).toEqual([
        '{"ContactId":"a"}',
        '{"ContactId":"b"}',
      ]);
    } finally {
      client.destroy();
      await firehose.stop();
    }
  });
});

describe('S3 reference store and quarantine against fauxqs', () => {
  it('stores a record by reference under large/ and reads it back; a missing one is undefined', async () => {
    const store = createS3ReferenceStore({ client: s3, bucket });

    const ref = await store.put('c-1', '2022-01-05T17:48:35.000Z#0123456789abcdef', '{"a":1}');

    expect(ref).toEqual({
      bucket,
      key: 'large/c-1/2022-01-05T17_48_35.000Z_0123456789abcdef.json',
    });
    expect(await store.get(ref)).toBe('{"a":1}');
    expect(await store.get({ bucket, key: 'large/none.json' })).toBeUndefined();
  });

  it('quarantines the raw bytes with the reason in the metadata', async () => {
    const quarantine = createS3Quarantine({ client: s3, bucket });
    const data = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);

    await quarantine.put({
      id: '2026-11-21/shardId-000000000000/49590',
      data,
      reason: 'invalid-utf8',
      message: 'not UTF-8',
    });

    const object = await s3.send(
      new GetObjectCommand({
        Bucket: bucket,
        Key: 'quarantine/2026-11-21/shardId-000000000000/49590',
      }),
    );
    expect(Buffer.from((await object.Body?.transformToByteArray()) ?? [])).toEqual(data);
    expect(object.Metadata?.reason).toBe('invalid-utf8');
  });
});

describe('SQS queues against fauxqs', () => {
  it('enqueues CtrReceived details and moves dead letters back with bodies unchanged', async () => {
    const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `sync-${randomUUID()}` })))
      .QueueUrl as string;
    const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `dlq-${randomUUID()}` })))
      .QueueUrl as string;
    const references = createS3ReferenceStore({ client: s3, bucket });
    const syncQueue = createSqsSyncQueue({ client: sqs, queueUrl, references });
    const contactRecord = {
      ContactId: 'c-1',
      LastUpdateTimestamp: '2022-01-05T17:48:35Z',
      Channel: 'VOICE',
    };
    await createSqsSyncQueue({ client: sqs, queueUrl: dlqUrl, references }).sendRaw([
      '{"dead":1}',
      '{"dead":2}',
    ]);

    await syncQueue.enqueue([
      {
        contactId: 'c-1',
        lastUpdateTimestamp: '2022-01-05T17:48:35Z',
        record: { json: JSON.stringify(contactRecord) },
      },
    ]);
    const deadLetters = createSqsDeadLetterQueue({ client: sqs, queueUrl: dlqUrl });
    const moved = await deadLetters.receive(10);
    await syncQueue.sendRaw(moved.map((message) => message.body));
    await deadLetters.delete(moved);

    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    const bodies = (received.Messages ?? []).map((message) => message.Body ?? '');
    const detail = CtrReceivedDetailSchema.parse(
      JSON.parse(bodies.find((body) => body.includes('schemaVersion')) ?? '{}'),
    );
    expect(detail).toMatchObject({ contactId: 'c-1', contactRecord });
    expect(bodies.filter((body) => body.includes('dead')).sort()).toEqual([
      '{"dead":1}',
      '{"dead":2}',
    ]);
    expect(await deadLetters.receive(10)).toEqual([]);
  });

  it('enqueues inline a record whose message is exactly 1 MiB, and one a byte larger by reference', async () => {
    const queueUrl = (
      await sqs.send(
        new CreateQueueCommand({
          QueueName: `sync-${randomUUID()}`,
          Attributes: { MaximumMessageSize: String(SYNC_QUEUE.maximumMessageSize) },
        }),
      )
    ).QueueUrl as string;
    const syncQueue = createSqsSyncQueue({
      client: sqs,
      queueUrl,
      references: createS3ReferenceStore({ client: s3, bucket }),
    });
    const timestamp = '2022-01-05T17:48:35Z';
    const record = (contactId: string, padding: number) =>
      JSON.stringify({
        ContactId: contactId,
        LastUpdateTimestamp: timestamp,
        Attributes: { transcript: 'x'.repeat(padding) },
      });
    // Body and resync attribute (25 bytes) of an empty transcript; each byte of it adds one.
    const overhead =
      Buffer.byteLength(buildCtrReceivedDetail(record('c-1', 0), 'c-1', timestamp)) + 25;
    const fits = record('c-1', 1_048_576 - overhead);
    const over = record('c-2', 1_048_576 - overhead + 1);

    await syncQueue.enqueue([
      { contactId: 'c-1', lastUpdateTimestamp: timestamp, record: { json: fits } },
      { contactId: 'c-2', lastUpdateTimestamp: timestamp, record: { json: over } },
    ]);

    const bodies: string[] = [];
    for (let receive = 0; receive < 5 && bodies.length < 2; receive++) {
      const received = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
      );
      bodies.push(...(received.Messages ?? []).map((message) => message.Body ?? ''));
    }
    const details = bodies.map((body) => CtrReceivedDetailSchema.parse(JSON.parse(body)));
    const byContact = new Map(details.map((detail) => [detail.contactId, detail]));
    expect(Buffer.byteLength(bodies.find((body) => body.includes('"c-1"')) ?? '')).toBe(1_048_551);
    expect(byContact.get('c-1')?.contactRecord).toEqual(JSON.parse(fits));
    expect(byContact.get('c-2')?.contactRecordRef?.key).toMatch(/^large\/c-2\//);
  });
});

describe('DLQ redrive stamp against fauxqs', () => {
  it('keeps the redrive run id on a message SQS moves to the DLQ after maxReceiveCount', async () => {
    const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `dlq-${randomUUID()}` })))
      .QueueUrl as string;
    const queueUrl = (
      await sqs.send(
        new CreateQueueCommand({
          QueueName: `sync-${randomUUID()}`,
          Attributes: {
            RedrivePolicy: JSON.stringify({
              deadLetterTargetArn: `arn:aws:sqs:us-east-1:000000000000:${dlqUrl.split('/').at(-1)}`,
              maxReceiveCount: 1,
            }),
          },
        }),
      )
    ).QueueUrl as string;
    await createSqsSyncQueue({
      client: sqs,
      queueUrl,
      references: createS3ReferenceStore({ client: s3, bucket }),
    }).sendRaw(['{"x":1}'], {
      redriveRun: 'run-7',
    });

    // One receive without a delete uses up maxReceiveCount; the next receive moves it to the DLQ.
    for (let receive = 0; receive < 2; receive++) {
      await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, VisibilityTimeout: 0, WaitTimeSeconds: 0 }),
      );
    }
    const deadLetters = await createSqsDeadLetterQueue({ client: sqs, queueUrl: dlqUrl }).receive(
      10,
    );

    expect(deadLetters.map((message) => [message.body, message.redriveRun])).toEqual([
      ['{"x":1}', 'run-7'],
    ]);
  });
});

describe('event publisher against the local EventBridge', () => {
  let eventBridge: LocalEventBridge;
  const delivered: unknown[] = [];
  let failedOnce = false;

  beforeAll(async () => {
    eventBridge = await startLocalEventBridge({
      eventBusNames: ['bus'],
      rules: [
        {
          name: 'all',
          eventBusName: 'bus',
          eventPattern: { source: ['test'] },
          targets: [{ id: 't', deliver: async (event) => void delivered.push(event) }],
        },
      ],
      entryFault: (entry) => {
        if (entry.DetailType !== 'fail-once' || failedOnce) return undefined;
        failedOnce = true;
        return { errorCode: 'InternalFailure', errorMessage: 'injected' };
      },
    });
  });
  afterAll(async () => {
    await eventBridge?.stop();
  });

  it('publishes 23 entries in requests of at most 10 and retries the entry that failed', async () => {
    const client = new EventBridgeClient({
      endpoint: eventBridge.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    const requests: number[] = [];
    client.middlewareStack.add(
      (next) => async (args) => {
        requests.push(((args.input as { Entries?: unknown[] }).Entries ?? []).length);
        return next(args);
      },
      { step: 'initialize' },
    );
    const publisher = createEventPublisher({ client, eventBusName: 'bus', sleep: async () => {} });
    const entries = Array.from({ length: 23 }, (_, index) => ({
      Source: 'test',
      DetailType: index === 5 ? 'fail-once' : 'ok',
      Detail: JSON.stringify({ index }),
    }));

    const outcomes = await publisher.publishAll(entries);
    await eventBridge.waitUntilIdle();

    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    expect(requests).toEqual([10, 10, 3, 1]);
    const indices = delivered.map(
      (event) => ((event as EventBridgeEvent).detail as { index: number }).index,
    );
    expect(indices.sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, index) => index));
    client.destroy();
  });

  /** An entry of exactly `bytes` bytes as PutEvents counts them (no rule matches its source). */
  const entryOfSize = (bytes: number) => {
    const head = { Source: 'size-test', DetailType: 'sized', EventBusName: 'bus' };
    const empty = JSON.stringify({ padding: '' });
    const padding = bytes - 'size-test'.length - 'sized'.length - empty.length;
    return { ...head, Detail: JSON.stringify({ padding: 'x'.repeat(padding) }) };
  };

  it('accepts a request of 999,999 bytes of entries and refuses one of 1,000,000 as a whole', async () => {
    const client = new EventBridgeClient({
      endpoint: eventBridge.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });

    const accepted = await client.send(
      new PutEventsCommand({ Entries: [entryOfSize(599_999), entryOfSize(400_000)] }),
    );
    const refused = client.send(
      new PutEventsCommand({ Entries: [entryOfSize(600_000), entryOfSize(400_000)] }),
    );

    expect(accepted.FailedEntryCount).toBe(0);
    await expect(refused).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'Total size of the entries in the request is over the limit.',
    });
    client.destroy();
  });

  it('publishes entries of 500,000 bytes, which no request of the local EventBridge can hold two of', async () => {
    const client = new EventBridgeClient({
      endpoint: eventBridge.endpoint,
      region: LOCAL_REGION,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
    const publisher = createEventPublisher({ client, eventBusName: 'bus', sleep: async () => {} });
    const { EventBusName: _bus, ...entry } = entryOfSize(500_000);

    const outcomes = await publisher.publishAll([entry, entry, entry]);

    expect(outcomes).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    client.destroy();
  });
});
