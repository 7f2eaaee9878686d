/**
 * `ctr-sync sweep | redrive | replay | resync`: put a redrive trigger on a
 * stage's bus, the way the runbook needs it.
 *
 * Each builds the trigger's detail and checks it against its schema in
 * events/redrive.ts (a bad value is a usage error, before anything is sent),
 * then, unless `--dry-run`:
 * 1. checks that the stage's bus exists (`DescribeEventBus`): EventBridge is
 *    reported to accept entries for a bus that does not exist with
 *    `FailedEntryCount` 0 (aws/aws-cli#9186), so a mistyped stage would look
 *    like success;
 * 2. puts the entry (`PutEvents`) and fails with the entry's `ErrorCode` and
 *    `ErrorMessage` when `FailedEntryCount` is not 0 (the bus policy refusing
 *    the caller, for example: README, "The trust boundary");
 * 3. prints the EventId, and with `--wait`, polls the run's report, which the
 *    redrive keeps a day under that EventId (functions/shared/run-reports.ts),
 *    for at most `--wait-seconds`.
 */
import { DescribeEventBusCommand, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type * as z from 'zod';
import { formatPath } from '../domain/contact-record';
import {
  DlqRedriveRequested,
  DlqRedriveRequestedDetailSchema,
  ReplayRequested,
  ReplayRequestedDetailSchema,
  ResyncRequested,
  ResyncRequestedDetailSchema,
  SweepRequested,
  SweepRequestedDetailSchema,
} from '../events/redrive';
import { createRunReportStore } from '../functions/shared/run-reports';
import { type Clients, stageNames } from './aws';
import { EXIT, type Io, UsageError } from './io';

/** A PutEvents entry, as `--dry-run` prints it and the AWS CLI's `--entries` reads it. */
export interface TriggerEntry {
  Source: string;
  DetailType: string;
  Detail: string;
  EventBusName: string;
}

/** The trigger commands, with their descriptor and detail schema. */
export const TRIGGERS = {
  sweep: { ...SweepRequested, schema: SweepRequestedDetailSchema },
  redrive: { ...DlqRedriveRequested, schema: DlqRedriveRequestedDetailSchema },
  replay: { ...ReplayRequested, schema: ReplayRequestedDetailSchema },
  resync: { ...ResyncRequested, schema: ResyncRequestedDetailSchema },
} as const;

/** One of the trigger commands. */
export type TriggerCommand = keyof typeof TRIGGERS;

/**
 * The entry of `command` with `detail` on `stage`'s bus.
 * @throws UsageError naming each invalid field (by its option) when the detail does not validate.
 */
export function buildTrigger(command: TriggerCommand, stage: string, detail: object): TriggerEntry {
  const trigger = TRIGGERS[command];
  const result = (trigger.schema as z.ZodType).safeParse(detail);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${optionName(formatPath(issue.path))}: ${issue.message}`,
    );
    throw new UsageError(`invalid ${command}: ${problems.join('; ')}`);
  }
  return {
    Source: trigger.source,
    DetailType: trigger.detailType,
    Detail: JSON.stringify(detail),
    EventBusName: stageNames(stage).bus,
  };
}

/** The option that sets each detail field. */
const OPTION_OF_FIELD: Record<string, string> = {
  from: '--from',
  to: '--to',
  lookbackHours: '--lookback-hours',
  startAfter: '--start-after',
  maxRecords: '--max-records',
  maxMessages: '--limit',
  maxObjects: '--max-objects',
  prefix: '--prefix',
  contactIds: '--contact-id',
  contactId: '--contact-id',
  reset: '--reset',
  resetOverrides: '--reset-overrides',
};

/** The option of a detail path (`contactIds[2]` is `--contact-id`), or the path itself. */
function optionName(path: string): string {
  const field = path.replace(/\[\d+\]$/, '');
  return OPTION_OF_FIELD[field] ?? (field === '' ? 'detail' : field);
}

/** Options of {@link putTrigger}. */
export interface PutOptions {
  dryRun: boolean;
  wait: boolean;
  waitSeconds: number;
  stage: string;
  /** Waits between polls of the run report (injected for tests). */
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Milliseconds between two reads of the run report while waiting. */
const POLL_MS = 2_000;

/**
 * Put `entry` (or print it, with `dryRun`) and, with `wait`, print the run's report.
 * @returns the exit code: 0 put (and, waiting, reported without error); 1 refused,
 *   reported with an error, or not reported in time; 2 no such bus.
 */
export async function putTrigger(
  entry: TriggerEntry,
  options: PutOptions,
  clients: Clients,
  io: Io,
): Promise<number> {
  if (options.dryRun) {
    io.out(JSON.stringify([entry], null, 2));
    return EXIT.ok;
  }
  const eventBridge = clients.eventBridge();
  try {
    await eventBridge.send(new DescribeEventBusCommand({ Name: entry.EventBusName }));
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') {
      const region = await eventBridge.config.region();
      throw new UsageError(
        `no event bus ${entry.EventBusName} in ${region}: is stage ${options.stage} deployed there? (--stage, --region)`,
      );
    }
    throw error;
  }
  const result = await eventBridge.send(new PutEventsCommand({ Entries: [entry] }));
  const [answer] = result.Entries ?? [];
  if ((result.FailedEntryCount ?? 0) !== 0 || !answer?.EventId) {
    io.err(
      `ctr-sync: ${entry.EventBusName} refused ${entry.DetailType}: ${answer?.ErrorCode ?? 'no EventId'}: ${answer?.ErrorMessage ?? ''}`.trimEnd(),
    );
    return EXIT.failed;
  }
  io.out(`${entry.DetailType} put on ${entry.EventBusName}: EventId ${answer.EventId}`);
  if (!options.wait) return EXIT.ok;
  return waitForReport(answer.EventId, options, clients, io);
}

/** Poll the run report of `eventId` until it is there or `waitSeconds` passed. */
async function waitForReport(
  eventId: string,
  options: PutOptions,
  clients: Clients,
  io: Io,
): Promise<number> {
  const sleep = options.sleep ?? realSleep;
  const reports = createRunReportStore({
    client: clients.dynamoDb(),
    tableName: stageNames(options.stage).ledgerTable,
  });
  const polls = Math.max(1, Math.ceil((options.waitSeconds * 1000) / POLL_MS));
  for (let poll = 0; poll < polls; poll++) {
    let stored: Awaited<ReturnType<typeof reports.get>>;
    try {
      stored = await reports.get(eventId);
    } catch (error) {
      // The trigger is on the bus: say so, so that nobody puts it a second time.
      io.err(
        `ctr-sync: the trigger was put (EventId ${eventId}), but its report cannot be read from ${stageNames(options.stage).ledgerTable}: ${(error as Error).name}: ${(error as Error).message}`,
      );
      return EXIT.failed;
    }
    if (stored) {
      io.out(JSON.stringify(stored.report, null, 2));
      if (stored.report.error !== undefined) {
        const how =
          stored.report.failed === true
            ? 'failed (Lambda may retry it; then the redrive DLQ)'
            : 'stopped early';
        io.err(`ctr-sync: the run ${how}: ${String(stored.report.error)}`);
        return EXIT.failed;
      }
      if (stored.report.complete === false) {
        io.err('ctr-sync: the run stopped at its limits and continues itself (nextStartAfter)');
      }
      return EXIT.ok;
    }
    if (poll < polls - 1) await sleep(POLL_MS);
  }
  io.err(
    `ctr-sync: no report of ${eventId} after ${options.waitSeconds} s: the run may still be going, or it failed and is in the redrive DLQ (ctr-sync status --stage ${options.stage})`,
  );
  return EXIT.failed;
}
