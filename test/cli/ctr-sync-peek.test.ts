/**
 * `ctr-sync peek` and `ctr-sync pending` (cli/peek.ts, cli/pending.ts),
 * against aws-sdk-client-mock: the requests they send (visibility 0, the
 * sparse `pending` index, oldest first), de-duplication of messages that come
 * back, what they print of each queue's messages and, above all, what they do
 * not print (phone numbers, the agent, contact attributes, records); usage
 * errors and AWS errors.
 */
import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  IDLE_RECEIVES,
  TRIGGER_DETAIL_SCHEMAS,
  TRIGGER_FIELDS_SHOWN,
  TRIGGER_FIELDS_WITHHELD,
} from '../../cli/peek';
import { loadContactRecordFixture } from '../fixtures/factories';
import { runCli as run } from './run-cli';

const sqs = mockClient(SQSClient);
const dynamo = mockClient(DynamoDBClient);

const SENT_AT = Date.UTC(2026, 10, 20, 10, 0, 0);

/** A message as ReceiveMessage returns it. */
function message(id: string, body: string, attributes: Record<string, string> = {}): Message {
  return {
    MessageId: id,
    ReceiptHandle: `handle-${id}`,
    Body: body,
    Attributes: { SentTimestamp: String(SENT_AT), ApproximateReceiveCount: '2' },
    MessageAttributes: Object.fromEntries(
      Object.entries(attributes).map(([name, value]) => [
        name,
        { DataType: 'String', StringValue: value },
      ]),
    ),
  };
}

/** A `CtrReceived` detail holding a whole contact record: phone numbers and attributes. */
function ctrReceivedDetail() {
  const record = loadContactRecordFixture('inbound-answered');
  record.Attributes = { greetingPlayed: 'true', customerName: 'Jane Roe' };
  return {
    schemaVersion: '1',
    contactId: record.ContactId as string,
    lastUpdateTimestamp: record.LastUpdateTimestamp as string,
    contactRecord: record,
  };
}

/** The personal data in {@link ctrReceivedDetail} (the fixture's numbers, an attribute value). */
const RECORD_PERSONAL_DATA = ['+17208401003', '+14065003978', 'Jane Roe'];

/** An EventBridge event of `detailType` with `detail`, as rules dead-letter it. */
function event(detailType: string, detail: unknown, source = 'ctr-sync') {
  return {
    version: '0',
    id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
    'detail-type': detailType,
    source,
    account: '123456789012',
    time: '2026-11-20T10:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail,
  };
}

/** A queue of the `prod` stage that answers every receive with `messages` and holds `visible`. */
function queue(messages: Message[], visible = messages.length) {
  sqs.on(GetQueueUrlCommand).callsFake((input: { QueueName: string }) => ({
    QueueUrl: `https://sqs.us-east-1.amazonaws.com/123456789012/${input.QueueName}`,
  }));
  sqs.on(ReceiveMessageCommand).resolves({ Messages: messages });
  sqs.on(GetQueueAttributesCommand).resolves({
    Attributes: {
      ApproximateNumberOfMessages: String(visible),
      ApproximateNumberOfMessagesNotVisible: '0',
      // 14 days, as serverless.yml sets on the dead-letter queues.
      MessageRetentionPeriod: '1209600',
    },
  });
}

const receives = () => sqs.commandCalls(ReceiveMessageCommand).map((call) => call.args[0].input);

beforeEach(() => {
  sqs.reset();
  dynamo.reset();
});

describe('ctr-sync peek', () => {
  it('receives with visibility 0 from the stage queue and prints ContactIds, not the records', async () => {
    const detail = ctrReceivedDetail();
    const otherContactId = '0b4e3a57-8f2c-4c7e-9d21-6b5a4f3e2d10';
    queue([
      message('m-1', JSON.stringify(detail)),
      message(
        'm-2',
        JSON.stringify(event('CtrReceived', { ...detail, contactId: otherContactId })),
        {
          ERROR_CODE: 'SQSPermissionDenied',
          ERROR_MESSAGE: 'Not authorized to send to the queue',
        },
      ),
      message('m-3', '{"contactId": broken'),
    ]);

    const { code, out } = await run(['peek', '--stage', 'prod', '--queue', 'sync-dlq']);

    expect(code).toBe(0);
    expect(sqs.commandCalls(GetQueueUrlCommand)[0]?.args[0].input).toEqual({
      QueueName: 'ctr-sync-prod-sync-dlq',
    });
    expect(receives()[0]).toEqual({
      QueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/ctr-sync-prod-sync-dlq',
      MaxNumberOfMessages: 3,
      VisibilityTimeout: 0,
      WaitTimeSeconds: 1,
      MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
      MessageAttributeNames: ['All'],
    });
    const lines = out.split('\n');
    expect(lines).toEqual([
      `messageId=m-1  sent=2026-11-20T10:00:00.000Z  expires=2026-12-04T10:00:00.000Z  receives=2  contactId=${detail.contactId}`,
      `messageId=m-2  sent=2026-11-20T10:00:00.000Z  expires=2026-12-04T10:00:00.000Z  receives=2  contactId=${otherContactId}  ruleErrorCode=SQSPermissionDenied  ruleError="Not authorized to send to the queue"`,
      'messageId=m-3  sent=2026-11-20T10:00:00.000Z  expires=2026-12-04T10:00:00.000Z  receives=2  problem="unreadable body"',
      'read 3 message(s) of ctr-sync-prod-sync-dlq; it holds about 3 visible (ApproximateNumberOfMessages) and 0 in flight',
    ]);
    for (const personal of RECORD_PERSONAL_DATA) expect(out).not.toContain(personal);
    expect(out).not.toContain('handle-');
  });

  it('receives each message once when the queue holds no more than it reads', async () => {
    const detail = ctrReceivedDetail();
    queue([message('m-1', JSON.stringify(detail)), message('m-2', JSON.stringify(detail))], 2);

    const { code, out } = await run(['peek', '--stage', 'prod', '--queue', 'sync-dlq']);

    expect(code).toBe(0);
    expect(out.split('\n').filter((line) => line.startsWith('messageId='))).toHaveLength(2);
    expect(receives()).toHaveLength(1);
    expect(out).toContain('read 2 message(s)');
  });

  it('reads the messages a queue returns while its counts still say 0 (they lag a send)', async () => {
    const detail = ctrReceivedDetail();
    queue([message('m-1', JSON.stringify(detail))], 0);

    const { code, out } = await run(['peek', '--stage', 'prod', '--queue', 'sync-dlq']);

    expect(code).toBe(0);
    expect(out.split('\n').filter((line) => line.startsWith('messageId='))).toHaveLength(1);
    expect(receives()).toHaveLength(1 + IDLE_RECEIVES);
  });

  it('prints each message once when visibility 0 brings the same ones back, then stops', async () => {
    const detail = ctrReceivedDetail();
    // The queue reports 3; SQS keeps answering with the same 2.
    queue([message('m-1', JSON.stringify(detail)), message('m-2', JSON.stringify(detail))], 3);

    const { code, out } = await run(['peek', '--stage', 'prod', '--queue', 'sync-dlq']);

    expect(code).toBe(0);
    expect(out.split('\n').filter((line) => line.startsWith('messageId='))).toHaveLength(2);
    // The first receive brings both; then IDLE_RECEIVES in a row bring nothing new.
    expect(receives()).toHaveLength(1 + IDLE_RECEIVES);
    expect(out).toContain('read 2 message(s)');
  });

  it('reads up to --max, asking for no more than are missing', async () => {
    const batch = (from: number) =>
      Array.from({ length: 10 }, (_, index) =>
        message(`m-${from + index}`, JSON.stringify({ contactId: `c-${from + index}` })),
      );
    queue([], 20);
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: batch(0) })
      .resolvesOnce({ Messages: batch(10) });

    const { code, out } = await run([
      'peek',
      '--stage',
      'prod',
      '--queue',
      'archive-dlq',
      '--max',
      '15',
    ]);

    expect(code).toBe(0);
    expect(receives().map((input) => input.MaxNumberOfMessages)).toEqual([10, 5]);
    expect(out.split('\n').filter((line) => line.startsWith('messageId='))).toHaveLength(15);
    expect(out).not.toContain('m-15');
  });

  it('prints a failed START_CALL_PROCESSING without its numbers or agent, and why it failed', async () => {
    const callId = '15a5cf14-3212-45a1-9f86-a8e97db8afaf';
    const onFailure = {
      version: '1.0',
      timestamp: '2026-11-20T10:00:00.000Z',
      requestContext: {
        requestId: 'e4b46cbf-b738-4b23-8a37-d2a7a5b2d1f4',
        functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:ctr-sync-prod-redrive',
        condition: 'RetriesExhausted',
        approximateInvokeCount: 3,
      },
      requestPayload: event(
        'START_CALL_PROCESSING',
        { callId, agentId: 'jroe', toNumber: '+15555550100', fromNumber: '+15555550199' },
        'lca-solution',
      ),
      responseContext: { statusCode: 200, functionError: 'Unhandled' },
      responsePayload: {
        errorType: 'PermanentError',
        errorMessage: 'Unsupported redrive trigger: toNumber +15555550100 is not allowed',
      },
    };
    const ruleDeadLettered = event('SweepRequested', {
      from: '2026-11-19T00:00:00Z',
      to: '2026-11-20T00:00:00Z',
      maxRecord: 5,
    });
    queue([
      message('m-1', JSON.stringify(onFailure)),
      message('m-2', JSON.stringify(ruleDeadLettered), {
        ERROR_CODE: 'NO_PERMISSIONS',
        ERROR_MESSAGE: 'Lambda function not found',
      }),
    ]);

    const { code, out } = await run([
      'peek',
      '--stage',
      'prod',
      '--queue',
      'redrive-dlq',
      '--json',
    ]);

    expect(code).toBe(0);
    for (const personal of ['+15555550100', '+15555550199', 'jroe']) {
      expect(out).not.toContain(personal);
    }
    const [first, second, summary] = out.split('\n').map((line) => JSON.parse(line));
    expect(first).toEqual({
      messageId: 'm-1',
      sent: '2026-11-20T10:00:00.000Z',
      expires: '2026-12-04T10:00:00.000Z',
      receives: 2,
      trigger: 'START_CALL_PROCESSING',
      detail: { callId },
      withheld: ['agentId', 'toNumber', 'fromNumber'],
      condition: 'RetriesExhausted',
      errorType: 'PermanentError',
      reason: 'Unsupported redrive trigger: toNumber [redacted] is not allowed',
    });
    expect(second).toEqual({
      messageId: 'm-2',
      sent: '2026-11-20T10:00:00.000Z',
      expires: '2026-12-04T10:00:00.000Z',
      receives: 2,
      trigger: 'SweepRequested',
      detail: { from: '2026-11-19T00:00:00Z', to: '2026-11-20T00:00:00Z' },
      otherFields: 1,
      errorCode: 'NO_PERMISSIONS',
      reason: 'Lambda function not found',
    });
    expect(summary).toEqual({
      queue: 'ctr-sync-prod-redrive-dlq',
      read: 2,
      approximateNumberOfMessages: 2,
      approximateNumberOfMessagesNotVisible: 0,
    });
  });

  it('sorts every field of every trigger into shown or withheld, the numbers and agent withheld', () => {
    const fields = TRIGGER_DETAIL_SCHEMAS.flatMap((schema) =>
      Object.keys((schema as unknown as z.ZodObject).shape),
    );

    expect(fields.filter((field) => !TRIGGER_FIELDS_SHOWN.has(field)).sort()).toEqual(
      [...TRIGGER_FIELDS_WITHHELD].sort(),
    );
    expect([...TRIGGER_FIELDS_WITHHELD].filter((field) => TRIGGER_FIELDS_SHOWN.has(field))).toEqual(
      [],
    );
  });

  it('prints the bucket and key of each failed ingest batch', async () => {
    const key =
      'aws/lambda/8f3c2a1e-5b7d-4e9f-a0c1-2d3e4f5a6b7c/shardId-000000000000/2026/11/20/2026-11-20T10.00.00-0a1b2c3d';
    const s3Event = event(
      'Object Created',
      {
        version: '0',
        bucket: { name: 'ctr-sync-prod-archive-123456789012' },
        object: { key, size: 20480, etag: 'b1946ac92492d2347c6235b4d2611184' },
        reason: 'PutObject',
      },
      'aws.s3',
    );
    queue([message('m-1', JSON.stringify(s3Event)), message('m-2', 'not json')]);

    const { code, out } = await run(['peek', '--stage', 'prod', '--queue', 'ingest-failures']);

    expect(code).toBe(0);
    expect(out.split('\n').slice(0, 2)).toEqual([
      `messageId=m-1  sent=2026-11-20T10:00:00.000Z  expires=2026-12-04T10:00:00.000Z  receives=2  bucket=ctr-sync-prod-archive-123456789012  key=${key}  size=20480`,
      'messageId=m-2  sent=2026-11-20T10:00:00.000Z  expires=2026-12-04T10:00:00.000Z  receives=2  problem="unreadable body"',
    ]);
  });

  it('prints the ContactId and the rule error of an archive DLQ message, not its record', async () => {
    const detail = ctrReceivedDetail();
    queue([
      message('m-1', JSON.stringify(event('CtrReceived', detail)), {
        ERROR_CODE: 'THROTTLING',
        ERROR_MESSAGE: 'Firehose throttled the request',
      }),
    ]);

    const { code, out } = await run(['peek', '--stage', 'prod', '--queue', 'archive-dlq']);

    expect(code).toBe(0);
    expect(out.split('\n')[0]).toBe(
      `messageId=m-1  sent=2026-11-20T10:00:00.000Z  expires=2026-12-04T10:00:00.000Z  receives=2  contactId=${detail.contactId}  errorCode=THROTTLING  error="Firehose throttled the request"`,
    );
    for (const personal of RECORD_PERSONAL_DATA) expect(out).not.toContain(personal);
  });

  it('exits 2 naming the stage when its queue does not exist', async () => {
    sqs.on(GetQueueUrlCommand).rejects(
      Object.assign(new Error('The specified queue does not exist.'), {
        name: 'QueueDoesNotExist',
      }),
    );

    const { code, err } = await run(['peek', '--stage', 'prdo', '--queue', 'sync-dlq']);

    expect(code).toBe(2);
    expect(err).toBe(
      'ctr-sync: no queue ctr-sync-prdo-sync-dlq in us-east-1: is stage prdo deployed there? (--stage, --region)',
    );
    expect(receives()).toEqual([]);
  });

  it('exits 1 with the error when a receive fails', async () => {
    queue([], 1);
    sqs
      .on(ReceiveMessageCommand)
      .rejects(Object.assign(new Error('not allowed'), { name: 'AccessDenied' }));

    const { code, out, err } = await run(['peek', '--stage', 'prod', '--queue', 'sync-dlq']);

    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe('ctr-sync: peek failed: AccessDenied: not allowed');
  });
});

describe('ctr-sync pending', () => {
  it('lists pending contacts oldest first, page after page, with their age, then the count', async () => {
    const now = Date.now();
    const at = (minutesAgo: number) => now - minutesAgo * 60_000 - 1_000;
    const item = (contactId: string, minutesAgo: number) => ({
      contactId: { S: contactId },
      pending: { S: 'pending' },
      pendingSince: { N: String(at(minutesAgo)) },
    });
    dynamo
      .on(QueryCommand)
      .resolvesOnce({
        Items: [item('c-1', 90), item('c-2', 30)],
        LastEvaluatedKey: item('c-2', 30),
      })
      .resolvesOnce({ Items: [item('c-3', 5)] });

    const { code, out } = await run(['pending', '--stage', 'prod']);

    expect(code).toBe(0);
    const queries = dynamo.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(queries[0]).toEqual({
      TableName: 'ctr-sync-prod-ledger',
      IndexName: 'pending',
      KeyConditionExpression: '#pending = :pending',
      ExpressionAttributeNames: { '#pending': 'pending' },
      ExpressionAttributeValues: { ':pending': { S: 'pending' } },
      ScanIndexForward: true,
      Limit: 100,
      ExclusiveStartKey: undefined,
    });
    expect(queries[1]).toMatchObject({ Limit: 98, ExclusiveStartKey: item('c-2', 30) });
    expect(out.split('\n')).toEqual([
      `c-1  ${new Date(at(90)).toISOString()}  90 min`,
      `c-2  ${new Date(at(30)).toISOString()}  30 min`,
      `c-3  ${new Date(at(5)).toISOString()}  5 min`,
      '3 pending in ctr-sync-prod-ledger',
    ]);
  });

  it('prints a ContactId holding a line break, a terminal escape or a Unicode control as escaped JSON, one line each', async () => {
    const forged = 'c-1\nc-2  2026-01-01T00:00:00.000Z  0 min';
    const escape = 'c-3\u001b[2J';
    const unicode = 'c-4\u0085c-5\u202e';
    dynamo.on(QueryCommand).resolves({
      Items: [forged, escape, unicode].map((contactId) => ({
        contactId: { S: contactId },
        pending: { S: 'pending' },
        pendingSince: { N: '1795168800000' },
      })),
    });

    const { code, out } = await run(['pending', '--stage', 'prod']);

    expect(code).toBe(0);
    const lines = out.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]?.startsWith(`${JSON.stringify(forged)}  `)).toBe(true);
    expect(lines[1]?.startsWith(`${JSON.stringify(escape)}  `)).toBe(true);
    expect(lines[2]?.startsWith('"c-4\\u0085c-5\\u202e"  ')).toBe(true);
    expect(out).toMatch(/^[\x20-\x7e\n]*$/);
  });

  it('stops at --max and says there may be more', async () => {
    const item = (contactId: string) => ({
      contactId: { S: contactId },
      pending: { S: 'pending' },
      pendingSince: { N: '1795168800000' },
    });
    dynamo
      .on(QueryCommand)
      .resolves({ Items: [item('c-1'), item('c-2')], LastEvaluatedKey: item('c-2') });

    const { code, out } = await run(['pending', '--stage', 'prod', '--max', '2']);

    expect(code).toBe(0);
    expect(dynamo.commandCalls(QueryCommand)).toHaveLength(1);
    expect(out.split('\n')).toHaveLength(3);
    expect(out).toContain('c-2  2026-11-20T10:00:00.000Z');
    expect(out.split('\n').at(-1)).toMatch(/^2 pending shown, the oldest first; there may be more/);
  });

  it('exits 2 naming the stage when its ledger table does not exist', async () => {
    dynamo.on(QueryCommand).rejects(
      Object.assign(new Error('Requested resource not found'), {
        name: 'ResourceNotFoundException',
      }),
    );

    const { code, err } = await run(['pending', '--stage', 'prdo']);

    expect(code).toBe(2);
    expect(err).toContain('no table ctr-sync-prdo-ledger');
    expect(err).toContain('is stage prdo deployed there?');
  });
});

describe('ctr-sync peek and pending usage', () => {
  it.each([
    [['peek', '--stage', 'prod'], 'peek needs --queue, one of sync-dlq, redrive-dlq'],
    [['peek', '--stage', 'prod', '--queue', 'sync'], '--queue takes one of sync-dlq'],
    [['peek', '--queue', 'sync-dlq'], '--stage is required'],
    [
      ['peek', '--stage', 'prod', '--queue', 'sync-dlq', '--max', '0'],
      '--max takes a whole number above 0, not "0"',
    ],
    [
      ['peek', '--stage', 'prod', '--queue', 'sync-dlq', '--max', '101'],
      '--max takes at most 100, not 101',
    ],
    [['peek', '--stage', 'prod', '--queue', 'sync-dlq', '--delete'], "Unknown option '--delete'"],
    [['pending', '--stage', 'prod', '--max', 'all'], '--max takes a whole number above 0'],
    [['pending', '--stage', 'prod', '--json'], "Unknown option '--json'"],
  ])('exits 2 on %j, one line on stderr naming the fix, reading nothing', async (argv, text) => {
    const { code, err } = await run(argv);

    expect(code).toBe(2);
    expect(err.split('\n')).toHaveLength(1);
    expect(err).toContain(text);
    expect(sqs.calls()).toHaveLength(0);
    expect(dynamo.calls()).toHaveLength(0);
  });
});
