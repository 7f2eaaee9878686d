/**
 * Contract tests of the events ctr-sync sends and receives: the example
 * PutEvents entries in `events/examples/` against the detail schemas and
 * descriptors in `events/` and the rule patterns in `events/patterns.json`
 * (the same JSON serverless.yml and the local stack route with).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ContactRecordSchema } from '../../domain/contact-record';
import {
  buildCtrReceivedDetail,
  CtrReceived,
  CtrReceivedDetailSchema,
} from '../../events/ctr-received';
import patterns from '../../events/patterns.json';
import { MAX_REQUEST_BYTES } from '../../functions/shared/event-publisher';
import {
  DlqRedriveRequested,
  DlqRedriveRequestedDetailSchema,
  ReplayRequested,
  ReplayRequestedDetailSchema,
  ResyncRequested,
  ResyncRequestedDetailSchema,
  SweepRequested,
  SweepRequestedDetailSchema,
} from '../../events/redrive';
import {
  StartCallProcessing,
  StartCallProcessingDetailSchema,
} from '../../events/start-call-processing';
import { type EventPattern, matchesEventPattern } from '../../local/eventbridge/event-pattern';

const examplesDir = new URL('../../events/examples/', import.meta.url);
const fixturesDir = new URL('../fixtures/ctr/', import.meta.url);

/**
 * An example file is one `aws events put-events --entries` request, and
 * PutEvents refuses a request whose entries total 1 MB or more (Amazon
 * EventBridge API Reference, PutEvents), counted as ingest counts it
 * ({@link MAX_REQUEST_BYTES}, 1,000,000 bytes).
 */
function requestSize(entries: readonly PutEventsEntry[]): number {
  // Sizes as "Calculating PutEvents event entry size" (EventBridge User Guide) counts them.
  return entries.reduce(
    (total, entry) =>
      total +
      (entry.Time === undefined ? 0 : 14) +
      Buffer.byteLength(entry.Source) +
      Buffer.byteLength(entry.DetailType) +
      Buffer.byteLength(entry.Detail) +
      (entry.Resources ?? []).reduce((bytes, resource) => bytes + Buffer.byteLength(resource), 0),
    0,
  );
}

/** One entry of `aws events put-events --entries`, as the AWS CLI reads it. */
const PutEventsEntrySchema = z
  .object({
    Source: z.string().min(1),
    DetailType: z.string().min(1),
    Detail: z.string().min(1),
    EventBusName: z.literal('ctr-sync-dev'),
    Resources: z.array(z.string()).optional(),
    Time: z.string().optional(),
    TraceHeader: z.string().optional(),
  })
  .strict();
type PutEventsEntry = z.infer<typeof PutEventsEntrySchema>;

const PutEventsEntriesSchema = z.array(PutEventsEntrySchema).min(1).max(10);

type PatternName = keyof typeof patterns;

/** A descriptor, the schema of its detail, and the rule pattern that routes it. */
interface Contract {
  source: string;
  detailType: string;
  schema: z.ZodType;
  /** The rule patterns that route it: its subscribers. */
  routedBy: PatternName[];
}

const CONTRACTS = {
  // Two subscribers, one pattern: the sync rule and the archive rule.
  ctrReceived: { ...CtrReceived, schema: CtrReceivedDetailSchema, routedBy: ['ctrReceived'] },
  sweepRequested: {
    ...SweepRequested,
    schema: SweepRequestedDetailSchema,
    routedBy: ['redriveRequested'],
  },
  dlqRedriveRequested: {
    ...DlqRedriveRequested,
    schema: DlqRedriveRequestedDetailSchema,
    routedBy: ['redriveRequested'],
  },
  replayRequested: {
    ...ReplayRequested,
    schema: ReplayRequestedDetailSchema,
    routedBy: ['redriveRequested'],
  },
  startCallProcessing: {
    ...StartCallProcessing,
    schema: StartCallProcessingDetailSchema,
    routedBy: ['startCallProcessing'],
  },
  resyncRequested: {
    ...ResyncRequested,
    schema: ResyncRequestedDetailSchema,
    routedBy: ['redriveRequested'],
  },
} satisfies Record<string, Contract>;

/** Which contract each example file follows. */
const EXAMPLES: Record<string, Contract> = {
  'ctr-received.json': CONTRACTS.ctrReceived,
  'sweep-requested.json': CONTRACTS.sweepRequested,
  'sweep-requested-resume.json': CONTRACTS.sweepRequested,
  'dlq-redrive-requested.json': CONTRACTS.dlqRedriveRequested,
  'start-call-processing.json': CONTRACTS.startCallProcessing,
  'replay-requested.json': CONTRACTS.replayRequested,
  'resync-requested.json': CONTRACTS.resyncRequested,
};

const PATTERN_NAMES = Object.keys(patterns) as PatternName[];

function readExampleEntries(file: string): PutEventsEntry[] {
  const text = readFileSync(new URL(file, examplesDir), 'utf8');
  return PutEventsEntriesSchema.parse(JSON.parse(text));
}

/** The event EventBridge delivers to targets for a PutEvents entry. */
function toEvent(entry: PutEventsEntry): Record<string, unknown> {
  return {
    version: '0',
    id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
    'detail-type': entry.DetailType,
    source: entry.Source,
    account: '123456789012',
    time: entry.Time ?? '2026-11-21T12:00:00Z',
    region: 'us-east-1',
    resources: entry.Resources ?? [],
    detail: JSON.parse(entry.Detail),
  };
}

function exampleDetail(file: string): Record<string, unknown> {
  const [entry] = readExampleEntries(file);
  if (entry === undefined) throw new Error(`${file} has no entries`);
  return JSON.parse(entry.Detail) as Record<string, unknown>;
}

describe('example PutEvents entries (events/examples)', () => {
  const files = readdirSync(examplesDir)
    .filter((name) => name.endsWith('.json'))
    .sort();

  it('has a contract for every example file and a file for every contract listed', () => {
    expect(files).toEqual(Object.keys(EXAMPLES).sort());
  });

  describe.each(files)('%s', (file) => {
    const contract = EXAMPLES[file];

    it('parses as a list of put-events entries on the ctr-sync-dev bus', () => {
      expect(() => readExampleEntries(file)).not.toThrow();
    });

    it('carries the source and detail-type of its event descriptor', () => {
      for (const entry of readExampleEntries(file)) {
        expect({ source: entry.Source, detailType: entry.DetailType }).toEqual({
          source: contract?.source,
          detailType: contract?.detailType,
        });
      }
    });

    it('has a Detail string that parses as JSON and validates against its schema', () => {
      for (const entry of readExampleEntries(file)) {
        const result = contract?.schema.safeParse(JSON.parse(entry.Detail));
        expect(result?.error).toBeUndefined();
        expect(result?.success).toBe(true);
      }
    });

    it('fits in one PutEvents request (entries under 1,000,000 bytes in all)', () => {
      expect(requestSize(readExampleEntries(file))).toBeLessThan(MAX_REQUEST_BYTES);
    });

    it('matches the rule patterns that route it and no other rule pattern', () => {
      for (const entry of readExampleEntries(file)) {
        const event = toEvent(entry);
        const matched = PATTERN_NAMES.filter((name) =>
          matchesEventPattern(patterns[name] as EventPattern, event),
        );
        expect(matched).toEqual(contract?.routedBy);
      }
    });
  });

  it('builds ctr-received.json from the real inbound-answered sample, exactly as ingest does', () => {
    const record = JSON.parse(readFileSync(new URL('inbound-answered.json', fixturesDir), 'utf8'));
    const [entry] = readExampleEntries('ctr-received.json');

    expect(entry?.Detail).toBe(
      buildCtrReceivedDetail(JSON.stringify(record), record.ContactId, record.LastUpdateTimestamp),
    );
  });

  it('resumes the sweep window of sweep-requested.json after a VendorCallKey', () => {
    const window = exampleDetail('sweep-requested.json');
    const resume = exampleDetail('sweep-requested-resume.json');

    expect(resume).toEqual({ ...window, startAfter: expect.any(String) });
    expect(Date.parse(String(window.from))).toBeLessThan(Date.parse(String(window.to)));
  });

  it('uses fictional +1555 numbers in start-call-processing.json', () => {
    const detail = exampleDetail('start-call-processing.json');

    expect(detail.toNumber).toMatch(/^\+1555\d{7}$/);
    expect(detail.fromNumber).toMatch(/^\+1555\d{7}$/);
  });
});

/** Every contact record in the fixtures, with the JSON text ingest would receive for it. */
function fixtureRecords(): { name: string; record: unknown; json: string }[] {
  return readdirSync(fixturesDir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .flatMap((file) => {
      const text = readFileSync(new URL(file, fixturesDir), 'utf8');
      const value: unknown = JSON.parse(text);
      // A single-record file is embedded as it arrived (whitespace and all), as ingest forwards text.
      if (!Array.isArray(value)) return [{ name: file, record: value, json: text }];
      return value.map((record, index) => ({
        name: `${file}[${index}]`,
        record,
        json: JSON.stringify(record),
      }));
    });
}

describe('buildCtrReceivedDetail', () => {
  const validRecords = fixtureRecords().flatMap(({ name, record, json }) => {
    const result = ContactRecordSchema.safeParse(record);
    return result.success ? [{ name, record: result.data, json }] : [];
  });

  it('finds schema-valid contact records among the fixtures', () => {
    expect(validRecords.length).toBeGreaterThan(0);
  });

  it.each(validRecords)(
    'builds a detail that parses and validates for $name',
    ({ record, json }) => {
      const detail = buildCtrReceivedDetail(json, record.ContactId, record.LastUpdateTimestamp);

      const result = CtrReceivedDetailSchema.safeParse(JSON.parse(detail));

      expect(result.error).toBeUndefined();
      expect(result.data).toMatchObject({
        schemaVersion: CtrReceived.schemaVersion,
        contactId: record.ContactId,
        lastUpdateTimestamp: record.LastUpdateTimestamp,
      });
      expect(result.data?.contactRecord).toEqual(JSON.parse(json));
      expect(result.data).not.toHaveProperty('fieldOverrides');
    },
  );

  it.each(validRecords)('carries field overrides that validate for $name', ({ record, json }) => {
    const fieldOverrides = { toNumber: '+15555550100', fromNumber: '+15555550199' };

    const detail = buildCtrReceivedDetail(
      json,
      record.ContactId,
      record.LastUpdateTimestamp,
      fieldOverrides,
    );

    const result = CtrReceivedDetailSchema.safeParse(JSON.parse(detail));
    expect(result.error).toBeUndefined();
    expect(result.data?.fieldOverrides).toEqual(fieldOverrides);
  });
});

describe('detail schemas', () => {
  function issuesOf(schema: z.ZodType, detail: unknown): z.core.$ZodIssue[] {
    const result = schema.safeParse(detail);
    return result.success ? [] : result.error.issues;
  }

  it('reject a CtrReceived detail without contactId', () => {
    const { contactId: _omitted, ...detail } = exampleDetail('ctr-received.json');

    expect(issuesOf(CtrReceivedDetailSchema, detail)).toEqual([
      expect.objectContaining({ path: ['contactId'] }),
    ]);
  });

  it('reject a CtrReceived detail of another schema version', () => {
    const detail = { ...exampleDetail('ctr-received.json'), schemaVersion: '2' };

    expect(issuesOf(CtrReceivedDetailSchema, detail)).toEqual([
      expect.objectContaining({ path: ['schemaVersion'] }),
    ]);
  });

  it('reject a START_CALL_PROCESSING detail without callId', () => {
    const { callId: _omitted, ...detail } = exampleDetail('start-call-processing.json');

    expect(issuesOf(StartCallProcessingDetailSchema, detail)).toEqual([
      expect.objectContaining({ path: ['callId'] }),
    ]);
  });

  it('reject unknown keys in a SweepRequested detail', () => {
    const detail = { ...exampleDetail('sweep-requested.json'), maxRecord: 10 };

    expect(issuesOf(SweepRequestedDetailSchema, detail)).toEqual([
      expect.objectContaining({ code: 'unrecognized_keys', keys: ['maxRecord'] }),
    ]);
  });

  it('reject a SweepRequested window bound that is not an ISO-8601 timestamp', () => {
    const detail = { ...exampleDetail('sweep-requested.json'), from: '2026-11-20' };

    expect(issuesOf(SweepRequestedDetailSchema, detail)).toEqual([
      expect.objectContaining({ path: ['from'] }),
    ]);
  });

  it('reject unknown keys in a DlqRedriveRequested detail', () => {
    const detail = { ...exampleDetail('dlq-redrive-requested.json'), max: 10 };

    expect(issuesOf(DlqRedriveRequestedDetailSchema, detail)).toEqual([
      expect.objectContaining({ code: 'unrecognized_keys', keys: ['max'] }),
    ]);
  });

  it('reject a ReplayRequested window that ends before it starts, or reads another prefix', () => {
    const detail = exampleDetail('replay-requested.json');

    expect(issuesOf(ReplayRequestedDetailSchema, { ...detail, to: detail.from })).toEqual([
      expect.objectContaining({ path: ['to'], message: 'from must be before to' }),
    ]);
    expect(issuesOf(ReplayRequestedDetailSchema, { ...detail, prefix: 'quarantine/' })).toEqual([
      expect.objectContaining({ path: ['prefix'] }),
    ]);
  });

  it('reject a ResyncRequested with one window bound only, or a window that ends before it starts', () => {
    const detail = exampleDetail('resync-requested.json');

    expect(
      issuesOf(ResyncRequestedDetailSchema, { ...detail, from: '2026-11-20T00:00:00Z' }),
    ).toEqual([
      expect.objectContaining({ path: ['to'], message: 'give both from and to, or neither' }),
    ]);
    expect(
      issuesOf(ResyncRequestedDetailSchema, {
        ...detail,
        from: '2026-11-20T00:00:00Z',
        to: '2026-11-19T00:00:00Z',
      }),
    ).toEqual([expect.objectContaining({ path: ['to'], message: 'from must be before to' })]);
    expect(issuesOf(ResyncRequestedDetailSchema, { reset: true })).toEqual([
      expect.objectContaining({ path: ['contactId'] }),
    ]);
  });

  it('reject START_CALL_PROCESSING numbers SCV would not take, and accept E.164 and WebRTC_Default', () => {
    const detail = exampleDetail('start-call-processing.json');

    for (const fromNumber of ['Bobs cell', '15550100199', '+0155501001', '+1 555 010 0199']) {
      expect([
        fromNumber,
        issuesOf(StartCallProcessingDetailSchema, { ...detail, fromNumber }),
      ]).toEqual([fromNumber, [expect.objectContaining({ path: ['fromNumber'] })]]);
    }
    for (const toNumber of ['+15550100199', 'WebRTC_Default', '+442071838750']) {
      expect(issuesOf(StartCallProcessingDetailSchema, { ...detail, toNumber })).toEqual([]);
    }
  });
});
