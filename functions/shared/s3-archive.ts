/**
 * The contact record archive and the quarantine, in one S3 bucket.
 *
 * - Archive: `ctr/{ContactId}.json`, the newest version of each contact
 *   record, its LastUpdateTimestamp in the object metadata
 *   `last-update-timestamp`. Writes are conditional (`If-None-Match: *` to
 *   create, `If-Match: <ETag>` to replace) so two concurrent writers cannot
 *   replace a newer version with an older one: the loser gets 412 Precondition
 *   Failed (or 409 ConditionalRequestConflict), re-reads and decides again.
 *   Source: Amazon S3 User Guide, "Add preconditions to S3 operations with
 *   conditional requests".
 * - Quarantine: `quarantine/{id}`, the raw bytes of a record that could not be
 *   parsed or validated, with metadata `reason` and `message`.
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { TransientError } from '../../domain/errors';
import type {
  ArchivedContactRecord,
  ArchivedVersion,
  ArchivePutOutcome,
  ContactRecordArchive,
  QuarantineStore,
} from '../../domain/ports';
import { compareContactRecordVersions } from '../../domain/versions';

/**
 * The S3 client, for a handler that loads this module on first use (ingest):
 * esbuild keeps every export of a package imported dynamically, so importing
 * `@aws-sdk/client-s3` itself that way would bundle all of it.
 */
export { S3Client };

/** Key prefix of archived contact records. */
export const ARCHIVE_PREFIX = 'ctr/';
/** Key prefix of quarantined records. */
export const QUARANTINE_PREFIX = 'quarantine/';
const VERSION_METADATA = 'last-update-timestamp';

/** The archive key of a ContactId: `ctr/{ContactId}.json`. */
export function archiveKey(contactId: string): string {
  return `${ARCHIVE_PREFIX}${contactId}.json`;
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string })?.name;
  return name === 'NotFound' || name === 'NoSuchKey' || httpStatus(error) === 404;
}

function isConditionFailed(error: unknown): boolean {
  const status = httpStatus(error);
  return status === 412 || status === 409;
}

/** Options of {@link createS3Archive}. */
export interface S3ArchiveOptions {
  client: S3Client;
  bucket: string;
  /** Conditional-write rounds before giving up with a TransientError (default 5). */
  maxConditionalAttempts?: number;
}

/** The archive port over S3; see the module comment for the layout. */
export function createS3Archive(options: S3ArchiveOptions): ContactRecordArchive {
  const { client, bucket } = options;
  const maxAttempts = options.maxConditionalAttempts ?? 5;

  async function head(contactId: string): Promise<ArchivedVersion | undefined> {
    try {
      const result = await client.send(
        new HeadObjectCommand({ Bucket: bucket, Key: archiveKey(contactId) }),
      );
      return {
        lastUpdateTimestamp: result.Metadata?.[VERSION_METADATA] ?? '',
        revision: result.ETag ?? '',
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  return {
    getVersion: head,

    async get(contactId) {
      try {
        const result = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: archiveKey(contactId) }),
        );
        const json = (await result.Body?.transformToString('utf-8')) ?? '';
        const lastUpdateTimestamp = result.Metadata?.[VERSION_METADATA] ?? '';
        return { contactId, lastUpdateTimestamp, json } satisfies ArchivedContactRecord;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },

    async putIfNewer(record, known): Promise<ArchivePutOutcome> {
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        // The caller's read stands in for the first one: if it is stale, the write below fails
        // its precondition and the next round reads the archive.
        const current =
          attempt === 1 && known !== undefined
            ? (known ?? undefined)
            : await head(record.contactId);
        if (current?.lastUpdateTimestamp) {
          const order = compareContactRecordVersions(
            { LastUpdateTimestamp: record.lastUpdateTimestamp },
            { LastUpdateTimestamp: current.lastUpdateTimestamp },
          );
          if (order === 0) return 'duplicate';
          if (order < 0) return 'older';
        }
        try {
          await client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: archiveKey(record.contactId),
              Body: record.json,
              ContentType: 'application/json',
              Metadata: { [VERSION_METADATA]: record.lastUpdateTimestamp },
              ...(current ? { IfMatch: current.revision } : { IfNoneMatch: '*' }),
            }),
          );
          return 'stored';
        } catch (error) {
          if (!isConditionFailed(error)) throw error;
        }
      }
      throw new TransientError(
        `Archive of ContactId ${record.contactId} lost ${maxAttempts} conditional-write races`,
      );
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
