/**
 * Cost per million contact records (figure 4), from what an end-to-end run
 * counted (bench/end-to-end.ts) and the price table (bench/prices.ts).
 *
 * Counted the same way for both designs, per delivered record:
 * - Lambda requests: every invocation of the design's functions, and every
 *   `updateVoiceCall` invoke of SCV's telephony integration function (it
 *   runs in the same AWS account).
 * - Lambda duration: each invocation's measured handler time, rounded up to
 *   the next millisecond (Lambda bills per 1 ms), times the memory
 *   (`MEMORY_GB`, serverless.yml's 256 MB; the stock function and SCV's
 *   telephony function are assumed to have the same), arm64 price; the
 *   telephony function is billed the stand-in's latency per invoke.
 * - EventBridge: one custom event per CtrReceived published (the generated
 *   records are far below the 64 KB chunk); delivery to targets is not billed.
 * - SQS: every billed request counted (sends, receives including empty
 *   ones, deletes), one 64 KB chunk each: a receive of 10 messages of about
 *   2.5 KB stays under 64 KB, so this undercounts only larger records.
 * - S3: PUT-class and GET-class (HEAD is billed as GET) requests; storage is
 *   left out (both designs keep one object per contact).
 * - CloudWatch Logs: the bytes each function wrote; the stock design's
 *   logging is whatever its stand-in writes (none), which favours it.
 * - DynamoDB (ctr-sync's sync ledger): the request units the local DynamoDB
 *   proxy counted (table and pending index writes, reads), on-demand prices;
 *   storage and point-in-time recovery (per GB-month, about 300 bytes per
 *   contact) are left out like S3 storage.
 * - Firehose (ctr-sync's archive): bytes ingested, each record rounded up to
 *   5 KB; the objects it writes are counted as S3 PUTs.
 * Kinesis is the same stream for both and is left out.
 */
import type { EndToEndRun } from './end-to-end';
import { PRICES } from './prices';

/** Memory of every function priced, in GB (serverless.yml `memorySize: 256`). */
export const MEMORY_GB = 256 / 1024;

/** USD per million delivered records, by billed dimension, and in all. */
export interface CostPerMillion {
  lambdaRequests: number;
  lambdaDuration: number;
  eventBridge: number;
  sqs: number;
  s3: number;
  cloudWatchLogs: number;
  dynamoDb: number;
  firehose: number;
  total: number;
}

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

/**
 * Price one run per million delivered records.
 * @param run - an end-to-end run; `published` is the CtrReceived events (0 for the stock design).
 */
export function costPerMillion(
  run: EndToEndRun & {
    published?: number;
    dynamoDb?: { writeUnits: number; readUnits: number; indexWriteUnits: number };
    firehose?: { billedBytes: number };
  },
): CostPerMillion {
  const perMillion = 1_000_000 / run.records;
  const requests = (prefix: string, operations?: readonly string[]) =>
    sum(
      Object.entries(run.requests)
        .filter(
          ([operation]) =>
            operation.startsWith(prefix) &&
            (operations === undefined || operations.includes(operation.slice(prefix.length))),
        )
        .map(([, count]) => count),
    );
  const invocations = sum(Object.values(run.durationsMs).map((durations) => durations.length));
  const billedSeconds =
    sum(Object.values(run.durationsMs).map((durations) => sum(durations.map(Math.ceil)))) / 1000 +
    (run.telephonyInvokes * run.telephonyLatencyMs) / 1000;
  const s3Puts = requests('S3.', ['PutObject', 'CopyObject', 'ListObjectsV2']);
  const s3Gets = requests('S3.') - s3Puts;
  const logBytes = sum(Object.values(run.logBytes));
  const cost = {
    lambdaRequests: (invocations + run.telephonyInvokes) * PRICES.lambdaRequest.usd,
    lambdaDuration: billedSeconds * MEMORY_GB * PRICES.lambdaGbSecondArm64.usd,
    eventBridge: (run.published ?? 0) * PRICES.eventBridgeCustomEvent.usd,
    sqs: requests('SQS.') * PRICES.sqsStandardRequest.usd,
    s3: s3Puts * PRICES.s3PutCopyPostList.usd + s3Gets * PRICES.s3GetAndOther.usd,
    cloudWatchLogs: (logBytes / 1024 ** 3) * PRICES.cloudWatchLogsIngestionGb.usd,
    dynamoDb:
      ((run.dynamoDb?.writeUnits ?? 0) + (run.dynamoDb?.indexWriteUnits ?? 0)) *
        PRICES.dynamoDbWriteRequestUnit.usd +
      (run.dynamoDb?.readUnits ?? 0) * PRICES.dynamoDbReadRequestUnit.usd,
    firehose: ((run.firehose?.billedBytes ?? 0) / 1024 ** 3) * PRICES.firehoseIngestionGb.usd,
  };
  const scaled = Object.fromEntries(
    Object.entries(cost).map(([name, usd]) => [name, usd * perMillion]),
  ) as Omit<CostPerMillion, 'total'>;
  return { ...scaled, total: sum(Object.values(scaled)) };
}
