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
  NoSuchKey,
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
import { CtrReceivedDetailSchema } from '../../events/ctr-received';
import { RedriveCompletedDetailSchema } from '../../events/redrive';
import { ctrReceivedBody, eventBridgeEvent, lambdaContext } from '../fixtures/events';
import { loadContactRecordFixture } from '../fixtures/factories';

const lambda = mockClient(LambdaClient);
const s3 = mockClient(S3Client);
const sqs = mockClient(SQSClient);
const eventBridge = mockClient(EventBridgeClient);

const REST_API_ARN =
  'arn:aws:lambda:us-east-1:123456789012:function:InvokeSalesforceRestApiFunction';
const SYNC_QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/ctr-sync-sync';
const SYNC_DLQ_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/ctr-sync-sync-dlq';

let handler: (typeof import('../../functions/redrive/handler'))['handler'];

beforeAll(async () => {
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('EVENT_BUS_NAME', 'ctr-sync-bus');
  vi.stubEnv('ARCHIVE_BUCKET_NAME', 'ctr-sync-archive');
  vi.stubEnv('SYNC_QUEUE_URL', SYNC_QUEUE_URL);
  vi.stubEnv('SYNC_DLQ_URL', SYNC_DLQ_URL);
  vi.stubEnv('INVOKE_SALESFORCE_REST_API_ARN', REST_API_ARN);
  ({ handler } = await import('../../functions/redrive/handler'));
});

const CONTACT_ID = '15a5cf14-3212-45a1-9f86-a8e97db8afaf';
const VERSION = '2022-04-08T15:03:02Z';

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

/** GetObject of an archived record, its Body a stream-like with `transformToString`. */
function archivedObject(json: string, version: string): GetObjectCommandOutput {
  return {
    Body: { transformToString: async () => json } as unknown as GetObjectCommandOutput['Body'],
    Metadata: { 'last-update-timestamp': version },
    ETag: '"archived"',
    $metadata: { httpStatusCode: 200 },
  };
}

function sentBatches(): SendMessageBatchCommandInput[] {
  return sqs.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);
}

function publishedReports() {
  return eventBridge
    .commandCalls(PutEventsCommand)
    .flatMap((call) => (call.args[0].input as PutEventsCommandInput).Entries ?? []);
}

function sweepRequested(detail: object) {
  return eventBridgeEvent('ctr-sync', 'SweepRequested', detail);
}

beforeEach(() => {
  lambda.reset();
  s3.reset();
  sqs.reset();
  eventBridge.reset();
  const archivedJson = JSON.stringify(loadContactRecordFixture('inbound-answered'));
  s3.on(GetObjectCommand).resolves(archivedObject(archivedJson, VERSION));
  sqs.on(SendMessageBatchCommand).callsFake((input: SendMessageBatchCommandInput) => ({
    Successful: (input.Entries ?? []).map((entry) => ({
      Id: entry.Id,
      MessageId: `message-${entry.Id}`,
      MD5OfMessageBody: 'md5',
    })),
    Failed: [],
  }));
  eventBridge.on(PutEventsCommand).resolves({
    FailedEntryCount: 0,
    Entries: [{ EventId: '11710aed-b79e-4468-a20b-bb3c0c3b4860' }],
  });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('redrive handler, SweepRequested', () => {
  it('queries the REST API page by page, enqueues the archived record and reports the counts', async () => {
    lambda
      .on(InvokeCommand)
      .resolvesOnce(invokeResponse({ Id: '0LQ5e000000AbCdGAK', VendorCallKey: CONTACT_ID }))
      .resolves(invokeResponse({}));
    const event = sweepRequested({ from: '2024-05-01T00:00:00Z', to: '2024-05-02T00:00:00Z' });

    const report = await handler(event, lambdaContext());

    const queries = soqlQueries();
    expect(queries).toHaveLength(2);
    expect(queries[0]).toContain(
      'CreatedDate >= 2024-05-01T00:00:00Z AND CreatedDate < 2024-05-02T00:00:00Z',
    );
    expect(queries[0]).not.toContain('VendorCallKey >');
    expect(queries[1]).toContain(`VendorCallKey > '${CONTACT_ID}'`);
    expect(lambda.commandCalls(InvokeCommand)[0]?.args[0].input.FunctionName).toBe(REST_API_ARN);

    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'ctr-sync-archive',
      Key: `ctr/${CONTACT_ID}.json`,
    });

    const batches = sentBatches();
    expect(batches).toHaveLength(1);
    expect(batches[0]?.QueueUrl).toBe(SYNC_QUEUE_URL);
    expect(batches[0]?.Entries).toHaveLength(1);
    const body = JSON.parse(batches[0]?.Entries?.[0]?.MessageBody ?? '');
    expect(body).toEqual(JSON.parse(ctrReceivedBody(loadContactRecordFixture('inbound-answered'))));
    expect(CtrReceivedDetailSchema.safeParse(body).success).toBe(true);

    const expected = {
      schemaVersion: '1',
      operation: 'sweep',
      counts: { queried: 1, enqueued: 1, noArchive: 0 },
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

  it('sweeps the last SWEEP_LOOKBACK_HOURS up to now when the detail has no window', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2024-05-02T06:30:00.000Z'));
    lambda.on(InvokeCommand).resolves(invokeResponse({}));

    await handler(sweepRequested({}), lambdaContext());

    expect(soqlQueries()[0]).toContain(
      'CreatedDate >= 2024-05-01T06:30:00Z AND CreatedDate < 2024-05-02T06:30:00Z',
    );
  });

  it('counts a row without an archived record as noArchive and sends nothing for it', async () => {
    lambda
      .on(InvokeCommand)
      .resolvesOnce(invokeResponse({ Id: '0LQ5e000000AbCdGAK', VendorCallKey: CONTACT_ID }))
      .resolves(invokeResponse({}));
    s3.on(GetObjectCommand).rejects(
      new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }),
    );

    const report = await handler(sweepRequested({}), lambdaContext());

    expect(report.counts).toEqual({ queried: 1, enqueued: 0, noArchive: 1 });
    expect(sentBatches()).toHaveLength(0);
  });

  it('reports nextStartAfter when maxRecords stops the run', async () => {
    lambda
      .on(InvokeCommand)
      .resolves(invokeResponse({ Id: '0LQ5e000000AbCdGAK', VendorCallKey: CONTACT_ID }));

    const report = await handler(sweepRequested({ maxRecords: 1 }), lambdaContext());

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

  it('publishes no continuation when the window was swept to its end', async () => {
    lambda.on(InvokeCommand).resolves(invokeResponse({}));

    const report = await handler(sweepRequested({ maxRecords: 5 }), lambdaContext());

    expect(report).toMatchObject({ complete: true });
    expect(publishedReports().map((entry) => entry.DetailType)).toEqual(['RedriveCompleted']);
  });

  it('stops before querying when the function is within its time reserve', async () => {
    lambda.on(InvokeCommand).resolves(invokeResponse({}));
    const startAfter = '00000000-0000-4000-8000-000000000001';

    const report = await handler(sweepRequested({ startAfter }), lambdaContext(10_000));

    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    expect(report).toMatchObject({ nextStartAfter: startAfter });
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
  it('enqueues the archived record of the call with its phone-number overrides', async () => {
    const event = eventBridgeEvent('lca-solution', 'START_CALL_PROCESSING', {
      callId: CONTACT_ID,
      agentId: 'agent-1',
      toNumber: '+15550109999',
      fromNumber: '+15550108888',
    });

    const report = await handler(event, lambdaContext());

    const body = CtrReceivedDetailSchema.parse(
      JSON.parse(sentBatches()[0]?.Entries?.[0]?.MessageBody ?? ''),
    );
    expect(body.contactId).toBe(CONTACT_ID);
    expect(body.fieldOverrides).toEqual({ toNumber: '+15550109999', fromNumber: '+15550108888' });
    // A resync: the updater sends it although the archive holds this version.
    expect(sentBatches()[0]?.Entries?.[0]?.MessageAttributes).toEqual({
      'ctr-sync-resync': { DataType: 'String', StringValue: 'true' },
    });
    expect(report).toEqual({
      schemaVersion: '1',
      operation: 'start-call-processing',
      counts: { enqueued: 1, noArchive: 0 },
    });
  });

  it('throws a PermanentError naming callId when the detail has none', async () => {
    const event = eventBridgeEvent('lca-solution', 'START_CALL_PROCESSING', {
      toNumber: '+15550109999',
    });

    const redrive = handler(event, lambdaContext());

    await expect(redrive).rejects.toBeInstanceOf(PermanentError);
    await expect(handler(event, lambdaContext())).rejects.toThrow(/detail\.callId/);
    expect(sqs.calls()).toHaveLength(0);
    expect(s3.calls()).toHaveLength(0);
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
