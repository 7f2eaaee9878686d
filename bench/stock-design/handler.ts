/**
 * The stock design, for the benchmark only (never deployed): what Service
 * Cloud Voice's CTRDataSyncFunction does with the Salesforce recipe "Retry
 * CTR Sync for Voice Call Records" added to it. Inside the Kinesis consumer,
 * for each delivered record in shard order: decode it, back it up to S3 (the
 * recipe's put, one per record), and invoke the telephony integration
 * function's `updateVoiceCall` synchronously (one invoke per delivery:
 * duplicates and older versions included, nothing ordered).
 *
 * It uses ctr-sync's own transform (domain/voice-call.ts), so the two designs
 * send the same fieldValues and differ only in how they get there. A record
 * that is not a valid contact record is skipped, not retried.
 *
 * Environment: `ARCHIVE_BUCKET_NAME` (the backup bucket),
 * `INVOKE_TELEPHONY_INTEGRATION_API_ARN`, `S3_FORCE_PATH_STYLE`, and
 * `CTR_SYNC_REQUEST_METRICS` as for the functions. It answers
 * `{ batchItemFailures: [], requests }`, `requests` being the AWS requests
 * of the invocation by operation (functions/shared/request-metrics.ts).
 *
 * Sources: seeds 000 (CTRDataSyncFunction, per contact record) and 001 (the
 * recipe's S3 backup of every CTR).
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent } from 'aws-lambda';
import { parseContactRecord } from '../../domain/contact-record';
import { toVoiceCallUpdate } from '../../domain/voice-call';
import { RequestCounts } from '../../functions/shared/request-metrics';

const requests = new RequestCounts();
const s3 = requests.instrument(
  new S3Client({ forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true' }),
);
const lambda = requests.instrument(new LambdaClient({}));
const bucket = process.env.ARCHIVE_BUCKET_NAME ?? '';
const telephony = process.env.INVOKE_TELEPHONY_INTEGRATION_API_ARN ?? '';

/** One Kinesis batch, one record at a time. */
export async function handler(event: KinesisStreamEvent) {
  for (const record of event.Records) {
    const text = Buffer.from(record.kinesis.data, 'base64').toString('utf8');
    let update: ReturnType<typeof toVoiceCallUpdate>;
    try {
      update = toVoiceCallUpdate(parseContactRecord(JSON.parse(text)));
    } catch {
      continue;
    }
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: `${update.contactId}.json`, Body: text }),
    );
    const response = await lambda.send(
      new InvokeCommand({
        FunctionName: telephony,
        Payload: JSON.stringify({
          Details: { Parameters: { methodName: 'updateVoiceCall', ...update } },
        }),
      }),
    );
    if (response.FunctionError) throw new Error(`updateVoiceCall failed for ${update.contactId}`);
  }
  return { batchItemFailures: [], requests: requests.take() };
}
