/**
 * The cost model of `npm run bench` (bench/cost.ts) on a hand-made run whose
 * cost is worked out below from the price table.
 */
import { describe, expect, it } from 'vitest';
import { costPerMillion, MEMORY_GB } from '../../bench/cost';
import type { EndToEndRun } from '../../bench/end-to-end';
import { PRICES } from '../../bench/prices';

const run: EndToEndRun & { published: number } = {
  design: 'ctr-sync',
  records: 1_000,
  telephonyLatencyMs: 20,
  seconds: 10,
  recordsPerSecond: 100,
  latencyMs: { p50: 1, p99: 2, contacts: 1 },
  requests: {
    'S3.HeadObject': 900,
    'S3.PutObject': 400,
    'S3.GetObject': 10,
    'SQS.SendMessage': 500,
    'SQS.ReceiveMessage': 60,
    'EventBridge.PutEvents': 50,
    'Lambda.Invoke': 400,
  },
  telephonyInvokes: 400,
  // Two invocations billed 101 ms and 50 ms.
  durationsMs: { ingest: [100.2], updater: [49.5] },
  logBytes: { ingest: 1024 ** 3 / 1000 },
  published: 500,
};

describe('costPerMillion', () => {
  it('prices each billed dimension per million records', () => {
    const cost = costPerMillion(run);
    const perMillion = 1_000;

    expect(cost.lambdaRequests).toBeCloseTo((2 + 400) * PRICES.lambdaRequest.usd * perMillion);
    expect(cost.lambdaDuration).toBeCloseTo(
      ((101 + 50) / 1000 + (400 * 20) / 1000) *
        MEMORY_GB *
        PRICES.lambdaGbSecondArm64.usd *
        perMillion,
    );
    expect(cost.eventBridge).toBeCloseTo(500 * PRICES.eventBridgeCustomEvent.usd * perMillion);
    expect(cost.sqs).toBeCloseTo(560 * PRICES.sqsStandardRequest.usd * perMillion);
    expect(cost.s3).toBeCloseTo(
      (400 * PRICES.s3PutCopyPostList.usd + 910 * PRICES.s3GetAndOther.usd) * perMillion,
    );
    expect(cost.cloudWatchLogs).toBeCloseTo(PRICES.cloudWatchLogsIngestionGb.usd);
    expect(cost.total).toBeCloseTo(
      cost.lambdaRequests +
        cost.lambdaDuration +
        cost.eventBridge +
        cost.sqs +
        cost.s3 +
        cost.cloudWatchLogs,
    );
  });
});
