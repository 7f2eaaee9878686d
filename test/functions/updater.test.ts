import {
  InvokeCommand,
  type InvokeCommandInput,
  type InvokeCommandOutput,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseContactRecord } from '../../domain/contact-record';
import { toVoiceCallUpdate } from '../../domain/voice-call';
import { ctrReceivedBody, lambdaContext, sqsEvent, sqsRecord } from '../fixtures/events';
import { loadContactRecordFixture } from '../fixtures/factories';

const lambda = mockClient(LambdaClient);
const s3 = mockClient(S3Client);

const TELEPHONY_ARN =
  'arn:aws:lambda:us-east-1:123456789012:function:InvokeTelephonyIntegrationApiFunction';

let handler: (typeof import('../../functions/updater/handler'))['handler'];

beforeAll(async () => {
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('ARCHIVE_BUCKET_NAME', 'ctr-sync-archive');
  vi.stubEnv('INVOKE_TELEPHONY_INTEGRATION_API_ARN', TELEPHONY_ARN);
  ({ handler } = await import('../../functions/updater/handler'));
});

const INBOUND_ID = '15a5cf14-3212-45a1-9f86-a8e97db8afaf';
const MESSAGE_A = '2e1424d4-f796-459a-8184-9c92662be6da';
const MESSAGE_B = '7b3c0a5e-51a1-4c3f-9e0f-2d8b6c4e9a11';

type InvokePayload = {
  Details: { Parameters: { methodName: string; contactId: string; fieldValues: unknown } };
};

function decodePayload(input: InvokeCommandInput): InvokePayload {
  const payload = input.Payload;
  const text =
    typeof payload === 'string' ? payload : new TextDecoder().decode(payload as Uint8Array);
  return JSON.parse(text);
}

function invokeResponse(
  payload: unknown,
  fields: Partial<Omit<InvokeCommandOutput, 'Payload'>> = {},
): InvokeCommandOutput {
  return {
    StatusCode: 200,
    ExecutedVersion: '$LATEST',
    Payload: new TextEncoder().encode(JSON.stringify(payload)) as InvokeCommandOutput['Payload'],
    $metadata: { httpStatusCode: 200 },
    ...fields,
  };
}

function invokedPayloads(): InvokePayload[] {
  return lambda.commandCalls(InvokeCommand).map((call) => decodePayload(call.args[0].input));
}

/** Two messages: A carries the inbound sample, B the outbound sample. */
function twoMessageEvent(): SQSEvent {
  return sqsEvent([
    sqsRecord(ctrReceivedBody(loadContactRecordFixture('inbound-answered')), {
      messageId: MESSAGE_A,
    }),
    sqsRecord(ctrReceivedBody(loadContactRecordFixture('outbound-answered')), {
      messageId: MESSAGE_B,
    }),
  ]);
}

const OUTBOUND_ID = String(loadContactRecordFixture('outbound-answered').ContactId);

/** The archive bucket as the S3 stub holds it: key -> LastUpdateTimestamp metadata. */
let archived: Map<string, string>;

beforeEach(() => {
  lambda.reset();
  s3.reset();
  // An empty archive that stores what is put (conditions are the S3 adapter's tests' business).
  archived = new Map();
  s3.on(HeadObjectCommand).callsFake((input: { Key: string }) => {
    const version = archived.get(input.Key);
    if (version === undefined) {
      throw Object.assign(new Error('NotFound'), {
        name: 'NotFound',
        $metadata: { httpStatusCode: 404 },
      });
    }
    return { ETag: `"${version}"`, Metadata: { 'last-update-timestamp': version } };
  });
  s3.on(PutObjectCommand).callsFake((input: { Key: string; Metadata: Record<string, string> }) => {
    archived.set(input.Key, input.Metadata['last-update-timestamp'] as string);
    return { ETag: '"new"' };
  });
  lambda.on(InvokeCommand).resolves(invokeResponse({ success: true }));
});

describe('updater handler', () => {
  it('invokes the telephony function with updateVoiceCall, the fieldValues and the contactId', async () => {
    const contactRecord = loadContactRecordFixture('inbound-answered');
    const event = sqsEvent([sqsRecord(ctrReceivedBody(contactRecord), { messageId: MESSAGE_A })]);

    const response = await handler(event, lambdaContext());

    expect(response).toEqual({ batchItemFailures: [] });
    const calls = lambda.commandCalls(InvokeCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toMatchObject({
      FunctionName: TELEPHONY_ARN,
      InvocationType: 'RequestResponse',
    });
    expect(invokedPayloads()[0]).toEqual({
      Details: {
        Parameters: {
          methodName: 'updateVoiceCall',
          fieldValues: toVoiceCallUpdate(parseContactRecord(contactRecord)).fieldValues,
          contactId: INBOUND_ID,
        },
      },
    });
  });

  it('applies the fieldOverrides of a resync message', async () => {
    const body = ctrReceivedBody(loadContactRecordFixture('inbound-answered'), {
      toNumber: '+15550109999',
      fromNumber: '+15550108888',
    });

    await handler(sqsEvent([sqsRecord(body)]), lambdaContext());

    const fieldValues = invokedPayloads()[0]?.Details.Parameters.fieldValues;
    expect(fieldValues).toMatchObject({ toNumber: '+15550109999', fromNumber: '+15550108888' });
  });

  it.each([
    [
      'a FunctionError',
      invokeResponse(
        { errorType: 'Error', errorMessage: 'INVALID_FIELD' },
        { FunctionError: 'Unhandled' },
      ),
    ],
    ['a non-2xx StatusCode', invokeResponse({ success: true }, { StatusCode: 500 })],
    ['a success:false payload', invokeResponse({ success: false, errorMessage: 'locked' })],
  ])('fails only the message whose invoke returned %s', async (_case, failure) => {
    lambda
      .on(InvokeCommand)
      .callsFake((input: InvokeCommandInput) =>
        decodePayload(input).Details.Parameters.contactId === OUTBOUND_ID
          ? failure
          : invokeResponse({ success: true }),
      );

    const response = await handler(twoMessageEvent(), lambdaContext());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: MESSAGE_B }] });
    expect(invokedPayloads().map((payload) => payload.Details.Parameters.contactId)).toEqual(
      expect.arrayContaining([INBOUND_ID, OUTBOUND_ID]),
    );
  });

  it('archives the record with every field it arrived with', async () => {
    const record = { ...loadContactRecordFixture('inbound-answered'), NotInTheSchema: { a: 1 } };

    await handler(sqsEvent([sqsRecord(ctrReceivedBody(record))]), lambdaContext());

    const put = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put?.Key).toBe(`ctr/${INBOUND_ID}.json`);
    expect(JSON.parse(String(put?.Body))).toEqual(record);
  });

  it('invokes once for a version delivered twice, and again when the second is a redelivery or a resync', async () => {
    const body = ctrReceivedBody(loadContactRecordFixture('inbound-answered'));

    await handler(sqsEvent([sqsRecord(body)]), lambdaContext());
    await handler(sqsEvent([sqsRecord(body)]), lambdaContext());
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(1);

    await handler(sqsEvent([sqsRecord(body, { receiveCount: 2 })]), lambdaContext());
    await handler(
      sqsEvent([sqsRecord(body, { messageAttributes: { 'ctr-sync-redrive-run': 'run-1' } })]),
      lambdaContext(),
    );
    await handler(
      sqsEvent([sqsRecord(body, { messageAttributes: { 'ctr-sync-resync': 'true' } })]),
      lambdaContext(),
    );
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(4);
  });

  describe('several messages of one contact in a batch', () => {
    // The republished sample: versions 1, 1, 2, 2, 3, 3 of one contact.
    const versions = loadContactRecordFixture('republished-inbound-transfer');
    const message = (index: number, options: { receiveCount?: number } = {}) =>
      sqsRecord(ctrReceivedBody(versions[index] as Record<string, unknown>), {
        messageId: `m-${index}`,
        ...options,
      });

    it('syncs only the newest version, once, and reports no failure', async () => {
      const response = await handler(
        sqsEvent([message(0), message(4), message(2), message(5)]),
        lambdaContext(),
      );

      expect(response).toEqual({ batchItemFailures: [] });
      expect(lambda.commandCalls(InvokeCommand)).toHaveLength(1);
      expect(s3.commandCalls(PutObjectCommand)).toHaveLength(1);
      expect([...archived.values()]).toEqual(['2022-01-11T04:09:47Z']);
    });

    it('sends the archived newest version again when an older message of the batch is a redelivery', async () => {
      archived.set(`ctr/${versions[4]?.ContactId}.json`, '2022-01-11T04:09:47Z');

      await handler(sqsEvent([message(4)]), lambdaContext());
      expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);

      await handler(sqsEvent([message(0, { receiveCount: 2 }), message(4)]), lambdaContext());
      expect(lambda.commandCalls(InvokeCommand)).toHaveLength(1);
    });

    it('fails only the message whose detail has a malformed lastUpdateTimestamp', async () => {
      const body = JSON.parse(ctrReceivedBody(versions[0] as Record<string, unknown>));
      body.lastUpdateTimestamp = '2022-01-05 17:48:35';

      const response = await handler(
        sqsEvent([sqsRecord(JSON.stringify(body), { messageId: 'm-bad' }), message(4)]),
        lambdaContext(),
      );

      expect(response.batchItemFailures.map((failure) => failure.itemIdentifier)).not.toContain(
        'm-4',
      );
      expect(lambda.commandCalls(InvokeCommand)).toHaveLength(1);
    });

    it('fails only the kept message when its invoke fails', async () => {
      lambda.on(InvokeCommand).resolves(invokeResponse({ success: false, errorMessage: 'locked' }));

      const response = await handler(sqsEvent([message(0), message(4)]), lambdaContext());

      expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-4' }] });
    });
  });

  it('does not invoke for a version older than the archived one', async () => {
    archived.set(`ctr/${INBOUND_ID}.json`, '2022-04-08T16:00:00Z');
    const event = sqsEvent([
      sqsRecord(ctrReceivedBody(loadContactRecordFixture('inbound-answered')), {
        messageId: MESSAGE_A,
      }),
    ]);

    const response = await handler(event, lambdaContext());

    expect(response).toEqual({ batchItemFailures: [] });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  it.each([
    ['is not JSON', 'not json'],
    ['has no contactRecord', JSON.stringify({ schemaVersion: '1', contactId: OUTBOUND_ID })],
  ])('fails only the message whose body %s', async (_case, body) => {
    const event = sqsEvent([
      sqsRecord(ctrReceivedBody(loadContactRecordFixture('inbound-answered')), {
        messageId: MESSAGE_A,
      }),
      sqsRecord(body, { messageId: MESSAGE_B }),
    ]);

    const response = await handler(event, lambdaContext());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: MESSAGE_B }] });
    expect(invokedPayloads().map((payload) => payload.Details.Parameters.contactId)).toEqual([
      INBOUND_ID,
    ]);
  });
});

describe('updater handler, messages EventBridge dead-lettered', () => {
  it('syncs a whole CtrReceived event redriven from the sync DLQ', async () => {
    const detail = JSON.parse(ctrReceivedBody(loadContactRecordFixture('inbound-answered')));
    const envelope = {
      version: '0',
      id: 'e-1',
      'detail-type': 'CtrReceived',
      source: 'ctr-sync',
      account: '123456789012',
      time: '2022-04-08T15:03:05Z',
      region: 'us-east-1',
      resources: [],
      detail,
    };

    const response = await handler(
      sqsEvent([sqsRecord(JSON.stringify(envelope), { messageId: MESSAGE_A })]),
      lambdaContext(),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(invokedPayloads().map((payload) => payload.Details.Parameters.contactId)).toEqual([
      INBOUND_ID,
    ]);
  });

  it('names an invalid attribute by path without its key', async () => {
    const record = loadContactRecordFixture('inbound-answered');
    (record.Attributes as Record<string, unknown>)['caller +15551234567'] = 42;
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);

    try {
      await handler(
        sqsEvent([sqsRecord(ctrReceivedBody(record), { messageId: MESSAGE_B })]),
        lambdaContext(),
      );
      const written = [...stdout.mock.calls, ...stderr.mock.calls]
        .map((call) => String(call[0]))
        .join('');
      expect(written).toContain('contactRecord.Attributes.*');
      expect(written).not.toContain('+15551234567');
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  });
});
