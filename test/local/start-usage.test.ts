/**
 * `npm start` usage (local/run/start.ts main): usage and input errors are
 * UsageErrors (exit 2, one line naming the fix) raised before any emulator
 * starts; `--help` exits 0.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../cli/io';
import { main } from '../../local/run/start';

const empty = mkdtemp(join(tmpdir(), 'ctr-sync-empty-'));
afterAll(async () => rm(await empty, { recursive: true, force: true }));

describe('npm start usage', () => {
  it('prints the usage with --help and exits 0, naming the exit codes', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await main(['--help'])).toBe(0);
      expect(String(log.mock.calls[0]?.[0])).toContain(
        'Exit codes: 0 nothing lost, 1 records lost',
      );
    } finally {
      log.mockRestore();
    }
  });

  it.each([
    [['--bogus'], "Unknown option '--bogus'; see npm start -- --help"],
    [['--generate', '5', '--input', 'x.json'], '--generate and --input exclude each other'],
    [['--generate', 'five'], '--generate takes a whole number above 0, not "five"'],
    [['--rate', '0'], '--rate takes records per second above 0'],
    [['--input', 'no/such/file.json'], 'cannot read no/such/file.json: ENOENT'],
    [['--faults', 'disk=0.1'], '--faults: '],
  ])('refuses %j with a UsageError naming the fix', async (argv, message) => {
    const refused = await main(argv).catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(UsageError);
    expect((refused as Error).message).toContain(message);
  });

  it('refuses a folder without records instead of running the stack for nothing', async () => {
    const folder = await empty;
    const refused = await main(['--input', folder]).catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(UsageError);
    expect((refused as Error).message).toBe(
      `no contact records in ${folder}: give .json, .jsonl or .ndjson files, or --generate N`,
    );
  });
});
