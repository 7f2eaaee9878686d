import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  UpdateItemCommand,
  type UpdateItemCommandInput,
  type UpdateItemCommandOutput,
} from '@aws-sdk/client-dynamodb';
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
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseContactRecord } from '../../domain/contact-record';
import { contentDigest, versionKey } from '../../domain/versions';
import { toVoiceCallUpdate } from '../../domain/voice-call';
import { buildCtrReceivedReferenceDetail } from '../../events/ctr-received';
import { referenceKey } from '../../functions/shared/s3-archive';
import {
  ctrReceivedBody,
  lambdaContext,
  type SqsRecordOptions,
  sqsEvent,
  sqsRecord,
} from '../fixtures/events';
import { type JsonObject, loadContactRecordFixture } from '../fixtures/factories';

const dynamo = mockClient(DynamoDBClient);
const lambda = mockClient(LambdaClient);
const s3 = mockClient(S3Client);

const TELEPHONY_ARN =
  'arn:aws:lambda:us-east-1:123456789012:function:InvokeTelephonyIntegrationApiFunction';
const LEDGER_TABLE = 'ctr-sync-ledger';
const ARCHIVE_BUCKET = 'ctr-sync-archive';

let handler: (typeof import('../../functions/updater/handler'))['handler'];

beforeAll(async () => {
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('ARCHIVE_BUCKET_NAME', ARCHIVE_BUCKET);
  vi.stubEnv('LEDGER_TABLE_NAME', LEDGER_TABLE);
  vi.stubEnv('INVOKE_TELEPHONY_INTEGRATION_API_ARN', TELEPHONY_ARN);
  ({ handler } = await import('../../functions/updater/handler'));
});

const INBOUND_ID = '15a5cf14-3212-45a1-9f86-a8e97db8afaf';
const MESSAGE_A = '2e1424d4-f796-459a-8184-9c92662be6da';
const MESSAGE_B = '7b3c0a5e-51a1-4c3f-9e0f-2d8b6c4e9a11';
/** Another message, which claimed a version before the one under test arrived. */
const EARLIER_MESSAGE = '0c9d4f7e-3a21-4b8e-9d55-6f1e2a7b8c90';
/** `SentTimestamp` of every SQS record of the fixtures. */
const SENT_TIMESTAMP = '1714564800123';
/** A version key later than every sample's. */
const LATER_VERSION = '2030-01-01T00:00:00.000Z#ffffffffffffffff';

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

/** Whether SDK calls (of any mocked clients) were made in this order. */
function inOrder(...calls: ({ calledBefore(call: never): boolean } | undefined)[]): boolean {
  return calls.every(
    (call, index) =>
      call !== undefined && (index === 0 || calls[index - 1]?.calledBefore(call as never)),
  );
}

function invokedContactIds(): string[] {
  return invokedPayloads().map((payload) => payload.Details.Parameters.contactId);
}

/** The fieldValues `updateVoiceCall` receives for a raw contact record. */
function fieldValuesOf(record: JsonObject) {
  return toVoiceCallUpdate(parseContactRecord(record)).fieldValues;
}

/** The version key of a raw contact record, as the ledger orders versions. */
function versionOf(record: JsonObject): string {
  return versionKey(String(record.LastUpdateTimestamp), contentDigest(JSON.stringify(record)));
}

/** The ledger's conditional writes, told apart by the attributes they set. */
type LedgerWrite = 'claim' | 'markSent' | 'markPending';

function ledgerWriteOf(input: UpdateItemCommandInput): LedgerWrite {
  const names = Object.values(input.ExpressionAttributeNames ?? {});
  if (names.includes('claimedBy')) return 'claim';
  if (names.includes('sent')) return 'markSent';
  return 'markPending';
}

/** The UpdateItem inputs of one kind of ledger write, in the order they were sent. */
function ledgerWrites(write: LedgerWrite): UpdateItemCommandInput[] {
  return dynamo
    .commandCalls(UpdateItemCommand)
    .map((call) => call.args[0].input)
    .filter((input) => ledgerWriteOf(input) === write);
}

function valueOf(input: UpdateItemCommandInput | undefined, placeholder: string) {
  return input?.ExpressionAttributeValues?.[placeholder];
}

/** A ledger item as DynamoDB returns it: strings as S, numbers as N, `heldRef` as M. */
function ledgerItem(fields: {
  claimed?: string;
  claimedBy?: string;
  sent?: string;
  receivedAt?: number;
  overrides?: { toNumber?: string; fromNumber?: string };
  overridesAt?: number;
  pendingSince?: number;
  heldJson?: string;
  heldRef?: { bucket: string; key: string };
  heldVersion?: string;
  contactId?: string;
}): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = { contactId: { S: fields.contactId ?? INBOUND_ID } };
  for (const name of ['claimed', 'claimedBy', 'sent', 'heldJson', 'heldVersion'] as const) {
    const value = fields[name];
    if (value !== undefined) item[name] = { S: value };
  }
  for (const name of ['receivedAt', 'overridesAt', 'pendingSince'] as const) {
    const value = fields[name];
    if (value !== undefined) item[name] = { N: String(value) };
  }
  if (fields.overrides) {
    item.overrides = {
      M: Object.fromEntries(
        Object.entries(fields.overrides).map(([key, value]) => [key, { S: value }]),
      ),
    };
  }
  if (fields.heldRef) {
    item.heldRef = { M: { bucket: { S: fields.heldRef.bucket }, key: { S: fields.heldRef.key } } };
  }
  return item;
}

/** What DynamoDB throws when a condition fails, with the item as it is (ALL_OLD). */
function conditionFailed(item?: Record<string, AttributeValue>) {
  return new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: { httpStatusCode: 400 },
    ...(item ? { Item: item } : {}),
  });
}

type LedgerAnswer = Error | UpdateItemCommandOutput;
let ledgerAnswers: Map<LedgerWrite, LedgerAnswer[]>;

/**
 * Script the answers to one kind of ledger write, in order; the last one
 * repeats. Unscripted writes succeed as on an empty table (no old item).
 */
function answerLedger(write: LedgerWrite, ...answers: LedgerAnswer[]) {
  ledgerAnswers.set(write, answers);
}

/** GetObject of an S3 object holding `text`. */
function objectHolding(text: string): GetObjectCommandOutput {
  const bytes = new TextEncoder().encode(text);
  return {
    Body: {
      transformToString: async () => text,
      transformToByteArray: async () => bytes,
    } as unknown as GetObjectCommandOutput['Body'],
    $metadata: { httpStatusCode: 200 },
  };
}

/** A sync message of `record` sent by reference to `key` in `bucket`. */
function referenceBody(record: JsonObject, key: string, bucket = ARCHIVE_BUCKET): string {
  return buildCtrReceivedReferenceDetail(
    String(record.ContactId),
    String(record.LastUpdateTimestamp),
    { bucket, key },
  );
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

beforeEach(() => {
  dynamo.reset();
  lambda.reset();
  s3.reset();
  ledgerAnswers = new Map();
  const answered = new Map<LedgerWrite, number>();
  dynamo.on(UpdateItemCommand).callsFake((input: UpdateItemCommandInput) => {
    const write = ledgerWriteOf(input);
    const answers = ledgerAnswers.get(write) ?? [{ $metadata: {} }];
    const index = answered.get(write) ?? 0;
    answered.set(write, index + 1);
    const answer = answers[Math.min(index, answers.length - 1)];
    if (answer instanceof Error) throw answer;
    return answer;
  });
  dynamo.on(GetItemCommand).resolves({});
  lambda.on(InvokeCommand).resolves(invokeResponse({ success: true }));
});

describe('updater handler', () => {
  it('claims the version with the message id as its token, invokes updateVoiceCall, then marks the version sent', async () => {
    const contactRecord = loadContactRecordFixture('inbound-answered');
    const version = versionOf(contactRecord);
    const event = sqsEvent([sqsRecord(ctrReceivedBody(contactRecord), { messageId: MESSAGE_A })]);

    const response = await handler(event, lambdaContext());

    expect(response).toEqual({ batchItemFailures: [] });
    expect(version).toMatch(/^2022-04-08T15:03:02\.000Z#[0-9a-f]{16}$/);
    const [claim] = ledgerWrites('claim');
    expect(claim).toMatchObject({
      TableName: LEDGER_TABLE,
      Key: { contactId: { S: INBOUND_ID } },
      ConditionExpression: 'attribute_not_exists(#claimed) OR #claimed < :claimed',
      ReturnValues: 'ALL_OLD',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    expect(claim?.ExpressionAttributeNames?.['#claimed']).toBe('claimed');
    expect(valueOf(claim, ':claimed')).toEqual({ S: version });
    expect(valueOf(claim, ':claimedBy')).toEqual({ S: MESSAGE_A });
    expect(valueOf(claim, ':receivedAt')).toEqual({ N: SENT_TIMESTAMP });
    // A first delivery holds no record in the ledger: the item stays small.
    expect(valueOf(claim, ':heldJson')).toBeUndefined();

    const invokes = lambda.commandCalls(InvokeCommand);
    expect(invokes).toHaveLength(1);
    expect(invokes[0]?.args[0].input).toMatchObject({
      FunctionName: TELEPHONY_ARN,
      InvocationType: 'RequestResponse',
    });
    expect(invokedPayloads()[0]).toEqual({
      Details: {
        Parameters: {
          methodName: 'updateVoiceCall',
          fieldValues: fieldValuesOf(contactRecord),
          contactId: INBOUND_ID,
        },
      },
    });

    const [markSent] = ledgerWrites('markSent');
    expect(markSent).toMatchObject({
      TableName: LEDGER_TABLE,
      Key: { contactId: { S: INBOUND_ID } },
      ConditionExpression:
        '#claimed = :version AND #sends = :generation AND ' +
        '(attribute_not_exists(#dirty) OR #dirty < :generation) AND attribute_not_exists(#overridesAt)',
    });
    expect(valueOf(claim, ':sends')).toEqual({ N: '1' });
    expect(valueOf(markSent, ':generation')).toEqual({ N: '1' });
    expect(valueOf(markSent, ':version')).toEqual({ S: version });
    expect(valueOf(markSent, ':sent')).toEqual({ S: version });
    const [claimCall, markSentCall] = dynamo.commandCalls(UpdateItemCommand);
    expect(inOrder(claimCall, invokes[0], markSentCall)).toBe(true);
    expect(dynamo.commandCalls(UpdateItemCommand)).toHaveLength(2);
    expect(dynamo.commandCalls(GetItemCommand)).toHaveLength(0);
    expect(s3.calls()).toHaveLength(0);
  });

  it('applies the overrides held in the ledger and marks them sent with the version', async () => {
    answerLedger('claim', {
      Attributes: ledgerItem({
        overrides: { toNumber: '+15550109999', fromNumber: '+15550108888' },
        overridesAt: 1_714_564_700_000,
      }),
      $metadata: {},
    });

    await handler(
      sqsEvent([sqsRecord(ctrReceivedBody(loadContactRecordFixture('inbound-answered')))]),
      lambdaContext(),
    );

    const fieldValues = invokedPayloads()[0]?.Details.Parameters.fieldValues;
    expect(fieldValues).toMatchObject({ toNumber: '+15550109999', fromNumber: '+15550108888' });
    const [markSent] = ledgerWrites('markSent');
    expect(markSent?.ConditionExpression).toMatch(/ AND #overridesAt = :overridesAt$/);
    expect(valueOf(markSent, ':overridesAt')).toEqual({ N: '1714564700000' });
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
  ])(
    'fails only the message whose invoke returned %s, and marks its version pending with the record held',
    async (_case, failure) => {
      lambda
        .on(InvokeCommand)
        .callsFake((input: InvokeCommandInput) =>
          decodePayload(input).Details.Parameters.contactId === OUTBOUND_ID
            ? failure
            : invokeResponse({ success: true }),
        );
      const outbound = loadContactRecordFixture('outbound-answered');

      const response = await handler(twoMessageEvent(), lambdaContext());

      expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: MESSAGE_B }] });
      expect(invokedContactIds()).toEqual(expect.arrayContaining([INBOUND_ID, OUTBOUND_ID]));
      const pending = ledgerWrites('markPending');
      expect(pending).toHaveLength(1);
      expect(pending[0]).toMatchObject({
        Key: { contactId: { S: OUTBOUND_ID } },
        ConditionExpression: '#claimed = :version',
      });
      expect(valueOf(pending[0], ':version')).toEqual({ S: versionOf(outbound) });
      expect(JSON.parse(valueOf(pending[0], ':heldJson')?.S ?? '')).toEqual(outbound);
      expect(ledgerWrites('markSent').map((input) => input.Key?.contactId?.S)).toEqual([
        INBOUND_ID,
      ]);
    },
  );

  it('fails only the message whose claim DynamoDB throttles, without invoking for it', async () => {
    dynamo.on(UpdateItemCommand, { Key: { contactId: { S: OUTBOUND_ID } } }).rejects(
      new ProvisionedThroughputExceededException({
        message: 'Rate of requests exceeds the allowed throughput',
        $metadata: { httpStatusCode: 400 },
      }),
    );

    const response = await handler(twoMessageEvent(), lambdaContext());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: MESSAGE_B }] });
    expect(invokedContactIds()).toEqual([INBOUND_ID]);
  });

  it('holds a redelivered record with every field it arrived with as it claims it, and sends it', async () => {
    const record = { ...loadContactRecordFixture('inbound-answered'), NotInTheSchema: { a: 1 } };

    const response = await handler(
      sqsEvent([sqsRecord(ctrReceivedBody(record), { messageId: MESSAGE_A, receiveCount: 2 })]),
      lambdaContext(),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    const [claim] = ledgerWrites('claim');
    // The field outside the schema counts in the version: two records differing only there are two versions.
    expect(valueOf(claim, ':claimed')).toEqual({ S: versionOf(record) });
    expect(JSON.parse(valueOf(claim, ':heldJson')?.S ?? '')).toEqual(record);
    expect(valueOf(claim, ':heldVersion')).toEqual({ S: versionOf(record) });
    expect(valueOf(claim, ':pending')).toEqual({ S: 'pending' });
    expect(invokedContactIds()).toEqual([INBOUND_ID]);
  });

  describe('a version the ledger has claimed already', () => {
    const record = loadContactRecordFixture('inbound-answered');
    const version = versionOf(record);

    it.each<[string, SqsRecordOptions, Parameters<typeof ledgerItem>[0]]>([
      [
        'a second delivery of an acknowledged version',
        {},
        { claimed: version, claimedBy: EARLIER_MESSAGE, sent: version },
      ],
      [
        'a version another message claimed and has not acknowledged yet',
        {},
        { claimed: version, claimedBy: EARLIER_MESSAGE },
      ],
      [
        'a redelivery of an acknowledged version',
        { receiveCount: 2 },
        { claimed: version, claimedBy: MESSAGE_A, sent: version },
      ],
    ])('does not invoke for %s', async (_case, options, before) => {
      answerLedger('claim', conditionFailed(ledgerItem(before)));

      const response = await handler(
        sqsEvent([sqsRecord(ctrReceivedBody(record), { messageId: MESSAGE_A, ...options })]),
        lambdaContext(),
      );

      expect(response).toEqual({ batchItemFailures: [] });
      expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
      expect(ledgerWrites('markSent')).toHaveLength(0);
      // The failed condition returned the item: nothing is read.
      expect(dynamo.commandCalls(GetItemCommand)).toHaveLength(0);
    });

    it.each<[string, SqsRecordOptions, Parameters<typeof ledgerItem>[0]]>([
      [
        'a redelivery of a version claimed and never acknowledged',
        { receiveCount: 2 },
        { claimed: version, claimedBy: MESSAGE_A },
      ],
      [
        'a message a DLQ redrive moved back, its version never acknowledged',
        { messageAttributes: { 'ctr-sync-redrive-run': 'run-1' } },
        { claimed: version, claimedBy: EARLIER_MESSAGE },
      ],
      [
        'a resync of an acknowledged version',
        { messageAttributes: { 'ctr-sync-resync': 'true' } },
        { claimed: version, claimedBy: EARLIER_MESSAGE, sent: version },
      ],
      [
        'the claiming message whose claim was retried after its answer was lost',
        {},
        { claimed: version, claimedBy: MESSAGE_A },
      ],
    ])('invokes again for %s, and marks the version sent', async (_case, options, before) => {
      answerLedger('claim', conditionFailed(ledgerItem(before)));

      const response = await handler(
        sqsEvent([sqsRecord(ctrReceivedBody(record), { messageId: MESSAGE_A, ...options })]),
        lambdaContext(),
      );

      expect(response).toEqual({ batchItemFailures: [] });
      expect(invokedContactIds()).toEqual([INBOUND_ID]);
      expect(ledgerWrites('markSent').map((input) => valueOf(input, ':version'))).toEqual([
        { S: version },
      ]);
    });
  });

  it('does not invoke for a version older than the claimed one', async () => {
    answerLedger(
      'claim',
      conditionFailed(ledgerItem({ claimed: LATER_VERSION, sent: LATER_VERSION })),
    );
    const event = sqsEvent([
      sqsRecord(ctrReceivedBody(loadContactRecordFixture('inbound-answered')), {
        messageId: MESSAGE_A,
      }),
    ]);

    const response = await handler(event, lambdaContext());

    expect(response).toEqual({ batchItemFailures: [] });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    expect(ledgerWrites('markSent')).toHaveLength(0);
  });

  it('reads the item, strongly consistent, when the failed condition does not return it', async () => {
    answerLedger('claim', conditionFailed());
    dynamo.on(GetItemCommand).resolves({ Item: ledgerItem({ claimed: LATER_VERSION }) });

    const response = await handler(
      sqsEvent([sqsRecord(ctrReceivedBody(loadContactRecordFixture('inbound-answered')))]),
      lambdaContext(),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(dynamo.commandCalls(GetItemCommand).map((call) => call.args[0].input)).toEqual([
      { TableName: LEDGER_TABLE, Key: { contactId: { S: INBOUND_ID } }, ConsistentRead: true },
    ]);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
  });

  it.each([
    ['voicemail', 'voicemail'],
    ['no-sync', 'no-sync-attribute'],
  ] as const)(
    'claims a %s record with its skip reason and sends nothing',
    async (fixture, reason) => {
      const record = loadContactRecordFixture(fixture);

      const response = await handler(
        sqsEvent([sqsRecord(ctrReceivedBody(record))]),
        lambdaContext(),
      );

      expect(response).toEqual({ batchItemFailures: [] });
      const [claim] = ledgerWrites('claim');
      expect(valueOf(claim, ':claimed')).toEqual({ S: versionOf(record) });
      expect(valueOf(claim, ':skipped')).toEqual({ S: reason });
      expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
      expect(ledgerWrites('markSent')).toHaveLength(0);
    },
  );

  it('sends the newer version the ledger holds by reference when it was claimed during this send', async () => {
    const versions = loadContactRecordFixture('republished-inbound-transfer');
    const [older, newer] = [versions[0], versions[4]] as [JsonObject, JsonObject];
    const newerKey = referenceKey(String(newer.ContactId), versionOf(newer));
    answerLedger(
      'markSent',
      conditionFailed(
        ledgerItem({
          contactId: String(newer.ContactId),
          claimed: versionOf(newer),
          claimedBy: EARLIER_MESSAGE,
          heldRef: { bucket: ARCHIVE_BUCKET, key: newerKey },
          heldVersion: versionOf(newer),
        }),
      ),
      { $metadata: {} },
    );
    s3.on(GetObjectCommand).resolves(objectHolding(JSON.stringify(newer)));

    const response = await handler(sqsEvent([sqsRecord(ctrReceivedBody(older))]), lambdaContext());

    expect(response).toEqual({ batchItemFailures: [] });
    expect(s3.commandCalls(GetObjectCommand).map((call) => call.args[0].input)).toEqual([
      { Bucket: ARCHIVE_BUCKET, Key: newerKey },
    ]);
    expect(invokedPayloads().map((payload) => payload.Details.Parameters.fieldValues)).toEqual([
      fieldValuesOf(older),
      fieldValuesOf(newer),
    ]);
    expect(ledgerWrites('markSent').map((input) => valueOf(input, ':version'))).toEqual([
      { S: versionOf(older) },
      { S: versionOf(newer) },
    ]);
  });

  describe('a record sent by reference', () => {
    const record = loadContactRecordFixture('inbound-answered');
    const key = referenceKey(INBOUND_ID, versionOf(record));

    it('reads it from its object under large/ in the archive bucket and claims the same version as inline', async () => {
      // Stored as Connect wrote it, whitespace included: the version does not depend on it.
      s3.on(GetObjectCommand).resolves(objectHolding(JSON.stringify(record, null, 2)));

      const response = await handler(
        sqsEvent([sqsRecord(referenceBody(record, key), { messageId: MESSAGE_A })]),
        lambdaContext(),
      );

      expect(response).toEqual({ batchItemFailures: [] });
      expect(key).toMatch(
        new RegExp(`^large/${INBOUND_ID}/2022-04-08T15_03_02\\.000Z_[0-9a-f]{16}\\.json$`),
      );
      expect(s3.commandCalls(GetObjectCommand).map((call) => call.args[0].input)).toEqual([
        { Bucket: ARCHIVE_BUCKET, Key: key },
      ]);
      expect(valueOf(ledgerWrites('claim')[0], ':claimed')).toEqual({ S: versionOf(record) });
      expect(invokedPayloads()[0]?.Details.Parameters.fieldValues).toEqual(fieldValuesOf(record));
    });

    it('holds the reference, not the record, when the message is a redelivery', async () => {
      s3.on(GetObjectCommand).resolves(objectHolding(JSON.stringify(record)));

      await handler(
        sqsEvent([sqsRecord(referenceBody(record, key), { receiveCount: 2 })]),
        lambdaContext(),
      );

      const [claim] = ledgerWrites('claim');
      expect(valueOf(claim, ':heldRef')).toEqual({
        M: { bucket: { S: ARCHIVE_BUCKET }, key: { S: key } },
      });
      expect(valueOf(claim, ':heldJson')).toBeUndefined();
    });

    it('fails the message whose reference names another bucket, without reading it', async () => {
      const response = await handler(
        sqsEvent([
          sqsRecord(referenceBody(record, key, 'someone-elses-bucket'), { messageId: MESSAGE_A }),
          sqsRecord(ctrReceivedBody(loadContactRecordFixture('outbound-answered')), {
            messageId: MESSAGE_B,
          }),
        ]),
        lambdaContext(),
      );

      expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: MESSAGE_A }] });
      expect(s3.calls()).toHaveLength(0);
      expect(ledgerWrites('claim').map((input) => input.Key?.contactId?.S)).toEqual([OUTBOUND_ID]);
      expect(invokedContactIds()).toEqual([OUTBOUND_ID]);
    });

    it('fails the message whose object does not exist (yet), so SQS retries it', async () => {
      s3.on(GetObjectCommand).rejects(
        new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }),
      );

      const response = await handler(
        sqsEvent([sqsRecord(referenceBody(record, key), { messageId: MESSAGE_A })]),
        lambdaContext(),
      );

      expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: MESSAGE_A }] });
      expect(dynamo.calls()).toHaveLength(0);
      expect(lambda.calls()).toHaveLength(0);
    });

    it('fails the message whose object holds another contact', async () => {
      s3.on(GetObjectCommand).resolves(
        objectHolding(JSON.stringify(loadContactRecordFixture('outbound-answered'))),
      );

      const response = await handler(
        sqsEvent([sqsRecord(referenceBody(record, key), { messageId: MESSAGE_A })]),
        lambdaContext(),
      );

      expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: MESSAGE_A }] });
      expect(dynamo.calls()).toHaveLength(0);
      expect(lambda.calls()).toHaveLength(0);
    });
  });

  describe('several messages of one contact in a batch', () => {
    // The republished sample: versions 1, 1, 2, 2, 3, 3 of one contact.
    const versions = loadContactRecordFixture('republished-inbound-transfer');
    const message = (index: number, options: { receiveCount?: number } = {}) =>
      sqsRecord(ctrReceivedBody(versions[index] as JsonObject), {
        messageId: `m-${index}`,
        ...options,
      });
    const newest = versions[4] as JsonObject;

    it('claims and syncs only the newest version, once, and reports no failure', async () => {
      const response = await handler(
        sqsEvent([message(0), message(4), message(2), message(5)]),
        lambdaContext(),
      );

      expect(response).toEqual({ batchItemFailures: [] });
      const claims = ledgerWrites('claim');
      expect(claims).toHaveLength(1);
      expect(valueOf(claims[0], ':claimed')).toEqual({ S: versionOf(newest) });
      expect(valueOf(claims[0], ':claimedBy')).toEqual({ S: 'm-4' });
      expect(invokedPayloads().map((payload) => payload.Details.Parameters.fieldValues)).toEqual([
        fieldValuesOf(newest),
      ]);
    });

    it('sends the unacknowledged newest version when an older message of the batch is a redelivery', async () => {
      answerLedger(
        'claim',
        conditionFailed(
          ledgerItem({
            contactId: String(newest.ContactId),
            claimed: versionOf(newest),
            claimedBy: EARLIER_MESSAGE,
          }),
        ),
      );

      await handler(sqsEvent([message(4)]), lambdaContext());
      expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);

      await handler(sqsEvent([message(0, { receiveCount: 2 }), message(4)]), lambdaContext());
      expect(lambda.commandCalls(InvokeCommand)).toHaveLength(1);
      // Treated as a redelivery: its claim holds the record.
      expect(JSON.parse(valueOf(ledgerWrites('claim')[1], ':heldJson')?.S ?? '')).toEqual(newest);
    });

    it('fails only the message whose detail has a malformed lastUpdateTimestamp', async () => {
      const body = JSON.parse(ctrReceivedBody(versions[0] as JsonObject));
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

  it.each([
    ['is not JSON', 'not json'],
    ['has no contactRecord', JSON.stringify({ schemaVersion: '1', contactId: OUTBOUND_ID })],
    [
      'names a ContactId the sync ledger keeps its own items under',
      ctrReceivedBody({
        ...loadContactRecordFixture('outbound-answered'),
        ContactId: 'sweep-cursor#first-look',
      }),
    ],
  ])('fails only the message whose body %s', async (_case, body) => {
    const event = sqsEvent([
      sqsRecord(ctrReceivedBody(loadContactRecordFixture('inbound-answered')), {
        messageId: MESSAGE_A,
      }),
      sqsRecord(body, { messageId: MESSAGE_B }),
    ]);

    const response = await handler(event, lambdaContext());

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: MESSAGE_B }] });
    expect(invokedContactIds()).toEqual([INBOUND_ID]);
    expect(ledgerWrites('claim').map((input) => input.Key?.contactId?.S)).toEqual([INBOUND_ID]);
  });
});

describe('updater handler, a version from the future (forged)', () => {
  // What anyone able to put events on the bus could send: the genuine record with
  // LastUpdateTimestamp 2099, hold data and a made-up number.
  const genuine = loadContactRecordFixture('inbound-answered');
  const forged: JsonObject = {
    ...genuine,
    LastUpdateTimestamp: '2099-01-01T00:00:00Z',
    CustomerEndpoint: { Address: '+15550100999', Type: 'TELEPHONE_NUMBER' },
  };

  it('quarantines it with reason future-timestamp: no claim, no invoke, not retried', async () => {
    const response = await handler(
      sqsEvent([sqsRecord(ctrReceivedBody(forged), { messageId: MESSAGE_A })]),
      lambdaContext(),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(ledgerWrites('claim')).toEqual([]);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    const [put] = s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
    expect(put?.Bucket).toBe(ARCHIVE_BUCKET);
    expect(put?.Key).toMatch(new RegExp(`^quarantine/updater/\\d{4}-\\d{2}-\\d{2}/${MESSAGE_A}$`));
    expect(put?.Metadata?.reason).toBe('future-timestamp');
    expect(put?.Metadata?.message).not.toContain('15550100999');
  });

  it('does not let it stand for the genuine version of the same batch', async () => {
    const response = await handler(
      sqsEvent([
        sqsRecord(ctrReceivedBody(genuine), { messageId: MESSAGE_A }),
        sqsRecord(ctrReceivedBody(forged), { messageId: MESSAGE_B }),
      ]),
      lambdaContext(),
    );

    expect(response).toEqual({ batchItemFailures: [] });
    expect(ledgerWrites('claim').map((input) => valueOf(input, ':claimed'))).toEqual([
      { S: versionOf(genuine) },
    ]);
    expect(invokedPayloads().map((payload) => payload.Details.Parameters.fieldValues)).toEqual([
      fieldValuesOf(genuine),
    ]);
  });

  it('quarantines a record by reference whose own LastUpdateTimestamp is in the future', async () => {
    const key = referenceKey(INBOUND_ID, versionOf(forged));
    s3.on(GetObjectCommand).resolves(objectHolding(JSON.stringify(forged)));
    // The detail claims the genuine timestamp; the stored record does not.
    const body = buildCtrReceivedReferenceDetail(INBOUND_ID, String(genuine.LastUpdateTimestamp), {
      bucket: ARCHIVE_BUCKET,
      key,
    });

    const response = await handler(sqsEvent([sqsRecord(body)]), lambdaContext());

    expect(response).toEqual({ batchItemFailures: [] });
    expect(ledgerWrites('claim')).toEqual([]);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    expect(
      s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input.Metadata?.reason),
    ).toEqual(['future-timestamp']);
  });

  it('retries the message when the quarantine cannot be written', async () => {
    s3.on(PutObjectCommand).rejects(new Error('SlowDown'));

    const response = await handler(
      sqsEvent([sqsRecord(ctrReceivedBody(forged), { messageId: MESSAGE_A })]),
      lambdaContext(),
    );

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: MESSAGE_A }] });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
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
    expect(invokedContactIds()).toEqual([INBOUND_ID]);
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
