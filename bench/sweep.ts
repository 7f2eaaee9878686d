/**
 * Figure 7 (issue 11, item 9): the Salesforce API use of the scheduled sweep.
 *
 * Simulates hourly scheduled sweeps over VoiceCalls created at a steady rate,
 * of which a share never gets hold data (voicemail, NoSync: skipped on
 * purpose, with the reason in the ledger) and the rest gets it ten minutes
 * after CreatedDate. It drives the real sweep (domain/redrive.ts) over the
 * in-memory ports of test/fixtures/fakes.ts, with a `queryRecord` that applies
 * the query's CreatedDate window and `CustomerHoldDuration = null`, and counts
 * the queries per run and the rows each VoiceCall was answered in. Two designs:
 * - `bands`: the scheduled sweep, two looks per VoiceCall from cursors;
 * - `lookback`: the window of the last 24 hours on every run (the Salesforce
 *   recipe's sweep, and ctr-sync's before the bands).
 */
import { scheduledSweep, sweepUnsyncedVoiceCalls, type SweepRequest } from '../domain/redrive';
import type { VoiceCallRow } from '../domain/ports';
import {
  FakeArchive,
  FakeLedger,
  FakeSalesforceRestApi,
  FakeSyncQueue,
} from '../test/fixtures/fakes';
import type { FigureResult } from './figure';

const HOUR_MS = 3_600_000;
/** The simulation's clock starts here (ISO-8601 UTC). */
const START = Date.parse('2026-11-01T00:00:00Z');

/** What one simulation counted. */
export interface SweepSimulation {
  design: 'bands' | 'lookback';
  runs: number;
  voiceCalls: number;
  /** VoiceCalls that never get hold data. */
  unsynced: number;
  /** Of those, the ones old enough (25 hours) for every look. */
  unsyncedAged: number;
  /** `queryRecord` calls, in all and per run. */
  queries: number;
  queriesPerRun: number;
  /** Rows answered per never-synced VoiceCall old enough for every look: the most, the mean. */
  maxPerVoiceCall: number;
  meanPerVoiceCall: number;
}

/**
 * Run `hours` hourly sweeps over `callsPerHour` VoiceCalls an hour, of which
 * `unsyncedShare` never get hold data.
 */
export async function simulateSweeps(options: {
  design: 'bands' | 'lookback';
  hours: number;
  callsPerHour: number;
  unsyncedShare: number;
}): Promise<SweepSimulation> {
  const { design, hours, callsPerHour, unsyncedShare } = options;
  let clock = START;
  const rows: VoiceCallRow[] = [];
  const holdDataAt = new Map<string, number>();
  const unsynced: { key: string; created: number }[] = [];
  const ledger = new FakeLedger();
  const every = Math.round(1 / unsyncedShare);
  for (let hour = 0; hour < hours; hour++) {
    for (let index = 0; index < callsPerHour; index++) {
      const created = START + hour * HOUR_MS + Math.floor((index * HOUR_MS) / callsPerHour);
      const key = `vc-${String(hour).padStart(4, '0')}-${String(index).padStart(4, '0')}`;
      rows.push({ Id: key, VendorCallKey: key, CreatedDate: new Date(created).toISOString() });
      if (index % every === 0) {
        unsynced.push({ key, created });
        ledger.items.set(key, { contactId: key, claimed: 'v', skipped: 'voicemail' });
      } else {
        holdDataAt.set(key, created + 10 * 60_000);
      }
    }
  }
  const restApi = new FakeSalesforceRestApi(rows, {
    windowed: true,
    holdDataAt,
    now: () => clock,
  });
  const ports = {
    restApi,
    ledger,
    archive: new FakeArchive(),
    syncQueue: new FakeSyncQueue(),
    now: () => clock,
    sleep: async () => {},
  };
  const common: Omit<SweepRequest, 'from' | 'to'> = {
    maxRecords: 100_000,
    archiveLookupHours: 6,
    maxArchiveObjects: 2_000,
  };
  for (let run = 1; run <= hours; run++) {
    clock = START + run * HOUR_MS;
    if (design === 'bands') {
      await scheduledSweep(
        {
          ...common,
          pendingBefore: clock - 15 * 60_000,
          nowMs: clock,
          firstLookMinutes: 60,
          lookbackHours: 24,
          maxWindowDays: 7,
        },
        ports,
      );
    } else {
      await sweepUnsyncedVoiceCalls(
        {
          ...common,
          pendingBefore: clock - 15 * 60_000,
          from: new Date(clock - 24 * HOUR_MS).toISOString(),
          to: new Date(clock).toISOString(),
        },
        ports,
      );
    }
  }
  const aged = unsynced.filter(({ created }) => created <= clock - 25 * HOUR_MS);
  const counts = aged.map(({ key }) => restApi.answered.get(key) ?? 0);
  return {
    design,
    runs: hours,
    voiceCalls: rows.length,
    unsynced: unsynced.length,
    unsyncedAged: aged.length,
    queries: restApi.queries.length,
    queriesPerRun: restApi.queries.length / hours,
    maxPerVoiceCall: Math.max(0, ...counts),
    meanPerVoiceCall:
      counts.reduce((total, count) => total + count, 0) / Math.max(1, counts.length),
  };
}

/**
 * Figure 7: queries of the scheduled sweep, 72 hourly runs over 100 VoiceCalls
 * an hour, 16% never synced (the share the issue measured in a 2,000-record run).
 * Target: a bounded number of queries per VoiceCall over its life (two looks).
 */
export async function measureSweepQueries(): Promise<FigureResult> {
  const shape = { hours: 72, callsPerHour: 100, unsyncedShare: 0.16 };
  const bands = await simulateSweeps({ ...shape, design: 'bands' });
  const lookback = await simulateSweeps({ ...shape, design: 'lookback' });
  return {
    id: 7,
    name: 'Sweep queries to Salesforce',
    measured:
      `${bands.maxPerVoiceCall} per never-synced VoiceCall over its life ` +
      `(the last-24-hours sweep: ${lookback.maxPerVoiceCall}); ` +
      `${Math.round(bands.queriesPerRun)} queryRecord per hourly run vs ${Math.round(lookback.queriesPerRun)}, ` +
      `${shape.callsPerHour} VoiceCalls an hour, ${Math.round((100 * bands.unsynced) / bands.voiceCalls)}% never synced`,
    target: '≤ 2 per VoiceCall over its life',
    pass: bands.maxPerVoiceCall <= 2,
    details: { shape, bands, lookback },
  };
}
