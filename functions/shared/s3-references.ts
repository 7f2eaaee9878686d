/**
 * Records sent by reference, in the archive bucket: `large/{ContactId}/{version}.json`,
 * one immutable object per version of a record too large for an event (or
 * holding a character SQS rejects), written before it is published with a
 * `contactRecordRef`; and the quarantine, `quarantine/{id}`. A module of its
 * own, with only GetObject and PutObject, so the updater bundles no more of
 * the S3 client than that.
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { QuarantineStore, RecordReferenceStore } from '../../domain/ports';

/** The S3 client, for a handler that loads this module on first use. */
export { S3Client };

/** Key prefix of quarantined records. */
export const QUARANTINE_PREFIX = 'quarantine/';

/** Key prefix of records sent by reference. */
export const REFERENCE_PREFIX = 'large/';

/** The reference key of one version: `large/{ContactId}/{version}.json`, `:` and `#` as `_`. */
export function referenceKey(contactId: string, version: string): string {
  return `${REFERENCE_PREFIX}${contactId}/${version.replace(/[:#]/g, '_')}.json`;
}

function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string })?.name;
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return name === 'NotFound' || name === 'NoSuchKey' || status === 404;
}

/** Records sent by reference, over S3; see the module comment for the keys. */
export function createS3ReferenceStore(options: {
  client: S3Client;
  bucket: string;
}): RecordReferenceStore {
  const { client, bucket } = options;
  return {
    async put(contactId, version, json) {
      const key = referenceKey(contactId, version);
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: json,
          ContentType: 'application/json',
        }),
      );
      return { bucket, key };
    },
    async get(ref) {
      try {
        const result = await client.send(
          new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }),
        );
        return (await result.Body?.transformToString('utf-8')) ?? '';
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
  };
}

/** The quarantine port over S3: raw bytes under `quarantine/{id}`. */
export function createS3Quarantine(options: { client: S3Client; bucket: string }): QuarantineStore {
  const { client, bucket } = options;
  return {
    async put({ id, data, reason, message }) {
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `${QUARANTINE_PREFIX}${id}`,
          Body: data,
          ContentType: 'application/octet-stream',
          // Header values must be ASCII; the message is ours (no record values) but may name odd paths.
          Metadata: { reason, message: encodeURIComponent(message).slice(0, 1024) },
        }),
      );
    },
  };
}
