/**
 * The scheduled sweep's bands (domain/redrive.ts, issue 11 item 9): each
 * VoiceCall without hold data costs a bounded number of `queryRecord`s over
 * its life, where sweeping the last 24 hours every hour cost 24. The
 * simulation is bench/sweep.ts's (figure 7), on a smaller input.
 */
import { describe, expect, it } from 'vitest';
import { sweepBandWindow } from '../../domain/redrive';
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
