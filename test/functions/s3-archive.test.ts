/** The S3 archive reader's errors (functions/shared/s3-archive.ts), with a mocked S3 client. */
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, type GetObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createS3ArchiveReader } from '../../functions/shared/s3-archive';

const s3 = mockClient(S3Client);
const ARCHIVE_KEY = 'archive/2024/05/01/10/a.gz';
const LARGE_KEY = 'large/c-2/2024-05-01T10:05:00.000Z#0000000000000000.json';

beforeEach(() => s3.reset());

describe('S3 archive reader', () => {
  it('names the large/ object a record refers to when reading it fails, after the archive object', async () => {
    const line = JSON.stringify({
      schemaVersion: '1',
      contactId: 'c-2',
      lastUpdateTimestamp: '2024-05-01T10:05:00Z',
      contactRecordRef: { bucket: 'archive-bucket', key: LARGE_KEY },
    });
    const bytes = new Uint8Array(gzipSync(`${line}\n`));
    s3.on(GetObjectCommand, { Key: ARCHIVE_KEY }).resolves({
      Body: {
        transformToByteArray: async () => bytes,
      } as unknown as GetObjectCommandOutput['Body'],
    });
    s3.on(GetObjectCommand, { Key: LARGE_KEY }).rejects(
      Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }),
    );
    const reader = createS3ArchiveReader({
      client: new S3Client({ region: 'us-east-1' }),
      bucket: 'archive-bucket',
    });

    const read = reader.readObject(ARCHIVE_KEY);

    await expect(read).rejects.toThrow(`${LARGE_KEY}: Access Denied`);
    await expect(read).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('reads no large/ object of a contact the caller does not want', async () => {
    const line = (contactId: string, key: string) =>
      JSON.stringify({
        schemaVersion: '1',
        contactId,
        lastUpdateTimestamp: '2024-05-01T10:05:00Z',
        contactRecordRef: { bucket: 'archive-bucket', key },
      });
    const bytes = new Uint8Array(
      gzipSync(`${line('c-1', 'large/c-1/v.json')}\n${line('c-2', LARGE_KEY)}\n`),
    );
    s3.on(GetObjectCommand, { Key: ARCHIVE_KEY }).resolves({
      Body: {
        transformToByteArray: async () => bytes,
      } as unknown as GetObjectCommandOutput['Body'],
    });
    const big = new TextEncoder().encode('{"ContactId":"c-2","Big":true}');
    s3.on(GetObjectCommand, { Key: LARGE_KEY }).resolves({
      Body: {
        transformToString: async () => new TextDecoder().decode(big),
        transformToByteArray: async () => big,
      } as unknown as GetObjectCommandOutput['Body'],
    });
    const reader = createS3ArchiveReader({
      client: new S3Client({ region: 'us-east-1' }),
      bucket: 'archive-bucket',
    });

    const records = await reader.readObject(ARCHIVE_KEY, (contactId) => contactId === 'c-2');

    expect(records).toEqual(['{"ContactId":"c-2","Big":true}']);
    expect(s3.commandCalls(GetObjectCommand).map((call) => call.args[0].input.Key)).toEqual([
      ARCHIVE_KEY,
      LARGE_KEY,
    ]);
  });
});
