import { describe, expect, it } from 'vitest';
import { PermanentError, TransientError } from '../../domain/errors';
import type { LedgerItem, VoiceCallRow } from '../../domain/ports';
import {
  buildUnsyncedVoiceCallQuery,
  findInArchive,
  holdCallOverrides,
  redriveDeadLetters,
  replayArchive,
  resyncContact,
  soqlDateTime,
  soqlString,
  type SweepRequest,
  sweepUnsyncedVoiceCalls,
} from '../../domain/redrive';
import { contentDigest, versionKey } from '../../domain/versions';
import {
  FakeArchive,
  FakeDeadLetterQueue,
  FakeLedger,
  FakeSalesforceRestApi,
  FakeSyncQueue,
} from '../fixtures/fakes';

const WINDOW = { from: '2024-05-01T00:00:00Z', to: '2024-05-02T00:00:00Z' };
const CREATED = '2024-05-01T10:00:00.000Z';

/** VendorCallKeys (ContactIds) that sort in index order. */
function contactId(index: number): string {
  return `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`;
}

function voiceCallRows(count: number): VoiceCallRow[] {
  return Array.from({ length: count }, (_, index) => ({
    Id: `0LQ${String(index).padStart(15, '0')}`,
    VendorCallKey: contactId(index),
    CreatedDate: CREATED,
  }));
}

/** A minimal valid contact record's JSON (as JSON.stringify writes it). */
function recordJson(id: string, lastUpdateTimestamp = '2024-05-01T10:05:00Z', queue = 'Q'): string {
  return JSON.stringify({
    ContactId: id,
    LastUpdateTimestamp: lastUpdateTimestamp,
    Channel: 'VOICE',
    InitiationMethod: 'INBOUND',
    Queue: { Name: queue },
  });
}

function keyOf(json: string): string {
  const { LastUpdateTimestamp } = JSON.parse(json) as { LastUpdateTimestamp: string };
  return versionKey(LastUpdateTimestamp, contentDigest(json));
}

/** An archive holding one object (arrived just after the calls were created) with a record per row. */
function archiveOf(rows: VoiceCallRow[]): FakeArchive {
  const archive = new FakeArchive();
  if (rows.length > 0)
    archive.add(
      '2024-05-01T10:06:00Z',
      rows.map((row) => recordJson(row.VendorCallKey)),
    );
  return archive;
}

function sweepRequest(extra: Partial<SweepRequest> = {}): SweepRequest {
  return { ...WINDOW, maxRecords: 100, archiveLookupHours: 6, maxArchiveObjects: 100, ...extra };
}

const noWait = async () => {};

describe('sweepUnsyncedVoiceCalls', () => {
  it('pages one row per query with a keyset on VendorCallKey inside the CreatedDate window', async () => {
    const rows = voiceCallRows(3);
    const restApi = new FakeSalesforceRestApi(rows);

    await sweepUnsyncedVoiceCalls(sweepRequest(), {
      restApi,
      ledger: new FakeLedger(),
      archive: archiveOf(rows),
      syncQueue: new FakeSyncQueue(),
    });

    expect(restApi.queries).toHaveLength(4);
    for (const soql of restApi.queries) {
      expect(soql).toMatch(/^SELECT Id, VendorCallKey, CreatedDate FROM VoiceCall WHERE /);
      expect(soql).toContain('CustomerHoldDuration = null');
      expect(soql).toContain('VendorCallKey != null');
      expect(soql).toContain('CreatedDate >= 2024-05-01T00:00:00Z');
      expect(soql).toContain('CreatedDate < 2024-05-02T00:00:00Z');
      expect(soql).toMatch(/ORDER BY VendorCallKey ASC LIMIT 1$/);
    }
    expect(restApi.queries[0]).not.toContain('VendorCallKey >');
    expect(restApi.queries[1]).toContain(`VendorCallKey > '${contactId(0)}'`);
    expect(restApi.queries[3]).toContain(`VendorCallKey > '${contactId(2)}'`);
  });

  it('replays the archived record of every VoiceCall the ledger does not know, from the archive objects after its CreatedDate', async () => {
    const rows = voiceCallRows(3);
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(sweepRequest(), {
      restApi: new FakeSalesforceRestApi(rows),
      ledger: new FakeLedger(),
      archive: archiveOf(rows),
      syncQueue,
    });

    expect(result).toMatchObject({
      complete: true,
      counts: { queried: 3, enqueued: 3, noRecord: 0 },
    });
    expect(syncQueue.enqueued).toEqual(
      rows.map((row) => ({
        contactId: row.VendorCallKey,
        lastUpdateTimestamp: '2024-05-01T10:05:00Z',
        record: { json: recordJson(row.VendorCallKey) },
      })),
    );
  });

  it('takes the newest version in the archive when it holds several', async () => {
    const rows = voiceCallRows(1);
    const archive = new FakeArchive();
    const id = contactId(0);
    archive.add('2024-05-01T10:06:00Z', [recordJson(id, '2024-05-01T10:05:00Z', 'old')]);
    archive.add('2024-05-01T11:06:00Z', [
      recordJson(id, '2024-05-01T11:05:00Z', 'new'),
      recordJson(contactId(9), '2024-05-01T11:05:00Z'),
    ]);
    archive.add('2024-05-01T12:06:00Z', [recordJson(id, '2024-05-01T10:30:00Z', 'middle')]);
    const syncQueue = new FakeSyncQueue();

    await sweepUnsyncedVoiceCalls(sweepRequest(), {
      restApi: new FakeSalesforceRestApi(rows),
      ledger: new FakeLedger(),
      archive,
      syncQueue,
    });

    expect(
      syncQueue.enqueued.map(
        (item) => JSON.parse((item.record as { json: string }).json).Queue.Name,
      ),
    ).toEqual(['new']);
  });

  it('counts a VoiceCall whose record is skipped on purpose as skipped, without looking in the archive', async () => {
    const rows = voiceCallRows(2);
    const ledger = new FakeLedger([
      { contactId: contactId(0), claimed: keyOf(recordJson(contactId(0))), skipped: 'voicemail' },
    ]);
    const archive = archiveOf(rows);
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(sweepRequest(), {
      restApi: new FakeSalesforceRestApi(rows),
      ledger,
      archive,
      syncQueue,
    });

    expect(result.counts).toMatchObject({ queried: 2, skipped: 1, enqueued: 1, noRecord: 0 });
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual([contactId(1)]);
  });

  it('resends the record the ledger holds for the claimed version, without reading the archive', async () => {
    const rows = voiceCallRows(1);
    const json = recordJson(contactId(0));
    const ledger = new FakeLedger([
      { contactId: contactId(0), claimed: keyOf(json), heldVersion: keyOf(json), held: { json } },
    ]);
    const archive = archiveOf(rows);
    const syncQueue = new FakeSyncQueue();

    await sweepUnsyncedVoiceCalls(sweepRequest(), {
      restApi: new FakeSalesforceRestApi(rows),
      ledger,
      archive,
      syncQueue,
    });

    expect(syncQueue.enqueued).toEqual([
      {
        contactId: contactId(0),
        lastUpdateTimestamp: '2024-05-01T10:05:00.000Z',
        record: { json },
      },
    ]);
    expect(archive.reads).toEqual([]);
  });

  it('counts a VoiceCall found neither in the ledger nor in its archive window as noRecord and moves past it', async () => {
    const rows = voiceCallRows(3);
    const archive = archiveOf([rows[0] as VoiceCallRow, rows[2] as VoiceCallRow]);
    const restApi = new FakeSalesforceRestApi(rows);
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(sweepRequest(), {
      restApi,
      ledger: new FakeLedger(),
      archive,
      syncQueue,
    });

    expect(result.counts).toMatchObject({ queried: 3, enqueued: 2, noRecord: 1 });
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual([contactId(0), contactId(2)]);
  });

  it('does not read archive objects outside the window after CreatedDate', async () => {
    const rows = voiceCallRows(1);
    const archive = new FakeArchive();
    archive.add('2024-05-01T08:00:00Z', [recordJson(contactId(0))], 'before');
    archive.add('2024-05-01T17:00:00Z', [recordJson(contactId(0))], 'after');

    const result = await sweepUnsyncedVoiceCalls(sweepRequest({ archiveLookupHours: 6 }), {
      restApi: new FakeSalesforceRestApi(rows),
      ledger: new FakeLedger(),
      archive,
      syncQueue: new FakeSyncQueue(),
    });

    expect(archive.reads).toEqual([]);
    expect(result.counts.noRecord).toBe(1);
  });

  it('resends pending ledger items older than pendingBefore, from the archive around when they were received', async () => {
    const json = recordJson(contactId(5));
    const receivedAt = Date.parse('2024-05-01T10:06:30Z');
    const ledger = new FakeLedger([
      { contactId: contactId(5), claimed: keyOf(json), receivedAt, pendingSince: 100 },
      {
        contactId: contactId(6),
        claimed: keyOf(recordJson(contactId(6))),
        receivedAt,
        pendingSince: 900,
      },
    ]);
    const archive = new FakeArchive();
    archive.add('2024-05-01T10:06:00Z', [json, recordJson(contactId(6))]);
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(sweepRequest({ pendingBefore: 500 }), {
      restApi: new FakeSalesforceRestApi([]),
      ledger,
      archive,
      syncQueue,
    });

    expect(result.counts).toMatchObject({ pending: 1, pendingNotFound: 0, enqueued: 1 });
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual([contactId(5)]);
  });

  it('does not resend an archived version older than the claimed one, and defers the pending item it could not resolve', async () => {
    const oldJson = recordJson(contactId(5), '2024-05-01T10:05:00Z', 'old');
    const claimedJson = recordJson(contactId(5), '2024-05-01T10:07:00Z', 'claimed');
    const receivedAt = Date.parse('2024-05-01T10:08:00Z');
    const ledger = new FakeLedger([
      { contactId: contactId(5), claimed: keyOf(claimedJson), receivedAt, pendingSince: 100 },
      {
        contactId: contactId(6),
        claimed: keyOf(recordJson(contactId(6))),
        receivedAt,
        pendingSince: 200,
      },
    ]);
    const archive = new FakeArchive();
    archive.add('2024-05-01T10:06:00Z', [oldJson, recordJson(contactId(6))]);
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(sweepRequest({ pendingBefore: 500 }), {
      restApi: new FakeSalesforceRestApi([]),
      ledger,
      archive,
      syncQueue,
      now: () => 9_000,
    });

    expect(result.counts).toMatchObject({ pending: 2, pendingNotFound: 1, enqueued: 1 });
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual([contactId(6)]);
    expect(ledger.items.get(contactId(5))?.pendingSince).toBe(9_000);
    const next = await ledger.listPending({ before: 10_000, limit: 10 });
    expect(next.items.map((item) => item.contactId)).toEqual([contactId(6), contactId(5)]);
  });

  it('lists pending items only on the first run of a window, not on its continuations', async () => {
    const ledger = new FakeLedger([
      { contactId: contactId(5), claimed: keyOf(recordJson(contactId(5))), pendingSince: 1 },
    ]);

    const result = await sweepUnsyncedVoiceCalls(
      sweepRequest({ pendingBefore: 500, startAfter: contactId(0) }),
      {
        restApi: new FakeSalesforceRestApi([]),
        ledger,
        archive: new FakeArchive(),
        syncQueue: new FakeSyncQueue(),
      },
    );

    expect(result.counts.pending).toBe(0);
  });

  it('stops after maxRecords rows and returns the cursor to resume from', async () => {
    const rows = voiceCallRows(5);
    const restApi = new FakeSalesforceRestApi(rows);

    const result = await sweepUnsyncedVoiceCalls(sweepRequest({ maxRecords: 2 }), {
      restApi,
      ledger: new FakeLedger(),
      archive: archiveOf(rows),
      syncQueue: new FakeSyncQueue(),
    });

    expect(restApi.queries).toHaveLength(2);
    expect(result).toMatchObject({
      complete: false,
      nextStartAfter: contactId(1),
      counts: { queried: 2, enqueued: 2 },
    });
  });

  it('resumes from nextStartAfter without repeating or missing a row', async () => {
    const rows = voiceCallRows(5);
    const restApi = new FakeSalesforceRestApi(rows);
    const archive = archiveOf(rows);
    const syncQueue = new FakeSyncQueue();
    const ports = { restApi, ledger: new FakeLedger(), archive, syncQueue };

    const first = await sweepUnsyncedVoiceCalls(sweepRequest({ maxRecords: 3 }), ports);
    const second = await sweepUnsyncedVoiceCalls(
      sweepRequest({ startAfter: first.nextStartAfter, maxRecords: 3 }),
      ports,
    );

    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual(
      rows.map((row) => row.VendorCallKey),
    );
    expect(second.nextStartAfter).toBeUndefined();
    expect(second.complete).toBe(true);
  });

  it('stops querying when hasTimeToQuery() turns false, resolves what it queried, and returns the cursor', async () => {
    const rows = voiceCallRows(5);
    const restApi = new FakeSalesforceRestApi(rows);
    const syncQueue = new FakeSyncQueue();
    let checks = 0;

    const result = await sweepUnsyncedVoiceCalls(sweepRequest(), {
      restApi,
      ledger: new FakeLedger(),
      archive: archiveOf(rows),
      syncQueue,
      hasTimeToQuery: () => ++checks <= 2,
    });

    expect(restApi.queries).toHaveLength(2);
    expect(result).toMatchObject({ complete: false, nextStartAfter: contactId(1) });
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual([contactId(0), contactId(1)]);
  });

  it('stops at the first VoiceCall whose archive it has no time left to read, naming it', async () => {
    const rows = voiceCallRows(2);
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(sweepRequest(), {
      restApi: new FakeSalesforceRestApi(rows),
      ledger: new FakeLedger(),
      archive: archiveOf(rows),
      syncQueue,
      hasTimeToQuery: () => true,
      hasTimeLeft: () => false,
    });

    expect(result).toEqual({
      counts: expect.objectContaining({ queried: 0, deferred: 1, enqueued: 0 }),
      complete: false,
      error: `VoiceCall ${contactId(0)}: no time left to read its archive window (0 objects read)`,
      stuck: contactId(0),
    });
    expect(syncQueue.enqueued).toEqual([]);
  });

  it("reads the first VoiceCall's window whole, past maxArchiveObjects, and then no more objects for the others", async () => {
    const rows = [
      { Id: '0LQ0', VendorCallKey: contactId(0), CreatedDate: '2024-05-01T11:00:00.000Z' },
      { Id: '0LQ1', VendorCallKey: contactId(1), CreatedDate: '2024-05-01T20:00:00.000Z' },
    ];
    const archive = new FakeArchive();
    // The first one's record is in the last of five objects of its hour: more than the run may read.
    for (let index = 0; index < 4; index++)
      archive.add('2024-05-01T11:00:00Z', [recordJson(contactId(9))], `o${index}`);
    archive.add('2024-05-01T11:00:00Z', [recordJson(contactId(0))], 'o4');
    archive.add('2024-05-01T20:00:00Z', [recordJson(contactId(1))], 'p0');
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(sweepRequest({ maxArchiveObjects: 3 }), {
      restApi: new FakeSalesforceRestApi(rows),
      ledger: new FakeLedger(),
      archive,
      syncQueue,
    });

    expect(archive.reads).toHaveLength(5);
    expect(result).toEqual({
      counts: expect.objectContaining({ archiveObjects: 5, queried: 1, deferred: 1, noRecord: 0 }),
      complete: false,
      nextStartAfter: contactId(0),
    });
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual([contactId(0)]);
  });

  it('writes the window bounds as whole-second SOQL dateTime literals in UTC', async () => {
    const restApi = new FakeSalesforceRestApi([]);

    await sweepUnsyncedVoiceCalls(
      sweepRequest({ from: '2024-05-01T02:00:00.250+02:00', to: '2024-05-02T00:00:00.000Z' }),
      {
        restApi,
        ledger: new FakeLedger(),
        archive: new FakeArchive(),
        syncQueue: new FakeSyncQueue(),
      },
    );

    expect(restApi.queries[0]).toContain('CreatedDate >= 2024-05-01T00:00:00Z');
    expect(restApi.queries[0]).toContain('CreatedDate < 2024-05-02T00:00:00Z');
  });
});

describe('sweepUnsyncedVoiceCalls within one Lambda run', () => {
  /**
   * A run of 300 s, as the handler splits it: hasTimeLeft while more than 15 s remain,
   * hasTimeToQuery while more than 135 s remain. A query takes 0.4 s, an object read 1 s; the
   * first VoiceCall's window holds 150 objects: 150 s, which fits in a run but not in the 120 s
   * the query phase would leave.
   */
  function slowRun(secondsPerObject = 1) {
    let used = 0;
    const remaining = () => 300_000 - used;
    const rows = Array.from({ length: 500 }, (_, index) => ({
      Id: `0LQ${index}`,
      VendorCallKey: contactId(index),
      CreatedDate: CREATED,
    }));
    const restApi = new FakeSalesforceRestApi(rows);
    const query = restApi.queryRecord.bind(restApi);
    restApi.queryRecord = async (soql: string) => {
      used += 400;
      return query(soql);
    };
    const archive = new FakeArchive();
    for (let index = 0; index < 150; index++) {
      const hour = String(10 + Math.floor(index / 25)).padStart(2, '0');
      const records = index === 149 ? rows.map((row) => recordJson(row.VendorCallKey)) : [];
      archive.add(`2024-05-01T${hour}:30:00Z`, records, `o${String(index).padStart(3, '0')}`);
    }
    const read = archive.readObject.bind(archive);
    archive.readObject = async (key: string) => {
      used += secondsPerObject * 1_000;
      return read(key);
    };
    return {
      restApi,
      archive,
      ledger: new FakeLedger(),
      syncQueue: new FakeSyncQueue(),
      hasTimeLeft: () => remaining() > 15_000,
      hasTimeToQuery: () => remaining() > 135_000,
      sleep: noWait,
    };
  }

  it("takes the first VoiceCall when its window fits in a run, whatever the others' queries would leave", async () => {
    const ports = slowRun();

    const result = await sweepUnsyncedVoiceCalls(sweepRequest({ maxRecords: 500 }), ports);

    expect(result.counts.queried).toBeGreaterThan(0);
    expect(result.nextStartAfter).toBeDefined();
    expect(ports.syncQueue.enqueued[0]?.contactId).toBe(contactId(0));
  });

  it('reports a VoiceCall stuck on its window even after a VoiceCall it took (skipped on purpose)', async () => {
    // 150 objects at 3 s each: more than a run.
    const ports = slowRun(3);
    ports.ledger.items.set(contactId(0), {
      contactId: contactId(0),
      claimed: keyOf(recordJson(contactId(0))),
      skipped: 'voicemail',
    });

    const result = await sweepUnsyncedVoiceCalls(sweepRequest({ maxRecords: 500 }), ports);

    expect(result).toMatchObject({
      counts: { queried: 1, skipped: 1, deferred: 1 },
      stuck: contactId(1),
      nextStartAfter: contactId(0),
      error: expect.stringMatching(
        new RegExp(`^VoiceCall ${contactId(1)}: no time left to read its archive window`),
      ),
    });
  });

  it('reports an error when it had no time to query one VoiceCall, so that it does not continue in place', async () => {
    const result = await sweepUnsyncedVoiceCalls(sweepRequest({ startAfter: contactId(5) }), {
      restApi: new FakeSalesforceRestApi(voiceCallRows(10)),
      ledger: new FakeLedger(),
      archive: new FakeArchive(),
      syncQueue: new FakeSyncQueue(),
      hasTimeToQuery: () => false,
    });

    expect(result).toMatchObject({
      complete: false,
      nextStartAfter: contactId(5),
      error: 'no time left to query a VoiceCall',
    });
  });
});

describe('sweepUnsyncedVoiceCalls: the lookup of the rest after the first VoiceCall', () => {
  const rows = [0, 1, 2].map((index) => ({
    Id: `0LQ${index}`,
    VendorCallKey: contactId(index),
    CreatedDate: CREATED,
  }));

  it("does not read again, nor count, the first VoiceCall's objects that hold none of the others", async () => {
    const archive = new FakeArchive();
    for (let index = 0; index < 6; index++) {
      const records = index === 5 ? rows.map((row) => recordJson(row.VendorCallKey)) : [];
      archive.add('2024-05-01T10:30:00Z', records, `o${index}`);
    }
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(
      sweepRequest({ archiveLookupHours: 1, maxArchiveObjects: 10 }),
      { restApi: new FakeSalesforceRestApi(rows), ledger: new FakeLedger(), archive, syncQueue },
    );

    expect(result.counts).toMatchObject({ queried: 3, enqueued: 3, deferred: 0 });
    // o5 holds the others' records: read again once; o0 to o4 hold none: not read again.
    expect(archive.reads.filter((key) => key.endsWith('/o5'))).toHaveLength(2);
    expect(archive.reads).toHaveLength(7);
  });

  it('reads again an object whose record of another VoiceCall was sent by reference', async () => {
    const objects = new Map<string, { plain: string[]; referenced: Map<string, string> }>();
    const key = 'archive/2024/05/01/10/o0';
    // The first VoiceCall's record inline; the second's by reference (read only when wanted).
    objects.set(key, {
      plain: [recordJson(contactId(0))],
      referenced: new Map([[contactId(1), recordJson(contactId(1))]]),
    });
    const reads: string[] = [];
    const archive = {
      listObjects: async () => ({ keys: [...objects.keys()] }),
      readObject: async (objectKey: string, wanted?: (id: string) => boolean) => {
        reads.push(objectKey);
        const object = objects.get(objectKey);
        const referenced = [...(object?.referenced ?? [])]
          .filter(([id]) => wanted === undefined || wanted(id))
          .map(([, text]) => text);
        return [...(object?.plain ?? []), ...referenced];
      },
    };
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(
      sweepRequest({ archiveLookupHours: 1, maxArchiveObjects: 10 }),
      {
        restApi: new FakeSalesforceRestApi(rows.slice(0, 2)),
        ledger: new FakeLedger(),
        archive,
        syncQueue,
      },
    );

    expect(reads).toEqual([key, key]);
    expect(result.counts).toMatchObject({ queried: 2, enqueued: 2, noRecord: 0 });
  });
});

describe('findInArchive', () => {
  it('reads overlapping windows once and passes over records that do not parse', async () => {
    const archive = new FakeArchive();
    archive.add('2024-05-01T10:00:00Z', ['{"ContactId":"a", truncated', recordJson('b')]);
    const wanted = new Map([
      ['a', { from: Date.parse('2024-05-01T09:00:00Z'), to: Date.parse('2024-05-01T11:00:00Z') }],
      ['b', { from: Date.parse('2024-05-01T10:00:00Z'), to: Date.parse('2024-05-01T12:00:00Z') }],
    ]);

    const { found, objectsRead } = await findInArchive(wanted, {
      archive,
      maxObjects: 10,
      sleep: noWait,
    });

    expect(objectsRead).toBe(1);
    expect([...found.keys()]).toEqual(['b']);
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

describe('sweepUnsyncedVoiceCalls under failures', () => {
  const portsFor = (rows: VoiceCallRow[]) => ({
    ledger: new FakeLedger(),
    archive: archiveOf(rows),
    syncQueue: new FakeSyncQueue(),
    sleep: noWait,
  });

  it('retries a failed query and finishes the window', async () => {
    const rows = voiceCallRows(3);

    const result = await sweepUnsyncedVoiceCalls(sweepRequest(), {
      ...portsFor(rows),
      restApi: new FlakyRestApi(rows, 2),
    });

    expect(result).toMatchObject({ complete: true, counts: { queried: 3, enqueued: 3 } });
  });

  it('stops at a query that keeps failing, enqueues what it found, and reports the error and the cursor', async () => {
    const rows = voiceCallRows(3);
    const restApi = new FlakyRestApi(rows, 0);
    const ports = portsFor(rows);
    let calls = 0;
    restApi.queryRecord = async function (this: FlakyRestApi, soql: string) {
      calls++;
      if (calls > 2) throw new TransientError('queryRecord: function error (Unhandled, Error)');
      return FakeSalesforceRestApi.prototype.queryRecord.call(this, soql);
    };

    const result = await sweepUnsyncedVoiceCalls(sweepRequest(), { ...ports, restApi });

    expect(result).toMatchObject({
      counts: { queried: 2, enqueued: 2, noRecord: 0 },
      complete: false,
      nextStartAfter: contactId(1),
      error: 'queryRecord: function error (Unhandled, Error)',
    });
    expect(calls).toBe(5);
    expect(ports.syncQueue.enqueued.map((item) => item.contactId)).toEqual([
      contactId(0),
      contactId(1),
    ]);
  });

  it('throws a PermanentError from a port instead of retrying it', async () => {
    const restApi = new FakeSalesforceRestApi(voiceCallRows(1));
    restApi.queryRecord = async () => {
      throw new PermanentError('bad query');
    };

    const sweep = sweepUnsyncedVoiceCalls(sweepRequest(), { ...portsFor([]), restApi });

    await expect(sweep).rejects.toThrow('bad query');
  });

  it('terminates: runs of maxRecords that continue from their cursor visit every unsynced VoiceCall once, counting those without a record', async () => {
    const rows = voiceCallRows(25);
    const ports = {
      ...portsFor(rows.filter((_, index) => index % 5 !== 0)),
      restApi: new FakeSalesforceRestApi(rows),
    };
    const runs = [];
    let startAfter: string | undefined;
    for (let run = 0; run < 10; run++) {
      const result = await sweepUnsyncedVoiceCalls(
        sweepRequest({ startAfter, maxRecords: 10 }),
        ports,
      );
      runs.push(result);
      if (result.complete) break;
      startAfter = result.nextStartAfter;
    }

    expect(runs.map((run) => run.counts.queried)).toEqual([10, 10, 5]);
    expect(runs.map((run) => run.complete)).toEqual([false, false, true]);
    expect(runs.reduce((sum, run) => sum + run.counts.noRecord, 0)).toBe(5);
    expect(ports.syncQueue.enqueued.map((item) => item.contactId)).toEqual(
      rows.filter((_, index) => index % 5 !== 0).map((row) => row.VendorCallKey),
    );
  });
});

/** A VoiceCall row created at `createdDate`. */
function rowAt(index: number, createdDate: string): VoiceCallRow {
  return {
    Id: `0LQ${String(index).padStart(15, '0')}`,
    VendorCallKey: contactId(index),
    CreatedDate: createdDate,
  };
}

describe('sweepUnsyncedVoiceCalls when the archive cannot be read to the end of a window', () => {
  // Three VoiceCalls an hour apart, each window one hour; two objects per hour, the record in the second.
  const HOURS = ['2024-05-01T10:00:00Z', '2024-05-01T12:00:00Z', '2024-05-01T14:00:00Z'];
  const rows = HOURS.map((hour, index) => rowAt(index, hour));
  const archiveWithRecordsLast = () => {
    const archive = new FakeArchive();
    rows.forEach((row, index) => {
      archive.add(HOURS[index] as string, [recordJson(contactId(90 + index))], `a${index}`);
      archive.add(HOURS[index] as string, [recordJson(row.VendorCallKey)], `b${index}`);
    });
    return archive;
  };
  const request = (extra: Partial<SweepRequest> = {}) =>
    sweepRequest({ archiveLookupHours: 1, maxArchiveObjects: 3, ...extra });

  it('stops its cursor before the first VoiceCall it could not resolve, and its continuations send every record once', async () => {
    const archive = archiveWithRecordsLast();
    const syncQueue = new FakeSyncQueue();
    const ports = {
      restApi: new FakeSalesforceRestApi(rows),
      ledger: new FakeLedger(),
      archive,
      syncQueue,
    };

    const runs = [];
    let startAfter: string | undefined;
    for (let run = 0; run < 5; run++) {
      const result = await sweepUnsyncedVoiceCalls(request({ startAfter }), ports);
      runs.push(result);
      if (result.complete) break;
      startAfter = result.nextStartAfter;
    }

    expect(runs[0]).toEqual({
      counts: expect.objectContaining({ queried: 1, enqueued: 1, deferred: 2, noRecord: 0 }),
      complete: false,
      nextStartAfter: contactId(0),
    });
    expect(runs.map((run) => run.counts.queried)).toEqual([1, 1, 1]);
    expect(runs.map((run) => run.complete)).toEqual([false, false, true]);
    expect(runs.reduce((sum, run) => sum + run.counts.noRecord, 0)).toBe(0);
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual(
      rows.map((row) => row.VendorCallKey),
    );
  });

  it('reads the windows in query order, so pending items cannot take the budget the first VoiceCall needs', async () => {
    const archive = archiveWithRecordsLast();
    // A pending item whose window (around when it was received) is in an earlier hour with two objects.
    const pendingJson = recordJson(contactId(50), '2024-05-01T08:05:00Z');
    archive.add('2024-05-01T08:06:00Z', [recordJson(contactId(91))], 'p0');
    archive.add('2024-05-01T08:06:00Z', [pendingJson], 'p1');
    const ledger = new FakeLedger([
      {
        contactId: contactId(50),
        claimed: keyOf(pendingJson),
        receivedAt: Date.parse('2024-05-01T08:30:00Z'),
        pendingSince: 100,
      },
    ]);
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(
      request({ pendingBefore: 500, maxArchiveObjects: 2 }),
      { restApi: new FakeSalesforceRestApi(rows), ledger, archive, syncQueue, now: () => 9_000 },
    );

    expect(result.counts).toMatchObject({
      queried: 1,
      enqueued: 1,
      deferred: 2,
      pendingUnread: 1,
      pendingNotFound: 0,
    });
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual([contactId(0)]);
    // Still pending, in its place: not counted "not found", not sent to the back.
    expect(ledger.items.get(contactId(50))?.pendingSince).toBe(100);
  });

  it('leaves the VoiceCalls from the first whose object read keeps failing to the next run, with the error', async () => {
    const archive = archiveWithRecordsLast();
    const read = archive.readObject.bind(archive);
    archive.readObject = async (key: string) => {
      if (key.endsWith('/b1')) throw new Error('S3 GetObject: InternalError');
      return read(key);
    };
    const syncQueue = new FakeSyncQueue();

    const result = await sweepUnsyncedVoiceCalls(request({ maxArchiveObjects: 100 }), {
      restApi: new FakeSalesforceRestApi(rows),
      ledger: new FakeLedger(),
      archive,
      syncQueue,
      sleep: noWait,
    });

    expect(result).toEqual({
      counts: expect.objectContaining({ queried: 1, enqueued: 1, deferred: 2, noRecord: 0 }),
      complete: false,
      nextStartAfter: contactId(0),
      error: 'archive/2024/05/01/12/b1: S3 GetObject: InternalError',
    });
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual([contactId(0)]);
  });

  it('does not send a held record of a VoiceCall after the cut: its continuation sends it, once', async () => {
    const archive = archiveWithRecordsLast();
    const heldJson = recordJson(contactId(2));
    const ledger = new FakeLedger([
      {
        contactId: contactId(2),
        claimed: keyOf(heldJson),
        held: { json: heldJson },
        heldVersion: keyOf(heldJson),
      },
    ]);
    const syncQueue = new FakeSyncQueue();
    const ports = { restApi: new FakeSalesforceRestApi(rows), ledger, archive, syncQueue };

    const first = await sweepUnsyncedVoiceCalls(request(), ports);
    const second = await sweepUnsyncedVoiceCalls(
      request({ startAfter: first.nextStartAfter }),
      ports,
    );

    expect(first.counts).toMatchObject({ queried: 1, deferred: 2 });
    expect(second).toMatchObject({ complete: true, counts: { queried: 2, deferred: 0 } });
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual([
      contactId(0),
      contactId(1),
      contactId(2),
    ]);
  });
});

/**
 * Two pending items: P0 (the oldest), received at 15:30, and P1, received at
 * 08:30 with the version of `p1Json`.
 */
function twoPendingItems(p1Json: string): FakeLedger {
  return new FakeLedger([
    {
      contactId: contactId(0),
      claimed: keyOf(recordJson(contactId(0), '2024-05-01T15:20:00Z')),
      receivedAt: Date.parse('2024-05-01T15:30:00Z'),
      pendingSince: 100,
    },
    {
      contactId: contactId(1),
      claimed: keyOf(p1Json),
      receivedAt: Date.parse('2024-05-01T08:30:00Z'),
      pendingSince: 200,
    },
  ]);
}

describe('sweepUnsyncedVoiceCalls: what the reviewer found', () => {
  const hourRequest = (extra: Partial<SweepRequest> = {}) =>
    sweepRequest({ archiveLookupHours: 1, maxArchiveObjects: 2, ...extra });

  it('does not let a pending item whose window it cannot read hold the pending items behind it', async () => {
    // P0 (oldest) was received at 15:30: its window holds 3 objects. P1's record is in hour 08.
    const archive = new FakeArchive();
    for (const name of ['a', 'b', 'c'])
      archive.add('2024-05-01T15:10:00Z', [recordJson(contactId(99))], name);
    const p1Json = recordJson(contactId(1), '2024-05-01T08:20:00Z');
    archive.add('2024-05-01T08:25:00Z', [p1Json], 'p1');
    const ledger = twoPendingItems(p1Json);
    const syncQueue = new FakeSyncQueue();
    let clock = 9_000;
    const ports = {
      restApi: new FakeSalesforceRestApi([]),
      ledger,
      archive,
      syncQueue,
      now: () => clock,
    };

    // Hourly: each run lists what is pending since before its pendingBefore.
    for (let run = 0; run < 3; run++) {
      await sweepUnsyncedVoiceCalls(hourRequest({ pendingBefore: clock }), ports);
      clock += 1_000;
    }

    expect(syncQueue.enqueued.map((item) => item.contactId)).toContain(contactId(1));
  });

  it('sends a pending item whose object keeps failing to the back of the index, so the next run reaches the others', async () => {
    const archive = new FakeArchive();
    const poison = archive.add('2024-05-01T15:10:00Z', [], 'corrupt.gz');
    const p1Json = recordJson(contactId(1), '2024-05-01T08:20:00Z');
    archive.add('2024-05-01T08:25:00Z', [p1Json], 'p1');
    const read = archive.readObject.bind(archive);
    archive.readObject = async (key: string) => {
      if (key === poison) throw new Error('AccessDenied');
      return read(key);
    };
    const ledger = twoPendingItems(p1Json);
    const syncQueue = new FakeSyncQueue();
    const ports = {
      restApi: new FakeSalesforceRestApi([]),
      ledger,
      archive,
      syncQueue,
      sleep: noWait,
      now: () => 9_000,
    };

    const first = await sweepUnsyncedVoiceCalls(hourRequest({ pendingBefore: 9_500 }), ports);
    const second = await sweepUnsyncedVoiceCalls(hourRequest({ pendingBefore: 9_500 }), ports);

    // The pending item's failure is its own: the run is complete, with why it was not read.
    expect(first).toEqual({
      counts: expect.objectContaining({ pendingUnread: 2, enqueued: 0 }),
      complete: true,
      pendingError: `${poison}: AccessDenied`,
    });
    expect(ledger.items.get(contactId(0))?.pendingSince).toBe(9_000);
    expect(second.counts).toMatchObject({ enqueued: 1, pendingUnread: 1 });
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual([contactId(1)]);
  });

  it('names the archive object that keeps failing, and the VoiceCall it stops at', async () => {
    const rows = voiceCallRows(3);
    const archive = new FakeArchive();
    const poison = archive.add('2024-05-01T10:01:00Z', [], 'corrupt.gz');
    archive.add(
      '2024-05-01T10:02:00Z',
      rows.map((row) => recordJson(row.VendorCallKey)),
      'ok',
    );
    const read = archive.readObject.bind(archive);
    archive.readObject = async (key: string) => {
      if (key === poison) throw new Error('incorrect header check');
      return read(key);
    };

    const result = await sweepUnsyncedVoiceCalls(hourRequest({ maxArchiveObjects: 100 }), {
      restApi: new FakeSalesforceRestApi(rows),
      ledger: new FakeLedger(),
      archive,
      syncQueue: new FakeSyncQueue(),
      sleep: noWait,
    });

    // It stops querying at the first VoiceCall it cannot resolve.
    expect(result).toMatchObject({ complete: false, counts: { queried: 0, deferred: 1 } });
    expect(result.error).toBe(`VoiceCall ${contactId(0)}: ${poison}: incorrect header check`);
  });

  it('enqueues a held pending record once when its VoiceCall is queried too', async () => {
    const json = recordJson(contactId(3));
    const ledger = new FakeLedger([
      {
        contactId: contactId(3),
        claimed: keyOf(json),
        held: { json },
        heldVersion: keyOf(json),
        pendingSince: 100,
      },
    ]);
    const syncQueue = new FakeSyncQueue();

    await sweepUnsyncedVoiceCalls(hourRequest({ pendingBefore: 500 }), {
      restApi: new FakeSalesforceRestApi([
        { Id: '0LQ3', VendorCallKey: contactId(3), CreatedDate: CREATED },
      ]),
      ledger,
      archive: new FakeArchive(),
      syncQueue,
    });

    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual([contactId(3)]);
  });
});

describe('findInArchive', () => {
  it('finds a ContactId written with escapes (a quote and a backslash in it)', async () => {
    const id = 'abc"d\\ef';
    const archive = new FakeArchive();
    archive.add('2024-05-01T10:06:00Z', [recordJson(id)]);
    const at = Date.parse('2024-05-01T10:00:00Z');

    const lookup = await findInArchive(new Map([[id, { from: at, to: at + 3_600_000 }]]), {
      archive,
      maxObjects: 10,
    });

    expect(lookup.found.get(id)?.item.record).toEqual({ json: recordJson(id) });
  });

  it('answers the contacts in order, reading each object once, and names those whose window it did not read to its end', async () => {
    const archive = new FakeArchive();
    archive.add('2024-05-01T10:00:00Z', [recordJson('a')], 'x');
    archive.add('2024-05-01T11:00:00Z', [recordJson('b')], 'y');
    archive.add('2024-05-01T12:00:00Z', [recordJson('c')], 'z');
    const hour = (h: number) => Date.parse(`2024-05-01T${String(h).padStart(2, '0')}:00:00Z`);
    const wanted = new Map([
      ['b', { from: hour(10), to: hour(12) }],
      ['a', { from: hour(10), to: hour(11) }],
      ['c', { from: hour(12), to: hour(13) }],
    ]);

    const lookup = await findInArchive(wanted, { archive, maxObjects: 2, sleep: noWait });

    expect(archive.reads).toEqual(['archive/2024/05/01/10/x', 'archive/2024/05/01/11/y']);
    expect([...lookup.found.keys()].sort()).toEqual(['a', 'b']);
    expect([...lookup.unresolved]).toEqual(['c']);
    expect(lookup.error).toBeUndefined();
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

describe('replayArchive', () => {
  const window = { from: '2024-05-01T10:00:00Z', to: '2024-05-01T12:00:00Z' };

  it('passes over versions dated after latestTimestampMs (forged), keeping the genuine newest one', async () => {
    const archive = new FakeArchive();
    archive.add('2024-05-01T10:10:00Z', [
      recordJson('a', '2024-05-01T10:05:00Z', 'genuine'),
      recordJson('a', '2099-01-01T00:00:00Z', 'forged'),
    ]);
    const syncQueue = new FakeSyncQueue();

    const result = await replayArchive(
      { ...window, maxObjects: 10, latestTimestampMs: Date.parse('2024-05-02T00:00:00Z') },
      { archive, syncQueue },
    );

    expect(result.counts).toEqual({ objects: 1, records: 2, enqueued: 1, invalid: 0, future: 1 });
    expect(
      syncQueue.enqueued.map(
        (item) => JSON.parse((item.record as { json: string }).json).Queue.Name,
      ),
    ).toEqual(['genuine']);
  });

  it('enqueues the newest version of each contact per object, not as resyncs, and passes over what does not parse', async () => {
    const archive = new FakeArchive();
    archive.add('2024-05-01T10:10:00Z', [
      recordJson('a', '2024-05-01T10:05:00Z', 'old'),
      recordJson('a', '2024-05-01T10:06:00Z', 'new'),
      recordJson('b'),
      '{"ContactId":"c", cut',
    ]);
    archive.add('2024-05-01T13:00:00Z', [recordJson('late')]);
    const syncQueue = new FakeSyncQueue();

    const result = await replayArchive({ ...window, maxObjects: 10 }, { archive, syncQueue });

    expect(result).toEqual({
      counts: { objects: 1, records: 4, enqueued: 2, invalid: 1, future: 0 },
      complete: true,
    });
    expect(syncQueue.enqueueResync).toEqual([false]);
    expect(
      syncQueue.enqueued.map((item) => [
        item.contactId,
        JSON.parse((item.record as { json: string }).json).Queue.Name,
      ]),
    ).toEqual([
      ['a', 'new'],
      ['b', 'Q'],
    ]);
  });

  it('replays only the contactIds asked for', async () => {
    const archive = new FakeArchive();
    archive.add('2024-05-01T10:10:00Z', [recordJson('a'), recordJson('b')]);
    const syncQueue = new FakeSyncQueue();

    await replayArchive({ ...window, contactIds: ['b'], maxObjects: 10 }, { archive, syncQueue });

    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual(['b']);
  });

  it('stops after maxObjects and resumes after the last object read, over pages of the listing', async () => {
    const archive = new FakeArchive(2);
    for (let index = 0; index < 5; index++) {
      archive.add('2024-05-01T10:10:00Z', [recordJson(`c${index}`)], `o${index}`);
    }
    const syncQueue = new FakeSyncQueue();

    const first = await replayArchive({ ...window, maxObjects: 3 }, { archive, syncQueue });
    const second = await replayArchive(
      { ...window, startAfter: first.nextStartAfter, maxObjects: 3 },
      { archive, syncQueue },
    );

    expect(first).toMatchObject({ complete: false, counts: { objects: 3 } });
    expect(first.nextStartAfter).toMatch(/o2$/);
    expect(second).toMatchObject({ complete: true, counts: { objects: 2 } });
    expect(syncQueue.enqueued.map((item) => item.contactId)).toEqual([
      'c0',
      'c1',
      'c2',
      'c3',
      'c4',
    ]);
  });
});

describe('holdCallOverrides', () => {
  const request = (id: string) => ({
    contactId: id,
    fieldOverrides: { toNumber: '+15550109999', fromNumber: '+15550108888' },
    at: 1_000,
    archiveLookupHours: 6,
  });

  it('holds the overrides of a call whose record has not arrived, and enqueues nothing', async () => {
    const ledger = new FakeLedger();
    const syncQueue = new FakeSyncQueue();

    const result = await holdCallOverrides(request(contactId(7)), {
      ledger,
      archive: new FakeArchive(),
      syncQueue,
    });

    expect(result).toEqual({ counts: { held: 1, enqueued: 0, pending: 0 } });
    expect(ledger.items.get(contactId(7))).toEqual({
      contactId: contactId(7),
      overrides: { toNumber: '+15550109999', fromNumber: '+15550108888' },
      overridesAt: 1_000,
    });
    expect(syncQueue.enqueueCalls).toHaveLength(0);
  });

  it('resyncs a call whose record is already claimed, from the archive', async () => {
    const json = recordJson(contactId(7));
    const ledger = new FakeLedger([
      {
        contactId: contactId(7),
        claimed: keyOf(json),
        sent: keyOf(json),
        receivedAt: Date.parse('2024-05-01T10:06:00Z'),
      },
    ]);
    const archive = new FakeArchive();
    archive.add('2024-05-01T10:06:00Z', [json]);
    const syncQueue = new FakeSyncQueue();

    const result = await holdCallOverrides(request(contactId(7)), { ledger, archive, syncQueue });

    expect(result.counts).toEqual({ held: 1, enqueued: 1, pending: 0 });
    expect(syncQueue.enqueued[0]?.record).toEqual({ json });
  });

  it('marks a claimed record pending when the archive has only an older version of it', async () => {
    const claimedJson = recordJson(contactId(7), '2024-05-01T10:07:00Z', 'claimed');
    const ledger = new FakeLedger([
      {
        contactId: contactId(7),
        claimed: keyOf(claimedJson),
        sent: keyOf(claimedJson),
        receivedAt: Date.parse('2024-05-01T10:08:00Z'),
      },
    ]);
    const archive = new FakeArchive();
    archive.add('2024-05-01T10:06:00Z', [recordJson(contactId(7), '2024-05-01T10:05:00Z', 'old')]);
    const syncQueue = new FakeSyncQueue();

    const result = await holdCallOverrides(request(contactId(7)), { ledger, archive, syncQueue });

    expect(result.counts).toEqual({ held: 1, enqueued: 0, pending: 1 });
    expect(syncQueue.enqueueCalls).toHaveLength(0);
  });

  it('marks a claimed record pending when neither the ledger nor the archive has it yet', async () => {
    const json = recordJson(contactId(7));
    const ledger = new FakeLedger([
      {
        contactId: contactId(7),
        claimed: keyOf(json),
        sent: keyOf(json),
        receivedAt: Date.parse('2024-05-01T10:06:00Z'),
      },
    ]);

    const result = await holdCallOverrides(request(contactId(7)), {
      ledger,
      archive: new FakeArchive(),
      syncQueue: new FakeSyncQueue(),
    });

    expect(result.counts).toEqual({ held: 1, enqueued: 0, pending: 1 });
    expect(ledger.items.get(contactId(7))?.pendingSince).toBe(1_000);
  });

  it('does not resync a call whose record is skipped on purpose', async () => {
    const ledger = new FakeLedger([
      {
        contactId: contactId(7),
        claimed: keyOf(recordJson(contactId(7))),
        skipped: 'no-sync-attribute',
      } as LedgerItem,
    ]);

    const result = await holdCallOverrides(request(contactId(7)), {
      ledger,
      archive: new FakeArchive(),
      syncQueue: new FakeSyncQueue(),
    });

    expect(result.counts).toEqual({ held: 1, enqueued: 0, pending: 0 });
  });
});

describe('holdCallOverrides and resyncContact when the archive cannot be read to the end of the window', () => {
  const claimedJson = recordJson(contactId(7), '2024-05-01T10:07:00Z', 'claimed');
  const newestJson = recordJson(contactId(7), '2024-05-01T13:00:00Z', 'newest');
  /** An older version in hour 10, the newest in hour 13; nothing else. */
  const archiveOfVersions = () => {
    const archive = new FakeArchive();
    archive.add('2024-05-01T10:08:00Z', [claimedJson], 'v1');
    archive.add('2024-05-01T11:00:00Z', [recordJson(contactId(90))], 'other');
    archive.add('2024-05-01T13:01:00Z', [newestJson], 'v2');
    return archive;
  };
  const claimedItem = (): LedgerItem => ({
    contactId: contactId(7),
    claimed: keyOf(newestJson),
    sent: keyOf(claimedJson),
    receivedAt: Date.parse('2024-05-01T13:01:30Z'),
  });

  it('holdCallOverrides: a read that keeps failing marks the record pending, then fails the event', async () => {
    const archive = archiveOfVersions();
    archive.readObject = async () => {
      throw new Error('S3 GetObject: SlowDown');
    };
    const ledger = new FakeLedger([claimedItem()]);

    const held = holdCallOverrides(
      {
        contactId: contactId(7),
        fieldOverrides: { toNumber: '+15550109999' },
        at: 1_000,
        archiveLookupHours: 6,
      },
      { ledger, archive, syncQueue: new FakeSyncQueue() },
    );

    await expect(held).rejects.toThrow('S3 GetObject: SlowDown');
    expect(ledger.items.get(contactId(7))?.pendingSince).toBe(1_000);
  });

  it('resyncContact: resets nothing and sends nothing when the time runs out before the window is read whole', async () => {
    const archive = archiveOfVersions();
    const ledger = new FakeLedger([claimedItem()]);
    const syncQueue = new FakeSyncQueue();
    const request = {
      contactId: contactId(7),
      reset: true,
      from: '2024-05-01T10:00:00Z',
      to: '2024-05-01T14:00:00Z',
      nowMs: Date.parse('2024-05-02T00:00:00Z'),
      maxWindowDays: 7,
      latestTimestampMs: Date.parse('2024-05-02T00:00:00Z'),
      toleranceMs: 900_000,
    };
    const ports = {
      ledger,
      restApi: new FakeSalesforceRestApi([]),
      archive,
      syncQueue,
      sleep: noWait,
    };

    // Time for two objects of three: the older version found, the newest not read.
    const refused = await resyncContact(request, {
      ...ports,
      hasTimeLeft: () => archive.reads.length < 2,
    }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PermanentError);
    expect((refused as Error).message).toContain('No time left to read the archive window');
    expect(ledger.items.get(contactId(7))?.claimed).toBe(keyOf(newestJson));
    expect(syncQueue.enqueued).toEqual([]);

    const done = await resyncContact(request, ports);
    expect(done.counts).toEqual({ reset: 1, archiveObjects: 3, enqueued: 1, noRecord: 0 });
    expect(syncQueue.enqueued.map((item) => item.record)).toEqual([{ json: newestJson }]);
  });

  it("resyncContact: reads a week-old contact's default window whole, however many objects it holds", async () => {
    const created = Date.parse('2024-05-01T10:00:00Z');
    const archive = new FakeArchive();
    // One object per 300 s (the delivery stream's buffer interval) from an hour before the call to 7 days after.
    for (let at = created - 3_600_000; at < created + 7 * 86_400_000; at += 300_000)
      archive.add(new Date(at).toISOString(), [recordJson(contactId(90))], `o${at}`);
    const newest = recordJson(contactId(7), '2024-05-07T09:00:00Z', 'newest');
    archive.add('2024-05-07T09:01:00Z', [newest], 'record');
    const syncQueue = new FakeSyncQueue();

    const result = await resyncContact(
      {
        contactId: contactId(7),
        reset: true,
        nowMs: created + 8 * 86_400_000,
        maxWindowDays: 7,
        latestTimestampMs: created + 8 * 86_400_000,
        toleranceMs: 900_000,
      },
      {
        ledger: new FakeLedger(),
        restApi: new FakeSalesforceRestApi([
          { Id: '0LQ7', VendorCallKey: contactId(7), CreatedDate: '2024-05-01T10:00:00.000Z' },
        ]),
        archive,
        syncQueue,
        sleep: noWait,
      },
    );

    expect(result.counts).toMatchObject({ archiveObjects: 2029, enqueued: 1 });
    expect(syncQueue.enqueued.map((item) => item.record)).toEqual([{ json: newest }]);
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
