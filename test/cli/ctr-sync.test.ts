/**
 * The operator command `ctr-sync` (cli/): usage and exit codes, the PutEvents
 * entries it puts (checked against aws-sdk-client-mock), `FailedEntryCount`,
 * `--wait` on the run report, `status`, `transform` on JSON lines; and one
 * trigger put through the real SDK on the local EventBridge stand-in.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient, GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeEventBusCommand,
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandInput,
} from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import patterns from '../../events/patterns.json';
import { type EventBridgeEvent, startLocalEventBridge } from '../../local/eventbridge/server';
import { loadContactRecordFixture } from '../fixtures/factories';
import { runCli as run } from './run-cli';

const eventBridge = mockClient(EventBridgeClient);
const dynamo = mockClient(DynamoDBClient);
const sqs = mockClient(SQSClient);
const cloudWatch = mockClient(CloudWatchClient);

function putEntries(): NonNullable<PutEventsCommandInput['Entries']> {
  return eventBridge
    .commandCalls(PutEventsCommand)
    .flatMap((call) => call.args[0].input.Entries ?? []);
}

const EVENT_ID = '3f5b0c2e-7d1a-4e8b-9c6f-2a4d8e1b7c90';

beforeEach(() => {
  eventBridge.reset();
  dynamo.reset();
  sqs.reset();
  cloudWatch.reset();
  eventBridge.on(DescribeEventBusCommand).resolves({ Name: 'ctr-sync-prod' });
  eventBridge
    .on(PutEventsCommand)
    .resolves({ FailedEntryCount: 0, Entries: [{ EventId: EVENT_ID }] });
});

describe('ctr-sync usage', () => {
  it('lists the subcommands with --help, exit 0; without a command, exit 2', async () => {
    const help = await run(['--help']);
    const none = await run([]);

    expect(help.code).toBe(0);
    for (const command of [
      'sweep',
      'redrive',
      'replay',
      'resync',
      'status',
      'peek',
      'pending',
      'transform',
    ]) {
      expect(help.out).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
    expect(none.code).toBe(2);
  });

  it.each(['sweep', 'redrive', 'replay', 'resync', 'status', 'peek', 'pending', 'transform'])(
    'describes %s with --help, exit 0, sending nothing',
    async (command) => {
      const { code, out } = await run([command, '--help']);

      expect(code).toBe(0);
      expect(out).toContain(`usage: ctr-sync ${command}`);
      expect(eventBridge.calls()).toHaveLength(0);
    },
  );

  it.each([
    [['sweeps'], 'unknown command "sweeps"; see ctr-sync --help'],
    [['sweep', '--stag', 'prod'], "Unknown option '--stag'; see ctr-sync sweep --help"],
    [['sweep'], '--stage is required'],
    [['sweep', '--stage', 'prod/x'], '--stage takes letters, digits and hyphens'],
    [
      ['redrive', '--stage', 'prod', '--limit', 'ten'],
      '--limit takes a whole number above 0, not "ten"',
    ],
    [
      ['replay', '--stage', 'prod', '--from', '2026-11-20T00:00:00Z'],
      'replay needs --from and --to',
    ],
    [
      ['replay', '--stage', 'prod', '--from', '2026-11-20', '--to', '2026-11-21T00:00:00Z'],
      'invalid replay: --from',
    ],
    [['resync', '--stage', 'prod'], 'resync needs --contact-id'],
    [
      ['resync', '--stage', 'prod', '--contact-id', 'a', '--contact-id', 'b', '--dry-run'],
      'resync repairs one contact: give one --contact-id per command',
    ],
    [
      [
        'sweep',
        '--stage',
        'prod',
        '--from',
        '2026-11-21T00:00:00Z',
        '--to',
        '2026-11-20T00:00:00Z',
      ],
      'invalid sweep: --to: from must be before to',
    ],
    [['sweep', '--stage', 'prod', '--endpoint-url', 'notaurl'], '--endpoint-url takes a URL'],
    [
      ['peek', '--stage', 'dev', '--queue', 'sync-dlq', '--endpoint-url', 'http://127.0.0.1:1'],
      'set AWS_ENDPOINT_URL_SQS',
    ],
    [['transform'], 'transform takes one FILE'],
    [['transform', 'no/such/file.json'], 'cannot read no/such/file.json: ENOENT'],
  ])('exits 2 on %j, one line on stderr naming the fix', async (argv, message) => {
    const { code, err } = await run(argv);

    expect(code).toBe(2);
    expect(err.split('\n')).toHaveLength(1);
    expect(err).toContain(message);
    expect(putEntries()).toEqual([]);
  });
});

describe('ctr-sync triggers', () => {
  it('prints the entries with --dry-run, as the AWS CLI reads them, and sends nothing', async () => {
    const { code, out } = await run([
      'replay',
      '--stage',
      'prod',
      '--from',
      '2026-11-20T00:00:00Z',
      '--to',
      '2026-11-21T00:00:00Z',
      '--contact-id',
      'a',
      '--contact-id',
      'b',
      '--dry-run',
    ]);

    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual([
      {
        Source: 'ctr-sync',
        DetailType: 'ReplayRequested',
        Detail: JSON.stringify({
          from: '2026-11-20T00:00:00Z',
          to: '2026-11-21T00:00:00Z',
          contactIds: ['a', 'b'],
        }),
        EventBusName: 'ctr-sync-prod',
      },
    ]);
    expect(eventBridge.calls()).toHaveLength(0);
  });

  it.each([
    [['sweep', '--stage', 'prod'], 'SweepRequested', {}],
    [['redrive', '--stage', 'prod', '--limit', '50'], 'DlqRedriveRequested', { maxMessages: 50 }],
    [
      ['resync', '--stage', 'prod', '--contact-id', 'c-1', '--reset', '--reset-overrides'],
      'ResyncRequested',
      { contactId: 'c-1', reset: true, resetOverrides: true },
    ],
  ])(
    "puts %j on the stage's bus, after checking it exists, and prints the EventId",
    async (argv, detailType, detail) => {
      const { code, out } = await run(argv);

      expect(code).toBe(0);
      expect(eventBridge.commandCalls(DescribeEventBusCommand)[0]?.args[0].input).toEqual({
        Name: 'ctr-sync-prod',
      });
      expect(putEntries()).toEqual([
        {
          Source: 'ctr-sync',
          DetailType: detailType,
          Detail: JSON.stringify(detail),
          EventBusName: 'ctr-sync-prod',
        },
      ]);
      expect(out).toBe(`${detailType} put on ctr-sync-prod: EventId ${EVENT_ID}`);
    },
  );

  it("exits 1 with the entry's ErrorCode and ErrorMessage when FailedEntryCount is not 0", async () => {
    eventBridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [
        {
          ErrorCode: 'NotAuthorizedForDetailTypeException',
          ErrorMessage: 'Not authorized for the detail type.',
        },
      ],
    });

    const { code, out, err } = await run(['sweep', '--stage', 'prod']);

    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe(
      'ctr-sync: ctr-sync-prod refused SweepRequested: NotAuthorizedForDetailTypeException: Not authorized for the detail type.',
    );
  });

  it('exits 2 without putting anything when the stage has no bus', async () => {
    eventBridge.on(DescribeEventBusCommand).rejects(
      Object.assign(new Error('Event bus ctr-sync-prdo does not exist.'), {
        name: 'ResourceNotFoundException',
      }),
    );

    const { code, err } = await run(['sweep', '--stage', 'prdo']);

    expect(code).toBe(2);
    expect(err).toContain('no event bus ctr-sync-prdo in us-east-1: is stage prdo deployed there?');
    expect(putEntries()).toEqual([]);
  });

  it('waits for the run report kept under the EventId, prints it, and exits 0', async () => {
    const report = { schemaVersion: '1', operation: 'resync', counts: { reset: 1, enqueued: 1 } };
    dynamo
      .on(GetItemCommand)
      .resolvesOnce({})
      .resolvesOnce({})
      .resolves({ Item: { report: { S: JSON.stringify(report) }, at: { N: '1' } } });

    const { code, out } = await run(['resync', '--stage', 'prod', '--contact-id', 'c-1', '--wait']);

    expect(code).toBe(0);
    const reads = dynamo.commandCalls(GetItemCommand).map((call) => call.args[0].input);
    expect(reads).toHaveLength(3);
    expect(reads[0]).toMatchObject({
      TableName: 'ctr-sync-prod-ledger',
      Key: { contactId: { S: `redrive-report#${EVENT_ID}` } },
    });
    expect(JSON.parse(out.slice(out.indexOf('{')))).toEqual(report);
  });

  it('exits 1 when the run does not report within --wait-seconds, or reports an error', async () => {
    dynamo.on(GetItemCommand).resolves({});
    const late = await run(['sweep', '--stage', 'prod', '--wait', '--wait-seconds', '6']);

    dynamo.on(GetItemCommand).resolves({
      Item: {
        report: { S: JSON.stringify({ operation: 'sweep', counts: {}, error: 'SCV down' }) },
        at: { N: '1' },
      },
    });
    const failed = await run(['sweep', '--stage', 'prod', '--wait']);

    expect(late.code).toBe(1);
    expect(late.err).toContain('no report of');
    // 6 seconds at one read every 2 seconds.
    expect(dynamo.commandCalls(GetItemCommand).length).toBeGreaterThanOrEqual(3);
    expect(failed.code).toBe(1);
    expect(failed.err).toContain('the run stopped early: SCV down');
  });
});

describe('ctr-sync --wait when the report cannot be read or the run failed', () => {
  it('says the trigger was put, with its EventId, when the report cannot be read (exit 1, no second put)', async () => {
    dynamo
      .on(GetItemCommand)
      .rejects(Object.assign(new Error('no'), { name: 'AccessDeniedException' }));

    const { code, err } = await run(['sweep', '--stage', 'prod', '--wait']);

    expect(code).toBe(1);
    expect(err).toContain(
      `the trigger was put (EventId ${EVENT_ID}), but its report cannot be read`,
    );
    expect(putEntries()).toHaveLength(1);
  });

  it('reports a run that failed (its failure report), exit 1', async () => {
    dynamo.on(GetItemCommand).resolves({
      Item: {
        report: {
          S: JSON.stringify({ failed: true, error: 'Sweep window of 8.0 days is longer' }),
        },
        at: { N: '1' },
      },
    });

    const { code, err } = await run(['sweep', '--stage', 'prod', '--wait']);

    expect(code).toBe(1);
    expect(err).toContain(
      'the run failed (Lambda may retry it; then the redrive DLQ): Sweep window of 8.0 days',
    );
  });
});

describe('ctr-sync status', () => {
  function stage(options: { dlqMessages: number; stalePending: number; alarms: string[] }) {
    sqs.on(GetQueueUrlCommand).callsFake((input: { QueueName: string }) => ({
      QueueUrl: `https://sqs.us-east-1.amazonaws.com/123456789012/${input.QueueName}`,
    }));
    sqs.on(GetQueueAttributesCommand).callsFake((input: { QueueUrl: string }) => ({
      Attributes: {
        ApproximateNumberOfMessages: input.QueueUrl.endsWith('-sync-dlq')
          ? String(options.dlqMessages)
          : '0',
        ApproximateNumberOfMessagesNotVisible: input.QueueUrl.endsWith('-sync') ? '4' : '0',
      },
    }));
    cloudWatch
      .on(GetMetricDataCommand)
      .resolves({ MetricDataResults: [{ Id: 'q0', Values: [42, 17] }] });
    cloudWatch.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: options.alarms.map((AlarmName) => ({ AlarmName })),
    });
    dynamo.on(QueryCommand).callsFake((input: { KeyConditionExpression: string }) => ({
      Count: input.KeyConditionExpression.includes('<')
        ? options.stalePending
        : options.stalePending + 2,
    }));
    dynamo.on(GetItemCommand).resolves({
      Item: {
        report: {
          S: JSON.stringify({ operation: 'sweep', counts: { queried: 3 }, complete: true }),
        },
        at: { N: String(Date.now() - 20 * 60_000) },
      },
    });
  }

  it('shows every queue, the pending syncs, the alarms and the last sweep; exit 0 when healthy', async () => {
    stage({ dlqMessages: 0, stalePending: 0, alarms: [] });

    const { code, out } = await run(['status', '--stage', 'prod']);

    expect(code).toBe(0);
    for (const queue of ['sync', 'sync-dlq', 'redrive-dlq', 'ingest-failures', 'archive-dlq']) {
      expect(out).toMatch(new RegExp(`^ctr-sync-prod-${queue} `, 'm'));
    }
    expect(out).toMatch(/^ctr-sync-prod-sync +0 +4 +42$/m);
    expect(out).toContain('pending syncs: 2 (0 for more than an hour)');
    expect(out).toContain('alarms in ALARM: none');
    expect(out).toContain('last sweep: 20 min ago, {"queried":3}');
    expect(out.split('\n').at(-1)).toBe('healthy');
    expect(cloudWatch.commandCalls(DescribeAlarmsCommand)[0]?.args[0].input).toMatchObject({
      AlarmNamePrefix: 'ctr-sync-prod-',
      StateValue: 'ALARM',
    });
  });

  it('exits 1 and says why when a DLQ holds messages, syncs are stuck or an alarm fires', async () => {
    stage({ dlqMessages: 3, stalePending: 1, alarms: ['ctr-sync-prod-sync-dlq-not-empty'] });

    const { code, out } = await run(['status', '--stage', 'prod']);

    expect(code).toBe(1);
    expect(out).toContain('needs a person: ctr-sync-prod-sync-dlq holds 3 message(s)');
    expect(out).toContain('needs a person: 1 sync(s) pending for more than an hour');
    expect(out).toContain('needs a person: alarm ctr-sync-prod-sync-dlq-not-empty is in ALARM');
  });

  it('exits 1 when the last sweep stopped early', async () => {
    stage({ dlqMessages: 0, stalePending: 0, alarms: [] });
    dynamo.on(GetItemCommand).resolves({
      Item: {
        report: { S: JSON.stringify({ operation: 'sweep', counts: {}, error: 'SCV down' }) },
        at: { N: String(Date.now()) },
      },
    });

    const { code, out } = await run(['status', '--stage', 'prod']);

    expect(code).toBe(1);
    expect(out).toContain('needs a person: the last sweep stopped early: SCV down');
  });

  it('exits 1 when a part cannot be read, naming it', async () => {
    stage({ dlqMessages: 0, stalePending: 0, alarms: [] });
    cloudWatch
      .on(DescribeAlarmsCommand)
      .rejects(Object.assign(new Error('not allowed'), { name: 'AccessDenied' }));

    const { code, out } = await run(['status', '--stage', 'prod']);

    expect(code).toBe(1);
    expect(out).toContain('alarms in ALARM: ?');
    expect(out).toContain(
      'needs a person: unknown: alarms (CloudWatch): AccessDenied: not allowed',
    );
  });
});

describe('ctr-sync transform', () => {
  const dir = mkdtemp(join(tmpdir(), 'ctr-sync-cli-'));
  afterAll(async () => rm(await dir, { recursive: true, force: true }));

  it('reports a malformed line of JSON lines on its own, and the others', async () => {
    const path = join(await dir, 'three.jsonl');
    const good = JSON.stringify(loadContactRecordFixture('chat'));
    await writeFile(path, `${good}\n{"ContactId": broken\n${good}\n`);

    const { code, out, err } = await run(['transform', path]);

    expect(code).toBe(2);
    expect(out.split('\n')).toHaveLength(2);
    expect(err).toContain('(record 2 of 3)');
  });

  it('reads JSON lines, one result per line, as npm start -- --input does', async () => {
    const path = join(await dir, 'records.jsonl');
    const records = [
      loadContactRecordFixture('inbound-answered'),
      loadContactRecordFixture('chat'),
    ];
    await writeFile(path, `${records.map((record) => JSON.stringify(record)).join('\n')}\n`);

    const { code, out } = await run(['transform', path]);

    expect(code).toBe(0);
    const lines = out.split('\n').map((line) => JSON.parse(line));
    expect(lines.map((line) => line.contactId)).toEqual(records.map((record) => record.ContactId));
    expect(lines[0].fieldValues).toBeDefined();
    expect(lines[1]).toEqual({ contactId: records[1]?.ContactId, skipped: 'channel-not-voice' });
  });
});

describe('ctr-sync against the local EventBridge stand-in (real SDK, real wire protocol)', () => {
  it('puts a sweep on ctr-sync-dev that its rule delivers; a stage without a bus exits 2', async () => {
    eventBridge.restore();
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    const delivered: EventBridgeEvent[] = [];
    const local = await startLocalEventBridge({
      eventBusNames: ['ctr-sync-dev'],
      rules: [
        {
          name: 'ctr-sync-dev-redrive-rule-1',
          eventBusName: 'ctr-sync-dev',
          eventPattern: patterns.redriveRequested,
          targets: [
            {
              id: 'redrive',
              deliver: async (event) => void delivered.push(event as EventBridgeEvent),
            },
          ],
        },
      ],
    });
    try {
      const put = await run([
        'sweep',
        '--stage',
        'dev',
        '--endpoint-url',
        local.endpoint,
        '--max-records',
        '5',
      ]);
      const missing = await run(['sweep', '--stage', 'prod', '--endpoint-url', local.endpoint]);
      await local.waitUntilIdle();

      expect(put.code).toBe(0);
      expect(put.out).toMatch(/^SweepRequested put on ctr-sync-dev: EventId [0-9a-f-]{36}$/);
      expect(delivered.map((event) => [event['detail-type'], event.detail])).toEqual([
        ['SweepRequested', { maxRecords: 5 }],
      ]);
      expect(put.out).toContain(delivered[0]?.id);
      expect(missing.code).toBe(2);
    } finally {
      vi.unstubAllEnvs();
      await local.stop();
    }
  });
});
