/**
 * The stock design, for the benchmark only (never deployed): Service Cloud
 * Voice's CTRDataSyncFunction with the Salesforce recipe "Retry CTR Sync for
 * Voice Call Records" added to it. Inside the Kinesis consumer, for each
 * delivered record the recipe's filter accepts (InitiationMethod INBOUND,
 * OUTBOUND, TRANSFER, CALLBACK or API, a ContactId, not a voicemail: seed
 * 001, `shouldProcessCtr`): back it up to S3 (the recipe's put, one per
 * record) and invoke the telephony integration function's `updateVoiceCall`
 * synchronously (one invoke per delivery: duplicates and older versions
 * included, nothing ordered).
 *
 * Two modes, by `STOCK_CONCURRENCY`:
 * - `sequential` (default): one record after the other, as issue 5 defines
 *   the stock design ("sequential per-record invoke").
 * - `batch`: every record of the batch at once, as the recipe's published
 *   code does (`forEach` + `Promise.all`); here the S3 put is awaited, where
 *   the recipe's is fire-and-forget and can be lost.
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
const concurrency = process.env.STOCK_CONCURRENCY === 'batch' ? 'batch' : 'sequential';

const PROCESSED_INITIATION_METHODS = ['INBOUND', 'OUTBOUND', 'TRANSFER', 'CALLBACK', 'API'];

/** The recipe's filter (seed 001, `shouldProcessCtr`), restated. */
function shouldProcess(ctr: Record<string, unknown>): boolean {
  const attributes = ctr.Attributes as Record<string, unknown> | null | undefined;
  const voicemail = Boolean(attributes?.vm_flag && ctr.Recordings);
  return (
    PROCESSED_INITIATION_METHODS.includes(String(ctr.InitiationMethod)) &&
    Boolean(ctr.ContactId) &&
    !voicemail
  );
}

async function syncRecord(data: string): Promise<void> {
  const text = Buffer.from(data, 'base64').toString('utf8');
  let update: ReturnType<typeof toVoiceCallUpdate>;
  try {
    const ctr = JSON.parse(text) as Record<string, unknown>;
    if (!shouldProcess(ctr)) return;
    update = toVoiceCallUpdate(parseContactRecord(ctr));
  } catch {
    return;
  }
  const backup = s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: `${update.contactId}.json`, Body: text }),
  );
  if (concurrency === 'sequential') await backup;
  const response = await lambda.send(
    new InvokeCommand({
      FunctionName: telephony,
      Payload: JSON.stringify({
        Details: { Parameters: { methodName: 'updateVoiceCall', ...update } },
      }),
    }),
  );
  await backup;
  if (response.FunctionError) throw new Error(`updateVoiceCall failed for ${update.contactId}`);
}

/** One Kinesis batch, in the mode of `STOCK_CONCURRENCY`. */
export async function handler(event: KinesisStreamEvent) {
  if (concurrency === 'batch') {
    await Promise.all(event.Records.map((record) => syncRecord(record.kinesis.data)));
  } else {
    for (const record of event.Records) await syncRecord(record.kinesis.data);
  }
  return { batchItemFailures: [], requests: requests.take() };
}
