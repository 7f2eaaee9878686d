/**
 * `npm run bench`: the six figures of issue 5 and figure 7 (issue 11: the
 * sweep's queries to Salesforce) against their targets, one
 * table on stdout, and every figure with its raw numbers as JSON
 * (`bench-results.json`, or the path after `--out`).
 *
 * Figures 1, 2 and 5 run in this process and in child processes
 * (bench/ingest.ts, bench/cold-start.ts). Figures 3, 4 and 6 come from
 * end-to-end runs on the local stack (bench/end-to-end.ts), with the SCV
 * stand-in answering `updateVoiceCall` after TELEPHONY_LATENCY_MS:
 * - ctr-sync on 10,000 generated records (figure 3, and figure 6's headline);
 * - ctr-sync and the stock design on the same first 2,500 of them, one after
 *   the other (figures 4 and 6 side by side). The stock design invokes once
 *   per record in sequence, so 10,000 records would take it about four
 *   minutes; its rate per shard does not depend on the count;
 * - ctr-sync on those 2,500 spread apart (figure 4: versions of a contact
 *   minutes apart, as in production, rather than in one batch);
 * - the recipe's published code, which invokes a batch's records at once, on
 *   the same 2,500 (figure 6, for comparison).
 *
 * Benchmarks, not tests: nothing here runs in `npm test`.
 */
import { writeFile } from 'node:fs/promises';

// The functions target nodejs22.x; the SDK's warning about Node 20 would only clutter the output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
import { generateContactRecords } from '../local/input/generate';
import { measureColdStart } from './cold-start';
import { costPerMillion } from './cost';
import {
  canonicalJson,
  decodeContactRecord,
  decodeContactRecordWithText,
} from '../domain/contact-record';
import { evaluateSyncEligibility } from '../domain/eligibility';
import { compareContactRecordVersions } from '../domain/versions';
import type { InputRecord } from '../local/input/read';
import {
  type EndToEndRun,
  type PipelineRun,
  runPipeline,
  runStock,
  spreadDeliveries,
} from './end-to-end';
import type { FigureResult } from './figure';
import { measureIngestFloor, measureLargestBatch } from './ingest';
import { measureSweepQueries } from './sweep';
import { PRICE_REGION, PRICES, PRICES_COMPILED } from './prices';
import { itemSize } from '../local/dynamodb/server';

/** Milliseconds the SCV stand-in takes per `updateVoiceCall` (SCV's call to Salesforce). */
export const TELEPHONY_LATENCY_MS = 20;
/** Records of the ctr-sync end-to-end run (figure 3, figure 6). */
export const PIPELINE_RECORDS = 10_000;
/** Records of the side-by-side runs of both designs (figure 4, figure 6). */
export const SIDE_BY_SIDE_RECORDS = 2_500;
/** Seed of the generated input (local/input/generate.ts). */
export const SEED = 7;
/** Least distance, in records, between two deliveries of a contact in the spread input. */
export const SPREAD_GAP = 300;
/** Records per second the spread input is put at (`npm start -- --rate`). */
export const SPREAD_RATE = 250;

/**
 * From the input alone: eligible deliveries whose version is newer than every earlier
 * delivery of the same contact, in stream order (an upper bound on the versions a
 * design that never sends a duplicate or superseded version sends).
 */
export function newerVersionDeliveries(records: readonly InputRecord[]): number {
  const newest = new Map<string, string>();
  let count = 0;
  for (const record of records) {
    let contactRecord: ReturnType<typeof decodeContactRecord>;
    try {
      contactRecord = decodeContactRecord(record.data);
    } catch {
      continue;
    }
    if (!evaluateSyncEligibility(contactRecord).eligible) continue;
    const { ContactId, LastUpdateTimestamp } = contactRecord;
    const current = newest.get(ContactId);
    if (
      current === undefined ||
      compareContactRecordVersions({ LastUpdateTimestamp }, { LastUpdateTimestamp: current }) > 0
    ) {
      newest.set(ContactId, LastUpdateTimestamp);
      count++;
    }
  }
  return count;
}

const round = (value: number, digits = 2) => Number(value.toFixed(digits));
const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
const perRecord = (requests: Record<string, number>, records: number) =>
  Object.fromEntries(
    Object.entries(requests).map(([operation, count]) => [operation, round(count / records, 3)]),
  );

/** Figure 3: requests per record of the 10,000-record run. */
export function requestsFigure(
  run: PipelineRun,
  stock: EndToEndRun,
  newerVersions: number,
): FigureResult {
  const total = (prefix: string) =>
    sum(
      Object.entries(run.requests)
        .filter(([operation]) => operation.startsWith(prefix))
        .map(([, count]) => count),
    );
  const putEvents = run.requests['EventBridge.PutEvents'] ?? 0;
  const expectedPutEvents = sum(
    run.ingestInvocations.map((invocation) => Math.ceil(invocation.published / 10)),
  );
  const batchesOff = run.ingestInvocations.filter(
    (invocation) => invocation.putEventsRequests !== Math.ceil(invocation.published / 10),
  ).length;
  const s3PerRecord = total('S3.') / run.records;
  const sqsPerRecord = total('SQS.') / run.records;
  const ledgerWrites = run.requests['DynamoDB.UpdateItem'] ?? 0;
  const ledgerReads =
    (run.requests['DynamoDB.GetItem'] ?? 0) + (run.requests['DynamoDB.Query'] ?? 0);
  const updaterS3Writes =
    (run.updaterRequests['S3.PutObject'] ?? 0) + (run.updaterRequests['S3.HeadObject'] ?? 0);
  const checks = {
    putEventsExact: batchesOff === 0,
    // One updateVoiceCall per version the updater claimed, none for duplicates and superseded
    // deliveries, never more than the input's newer-version deliveries. Extra invokes are repairs
    // after two versions of a contact were sent at once.
    telephonyExact: run.telephonyInvokes === run.synced && run.synced <= newerVersions,
    // At most two ledger writes per new version (claim, mark sent) and one per delivery not
    // sent (a failed conditional write), and at most one read per new version.
    ledgerWrites: ledgerWrites <= 2 * run.synced + run.duplicate + run.superseded,
    ledgerReads: ledgerReads <= run.synced,
    // No S3 request on the sync path (the updater reads only records sent by reference).
    noS3OnSyncPath: updaterS3Writes === 0,
    sqs: sqsPerRecord <= 1.3,
  };
  return {
    id: 3,
    name: 'Requests per record',
    measured:
      `PutEvents ${putEvents} = ceil(published/10) ${expectedPutEvents} (${batchesOff} batches off); ` +
      `invokes ${run.telephonyInvokes} = ${run.synced} syncs + ` +
      `${run.telephonyInvokes - run.synced} repairs (counted: ${run.repaired}); of the syncs, ` +
      `${sum(Object.values(run.resent))} resent a claimed version (${formatCounts(run.resent)}) ` +
      `(input: ${newerVersions} newer-version ` +
      `deliveries; 0 for ${run.duplicate} duplicate, ${run.superseded} superseded; ` +
      `stock: ${stock.telephonyInvokes} for ${stock.records} records); ` +
      `DynamoDB ${round(ledgerWrites / Math.max(1, run.synced))} writes and ` +
      `${round(ledgerReads / Math.max(1, run.synced))} reads per new version ` +
      `(${ledgerWrites} writes, ${run.dynamoDb.failedConditionalWrites} failed conditions); ` +
      `updater S3 GET ${run.updaterRequests['S3.GetObject'] ?? 0} (references), PUT/HEAD ${updaterS3Writes}; ` +
      `S3 ${round(s3PerRecord)}/record; SQS ${round(sqsPerRecord)}/record`,
    target:
      'PutEvents = ceil(n/10) per batch; invokes = newer versions; DynamoDB ≤ 2 writes + 1 read per new version, 1 write per duplicate; no S3 on the sync path; SQS ≤ 1.3',
    pass: Object.values(checks).every(Boolean),
    details: {
      records: run.records,
      requests: run.requests,
      putEvents,
      expectedPutEvents,
      ingestBatches: run.ingestInvocations.length,
      ingestBatchesOff: batchesOff,
      telephonyInvokes: run.telephonyInvokes,
      versionsClaimed: run.synced,
      newerVersionDeliveriesInInput: newerVersions,
      duplicate: run.duplicate,
      superseded: run.superseded,
      published: run.published,
      s3PerRecord,
      sqsPerRecord,
      ledgerWrites,
      ledgerReads,
      dynamoDbCapacity: run.dynamoDb,
      updaterRequests: run.updaterRequests,
      telephonyInvokesPerNewVersion: run.telephonyInvokes / Math.max(1, run.synced),
      repairs: run.telephonyInvokes - run.synced,
      repairedCounted: run.repaired,
      resentByReason: run.resent,
      stockInvokesPerRecord: stock.telephonyInvokes / stock.records,
      checks,
      pipelineClean: run.clean,
    },
  };
}

/** `a 1, b 2` for `{ a: 1, b: 2 }`; `none` when empty. */
function formatCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0
    ? 'none'
    : entries.map(([key, value]) => `${key} ${value}`).join(', ');
}

/**
 * Figure 4: cost per million records, side by side on the same input: as generated (a
 * compressed replay, where versions of a contact often share a batch) and spread (two
 * deliveries of a contact at least SPREAD_GAP records apart, put at SPREAD_RATE records per
 * second), as Connect delivers them. The stock design's counts do not depend on the order. The
 * target is judged on the spread ratio; the ratio as generated is shown too.
 */
export function costFigure(
  ours: PipelineRun,
  spread: PipelineRun,
  stock: EndToEndRun,
  records: readonly InputRecord[],
): FigureResult {
  const ourCost = costPerMillion(ours);
  const spreadCost = costPerMillion(spread);
  const stockCost = costPerMillion(stock);
  const ratio = ourCost.total / stockCost.total;
  const spreadRatio = spreadCost.total / stockCost.total;
  return {
    id: 4,
    name: 'Cost per million records',
    measured:
      `$${round(ourCost.total)} (spread $${round(spreadCost.total)}) vs stock ` +
      `$${round(stockCost.total)}: ${round(ratio)}x (spread ${round(spreadRatio)}x)`,
    target: '≤ 0.6x (spread)',
    pass: spreadRatio <= 0.6,
    details: {
      records: ours.records,
      prices: { region: PRICE_REGION, compiled: PRICES_COMPILED },
      ctrSync: ourCost,
      ctrSyncSpread: spreadCost,
      stock: stockCost,
      ratio,
      spreadRatio,
      spreadGap: SPREAD_GAP,
      spreadRate: SPREAD_RATE,
      dynamoDb: { ctrSync: ours.dynamoDb, ctrSyncSpread: spread.dynamoDb },
      ledgerStorageOptions: ledgerStorageOptions(records, spread.synced / spread.records),
      firehose: { ctrSync: ours.firehose, ctrSyncSpread: spread.firehose },
      requestsPerRecord: {
        ctrSync: perRecord(ours.requests, ours.records),
        ctrSyncSpread: perRecord(spread.requests, spread.records),
        stock: perRecord(stock.requests, stock.records),
      },
    },
  };
}

/**
 * Where the record lives, the cost decision of the sync ledger: DynamoDB write units per new
 * version, and USD per million records at the run's new versions per record, for
 * - `inClaimItem`: the record inside the ledger item (the claim and the mark-sent each write an
 *   item of the record's size, and so does every later write to the item);
 * - `separateItem`: the record written once per version as an item of its own, beside a small
 *   claim item (claim and mark-sent);
 * - `archiveOnly` (chosen): the record only in the Firehose archive (and in the ledger only
 *   while a send failed), the claim item under 1 KB: claim and mark-sent, one unit each.
 * Item sizes by DynamoDB's rules (local/dynamodb/server.ts itemSize) on the input's valid voice
 * records; a ledger item as the adapter writes it.
 */
export function ledgerStorageOptions(
  records: readonly InputRecord[],
  newVersionsPerRecord: number,
): Record<string, { writeUnitsPerNewVersion: number; usdPerMillionRecords: number }> {
  const version = '2026-11-13T02:57:25.000Z#4ddde4b1e2864d6a';
  const baseItem = {
    contactId: { S: '8d2c6192-5a76-47b2-9f41-2190210e1a79' },
    claimed: { S: version },
    claimedBy: { S: 'c9a8b7d6-1234-4f5e-9abc-0123456789ab' },
    claimedAt: { N: '1764627445000' },
    receivedAt: { N: '1764627444000' },
    sent: { S: version },
    sentAt: { N: '1764627446000' },
    expiresAt: { N: '1827699446' },
  };
  const base = itemSize(baseItem);
  const units = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
  const sizes: number[] = [];
  for (const record of records) {
    try {
      const { json } = decodeContactRecordWithText(record.data);
      sizes.push(Buffer.byteLength(canonicalJson(json)) + 'record'.length);
    } catch {
      // Malformed records are never claimed.
    }
  }
  const mean = (values: number[]) => sum(values) / Math.max(1, values.length);
  const perVersion = {
    inClaimItem: mean(sizes.map((size) => 2 * units(base + size))),
    separateItem: mean(sizes.map((size) => units(size + 50) + 2 * units(base))),
    archiveOnly: 2 * units(base),
  };
  return Object.fromEntries(
    Object.entries(perVersion).map(([name, writeUnits]) => [
      name,
      {
        writeUnitsPerNewVersion: round(writeUnits, 2),
        usdPerMillionRecords: round(
          writeUnits * newVersionsPerRecord * 1_000_000 * PRICES.dynamoDbWriteRequestUnit.usd,
          3,
        ),
      },
    ]),
  );
}

/** Figure 6: end to end, ctr-sync on 10,000 records, and both designs on the same input. */
export function endToEndFigure(
  headline: PipelineRun,
  ours: PipelineRun,
  stock: EndToEndRun,
  stockBatch: EndToEndRun,
): FigureResult {
  const view = (run: EndToEndRun) => ({
    records: run.records,
    seconds: round(run.seconds),
    recordsPerSecond: round(run.recordsPerSecond, 1),
    latencyMs: run.latencyMs,
  });
  return {
    id: 6,
    name: 'End to end (1 shard)',
    measured:
      `${headline.records} records: ${round(headline.recordsPerSecond, 1)} rec/s, ` +
      `p50 ${round(headline.latencyMs.p50 / 1000, 1)} s, p99 ${round(headline.latencyMs.p99 / 1000, 1)} s; ` +
      `same ${ours.records}: ${round(ours.recordsPerSecond, 1)} vs stock ` +
      `${round(stock.recordsPerSecond, 1)} rec/s (p50 ${round(ours.latencyMs.p50 / 1000, 1)} ` +
      `vs ${round(stock.latencyMs.p50 / 1000, 1)} s; recipe code, batch at once: ` +
      `${round(stockBatch.recordsPerSecond, 1)} rec/s)`,
    target: 'more rec/s per shard than stock',
    pass: ours.recordsPerSecond > stock.recordsPerSecond,
    details: {
      telephonyLatencyMs: headline.telephonyLatencyMs,
      ctrSync: view(headline),
      sideBySide: { ctrSync: view(ours), stock: view(stock), stockBatchAtOnce: view(stockBatch) },
    },
  };
}

function printTable(figures: readonly FigureResult[]): void {
  const rows = figures.map((figure) => [
    String(figure.id),
    figure.name,
    figure.measured,
    figure.target,
    figure.pass ? 'pass' : 'MISS',
  ]);
  const header = ['#', 'figure', 'measured', 'target', 'result'];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  console.log(line(header));
  console.log(line(widths.map((width) => '-'.repeat(width))));
  for (const row of rows) console.log(line(row));
}

async function main(): Promise<void> {
  const outIndex = process.argv.indexOf('--out');
  const out = outIndex >= 0 ? process.argv[outIndex + 1] : 'bench-results.json';
  if (!out) throw new Error('--out needs a path');
  const started = Date.now();
  const progress = (message: string) =>
    process.stderr.write(`[${Math.round((Date.now() - started) / 1000)} s] ${message}\n`);

  progress('figure 1: ingest CPU per record vs the floor');
  const floor = await measureIngestFloor();
  progress('figure 2: largest batch');
  const batch = await measureLargestBatch();
  progress('figure 5: cold start');
  const coldStart = await measureColdStart();
  progress("figure 7: the scheduled sweep's queries to Salesforce");
  const sweepQueries = await measureSweepQueries();

  const records = generateContactRecords({ count: PIPELINE_RECORDS, seed: SEED });
  const latency = { telephonyLatencyMs: TELEPHONY_LATENCY_MS };
  progress(`figures 3 and 6: ctr-sync, ${records.length} records`);
  const headline = await runPipeline(records, latency);
  const sameInput = records.slice(0, SIDE_BY_SIDE_RECORDS);
  progress(`figures 4 and 6: ctr-sync, ${sameInput.length} records`);
  const ours = await runPipeline(sameInput, latency);
  progress(`figure 4: ctr-sync, the same ${sameInput.length} records spread apart`);
  const spread = await runPipeline(spreadDeliveries(sameInput, SPREAD_GAP), {
    ...latency,
    rate: SPREAD_RATE,
  });
  progress(`figures 4 and 6: stock design, the same ${sameInput.length} records`);
  const stock = await runStock(sameInput, latency);
  progress(`figure 6: stock design, the recipe's code (a batch at once), the same records`);
  const stockBatch = await runStock(sameInput, { ...latency, concurrency: 'batch' });

  const figures = [
    floor,
    batch,
    requestsFigure(headline, stock, newerVersionDeliveries(records)),
    costFigure(ours, spread, stock, sameInput),
    coldStart,
    endToEndFigure(headline, ours, stock, stockBatch),
    sweepQueries,
  ].sort((a, b) => a.id - b.id);
  printTable(figures);
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    telephonyLatencyMs: TELEPHONY_LATENCY_MS,
    seed: SEED,
    seconds: Math.round((Date.now() - started) / 1000),
    figures,
  };
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  progress(`figures written to ${out}`);
}

await main();
