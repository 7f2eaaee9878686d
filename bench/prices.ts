/**
 * AWS list prices for US East (N. Virginia), `us-east-1`, used by the benchmark to turn counted
 * requests, events, GB-seconds and bytes into "cost per million contact records".
 *
 * Every figure is an on-demand list price in USD with no free tier, no Savings Plans and no volume
 * tier beyond the first. Each is stored per single billing unit (one request, one event, one
 * GB-second, one GB-month, ...) so callers multiply by their counts; the list price as AWS quotes
 * it is kept in `note`.
 *
 * Compiled on 2026-11-21, DynamoDB and Firehose added on 2026-12-01 (`PRICES_COMPILED`) from stored copies of the pages in `source`, as
 * published on the page retrieved: several copies are older than that date, and prices change, so
 * re-check the pages before quoting a figure outside this benchmark.
 *
 * The copies of the AWS pricing pages that could be retrieved render most price cells client-side,
 * so their text often carries the billing rules but not the figure. Where that is so, the `note`
 * says the figure was not visible on the AWS page and names the secondary pages it was read from.
 *
 * Kinesis Data Streams is left out: both designs compared read the same stream, so it cancels out,
 * and the retrieved copies of https://aws.amazon.com/kinesis/data-streams/pricing/ describe the
 * on-demand and provisioned billing units without showing their prices.
 */

/** One price: `usd` per single `per` unit, where it comes from, and the list price as quoted. */
export interface Price {
  usd: number;
  per: string;
  source: string;
  note?: string;
}

/** The date this table was compiled (ISO 8601). */
export const PRICES_COMPILED = '2026-12-01';

/** The AWS Region every price in the table is for. */
export const PRICE_REGION = 'us-east-1';

/**
 * EventBridge bills a custom event per 64 KB chunk of its payload: a 256 KB event counts as four
 * events, and the largest ingest publishes (just under 1,000,000 bytes) as sixteen. Source:
 * https://aws.amazon.com/eventbridge/pricing/ ("Size of payloads"). Applies to
 * `PRICES.eventBridgeCustomEvent`.
 */
export const EVENTBRIDGE_CHUNK_BYTES = 64 * 1024;

/**
 * SQS bills each API request per 64 KB chunk of its payload: one call carrying 256 KB counts as
 * four requests, one carrying 1 MiB (the largest message, and the largest batch) as sixteen.
 * Source: https://aws.amazon.com/sqs/features/ ("Payload size"), read on the retrieved Japanese
 * edition, https://aws.amazon.com/jp/sqs/features/. Applies to `PRICES.sqsStandardRequest`.
 */
export const SQS_CHUNK_BYTES = 64 * 1024;

/**
 * The price table, one entry per billed dimension, each in USD per single unit (`per`). Multiply by
 * counts: billed chunks for EventBridge and SQS, GB-seconds for Lambda, and so on.
 */
export const PRICES = {
  lambdaRequest: {
    usd: 0.0000002,
    per: '1 request',
    source: 'https://aws.amazon.com/lambda/pricing/',
    note:
      '$0.20 per 1M requests, the same for arm64 and x86_64. Also stated as $0.0000002 per ' +
      'request in ' +
      'https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/lambda.html.',
  },
  lambdaGbSecondArm64: {
    usd: 0.0000133334,
    per: '1 GB-second',
    source: 'https://aws.amazon.com/lambda/pricing/',
    note:
      '$0.0000133334 per GB-second, arm64 (Graviton), first tier (0 to 7.5 billion GB-seconds a ' +
      'month). Not visible on the retrieved copy of the AWS page; read from ' +
      'https://cloudchipr.com/blog/aws-lambda-pricing and consistent with the AWS News Blog ' +
      '(https://aws.amazon.com/blogs/aws/aws-lambda-functions-powered-by-aws-graviton2-processor-' +
      'run-your-functions-on-arm-and-get-up-to-34-better-price-performance/), which puts arm64 ' +
      'duration 20% below x86_64: 0.8 x $0.0000166667.',
  },
  lambdaGbSecondX86: {
    usd: 0.0000166667,
    per: '1 GB-second',
    source: 'https://aws.amazon.com/lambda/pricing/',
    note:
      '$0.0000166667 per GB-second, x86_64, first tier (0 to 6 billion GB-seconds a month). The ' +
      'retrieved AWS page and the AWS whitepaper ' +
      '(https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/lambda.html) round ' +
      'it to $0.00001667; the unrounded figure is from ' +
      'https://cloudchipr.com/blog/aws-lambda-pricing.',
  },
  eventBridgeCustomEvent: {
    usd: 0.000001,
    per: '1 event (64 KB chunk)',
    source: 'https://aws.amazon.com/eventbridge/pricing/',
    note:
      '$1.00 per 1M custom events published with PutEvents to an event bus that routes with ' +
      'rules (AWS::Events::EventBus); count one event per EVENTBRIDGE_CHUNK_BYTES of payload. ' +
      'The AWS page states the chunk rule, but the figure was not visible on the retrieved copy; ' +
      'read from https://cloudburn.io/blog/amazon-eventbridge-pricing and ' +
      'https://blog.awsfundamentals.com/aws-eventbridge-pricing-guide.',
  },
  sqsStandardRequest: {
    usd: 0.0000004,
    per: '1 request (64 KB chunk)',
    source: 'https://aws.amazon.com/sqs/pricing/',
    note:
      '$0.40 per 1M requests, standard queue, first paid tier (1M to 100 billion requests a ' +
      'month). Every API call counts (send, receive including empty receives, delete), one per ' +
      'SQS_CHUNK_BYTES of payload. Figure not visible on a retrieved AWS page; read from ' +
      'https://cloudburn.io/blog/amazon-sqs-pricing and ' +
      'https://unanswered.io/guide/aws-sqs-pricing-and-cost-optimization.',
  },
  s3PutCopyPostList: {
    usd: 0.000005,
    per: '1 request',
    source: 'https://aws.amazon.com/s3/pricing/',
    note:
      '$0.005 per 1,000 PUT, COPY, POST or LIST requests, S3 Standard. Figure not visible on the ' +
      'retrieved copy of the AWS page; read from https://c3x.dev/blog/s3-request-fees-explained ' +
      'and ' +
      'https://devnotes.tech/understanding-aws-s3-pricing-a-complete-cost-breakdown-with-' +
      'examples.',
  },
  s3GetAndOther: {
    usd: 0.0000004,
    per: '1 request',
    source: 'https://aws.amazon.com/s3/pricing/',
    note:
      '$0.0004 per 1,000 GET, SELECT and all other requests, S3 Standard; HEAD falls in this ' +
      'class. Figure not visible on the retrieved copy of the AWS page; read from ' +
      'https://c3x.dev/blog/s3-request-fees-explained (which lists HEAD with GET) and ' +
      'https://devnotes.tech/understanding-aws-s3-pricing-a-complete-cost-breakdown-with-' +
      'examples.',
  },
  s3StandardGbMonth: {
    usd: 0.023,
    per: '1 GB-month',
    source: 'https://aws.amazon.com/s3/pricing/',
    note:
      '$0.023 per GB-month, S3 Standard, first 50 TB a month. The storage example in ' +
      'https://aws.amazon.com/s3/faqs/ converts byte-hours with 1 GB = 1,073,741,824 bytes. ' +
      'Figure not visible on the retrieved copy of the AWS pricing page; read from ' +
      'https://devnotes.tech/understanding-aws-s3-pricing-a-complete-cost-breakdown-with-' +
      'examples and http://my.globalxperts.net/?p=5330.',
  },
  dynamoDbWriteRequestUnit: {
    usd: 0.000000625,
    per: '1 write request unit',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    note:
      '$0.625 per million write request units, on-demand, Standard table class. A write of an ' +
      'item up to 1 KB is one unit, larger items one per KB started, on the larger of the item ' +
      'before and after; a failed conditional write is billed too (Amazon DynamoDB Developer ' +
      'Guide, "Capacity unit consumption for write operations"). Figure from the price ' +
      'reduction AWS announced for 2024-11-01 (halving $1.25); not visible on a retrieved copy ' +
      'of the AWS page.',
  },
  dynamoDbReadRequestUnit: {
    usd: 0.000000125,
    per: '1 read request unit',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    note:
      '$0.125 per million read request units, on-demand, Standard table class: one strongly ' +
      'consistent read of up to 4 KB, or two eventually consistent ones. Figure from the price ' +
      'reduction AWS announced for 2024-11-01 (halving $0.25); not visible on a retrieved copy ' +
      'of the AWS page.',
  },
  firehoseIngestionGb: {
    usd: 0.029,
    per: '1 GB ingested',
    source: 'https://aws.amazon.com/firehose/pricing/',
    note:
      '$0.029 per GB, Direct PUT (and EventBridge as a source), first 500 TB a month; each ' +
      'record is rounded up to the next 5 KB (the 5 KB rule also in ' +
      'https://www.shigemk2.com/entry/2022/01/12/210322, quoting the AWS page). Delivery to S3 ' +
      'adds nothing but the S3 PUT of each object. Figure not visible on a retrieved copy of ' +
      'the AWS page.',
  },
  cloudWatchLogsIngestionGb: {
    usd: 0.5,
    per: '1 GB',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
    note:
      '$0.50 per GB ingested, Standard log class. Since 2025-05-01 Lambda function logs are ' +
      'billed on a volume-tiered scale whose first tier is this same rate. Figure not visible on ' +
      'a retrieved AWS page; read from https://www.duckbillgroup.com/?p=9080 and ' +
      'https://hykell.com/knowledge-base/aws-cloudwatch-logs-pricing.',
  },
} as const satisfies Record<string, Price>;
