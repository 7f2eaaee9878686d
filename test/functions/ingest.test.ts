import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandInput,
  type PutEventsCommandOutput,
} from '@aws-sdk/client-eventbridge';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { contentDigest } from '../../domain/versions';
import { MAX_CONTACT_RECORD_BYTES } from '../../domain/contact-record';
import { buildCtrReceivedDetail, CtrReceivedDetailSchema } from '../../events/ctr-received';
import { entrySize } from '../../functions/shared/event-publisher';
import {
  contactRecordKinesisRecord,
  distinctContactRecords,
  fixtureKinesisRecord,
  kinesisEvent,
  kinesisRecord,
  lambdaContext,
  sequenceNumber,
} from '../fixtures/events';
import { type JsonObject, loadContactRecordFixture } from '../fixtures/factories';
import { captureOutput } from '../fixtures/output';

const eventBridge = mockClient(EventBridgeClient);
const s3 = mockClient(S3Client);

let handler: (typeof import('../../functions/ingest/handler'))['handler'];
let toCtrReceivedEntry: (typeof import('../../functions/ingest/handler'))['toCtrReceivedEntry'];

beforeAll(async () => {
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('EVENT_BUS_NAME', 'ctr-sync-bus');
  vi.stubEnv('ARCHIVE_BUCKET_NAME', 'ctr-sync-archive');
  vi.stubEnv('PUT_EVENTS_RETRY_BASE_DELAY_MS', '1');
  ({ handler, toCtrReceivedEntry } = await import('../../functions/ingest/handler'));
});

/** A PutEvents answer that accepts every entry except those `fails` picks. */
function answerPutEvents(fails: (detail: string) => boolean = () => false, countFailures = true) {
  return (input: PutEventsCommandInput): PutEventsCommandOutput => {
    const entries = (input.Entries ?? []).map((entry, index) =>
      fails(entry.Detail ?? '')
        ? { ErrorCode: 'InternalFailure', ErrorMessage: 'Internal failure' }
        : { EventId: `11710aed-b79e-4468-a20b-bb3c0c3b4860-${index}` },
    );
    const failed = entries.filter((entry) => 'ErrorCode' in entry).length;
    return {
      FailedEntryCount: countFailures ? failed : 0,
      Entries: entries,
      $metadata: { httpStatusCode: 200 },
    };
  };
}

function putEventsInputs(): PutEventsCommandInput[] {
  return eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input);
}

function publishedDetails() {
  return putEventsInputs().flatMap((input) =>
    (input.Entries ?? []).map((entry) => JSON.parse(entry.Detail ?? '')),
  );
}

/**
 * The inbound-answered sample with a 1,000,000-byte attribute: too large for
 * an event entry (1,000,000 bytes or more), still a valid record (at most
 * 1 MiB), written compactly or with whitespace.
 */
function hugeContactRecord() {
  const record = loadContactRecordFixture('inbound-answered');
  record.Attributes = { transcript: 'x'.repeat(1_000_000) };
  expect(Buffer.byteLength(JSON.stringify(record, null, 1))).toBeLessThan(MAX_CONTACT_RECORD_BYTES);
  return record as typeof record & { ContactId: string; LastUpdateTimestamp: string };
}

/**
 * The inbound-answered sample, its transcript padded so that its `CtrReceived`
 * entry is exactly `bytes` bytes.
 */
function contactRecordWithEntrySize(bytes: number) {
  const record = loadContactRecordFixture('inbound-answered') as JsonObject & {
    ContactId: string;
    LastUpdateTimestamp: string;
  };
  const entryOf = () => ({
    Source: 'ctr-sync',
    DetailType: 'CtrReceived',
    Detail: buildCtrReceivedDetail(
      JSON.stringify(record),
      record.ContactId,
      record.LastUpdateTimestamp,
    ),
  });
  record.Attributes = { transcript: '' };
  record.Attributes = { transcript: 'x'.repeat(bytes - entrySize(entryOf())) };
  expect(entrySize(entryOf())).toBe(bytes);
  return record;
}

function run(event: KinesisStreamEvent) {
  return handler(event, lambdaContext());
}

beforeEach(() => {
  eventBridge.reset();
  s3.reset();
  eventBridge.on(PutEventsCommand).callsFake(answerPutEvents());
  s3.on(PutObjectCommand).resolves({ ETag: '"quarantined"' });
});

describe('ingest handler', () => {
  it('publishes 25 eligible records in PutEvents requests of at most 10 entries', async () => {
    const records = distinctContactRecords(25).map((record, index) =>
      contactRecordKinesisRecord(record, { sequenceNumber: sequenceNumber(index) }),
    );

    const response = await run(kinesisEvent(records));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(putEventsInputs().map((input) => input.Entries?.length)).toEqual([10, 10, 5]);
    expect(new Set(publishedDetails().map((detail) => detail.contactId)).size).toBe(25);
  });

  it('publishes a CtrReceived whose Detail embeds the record and parses back to its ContactId and LastUpdateTimestamp', async () => {
    const fixture = loadContactRecordFixture('inbound-answered');

    await run(kinesisEvent([fixtureKinesisRecord('inbound-answered')]));

    const entry = putEventsInputs()[0]?.Entries?.[0];
    expect(entry).toMatchObject({
      Source: 'ctr-sync',
      DetailType: 'CtrReceived',
      EventBusName: 'ctr-sync-bus',
    });
    const detail = CtrReceivedDetailSchema.parse(JSON.parse(entry?.Detail ?? ''));
    expect(detail.contactId).toBe('15a5cf14-3212-45a1-9f86-a8e97db8afaf');
    expect(detail.lastUpdateTimestamp).toBe('2022-04-08T15:03:02Z');
    expect(detail.contactRecord?.ContactId).toBe(detail.contactId);
    expect(detail.contactRecord?.LastUpdateTimestamp).toBe(detail.lastUpdateTimestamp);
    expect(JSON.parse(entry?.Detail ?? '').contactRecord).toEqual(fixture);
  });

  it('retries an entry that came back with an ErrorCode and reports nothing when the retry succeeds', async () => {
    let failuresLeft = 1;
    eventBridge
      .on(PutEventsCommand)
      .callsFake(
        answerPutEvents(
          (detail) => detail.includes('"InitiationMethod":"OUTBOUND"') && failuresLeft-- > 0,
        ),
      );
    const event = kinesisEvent([
      fixtureKinesisRecord('inbound-answered', { sequenceNumber: sequenceNumber(0) }),
      fixtureKinesisRecord('outbound-answered', { sequenceNumber: sequenceNumber(1) }),
    ]);

    const response = await run(event);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(putEventsInputs().map((input) => input.Entries?.length)).toEqual([2, 1]);
  });

  it('reports exactly the sequence number of a record whose entry keeps failing', async () => {
    eventBridge
      .on(PutEventsCommand)
      .callsFake(answerPutEvents((detail) => detail.includes('"InitiationMethod":"OUTBOUND"')));
    const event = kinesisEvent([
      fixtureKinesisRecord('inbound-answered', { sequenceNumber: sequenceNumber(0) }),
      fixtureKinesisRecord('outbound-answered', { sequenceNumber: sequenceNumber(1) }),
      fixtureKinesisRecord('callback', { sequenceNumber: sequenceNumber(2) }),
    ]);

    const response = await run(event);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(1) }] });
    const inputs = putEventsInputs();
    expect(inputs.length).toBeGreaterThan(1);
    expect(inputs.slice(1).map((input) => input.Entries?.length)).toEqual(
      inputs.slice(1).map(() => 1),
    );
  });

  describe('several records of one contact in a batch', () => {
    // The republished sample: versions 1, 1, 2, 2, 3, 3 of one contact, in shard order.
    const deliveries = () =>
      loadContactRecordFixture('republished-inbound-transfer').map((record, index) =>
        contactRecordKinesisRecord(record, { sequenceNumber: sequenceNumber(index) }),
      );

    it('publishes only the first delivery of the newest version, and counts the others', async () => {
      const records = deliveries();
      const shuffled = [records[4], records[0], records[5], records[2]].filter(
        (record) => record !== undefined,
      );

      const logs = await captureOutput(() => run(kinesisEvent(shuffled)));

      const details = publishedDetails();
      expect(details.map((detail) => detail.lastUpdateTimestamp)).toEqual(['2022-01-11T04:09:47Z']);
      expect(logs).toMatch(/"Superseded":2\b/);
      expect(logs).toMatch(/"Duplicate":1\b/);
      expect(logs).toMatch(/"Published":1\b/);
    });

    it('reports only the kept record when its entry keeps failing, so the retry starts from it', async () => {
      eventBridge.on(PutEventsCommand).callsFake(answerPutEvents(() => true));

      const response = await run(kinesisEvent(deliveries()));

      expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(4) }] });
    });
  });

  it('reports a failed entry even when FailedEntryCount is 0', async () => {
    eventBridge
      .on(PutEventsCommand)
      .callsFake(
        answerPutEvents((detail) => detail.includes('"InitiationMethod":"OUTBOUND"'), false),
      );
    const event = kinesisEvent([
      fixtureKinesisRecord('inbound-answered', { sequenceNumber: sequenceNumber(0) }),
      fixtureKinesisRecord('outbound-answered', { sequenceNumber: sequenceNumber(1) }),
    ]);

    const response = await run(event);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(1) }] });
  });

  it('skips chat records and publishes voicemail records, for the updater to record why they are not synced', async () => {
    const voicemail = loadContactRecordFixture('voicemail');
    const event = kinesisEvent([
      fixtureKinesisRecord('chat', { sequenceNumber: sequenceNumber(0) }),
      fixtureKinesisRecord('voicemail', { sequenceNumber: sequenceNumber(1) }),
      fixtureKinesisRecord('inbound-answered', { sequenceNumber: sequenceNumber(2) }),
    ]);

    let response: Awaited<ReturnType<typeof run>> | undefined;
    const logs = await captureOutput(async () => {
      response = await run(event);
    });

    expect(response).toEqual({ batchItemFailures: [] });
    // One Skipped metric, for the chat record only.
    const skippedMetrics = logs
      .split('\n')
      .filter((line) => line.includes('"Skipped"'))
      .map((line) => JSON.parse(line));
    expect(skippedMetrics).toEqual([
      expect.objectContaining({ Reason: 'channel-not-voice', Skipped: 1 }),
    ]);
    expect(publishedDetails().map((detail) => detail.contactId)).toEqual([
      voicemail.ContactId,
      '15a5cf14-3212-45a1-9f86-a8e97db8afaf',
    ]);
    expect(publishedDetails()[0].contactRecord).toEqual(voicemail);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  const { ContactId: _omitted, ...withoutContactId } = loadContactRecordFixture('inbound-answered');
  it.each([
    [
      'bad JSON',
      Buffer.from('{"ContactId": "15a5cf14-3212-45a1-9f86-a8e97db8afaf",'),
      'invalid-json',
    ],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 'invalid-utf8'],
    ['a missing ContactId', Buffer.from(JSON.stringify(withoutContactId)), 'schema'],
  ])(
    'quarantines a record with %s, raw bytes and reason, without failing it',
    async (_case, data, reason) => {
      const event = kinesisEvent([
        kinesisRecord(data, {
          sequenceNumber: sequenceNumber(7),
          shardId: 'shardId-000000000003',
          approximateArrivalTimestamp: 1_714_564_800.5,
        }),
      ]);

      const response = await run(event);

      expect(response).toEqual({ batchItemFailures: [] });
      const puts = s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
      expect(puts).toHaveLength(1);
      expect(puts[0]).toMatchObject({
        Bucket: 'ctr-sync-archive',
        Key: `quarantine/2024-05-01/shardId-000000000003/${sequenceNumber(7)}`,
        Metadata: { reason },
      });
      expect(Buffer.from(puts[0]?.Body as Uint8Array).equals(data)).toBe(true);
      expect(putEventsInputs()).toHaveLength(0);
    },
  );

  it('quarantines a version dated in the future (forged) as future-timestamp, and publishes the genuine one of its batch', async () => {
    const genuine = loadContactRecordFixture('inbound-answered');
    const forged = {
      ...genuine,
      LastUpdateTimestamp: '2099-01-01T00:00:00Z',
      CustomerEndpoint: { Address: '+15550100999', Type: 'TELEPHONE_NUMBER' },
    };
    const event = kinesisEvent([
      kinesisRecord(JSON.stringify(genuine), { sequenceNumber: sequenceNumber(1) }),
      kinesisRecord(JSON.stringify(forged), { sequenceNumber: sequenceNumber(2) }),
    ]);

    const response = await run(event);

    expect(response).toEqual({ batchItemFailures: [] });
    const puts = s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
    expect(puts.map((put) => [put.Key?.endsWith(sequenceNumber(2)), put.Metadata?.reason])).toEqual(
      [[true, 'future-timestamp']],
    );
    expect(publishedDetails().map((detail) => detail.lastUpdateTimestamp)).toEqual([
      genuine.LastUpdateTimestamp,
    ]);
  });

  it('publishes the reference of a record archived first in the same PutEvents requests as the others', async () => {
    s3.on(HeadObjectCommand).rejects(
      Object.assign(new Error('Not Found'), {
        name: 'NotFound',
        $metadata: { httpStatusCode: 404 },
      }),
    );
    // S3 takes its time, as it does over a network.
    s3.on(PutObjectCommand).callsFake(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return { ETag: '"archived"' };
    });
    const records = [
      contactRecordKinesisRecord(hugeContactRecord(), { sequenceNumber: sequenceNumber(0) }),
      ...distinctContactRecords(9).map((record, index) =>
        contactRecordKinesisRecord(record, { sequenceNumber: sequenceNumber(index + 1) }),
      ),
    ];

    await run(kinesisEvent(records));

    expect(putEventsInputs().map((input) => input.Entries?.length)).toEqual([10]);
  });

  const withUffff = () => {
    const record = loadContactRecordFixture('inbound-answered');
    record.Attributes = { note: 'a\uffffb' };
    return record as typeof record & { ContactId: string; LastUpdateTimestamp: string };
  };
  it.each([
    ['too large for an event entry', hugeContactRecord],
    ['holding U+FFFF', withUffff],
  ])(
    'stores a record %s under large/ first and publishes a reference to it',
    async (_case, build) => {
      const record = build();
      // Written with whitespace: the object keeps the text as received, and its key the version
      // the updater claims, whose digest is of the record's content only.
      const text = JSON.stringify(record, null, 1);
      const event = kinesisEvent([
        kinesisRecord(text, { sequenceNumber: sequenceNumber(0) }),
        fixtureKinesisRecord('outbound-answered', { sequenceNumber: sequenceNumber(1) }),
      ]);

      const response = await run(event);

      expect(response).toEqual({ batchItemFailures: [] });
      // One object per version: ':' and '#' of the version key as '_'.
      const digest = contentDigest(JSON.stringify(record));
      const key = `large/${record.ContactId}/2022-04-08T15_03_02.000Z_${digest}.json`;
      const puts = s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
      expect(puts).toHaveLength(1);
      expect(puts[0]).toMatchObject({
        Bucket: 'ctr-sync-archive',
        Key: key,
        ContentType: 'application/json',
      });
      expect(puts[0]?.Body).toBe(text);
      // Objects under large/ are immutable and never compared: nothing is read first.
      expect(s3.calls()).toHaveLength(1);
      const details = publishedDetails();
      expect(details).toHaveLength(2);
      const reference = details.find((detail) => detail.contactId === record.ContactId);
      expect(reference).toEqual({
        schemaVersion: '1',
        contactId: record.ContactId,
        lastUpdateTimestamp: record.LastUpdateTimestamp,
        contactRecordRef: { bucket: 'ctr-sync-archive', key },
      });
      expect(CtrReceivedDetailSchema.safeParse(reference).success).toBe(true);
      expect(details.find((detail) => detail !== reference).contactRecord.InitiationMethod).toBe(
        'OUTBOUND',
      );
    },
  );

  it('stores two versions of a record too large for an event entry as two objects', async () => {
    const first = hugeContactRecord();
    const second = { ...hugeContactRecord(), LastUpdateTimestamp: '2022-04-08T15:09:41Z' };

    await run(
      kinesisEvent([
        contactRecordKinesisRecord(first, { sequenceNumber: sequenceNumber(0) }),
        contactRecordKinesisRecord(second, { sequenceNumber: sequenceNumber(1) }),
      ]),
    );
    await run(
      kinesisEvent([contactRecordKinesisRecord(first, { sequenceNumber: sequenceNumber(0) })]),
    );

    const keys = s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input.Key);
    // The batch keeps only the newest version; the older one, delivered again, gets its own key.
    expect(keys).toEqual([
      `large/${first.ContactId}/2022-04-08T15_09_41.000Z_${contentDigest(JSON.stringify(second))}.json`,
      `large/${first.ContactId}/2022-04-08T15_03_02.000Z_${contentDigest(JSON.stringify(first))}.json`,
    ]);
    expect(publishedDetails().map((detail) => detail.contactRecordRef?.key)).toEqual(keys);
  });

  it('reports a record too large for an event entry when storing it fails, and publishes nothing for it', async () => {
    s3.on(PutObjectCommand).rejects(
      Object.assign(new Error('Slow Down'), {
        name: 'SlowDown',
        $metadata: { httpStatusCode: 503 },
      }),
    );
    const huge = hugeContactRecord();

    const response = await run(
      kinesisEvent([
        contactRecordKinesisRecord(huge, { sequenceNumber: sequenceNumber(4) }),
        fixtureKinesisRecord('outbound-answered', { sequenceNumber: sequenceNumber(5) }),
      ]),
    );

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(4) }] });
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.Key).toMatch(
      new RegExp(`^large/${huge.ContactId}/`),
    );
    expect(publishedDetails().map((detail) => detail.contactId)).not.toContain(huge.ContactId);
    expect(publishedDetails()).toHaveLength(1);
  });

  it('reports a record whose quarantine put failed', async () => {
    s3.on(PutObjectCommand).rejects(new Error('S3 unavailable'));
    const event = kinesisEvent([
      kinesisRecord('not json', { sequenceNumber: sequenceNumber(0) }),
      fixtureKinesisRecord('inbound-answered', { sequenceNumber: sequenceNumber(1) }),
    ]);

    const response = await run(event);

    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(0) }] });
  });

  it('never writes a phone number from the input to the logs', async () => {
    eventBridge
      .on(PutEventsCommand)
      .callsFake(answerPutEvents((detail) => detail.includes('"InitiationMethod":"OUTBOUND"')));
    const invalid = {
      ...loadContactRecordFixture('webrtc-api'),
      Agent: { NumberOfHolds: '+15550142099' },
    };
    const badJson = `{"CustomerEndpoint":{"Address":"+15550142098"},`;
    const inputs = [
      JSON.stringify(loadContactRecordFixture('inbound-answered')),
      JSON.stringify(loadContactRecordFixture('outbound-answered')),
      JSON.stringify(loadContactRecordFixture('chat')),
      JSON.stringify(loadContactRecordFixture('voicemail')),
      JSON.stringify(loadContactRecordFixture('sfdc-attributes')),
      JSON.stringify(invalid),
      badJson,
    ];
    const phoneNumbers = new Set(inputs.flatMap((text) => text.match(/\+\d{7,15}/g) ?? []));
    const event = kinesisEvent(
      inputs.map((text, index) => kinesisRecord(text, { sequenceNumber: sequenceNumber(index) })),
    );
    const logs = await captureOutput(() => run(event), { rethrow: true });
    expect(phoneNumbers.size).toBeGreaterThanOrEqual(8);
    expect(logs).toContain('Contact record skipped');
    expect(logs).toContain('Contact record quarantined');
    expect(logs).toContain('CtrReceived not published');
    for (const phoneNumber of phoneNumbers) expect(logs).not.toContain(phoneNumber);
  });
});

describe('toCtrReceivedEntry', () => {
  it("decides publish, with the record's own JSON text in the Detail", () => {
    const text = JSON.stringify(loadContactRecordFixture('outbound-answered'));

    const decision = toCtrReceivedEntry(Buffer.from(text));

    expect(decision.action).toBe('publish');
    if (decision.action !== 'publish') return;
    expect(decision.entry).toMatchObject({ Source: 'ctr-sync', DetailType: 'CtrReceived' });
    expect(decision.entry.Detail.endsWith(`,"contactRecord":${text}}`)).toBe(true);
    expect(JSON.parse(decision.entry.Detail)).toMatchObject({
      contactId: decision.contactId,
      contactRecord: JSON.parse(text),
    });
  });

  it('decides skip with the eligibility reason', () => {
    const decision = toCtrReceivedEntry(
      Buffer.from(JSON.stringify(loadContactRecordFixture('chat'))),
    );

    expect(decision).toMatchObject({ action: 'skip', reason: 'channel-not-voice' });
  });

  it('decides invalid (future-timestamp) only beyond the tolerance after the processing time', () => {
    const record = loadContactRecordFixture('inbound-answered');
    const nowMs = Date.parse(String(record.LastUpdateTimestamp));
    const decide = (aheadMs: number) =>
      toCtrReceivedEntry(
        Buffer.from(
          JSON.stringify({
            ...record,
            LastUpdateTimestamp: new Date(nowMs + aheadMs).toISOString(),
          }),
        ),
        { nowMs, toleranceMs: 15 * 60_000 },
      );

    expect(decide(15 * 60_000).action).toBe('publish');
    expect(decide(15 * 60_000 + 1000)).toMatchObject({
      action: 'invalid',
      error: { reason: 'future-timestamp' },
    });
    expect(decide(-86_400_000).action).toBe('publish');
  });

  it('decides invalid with the reason of the decoding error', () => {
    const decision = toCtrReceivedEntry(Buffer.from('{"ContactId":'));

    expect(decision).toMatchObject({ action: 'invalid', error: { reason: 'invalid-json' } });
  });

  const withUffff = loadContactRecordFixture('inbound-answered') as JsonObject & {
    ContactId: string;
    LastUpdateTimestamp: string;
  };
  withUffff.Attributes = { note: 'a\uffffb' };
  it.each([
    ['holds U+FFFF', withUffff],
    ['is too large for an event entry', hugeContactRecord()],
  ])('decides archive-first for a record that %s', (_case, record) => {
    const text = JSON.stringify(record);

    const decision = toCtrReceivedEntry(Buffer.from(text));

    expect(decision).toEqual({
      action: 'archive-first',
      contactId: record.ContactId,
      lastUpdateTimestamp: record.LastUpdateTimestamp,
      json: text,
    });
  });

  it('decides publish for a record whose entry is 999,999 bytes', () => {
    const record = contactRecordWithEntrySize(999_999);
    const text = JSON.stringify(record);

    const decision = toCtrReceivedEntry(Buffer.from(text));

    expect(decision.action).toBe('publish');
    if (decision.action !== 'publish') return;
    expect(entrySize(decision.entry)).toBe(999_999);
    expect(decision.json).toBe(text);
  });

  it('decides archive-first for a record whose entry would be 1,000,000 bytes', () => {
    const record = contactRecordWithEntrySize(1_000_000);
    const text = JSON.stringify(record);

    const decision = toCtrReceivedEntry(Buffer.from(text));

    expect(decision).toEqual({
      action: 'archive-first',
      contactId: record.ContactId,
      lastUpdateTimestamp: record.LastUpdateTimestamp,
      json: text,
    });
  });

  it.each([
    ['\\uffff', 'archive-first'],
    ['\\uFFFE', 'archive-first'],
    ['\\\\\\uffff', 'archive-first'],
    ['\\\\uffff', 'publish'],
    ['\\ufffd', 'publish'],
  ])(
    'decides %s in the JSON text as %s: an escape EventBridge decodes into a character SQS rejects',
    (escape, action) => {
      const record = loadContactRecordFixture('inbound-answered');
      const text = JSON.stringify({ ...record, Attributes: { note: 'x' } }).replace(
        '"note":"x"',
        `"note":"a${escape}b"`,
      );
      expect(() => JSON.parse(text)).not.toThrow();

      const decision = toCtrReceivedEntry(Buffer.from(text));

      expect(decision.action).toBe(action);
    },
  );
});
