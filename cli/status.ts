/**
 * `ctr-sync status --stage S`: one screen on a stage's health.
 *
 * - Each queue (the sync queue, the dead-letter queues, the ingest failures
 *   queue): messages visible and in flight (`GetQueueAttributes`), and the
 *   age of its oldest message (CloudWatch `ApproximateAgeOfOldestMessage`, the
 *   largest of the last 15 minutes; SQS has no attribute for it).
 * - The sync ledger: versions pending (the sparse `pending` index), and those
 *   pending for more than an hour (the sweep resends after
 *   `pendingResendAfterMinutes`, 15 by default, so these are stuck).
 * - The stage's alarms in ALARM (`DescribeAlarms`, prefix `ctr-sync-<stage>-`).
 * - The last sweep's report (functions/shared/run-reports.ts).
 *
 * Healthy (exit 0): every dead-letter and failures queue empty, nothing
 * pending for more than an hour, no alarm in ALARM, and every part read. A
 * part that cannot be read is shown as unknown and counts as unhealthy (exit 1).
 */
import { DescribeAlarmsCommand, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { createRunReportStore, LAST_SWEEP } from '../functions/shared/run-reports';
import { type Clients, stageNames } from './aws';
import { EXIT, type Io } from './io';

/** One queue's numbers; `undefined` when it could not be read. */
export interface QueueStatus {
  name: string;
  visible?: number;
  inFlight?: number;
  /** Seconds. */
  oldestAgeSeconds?: number;
  error?: string;
}

/** What `status` read. */
export interface StageStatus {
  queues: QueueStatus[];
  pending?: { total: number; olderThanAnHour: number };
  alarms?: string[];
  lastSweep?: { report: Record<string, unknown>; at: number };
  /** Whether the last sweep could be read (absent: none in the last day). */
  lastSweepRead: boolean;
  /** Parts that could not be read, with why. */
  unknown: string[];
}

const STALE_PENDING_MS = 3_600_000;

const describeError = (error: unknown) =>
  `${(error as { name?: string }).name ?? 'Error'}: ${(error as Error).message}`;

/** Read everything `status` shows; never throws (a part that fails is `unknown`). */
export async function readStatus(
  stage: string,
  clients: Clients,
  now: number = Date.now(),
): Promise<StageStatus> {
  const names = stageNames(stage);
  const unknown: string[] = [];
  const queues = await Promise.all(
    Object.values(names.queues).map(async (name): Promise<QueueStatus> => {
      try {
        const { QueueUrl } = await clients.sqs().send(new GetQueueUrlCommand({ QueueName: name }));
        const { Attributes = {} } = await clients.sqs().send(
          new GetQueueAttributesCommand({
            QueueUrl,
            AttributeNames: [
              'ApproximateNumberOfMessages',
              'ApproximateNumberOfMessagesNotVisible',
            ],
          }),
        );
        return {
          name,
          visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
          inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
        };
      } catch (error) {
        unknown.push(`queue ${name}: ${describeError(error)}`);
        return { name, error: describeError(error) };
      }
    }),
  );
  try {
    const result = await clients.cloudWatch().send(
      new GetMetricDataCommand({
        StartTime: new Date(now - 15 * 60_000),
        EndTime: new Date(now),
        MetricDataQueries: queues.map((queue, index) => ({
          Id: `q${index}`,
          MetricStat: {
            Metric: {
              Namespace: 'AWS/SQS',
              MetricName: 'ApproximateAgeOfOldestMessage',
              Dimensions: [{ Name: 'QueueName', Value: queue.name }],
            },
            Period: 300,
            Stat: 'Maximum',
          },
        })),
      }),
    );
    for (const series of result.MetricDataResults ?? []) {
      const queue = queues[Number(series.Id?.slice(1))];
      if (queue && series.Values?.length) queue.oldestAgeSeconds = Math.max(...series.Values);
    }
  } catch (error) {
    unknown.push(`oldest message ages (CloudWatch): ${describeError(error)}`);
  }
  let pending: StageStatus['pending'];
  try {
    pending = {
      total: await countPending(clients, names.ledgerTable, undefined),
      olderThanAnHour: await countPending(clients, names.ledgerTable, now - STALE_PENDING_MS),
    };
  } catch (error) {
    unknown.push(`pending syncs (${names.ledgerTable}): ${describeError(error)}`);
  }
  let alarms: string[] | undefined;
  try {
    alarms = [];
    let token: string | undefined;
    do {
      const page = await clients.cloudWatch().send(
        new DescribeAlarmsCommand({
          AlarmNamePrefix: names.alarmPrefix,
          StateValue: 'ALARM',
          NextToken: token,
        }),
      );
      alarms.push(...(page.MetricAlarms ?? []).map((alarm) => alarm.AlarmName ?? '?'));
      token = page.NextToken;
    } while (token);
  } catch (error) {
    alarms = undefined;
    unknown.push(`alarms (CloudWatch): ${describeError(error)}`);
  }
  let lastSweep: StageStatus['lastSweep'];
  let lastSweepRead = true;
  try {
    lastSweep = await createRunReportStore({
      client: clients.dynamoDb(),
      tableName: names.ledgerTable,
    }).get(LAST_SWEEP);
  } catch (error) {
    lastSweepRead = false;
    unknown.push(`last sweep (${names.ledgerTable}): ${describeError(error)}`);
  }
  return { queues, pending, alarms, lastSweep, lastSweepRead, unknown };
}

/** Items of the sparse `pending` index, all or pending since before `before` (ms). */
async function countPending(
  clients: Clients,
  tableName: string,
  before: number | undefined,
): Promise<number> {
  let count = 0;
  let start: Record<string, never> | undefined;
  do {
    const page = await clients.dynamoDb().send(
      new QueryCommand({
        TableName: tableName,
        IndexName: 'pending',
        Select: 'COUNT',
        KeyConditionExpression:
          before === undefined
            ? '#pending = :pending'
            : '#pending = :pending AND #pendingSince < :before',
        ExpressionAttributeNames: {
          '#pending': 'pending',
          ...(before === undefined ? {} : { '#pendingSince': 'pendingSince' }),
        },
        ExpressionAttributeValues: {
          ':pending': { S: 'pending' },
          ...(before === undefined ? {} : { ':before': { N: String(before) } }),
        },
        ExclusiveStartKey: start,
      }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (start);
  return count;
}

/** What needs a person in `status`, one reason per line; empty when healthy. */
export function problems(status: StageStatus): string[] {
  const found = [...status.unknown.map((part) => `unknown: ${part}`)];
  for (const queue of status.queues) {
    if (queue.name.endsWith('-sync')) continue;
    const messages = (queue.visible ?? 0) + (queue.inFlight ?? 0);
    if (messages > 0) found.push(`${queue.name} holds ${messages} message(s)`);
  }
  if (status.pending && status.pending.olderThanAnHour > 0) {
    found.push(`${status.pending.olderThanAnHour} sync(s) pending for more than an hour`);
  }
  for (const alarm of status.alarms ?? []) found.push(`alarm ${alarm} is in ALARM`);
  const sweepError = status.lastSweep?.report.error;
  if (sweepError !== undefined) found.push(`the last sweep stopped early: ${String(sweepError)}`);
  return found;
}

/** Print `status` as one screen; returns the exit code (0 healthy, 1 not). */
export function printStatus(stage: string, status: StageStatus, io: Io, now = Date.now()): number {
  const number = (value: number | undefined) => (value === undefined ? '?' : String(value));
  io.out(`ctr-sync ${stage}`);
  io.out('queue                               visible  in flight  oldest (s)');
  for (const queue of status.queues) {
    io.out(
      `${queue.name.padEnd(36)}${number(queue.visible).padStart(7)}${number(queue.inFlight).padStart(11)}${number(queue.oldestAgeSeconds).padStart(12)}`,
    );
  }
  io.out(
    `pending syncs: ${status.pending ? `${status.pending.total} (${status.pending.olderThanAnHour} for more than an hour)` : '?'}`,
  );
  io.out(
    `alarms in ALARM: ${status.alarms === undefined ? '?' : status.alarms.length === 0 ? 'none' : status.alarms.join(', ')}`,
  );
  if (status.lastSweep) {
    const minutes = Math.round((now - status.lastSweep.at) / 60_000);
    io.out(
      `last sweep: ${minutes} min ago, ${JSON.stringify(status.lastSweep.report.counts ?? {})}${status.lastSweep.report.complete === false ? ', incomplete' : ''}`,
    );
  } else {
    io.out(status.lastSweepRead ? 'last sweep: none in the last day' : 'last sweep: ?');
  }
  const found = problems(status);
  if (found.length === 0) {
    io.out('healthy');
    return EXIT.ok;
  }
  for (const problem of found) io.out(`needs a person: ${problem}`);
  return EXIT.failed;
}
