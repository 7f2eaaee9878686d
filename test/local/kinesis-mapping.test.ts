import { type KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createKinesisClient,
  createS3Client,
  createStream,
  type EmulatorHandle,
  startFauxqsServer,
  startKinesisLocal,
} from '../../local/emulators/start-emulators';
import { s3OnFailureDestination } from '../../local/event-source-mappings/s3-on-failure';
import {
  type KinesisEventSourceMapping,
  type KinesisEventSourceMappingOptions,
  type KinesisOnFailureRecord,
  startKinesisEventSourceMapping,
} from '../../local/event-source-mappings/kinesis';

let kinesisLocal: EmulatorHandle;
let client: KinesisClient;
const mappings: KinesisEventSourceMapping[] = [];
let streamCount = 0;

beforeAll(async () => {
  kinesisLocal = await startKinesisLocal();
  client = createKinesisClient(kinesisLocal.endpoint);
});

afterEach(async () => {
  await Promise.all(mappings.splice(0).map((mapping) => mapping.stop()));
});

afterAll(async () => {
  client?.destroy();
  await kinesisLocal?.stop();
});

interface PutRecord {
  partitionKey: string;
  data: string;
  shardId: string;
  sequenceNumber: string;
}

async function newStream(shardCount = 1): Promise<{ name: string; arn: string }> {
  streamCount += 1;
  const name = `mapping-test-${streamCount}`;
  return { name, arn: await createStream(client, name, shardCount) };
}

/** One PutRecord at a time, because only that keeps the order within a shard. */
async function put(
  stream: string,
  records: { partitionKey: string; data: string }[],
): Promise<PutRecord[]> {
  const put: PutRecord[] = [];
  for (const record of records) {
    const response = await client.send(
      new PutRecordCommand({
        StreamName: stream,
        PartitionKey: record.partitionKey,
        Data: Buffer.from(record.data),
      }),
    );
    put.push({
      ...record,
      shardId: response.ShardId ?? '',
      sequenceNumber: response.SequenceNumber ?? '',
    });
  }
  return put;
}

/** A stand-in function that keeps a copy of every event and answers as `answer` says. */
function fakeFunction(answer: (event: KinesisStreamEvent, call: number) => unknown = () => {}) {
  const events: KinesisStreamEvent[] = [];
  return {
    events,
    invoke: async (event: KinesisStreamEvent): Promise<unknown> => {
      events.push(structuredClone(event));
      return answer(event, events.length);
    },
  };
}

function start(
  options: Omit<KinesisEventSourceMappingOptions, 'client'>,
): KinesisEventSourceMapping {
  const mapping = startKinesisEventSourceMapping({
    client,
    pollIntervalMs: 50,
    retryDelayMs: 20,
    ...options,
  });
  mappings.push(mapping);
  return mapping;
}

const sequenceNumbers = (event: KinesisStreamEvent | undefined): string[] =>
  (event?.Records ?? []).map((record) => record.kinesis.sequenceNumber);
const decode = (record: KinesisStreamRecord): string =>
  Buffer.from(record.kinesis.data, 'base64').toString('utf8');
const records = (count: number, poison?: number) =>
  Array.from({ length: count }, (_, i) => ({
    partitionKey: 'contact-1',
    data: i === poison ? `poison-${i}` : `record-${i}`,
  }));

describe('Kinesis event source mapping', () => {
  it('delivers each shard in order, in Lambda event shape, with the data that was put', async () => {
    const stream = await newStream(2);
    const partitionKeys = ['a', 'b', 'c', 'd', 'e', 'f'];
    const putRecords = await put(
      stream.name,
      Array.from({ length: 12 }, (_, i) => ({
        partitionKey: partitionKeys[i % partitionKeys.length] ?? 'a',
        data: JSON.stringify({ n: i, text: 'héllo' }),
      })),
    );
    expect(new Set(putRecords.map((r) => r.shardId)).size).toBe(2);
    const fn = fakeFunction();

    const mapping = start({ streamName: stream.name, invoke: fn.invoke, batchSize: 4 });
    await mapping.waitUntilIdle();

    const delivered = fn.events.flatMap((event) => event.Records);
    expect(delivered.map(decode).sort()).toEqual(putRecords.map((r) => r.data).sort());
    expect(fn.events.every((event) => event.Records.length <= 4)).toBe(true);
    for (const shardId of new Set(putRecords.map((r) => r.shardId))) {
      const inShard = (r: { shardId: string }) => r.shardId === shardId;
      expect(delivered.filter((r) => r.eventID.startsWith(`${shardId}:`)).map(decode)).toEqual(
        putRecords.filter(inShard).map((r) => r.data),
      );
    }
    const first = putRecords[0];
    const record = delivered.find((r) => r.kinesis.sequenceNumber === first?.sequenceNumber);
    expect(record).toEqual({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: 'a',
        sequenceNumber: first?.sequenceNumber,
        data: Buffer.from(first?.data ?? '').toString('base64'),
        approximateArrivalTimestamp: expect.any(Number),
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${first?.shardId}:${first?.sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: expect.stringMatching(/^arn:aws:iam::/),
      awsRegion: 'us-east-1',
      eventSourceARN: stream.arn,
    });
    expect(record?.kinesis.approximateArrivalTimestamp).toBeCloseTo(Date.now() / 1000, -2);
    expect(mapping.source).toEqual({
      streamArn: stream.arn,
      shardIds: ['shardId-000000000000', 'shardId-000000000001'],
    });
    expect(mapping.counters).toMatchObject({ batches: fn.events.length, records: 12, retries: 0 });
  });

  it('retries from the lowest failed sequence number and does not redeliver the records before it', async () => {
    const stream = await newStream();
    const putRecords = await put(stream.name, records(5));
    const seq = putRecords.map((r) => r.sequenceNumber);
    const fn = fakeFunction((_, call) =>
      call === 1
        ? { batchItemFailures: [{ itemIdentifier: seq[3] }, { itemIdentifier: seq[1] }] }
        : { batchItemFailures: [] },
    );

    const mapping = start({ streamName: stream.name, invoke: fn.invoke });
    await mapping.waitUntilIdle();

    expect(fn.events.map(sequenceNumbers)).toEqual([seq, seq.slice(1)]);
    expect(mapping.counters).toMatchObject({ batches: 2, records: 9, retries: 1 });
  });

  it('retries the whole batch when the function throws', async () => {
    const stream = await newStream();
    const seq = (await put(stream.name, records(3))).map((r) => r.sequenceNumber);
    const fn = fakeFunction((_, call) => {
      if (call === 1) throw new Error('Salesforce is down');
    });

    const mapping = start({ streamName: stream.name, invoke: fn.invoke });
    await mapping.waitUntilIdle();

    expect(fn.events.map(sequenceNumbers)).toEqual([seq, seq]);
    expect(mapping.counters.retries).toBe(1);
  });

  it('retries the whole batch when an itemIdentifier is empty or not in the batch', async () => {
    const stream = await newStream();
    const seq = (await put(stream.name, records(3))).map((r) => r.sequenceNumber);
    const answers: unknown[] = [
      { batchItemFailures: [{ itemIdentifier: '12345' }] },
      { batchItemFailures: [{ itemIdentifier: '' }] },
      { batchItemFailures: [{ sequenceNumber: seq[1] }] },
      'not a batch response',
      null,
    ];
    const fn = fakeFunction((_, call) => answers[call - 1]);

    const mapping = start({ streamName: stream.name, invoke: fn.invoke });
    await mapping.waitUntilIdle();

    expect(fn.events.map(sequenceNumbers)).toEqual([seq, seq, seq, seq, seq]);
  });

  it('writes a batch given up on to S3 with its records (payload), as an S3 destination keeps it, and reports the object', async () => {
    const fauxqs = await startFauxqsServer();
    const s3: S3Client = createS3Client(fauxqs.endpoint);
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'failures' }));
      const stream = await newStream();
      const putRecords = await put(stream.name, records(2, 1));
      const notified: string[] = [];
      const fn = fakeFunction(() => {
        throw new Error('down');
      });

      const mapping = start({
        streamName: stream.name,
        invoke: fn.invoke,
        maximumRetryAttempts: 0,
        onFailure: s3OnFailureDestination({
          s3,
          bucket: 'failures',
          region: 'us-east-1',
          account: '123456789012',
          mappingUuid: 'a1b2c3d4-0000-4000-8000-000000000000',
          notify: async (eventJson) => notified.push(eventJson),
        }),
      });
      await mapping.waitUntilIdle();

      expect(notified).toHaveLength(1);
      const event = JSON.parse(notified[0] as string);
      expect(event).toMatchObject({ source: 'aws.s3', 'detail-type': 'Object Created' });
      const key: string = event.detail.object.key;
      expect(key).toMatch(
        /^aws\/lambda\/a1b2c3d4-0000-4000-8000-000000000000\/shardId-\d+\/\d{4}\/\d\d\/\d\d\/\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d-[0-9a-f-]{36}$/,
      );
      const object = await s3.send(new GetObjectCommand({ Bucket: 'failures', Key: key }));
      const stored = JSON.parse(await (object.Body?.transformToString() ?? Promise.resolve('')));
      expect(stored.KinesisBatchInfo.batchSize).toBe(2);
      // The records themselves, not only where they were in the stream.
      const payload: KinesisStreamEvent = JSON.parse(stored.payload);
      expect(payload.Records.map((record) => decode(record))).toEqual(
        putRecords.map((record) => record.data),
      );
    } finally {
      s3.destroy();
      await fauxqs.stop();
    }
  });

  it('sends a batch to onFailure when retries run out, then moves on to the next records', async () => {
    const stream = await newStream();
    const putRecords = await put(stream.name, records(5, 1));
    const seq = putRecords.map((r) => r.sequenceNumber);
    const failures: KinesisOnFailureRecord[] = [];
    const fn = fakeFunction((event) => {
      if (event.Records.some((r) => decode(r).startsWith('poison'))) throw new Error('bad record');
    });

    const mapping = start({
      streamName: stream.name,
      invoke: fn.invoke,
      batchSize: 3,
      maximumRetryAttempts: 2,
      onFailure: (record) => {
        failures.push(record);
      },
    });
    await mapping.waitUntilIdle();

    const firstBatch = seq.slice(0, 3);
    expect(fn.events.map(sequenceNumbers)).toEqual([
      firstBatch,
      firstBatch,
      firstBatch,
      seq.slice(3),
    ]);
    expect(failures).toEqual([
      {
        requestContext: {
          requestId: expect.any(String),
          functionArn: expect.stringMatching(/^arn:aws:lambda:us-east-1:/),
          condition: 'RetryAttemptsExhausted',
          approximateInvokeCount: 3,
        },
        responseContext: {
          statusCode: 200,
          executedVersion: '$LATEST',
          functionError: 'Unhandled',
        },
        version: '1.0',
        timestamp: expect.any(String),
        KinesisBatchInfo: {
          shardId: putRecords[0]?.shardId,
          startSequenceNumber: seq[0],
          endSequenceNumber: seq[2],
          approximateArrivalOfFirstRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          approximateArrivalOfLastRecord: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
          batchSize: 3,
          streamArn: stream.arn,
        },
      },
    ]);
    expect(mapping.counters).toMatchObject({
      retries: 2,
      sentToOnFailure: 1,
      recordsSentToOnFailure: 3,
    });
  });

  it('bisects a failing batch down to the bad record when bisectBatchOnFunctionError is on', async () => {
    const stream = await newStream();
    const seq = (await put(stream.name, records(4, 2))).map((r) => r.sequenceNumber);
    const failures: KinesisOnFailureRecord[] = [];
    const fn = fakeFunction((event) => {
      if (event.Records.some((r) => decode(r).startsWith('poison'))) throw new Error('bad record');
    });

    const mapping = start({
      streamName: stream.name,
      invoke: fn.invoke,
      maximumRetryAttempts: 0,
      bisectBatchOnFunctionError: true,
      onFailure: (record) => {
        failures.push(record);
      },
    });
    await mapping.waitUntilIdle();

    expect(fn.events.map(sequenceNumbers)).toEqual([
      seq,
      seq.slice(0, 2),
      seq.slice(2),
      seq.slice(2, 3),
      seq.slice(3),
    ]);
    expect(failures.map((f) => f.KinesisBatchInfo)).toEqual([
      expect.objectContaining({
        startSequenceNumber: seq[2],
        endSequenceNumber: seq[2],
        batchSize: 1,
      }),
    ]);
  });

  it('waitUntilIdle resolves only after records put while polling have been delivered', async () => {
    const stream = await newStream();
    const fn = fakeFunction(async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
    });
    const mapping = start({ streamName: stream.name, invoke: fn.invoke, batchSize: 2 });
    await mapping.waitUntilIdle();
    expect(fn.events).toEqual([]);

    const putRecords = await put(stream.name, records(5));
    await mapping.waitUntilIdle();

    expect(fn.events.flatMap((event) => event.Records).map(decode)).toEqual(
      putRecords.map((r) => r.data),
    );
  });

  it('waitUntilIdle rejects with the stuck batch when a batch keeps failing', async () => {
    const stream = await newStream();
    await put(stream.name, records(1));
    const fn = fakeFunction(() => {
      throw new Error('always fails');
    });
    const mapping = start({ streamName: stream.name, invoke: fn.invoke });

    await expect(mapping.waitUntilIdle({ timeoutMs: 500 })).rejects.toThrow(
      /shardId-000000000000 has 1 record\(s\)/,
    );
  });
});
