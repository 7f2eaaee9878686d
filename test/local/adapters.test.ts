/**
 * The SDK adapters of functions/shared against the local emulators, over the
 * real wire protocols: S3 and SQS in fauxqs, PutEvents in the local EventBridge.
 */
import { randomUUID } from 'node:crypto';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CtrReceivedDetailSchema } from '../../events/ctr-received';
import { createEventPublisher } from '../../functions/shared/event-publisher';
import { createS3Archive, createS3Quarantine } from '../../functions/shared/s3-archive';
import { createSqsDeadLetterQueue, createSqsSyncQueue } from '../../functions/shared/sqs-queues';
import { startFaultProxy } from '../../local/fault-proxy';
import { FaultPlan } from '../../local/faults';
import {
  createS3Client,
  createSqsClient,
  type EmulatorHandle,
  LOCAL_REGION,
  startFauxqsServer,
} from '../../local/emulators';
import {
  type EventBridgeEvent,
  type LocalEventBridge,
  startLocalEventBridge,
} from '../../local/eventbridge/server';

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

function version(contactId: string, lastUpdateTimestamp: string) {
  return {
    contactId,
    lastUpdateTimestamp,
    json: JSON.stringify({ ContactId: contactId, LastUpdateTimestamp: lastUpdateTimestamp }),
  };
}

describe('S3 archive against fauxqs', () => {
  it('stores the first version at ctr/{ContactId}.json with its version in the metadata', async () => {
    const archive = createS3Archive({ client: s3, bucket });
    const contactId = randomUUID();

    const outcome = await archive.putIfNewer(version(contactId, '2022-01-05T17:48:35Z'));

    const head = await s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: `ctr/${contactId}.json` }),
    );
    expect(outcome).toBe('stored');
    expect(head.Metadata?.['last-update-timestamp']).toBe('2022-01-05T17:48:35Z');
    expect((await archive.getVersion(contactId))?.lastUpdateTimestamp).toBe('2022-01-05T17:48:35Z');
  });

  it('keeps the newest version whatever order the versions arrive in', async () => {
    const archive = createS3Archive({ client: s3, bucket });
    const contactId = randomUUID();

    const outcomes = [
      await archive.putIfNewer(version(contactId, '2022-01-11T03:41:32Z')),
      await archive.putIfNewer(version(contactId, '2022-01-11T04:09:47Z')),
      await archive.putIfNewer(version(contactId, '2022-01-05T17:48:35Z')),
      await archive.putIfNewer(version(contactId, '2022-01-11T04:09:47Z')),
    ];

    expect(outcomes).toEqual(['stored', 'stored', 'older', 'duplicate']);
    expect(JSON.parse((await archive.get(contactId))?.json ?? '{}').LastUpdateTimestamp).toBe(
      '2022-01-11T04:09:47Z',
    );
  });

  it('keeps the newest of 20 versions written concurrently in random order, with S3 conditional writes enforced', async () => {
    // fauxqs ignores If-Match / If-None-Match; the local stack's proxy enforces them as S3 does.
    const proxy = await startFaultProxy({
      upstream: fauxqs.endpoint,
      plan: new FaultPlan({ rates: {}, crashes: [] }, 0),
    });
    const client = createS3Client(proxy.endpoint);
    try {
      const archive = createS3Archive({ client, bucket, maxConditionalAttempts: 50 });
      const contactId = randomUUID();
      const versions = Array.from(
        { length: 20 },
        (_, index) => `2022-01-11T04:${String(10 + index).padStart(2, '0')}:00Z`,
      );
      const shuffled = [...versions].sort(() => Math.random() - 0.5);

      const outcomes = await Promise.all(
        shuffled.map((timestamp) => archive.putIfNewer(version(contactId, timestamp))),
      );

      expect(outcomes).toContain('stored');
      expect((await archive.getVersion(contactId))?.lastUpdateTimestamp).toBe(versions.at(-1));
      expect(JSON.parse((await archive.get(contactId))?.json ?? '{}').LastUpdateTimestamp).toBe(
        versions.at(-1),
      );
    } finally {
      client.destroy();
      await proxy.stop();
    }
  });

  it('writes on the caller’s read without reading again, and reads again when that read is stale', async () => {
    const proxy = await startFaultProxy({
      upstream: fauxqs.endpoint,
      plan: new FaultPlan({ rates: {}, crashes: [] }, 0),
    });
    const client = createS3Client(proxy.endpoint);
    const heads: string[] = [];
    client.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'HeadObjectCommand') heads.push(context.commandName);
        return next(args);
      },
      { step: 'initialize', name: 'countHeads' },
    );
    try {
      const archive = createS3Archive({ client, bucket });
      const contactId = randomUUID();

      // Fresh read of an empty key: one conditional PUT, no HEAD.
      expect(await archive.putIfNewer(version(contactId, '2022-01-05T17:48:35Z'), null)).toBe(
        'stored',
      );
      expect(heads).toHaveLength(0);
      const read = await archive.getVersion(contactId);
      // Another writer stores a newer version after that read.
      await archive.putIfNewer(version(contactId, '2022-01-11T04:09:47Z'));
      heads.length = 0;

      // Stale reads: the PUT fails its precondition, the archive is read again and decides.
      const older = await archive.putIfNewer(version(contactId, '2022-01-11T03:41:32Z'), read);
      const twin = await archive.putIfNewer(version(contactId, '2022-01-11T04:09:47Z'), null);

      expect([older, twin]).toEqual(['older', 'duplicate']);
      expect(heads).toHaveLength(2);
      expect((await archive.getVersion(contactId))?.lastUpdateTimestamp).toBe(
        '2022-01-11T04:09:47Z',
      );
    } finally {
      client.destroy();
      await proxy.stop();
    }
  });

  it('answers undefined for a ContactId that was never archived', async () => {
    const archive = createS3Archive({ client: s3, bucket });

    expect(await archive.get(randomUUID())).toBeUndefined();
    expect(await archive.getVersion(randomUUID())).toBeUndefined();
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
    const syncQueue = createSqsSyncQueue({ client: sqs, queueUrl, archiveBucket: 'archive' });
    const contactRecord = {
      ContactId: 'c-1',
      LastUpdateTimestamp: '2022-01-05T17:48:35Z',
      Channel: 'VOICE',
    };
    await createSqsSyncQueue({ client: sqs, queueUrl: dlqUrl, archiveBucket: 'archive' }).sendRaw([
      '{"dead":1}',
      '{"dead":2}',
    ]);

    await syncQueue.enqueue([
      {
        contactId: 'c-1',
        lastUpdateTimestamp: '2022-01-05T17:48:35Z',
        json: JSON.stringify(contactRecord),
        fieldOverrides: { toNumber: '+15550100000' },
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
    expect(detail).toMatchObject({
      contactId: 'c-1',
      fieldOverrides: { toNumber: '+15550100000' },
      contactRecord,
    });
    expect(bodies.filter((body) => body.includes('dead')).sort()).toEqual([
      '{"dead":1}',
      '{"dead":2}',
    ]);
    expect(await deadLetters.receive(10)).toEqual([]);
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
    await createSqsSyncQueue({ client: sqs, queueUrl, archiveBucket: bucket }).sendRaw(
      ['{"x":1}'],
      {
        redriveRun: 'run-7',
      },
    );

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
});
