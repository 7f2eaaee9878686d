/**
 * The scheduled sweep's bands (domain/redrive.ts, issue 11 item 9): each
 * VoiceCall without hold data costs a bounded number of `queryRecord`s over
 * its life, where sweeping the last 24 hours every hour cost 24. The
 * simulation is bench/sweep.ts's (figure 7), on a smaller input.
 */
import { describe, expect, it } from 'vitest';
import { scheduledSweep, sweepBandWindow } from '../../domain/redrive';
import { FakeArchive, FakeLedger, FakeSyncQueue } from '../fixtures/fakes';
import { simulateSweeps } from '../../bench/sweep';

const HOUR = 3_600_000;

describe('sweepBandWindow', () => {
  const base = {
    nowMs: 100 * HOUR,
    ageMs: HOUR,
    lookbackMs: 24 * HOUR,
    maxWindowMs: 7 * 24 * HOUR,
  };

  it('starts at the cursor and ends where VoiceCalls are old enough', () => {
    expect(sweepBandWindow({ ...base, cursor: 97 * HOUR })).toEqual({
      from: 97 * HOUR,
      to: 99 * HOUR,
    });
  });

  it('starts lookbackMs before its end on the first run', () => {
    expect(sweepBandWindow({ ...base, cursor: undefined })).toEqual({
      from: 75 * HOUR,
      to: 99 * HOUR,
    });
  });

  it('is at most maxWindowMs long after an outage, and empty when nothing aged since the cursor', () => {
    expect(sweepBandWindow({ ...base, cursor: -100 * HOUR })).toEqual({
      from: (99 - 7 * 24) * HOUR,
      to: 99 * HOUR,
    });
    expect(sweepBandWindow({ ...base, cursor: 99 * HOUR })).toBeUndefined();
  });
});

describe('the scheduled sweep over 30 hours', () => {
  const shape = { hours: 30, callsPerHour: 12, unsyncedShare: 0.25 };

  it('queries each never-synced VoiceCall exactly twice over its life (first and second look)', async () => {
    const bands = await simulateSweeps({ ...shape, design: 'bands' });

    expect(bands.unsyncedAged).toBeGreaterThan(0);
    expect(bands.maxPerVoiceCall).toBe(2);
    expect(bands.meanPerVoiceCall).toBe(2);
  });

  it('where the last-24-hours window of every run queried each of them about 24 times', async () => {
    const lookback = await simulateSweeps({ ...shape, design: 'lookback' });

    expect(lookback.maxPerVoiceCall).toBeGreaterThanOrEqual(23);
  });
});

describe('the scheduled sweep when a run has time for one band only', () => {
  it('lets the bands take turns at going first, hour by hour, so that neither waits for ever', async () => {
    const ran: string[][] = [];
    for (const hour of [6, 7, 8, 9]) {
      const nowMs = Date.parse('2024-05-02T00:00:00Z') + hour * HOUR;
      // One band's queries use the run's query time.
      let queried = false;
      const bands = await scheduledSweep(
        {
          nowMs,
          firstLookMinutes: 60,
          lookbackHours: 24,
          maxWindowDays: 7,
          maxRecords: 10,
          archiveLookupHours: 6,
          maxArchiveObjects: 10,
        },
        {
          restApi: {
            queryRecord: async () => {
              queried = true;
              return undefined;
            },
          },
          ledger: new FakeLedger(),
          archive: new FakeArchive(),
          syncQueue: new FakeSyncQueue(),
          hasTimeToQuery: () => !queried,
        },
      );
      ran.push([
        ...bands.map(({ band }) => band),
        ...(bands.notRun ?? []).map((band) => `${band}: not run`),
      ]);
    }

    expect(ran).toEqual([
      ['first-look', 'second-look: not run'],
      ['second-look', 'first-look: not run'],
      ['first-look', 'second-look: not run'],
      ['second-look', 'first-look: not run'],
    ]);
  });
});
