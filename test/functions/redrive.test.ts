import { gzipSync } from 'node:zlib';
import {
  type AttributeValue,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandInput,
} from '@aws-sdk/client-eventbridge';
import {
  InvokeCommand,
  type InvokeCommandInput,
  type InvokeCommandOutput,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchCommandInput,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { PermanentError } from '../../domain/errors';
import { contentDigest, versionKey } from '../../domain/versions';
import { CtrReceivedDetailSchema } from '../../events/ctr-received';
import { RedriveCompletedDetailSchema } from '../../events/redrive';
import { MAX_MESSAGE_BYTES } from '../../functions/shared/sqs-queues';
import { referenceKey } from '../../functions/shared/s3-archive';
import { ctrReceivedBody, eventBridgeEvent, lambdaContext } from '../fixtures/events';
import { type JsonObject, loadContactRecordFixture } from '../fixtures/factories';

const dynamo = mockClient(DynamoDBClient);
const lambda = mockClient(LambdaClient);
const s3 = mockClient(S3Client);
const sqs = mockClient(SQSClient);
const eventBridge = mockClient(EventBridgeClient);

const REST_API_ARN =
  'arn:aws:lambda:us-east-1:123456789012:function:InvokeSalesforceRestApiFunction';
const SYNC_QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/ctr-sync-sync';
const SYNC_DLQ_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/ctr-sync-sync-dlq';
const ARCHIVE_BUCKET = 'ctr-sync-archive';
const LEDGER_TABLE = 'ctr-sync-ledger';

let handler: (typeof import('../../functions/redrive/handler'))['handler'];

beforeAll(async () => {
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('EVENT_BUS_NAME', 'ctr-sync-bus');
  vi.stubEnv('ARCHIVE_BUCKET_NAME', ARCHIVE_BUCKET);
  vi.stubEnv('LEDGER_TABLE_NAME', LEDGER_TABLE);
  vi.stubEnv('SYNC_QUEUE_URL', SYNC_QUEUE_URL);
  vi.stubEnv('SYNC_DLQ_URL', SYNC_DLQ_URL);
  vi.stubEnv('INVOKE_SALESFORCE_REST_API_ARN', REST_API_ARN);
  ({ handler } = await import('../../functions/redrive/handler'));
});

const CONTACT_ID = '15a5cf14-3212-45a1-9f86-a8e97db8afaf';
/** When the functions run, in these tests. */
const NOW = '2024-05-02T06:30:00.000Z';
/** A VoiceCall row as queryRecord answers it (Salesforce writes dateTimes with +0000). */
const ROW = {
  Id: '0LQ5e000000AbCdGAK',
  VendorCallKey: CONTACT_ID,
  CreatedDate: '2024-05-01T10:15:00.000+0000',
};
/** The Firehose object of the hour the call was created in. */
const ARCHIVE_KEY = 'archive/2024/05/01/10/ctr-sync-dev-archive-1-2024-05-01-10-20-00-5d1c0a2e.gz';

function invokeResponse(payload: unknown): InvokeCommandOutput {
  return {
    StatusCode: 200,
    Payload: new TextEncoder().encode(JSON.stringify(payload)) as InvokeCommandOutput['Payload'],
    $metadata: { httpStatusCode: 200 },
  };
}

function soqlQueries(): string[] {
  return lambda.commandCalls(InvokeCommand).map((call) => {
    const payload = (call.args[0].input as InvokeCommandInput).Payload;
    const text =
      typeof payload === 'string' ? payload : new TextDecoder().decode(payload as Uint8Array);
    const parameters = JSON.parse(text).Details.Parameters;
    expect(parameters.methodName).toBe('queryRecord');
    return parameters.soql;
  });
}

function inbound(): JsonObject {
  return loadContactRecordFixture('inbound-answered');
}

/** The version key of a raw contact record, as the ledger holds it. */
function versionOf(record: JsonObject): string {
  return versionKey(String(record.LastUpdateTimestamp), contentDigest(JSON.stringify(record)));
}

/** An S3 object body holding `bytes`. */
function objectHolding(bytes: Uint8Array): GetObjectCommandOutput {
  return {
    Body: {
      transformToByteArray: async () => bytes,
      transformToString: async () => Buffer.from(bytes).toString('utf8'),
    } as unknown as GetObjectCommandOutput['Body'],
    $metadata: { httpStatusCode: 200 },
  };
}

/** A Firehose archive object: the records as received, one per line, GZIP. */
function archiveObject(records: JsonObject[]): GetObjectCommandOutput {
  const lines = records.map((record) => `${JSON.stringify(record)}\n`).join('');
  return objectHolding(new Uint8Array(gzipSync(lines)));
}

/** A ledger item as DynamoDB returns it: strings as S, numbers as N. */
function ledgerItem(
  fields: Record<string, string | number | undefined>,
): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = { contactId: { S: CONTACT_ID } };
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === 'string') item[name] = { S: value };
    else if (typeof value === 'number') item[name] = { N: String(value) };
  }
  return item;
}

function sentBatches(): SendMessageBatchCommandInput[] {
  return sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);
}

function sentBodies() {
  return sentBatches().flatMap((batch) =>
    (batch.Entries ?? []).map((entry) => JSON.parse(entry.MessageBody ?? '')),
  );
}

function publishedReports() {
  return eventBridge
    .commandCalls(PutEventsCommand)
    .flatMap((call) => (call.args[0].input as PutEventsCommandInput).Entries ?? []);
}

function sweepRequested(detail: object) {
  return eventBridgeEvent('ctr-sync', 'SweepRequested', detail);
}

function startCallProcessing(detail: object) {
  return eventBridgeEvent('lca-solution', 'START_CALL_PROCESSING', detail);
}

const RESYNC_ATTRIBUTES = { 'ctr-sync-resync': { DataType: 'String', StringValue: 'true' } };

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date(NOW));
  dynamo.reset();
  lambda.reset();
  s3.reset();
  sqs.reset();
  eventBridge.reset();
  // An empty ledger and an empty archive; no VoiceCall to sweep.
  dynamo.on(QueryCommand).resolves({ Items: [] });
  dynamo.on(GetItemCommand).resolves({});
  s3.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });
  lambda.on(InvokeCommand).resolves(invokeResponse({}));
  sqs.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
    Successful: (input.Entries ?? []).map((entry) => ({
      Id: entry.Id,
      MessageId: `message-${entry.Id}`,
      MD5OfMessageBody: 'md5',
    })),
    Failed: [],
  }));
  // One result per entry, as PutEvents answers.
  eventBridge.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => ({
    FailedEntryCount: 0,
    Entries: (input.Entries ?? []).map((_, index) => ({
      EventId: `11710aed-b79e-4468-a20b-bb3c0c3b486${index}`,
    })),
  }));
});

afterEach(() => {
  vi.useRealTimers();
});

const NO_COUNTS = {
  queried: 0,
  enqueued: 0,
  skipped: 0,
  noRecord: 0,
  pending: 0,
  pendingNotFound: 0,
  archiveObjects: 0,
  deferred: 0,
  pendingUnread: 0,
};

describe('redrive handler, SweepRequested', () => {
  it('queries the REST API page by page, finds the record in the archive after CreatedDate, enqueues it and reports the counts', async () => {
    lambda.on(InvokeCommand).resolvesOnce(invokeResponse(ROW)).resolves(invokeResponse({}));
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: ARCHIVE_KEY }], IsTruncated: false });
    s3.on(GetObjectCommand).resolves(
      archiveObject([loadContactRecordFixture('outbound-answered'), inbound()]),
    );
    const event = sweepRequested({ from: '2024-05-01T00:00:00Z', to: '2024-05-02T00:00:00Z' });

    const report = await handler(event, lambdaContext());

    const queries = soqlQueries();
    expect(queries).toHaveLength(2);
    expect(queries[0]).toMatch(/^SELECT Id, VendorCallKey, CreatedDate FROM VoiceCall WHERE /);
    expect(queries[0]).toContain(
      'CreatedDate >= 2024-05-01T00:00:00Z AND CreatedDate < 2024-05-02T00:00:00Z',
    );
    expect(queries[0]).not.toContain('VendorCallKey >');
    expect(queries[1]).toContain(`VendorCallKey > '${CONTACT_ID}'`);
    expect(lambda.commandCalls(InvokeCommand)[0]?.args[0].input.FunctionName).toBe(REST_API_ARN);

    expect(dynamo.commandCalls(GetItemCommand).map((call) => call.args[0].input)).toEqual([
      { TableName: LEDGER_TABLE, Key: { contactId: { S: CONTACT_ID } }, ConsistentRead: true },
    ]);
    expect(s3.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toMatchObject({
      Bucket: ARCHIVE_BUCKET,
      Prefix: 'archive/',
      StartAfter: 'archive/2024/05/01/10',
    });
    expect(s3.commandCalls(GetObjectCommand).map((call) => call.args[0].input)).toEqual([
      { Bucket: ARCHIVE_BUCKET, Key: ARCHIVE_KEY },
    ]);

    const batches = sentBatches();
    expect(batches).toHaveLength(1);
    expect(batches[0]?.QueueUrl).toBe(SYNC_QUEUE_URL);
    expect(batches[0]?.Entries).toHaveLength(1);
    expect(batches[0]?.Entries?.[0]?.MessageAttributes).toEqual(RESYNC_ATTRIBUTES);
    const body = JSON.parse(batches[0]?.Entries?.[0]?.MessageBody ?? '');
    expect(body).toEqual(JSON.parse(ctrReceivedBody(inbound())));
    expect(CtrReceivedDetailSchema.safeParse(body).success).toBe(true);

    const expected = {
      schemaVersion: '1',
      operation: 'sweep',
      counts: { ...NO_COUNTS, queried: 1, enqueued: 1, archiveObjects: 1 },
      complete: true,
    };
    expect(report).toEqual(expected);
    const reports = publishedReports();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({
      Source: 'ctr-sync',
      DetailType: 'RedriveCompleted',
      EventBusName: 'ctr-sync-bus',
    });
    expect(RedriveCompletedDetailSchema.parse(JSON.parse(reports[0]?.Detail ?? ''))).toEqual(
      expected,
    );
  });

  it('runs the scheduled sweep ({}) in two bands, first look after 1 hour and second after 24, and the pending pass once', async () => {
    await handler(sweepRequested({}), lambdaContext());

    // No cursor yet: each band starts SWEEP_LOOKBACK_HOURS before its end.
    expect(soqlQueries()).toEqual([
      expect.stringContaining(
        'CreatedDate >= 2024-05-01T05:30:00Z AND CreatedDate < 2024-05-02T05:30:00Z',
      ),
      expect.stringContaining(
        'CreatedDate >= 2024-04-30T06:30:00Z AND CreatedDate < 2024-05-01T06:30:00Z',
      ),
    ]);
    const queries = dynamo.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(queries).toHaveLength(1);
    expect(queries[0]).toMatchObject({
      TableName: LEDGER_TABLE,
      IndexName: 'pending',
      KeyConditionExpression: '#pending = :pending AND #pendingSince < :before',
      ExpressionAttributeValues: {
        ':pending': { S: 'pending' },
        ':before': { N: String(Date.parse(NOW) - 15 * 60_000) },
      },
    });
    // Both windows were swept to their end: each band's cursor moves to its window's end.
    const cursors = dynamo
      .commandCalls(UpdateItemCommand)
      .map((call) => call.args[0].input)
      .filter((input) => input.UpdateExpression === 'SET #sweptTo = :to');
    expect(
      cursors.map((input) => [
        input.Key?.contactId?.S,
        input.ExpressionAttributeValues?.[':to']?.N,
      ]),
    ).toEqual([
      ['sweep-cursor#first-look', String(Date.parse('2024-05-02T05:30:00Z'))],
      ['sweep-cursor#second-look', String(Date.parse('2024-05-01T06:30:00Z'))],
    ]);
  });

  it('starts each band of the scheduled sweep at its cursor, so a VoiceCall is queried once per band', async () => {
    dynamo.on(GetItemCommand).callsFake((input: { Key: { contactId: { S: string } } }) =>
      input.Key.contactId.S.startsWith('sweep-cursor#')
        ? {
            Item: {
              contactId: input.Key.contactId,
              sweptTo: {
                N: String(
                  Date.parse(NOW) -
                    (input.Key.contactId.S.endsWith('first-look') ? 2 : 25) * 3_600_000,
                ),
              },
            },
          }
        : {},
    );

    const report = await handler(sweepRequested({}), lambdaContext());

    // An hour since the last run: each band reads the hour that became old enough.
    expect(soqlQueries()).toEqual([
      expect.stringContaining(
        'CreatedDate >= 2024-05-02T04:30:00Z AND CreatedDate < 2024-05-02T05:30:00Z',
      ),
      expect.stringContaining(
        'CreatedDate >= 2024-05-01T05:30:00Z AND CreatedDate < 2024-05-01T06:30:00Z',
      ),
    ]);
    expect(report).toMatchObject({
      operation: 'sweep',
      complete: true,
      bands: [
        { band: 'first-look', from: '2024-05-02T04:30:00.000Z', to: '2024-05-02T05:30:00.000Z' },
        { band: 'second-look', from: '2024-05-01T05:30:00.000Z', to: '2024-05-01T06:30:00.000Z' },
      ],
    });
  });

  it('refuses a band window that ends later than its VoiceCalls can be old enough (a forged continuation)', async () => {
    const refused = await handler(
      sweepRequested({
        band: 'first-look',
        from: '2024-05-01T12:00:00Z',
        to: '2024-05-02T06:00:00Z',
      }),
      lambdaContext(),
    ).catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(PermanentError);
    expect((refused as Error).message).toMatch(
      /band first-look ends at .* after its VoiceCalls' age allows/,
    );
    expect(lambda.calls()).toHaveLength(0);
    expect(
      dynamo
        .commandCalls(UpdateItemCommand)
        .filter((call) => call.args[0].input.Key?.contactId?.S?.startsWith('sweep-cursor#')),
    ).toHaveLength(0);
  });

  it('continues a band stopped by maxRecords with its band, and moves its cursor only when the continuation completes', async () => {
    lambda.on(InvokeCommand).resolves(invokeResponse(ROW));

    await handler(sweepRequested({ maxRecords: 1 }), lambdaContext());

    const continuations = publishedReports().filter(
      (entry) => entry.DetailType === 'SweepRequested',
    );
    expect(continuations.map((entry) => JSON.parse(entry.Detail ?? '').band)).toEqual([
      'first-look',
      'second-look',
    ]);
    const cursorWrites = () =>
      dynamo
        .commandCalls(UpdateItemCommand)
        .map((call) => call.args[0].input)
        .filter((input) => input.UpdateExpression === 'SET #sweptTo = :to');
    expect(cursorWrites()).toEqual([]);

    lambda.on(InvokeCommand).resolves(invokeResponse({}));
    const first = JSON.parse(continuations[0]?.Detail ?? '');
    await handler(sweepRequested(first), lambdaContext());

    expect(cursorWrites().map((input) => input.Key?.contactId?.S)).toEqual([
      'sweep-cursor#first-look',
    ]);
    expect(cursorWrites()[0]?.ExpressionAttributeValues?.[':to']).toEqual({
      N: String(Date.parse(first.to)),
    });
  });

  it('resends a pending sync from the archive objects around when its version was received', async () => {
    const receivedAt = Date.parse('2024-05-01T10:20:00Z');
    const pendingItem = ledgerItem({
      claimed: versionOf(inbound()),
      receivedAt,
      pending: 'pending',
      pendingSince: receivedAt + 1_000,
    });
    dynamo.on(QueryCommand).resolves({
      Items: [
        { contactId: { S: CONTACT_ID }, pending: { S: 'pending' }, pendingSince: { N: '1' } },
      ],
    });
    dynamo.on(GetItemCommand).resolves({ Item: pendingItem });
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: ARCHIVE_KEY }], IsTruncated: false });
    s3.on(GetObjectCommand).resolves(archiveObject([inbound()]));

    const report = await handler(sweepRequested({}), lambdaContext());

    // The hour before it reached the sync queue.
    expect(s3.commandCalls(ListObjectsV2Command)[0]?.args[0].input.StartAfter).toBe(
      'archive/2024/05/01/09',
    );
    expect(sentBodies()).toEqual([JSON.parse(ctrReceivedBody(inbound()))]);
    expect(report.counts).toEqual({ ...NO_COUNTS, pending: 1, enqueued: 1, archiveObjects: 1 });
  });

  it('resends the record the ledger holds for the claimed version, without reading the archive', async () => {
    const version = versionOf(inbound());
    lambda.on(InvokeCommand).resolvesOnce(invokeResponse(ROW)).resolves(invokeResponse({}));
    dynamo.on(GetItemCommand).resolves({
      Item: ledgerItem({
        claimed: version,
        heldJson: JSON.stringify(inbound()),
        heldVersion: version,
      }),
    });

    const report = await handler(sweepRequested({}), lambdaContext());

    const [body] = sentBodies();
    expect(body.contactId).toBe(CONTACT_ID);
    expect(body.contactRecord).toEqual(inbound());
    expect(s3.calls()).toHaveLength(0);
    expect(report.counts).toEqual({ ...NO_COUNTS, queried: 1, enqueued: 1 });
  });

  it('counts a VoiceCall whose record the ledger says is skipped on purpose as skipped, without reading the archive', async () => {
    lambda.on(InvokeCommand).resolvesOnce(invokeResponse(ROW)).resolves(invokeResponse({}));
    dynamo.on(GetItemCommand).resolves({
      Item: ledgerItem({ claimed: versionOf(inbound()), skipped: 'voicemail' }),
    });

    const report = await handler(sweepRequested({}), lambdaContext());

    expect(report.counts).toEqual({ ...NO_COUNTS, queried: 1, skipped: 1 });
    expect(s3.calls()).toHaveLength(0);
    expect(sentBatches()).toHaveLength(0);
  });

  it('counts a VoiceCall whose record is neither in the ledger nor in the archive as noRecord and sends nothing for it', async () => {
    lambda.on(InvokeCommand).resolvesOnce(invokeResponse(ROW)).resolves(invokeResponse({}));

    const report = await handler(sweepRequested({}), lambdaContext());

    expect(report.counts).toEqual({ ...NO_COUNTS, queried: 1, noRecord: 1 });
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(1);
    expect(sentBatches()).toHaveLength(0);
  });

  it('stores a record too large for a message under large/ in the archive bucket and enqueues a reference to it', async () => {
    // 1 MiB, the largest record accepted; with the detail around it, over a message's 1 MiB.
    const withTranscript = (padding: number): JsonObject => ({
      ...inbound(),
      Attributes: { transcript: 'x'.repeat(padding) },
    });
    const huge = withTranscript(
      MAX_MESSAGE_BYTES - Buffer.byteLength(JSON.stringify(withTranscript(0))),
    );
    expect(Buffer.byteLength(JSON.stringify(huge))).toBe(1_048_576);
    lambda.on(InvokeCommand).resolvesOnce(invokeResponse(ROW)).resolves(invokeResponse({}));
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: ARCHIVE_KEY }], IsTruncated: false });
    s3.on(GetObjectCommand).resolves(archiveObject([huge]));
    s3.on(PutObjectCommand).resolves({ ETag: '"stored"' });

    await handler(sweepRequested({}), lambdaContext());

    const key = referenceKey(CONTACT_ID, versionOf(huge));
    const puts = s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
    expect(puts).toHaveLength(1);
    expect(puts[0]).toMatchObject({ Bucket: ARCHIVE_BUCKET, Key: key });
    expect(JSON.parse(String(puts[0]?.Body))).toEqual(huge);
    expect(sentBodies()).toEqual([
      {
        schemaVersion: '1',
        contactId: CONTACT_ID,
        lastUpdateTimestamp: huge.LastUpdateTimestamp,
        contactRecordRef: { bucket: ARCHIVE_BUCKET, key },
      },
    ]);
  });

  it('reports nextStartAfter when maxRecords stops the run', async () => {
    lambda.on(InvokeCommand).resolves(invokeResponse(ROW));

    const report = await handler(
      sweepRequested({ lookbackHours: 24, maxRecords: 1 }),
      lambdaContext(),
    );

    expect(report).toMatchObject({ complete: false, nextStartAfter: CONTACT_ID });
    const [completed, continuation] = publishedReports();
    expect(continuation?.DetailType).toBe('SweepRequested');
    expect(JSON.parse(continuation?.Detail ?? '')).toMatchObject({
      startAfter: CONTACT_ID,
      maxRecords: 1,
    });
    expect(completed?.DetailType).toBe('RedriveCompleted');
    expect(JSON.parse(completed?.Detail ?? '').nextStartAfter).toBe(CONTACT_ID);
  });

  it('fails, publishing nothing, when its first query keeps failing (Lambda retries it, then the redrive DLQ keeps it)', async () => {
    lambda.on(InvokeCommand).resolves(invokeResponse({ success: false, errorMessage: 'down' }));

    const sweep = handler(sweepRequested({ maxRecords: 5 }), lambdaContext());

    await expect(sweep).rejects.toThrow(/^Sweep made no progress: queryRecord/);
    expect(publishedReports()).toHaveLength(0);
  });

  it("reports, without failing, a run that resent pending syncs but could not read the first VoiceCall's archive (a rerun would resend them again)", async () => {
    const pendingId = '25a5cf14-3212-45a1-9f86-a8e97db8afaf';
    const held = { ...inbound(), ContactId: pendingId };
    const version = versionOf(held);
    dynamo.on(QueryCommand).resolves({
      Items: [{ contactId: { S: pendingId }, pending: { S: 'pending' }, pendingSince: { N: '1' } }],
    });
    dynamo.on(GetItemCommand, { Key: { contactId: { S: pendingId } } }).resolves({
      Item: {
        ...ledgerItem({
          claimed: version,
          heldJson: JSON.stringify(held),
          heldVersion: version,
          pending: 'pending',
          pendingSince: 1,
        }),
        contactId: { S: pendingId },
      },
    });
    lambda.on(InvokeCommand).resolvesOnce(invokeResponse(ROW)).resolves(invokeResponse({}));
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: ARCHIVE_KEY }], IsTruncated: false });
    s3.on(GetObjectCommand).rejects(new Error('InternalError'));

    const report = await handler(sweepRequested({}), lambdaContext());

    expect(sentBodies().map((body) => body.contactId)).toEqual([pendingId]);
    expect(report).toMatchObject({
      complete: false,
      counts: { queried: 0, deferred: 1, enqueued: 1 },
      error: `VoiceCall ${CONTACT_ID}: ${ARCHIVE_KEY}: InternalError`,
    });
  });

  it('counts a band stuck on an archive object it cannot read (SweepStuck), even when the other band went on', async () => {
    const skippedId = '25a5cf14-3212-45a1-9f86-a8e97db8afaf';
    lambda
      .on(InvokeCommand)
      .resolvesOnce(invokeResponse(ROW))
      .resolvesOnce(invokeResponse({ ...ROW, Id: '0LQ2', VendorCallKey: skippedId }))
      .resolves(invokeResponse({}));
    dynamo.on(GetItemCommand, { Key: { contactId: { S: skippedId } } }).resolves({
      Item: {
        ...ledgerItem({ claimed: versionOf(inbound()), skipped: 'voicemail' }),
        contactId: { S: skippedId },
      },
    });
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: ARCHIVE_KEY }], IsTruncated: false });
    s3.on(GetObjectCommand).rejects(new Error('incorrect header check'));
    const { outcome: report, written } = (await capturing(() =>
      handler(sweepRequested({}), lambdaContext()),
    )) as { outcome: Awaited<ReturnType<typeof handler>>; written: string };

    // The second-look band took its row: the run did not fail, and the first-look band did not move.
    expect(report.counts).toMatchObject({ queried: 1, skipped: 1, deferred: 1 });
    expect(report.error).toBe(`VoiceCall ${CONTACT_ID}: ${ARCHIVE_KEY}: incorrect header check`);
    const emf = written
      .split('\n')
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(emf.some((line) => line.SweepStuck === 1)).toBe(true);
    expect(written).toContain('"message":"Sweep stuck"');
  });

  /** Run `sweep` with stdout and stderr captured; resolves with what it wrote and its outcome. */
  async function capturing(sweep: () => Promise<unknown>) {
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const outcome = await sweep().catch((error: unknown) => error);
      const written = [...stdout.mock.calls, ...stderr.mock.calls]
        .map((call) => String(call[0]))
        .join('');
      return { outcome, written };
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  }

  it('counts SweepStuck when a VoiceCall skipped on purpose sorts before the stuck one', async () => {
    const skippedId = '05a5cf14-3212-45a1-9f86-a8e97db8afaf';
    lambda
      .on(InvokeCommand)
      .resolvesOnce(invokeResponse({ ...ROW, Id: '0LQ2', VendorCallKey: skippedId }))
      .resolvesOnce(invokeResponse(ROW))
      .resolves(invokeResponse({}));
    dynamo.on(GetItemCommand, { Key: { contactId: { S: skippedId } } }).resolves({
      Item: {
        ...ledgerItem({ claimed: versionOf(inbound()), skipped: 'voicemail' }),
        contactId: { S: skippedId },
      },
    });
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: ARCHIVE_KEY }], IsTruncated: false });
    s3.on(GetObjectCommand).rejects(new Error('incorrect header check'));

    const { outcome, written } = await capturing(() =>
      handler(sweepRequested({ lookbackHours: 24 }), lambdaContext()),
    );

    expect(outcome).toMatchObject({
      counts: { queried: 1, skipped: 1, deferred: 1 },
      error: `VoiceCall ${CONTACT_ID}: ${ARCHIVE_KEY}: incorrect header check`,
    });
    expect(written).toContain('"SweepStuck":1');
  });

  it('counts SweepStuck on a continuation stuck on its first VoiceCall, which fails', async () => {
    lambda.on(InvokeCommand).resolvesOnce(invokeResponse(ROW)).resolves(invokeResponse({}));
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: ARCHIVE_KEY }], IsTruncated: false });
    s3.on(GetObjectCommand).rejects(new Error('incorrect header check'));

    const { outcome, written } = await capturing(() =>
      handler(
        sweepRequested({
          from: '2024-05-01T00:00:00Z',
          to: '2024-05-02T00:00:00Z',
          startAfter: '05a5cf14-3212-45a1-9f86-a8e97db8afaf',
        }),
        lambdaContext(),
      ),
    );

    expect(String(outcome)).toContain('Sweep made no progress');
    expect(written).toContain('"SweepStuck":1');
  });

  it('publishes no continuation when the window was swept to its end', async () => {
    const report = await handler(sweepRequested({ maxRecords: 5 }), lambdaContext());

    expect(report).toMatchObject({ complete: true });
    expect(publishedReports().map((entry) => entry.DetailType)).toEqual(['RedriveCompleted']);
  });

  it('fails before querying when the function is within its time reserve, rather than continue in place', async () => {
    const startAfter = '00000000-0000-4000-8000-000000000001';

    const sweep = handler(sweepRequested({ startAfter }), lambdaContext(10_000));

    await expect(sweep).rejects.toThrow(
      'Sweep made no progress: no time left to query a VoiceCall',
    );
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    // A continuation: the first run of the window listed the pending syncs (only the failure
    // report is stored, for ctr-sync --wait).
    expect(dynamo.calls().filter((call) => !(call.args[0] instanceof PutItemCommand))).toHaveLength(
      0,
    );
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});

describe('redrive handler, DlqRedriveRequested', () => {
  it('moves the DLQ messages to the sync queue unchanged and deletes them', async () => {
    const bodies = [
      ctrReceivedBody(loadContactRecordFixture('inbound-answered')),
      ctrReceivedBody(loadContactRecordFixture('outbound-answered')),
      'not json',
    ];
    sqs
      .on(ReceiveMessageCommand, { QueueUrl: SYNC_DLQ_URL })
      .resolvesOnce({
        Messages: bodies.map((body, index) => ({
          MessageId: `dlq-${index}`,
          ReceiptHandle: `receipt-${index}`,
          Body: body,
        })),
      })
      .resolves({ Messages: [] });
    sqs.on(DeleteMessageBatchCommand).resolves({ Successful: [], Failed: [] });

    const report = await handler(
      eventBridgeEvent('ctr-sync', 'DlqRedriveRequested', {}),
      lambdaContext(),
    );

    expect(sqs.commandCalls(ReceiveMessageCommand)[0]?.args[0].input.QueueUrl).toBe(SYNC_DLQ_URL);
    const batches = sentBatches();
    expect(batches.map((batch) => batch.QueueUrl)).toEqual([SYNC_QUEUE_URL]);
    expect(batches[0]?.Entries?.map((entry) => entry.MessageBody)).toEqual(bodies);
    expect(
      batches[0]?.Entries?.map(
        (entry) => entry.MessageAttributes?.['ctr-sync-redrive-run']?.StringValue,
      ),
    ).toEqual(bodies.map(() => lambdaContext().awsRequestId));
    const deletes = sqs.commandCalls(DeleteMessageBatchCommand).map((call) => call.args[0].input);
    expect(deletes).toHaveLength(1);
    expect(deletes[0]?.QueueUrl).toBe(SYNC_DLQ_URL);
    expect(deletes[0]?.Entries?.map((entry) => entry.ReceiptHandle)).toEqual([
      'receipt-0',
      'receipt-1',
      'receipt-2',
    ]);
    expect(report).toEqual({
      schemaVersion: '1',
      operation: 'dlq-redrive',
      counts: { moved: 3, returned: 0 },
    });
    expect(JSON.parse(publishedReports()[0]?.Detail ?? '')).toEqual(report);
  });

  it('long-polls the DLQ so a small queue is not taken for empty', async () => {
    sqs.on(ReceiveMessageCommand).resolves({ Messages: [] });

    const report = await handler(
      eventBridgeEvent('ctr-sync', 'DlqRedriveRequested', { maxMessages: 5 }),
      lambdaContext(),
    );

    const receive = sqs.commandCalls(ReceiveMessageCommand)[0]?.args[0].input;
    expect(receive?.WaitTimeSeconds).toBeGreaterThanOrEqual(1);
    expect(receive?.MaxNumberOfMessages).toBe(5);
    expect(report.counts).toMatchObject({ moved: 0 });
  });

  it('does not delete messages when the sync queue rejects them', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolves({ Messages: [{ MessageId: 'dlq-0', ReceiptHandle: 'receipt-0', Body: 'x' }] });
    sqs.on(SendMessageBatchCommand).resolves({
      Successful: [],
      Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false }],
    });

    const redrive = handler(
      eventBridgeEvent('ctr-sync', 'DlqRedriveRequested', {}),
      lambdaContext(),
    );

    await expect(redrive).rejects.toThrow(/SendMessageBatch failed/);
    expect(sqs.commandCalls(DeleteMessageBatchCommand)).toHaveLength(0);
  });
});

describe('redrive handler, START_CALL_PROCESSING', () => {
  const OVERRIDES = { toNumber: '+15550109999', fromNumber: '+15550108888' };
  const event = () => startCallProcessing({ callId: CONTACT_ID, agentId: 'agent-1', ...OVERRIDES });

  function holdOverridesWrites(): UpdateItemCommandInput[] {
    return dynamo
      .commandCalls(UpdateItemCommand)
      .map((call) => call.args[0].input)
      .filter((input) => input.ExpressionAttributeValues?.[':overrides'] !== undefined);
  }

  it('holds the overrides in the ledger and resyncs the record it holds for the claimed version', async () => {
    const version = versionOf(inbound());
    dynamo.on(UpdateItemCommand).resolves({
      Attributes: ledgerItem({
        claimed: version,
        heldJson: JSON.stringify(inbound()),
        heldVersion: version,
        overridesAt: Date.parse(NOW),
      }),
    });

    const report = await handler(event(), lambdaContext());

    const writes = holdOverridesWrites();
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatchObject({
      TableName: LEDGER_TABLE,
      Key: { contactId: { S: CONTACT_ID } },
      ReturnValues: 'ALL_NEW',
    });
    expect(writes[0]?.ConditionExpression).toBeUndefined();
    expect(writes[0]?.ExpressionAttributeValues).toMatchObject({
      ':overrides': {
        M: { toNumber: { S: OVERRIDES.toNumber }, fromNumber: { S: OVERRIDES.fromNumber } },
      },
      ':overridesAt': { N: String(Date.parse(NOW)) },
    });
    // A resync: the updater sends it although this version is acknowledged, with the overrides it
    // reads from the ledger, not from the message.
    expect(sentBatches()[0]?.Entries?.[0]?.MessageAttributes).toEqual(RESYNC_ATTRIBUTES);
    const body = CtrReceivedDetailSchema.parse(sentBodies()[0]);
    expect(body.contactId).toBe(CONTACT_ID);
    expect(body.contactRecord).toEqual(inbound());
    expect(body.fieldOverrides).toBeUndefined();
    expect(s3.calls()).toHaveLength(0);
    expect(report).toEqual({
      schemaVersion: '1',
      operation: 'start-call-processing',
      counts: { held: 1, enqueued: 1, pending: 0 },
    });
  });

  it('resyncs the claimed version from the archive objects around when it was received', async () => {
    dynamo.on(UpdateItemCommand).resolves({
      Attributes: ledgerItem({
        claimed: versionOf(inbound()),
        sent: versionOf(inbound()),
        receivedAt: Date.parse('2024-05-01T10:20:00Z'),
        overridesAt: Date.parse(NOW),
      }),
    });
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: ARCHIVE_KEY }], IsTruncated: false });
    s3.on(GetObjectCommand).resolves(archiveObject([inbound()]));

    const report = await handler(event(), lambdaContext());

    expect(s3.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toMatchObject({
      Bucket: ARCHIVE_BUCKET,
      StartAfter: 'archive/2024/05/01/09',
    });
    expect(sentBodies()).toEqual([JSON.parse(ctrReceivedBody(inbound()))]);
    expect(report.counts).toEqual({ held: 1, enqueued: 1, pending: 0 });
  });

  it('marks the claimed version pending when neither the ledger nor the archive holds its record', async () => {
    const version = versionOf(inbound());
    dynamo.on(UpdateItemCommand).resolves({
      Attributes: ledgerItem({
        claimed: version,
        sent: version,
        receivedAt: Date.parse('2024-05-01T10:20:00Z'),
        overridesAt: Date.parse(NOW),
      }),
    });

    const report = await handler(event(), lambdaContext());

    const pending = dynamo
      .commandCalls(UpdateItemCommand)
      .map((call) => call.args[0].input)
      .filter((input) => input.ExpressionAttributeValues?.[':pending'] !== undefined);
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({
      Key: { contactId: { S: CONTACT_ID } },
      ConditionExpression: '#claimed = :version',
    });
    expect(pending[0]?.ExpressionAttributeValues?.[':version']).toEqual({ S: version });
    expect(sentBatches()).toHaveLength(0);
    expect(report.counts).toEqual({ held: 1, enqueued: 0, pending: 1 });
  });

  it('holds the overrides of a call whose record has not arrived, and enqueues nothing', async () => {
    dynamo.on(UpdateItemCommand).resolves({
      Attributes: ledgerItem({ overridesAt: Date.parse(NOW) }),
    });

    const report = await handler(event(), lambdaContext());

    expect(holdOverridesWrites()).toHaveLength(1);
    // The one write, besides storing the run's report.
    expect(dynamo.calls().filter((call) => !(call.args[0] instanceof PutItemCommand))).toHaveLength(
      1,
    );
    expect(s3.calls()).toHaveLength(0);
    expect(sentBatches()).toHaveLength(0);
    expect(report.counts).toEqual({ held: 1, enqueued: 0, pending: 0 });
    expect(JSON.parse(publishedReports()[0]?.Detail ?? '')).toEqual(report);
  });

  it.each([
    ["free text, as in LCA's own example", { fromNumber: 'Bobs cell' }],
    ['a number without its +', { toNumber: '15550109999' }],
    ['more than 15 digits', { toNumber: '+1555010999912345' }],
  ])(
    'refuses overrides that are %s, holding nothing and naming the field, not the value',
    async (_case, overrides) => {
      const invalid = startCallProcessing({ callId: CONTACT_ID, ...overrides });

      const refused = await handler(invalid, lambdaContext()).catch((error: unknown) => error);

      expect(refused).toBeInstanceOf(PermanentError);
      const message = (refused as Error).message;
      expect(message).toMatch(/detail\.(toNumber|fromNumber): must be an E\.164 number/);
      for (const value of Object.values(overrides)) expect(message).not.toContain(value);
      expect(dynamo.calls()).toHaveLength(0);
      expect(sqs.calls()).toHaveLength(0);
    },
  );

  it('refuses a callId the sync ledger keeps its own items under, writing nothing', async () => {
    const refused = await handler(
      startCallProcessing({ callId: 'sweep-cursor#first-look', toNumber: '+15550109999' }),
      lambdaContext(),
    ).catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(PermanentError);
    expect((refused as Error).message).toContain(
      'detail.callId: starts with "sweep-cursor#", a prefix the sync ledger reserves',
    );
    expect(dynamo.calls()).toHaveLength(0);
  });

  it('accepts WebRTC_Default, the value SCV sends for a WebRTC call without an address', async () => {
    dynamo.on(UpdateItemCommand).resolves({
      Attributes: ledgerItem({ overridesAt: Date.parse(NOW) }),
    });

    await handler(
      startCallProcessing({ callId: CONTACT_ID, fromNumber: 'WebRTC_Default' }),
      lambdaContext(),
    );

    expect(holdOverridesWrites()[0]?.ExpressionAttributeValues?.[':overrides']).toEqual({
      M: { fromNumber: { S: 'WebRTC_Default' } },
    });
  });

  it('does not resync an archived version from the future (forged), marking the claimed one pending instead', async () => {
    const version = versionOf(inbound());
    dynamo.on(UpdateItemCommand).resolves({
      Attributes: ledgerItem({
        claimed: version,
        sent: version,
        receivedAt: Date.parse('2024-05-01T10:20:00Z'),
        overridesAt: Date.parse(NOW),
      }),
    });
    const forged = { ...inbound(), LastUpdateTimestamp: '2099-01-01T00:00:00Z' };
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: ARCHIVE_KEY }], IsTruncated: false });
    s3.on(GetObjectCommand).resolves(archiveObject([forged]));

    const report = await handler(event(), lambdaContext());

    expect(sentBatches()).toHaveLength(0);
    expect(report.counts).toEqual({ held: 1, enqueued: 0, pending: 1 });
  });

  it('throws a PermanentError naming callId when the detail has none', async () => {
    const invalid = startCallProcessing({ toNumber: '+15550109999' });

    const redrive = handler(invalid, lambdaContext());

    await expect(redrive).rejects.toBeInstanceOf(PermanentError);
    await expect(handler(invalid, lambdaContext())).rejects.toThrow(/detail\.callId/);
    expect(dynamo.calls()).toHaveLength(0);
    expect(sqs.calls()).toHaveLength(0);
    expect(s3.calls()).toHaveLength(0);
  });
});

describe('redrive handler, operator windows', () => {
  it.each([
    ['SweepRequested', { from: '2024-04-01T00:00:00Z', to: '2024-04-09T00:00:00Z' }],
    ['SweepRequested', { lookbackHours: 24 * 8 }],
    ['ReplayRequested', { from: '2024-04-01T00:00:00Z', to: '2024-04-08T01:00:00Z' }],
    [
      'ResyncRequested',
      { contactId: CONTACT_ID, from: '2024-04-01T00:00:00Z', to: '2024-04-30T00:00:00Z' },
    ],
  ])(
    'refuses a %s window longer than MAX_TRIGGER_WINDOW_DAYS (7), saying how to split it',
    async (detailType, detail) => {
      const refused = await handler(
        eventBridgeEvent('ctr-sync', detailType, detail),
        lambdaContext(),
      ).catch((error: unknown) => error);

      expect(refused).toBeInstanceOf(PermanentError);
      expect((refused as Error).message).toMatch(
        /window of \d+\.\d days is longer than maxTriggerWindowDays \(7\): split it/,
      );
      expect(lambda.calls()).toHaveLength(0);
      expect(s3.calls()).toHaveLength(0);
      expect(sqs.calls()).toHaveLength(0);
    },
  );

  it('runs a window of exactly 7 days', async () => {
    const report = await handler(
      sweepRequested({ from: '2024-04-01T00:00:00Z', to: '2024-04-08T00:00:00Z' }),
      lambdaContext(),
    );

    expect(report.operation).toBe('sweep');
    expect(soqlQueries()).toHaveLength(1);
  });
});

describe('redrive handler, ResyncRequested', () => {
  const genuine = () => inbound();
  /** A version put on the bus by hand: dated 2099, with a made-up number. */
  const forged = () => ({
    ...inbound(),
    LastUpdateTimestamp: '2099-01-01T00:00:00Z',
    CustomerEndpoint: { Address: '+15550100999', Type: 'TELEPHONE_NUMBER' },
  });

  function resetWrites(): UpdateItemCommandInput[] {
    return dynamo
      .commandCalls(UpdateItemCommand)
      .map((call) => call.args[0].input)
      .filter((input) => /^SET #expiresAt = :expiresAt REMOVE /.test(input.UpdateExpression ?? ''));
  }

  it("resets the claim and resyncs the newest genuine archived version, from the VoiceCall's CreatedDate", async () => {
    lambda.on(InvokeCommand).resolves(invokeResponse({ ...ROW }));
    dynamo.on(UpdateItemCommand).resolves({ Attributes: ledgerItem({}) });
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: ARCHIVE_KEY }], IsTruncated: false });
    s3.on(GetObjectCommand).resolves(archiveObject([forged(), genuine()]));

    const report = await handler(
      eventBridgeEvent('ctr-sync', 'ResyncRequested', { contactId: CONTACT_ID, reset: true }),
      lambdaContext(),
    );

    expect(soqlQueries()).toEqual([
      `SELECT Id, VendorCallKey, CreatedDate FROM VoiceCall WHERE VendorCallKey = '${CONTACT_ID}' LIMIT 1`,
    ]);
    const [reset] = resetWrites();
    expect(reset?.Key).toEqual({ contactId: { S: CONTACT_ID } });
    expect(reset?.UpdateExpression).toContain('#claimed');
    expect(reset?.UpdateExpression).not.toContain('#overrides');
    // From an hour before CreatedDate (2024-05-01T10:15Z): the objects of hour 09 on.
    expect(s3.commandCalls(ListObjectsV2Command)[0]?.args[0].input.StartAfter).toBe(
      'archive/2024/05/01/09',
    );
    expect(sentBodies()).toEqual([JSON.parse(ctrReceivedBody(genuine()))]);
    expect(sentBatches()[0]?.Entries?.[0]?.MessageAttributes).toEqual(RESYNC_ATTRIBUTES);
    expect(report).toEqual({
      schemaVersion: '1',
      operation: 'resync',
      counts: { reset: 1, archiveObjects: 1, enqueued: 1, noRecord: 0 },
    });
  });

  it('reads the given window without querying Salesforce, and leaves the claim without reset', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: ARCHIVE_KEY }], IsTruncated: false });
    s3.on(GetObjectCommand).resolves(archiveObject([genuine()]));

    const report = await handler(
      eventBridgeEvent('ctr-sync', 'ResyncRequested', {
        contactId: CONTACT_ID,
        from: '2024-05-01T10:00:00Z',
        to: '2024-05-01T11:00:00Z',
      }),
      lambdaContext(),
    );

    expect(lambda.calls()).toHaveLength(0);
    expect(resetWrites()).toEqual([]);
    expect(report.counts).toEqual({ reset: 0, archiveObjects: 1, enqueued: 1, noRecord: 0 });
  });

  it('reports noRecord when only a forged version is archived', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: ARCHIVE_KEY }], IsTruncated: false });
    s3.on(GetObjectCommand).resolves(archiveObject([forged()]));

    const report = await handler(
      eventBridgeEvent('ctr-sync', 'ResyncRequested', {
        contactId: CONTACT_ID,
        from: '2024-05-01T10:00:00Z',
        to: '2024-05-01T11:00:00Z',
      }),
      lambdaContext(),
    );

    expect(sentBatches()).toHaveLength(0);
    expect(report.counts).toEqual({ reset: 0, archiveObjects: 1, enqueued: 0, noRecord: 1 });
  });

  it('passes over a version dated after the hour it was archived in, even once that date has passed', async () => {
    // Archived in hour 10 of 2024-05-01, dated 20:00 that day: before now (06:30 the next day).
    const forgedEarlier = { ...forged(), LastUpdateTimestamp: '2024-05-01T20:00:00Z' };
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: ARCHIVE_KEY }], IsTruncated: false });
    s3.on(GetObjectCommand).resolves(archiveObject([genuine(), forgedEarlier]));

    const report = await handler(
      eventBridgeEvent('ctr-sync', 'ResyncRequested', {
        contactId: CONTACT_ID,
        from: '2024-05-01T10:00:00Z',
        to: '2024-05-01T11:00:00Z',
      }),
      lambdaContext(),
    );

    expect(sentBodies()).toEqual([JSON.parse(ctrReceivedBody(genuine()))]);
    expect(report.counts.enqueued).toBe(1);
  });

  it('drops the held overrides too with resetOverrides, and counts no reset without a ledger item', async () => {
    lambda.on(InvokeCommand).resolves(invokeResponse({ ...ROW }));
    dynamo.on(UpdateItemCommand).resolves({});

    const report = await handler(
      eventBridgeEvent('ctr-sync', 'ResyncRequested', {
        contactId: CONTACT_ID,
        reset: true,
        resetOverrides: true,
      }),
      lambdaContext(),
    );

    const [reset] = resetWrites();
    expect(reset?.UpdateExpression).toContain('#overrides');
    expect(reset?.UpdateExpression).toContain('#overridesAt');
    expect(report.counts.reset).toBe(0);
  });

  it('refuses a contactId the sync ledger keeps its own items under, resetting nothing', async () => {
    const refused = await handler(
      eventBridgeEvent('ctr-sync', 'ResyncRequested', {
        contactId: 'redrive-report#last-sweep',
        reset: true,
      }),
      lambdaContext(),
    ).catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(PermanentError);
    expect((refused as Error).message).toContain('detail.contactId: starts with "redrive-report#"');
    expect(resetWrites()).toEqual([]);
  });

  it('refuses a contact SCV has no VoiceCall for when no window is given', async () => {
    lambda.on(InvokeCommand).resolves(invokeResponse({}));

    const refused = await handler(
      eventBridgeEvent('ctr-sync', 'ResyncRequested', { contactId: CONTACT_ID, reset: true }),
      lambdaContext(),
    ).catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(PermanentError);
    expect((refused as Error).message).toMatch(
      /No VoiceCall with VendorCallKey .*give from and to/,
    );
    expect(resetWrites()).toEqual([]);
  });
});

describe('redrive handler, run reports', () => {
  it("keeps the report under the trigger's event id, and a sweep's as the last sweep's, a day", async () => {
    const report = await handler(sweepRequested({ lookbackHours: 1 }), lambdaContext());

    const puts = dynamo.commandCalls(PutItemCommand).map((call) => call.args[0].input);
    expect(puts.map((put) => put.Item?.contactId?.S)).toEqual([
      'redrive-report#6a7e8feb-b491-4cf7-a9f1-bf3703467718',
      'redrive-report#last-sweep',
    ]);
    expect(JSON.parse(puts[0]?.Item?.report?.S ?? '')).toEqual(report);
    expect(puts[0]?.TableName).toBe(LEDGER_TABLE);
    expect(Number(puts[0]?.Item?.expiresAt?.N)).toBe(Math.floor(Date.parse(NOW) / 1000) + 86_400);
  });

  it('keeps a failure report for an operator trigger that fails, and no report for START_CALL_PROCESSING', async () => {
    const refused = await handler(
      sweepRequested({ from: '2024-04-01T00:00:00Z', to: '2024-04-30T00:00:00Z' }),
      lambdaContext(),
    ).catch((error: unknown) => error);
    dynamo.on(UpdateItemCommand).resolves({ Attributes: ledgerItem({ overridesAt: 1 }) });
    await handler(
      eventBridgeEvent('lca-solution', 'START_CALL_PROCESSING', { callId: CONTACT_ID }),
      lambdaContext(),
    );

    expect(refused).toBeInstanceOf(PermanentError);
    const puts = dynamo.commandCalls(PutItemCommand).map((call) => call.args[0].input);
    expect(puts).toHaveLength(1);
    expect(JSON.parse(puts[0]?.Item?.report?.S ?? '')).toEqual({
      failed: true,
      error: (refused as Error).message,
    });
  });

  it('completes the run when the report cannot be stored (it is logged and published already)', async () => {
    dynamo.on(PutItemCommand).rejects(new Error('ProvisionedThroughputExceededException'));

    const report = await handler(sweepRequested({ lookbackHours: 1 }), lambdaContext());

    expect(report.operation).toBe('sweep');
    expect(publishedReports().map((entry) => entry.DetailType)).toEqual(['RedriveCompleted']);
  });
});

describe('redrive handler, other events', () => {
  it('throws a PermanentError for an unknown detail-type, naming the supported ones', async () => {
    const event = eventBridgeEvent('ctr-sync', 'SweepPlease', {});

    const redrive = handler(event, lambdaContext());

    await expect(redrive).rejects.toBeInstanceOf(PermanentError);
    await expect(handler(event, lambdaContext())).rejects.toThrow(
      /detail-type.*SweepRequested.*DlqRedriveRequested.*START_CALL_PROCESSING/,
    );
    expect(eventBridge.calls()).toHaveLength(0);
  });
});
