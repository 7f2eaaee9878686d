/**
 * `npm start [-- --input <file|dir> ... | --generate N] [--faults SPEC] [--seed N] [--out <file>]`:
 * run contact records through the whole pipeline on this machine and print
 * what happened.
 *
 * With neither `--input` nor `--generate`, replays the bundled real samples.
 * After the input is drained it requests a DLQ redrive and drains, then a
 * sweep and drains again, as an operator would; then it reconciles the input
 * with the VoiceCalls and the quarantine, prints a summary, and stops
 * everything it started. `--out` writes `{ summary, reconciliation,
 * voiceCalls: { <contactId>: fieldValues } }`. Exits 1 when anything was lost.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DlqRedriveRequested, SweepRequested } from '../events/redrive';
import { FaultPlan, parseFaultSpec } from './faults';
import { generateContactRecords } from './generate';
import { type InputRecord, readInput } from './input';
import { type Reconciliation, reconcile } from './reconcile';
import type { StoredVoiceCall } from './scv-stand-in';
import { type LocalStackSummary, startLocalStack } from './stack';

// The bundles target nodejs22.x; a local run on Node 20 need not repeat the SDK's Node version notice.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

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
}

/** Options of {@link runLocal}. */
export interface RunLocalOptions {
  /** Faults to inject (see local/faults.ts). */
  faults?: FaultPlan;
  /** Receives one-line status updates. */
  progress?: (line: string) => void;
  /** Put the whole input on the stream a second time after the first pass (redelivery). */
  replay?: boolean;
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
  const stack = await startLocalStack({ workDir, faults: options.faults });
  try {
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
    const onProgress = (received: number) => {
      if (Date.now() - lastReport > 2000) {
        lastReport = Date.now();
        progress(`received ${received} (input ${records.length} records)`);
      }
    };
    const pass = async () => {
      progress(`putting ${records.length} records on the stream`);
      await stack.putRecords(
        records.map((record) => record.data),
        records.map((record) => record.contactId),
      );
      await stack.drain(onProgress);
      progress('input drained; requesting a DLQ redrive, as an operator would');
      await stack.putEvent(DlqRedriveRequested.source, DlqRedriveRequested.detailType, {});
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
    await pass();
    let firstPass: Record<string, Record<string, unknown>> | undefined;
    if (options.replay) {
      firstPass = fieldValuesOf(await stack.voiceCalls());
      progress('replaying the whole input');
      await pass();
    }
    const stored = await stack.voiceCalls();
    const voiceCalls = fieldValuesOf(stored);
    const reconciliation = reconcile(records, stored, await stack.quarantined());
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      input: { type: 'string', multiple: true },
      generate: { type: 'string' },
      faults: { type: 'string' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
    },
    strict: true,
  });
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
  const count = values.generate === undefined ? undefined : Number(values.generate);
  if (count !== undefined && !(Number.isSafeInteger(count) && count > 0)) {
    throw new Error(`--generate must be a positive integer, got ${values.generate}`);
  }
  const faults = values.faults ? new FaultPlan(parseFaultSpec(values.faults), seed) : undefined;
  const records = count
    ? generateContactRecords({ count, seed })
    : await readInput(values.input?.length ? values.input : BUNDLED_SAMPLES);
  const result = await runLocal(records, {
    faults,
    progress: (line) => console.error(`ctr-sync: ${line}`),
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
    process.exitCode = 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`ctr-sync: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
