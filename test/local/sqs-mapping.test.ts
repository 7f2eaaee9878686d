import { createHash } from 'node:crypto';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createSqsClient,
  type EmulatorHandle,
  startFauxqsServer,
} from '../../local/emulators/start-emulators';
import {
  type SqsEventSourceMapping,
  type SqsEventSourceMappingOptions,
  startSqsEventSourceMapping,
} from '../../local/event-source-mappings/sqs';

let fauxqs: EmulatorHandle;
let client: SQSClient;
const mappings: SqsEventSourceMapping[] = [];
let queueCount = 0;

beforeAll(async () => {
  fauxqs = await startFauxqsServer();
  client = createSqsClient(fauxqs.endpoint);
});

afterEach(async () => {
  await Promise.all(mappings.splice(0).map((mapping) => mapping.stop()));
});

afterAll(async () => {
  client?.destroy();
  await fauxqs?.stop();
});

async function newQueue(
  attributes: Record<string, string> = {},
): Promise<{ url: string; arn: string }> {
  queueCount += 1;
  const { QueueUrl } = await client.send(
    new CreateQueueCommand({ QueueName: `mapping-test-${queueCount}`, Attributes: attributes }),
  );
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  return { url: QueueUrl ?? '', arn: Attributes?.QueueArn ?? '' };
}

async function send(queueUrl: string, bodies: string[]): Promise<void> {
  for (let start = 0; start < bodies.length; start += 10) {
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: bodies
          .slice(start, start + 10)
          .map((body, index) => ({ Id: String(index), MessageBody: body })),
      }),
    );
  }
}

/** A stand-in function that keeps a copy of every event and answers as `answer` says. */
function fakeFunction(answer: (event: SQSEvent, call: number) => unknown = () => {}) {
  const events: SQSEvent[] = [];
  const deliveries: { at: number; record: SQSRecord }[] = [];
  return {
    events,
    /** Every message delivered, in delivery order, with the time it was delivered. */
    deliveries,
    timesDelivered: (body: string) => deliveries.filter((d) => d.record.body === body).length,
    invoke: async (event: SQSEvent): Promise<unknown> => {
      events.push(structuredClone(event));
      const at = Date.now();
      deliveries.push(...event.Records.map((record) => ({ at, record: structuredClone(record) })));
      return answer(event, events.length);
    },
  };
}

function start(options: Omit<SqsEventSourceMappingOptions, 'client'>): SqsEventSourceMapping {
  const mapping = startSqsEventSourceMapping({ client, ...options });
  mappings.push(mapping);
  return mapping;
}

const failuresFor = (event: SQSEvent, isFailure: (record: SQSRecord) => boolean) => ({
  batchItemFailures: event.Records.filter(isFailure).map((r) => ({ itemIdentifier: r.messageId })),
});

describe('SQS event source mapping', () => {
  it('delivers messages in Lambda event shape and deletes them when the function succeeds', async () => {
    const queue = await newQueue();
    await client.send(
      new SendMessageCommand({
        QueueUrl: queue.url,
        MessageBody: '{"contactId":"c-1"}',
        MessageAttributes: {
          source: { DataType: 'String', StringValue: 'ingest' },
          attempt: { DataType: 'Number', StringValue: '1' },
          raw: { DataType: 'Binary', BinaryValue: Buffer.from([0, 1, 2, 255]) },
        },
      }),
    );
    const fn = fakeFunction();

    const mapping = start({ queueUrl: queue.url, invoke: fn.invoke });
    await mapping.waitUntilIdle();

    expect(fn.events).toHaveLength(1);
    const record = fn.events[0]?.Records[0];
    expect(record).toEqual({
      messageId: expect.any(String),
      receiptHandle: expect.any(String),
      body: '{"contactId":"c-1"}',
      attributes: expect.objectContaining({
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d+$/),
        SenderId: expect.any(String),
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d+$/),
      }),
      messageAttributes: {
        source: {
          stringValue: 'ingest',
          stringListValues: [],
          binaryListValues: [],
          dataType: 'String',
        },
        attempt: {
          stringValue: '1',
          stringListValues: [],
          binaryListValues: [],
          dataType: 'Number',
        },
        raw: {
          binaryValue: Buffer.from([0, 1, 2, 255]).toString('base64'),
          stringListValues: [],
          binaryListValues: [],
          dataType: 'Binary',
        },
      },
      md5OfBody: createHash('md5').update('{"contactId":"c-1"}').digest('hex'),
      md5OfMessageAttributes: expect.any(String),
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      awsRegion: 'us-east-1',
    });
    expect(mapping.counters).toEqual({ batches: 1, messages: 1, deleted: 1, failed: 0 });
  });

  it('deletes only the messages that succeeded; a failed one comes back after the visibility timeout', async () => {
    const queue = await newQueue({ VisibilityTimeout: '1' });
    await send(queue.url, ['a', 'b', 'c']);
    const fn = fakeFunction((event) =>
      failuresFor(event, (r) => r.body === 'b' && r.attributes.ApproximateReceiveCount === '1'),
    );

    const mapping = start({ queueUrl: queue.url, invoke: fn.invoke });
    await mapping.waitUntilIdle();

    expect(['a', 'b', 'c'].map(fn.timesDelivered)).toEqual([1, 2, 1]);
    const [first, second] = fn.deliveries.filter((d) => d.record.body === 'b');
    expect(second?.record.attributes.ApproximateReceiveCount).toBe('2');
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(900);
    expect(mapping.counters).toMatchObject({ messages: 4, deleted: 3, failed: 1 });
  });

  it('deletes nothing when the function throws', async () => {
    const queue = await newQueue({ VisibilityTimeout: '1' });
    await send(queue.url, ['a', 'b']);
    const fn = fakeFunction((_, call) => {
      if (call === 1) throw new Error('Salesforce is down');
    });

    const mapping = start({ queueUrl: queue.url, invoke: fn.invoke, maximumConcurrency: 1 });
    await mapping.waitUntilIdle();

    expect(fn.events.map((event) => event.Records.map((r) => r.body).sort())).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
    expect(mapping.counters).toMatchObject({ batches: 2, deleted: 2, failed: 2 });
  });

  it('fails the whole batch when an itemIdentifier is empty or not a messageId in the batch', async () => {
    const queue = await newQueue({ VisibilityTimeout: '1' });
    await send(queue.url, ['a', 'b']);
    const answers: unknown[] = [
      { batchItemFailures: [{ itemIdentifier: 'not-a-message-id' }] },
      { batchItemFailures: [{ itemIdentifier: '' }] },
    ];
    const fn = fakeFunction((_, call) => answers[call - 1]);

    const mapping = start({ queueUrl: queue.url, invoke: fn.invoke, maximumConcurrency: 1 });
    await mapping.waitUntilIdle();

    expect(['a', 'b'].map(fn.timesDelivered)).toEqual([3, 3]);
    expect(mapping.counters).toMatchObject({ deleted: 2, failed: 4 });
  });

  it('leaves a message that keeps failing to the queue, whose RedrivePolicy moves it to the DLQ after maxReceiveCount', async () => {
    const dlq = await newQueue();
    const queue = await newQueue({
      VisibilityTimeout: '1',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: 2 }),
    });
    await send(queue.url, ['ok', 'poison']);
    const fn = fakeFunction((event) => failuresFor(event, (r) => r.body === 'poison'));

    const mapping = start({ queueUrl: queue.url, invoke: fn.invoke });
    await mapping.waitUntilIdle();

    expect(['ok', 'poison'].map(fn.timesDelivered)).toEqual([1, 2]);
    const { Messages } = await client.send(
      new ReceiveMessageCommand({ QueueUrl: dlq.url, MaxNumberOfMessages: 10 }),
    );
    expect(Messages?.map((m) => m.Body)).toEqual(['poison']);
  });

  it('gathers up to batchSize messages across receives within the batching window', async () => {
    const queue = await newQueue();
    const bodies = Array.from({ length: 15 }, (_, i) => `m-${i}`);
    await send(queue.url, bodies);
    const fn = fakeFunction();

    const mapping = start({
      queueUrl: queue.url,
      invoke: fn.invoke,
      batchSize: 20,
      maximumBatchingWindowSeconds: 1,
      maximumConcurrency: 1,
    });
    await mapping.waitUntilIdle();

    expect(fn.events.map((event) => event.Records.length)).toEqual([15]);
  });

  it('waitUntilIdle resolves once messages sent while polling are handled and deleted', async () => {
    const queue = await newQueue();
    const fn = fakeFunction(async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
    });
    const mapping = start({ queueUrl: queue.url, queueArn: queue.arn, invoke: fn.invoke });
    await mapping.waitUntilIdle();

    await send(queue.url, ['x', 'y', 'z']);
    await mapping.waitUntilIdle();

    expect(fn.deliveries.map((d) => d.record.body).sort()).toEqual(['x', 'y', 'z']);
    expect(mapping.counters.deleted).toBe(3);
  });

  it('rejects a batchSize above 10 without a batching window, as Lambda does', () => {
    expect(() =>
      startSqsEventSourceMapping({
        client,
        queueUrl: 'unused',
        invoke: async () => {},
        batchSize: 11,
      }),
    ).toThrow(RangeError);
  });
});
