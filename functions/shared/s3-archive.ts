/**
 * The contact record archive, records sent by reference, and the quarantine,
 * in one S3 bucket.
 *
 * - Archive: `archive/{yyyy}/{MM}/{dd}/{HH}/...`, the objects the Firehose
 *   delivery stream writes: every `CtrReceived` detail (the record as
 *   received, or its `contactRecordRef`), newline-delimited JSON, GZIP; the
 *   hour is the UTC arrival time of the oldest record in the object (Amazon
 *   Data Firehose Developer Guide, "Custom prefixes for Amazon S3 objects",
 *   timestamp namespace). The reader also takes plain contact records, one
 *   per line or concatenated, as Amazon Connect's own data streaming writes
 *   them.
 * - References: `large/...`, see s3-references.ts.
 * - Quarantine: `quarantine/{id}`, the raw bytes of a record that could not be
 *   parsed or validated, with metadata `reason` and `message`.
 */
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { ArchiveWindow, ContactRecordArchive } from '../../domain/ports';
import { createS3ReferenceStore } from './s3-references';

export {
  createS3Quarantine,
  createS3ReferenceStore,
  QUARANTINE_PREFIX,
  REFERENCE_PREFIX,
  referenceKey,
} from './s3-references';

/**
 * The S3 client, for a handler that loads this module on first use (ingest):
 * esbuild keeps every export of a package imported dynamically, so importing
 * `@aws-sdk/client-s3` itself that way would bundle all of it.
 */
export { S3Client };

/** Key prefix of the archive (the delivery stream's prefix). */
export const ARCHIVE_PREFIX = 'archive/';

/** The hourly prefix of an instant: `archive/yyyy/MM/dd/HH/` (UTC). */
export function hourPrefix(milliseconds: number, prefix = ARCHIVE_PREFIX): string {
  const iso = new Date(milliseconds).toISOString();
  return `${prefix}${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${iso.slice(11, 13)}/`;
}

/**
 * The JSON texts of a run of JSON objects, each on its own line or written
 * back to back (`{...}{...}`), as a delivery stream concatenates records.
 * Text outside objects (whitespace, newlines) is skipped; braces inside
 * strings do not count. An unterminated last object is returned as is, so
 * the caller's parse reports it.
 */
export function splitJsonObjects(text: string): string[] {
  const objects: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === 0x5c) index++;
      else if (char === 0x22) inString = false;
      continue;
    }
    if (char === 0x22) inString = true;
    else if (char === 0x7b) {
      if (depth === 0) start = index;
      depth++;
    } else if (char === 0x7d && depth > 0) {
      depth--;
      if (depth === 0) objects.push(text.slice(start, index + 1));
    }
  }
  if (depth > 0 && start >= 0) objects.push(text.slice(start).trimEnd());
  return objects;
}

/**
 * The contact record a line of an archive object holds: the `contactRecord`
 * of a `CtrReceived` detail (as JSON text), the object its `contactRecordRef`
 * names (read from this bucket; `undefined` when it is gone or elsewhere), or
 * the line itself (a plain contact record, or text that does not parse, for
 * the caller to count).
 */
function recordTextReader(client: S3Client, bucket: string) {
  const references = createS3ReferenceStore({ client, bucket });
  return async (
    text: string,
    wanted?: (contactId: string) => boolean,
  ): Promise<string | undefined> => {
    if (!text.includes('"schemaVersion"')) return text;
    let detail: {
      contactId?: unknown;
      contactRecord?: unknown;
      contactRecordRef?: { bucket?: unknown; key?: unknown };
    };
    try {
      detail = JSON.parse(text);
    } catch {
      return text;
    }
    if (detail.contactRecord !== null && typeof detail.contactRecord === 'object') {
      return JSON.stringify(detail.contactRecord);
    }
    const ref = detail.contactRecordRef;
    if (ref && wanted && typeof detail.contactId === 'string' && !wanted(detail.contactId)) {
      return undefined;
    }
    if (ref && ref.bucket === bucket && typeof ref.key === 'string') {
      const key = ref.key;
      // Named, so that an operator can tell the archive object from the record it refers to.
      return references.get({ bucket, key }).catch((error: unknown) => {
        throw Object.assign(new Error(`${key}: ${(error as Error).message}`, { cause: error }), {
          name: (error as Error).name,
        });
      });
    }
    return text;
  };
}

/**
 * The archive reader over S3. `listObjects` lists the keys under `prefix`
 * (default {@link ARCHIVE_PREFIX}) from the window's first hour to its last,
 * in key order (which is time order), 1,000 per page.
 */
export function createS3ArchiveReader(options: {
  client: S3Client;
  bucket: string;
  prefix?: string;
}): ContactRecordArchive {
  const { client, bucket } = options;
  const prefix = options.prefix ?? ARCHIVE_PREFIX;
  const recordText = recordTextReader(client, bucket);
  return {
    async listObjects(window: ArchiveWindow, startAfter?: string) {
      const first = hourPrefix(Date.parse(window.from), prefix);
      // Every key of the last hour sorts before the next hour's prefix.
      const end = hourPrefix(Date.parse(window.to) + 3_600_000 - 1, prefix);
      const after = startAfter && startAfter > first ? startAfter : undefined;
      const result = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(after ? { StartAfter: after } : { StartAfter: first.slice(0, -1) }),
          MaxKeys: 1000,
        }),
      );
      const keys: string[] = [];
      let done = !result.IsTruncated;
      for (const object of result.Contents ?? []) {
        if (!object.Key) continue;
        if (object.Key >= end) {
          done = true;
          break;
        }
        if (object.Key >= first) keys.push(object.Key);
      }
      const last = result.Contents?.at(-1)?.Key;
      return done || !last ? { keys } : { keys, next: last };
    },

    async readObject(key, wanted) {
      const result = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = Buffer.from((await result.Body?.transformToByteArray()) ?? []);
      const gzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
      const texts = splitJsonObjects((gzip ? gunzipSync(bytes) : bytes).toString('utf8'));
      const records: string[] = [];
      for (const text of texts) {
        const record = await recordText(text, wanted);
        if (record !== undefined) records.push(record);
      }
      return records;
    },
  };
}
