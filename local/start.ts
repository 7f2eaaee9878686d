/**
 * `npm start [-- --input <file|dir> ...] [--out <file>]`: run contact records
 * through the whole pipeline on this machine and print what happened.
 *
 * With no `--input`, replays the bundled real samples. After the input is
 * drained it runs a sweep (as the schedule would) and drains again, then
 * prints a summary table and the resulting VoiceCalls, and stops everything
 * it started. `--out` writes `{ summary, voiceCalls: { <contactId>: fieldValues } }`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SweepRequested } from '../events/redrive';
import { type InputRecord, readInput } from './input';
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
  summary: LocalStackSummary & { voiceCalls: number };
  voiceCalls: Record<string, Record<string, unknown>>;
}

/**
 * Run `records` through a fresh local stack and return the summary and the
 * VoiceCalls' stored fieldValues. `progress` receives one-line status updates.
 */
export async function runLocal(
  records: InputRecord[],
  progress: (line: string) => void = () => {},
): Promise<LocalRunResult> {
  const workDir = await mkdtemp(join(tmpdir(), 'ctr-sync-local-'));
  const stack = await startLocalStack({ workDir });
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
    progress(`putting ${records.length} records on the stream`);
    await stack.putRecords(
      records.map((record) => record.data),
      records.map((record) => record.contactId),
    );
    let lastReport = 0;
    const onProgress = (received: number) => {
      if (Date.now() - lastReport > 2000) {
        lastReport = Date.now();
        progress(`received ${received} of ${records.length}`);
      }
    };
    await stack.drain(onProgress);
    progress('input drained; running a sweep of VoiceCalls without hold-duration data');
    await stack.putEvent(SweepRequested.source, SweepRequested.detailType, {
      from: new Date(earliest).toISOString(),
      to: new Date(Date.now() + 60_000).toISOString(),
      maxRecords: 10_000,
    });
    await stack.drain(onProgress);
    const stored = await stack.voiceCalls();
    const voiceCalls = Object.fromEntries(
      Object.entries(stored).map(([key, call]) => [key, call.fieldValues]),
    );
    const summary = await stack.summary();
    return { summary: { ...summary, voiceCalls: Object.keys(voiceCalls).length }, voiceCalls };
  } finally {
    await stack.stop();
    if (!process.env.CTR_SYNC_KEEP_WORKDIR) await rm(workDir, { recursive: true, force: true });
    else progress(`work directory kept: ${workDir}`);
  }
}

function printSummary(result: LocalRunResult): void {
  const { summary } = result;
  const rows: [string, number][] = [
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
    ['failed attempts', summary.failed],
    ['in sync DLQ', summary.inDlq.sync],
    ['in archive DLQ', summary.inDlq.archive],
    ['in redrive DLQ', summary.inDlq.redrive],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log('\nSummary');
  for (const [label, count] of rows)
    console.log(`  ${label.padEnd(width)}  ${String(count).padStart(6)}`);
  console.log(
    `\nVoiceCalls (${summary.voiceCalls}; phone numbers and attributes are in --out only)`,
  );
  console.log('  contactId                             queue                 holds  hold s  start');
  for (const [contactId, fields] of Object.entries(result.voiceCalls)) {
    const queue = String(fields.queue ?? '-').slice(0, 20);
    console.log(
      `  ${contactId.padEnd(36)}  ${queue.padEnd(20)}  ${String(fields.numberOfHolds ?? '-').padStart(5)}  ${String(fields.totalHoldDuration ?? '-').padStart(6)}  ${String(fields.startTime ?? '-')}`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { input: { type: 'string', multiple: true }, out: { type: 'string' } },
    strict: true,
  });
  const records = await readInput(values.input?.length ? values.input : BUNDLED_SAMPLES);
  const result = await runLocal(records, (line) => console.error(`ctr-sync: ${line}`));
  printSummary(result);
  if (values.out) {
    await writeFile(
      values.out,
      `${JSON.stringify({ summary: { ...result.summary }, voiceCalls: result.voiceCalls }, null, 2)}\n`,
    );
    console.log(`\nWrote ${values.out}`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`ctr-sync: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
