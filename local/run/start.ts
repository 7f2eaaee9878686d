/**
 * `npm start [-- --input <file|dir> ... | --generate N] [--events <file>] [--faults SPEC]
 * [--seed N] [--rate <records/s>] [--purge-dlq] [--out <file>]`: run contact records through the
 * whole pipeline on this machine and print what happened.
 *
 * With neither `--input` nor `--generate`, replays the bundled real samples.
 * `--events` puts PutEvents entries on the bus first (START_CALL_PROCESSING
 * before its record, for example). After the input is drained it requests a
 * DLQ redrive (or, with `--purge-dlq`, purges the sync DLQ as if its messages
 * had expired) and drains, then a sweep and drains again, as an operator
 * would; then it reconciles the input with the VoiceCalls, the quarantine and
 * the archive, prints a summary, and stops everything it started. `--out`
 * writes `{ summary, reconciliation, voiceCalls: { <contactId>: fieldValues } }`.
 * Exits 0 when nothing was lost, 1 when anything was (or the run failed), 2 on
 * usage or input errors (cli/io.ts).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DlqRedriveRequested, SweepRequested } from '../../events/redrive';
import { FaultPlan, parseFaultSpec } from '../faults/plan';
import { generateContactRecords } from '../input/generate';
import { type InputRecord, readInput } from '../input/read';
import { type Reconciliation, reconcile } from './reconcile';
import type { StoredVoiceCall } from '../scv/stand-in';
import {
  type DrainProgress,
  type LocalStack,
  type LocalStackSummary,
  startLocalStack,
} from './stack';
import { EXIT, UsageError } from '../../cli/io';
import { StartCallProcessing } from '../../events/start-call-processing';
import type { FieldOverrides } from '../../domain/ports';

/** A PutEvents entry as `aws events put-events --entries` takes it (Detail as a JSON string). */
export interface PutEventsEntry {
  Source: string;
  DetailType: string;
  Detail: string;
  EventBusName?: string;
}

// The bundles target nodejs22.x; a local run on Node 20 need not repeat the SDK's Node version notice.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The real Amazon Connect samples bundled with the project (see test/fixtures/ctr/README.md). */
export const BUNDLED_SAMPLES = [
  join(projectRoot, 'test/fixtures/ctr/republished-inbound-transfer.json'),
  join(projectRoot, 'test/fixtures/ctr/inbound-answered.json'),
];

/** Result of {@link runLocal}: what `--out` holds. */
export interface LocalRunResult {
  /** The pipeline's own counts (EMF metrics, queue depths, faults injected). */
  summary: LocalStackSummary & { voiceCalls: number };
  /** The input against the final VoiceCalls and quarantine; see {@link Reconciliation}. */
  reconciliation: Reconciliation;
  voiceCalls: Record<string, Record<string, unknown>>;
  /** With `replay`: the VoiceCalls' fieldValues after the first pass, before the replay. */
  firstPass?: Record<string, Record<string, unknown>>;
  /** With `purgeDlq`: the messages the sync DLQ held when it was purged, per pass. */
  purged?: number[];
}

/** Options of {@link runLocal}. */
export interface RunLocalOptions {
  /** Faults to inject (see local/faults/plan.ts). */
  faults?: FaultPlan;
  /** Receives one-line status updates. */
  progress?: (line: string) => void;
  /** Put the whole input on the stream a second time after the first pass (redelivery). */
  replay?: boolean;
  /** Entries put on the bus before the records (`--events`). */
  events?: PutEventsEntry[];
  /** Purge the sync DLQ instead of redriving it, as if its messages had expired (`--purge-dlq`). */
  purgeDlq?: boolean;
  /** Put records on the stream at this pace (records per second) instead of all at once (`--rate`). */
  rate?: number;
  /** Operator actions after the last pass and before the reconciliation (tests). */
  afterPasses?: (stack: LocalStack) => Promise<void>;
  /**
   * Keep the stack up (`--serve`): after the input (if any) drained, call
   * `onReady` with the stack, and wait for `until` instead of the operator's
   * DLQ redrive and sweep; then drain and reconcile as usual.
   */
  serve?: {
    onReady(stack: LocalStack): void;
    until: Promise<unknown>;
    /** Resolves when the operator insists (a second signal): stop without draining. */
    hurry?: Promise<unknown>;
  };
}

/** The phone-number overrides the START_CALL_PROCESSING entries among `events` set, by callId. */
export function overridesOf(events: readonly PutEventsEntry[]): Map<string, FieldOverrides> {
  const overrides = new Map<string, FieldOverrides>();
  for (const entry of events) {
    if (entry.Source !== StartCallProcessing.source) continue;
    if (entry.DetailType !== StartCallProcessing.detailType) continue;
    const detail = JSON.parse(entry.Detail) as { callId?: string } & FieldOverrides;
    if (!detail.callId) continue;
    const held: FieldOverrides = {};
    if (detail.toNumber) held.toNumber = detail.toNumber;
    if (detail.fromNumber) held.fromNumber = detail.fromNumber;
    overrides.set(detail.callId, held);
  }
  return overrides;
}

/**
 * Run `records` through a fresh local stack: put them on the stream, drain,
 * request a DLQ redrive and drain, request a sweep and drain; then reconcile.
 */
export async function runLocal(
  records: InputRecord[],
  options: RunLocalOptions = {},
): Promise<LocalRunResult> {
  const progress = options.progress ?? (() => {});
  const workDir = await mkdtemp(join(tmpdir(), 'ctr-sync-local-'));
  progress('starting the local stack (emulators, and the functions bundled as serverless would)');
  const stack = await startLocalStack({ workDir, faults: options.faults });
  try {
    progress(
      `creating the VoiceCalls of ${records.length} records, as SCV does when a call starts`,
    );
    // SCV creates the VoiceCall when a voice call starts; the CTR arrives after it ends.
    const created = new Set<string>();
    let earliest = Date.now();
    for (const record of records) {
      if (!record.contactId || !record.voice || created.has(record.contactId)) continue;
      const createdAt = Date.parse(record.initiationTimestamp ?? '');
      const createdDate = Number.isNaN(createdAt) ? new Date() : new Date(createdAt);
      earliest = Math.min(earliest, createdDate.getTime());
      await stack.createVoiceCall(
        record.contactId,
        createdDate.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      );
      created.add(record.contactId);
    }
    let lastReport = 0;
    const startedAt = Date.now();
    const onProgress = (counts: DrainProgress) => {
      if (Date.now() - lastReport < 3000) return;
      lastReport = Date.now();
      const seconds = (Date.now() - startedAt) / 1000;
      const rate = counts.received / Math.max(1, seconds);
      const left = Math.max(0, records.length - counts.received);
      const estimate =
        left > 0 && rate > 0 ? `, about ${Math.ceil(left / rate)} s of input left` : '';
      progress(
        `received ${counts.received} of ${records.length}, published ${counts.published}, synced ${counts.synced}, in the sync queue ${counts.inSyncQueue}${estimate}`,
      );
    };
    for (const entry of options.events ?? []) {
      progress(`putting ${entry.DetailType} on the bus`);
      await stack.putEvent(entry.Source, entry.DetailType, JSON.parse(entry.Detail));
    }
    if (options.events?.length) await stack.drain(onProgress);
    const purged: number[] = [];
    const putAll = () =>
      stack.putRecords(
        records.map((record) => record.data),
        records.map((record) => record.contactId),
        { rate: options.rate },
      );
    const pass = async () => {
      progress(`putting ${records.length} records on the stream`);
      await putAll();
      await stack.drain(onProgress);
      if (options.purgeDlq) {
        progress('input drained; purging the sync DLQ, as if its messages had expired');
        purged.push((await stack.summary()).inDlq.sync);
        await stack.purgeDeadLetters('sync');
      } else {
        progress('input drained; requesting a DLQ redrive, as an operator would');
        await stack.putEvent(DlqRedriveRequested.source, DlqRedriveRequested.detailType, {});
      }
      await stack.drain(onProgress);
      progress('requesting a sweep of VoiceCalls without hold-duration data');
      await stack.putEvent(SweepRequested.source, SweepRequested.detailType, {
        from: new Date(earliest).toISOString(),
        to: new Date(Date.now() + 60_000).toISOString(),
      });
      await stack.drain(onProgress);
    };
    const fieldValuesOf = (stored: Record<string, StoredVoiceCall>) =>
      Object.fromEntries(Object.entries(stored).map(([key, call]) => [key, call.fieldValues]));
    if (options.serve) {
      if (records.length > 0) {
        progress(`putting ${records.length} records on the stream`);
        await putAll();
      }
      await stack.drain(onProgress);
      options.serve.onReady(stack);
      await options.serve.until;
      progress('stopping: draining what is in flight (again to stop at once)');
      await Promise.race([stack.drain(onProgress), options.serve.hurry ?? new Promise(() => {})]);
    } else await pass();
    let firstPass: Record<string, Record<string, unknown>> | undefined;
    if (options.replay) {
      firstPass = fieldValuesOf(await stack.voiceCalls());
      progress('replaying the whole input');
      await pass();
    }
    await options.afterPasses?.(stack);
    const stored = await stack.voiceCalls();
    const voiceCalls = fieldValuesOf(stored);
    const overrides = overridesOf(options.events ?? []);
    if (options.serve) {
      // Put by hand while it served: the ledger holds what START_CALL_PROCESSING set.
      for (const contactId of Object.keys(stored)) {
        const held = (await stack.ledgerItem(contactId))?.overrides;
        if (held && !overrides.has(contactId)) overrides.set(contactId, held);
      }
    }
    const reconciliation = reconcile(records, stored, await stack.quarantined(), {
      overrides,
      archived: await stack.archivedRecords(),
    });
    // Where each lost contact stands, to look into: its ledger item and its VoiceCall's updates.
    const lostContacts = [];
    for (const contactId of reconciliation.lostContactIds) {
      const item = await stack.ledgerItem(contactId);
      lostContacts.push({
        contactId,
        claimedVersion: item?.claimed ?? null,
        sentVersion: item?.sent ?? null,
        voiceCallUpdates: stored[contactId]?.updateCount ?? null,
      });
    }
    const summary = await stack.summary();
    return {
      summary: { ...summary, voiceCalls: Object.keys(voiceCalls).length },
      reconciliation: { ...reconciliation, lostContacts },
      voiceCalls,
      ...(firstPass ? { firstPass } : {}),
      ...(options.purgeDlq ? { purged } : {}),
    };
  } finally {
    await stack.stop();
    if (!process.env.CTR_SYNC_KEEP_WORKDIR) await rm(workDir, { recursive: true, force: true });
    else progress(`work directory kept: ${workDir}`);
  }
}

function printTable(title: string, rows: [string, number][]): void {
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log(`\n${title}`);
  for (const [label, count] of rows)
    console.log(`  ${label.padEnd(width)}  ${String(count).padStart(7)}`);
}

function printSummary(result: LocalRunResult): void {
  const { summary, reconciliation: r } = result;
  printTable("Pipeline (from the functions' metrics; deliveries, retries included)", [
    ['received', summary.received],
    ...Object.entries(summary.skipped).map(([reason, count]): [string, number] => [
      `skipped: ${reason}`,
      count,
    ]),
    ['rejected (quarantined)', summary.rejected],
    ['published', summary.published],
    ['archived', summary.archived],
    ['synced', summary.synced],
    ['superseded', summary.superseded],
    ['duplicate (not sent again)', summary.duplicate],
    ['failed attempts', summary.failed],
    ...Object.entries(summary.faults.injected).map(([target, count]): [string, number] => [
      `faults injected: ${target}`,
      count,
    ]),
    ...Object.entries(summary.faults.crashes)
      .filter(([, count]) => count > 0)
      .map(([name, count]): [string, number] => [`crashed: ${name}`, count]),
  ]);
  printTable('Reconciliation (input against VoiceCalls and quarantine)', [
    ['records received', r.received],
    ['contacts', r.contacts],
    ['contacts to sync', r.toSync],
    ['synced (newest version)', r.synced],
    ...Object.entries(r.skipped).map(([reason, count]): [string, number] => [
      `skipped: ${reason}`,
      count,
    ]),
    ...Object.entries(r.rejected).map(([reason, count]): [string, number] => [
      `rejected: ${reason}`,
      count,
    ]),
    ['rejected and quarantined', r.quarantined],
    ['superseded (deliveries)', summary.superseded],
    ['duplicate (deliveries)', summary.duplicate],
    ['in sync DLQ', summary.inDlq.sync],
    ['in redrive DLQ', summary.inDlq.redrive],
    ['in ingest on-failure queue', summary.inDlq.ingest],
    ['in archive DLQ', summary.inDlq.archive],
    ['archive: objects', r.archive?.objects ?? 0],
    ['archive: records', r.archive?.records ?? 0],
    ['archive: records not from the input', r.archive?.notFromInput ?? 0],
    ['archive: newest versions missing', r.archive?.newestMissing ?? 0],
    ['lost: on an older version', r.onOlderVersion],
    ['lost: never synced', r.neverSynced],
    ['lost: not quarantined', r.notQuarantined],
    ['lost', r.lost],
  ]);
  const calls = Object.entries(result.voiceCalls);
  console.log(
    `\nVoiceCalls (${summary.voiceCalls}; phone numbers and attributes are in --out only)`,
  );
  if (calls.length > 20) {
    console.log('  (more than 20: see --out)');
    return;
  }
  console.log('  contactId                             queue                 holds  hold s  start');
  for (const [contactId, fields] of calls) {
    const queue = String(fields.queue ?? '-').slice(0, 20);
    console.log(
      `  ${contactId.padEnd(36)}  ${queue.padEnd(20)}  ${String(fields.numberOfHolds ?? '-').padStart(5)}  ${String(fields.totalHoldDuration ?? '-').padStart(6)}  ${String(fields.startTime ?? '-')}`,
    );
  }
}

const USAGE = `Usage: npm start -- [options]

Runs contact records through the whole pipeline on this machine (no AWS account), then
reconciles the input with the VoiceCalls, the quarantine and the archive.

  --input <file|dir>     records to put on the stream (repeatable): a .json file holding an
                         array or an object, or JSON lines; a folder: every .json/.jsonl/.ndjson
  --generate <N>         N generated records instead (local/input/generate.ts)
  --seed <N>             seed of --generate and --faults (default 1)
  --faults <spec>        comma list of target=rate (eventbridge, s3, sqs, telephony, dynamodb,
                         firehose) and crash=<ingest|updater|redrive>:<n>
  --events <file>        a JSON array of PutEvents entries (Source, DetailType, Detail as a
                         string, optional EventBusName) put on the bus before the records
  --rate <records/s>     put the records at this pace instead of all at once
  --purge-dlq            after the input drains, purge the sync DLQ instead of redriving it
  --out <file>           write the summary, the reconciliation and the VoiceCalls as JSON
  --progress             a progress line every few seconds on stderr even when it is not a
                         terminal (on a terminal, always)
  --serve                keep the stack up after the input drained (no input: start empty);
                         prints AWS_ENDPOINT_URL_<SERVICE>=... lines and "ready", runs until
                         SIGINT or SIGTERM, then drains and reconciles; resources are named as
                         the dev stage's (bus ctr-sync-dev)
  --help                 print this

Exit codes: 0 nothing lost, 1 records lost or the run failed, 2 usage or input errors.
`;

/**
 * `--serve`: once the stack is ready, print one `AWS_ENDPOINT_URL_<SERVICE>=<url>`
 * line per service (the form the AWS SDKs and the AWS CLI read) and `ready`
 * on stdout; stop on SIGINT or SIGTERM.
 */
function serveUntilSignal(): NonNullable<RunLocalOptions['serve']> {
  let signals = 0;
  let stop!: () => void;
  let hurry!: () => void;
  const until = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const hurried = new Promise<void>((resolve) => {
    hurry = resolve;
  });
  // Handled for as long as the run lasts: the first signal drains and reconciles, the second
  // skips the drain; either way everything started is stopped and the work folder removed.
  const onSignal = () => {
    signals++;
    if (signals === 1) stop();
    else hurry();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    until,
    hurry: hurried,
    onReady(stack) {
      if (signals > 0) return;
      for (const [service, url] of Object.entries(stack.endpoints)) {
        console.log(`AWS_ENDPOINT_URL_${service}=${url}`);
      }
      console.log('ready');
    },
  };
}

/** A number option: `undefined` when absent. @throws UsageError naming the option when it is not `valid`. */
function numberOption(
  value: string | undefined,
  name: string,
  valid: (number: number) => boolean,
  what: string,
): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!valid(number)) throw new UsageError(`--${name} takes ${what}, not "${value}"`);
  return number;
}

/**
 * `npm start`: parse, run, print. Exit codes (cli/io.ts): 0 nothing lost, 1
 * records lost (or the run failed), 2 usage or input errors, each with one
 * line on stderr naming the fix.
 */
export async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        input: { type: 'string', multiple: true },
        generate: { type: 'string' },
        events: { type: 'string' },
        rate: { type: 'string' },
        'purge-dlq': { type: 'boolean', default: false },
        faults: { type: 'string' },
        seed: { type: 'string', default: '1' },
        out: { type: 'string' },
        progress: { type: 'boolean' },
        serve: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; see npm start -- --help`);
  }
  if (values.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  const seed = numberOption(values.seed, 'seed', Number.isSafeInteger, 'an integer') as number;
  const count = numberOption(
    values.generate,
    'generate',
    (n) => Number.isSafeInteger(n) && n > 0,
    'a whole number above 0',
  );
  if (count !== undefined && values.input?.length) {
    throw new UsageError('--generate and --input exclude each other: give one of them');
  }
  const rate = numberOption(values.rate, 'rate', (n) => n > 0, 'records per second above 0');
  let faults: FaultPlan | undefined;
  try {
    faults = values.faults ? new FaultPlan(parseFaultSpec(values.faults), seed) : undefined;
  } catch (error) {
    throw new UsageError(`--faults: ${(error as Error).message}; see npm start -- --help`);
  }
  let events: PutEventsEntry[] | undefined;
  if (values.events) {
    try {
      events = JSON.parse(await readFile(values.events, 'utf8')) as PutEventsEntry[];
    } catch (error) {
      throw new UsageError(
        `--events ${values.events}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; give a JSON array of PutEvents entries`,
      );
    }
    if (!Array.isArray(events)) {
      throw new UsageError(`--events ${values.events}: not a JSON array of PutEvents entries`);
    }
  }
  let records: InputRecord[];
  if (count) records = generateContactRecords({ count, seed });
  else if (values.serve && !values.input?.length) records = [];
  else {
    const paths = values.input?.length ? values.input : BUNDLED_SAMPLES;
    try {
      records = await readInput(paths);
    } catch (error) {
      throw new UsageError(
        `cannot read ${(error as { path?: string }).path ?? paths.join(', ')}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    if (records.length === 0) {
      throw new UsageError(
        `no contact records in ${paths.join(', ')}: give .json, .jsonl or .ndjson files, or --generate N`,
      );
    }
  }
  // On a terminal, or when asked: one line every few seconds on stderr.
  const showProgress = values.progress === true || process.stderr.isTTY === true;
  const result = await runLocal(records, {
    faults,
    events,
    rate,
    purgeDlq: values['purge-dlq'],
    progress: showProgress ? (line) => console.error(`ctr-sync: ${line}`) : undefined,
    ...(values.serve ? { serve: serveUntilSignal() } : {}),
  });
  printSummary(result);
  if (values.out) {
    await writeFile(
      values.out,
      `${JSON.stringify({ summary: result.summary, reconciliation: result.reconciliation, voiceCalls: result.voiceCalls }, null, 2)}\n`,
    );
    console.log(`\nWrote ${values.out}`);
  }
  if (result.reconciliation.lost > 0) {
    console.error(
      `ctr-sync: ${result.reconciliation.lost} lost; first ContactIds: ${result.reconciliation.lostContactIds.join(', ')}`,
    );
    return EXIT.failed;
  }
  return EXIT.ok;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`ctr-sync: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = error instanceof UsageError ? EXIT.usage : EXIT.failed;
    },
  );
}
