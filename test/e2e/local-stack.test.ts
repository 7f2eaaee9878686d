/**
 * End to end: the local stack (emulators, local EventBridge, bundled
 * functions in child processes, SCV stand-in) on the real samples.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseContactRecord } from '../../domain/contact-record';
import { toVoiceCallUpdate } from '../../domain/voice-call';
import { type InputRecord, readInput } from '../../local/input/read';
import { BUNDLED_SAMPLES, runLocal } from '../../local/run/start';
import { type JsonObject, loadContactRecordFixture } from '../fixtures/factories';

const REPUBLISHED_CONTACT = '6fe40d2a-1a89-4d73-bfcf-5d9c33894f47';
const ANSWERED_CONTACT = '15a5cf14-3212-45a1-9f86-a8e97db8afaf';

function asInput(records: (JsonObject | string)[]): InputRecord[] {
  return records.map((record) => {
    const text = typeof record === 'string' ? record : JSON.stringify(record);
    const parsed = typeof record === 'string' ? undefined : record;
    return {
      data: Buffer.from(text, 'utf8'),
      contactId: typeof parsed?.ContactId === 'string' ? parsed.ContactId : undefined,
      initiationTimestamp:
        typeof parsed?.InitiationTimestamp === 'string' ? parsed.InitiationTimestamp : undefined,
      voice: parsed !== undefined && (parsed.Channel === undefined || parsed.Channel === 'VOICE'),
    };
  });
}

describe('local stack on the real samples', () => {
  it('syncs both real contacts, the republished one from its newest version', async () => {
    const records = await readInput(BUNDLED_SAMPLES);

    const result = await runLocal(records);

    const versions = loadContactRecordFixture('republished-inbound-transfer');
    const newest = versions.reduce((a, b) =>
      String(a.LastUpdateTimestamp) >= String(b.LastUpdateTimestamp) ? a : b,
    );
    expect(result.voiceCalls[REPUBLISHED_CONTACT]).toEqual(
      toVoiceCallUpdate(parseContactRecord(newest)).fieldValues,
    );
    expect(result.voiceCalls[REPUBLISHED_CONTACT]).toMatchObject({
      totalHoldDuration: 221,
      numberOfHolds: 2,
    });
    expect(result.voiceCalls[ANSWERED_CONTACT]).toEqual(
      toVoiceCallUpdate(parseContactRecord(loadContactRecordFixture('inbound-answered')))
        .fieldValues,
    );
    expect(result.summary).toMatchObject({
      received: 7,
      rejected: 0,
      inDlq: { sync: 0, redrive: 0 },
      voiceCalls: 2,
    });
    // The 7 records go on the stream in one PutRecords call, so they reach ingest in one batch,
    // which publishes one record per contact: the first delivery of its newest version.
    expect(result.summary.published).toBe(2);
    // Each delivery is synced, or superseded by a newer version or a duplicate (in ingest's
    // batch, in the updater's, or by the sync ledger).
    expect(
      result.summary.synced + result.summary.superseded + result.summary.duplicate,
    ).toBeGreaterThanOrEqual(7);
    // The archive subscriber received both published records, written as one GZIP object, and
    // holds the newest version of each contact exactly as received.
    expect(result.summary.archive).toMatchObject({ accepted: 2, failed: 0, objects: 1 });
    expect(result.reconciliation.archive).toEqual({
      objects: 1,
      records: 2,
      notFromInput: 0,
      newestMissing: 0,
    });
  }, 120_000);

  it('keeps the newest version when older versions arrive after it, and quarantines malformed lines', async () => {
    // The three real versions differ only in attributes SCV does not receive; mark each
    // with an sfdc- attribute so the VoiceCall shows which version it holds.
    const versions = loadContactRecordFixture('republished-inbound-transfer').map(
      (record): JsonObject => ({
        ...record,
        Attributes: {
          ...(record.Attributes as JsonObject),
          'sfdc-version': String(record.LastUpdateTimestamp),
        },
      }),
    );
    const newestFirst = [...versions].sort((a, b) =>
      String(b.LastUpdateTimestamp).localeCompare(String(a.LastUpdateTimestamp)),
    );
    const chat = loadContactRecordFixture('chat');
    const input = asInput([...newestFirst, chat, '{"ContactId": "broken"', 'not json at all']);

    const result = await runLocal(input);

    expect(JSON.parse(String(result.voiceCalls[REPUBLISHED_CONTACT]?.callAttributes))).toEqual({
      version: '2022-01-11T04:09:47Z',
    });
    expect(result.summary.rejected).toBe(2);
    expect(result.summary.skipped).toEqual({ 'channel-not-voice': 1 });
    expect(result.summary.received).toBe(9);
    expect(Object.keys(result.voiceCalls)).toEqual([REPUBLISHED_CONTACT]);
  }, 120_000);

  it('runs as `npm start -- --input F --out O` and writes the summary and VoiceCalls', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ctr-sync-e2e-'));
    try {
      const out = join(dir, 'out.json');
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [
          '--import',
          'tsx',
          'local/run/start.ts',
          '--input',
          BUNDLED_SAMPLES[1] as string,
          '--out',
          out,
        ],
        { cwd: join(import.meta.dirname, '../..'), timeout: 110_000 },
      );

      const written = JSON.parse(await readFile(out, 'utf8'));
      expect(written.summary).toMatchObject({ received: 1, published: 1, synced: 1, rejected: 0 });
      expect(Object.keys(written.voiceCalls)).toEqual([ANSWERED_CONTACT]);
      expect(written.reconciliation).toMatchObject({ toSync: 1, synced: 1, lost: 0 });
      expect(stdout).toContain('Reconciliation (input against VoiceCalls and quarantine)');
      expect(stdout).toMatch(/lost {2,}0\n/);
      expect(stdout).not.toContain('+17208401003');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
