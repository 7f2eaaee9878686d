/**
 * No personal data in logs: the redaction step, and the updater and
 * redrive handlers run on the real samples while every dependency answers
 * with an error message that quotes the record (the worst an SDK, SCV's
 * functions or Salesforce could do). The ingest handler has its own such test
 * in ingest.test.ts.
 */
import {
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TransientError } from '../../domain/errors';
import { buildCtrReceivedReferenceDetail } from '../../events/ctr-received';
import { REDACTED, redact, redactDeep } from '../../functions/shared/log-redaction';
import {
  ctrReceivedBody,
  eventBridgeEvent,
  lambdaContext,
  sqsEvent,
  sqsRecord,
} from '../fixtures/events';
import { loadContactRecordFixture } from '../fixtures/factories';
import { captureOutput } from '../fixtures/output';

describe('redact', () => {
  it.each([
    ['+15550100123', REDACTED],
    ['call +1 (555) 010-0123 back', `call ${REDACTED} back`],
    ['+44 20 7946 0958, then', `${REDACTED}, then`],
    ['mail jane.doe+vip@example.co.uk now', `mail ${REDACTED} now`],
  ])('replaces personal data in %j', (text, expected) => {
    expect(redact(text)).toBe(expected);
  });

  it.each([
    'sequenceNumber 49680435863849591959939640883102118996594461972832976898',
    'ContactId 00000000-0000-4000-8000-000000000001',
    'LastUpdateTimestamp 2022-04-08T15:03:02Z',
    'SendMessageBatch failed for 1 of 2 messages (InternalError)',
  ])('keeps what logs are for: %s', (text) => {
    expect(redact(text)).toBe(text);
  });

  it('redacts at any depth, errors included, without changing the input', () => {
    const error = Object.assign(new TransientError('invoke failed for +15550100123'), {
      $metadata: { httpStatusCode: 500 },
    });
    const input = { error, nested: { list: ['x@example.com', 3] } };

    const output = redactDeep(input);

    expect(output.error).toBeInstanceOf(TransientError);
    expect(output.error.name).toBe('TransientError');
    expect(output.error.$metadata).toEqual({ httpStatusCode: 500 });
    expect(output.error.message).toBe(`invoke failed for ${REDACTED}`);
    expect(output.error.stack).not.toContain('+15550100123');
    expect(output.nested.list).toEqual([REDACTED, 3]);
    expect(error.message).toBe('invoke failed for +15550100123');
  });
});

const dynamo = mockClient(DynamoDBClient);
const lambda = mockClient(LambdaClient);
const s3 = mockClient(S3Client);
const samples = [
  loadContactRecordFixture('inbound-answered'),
  ...loadContactRecordFixture('republished-inbound-transfer'),
];
const samplesText = samples.map((record) => JSON.stringify(record)).join('\n');
const phoneNumbers = [...new Set(samplesText.match(/\+\d{7,15}/g) ?? [])];

/** What a careless dependency answers: an error message quoting the whole record. */
const quotingError = () =>
  Object.assign(new Error(`Bad request: ${samplesText.slice(0, 4000)}`), {
    name: 'ServiceException',
    $metadata: { httpStatusCode: 500 },
  });

let updater: (typeof import('../../functions/updater/handler'))['handler'];
let redrive: (typeof import('../../functions/redrive/handler'))['handler'];

beforeAll(async () => {
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('ARCHIVE_BUCKET_NAME', 'ctr-sync-archive');
  vi.stubEnv('LEDGER_TABLE_NAME', 'ctr-sync-ledger');
  vi.stubEnv('EVENT_BUS_NAME', 'ctr-sync-bus');
  vi.stubEnv('INVOKE_TELEPHONY_INTEGRATION_API_ARN', 'arn:aws:lambda:us-east-1:1:function:T');
  vi.stubEnv('INVOKE_SALESFORCE_REST_API_ARN', 'arn:aws:lambda:us-east-1:1:function:R');
  vi.stubEnv('SYNC_QUEUE_URL', 'https://sqs.us-east-1.amazonaws.com/1/sync');
  vi.stubEnv('SYNC_DLQ_URL', 'https://sqs.us-east-1.amazonaws.com/1/sync-dlq');
  ({ handler: updater } = await import('../../functions/updater/handler'));
  ({ handler: redrive } = await import('../../functions/redrive/handler'));
});

afterEach(() => {
  dynamo.reset();
  lambda.reset();
  s3.reset();
});

describe('handlers on the real samples, with dependencies quoting the record in their errors', () => {
  it('the samples hold phone numbers to look for', () => {
    expect(phoneNumbers.length).toBeGreaterThanOrEqual(2);
  });

  it('updater: a telephony FunctionError quoting the record', async () => {
    // A new contact: the version is claimed, sent, and marked pending when the send fails.
    dynamo.on(UpdateItemCommand).resolves({});
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: new TextEncoder().encode(
        JSON.stringify({ errorType: 'Error', errorMessage: samplesText.slice(0, 4000) }),
      ) as InvokeCommandOutput['Payload'],
      $metadata: { httpStatusCode: 200 },
    });

    const logs = await captureOutput(() =>
      updater(
        sqsEvent([sqsRecord(ctrReceivedBody(samples[0] as Record<string, unknown>))]),
        lambdaContext(),
      ),
    );

    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(1);
    expect(logs).toContain('VoiceCall sync failed');
    for (const phoneNumber of phoneNumbers) expect(logs).not.toContain(phoneNumber);
  });

  it('updater: a DynamoDB error quoting the record', async () => {
    dynamo.on(UpdateItemCommand).rejects(quotingError());
    dynamo.on(GetItemCommand).rejects(quotingError());

    const logs = await captureOutput(() =>
      updater(
        sqsEvent(
          samples.map((record) => sqsRecord(ctrReceivedBody(record as Record<string, unknown>))),
        ),
        lambdaContext(),
      ),
    );

    expect(dynamo.commandCalls(UpdateItemCommand).length).toBeGreaterThan(0);
    expect(logs).toContain('VoiceCall sync failed');
    // The quoted record reached the logs, redacted.
    expect(logs).toContain('Bad request: ');
    for (const phoneNumber of phoneNumbers) expect(logs).not.toContain(phoneNumber);
  });

  it('updater: an S3 error quoting the record, reading a record sent by reference', async () => {
    s3.on(GetObjectCommand).rejects(quotingError());
    const record = samples[0] as Record<string, unknown>;
    const body = buildCtrReceivedReferenceDetail(
      String(record.ContactId),
      String(record.LastUpdateTimestamp),
      { bucket: 'ctr-sync-archive', key: `large/${String(record.ContactId)}/v.json` },
    );

    const logs = await captureOutput(() => updater(sqsEvent([sqsRecord(body)]), lambdaContext()));

    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(1);
    expect(logs).toContain('VoiceCall sync failed');
    // The quoted record reached the logs, redacted.
    expect(logs).toContain('Bad request: ');
    for (const phoneNumber of phoneNumbers) expect(logs).not.toContain(phoneNumber);
  });

  it('redrive: ledger and REST API errors quoting the record, on a START_CALL_PROCESSING with phone-number overrides', async () => {
    // The sweep gets past its cursors (none yet) and its (empty) pending pass to the REST API;
    // START_CALL_PROCESSING fails at the ledger.
    dynamo.on(GetItemCommand).resolves({});
    dynamo.on(QueryCommand).resolves({ Items: [] });
    dynamo.on(UpdateItemCommand).rejects(quotingError());
    lambda.on(InvokeCommand).rejects(quotingError());

    // Each run fails; captureOutput appends what it throws, as Lambda logs it.
    const sweepLogs = await captureOutput(() =>
      redrive(eventBridgeEvent('ctr-sync', 'SweepRequested', {}), lambdaContext()),
    );
    const startCallLogs = await captureOutput(() =>
      redrive(
        eventBridgeEvent('lca-solution', 'START_CALL_PROCESSING', {
          callId: samples[0]?.ContactId,
          toNumber: phoneNumbers[0],
          fromNumber: phoneNumbers[1],
        }),
        lambdaContext(),
      ),
    );
    const logs = sweepLogs + startCallLogs;

    expect(lambda.commandCalls(InvokeCommand).length).toBeGreaterThan(0);
    expect(dynamo.commandCalls(UpdateItemCommand)).toHaveLength(1);
    expect(sweepLogs).toContain('Redrive failed');
    expect(startCallLogs).toContain('Redrive failed');
    // The quoted record reached the logs of both runs, redacted.
    expect(sweepLogs).toContain('Bad request: ');
    expect(startCallLogs).toContain('Bad request: ');
    for (const phoneNumber of phoneNumbers) expect(logs).not.toContain(phoneNumber);
  });
});
