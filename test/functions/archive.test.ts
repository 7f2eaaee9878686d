import {
  HeadObjectCommand,
  NotFound,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { PermanentError } from '../../domain/errors';
import { ctrReceivedEvent, eventBridgeEvent } from '../fixtures/events';
import { loadContactRecordFixture } from '../fixtures/factories';

const s3 = mockClient(S3Client);

let handler: (typeof import('../../functions/archive/handler'))['handler'];

beforeAll(async () => {
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('ARCHIVE_BUCKET_NAME', 'ctr-sync-archive');
  ({ handler } = await import('../../functions/archive/handler'));
});

const CONTACT_ID = '15a5cf14-3212-45a1-9f86-a8e97db8afaf';
const KEY = `ctr/${CONTACT_ID}.json`;
/** LastUpdateTimestamp of the inbound-answered sample. */
const VERSION = '2022-04-08T15:03:02Z';

function notFound() {
  return new NotFound({ message: 'Not Found', $metadata: { httpStatusCode: 404 } });
}

function preconditionFailed() {
  return new S3ServiceException({
    name: 'PreconditionFailed',
    $fault: 'client',
    message: 'At least one of the pre-conditions you specified did not hold',
    $metadata: { httpStatusCode: 412 },
  });
}

function archivedHead(version: string, etag = '"5d41402abc4b2a76b9719d911017c592"') {
  return { ETag: etag, Metadata: { 'last-update-timestamp': version } };
}

function putInputs() {
  return s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input);
}

beforeEach(() => {
  s3.reset();
  s3.on(PutObjectCommand).resolves({ ETag: '"new"' });
});

describe('archive handler', () => {
  it('creates ctr/{ContactId}.json with If-None-Match * when nothing is archived', async () => {
    s3.on(HeadObjectCommand).rejects(notFound());
    const contactRecord = loadContactRecordFixture('inbound-answered');

    const result = await handler(ctrReceivedEvent(contactRecord));

    expect(result).toEqual({ outcome: 'stored' });
    const puts = putInputs();
    expect(puts).toHaveLength(1);
    expect(puts[0]).toMatchObject({
      Bucket: 'ctr-sync-archive',
      Key: KEY,
      IfNoneMatch: '*',
      Metadata: { 'last-update-timestamp': VERSION },
    });
    expect(puts[0]?.IfMatch).toBeUndefined();
    expect(JSON.parse(String(puts[0]?.Body))).toEqual(contactRecord);
  });

  it('replaces an older archived version with If-Match on its ETag', async () => {
    s3.on(HeadObjectCommand).resolves(archivedHead('2022-04-08T15:01:00Z', '"older-etag"'));

    const result = await handler(ctrReceivedEvent(loadContactRecordFixture('inbound-answered')));

    expect(result).toEqual({ outcome: 'stored' });
    const puts = putInputs();
    expect(puts).toHaveLength(1);
    expect(puts[0]).toMatchObject({ Key: KEY, IfMatch: '"older-etag"' });
    expect(puts[0]?.IfNoneMatch).toBeUndefined();
  });

  it.each([
    ['newer', '2022-04-08T15:03:02.001Z', 'older'],
    ['equal', '2022-04-08T15:03:02.000Z', 'duplicate'],
  ])('does not write when the archived version is %s', async (_case, archived, outcome) => {
    s3.on(HeadObjectCommand).resolves(archivedHead(archived));

    const result = await handler(ctrReceivedEvent(loadContactRecordFixture('inbound-answered')));

    expect(result).toEqual({ outcome });
    expect(putInputs()).toHaveLength(0);
  });

  it('re-reads after a 412 and does not write when a newer version won the race', async () => {
    s3.on(HeadObjectCommand)
      .rejectsOnce(notFound())
      .resolvesOnce(archivedHead('2022-04-08T16:00:00Z'));
    s3.on(PutObjectCommand).rejects(preconditionFailed());

    const result = await handler(ctrReceivedEvent(loadContactRecordFixture('inbound-answered')));

    expect(result).toEqual({ outcome: 'older' });
    expect(s3.commandCalls(HeadObjectCommand)).toHaveLength(2);
    expect(putInputs()).toHaveLength(1);
  });

  it('retries the write with If-Match when an older version appeared during the race', async () => {
    s3.on(HeadObjectCommand)
      .rejectsOnce(notFound())
      .resolvesOnce(archivedHead('2022-04-08T15:00:00Z', '"racer"'));
    s3.on(PutObjectCommand).rejectsOnce(preconditionFailed()).resolves({ ETag: '"new"' });

    const result = await handler(ctrReceivedEvent(loadContactRecordFixture('inbound-answered')));

    expect(result).toEqual({ outcome: 'stored' });
    expect(putInputs().map((input) => input.IfMatch ?? input.IfNoneMatch)).toEqual([
      '*',
      '"racer"',
    ]);
  });

  it('throws a PermanentError for an event that is not a valid CtrReceived', async () => {
    const event = eventBridgeEvent('ctr-sync', 'CtrReceived', {
      schemaVersion: '1',
      contactId: CONTACT_ID,
    });

    const archive = handler(event);

    await expect(archive).rejects.toBeInstanceOf(PermanentError);
    await expect(handler(event)).rejects.toThrow(/detail\.lastUpdateTimestamp/);
    expect(s3.calls()).toHaveLength(0);
  });

  it('only checks the archive for a reference to a record the ingest function archived first', async () => {
    s3.on(HeadObjectCommand).resolves(archivedHead(VERSION));
    const event = eventBridgeEvent('ctr-sync', 'CtrReceived', {
      schemaVersion: '1',
      contactId: CONTACT_ID,
      lastUpdateTimestamp: VERSION,
      contactRecordRef: { bucket: 'ctr-sync-archive', key: KEY },
    });

    const result = await handler(event);

    expect(result).toEqual({ outcome: 'referenced' });
    expect(putInputs()).toHaveLength(0);
  });

  it('throws a PermanentError for a reference the archive does not hold', async () => {
    s3.on(HeadObjectCommand).rejects(notFound());
    const event = eventBridgeEvent('ctr-sync', 'CtrReceived', {
      schemaVersion: '1',
      contactId: CONTACT_ID,
      lastUpdateTimestamp: VERSION,
      contactRecordRef: { bucket: 'ctr-sync-archive', key: KEY },
    });

    await expect(handler(event)).rejects.toThrow(
      `CtrReceived for ContactId ${CONTACT_ID} refers to an archived record the archive does not hold`,
    );
    expect(putInputs()).toHaveLength(0);
  });

  it('throws a PermanentError for a detail with both the record and a reference', async () => {
    const event = ctrReceivedEvent(loadContactRecordFixture('inbound-answered'));
    (event.detail as Record<string, unknown>).contactRecordRef = { bucket: 'b', key: KEY };

    await expect(handler(event)).rejects.toThrow(/detail\.contactRecord/);
    expect(s3.calls()).toHaveLength(0);
  });
});
