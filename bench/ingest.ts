/**
 * Figures 1 and 2 of `npm run bench` (issue 5): the ingest function's CPU
 * per record against a floor, and its largest batch.
 *
 * Both run on contact records built from the real samples
 * (test/fixtures/ctr/*.json, the list fixture's six records included, 20 in
 * all), cycled, each copy with its own ContactId and LastUpdateTimestamp and
 * written as Connect writes them to Kinesis: compact JSON, UTF-8. Four of the
 * 20 samples are skipped by eligibility (chat, task, voicemail, NoSync), so
 * 80% of the records are published.
 *
 * Run alone with `npx tsx bench/ingest.ts` (prints both figures as JSON).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { KinesisStreamRecord } from 'aws-lambda';
import { build } from 'esbuild';
import { parseContactRecord } from '../domain/contact-record';
import { evaluateSyncEligibility } from '../domain/eligibility';
import { BUNDLE_OPTIONS } from '../local/lambda/runtime';
import { kinesisRecord } from '../test/fixtures/events';
import { type FigureResult, median } from './figure';

/** Records per measurement: the largest batch a Kinesis event source mapping delivers (BatchSize 10,000). */
export const BENCH_RECORD_COUNT = 10_000;

/** The ingest function's memorySize in serverless.yml, in MB. */
const MEMORY_SIZE_MB = 256;
/** The ingest function's timeout (the provider's, serverless.yml), in ms. */
const TIMEOUT_MS = 30_000;
/** Largest invocation payload Lambda delivers (synchronous invocations, event source mappings), in bytes. */
const MAX_INVOCATION_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** Environment the ingest handler reads at import, with placeholders (the bench never reaches AWS). */
const HANDLER_ENV: Readonly<Record<string, string>> = {
  AWS_REGION: 'us-east-1',
  EVENT_BUS_NAME: 'ctr-sync-bench',
  ARCHIVE_BUCKET_NAME: 'ctr-sync-bench-archive',
};

/**
 * The whole environment of figure 2's child, nothing inherited: the
 * handler's, static placeholder credentials (so the SDK signs without
 * probing for others) and Powertools logging at INFO, as deployed.
 */
const CHILD_ENV: Readonly<Record<string, string>> = {
  ...HANDLER_ENV,
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  POWERTOOLS_SERVICE_NAME: 'ingest',
  POWERTOOLS_LOG_LEVEL: 'INFO',
};

type JsonObject = Record<string, unknown>;

/** The 20 sample records, in file order (the list fixture's records in its order). */
function loadSamples(): JsonObject[] {
  const folder = new URL('../test/fixtures/ctr/', import.meta.url);
  return readdirSync(folder)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .flatMap((name) => {
      const value: unknown = JSON.parse(readFileSync(new URL(name, folder), 'utf8'));
      return (Array.isArray(value) ? value : [value]) as JsonObject[];
    });
}

/** A distinct, UUID-shaped ContactId for record `index`. */
function contactIdOf(index: number): string {
  return `b3c0a5e2-7d41-4c9e-9f10-${index.toString(16).padStart(12, '0')}`;
}

/** A distinct LastUpdateTimestamp (whole seconds, as Connect writes it) for record `index`. */
function timestampOf(index: number): string {
  return new Date(Date.UTC(2026, 0, 1) + index * 1000).toISOString().replace('.000Z', 'Z');
}

/** The bench's contact records: what they are and how many ingest would publish. */
export interface BenchRecords {
  /** Each record's bytes as Connect puts them on Kinesis (compact JSON, UTF-8). */
  data: Buffer[];
  /** How many of them ingest publishes (voice records; see {@link ingestPublishes}). */
  eligible: number;
  /** Whether ingest publishes each record, in the order of `data`. */
  eligibleFlags: boolean[];
  /** Sum of `data` lengths, bytes. */
  bytes: number;
}

/**
 * Whether ingest publishes a valid record: every VOICE record (one skipped on
 * purpose too, so the updater records its reason in the sync ledger), none of
 * another channel.
 */
function ingestPublishes(record: Parameters<typeof evaluateSyncEligibility>[0]): boolean {
  const eligibility = evaluateSyncEligibility(record);
  return eligibility.eligible || eligibility.reason !== 'channel-not-voice';
}

/**
 * `count` contact records cycling through the real samples, each with its
 * own ContactId and LastUpdateTimestamp (other fields and key order as in the
 * sample). With `eligibleOnly`, only the samples ingest publishes (voice records) are used.
 * The same arguments give the same bytes.
 */
export function benchContactRecords(
  count: number,
  options: { eligibleOnly?: boolean } = {},
): BenchRecords {
  const samples = loadSamples().filter(
    (sample) => !options.eligibleOnly || ingestPublishes(parseContactRecord(sample)),
  );
  const eligibleSample = samples.map((sample) => ingestPublishes(parseContactRecord(sample)));
  const data: Buffer[] = [];
  const eligibleFlags: boolean[] = [];
  let eligible = 0;
  let bytes = 0;
  for (let index = 0; index < count; index++) {
    const sample = index % samples.length;
    const record = {
      ...samples[sample],
      ContactId: contactIdOf(index),
      LastUpdateTimestamp: timestampOf(index),
    };
    const bytesOfRecord = Buffer.from(JSON.stringify(record), 'utf8');
    data.push(bytesOfRecord);
    bytes += bytesOfRecord.byteLength;
    const isEligible = eligibleSample[sample] === true;
    eligibleFlags.push(isEligible);
    if (isEligible) eligible++;
  }
  return { data, eligible, eligibleFlags, bytes };
}

/** Set the handler's environment where it is not set yet (bench/run.ts may share the process). */
function applyHandlerEnv(): void {
  for (const [name, value] of Object.entries(HANDLER_ENV)) process.env[name] ??= value;
}

/** Outcome of {@link compareWithFloor}: per-run and median nanoseconds per record. */
interface FloorComparison {
  pathNsPerRecordRuns: number[];
  floorNsPerRecordRuns: number[];
  serializedPathNsPerRecordRuns: number[];
  medianPathNsPerRecord: number;
  medianFloorNsPerRecord: number;
  /** The path plus `JSON.stringify` of each entry it builds, as the SDK's request serialization does. */
  medianSerializedPathNsPerRecord: number;
  /** medianPathNsPerRecord / medianFloorNsPerRecord. */
  ratio: number;
  /** Median over runs of that run's path / floor. */
  medianPairedRatio: number;
  /** medianSerializedPathNsPerRecord / medianFloorNsPerRecord: both serialize the event. */
  serializedRatio: number;
  /** What the path decided, over one pass of the records. */
  decisions: Record<string, number>;
  /** Characters each variant produced in a pass (event JSON, Detail text; 1 per skipped record). */
  outputCharsPerPass: { floor: number; path: number; serializedPath: number };
}

async function compareWithFloor(
  base64: readonly string[],
  runs: number,
  warmupRuns: number,
): Promise<FloorComparison> {
  applyHandlerEnv();
  const { toCtrReceivedEntry } = await import('../functions/ingest/handler');
  const source = 'ctr-sync';
  const detailType = 'CtrReceived';

  // What each variant produced in its last pass: used, so it cannot be optimized away.
  const outputChars = new Map<(base64Data: string) => number, number>();
  /** One timed pass of `perRecord` over every record, in ns per record. */
  const pass = (perRecord: (base64Data: string) => number): number => {
    const start = process.hrtime.bigint();
    let total = 0;
    for (const text of base64) total += perRecord(text);
    const elapsed = Number(process.hrtime.bigint() - start);
    outputChars.set(perRecord, total);
    return elapsed / base64.length;
  };
  // As the handler does (decideBatch): one processing time per batch, not a clock read per record.
  const clock = { nowMs: Date.now(), toleranceMs: 15 * 60_000 };
  const path = (text: string): number => {
    const decision = toCtrReceivedEntry(Buffer.from(text, 'base64'), clock);
    return decision.action === 'publish' ? decision.entry.Detail.length : 1;
  };
  const serializedPath = (text: string): number => {
    const decision = toCtrReceivedEntry(Buffer.from(text, 'base64'), clock);
    return decision.action === 'publish' ? JSON.stringify(decision.entry).length : 1;
  };
  const floor = (text: string): number => {
    const parsed = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
    return JSON.stringify({
      Source: source,
      DetailType: detailType,
      Detail: JSON.stringify({
        schemaVersion: '1',
        contactId: parsed.ContactId,
        lastUpdateTimestamp: parsed.LastUpdateTimestamp,
        contactRecord: parsed,
      }),
    }).length;
  };

  const measured = [floor, path, serializedPath];
  for (let run = 0; run < warmupRuns; run++) for (const perRecord of measured) pass(perRecord);
  const runsOf = measured.map((): number[] => []);
  for (let run = 0; run < runs; run++) {
    // Rotate which goes first, so none always runs after another's garbage.
    for (let offset = 0; offset < measured.length; offset++) {
      const index = (run + offset) % measured.length;
      runsOf[index]?.push(pass(measured[index] as (text: string) => number));
    }
  }
  const [floorRuns, pathRuns, serializedRuns] = runsOf as [number[], number[], number[]];

  const decisions: Record<string, number> = {};
  for (const text of base64) {
    const { action } = toCtrReceivedEntry(Buffer.from(text, 'base64'), clock);
    decisions[action] = (decisions[action] ?? 0) + 1;
  }
  const medianPathNsPerRecord = median(pathRuns);
  const medianFloorNsPerRecord = median(floorRuns);
  const medianSerializedPathNsPerRecord = median(serializedRuns);
  return {
    pathNsPerRecordRuns: pathRuns.map(Math.round),
    floorNsPerRecordRuns: floorRuns.map(Math.round),
    serializedPathNsPerRecordRuns: serializedRuns.map(Math.round),
    medianPathNsPerRecord,
    medianFloorNsPerRecord,
    medianSerializedPathNsPerRecord,
    ratio: medianPathNsPerRecord / medianFloorNsPerRecord,
    medianPairedRatio: median(pathRuns.map((ns, index) => ns / (floorRuns[index] as number))),
    serializedRatio: medianSerializedPathNsPerRecord / medianFloorNsPerRecord,
    decisions,
    outputCharsPerPass: {
      floor: outputChars.get(floor) ?? 0,
      path: outputChars.get(path) ?? 0,
      serializedPath: outputChars.get(serializedPath) ?? 0,
    },
  };
}

const round = (value: number, digits = 0) => Number(value.toFixed(digits));

/**
 * Figure 1: ingest CPU per record against the floor.
 *
 * The path is what runs in Lambda for each record, `toCtrReceivedEntry` of
 * functions/ingest/handler.ts (which `decideBatch` calls per record) after the base64
 * decode `decideBatch` does: strict UTF-8, JSON parse, structure and schema
 * checks, eligibility, the `CtrReceived` entry (Source, DetailType, Detail
 * text) and the by-reference check. Skipped records end at eligibility.
 *
 * The floor is, per record: `Buffer.from(data, 'base64').toString('utf8')`,
 * `JSON.parse` of that, and
 * `JSON.stringify({ Source, DetailType, Detail: JSON.stringify({ schemaVersion, contactId, lastUpdateTimestamp, contactRecord: parsed }) })`,
 * for every record (also those the path skips).
 *
 * The floor's outer `JSON.stringify` has no counterpart in the path (the
 * SDK serializes the entry later, as it would the floor's), so a third
 * variant, the path plus `JSON.stringify(entry)` of each published entry, is
 * timed too (`serializedRatio`): both sides then serialize the event.
 *
 * All run over the same 10,000 base64 records in the same process: a few
 * warm-up passes, then `runs` passes of each, interleaved (which goes first
 * rotates). A pass is timed with `process.hrtime` (wall clock of a
 * single-threaded, CPU-bound loop) and divided by the record count. The same
 * comparison is also made on the 16 eligible samples only
 * (`details.eligibleOnly`), where the path does all its work on every record.
 *
 * @param options.runs - timed passes of each (default 21).
 * @returns figure 1; `details` holds `medianPathNsPerRecord`,
 *   `medianFloorNsPerRecord`, `medianSerializedPathNsPerRecord` (ns per
 *   record), `ratio` (path / floor of the medians), `medianPairedRatio`
 *   (median of the per-run ratios), `serializedRatio`, the per-run ns per
 *   record, the decisions and the same for `eligibleOnly`. Passes when
 *   `ratio` ≤ 1.0.
 */
export async function measureIngestFloor(options: { runs?: number } = {}): Promise<FigureResult> {
  const runs = options.runs ?? 21;
  const warmupRuns = 5;
  const mixed = benchContactRecords(BENCH_RECORD_COUNT);
  const eligibleOnly = benchContactRecords(BENCH_RECORD_COUNT, { eligibleOnly: true });
  const all = await compareWithFloor(
    mixed.data.map((data) => data.toString('base64')),
    runs,
    warmupRuns,
  );
  const eligible = await compareWithFloor(
    eligibleOnly.data.map((data) => data.toString('base64')),
    runs,
    warmupRuns,
  );
  const us = (ns: number) => (ns / 1000).toFixed(2);
  return {
    id: 1,
    name: 'Ingest CPU per record vs floor',
    measured:
      `${us(all.medianPathNsPerRecord)} µs vs ${us(all.medianFloorNsPerRecord)} µs floor: ` +
      `${all.ratio.toFixed(2)}x (eligible only ${eligible.ratio.toFixed(2)}x; ` +
      `entry serialized ${all.serializedRatio.toFixed(2)}x)`,
    target: '≤ 1.0x',
    pass: all.ratio <= 1,
    details: {
      records: BENCH_RECORD_COUNT,
      meanBytesPerRecord: round(mixed.bytes / BENCH_RECORD_COUNT),
      runs,
      warmupRuns,
      floor:
        "Buffer.from(data, 'base64').toString('utf8'), JSON.parse, JSON.stringify({ Source, DetailType, Detail: JSON.stringify({ schemaVersion, contactId, lastUpdateTimestamp, contactRecord }) })",
      ...roundComparison(all),
      eligibleOnly: {
        meanBytesPerRecord: round(eligibleOnly.bytes / BENCH_RECORD_COUNT),
        ...roundComparison(eligible),
      },
      nodeVersion: process.version,
    },
  };
}

function roundComparison(comparison: FloorComparison) {
  return {
    ...comparison,
    medianPathNsPerRecord: round(comparison.medianPathNsPerRecord),
    medianFloorNsPerRecord: round(comparison.medianFloorNsPerRecord),
    medianSerializedPathNsPerRecord: round(comparison.medianSerializedPathNsPerRecord),
    ratio: round(comparison.ratio, 3),
    medianPairedRatio: round(comparison.medianPairedRatio, 3),
    serializedRatio: round(comparison.serializedRatio, 3),
  };
}

/** What bench/ingest-batch-child.ts reports over IPC after its one invocation. */
export interface BatchChildReport {
  /** Wall time of the handler invocation, ms. */
  wallMs: number;
  /** `process.resourceUsage().maxRSS` after the invocation, KB (the process's whole life). */
  maxRssKb: number;
  /** RSS just before the invocation (handler imported, event parsed), bytes. */
  rssBeforeBytes: number;
  /** Largest `heapUsed` seen by a 1 ms sampler and at the end (a lower bound of the peak), bytes. */
  heapUsedPeakBytes: number;
  /** `batchItemFailures` of the handler's response. */
  batchItemFailures: number;
  /** PutEvents requests the stub answered. */
  putEventsCalls: number;
  /** Entries in those requests. */
  putEventsEntries: number;
}

/** Bundle bench/ingest-batch-child.ts (and with it the handler) as `serverless package` bundles functions. */
async function bundleBatchChild(outFile: string): Promise<void> {
  await build({
    ...BUNDLE_OPTIONS,
    entryPoints: [fileURLToPath(new URL('./ingest-batch-child.ts', import.meta.url))],
    outfile: outFile,
    logLevel: 'error',
  });
}

/** Run the bundled child once on `eventFile`; its stdout (the function's log lines and EMF) is counted, not kept. */
function runBatchChild(
  bundle: string,
  eventFile: string,
): Promise<BatchChildReport & { stdoutBytes: number; stdoutLines: number }> {
  const child = fork(bundle, [eventFile], {
    execArgv: [],
    env: { ...CHILD_ENV },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let stdoutBytes = 0;
  let stdoutLines = 0;
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdoutBytes += chunk.byteLength;
    for (let index = chunk.indexOf(10); index !== -1; index = chunk.indexOf(10, index + 1)) {
      stdoutLines++;
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    let report: BatchChildReport | undefined;
    child.on('message', (message) => {
      report = message as BatchChildReport;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0 && report) resolve({ ...report, stdoutBytes, stdoutLines });
      else reject(new Error(`ingest batch child exited with ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

/** Kinesis records carrying `data`, as the event source mapping delivers them. */
function kinesisRecordsOf(data: readonly Buffer[]): KinesisStreamRecord[] {
  const base = 49590338271490256608559692538361571095921575989136588n;
  return data.map((bytes, index) =>
    kinesisRecord(bytes, {
      sequenceNumber: String(base + BigInt(index)),
      partitionKey: contactIdOf(index),
      approximateArrivalTimestamp: 1_767_225_600 + index / 1000,
    }),
  );
}

/** Medians and checks of one batch, over `runs` child processes. */
interface BatchMeasurement {
  records: number;
  eligibleRecords: number;
  recordDataBytes: number;
  eventJsonBytes: number;
  medianWallMs: number;
  medianMaxRssMb: number;
  medianHeapUsedPeakMb: number;
  medianRssBeforeInvocationMb: number;
  wallMsRuns: number[];
  maxRssMbRuns: number[];
  heapUsedPeakMbRuns: number[];
  putEventsCalls: number[];
  putEventsEntries: number[];
  stdoutBytes: number[];
  stdoutLines: number[];
  checks: {
    noBatchItemFailures: boolean;
    everyEligibleRecordPublished: boolean;
    putEventsCallsAreCeilPublishedOverTen: boolean;
  };
}

async function measureBatch(
  bundle: string,
  eventFile: string,
  records: Kinesisable,
  runs: number,
): Promise<BatchMeasurement> {
  const eventJson = `{"Records":[${records.json.join(',')}]}`;
  writeFileSync(eventFile, eventJson);
  const reports: Awaited<ReturnType<typeof runBatchChild>>[] = [];
  for (let run = 0; run < runs; run++) reports.push(await runBatchChild(bundle, eventFile));
  const mb = (bytes: number) => bytes / (1024 * 1024);
  const wallMs = reports.map((report) => report.wallMs);
  const maxRssMb = reports.map((report) => report.maxRssKb / 1024);
  const heapUsedPeakMb = reports.map((report) => mb(report.heapUsedPeakBytes));
  return {
    records: records.json.length,
    eligibleRecords: records.eligible,
    recordDataBytes: records.bytes,
    eventJsonBytes: Buffer.byteLength(eventJson),
    medianWallMs: round(median(wallMs), 1),
    medianMaxRssMb: round(median(maxRssMb), 1),
    medianHeapUsedPeakMb: round(median(heapUsedPeakMb), 1),
    medianRssBeforeInvocationMb: round(
      median(reports.map((report) => mb(report.rssBeforeBytes))),
      1,
    ),
    wallMsRuns: wallMs.map((value) => round(value, 1)),
    maxRssMbRuns: maxRssMb.map((value) => round(value, 1)),
    heapUsedPeakMbRuns: heapUsedPeakMb.map((value) => round(value, 1)),
    putEventsCalls: reports.map((report) => report.putEventsCalls),
    putEventsEntries: reports.map((report) => report.putEventsEntries),
    stdoutBytes: reports.map((report) => report.stdoutBytes),
    stdoutLines: reports.map((report) => report.stdoutLines),
    checks: {
      noBatchItemFailures: reports.every((report) => report.batchItemFailures === 0),
      everyEligibleRecordPublished: reports.every(
        (report) => report.putEventsEntries === records.eligible,
      ),
      putEventsCallsAreCeilPublishedOverTen: reports.every(
        (report) => report.putEventsCalls === Math.ceil(report.putEventsEntries / 10),
      ),
    },
  };
}

/** Kinesis records as event JSON (one string each), with what {@link BenchRecords} says of them. */
interface Kinesisable {
  json: string[];
  eligible: number;
  bytes: number;
}

/** The first of `records` (as `all`) whose event stays within Lambda's 6 MB payload. */
function withinPayloadLimit(all: Kinesisable, records: BenchRecords): Kinesisable {
  let size = '{"Records":[]}'.length;
  let count = 0;
  for (const json of all.json) {
    size += (count > 0 ? 1 : 0) + Buffer.byteLength(json);
    if (size > MAX_INVOCATION_PAYLOAD_BYTES) break;
    count++;
  }
  return {
    json: all.json.slice(0, count),
    eligible: records.eligibleFlags.slice(0, count).filter(Boolean).length,
    bytes: records.data.slice(0, count).reduce((sum, data) => sum + data.byteLength, 0),
  };
}

/**
 * Figure 2: the largest batch.
 *
 * The real ingest handler (`handler` of functions/ingest/handler.ts, with
 * Powertools logging at INFO as deployed) on one Kinesis event of 10,000
 * contact records (the maximum BatchSize), each run in a fresh child process
 * running bench/ingest-batch-child.ts bundled with the esbuild settings of
 * `serverless package` (plain `node`, no tsx), which reads the event from a
 * file and parses it, as the Lambda runtime does with the invocation
 * payload. PutEvents is answered at once, every entry accepted, by a stub in
 * place of the SDK's HTTP handler, so building, serializing and signing the
 * requests and parsing the responses still run. The child's stdout (log
 * lines and EMF) is counted and discarded.
 *
 * The records are real-sized (2.5 KB on average): the event is about 39 MB
 * of JSON, six times the 6 MB payload Lambda delivers (6 MiB taken here), so
 * 10,000 records of this size never arrive in one batch; the figure is an
 * upper bound of the real largest batch in records and bytes. The largest
 * batch Lambda can deliver of these records (about 1,600 of them in 6 MB) is
 * measured the same way and reported in `details.payloadLimitBatch`.
 *
 * Measures, per run: the invocation's wall time (ms, the handler call only,
 * after the import and the event parse) and the child's `maxRSS` (MB, its
 * whole life: Node, the bundle, the event, the invocation), plus a sampled
 * `heapUsed` peak (a lower bound: the sampler cannot run while records are
 * processed synchronously). Checks that no record failed, that the stub saw
 * one entry per eligible record, and that the PutEvents calls were
 * ceil(published / 10).
 *
 * @param options.runs - child processes per batch (default 5).
 * @returns figure 2; `details` holds `medianWallMs`, `medianMaxRssMb`,
 *   `medianHeapUsedPeakMb`, `medianRssBeforeInvocationMb`, the per-run
 *   values, the event size, the PutEvents calls and entries, the stdout
 *   bytes and lines, the checks and `payloadLimitBatch` (the same for the
 *   6 MB batch). Passes when the 10,000-record batch's median maxRSS ≤ 256 MB
 *   (memorySize), its median wall time ≤ 3,000 ms (a tenth of the 30 s
 *   timeout) and the checks of both batches hold.
 */
export async function measureLargestBatch(options: { runs?: number } = {}): Promise<FigureResult> {
  const runs = options.runs ?? 5;
  const records = benchContactRecords(BENCH_RECORD_COUNT);
  const all: Kinesisable = {
    json: kinesisRecordsOf(records.data).map((record) => JSON.stringify(record)),
    eligible: records.eligible,
    bytes: records.bytes,
  };
  const folder = mkdtempSync(join(tmpdir(), 'ctr-sync-bench-'));
  const eventFile = join(folder, 'event.json');
  const bundle = join(folder, 'ingest-batch-child.mjs');
  let largest: BatchMeasurement;
  let payloadLimit: BatchMeasurement;
  try {
    await bundleBatchChild(bundle);
    largest = await measureBatch(bundle, eventFile, all, runs);
    payloadLimit = await measureBatch(bundle, eventFile, withinPayloadLimit(all, records), runs);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }

  const targetWallMs = TIMEOUT_MS / 10;
  return {
    id: 2,
    name: 'Largest batch (10,000 records)',
    measured:
      `${largest.medianWallMs.toFixed(0)} ms, ${largest.medianMaxRssMb.toFixed(0)} MB max RSS ` +
      `(${(largest.eventJsonBytes / 1e6).toFixed(0)} MB event; 6 MB event of ` +
      `${payloadLimit.records}: ${payloadLimit.medianWallMs.toFixed(0)} ms, ` +
      `${payloadLimit.medianMaxRssMb.toFixed(0)} MB)`,
    target: `≤ ${targetWallMs} ms, ≤ ${MEMORY_SIZE_MB} MB`,
    pass:
      largest.medianWallMs <= targetWallMs &&
      largest.medianMaxRssMb <= MEMORY_SIZE_MB &&
      Object.values(largest.checks).every(Boolean) &&
      Object.values(payloadLimit.checks).every(Boolean),
    details: {
      runs,
      ...largest,
      eventJsonOverLambdaPayloadLimit: round(
        largest.eventJsonBytes / MAX_INVOCATION_PAYLOAD_BYTES,
        2,
      ),
      payloadLimitBatch: payloadLimit,
      memorySizeMb: MEMORY_SIZE_MB,
      targetWallMs,
      logLevel: 'INFO (stdout counted, not kept)',
      nodeVersion: process.version,
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  (async () => {
    console.log(JSON.stringify(await measureIngestFloor(), null, 2));
    console.log(JSON.stringify(await measureLargestBatch(), null, 2));
  })().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
