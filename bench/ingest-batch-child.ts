/**
 * Child process of figure 2 (bench/ingest.ts, `measureLargestBatch`): one
 * invocation of the real ingest handler on the Kinesis event in the file
 * named by the first argument, measured, reported to the parent over IPC
 * as a {@link BatchChildReport}.
 *
 * The parent bundles this file with the esbuild settings `serverless
 * package` uses (so the handler runs as the shipped bundle, minified, SDK
 * inlined) and runs it with plain `node` and the handler's environment
 * (bench/ingest.ts, CHILD_ENV). PutEvents is answered at once by replacing
 * the SDK's HTTP handler (`NodeHttpHandler.prototype.handle`, the same class
 * the handler's client uses, as both are in the one bundle): the request is
 * built, serialized and signed as in Lambda, and the response (every entry
 * accepted) is parsed by the SDK; only the network is left out.
 */
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { HttpRequest } from '@smithy/types';
import type { Context, KinesisStreamEvent } from 'aws-lambda';
import type { BatchChildReport } from './ingest';

const eventFile = process.argv[2];
if (!eventFile || !process.send) {
  throw new Error('usage: forked by bench/ingest.ts with the event file as its argument');
}

let putEventsCalls = 0;
let putEventsEntries = 0;

/** Entries in a PutEvents request body: outside its strings, each entry has exactly one `"EventBusName":` key. */
function countEntries(body: string): number {
  const key = '"EventBusName":';
  let count = 0;
  for (let index = body.indexOf(key); index !== -1; index = body.indexOf(key, index + 1)) count++;
  return count;
}

NodeHttpHandler.prototype.handle = async function handle(request: HttpRequest) {
  const target = request.headers['x-amz-target'] ?? request.headers['X-Amz-Target'];
  if (target !== 'AWSEvents.PutEvents') throw new Error(`unexpected request ${target}`);
  const entries = countEntries(String(request.body));
  putEventsCalls++;
  putEventsEntries += entries;
  const body = JSON.stringify({
    FailedEntryCount: 0,
    Entries: Array.from({ length: entries }, (_, index) => ({
      EventId: `6f1d0c7e-3a52-4b8e-9a7c-${String(putEventsCalls * 100 + index).padStart(12, '0')}`,
    })),
  });
  return {
    response: {
      statusCode: 200,
      reason: 'OK',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'content-length': String(Buffer.byteLength(body)),
        'x-amzn-requestid': `bench-${putEventsCalls}`,
      },
      body: Readable.from([Buffer.from(body)]),
    },
  };
};

const context: Context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'ctr-sync-bench-ingest',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:ctr-sync-bench-ingest',
  memoryLimitInMB: '256',
  awsRequestId: '0b6f3c8e-2d7a-4e51-9c3f-5a8d1e2b7c40',
  logGroupName: '/aws/lambda/ctr-sync-bench-ingest',
  logStreamName: '2026/01/01/[$LATEST]bench',
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

const { handler } = await import('../functions/ingest/handler');
const event = JSON.parse(readFileSync(eventFile, 'utf8')) as KinesisStreamEvent;

let heapUsedPeakBytes = 0;
const sampleHeap = () => {
  heapUsedPeakBytes = Math.max(heapUsedPeakBytes, process.memoryUsage().heapUsed);
};
const sampler = setInterval(sampleHeap, 1);
const rssBeforeBytes = process.memoryUsage().rss;

const start = performance.now();
const response = await handler(event, context);
const wallMs = performance.now() - start;

clearInterval(sampler);
sampleHeap();
const report: BatchChildReport = {
  wallMs,
  maxRssKb: process.resourceUsage().maxRSS,
  rssBeforeBytes,
  heapUsedPeakBytes,
  batchItemFailures: response.batchItemFailures.length,
  putEventsCalls,
  putEventsEntries,
};
process.send(report, () => process.disconnect());
