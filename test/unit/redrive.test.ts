import { describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../../domain/errors';
import type { ArchivedContactRecord, VoiceCallRow } from '../../domain/ports';
import {
  buildUnsyncedVoiceCallQuery,
  redriveDeadLetters,
  resyncCall,
  soqlDateTime,
  soqlString,
  sweepUnsyncedVoiceCalls,
} from '../../domain/redrive';
import {
  FakeArchive,
  FakeDeadLetterQueue,
  FakeSalesforceRestApi,
  FakeSyncQueue,
} from '../fixtures/fakes';

const WINDOW = { from: '2024-05-01T00:00:00Z', to: '2024-05-02T00:00:00Z' };

/** VendorCallKeys (ContactIds) that sort in index order. */
function contactId(index: number): string {
  return `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
}

function voiceCallRows(count: number): VoiceCallRow[] {
  return Array.from({ length: count }, (_, index) => ({
    Id: `0LQ${String(index).padStart(15, '0')}`,
    VendorCallKey: contactId(index),
  }));
}

function archivedRecord(id: string): ArchivedContactRecord {
  return {
    contactId: id,
    lastUpdateTimestamp: '2024-05-01T10:00:00Z',
    json: JSON.stringify({ ContactId: id, LastUpdateTimestamp: '2024-05-01T10:00:00Z' }),
  };
}

function archiveOf(rows: VoiceCallRow[]): FakeArchive {
  return new FakeArchive(rows.map((row) => archivedRecord(row.VendorCallKey)));
}

describe('sweepUnsyncedVoiceCalls', () => {
  it('pages one row per query with a keyset on VendorCallKey inside the CreatedDate window', async () => {
    const rows = voiceCallRows(3);
    const restApi = new FakeSalesforceRestApi(rows);

    await sweepUnsyncedVoiceCalls(
      { ...WINDOW, maxRecords: 100 },
      { restApi, archive: archiveOf(rows), syncQueue: new FakeSyncQueue() },
    );

    expect(restApi.queries).toHaveLength(4);
    for (const soql of restApi.queries) {
      expect(soql).toMatch(/^SELECT Id, VendorCallKey FROM VoiceCall WHERE /);
      expect(soql).toContain('CustomerHoldDuration = null');
      expect(soql).toContain('CreatedDate >= 2024-05-01T00:00:00Z');
      expect(soql).toContain('CreatedDate < 2024-05-02T00:00:00Z');
      expect(soql).toMatch(/ORDER BY VendorCallKey ASC LIMIT 1$/);
    }
    expect(restApi.queries[0]).not.toContain('VendorCallKey >');
    expect(restApi.queries[1]).toContain(`VendorCallKey > '${contactId(0)}'`);
    expect(restApi.queries[2]).toContain(`VendorCallKey > '${contactId(1)}'`);
    expect(restApi.queries[3]).toContain(`VendorCallKey > '${contactId(2)}'`);
  });

  it('enqueues the archived record of every row and reports the window done', async () => {
    const rows = voiceCallRows(3);
    const archive = archiveOf(rows);
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(
      { ...WINDOW, maxRecords: 100 },
      { restApi: new FakeSalesforceRestApi(rows), archive, syncQueue },
    );

    expect(result).toEqual({ counts: { queried: 3, enqueued: 3, noArchive: 0 }, complete: true });
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual(
      rows.map((row) => row.VendorCallKey),
    );
    expect(syncQueue.enqueued[0]?.json).toBe(archivedRecord(contactId(0)).json);
  });

  it('starts after startAfter when one is given', async () => {
    const rows = voiceCallRows(4);
    const restApi = new FakeSalesforceRestApi(rows);
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(
      { ...WINDOW, startAfter: contactId(1), maxRecords: 100 },
      { restApi, archive: archiveOf(rows), syncQueue },
    );

    expect(restApi.queries[0]).toContain(`VendorCallKey > '${contactId(1)}'`);
    expect(result.counts.queried).toBe(2);
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual([contactId(2), contactId(3)]);
  });

  it('writes the window bounds as whole-second SOQL dateTime literals in UTC', async () => {
    const restApi = new FakeSalesforceRestApi([]);

    await sweepUnsyncedVoiceCalls(
      { from: '2024-05-01T02:00:00.250+02:00', to: '2024-05-02T00:00:00.000Z', maxRecords: 1 },
      { restApi, archive: new FakeArchive(), syncQueue: new FakeSyncQueue() },
    );

    expect(restApi.queries[0]).toContain('CreatedDate >= 2024-05-01T00:00:00Z');
    expect(restApi.queries[0]).toContain('CreatedDate < 2024-05-02T00:00:00Z');
  });

  it('stops after maxRecords rows and returns the cursor to resume from', async () => {
    const rows = voiceCallRows(5);
    const restApi = new FakeSalesforceRestApi(rows);
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(
      { ...WINDOW, maxRecords: 2 },
      { restApi, archive: archiveOf(rows), syncQueue },
    );

    expect(restApi.queries).toHaveLength(2);
    expect(result).toEqual({
      counts: { queried: 2, enqueued: 2, noArchive: 0 },
      complete: false,
      nextStartAfter: contactId(1),
    });
  });

  it('resumes from nextStartAfter without repeating or missing a row', async () => {
    const rows = voiceCallRows(5);
    const restApi = new FakeSalesforceRestApi(rows);
    const archive = archiveOf(rows);
    const syncQueue = new FakeSyncQueue();

    const first = await sweepUnsyncedVoiceCalls(
      { ...WINDOW, maxRecords: 3 },
      { restApi, archive, syncQueue },
    );
    const second = await sweepUnsyncedVoiceCalls(
      { ...WINDOW, startAfter: first.nextStartAfter, maxRecords: 3 },
      { restApi, archive, syncQueue },
    );

    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual(
      rows.map((row) => row.VendorCallKey),
    );
    expect(second.nextStartAfter).toBeUndefined();
    expect(second.complete).toBe(true);
  });

  it('counts rows without an archived record and moves past them', async () => {
    const rows = voiceCallRows(3);
    const archive = new FakeArchive([archivedRecord(contactId(0)), archivedRecord(contactId(2))]);
    const restApi = new FakeSalesforceRestApi(rows);
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(
      { ...WINDOW, maxRecords: 100 },
      { restApi, archive, syncQueue },
    );

    expect(result.counts).toEqual({ queried: 3, enqueued: 2, noArchive: 1 });
    expect(restApi.queries[2]).toContain(`VendorCallKey > '${contactId(1)}'`);
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual([contactId(0), contactId(2)]);
  });

  it('stops when hasTimeLeft() turns false and returns the cursor', async () => {
    const rows = voiceCallRows(5);
    const restApi = new FakeSalesforceRestApi(rows);
    const syncQueue = new FakeSyncQueue();
    let checks = 0;
    const hasTimeLeft = () => ++checks <= 2;

    const result = await sweepUnsyncedVoiceCalls(
      { ...WINDOW, maxRecords: 100 },
      { restApi, archive: archiveOf(rows), syncQueue, hasTimeLeft },
    );

    expect(restApi.queries).toHaveLength(2);
    expect(result).toEqual({
      counts: { queried: 2, enqueued: 2, noArchive: 0 },
      complete: false,
      nextStartAfter: contactId(1),
    });
  });

  it('reports an incomplete window when it had no time to query at all', async () => {
    const rows = voiceCallRows(2);
    const restApi = new FakeSalesforceRestApi(rows);

    const result = await sweepUnsyncedVoiceCalls(
      { ...WINDOW, maxRecords: 100 },
      {
        restApi,
        archive: archiveOf(rows),
        syncQueue: new FakeSyncQueue(),
        hasTimeLeft: () => false,
      },
    );

    expect(result).toEqual({ counts: { queried: 0, enqueued: 0, noArchive: 0 }, complete: false });
  });

  it('leaves out VoiceCalls without a VendorCallKey', async () => {
    const restApi = new FakeSalesforceRestApi(voiceCallRows(1));

    await sweepUnsyncedVoiceCalls(
      { ...WINDOW, maxRecords: 1 },
      { restApi, archive: archiveOf([]), syncQueue: new FakeSyncQueue() },
    );

    expect(restApi.queries[0]).toContain('VendorCallKey != null');
  });

  it('enqueues in batches of at most 10', async () => {
    const rows = voiceCallRows(23);
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(
      { ...WINDOW, maxRecords: 100 },
      { restApi: new FakeSalesforceRestApi(rows), archive: archiveOf(rows), syncQueue },
    );

    expect(syncQueue.enqueueCalls.map((call) => call.length)).toEqual([10, 10, 3]);
    expect(result.counts.enqueued).toBe(23);
  });
});

describe('soqlString', () => {
  it('escapes single quotes and backslashes', () => {
    const literal = soqlString("O'Brien\\x");

    expect(literal).toBe("'O\\'Brien\\\\x'");
  });

  it('keeps an injected condition inside the VendorCallKey literal', () => {
    const soql = buildUnsyncedVoiceCallQuery({ ...WINDOW, startAfter: "x' OR Id != null OR '" });

    expect(soql).toContain("VendorCallKey > 'x\\' OR Id != null OR \\''");
  });
});

describe('soqlDateTime', () => {
  it('rejects a value that is not a timestamp', () => {
    expect(() => soqlDateTime('yesterday')).toThrow(RangeError);
  });
});

/** A REST API that fails the first `failures` queries with a TransientError. */
class FlakyRestApi extends FakeSalesforceRestApi {
  constructor(
    rows: VoiceCallRow[],
    private failures: number,
  ) {
    super(rows);
  }

  override async queryRecord(soql: string) {
    if (this.failures > 0) {
      this.failures--;
      throw new TransientError('queryRecord: answered success: false');
    }
    return super.queryRecord(soql);
  }
}

const noWait = async () => {};

describe('sweepUnsyncedVoiceCalls under failures', () => {
  it('retries a failed query and finishes the window', async () => {
    const rows = voiceCallRows(3);
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(
      { ...WINDOW, maxRecords: 100 },
      { restApi: new FlakyRestApi(rows, 2), archive: archiveOf(rows), syncQueue, sleep: noWait },
    );

    expect(result).toEqual({ counts: { queried: 3, enqueued: 3, noArchive: 0 }, complete: true });
  });

  it('stops at a query that keeps failing, enqueues what it found, and reports the error and the cursor', async () => {
    const rows = voiceCallRows(3);
    const restApi = new FlakyRestApi(rows, 0);
    const syncQueue = new FakeSyncQueue();
    let calls = 0;
    restApi.queryRecord = async function (this: FlakyRestApi, soql: string) {
      calls++;
      if (calls > 2) throw new TransientError('queryRecord: function error (Unhandled, Error)');
      return FakeSalesforceRestApi.prototype.queryRecord.call(this, soql);
    };

    const result = await sweepUnsyncedVoiceCalls(
      { ...WINDOW, maxRecords: 100 },
      { restApi, archive: archiveOf(rows), syncQueue, sleep: noWait },
    );

    expect(result).toEqual({
      counts: { queried: 2, enqueued: 2, noArchive: 0 },
      complete: false,
      nextStartAfter: contactId(1),
      error: 'queryRecord: function error (Unhandled, Error)',
    });
    expect(calls).toBe(5);
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual([contactId(0), contactId(1)]);
  });

  it('throws a PermanentError from a port instead of retrying it', async () => {
    const restApi = new FakeSalesforceRestApi(voiceCallRows(1));
    restApi.queryRecord = async () => {
      throw new PermanentError('bad query');
    };

    const sweep = sweepUnsyncedVoiceCalls(
      { ...WINDOW, maxRecords: 100 },
      { restApi, archive: new FakeArchive(), syncQueue: new FakeSyncQueue(), sleep: noWait },
    );

    await expect(sweep).rejects.toThrow('bad query');
  });

  it('terminates: runs of maxRecords that continue from their cursor visit every unsynced VoiceCall once, counting those without an archive', async () => {
    const rows = voiceCallRows(25);
    const archive = archiveOf(rows.filter((_, index) => index % 5 !== 0));
    const restApi = new FakeSalesforceRestApi(rows);
    const syncQueue = new FakeSyncQueue();
    const runs = [];
    let startAfter: string | undefined;
    for (let run = 0; run < 10; run++) {
      const result = await sweepUnsyncedVoiceCalls(
        { ...WINDOW, startAfter, maxRecords: 10 },
        { restApi, archive, syncQueue },
      );
      runs.push(result);
      if (result.complete) break;
      startAfter = result.nextStartAfter;
    }

    expect(runs.map((run) => run.counts.queried)).toEqual([10, 10, 5]);
    expect(runs.map((run) => run.complete)).toEqual([false, false, true]);
    expect(runs.reduce((sum, run) => sum + run.counts.noArchive, 0)).toBe(5);
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual(
      rows.filter((_, index) => index % 5 !== 0).map((row) => row.VendorCallKey),
    );
  });
});

const RUN = 'redrive-run-1';

describe('redriveDeadLetters', () => {
  it('moves every body to the sync queue unchanged and deletes it from the DLQ', async () => {
    const bodies = ['{"schemaVersion":"1","contactId":"a"}', 'not json at all', '{"x": "ü"}'];
    const deadLetters = new FakeDeadLetterQueue(bodies);
    const syncQueue = new FakeSyncQueue();

    const result = await redriveDeadLetters(
      { maxMessages: 100, runId: RUN },
      { deadLetters, syncQueue },
    );

    expect(result).toEqual({ counts: { moved: 3, returned: 0 } });
    expect(syncQueue.sendRawRuns).toEqual([RUN]);
    expect(syncQueue.sent).toEqual(bodies);
    expect(deadLetters.deleted.map((message) => message.body)).toEqual(bodies);
  });

  it('does not delete messages the sync queue did not accept', async () => {
    const deadLetters = new FakeDeadLetterQueue(['a', 'b']);
    const syncQueue = new FakeSyncQueue();
    syncQueue.failSendRawWith = new Error('SendMessageBatch failed');

    const redrive = redriveDeadLetters(
      { maxMessages: 100, runId: RUN },
      { deadLetters, syncQueue },
    );

    await expect(redrive).rejects.toThrow('SendMessageBatch failed');
    expect(deadLetters.deleted).toHaveLength(0);
  });

  it('stops after maxMessages messages', async () => {
    const bodies = Array.from({ length: 25 }, (_, index) => `body-${index}`);
    const deadLetters = new FakeDeadLetterQueue(bodies);
    const syncQueue = new FakeSyncQueue();

    const result = await redriveDeadLetters(
      { maxMessages: 12, runId: RUN },
      { deadLetters, syncQueue },
    );

    expect(result.counts.moved).toBe(12);
    expect(deadLetters.receiveRequests).toEqual([10, 2]);
    expect(syncQueue.sent).toEqual(bodies.slice(0, 12));
    expect(deadLetters.remaining).toBe(13);
  });

  it('stops when hasTimeLeft() is false', async () => {
    const deadLetters = new FakeDeadLetterQueue(['a', 'b']);
    const syncQueue = new FakeSyncQueue();

    const result = await redriveDeadLetters(
      { maxMessages: 100, runId: RUN },
      { deadLetters, syncQueue, hasTimeLeft: () => false },
    );

    expect(result.counts.moved).toBe(0);
    expect(deadLetters.receiveRequests).toHaveLength(0);
  });
});

describe('resyncCall', () => {
  it('enqueues the archived record with the field overrides', async () => {
    const archive = new FakeArchive([archivedRecord(contactId(7))]);
    const syncQueue = new FakeSyncQueue();

    const result = await resyncCall(
      { contactId: contactId(7), fieldOverrides: { toNumber: '+15550109999' } },
      { archive, syncQueue },
    );

    expect(result).toEqual({ counts: { enqueued: 1, noArchive: 0 } });
    expect(syncQueue.enqueued).toEqual([
      { ...archivedRecord(contactId(7)), fieldOverrides: { toNumber: '+15550109999' } },
    ]);
  });

  it('counts noArchive and enqueues nothing when the call has no archived record', async () => {
    const syncQueue = new FakeSyncQueue();

    const result = await resyncCall(
      { contactId: contactId(7), fieldOverrides: {} },
      { archive: new FakeArchive(), syncQueue },
    );

    expect(result).toEqual({ counts: { enqueued: 0, noArchive: 1 } });
    expect(syncQueue.enqueueCalls).toHaveLength(0);
  });
});

describe('redriveDeadLetters, a message that keeps failing', () => {
  it('leaves a message this run already moved in the DLQ, counted as returned, and moves the others', async () => {
    const deadLetters = new FakeDeadLetterQueue([
      { body: 'moved-before-by-this-run', redriveRun: RUN },
      { body: 'moved-by-an-earlier-run', redriveRun: 'an-earlier-run' },
      'never-moved',
    ]);
    const syncQueue = new FakeSyncQueue();

    const result = await redriveDeadLetters(
      { maxMessages: 100, runId: RUN },
      { deadLetters, syncQueue },
    );

    expect(result).toEqual({ counts: { moved: 2, returned: 1 } });
    expect(syncQueue.sent).toEqual(['moved-by-an-earlier-run', 'never-moved']);
    expect(deadLetters.deleted.map((message) => message.body)).toEqual([
      'moved-by-an-earlier-run',
      'never-moved',
    ]);
  });
});
