/**
 * The fault proxy in front of a real fauxqs, driven by SDK v3 clients: the
 * S3 and SQS faults it injects, what it lets through, and what reaches fauxqs.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createS3Client,
  createSqsClient,
  type EmulatorHandle,
  LOCAL_REGION,
  startFauxqsServer,
} from '../../local/emulators/start-emulators';
import { type FaultProxy, type FaultProxyOptions, startFaultProxy } from '../../local/faults/proxy';
import { FaultPlan, parseFaultSpec } from '../../local/faults/plan';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const bucket = 'fault-proxy-test';

let fauxqs: EmulatorHandle;
let s3Direct: S3Client;
let sqsDirect: SQSClient;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  fauxqs = await startFauxqsServer();
  s3Direct = createS3Client(fauxqs.endpoint);
  sqsDirect = createSqsClient(fauxqs.endpoint);
  await s3Direct.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  s3Direct?.destroy();
  sqsDirect?.destroy();
  await fauxqs?.stop();
});

interface Proxied {
  proxy: FaultProxy;
  plan: FaultPlan;
  /** Default SDK retries (3 attempts). */
  s3: S3Client;
  sqs: SQSClient;
  /** One attempt: the raw error of the first answer. */
  s3Once: S3Client;
  sqsOnce: SQSClient;
}

async function proxied(
  spec: string,
  seed = 1,
  options: Partial<FaultProxyOptions> = {},
): Promise<Proxied> {
  const plan = new FaultPlan(parseFaultSpec(spec), seed);
  const proxy = await startFaultProxy({ upstream: fauxqs.endpoint, plan, ...options });
  const s3 = createS3Client(proxy.endpoint);
  const sqs = createSqsClient(proxy.endpoint);
  // createS3Client's settings, with one attempt.
  const s3Once = new S3Client({
    endpoint: proxy.endpoint,
    region: LOCAL_REGION,
    credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
  });
  const sqsOnce = new SQSClient({
    endpoint: proxy.endpoint,
    region: LOCAL_REGION,
    credentials,
    maxAttempts: 1,
  });
  cleanups.push(async () => {
    for (const client of [s3, sqs, s3Once, sqsOnce]) client.destroy();
    await proxy.stop();
  });
  return { proxy, plan, s3, sqs, s3Once, sqsOnce };
}

async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected the call to fail');
}

function statusOf(error: Record<string, unknown>): number | undefined {
  return (error.$metadata as { httpStatusCode?: number } | undefined)?.httpStatusCode;
}

async function createQueue(name: string): Promise<string> {
  const { QueueUrl } = await sqsDirect.send(new CreateQueueCommand({ QueueName: name }));
  return QueueUrl as string;
}

/** Every message on the queue, read directly from fauxqs. */
async function receiveAll(queueUrl: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const { Messages = [] } = await sqsDirect.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 60,
      }),
    );
    if (Messages.length === 0) return bodies;
    bodies.push(...Messages.map((message) => message.Body as string));
  }
}

function batchEntries(count: number, tag: string) {
  return Array.from({ length: count }, (_, i) => ({
    Id: `m${i}`,
    MessageBody: JSON.stringify({ tag, index: i }),
  }));
}

describe('S3 through the fault proxy', () => {
  it('fails PutObject with 500 InternalError or 503 SlowDown at rate 1, and the object never reaches fauxqs', async () => {
    const { proxy, s3Once } = await proxied('s3=1');
    const key = `put/${randomUUID()}.json`;

    const error = await rejection(
      s3Once.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"a":1}' })),
    );

    expect([500, 503]).toContain(statusOf(error));
    expect(error.name).toBe(statusOf(error) === 500 ? 'InternalError' : 'SlowDown');
    expect(proxy.injected).toEqual({ s3: 1, sqs: 0 });
    const missing = await rejection(
      s3Direct.send(new HeadObjectCommand({ Bucket: bucket, Key: key })),
    );
    expect(statusOf(missing)).toBe(404);
  });

  it('is retried by the SDK: PutObject still fails after three attempts, each faulted', async () => {
    const { proxy, s3 } = await proxied('s3=1');

    const error = await rejection(
      s3.send(new PutObjectCommand({ Bucket: bucket, Key: `retry/${randomUUID()}`, Body: 'x' })),
    );

    expect([500, 503]).toContain(statusOf(error));
    expect((error.$metadata as { attempts?: number }).attempts).toBe(3);
    expect(proxy.injected.s3).toBe(3);
  });

  it('fails GetObject and HeadObject of an existing object at rate 1', async () => {
    const { proxy, s3Once } = await proxied('s3=1', 2);
    const key = `get/${randomUUID()}.json`;
    await s3Direct.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'stored' }));

    const get = await rejection(s3Once.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
    const head = await rejection(s3Once.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));

    expect([500, 503]).toContain(statusOf(get));
    expect(['InternalError', 'SlowDown']).toContain(get.name);
    expect([500, 503]).toContain(statusOf(head));
    expect(proxy.injected.s3).toBe(2);
  });

  it('answers in the S3 REST XML error format, with no body for HEAD', async () => {
    const { proxy } = await proxied('s3=1', 3);
    const url = `${proxy.endpoint}/${bucket}/raw/${randomUUID()}`;

    const get = await fetch(url);
    const getBody = await get.text();
    const head = await fetch(url, { method: 'HEAD' });
    const put = await fetch(url, { method: 'PUT', body: randomBytes(64 * 1024) });
    await put.arrayBuffer();

    expect([500, 503]).toContain(get.status);
    expect(get.headers.get('content-type')).toBe('application/xml');
    const requestId = get.headers.get('x-amz-request-id') ?? '';
    expect(requestId).not.toBe('');
    const code = get.status === 500 ? 'InternalError' : 'SlowDown';
    const message =
      get.status === 500
        ? 'We encountered an internal error. Please try again.'
        : 'Please reduce your request rate.';
    expect(getBody).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>' +
        `<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${requestId}</RequestId></Error>`,
    );
    expect([500, 503]).toContain(head.status);
    expect(head.headers.get('x-amz-request-id')).not.toBeNull();
    expect(await head.text()).toBe('');
    expect([500, 503]).toContain(put.status);
    expect(proxy.injected.s3).toBe(3);
  });

  it('never faults bucket-level requests (CreateBucket, ListObjects)', async () => {
    const { proxy, s3Once } = await proxied('s3=1');
    const otherBucket = `fault-proxy-${randomUUID().slice(0, 8)}`;

    await s3Once.send(new CreateBucketCommand({ Bucket: otherBucket }));
    const listed = await s3Once.send(new ListObjectsV2Command({ Bucket: otherBucket }));

    expect(listed.KeyCount ?? 0).toBe(0);
    expect(proxy.injected.s3).toBe(0);
  });

  it('passes everything through at rate 0: a 2 MB object round-trips byte-identical', async () => {
    const { proxy, s3 } = await proxied('s3=0');
    const key = `large/${randomUUID()}.bin`;
    const data = randomBytes(2 * 1024 * 1024);

    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    const viaProxy = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const direct = await s3Direct.send(new GetObjectCommand({ Bucket: bucket, Key: key }));

    expect(head.ContentLength).toBe(data.length);
    expect(Buffer.from((await viaProxy.Body?.transformToByteArray()) ?? []).equals(data)).toBe(
      true,
    );
    expect(Buffer.from((await direct.Body?.transformToByteArray()) ?? []).equals(data)).toBe(true);
    expect(proxy.injected.s3).toBe(0);
  });

  it('passes upstream errors through unchanged (404 for a missing object)', async () => {
    const { s3Once } = await proxied('s3=0');

    const error = await rejection(
      s3Once.send(new GetObjectCommand({ Bucket: bucket, Key: `missing/${randomUUID()}` })),
    );

    expect(statusOf(error)).toBe(404);
    expect(error.name).toBe('NoSuchKey');
  });
});

describe('S3 conditional writes through the proxy (fauxqs alone does not enforce them)', () => {
  it('answers 412 to If-None-Match: * on an existing key, and writes a new key', async () => {
    const { s3Once } = await proxied('s3=0');
    const key = `conditional/${randomUUID()}`;
    await s3Once.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'first', IfNoneMatch: '*' }),
    );

    const error = await rejection(
      s3Once.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'second', IfNoneMatch: '*' }),
      ),
    );

    expect(statusOf(error)).toBe(412);
    expect(error.name).toBe('PreconditionFailed');
    const stored = await s3Direct.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await stored.Body?.transformToString()).toBe('first');
  });

  it('answers 412 to If-Match with a stale ETag, and replaces on the current one', async () => {
    const { s3Once } = await proxied('s3=0');
    const key = `conditional/${randomUUID()}`;
    const { ETag: first } = await s3Once.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'v1' }),
    );
    const { ETag: second } = await s3Once.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'v2', IfMatch: first }),
    );

    const stale = await rejection(
      s3Once.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'v3', IfMatch: first })),
    );
    const missing = await rejection(
      s3Once.send(
        new PutObjectCommand({ Bucket: bucket, Key: `${key}-absent`, Body: 'x', IfMatch: first }),
      ),
    );

    expect(second).not.toBe(first);
    expect(statusOf(stale)).toBe(412);
    expect(statusOf(missing)).toBe(412);
    const stored = await s3Direct.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await stored.Body?.transformToString()).toBe('v2');
  });

  it('lets exactly one of 10 concurrent writers with the same If-Match win', async () => {
    const { s3Once } = await proxied('s3=0');
    const key = `conditional/${randomUUID()}`;
    const { ETag } = await s3Once.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'base' }),
    );

    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, index) =>
        s3Once.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: `writer-${index}`,
            IfMatch: ETag,
          }),
        ),
      ),
    );

    const winners = results.flatMap((result, index) =>
      result.status === 'fulfilled' ? [index] : [],
    );
    expect(winners).toHaveLength(1);
    const stored = await s3Direct.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await stored.Body?.transformToString()).toBe(`writer-${winners[0]}`);
  });
});

describe('SQS through the fault proxy', () => {
  it('fails SendMessage at rate 1 with HTTP 500 InternalError, a server fault', async () => {
    const queueUrl = await createQueue(`fp-send-${randomUUID().slice(0, 8)}`);
    const { proxy, sqsOnce } = await proxied('sqs=1');

    const error = await rejection(
      sqsOnce.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'lost' })),
    );

    expect(statusOf(error)).toBe(500);
    expect(error.name).toBe('InternalError');
    expect(error.$fault).toBe('server');
    // Read from the x-amzn-query-error header (the SDK's awsQueryCompatible handling).
    expect(error.Error).toMatchObject({ Code: 'InternalError', Type: 'Receiver' });
    expect(proxy.injected).toEqual({ s3: 0, sqs: 1 });
    expect(await receiveAll(queueUrl)).toEqual([]);
  });

  it('answers a faulted SendMessage in the AWS JSON 1.0 error format', async () => {
    const queueUrl = await createQueue(`fp-wire-${randomUUID().slice(0, 8)}`);
    const { proxy } = await proxied('sqs=1');

    const response = await fetch(proxy.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AmazonSQS.SendMessage',
        'x-amzn-query-mode': 'true',
      },
      body: JSON.stringify({ QueueUrl: queueUrl, MessageBody: 'lost' }),
    });

    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toBe('application/x-amz-json-1.0');
    expect(response.headers.get('x-amzn-query-error')).toBe('InternalError;Receiver');
    expect(response.headers.get('x-amzn-requestid')).not.toBeNull();
    expect(await response.json()).toEqual({
      __type: 'com.amazonaws.sqs#InternalError',
      message: 'Injected failure (fault proxy)',
    });
  });

  it('is retried by the SDK: SendMessage fails after three attempts, each faulted', async () => {
    const queueUrl = await createQueue(`fp-retry-${randomUUID().slice(0, 8)}`);
    const { proxy, sqs } = await proxied('sqs=1');

    const error = await rejection(
      sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'lost' })),
    );

    expect(statusOf(error)).toBe(500);
    expect((error.$metadata as { attempts?: number }).attempts).toBe(3);
    expect(proxy.injected.sqs).toBe(3);
  });

  it('reports every SendMessageBatch entry as Failed at rate 1 and delivers none', async () => {
    const queueUrl = await createQueue(`fp-batch-${randomUUID().slice(0, 8)}`);
    const { proxy, sqs } = await proxied('sqs=1');
    const entries = batchEntries(4, 'all-failed');

    const result = await sqs.send(
      new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }),
    );

    expect(result.Successful ?? []).toEqual([]);
    expect(result.Failed).toEqual(
      entries.map(({ Id }) => ({
        Id,
        SenderFault: false,
        Code: 'InternalError',
        Message: 'Injected failure (fault proxy)',
      })),
    );
    expect(proxy.injected.sqs).toBe(4);
    expect(await receiveAll(queueUrl)).toEqual([]);
  });

  it('delivers exactly the Successful entries of a partly failed SendMessageBatch', async () => {
    const queueUrl = await createQueue(`fp-half-${randomUUID().slice(0, 8)}`);
    const { proxy, sqs } = await proxied('sqs=0.5', 11);
    const entries = batchEntries(10, 'half');

    const result = await sqs.send(
      new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }),
    );

    const successful = (result.Successful ?? []).map((entry) => entry.Id as string);
    const failed = (result.Failed ?? []).map((entry) => entry.Id as string);
    expect(successful.length).toBeGreaterThan(0);
    expect(failed.length).toBeGreaterThan(0);
    expect(successful.length + failed.length).toBe(10);
    expect([...successful, ...failed].sort()).toEqual(entries.map(({ Id }) => Id).sort());
    expect(proxy.injected.sqs).toBe(failed.length);
    const delivered = await receiveAll(queueUrl);
    expect(delivered.sort()).toEqual(
      entries
        .filter(({ Id }) => successful.includes(Id))
        .map(({ MessageBody }) => MessageBody)
        .sort(),
    );
  });

  it('fails the same batch entries for the same seed', async () => {
    const failedIds = async () => {
      const queueUrl = await createQueue(`fp-seed-${randomUUID().slice(0, 8)}`);
      const { sqs } = await proxied('sqs=0.5', 11);
      const result = await sqs.send(
        new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: batchEntries(10, 'half') }),
      );
      return (result.Failed ?? []).map((entry) => entry.Id).sort();
    };

    const first = await failedIds();
    expect(first.length).toBeGreaterThan(0);
    expect(await failedIds()).toEqual(first);
  });

  it('never faults ReceiveMessage or DeleteMessage', async () => {
    const queueUrl = await createQueue(`fp-receive-${randomUUID().slice(0, 8)}`);
    await sqsDirect.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'kept' }));
    const { proxy, sqsOnce } = await proxied('sqs=1');

    const { Messages = [] } = await sqsOnce.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    await sqsOnce.send(
      new DeleteMessageCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: Messages[0]?.ReceiptHandle as string,
      }),
    );

    expect(Messages.map((message) => message.Body)).toEqual(['kept']);
    expect(proxy.injected.sqs).toBe(0);
    expect(await receiveAll(queueUrl)).toEqual([]);
  });

  it('faults only sends to the queues named in sqsQueueNames', async () => {
    const suffix = randomUUID().slice(0, 8);
    const selected = `fp-selected-${suffix}`;
    const selectedUrl = await createQueue(selected);
    const dlqUrl = await createQueue(`${selected}-dlq`);
    const prefixedUrl = await createQueue(`other-${selected}`);
    const { proxy, sqsOnce } = await proxied('sqs=1', 1, { sqsQueueNames: [selected] });

    for (const queueUrl of [dlqUrl, prefixedUrl]) {
      await sqsOnce.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'single' }));
      const batch = await sqsOnce.send(
        new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: batchEntries(3, 'other') }),
      );
      expect(batch.Failed ?? []).toEqual([]);
      expect(batch.Successful?.length).toBe(3);
    }
    const error = await rejection(
      sqsOnce.send(new SendMessageCommand({ QueueUrl: selectedUrl, MessageBody: 'faulted' })),
    );

    expect(statusOf(error)).toBe(500);
    expect(proxy.injected.sqs).toBe(1);
    expect((await receiveAll(dlqUrl)).length).toBe(4);
    expect((await receiveAll(prefixedUrl)).length).toBe(4);
    expect(await receiveAll(selectedUrl)).toEqual([]);
  });
});

describe('fault proxy plumbing', () => {
  it('answers 502 when upstream cannot be reached', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const plan = new FaultPlan(parseFaultSpec('s3=0'), 1);
    const proxy = await startFaultProxy({ upstream: `http://127.0.0.1:${closedPort}`, plan });
    cleanups.push(() => proxy.stop());

    const get = await fetch(`${proxy.endpoint}/${bucket}/key`);
    await get.arrayBuffer();
    const put = await fetch(`${proxy.endpoint}/${bucket}/key`, {
      method: 'PUT',
      body: randomBytes(1024 * 1024),
    });
    await put.arrayBuffer();

    expect(get.status).toBe(502);
    expect(put.status).toBe(502);
  });

  it('stops, closing its port', async () => {
    const { proxy } = await proxied('s3=0');
    await (await fetch(`${proxy.endpoint}/health`)).arrayBuffer();

    await proxy.stop();

    await expect(fetch(`${proxy.endpoint}/health`)).rejects.toThrow();
  });
});
