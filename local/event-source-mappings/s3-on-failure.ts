/**
 * The S3 on-failure destination of a Kinesis event source mapping, and the
 * S3 "Object Created" event that reports each object on the default bus.
 *
 * Lambda writes one object per batch it gives up on, under
 * `aws/lambda/<mapping UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<UUID>`,
 * holding the on-failure record and, in `payload`, the invocation event as a
 * JSON string (AWS Lambda Developer Guide, "Retain discarded batch records for
 * a Kinesis Data Streams event source"). The stack's rule
 * `IngestFailedBatchRule` sends the object's EventBridge event (Amazon S3 User
 * Guide, "EventBridge message structure") to the ingest failures queue; here
 * `notify` receives that event's JSON.
 */
import { randomUUID } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent } from 'aws-lambda';
import type { KinesisOnFailureRecord } from './kinesis';

/** The object key Lambda writes for a batch of `shardId` given up on at `at`. */
export function onFailureObjectKey(mappingUuid: string, shardId: string, at: Date): string {
  const iso = at.toISOString();
  const day = `${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}`;
  const stamp = iso.slice(0, 19).replaceAll(':', '.');
  return `aws/lambda/${mappingUuid}/${shardId}/${day}/${stamp}-${randomUUID()}`;
}

/**
 * An `onFailure` for startKinesisEventSourceMapping that writes the batch to
 * `bucket` as Lambda does and hands the S3 "Object Created" event to `notify`.
 * Throws (so the mapping calls it again) when the put or `notify` fails.
 */
export function s3OnFailureDestination(options: {
  s3: S3Client;
  bucket: string;
  region: string;
  account: string;
  mappingUuid?: string;
  notify(eventJson: string): Promise<unknown>;
}) {
  const mappingUuid = options.mappingUuid ?? randomUUID();
  return async (record: KinesisOnFailureRecord, event: KinesisStreamEvent): Promise<void> => {
    const at = new Date(record.timestamp);
    const key = onFailureObjectKey(mappingUuid, record.KinesisBatchInfo.shardId, at);
    const body = JSON.stringify({ ...record, payload: JSON.stringify(event) });
    await options.s3.send(new PutObjectCommand({ Bucket: options.bucket, Key: key, Body: body }));
    await options.notify(
      JSON.stringify({
        version: '0',
        id: randomUUID(),
        'detail-type': 'Object Created',
        source: 'aws.s3',
        account: options.account,
        time: at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        region: options.region,
        resources: [`arn:aws:s3:::${options.bucket}`],
        detail: {
          version: '0',
          bucket: { name: options.bucket },
          object: { key, size: Buffer.byteLength(body) },
          reason: 'PutObject',
        },
      }),
    );
  };
}
