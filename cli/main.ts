/**
 * `ctr-sync`: the operator's command (bin: cli/bin/ctr-sync.mjs).
 *
 * Subcommands (each with `--help`): `sweep`, `redrive`, `replay`, `resync`
 * put a redrive trigger on a stage's bus (cli/triggers.ts); `status` shows a
 * stage's health on one screen (cli/status.ts); `peek` shows what the
 * messages of a dead-letter or failures queue are about, leaving them there
 * and printing no personal data (cli/peek.ts); `pending` lists the contacts
 * pending in the sync ledger (cli/pending.ts); `transform` prints what the
 * updater would send SCV for contact records (cli/transform.ts). Exit codes:
 * cli/io.ts.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { type Clients, createClients, isStageName } from './aws';
import { EXIT, type Io, processIo, UsageError } from './io';
import { PEEK_DEFAULT_MAX, PEEK_MAX, PEEK_QUEUES, peekQueue, peekQueueOf } from './peek';
import { PENDING_DEFAULT_MAX, PENDING_MAX, printPending } from './pending';
import { printStatus, readStatus } from './status';
import { transformFile } from './transform';
import { buildTrigger, putTrigger, type TriggerCommand } from './triggers';

const STAGE_HELP = `  --stage S          the stage (its resources are named ctr-sync-S...; required)
  --region R         AWS Region (default: the SDK's chain, e.g. AWS_REGION)`;

/** Commands that put on the bus: --endpoint-url is the bus's endpoint. */
const CONNECTION_HELP = `${STAGE_HELP}
  --endpoint-url U   the EventBridge endpoint (e.g. the local stack's); the other
                     services read AWS_ENDPOINT_URL_DYNAMODB, _SQS, _CLOUDWATCH...`;

/** Commands that only read: SQS, DynamoDB and CloudWatch take their endpoints from the environment. */
const READ_HELP = STAGE_HELP;
const READ_ENDPOINTS = `
Endpoints: the SDK's defaults, or AWS_ENDPOINT_URL_SQS, _DYNAMODB and
_CLOUDWATCH (npm start -- --serve prints the local stack's).`;

const TRIGGER_HELP = `${CONNECTION_HELP}
  --dry-run          print the PutEvents entries as JSON, send nothing
  --wait             wait for the run's report (RedriveCompleted) and print it
  --wait-seconds N   how long --wait waits at most (default 300)
  --help             this text`;

const HELP: Record<string, string> = {
  '': `usage: ctr-sync <command> [options]

commands:
  sweep      re-sync VoiceCalls without hold data, and syncs pending in the ledger
  redrive    move the sync dead-letter queue back to the sync queue
  replay     feed the archived records of a window through the sync path
  resync     repair one contact: reset its claim, resync its newest genuine version
  status     queues, pending syncs, alarms and the last sweep of a stage
  peek       what the messages of a dead-letter queue are about, without personal data
  pending    the contacts pending in the sync ledger, oldest first
  transform  print what the updater would send SCV for contact records

ctr-sync <command> --help describes each. Exit codes: 0 done or healthy,
1 failed or needs a person, 2 usage or input error.`,
  sweep: `usage: ctr-sync sweep --stage S [--from ISO --to ISO] [--max-records N]

Without a window, runs the scheduled sweep now (each VoiceCall is looked at an
hour and a day after it was created, from where the schedule left off). With
--from and --to (ISO-8601 UTC, at most maxTriggerWindowDays apart), sweeps
VoiceCalls created in that window.

${TRIGGER_HELP}`,
  redrive: `usage: ctr-sync redrive --stage S [--limit N]

Moves at most N (default: the stage's dlqRedriveMaxMessages) messages of the
sync dead-letter queue back to the sync queue.

${TRIGGER_HELP}`,
  replay: `usage: ctr-sync replay --stage S --from ISO --to ISO [--contact-id ID ...] [--prefix import/]

Feeds the records the archive received from --from to --to (ISO-8601 UTC, whole
hours, at most maxTriggerWindowDays apart) through the sync path; the ledger
sends only what is newer than what it holds. --contact-id (repeatable) limits
it to those contacts; --prefix import/ reads an export copied under import/.

${TRIGGER_HELP}`,
  resync: `usage: ctr-sync resync --stage S --contact-id ID [--reset] [--reset-overrides] [--from ISO --to ISO]

Resyncs the newest genuine archived version of one contact. --reset first
resets its claim in the ledger (a version that should not be there no longer
supersedes the genuine ones); --reset-overrides also drops its held
START_CALL_PROCESSING numbers. The archive is read from an hour before the
VoiceCall's CreatedDate, or over --from/--to.

${TRIGGER_HELP}`,
  status: `usage: ctr-sync status --stage S

Depth, in-flight messages and oldest message age of the sync queue and every
dead-letter queue, versions pending in the ledger, the stage's alarms in
ALARM and the last sweep's counts. Exits 0 when healthy, 1 when something
needs a person (or could not be read).

${READ_HELP}
  --help             this text
${READ_ENDPOINTS}`,
  peek: `usage: ctr-sync peek --stage S --queue Q [--max N] [--json]

Reads up to N messages (default ${PEEK_DEFAULT_MAX}, at most ${PEEK_MAX}) of the stage's queue Q with
visibility timeout 0: they stay in the queue, visible to the redrive (each
read adds one to their receive count). Prints per message its MessageId, when
it was sent (UTC), its receive count, and
  sync-dlq         the ContactId; the rule's error when a rule dead-lettered it
  redrive-dlq      the trigger; its fields but the phone numbers and the agent
                   (named, not shown); why it failed (Lambda's condition and
                   error, or the rule's error)
  ingest-failures  the bucket, key and size of the object holding the batch
  archive-dlq      the ContactId and the rule's error
then the count read and the queue's ApproximateNumberOfMessages. Never prints
phone numbers, contact attributes or records.

${READ_HELP}
  --queue Q          ${PEEK_QUEUES.join(', ')}
  --max N            at most N messages
  --json             one JSON object per line instead, with the same fields
  --help             this text
${READ_ENDPOINTS}`,
  pending: `usage: ctr-sync pending --stage S [--max N]

Lists up to N contacts (default ${PENDING_DEFAULT_MAX}, at most ${PENDING_MAX}) with a version pending
in the sync ledger (its sparse index pending), the oldest first: ContactId,
pending since (UTC) and for how many minutes; then their count. The sweep
resends what has been pending longer than pendingResendAfterMinutes.

${READ_HELP}
  --max N            at most N contacts
  --help             this text
${READ_ENDPOINTS}`,
  transform: `usage: ctr-sync transform FILE

Prints, per contact record in FILE (one JSON record, a JSON array or JSON
lines), the updateVoiceCall fieldValues the updater would send, or why the
record is skipped. Sends nothing. Exits 2 when a record is invalid.`,
};

/** Options of the commands that only read (status, peek, pending). */
const READ_OPTIONS = {
  stage: { type: 'string' },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** Options of the commands that put on the bus: --endpoint-url is EventBridge's. */
const CONNECTION_OPTIONS = {
  ...READ_OPTIONS,
  'endpoint-url': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const TRIGGER_OPTIONS = {
  ...CONNECTION_OPTIONS,
  'dry-run': { type: 'boolean' },
  wait: { type: 'boolean' },
  'wait-seconds': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const OPTIONS = {
  sweep: {
    ...TRIGGER_OPTIONS,
    from: { type: 'string' },
    to: { type: 'string' },
    'max-records': { type: 'string' },
  },
  redrive: { ...TRIGGER_OPTIONS, limit: { type: 'string' } },
  replay: {
    ...TRIGGER_OPTIONS,
    from: { type: 'string' },
    to: { type: 'string' },
    'contact-id': { type: 'string', multiple: true },
    prefix: { type: 'string' },
  },
  resync: {
    ...TRIGGER_OPTIONS,
    // Multiple, to refuse a second one rather than keep only the last.
    'contact-id': { type: 'string', multiple: true },
    reset: { type: 'boolean' },
    'reset-overrides': { type: 'boolean' },
    from: { type: 'string' },
    to: { type: 'string' },
  },
  status: READ_OPTIONS,
  peek: {
    ...READ_OPTIONS,
    queue: { type: 'string' },
    max: { type: 'string' },
    json: { type: 'boolean' },
  },
  pending: { ...READ_OPTIONS, max: { type: 'string' } },
  transform: { help: { type: 'boolean', short: 'h' } },
} as const satisfies Record<string, ParseArgsConfig['options']>;

type Command = keyof typeof OPTIONS;
type Values = Record<string, string | boolean | string[] | undefined>;

/** A whole positive number from option `name`. @throws UsageError otherwise. */
function positiveInt(values: Values, name: string): number | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  const value = Number(text);
  if (typeof text !== 'string' || !Number.isInteger(value) || value <= 0) {
    throw new UsageError(`--${name} takes a whole number above 0, not "${String(text)}"`);
  }
  return value;
}

/**
 * The value of `--max`: `fallback` when absent.
 * @throws UsageError when it is not a whole number from 1 to `limit`.
 */
function maxOf(values: Values, fallback: number, limit: number): number {
  const max = positiveInt(values, 'max') ?? fallback;
  if (max > limit) throw new UsageError(`--max takes at most ${limit}, not ${max}`);
  return max;
}

/** The trigger detail of `command` from its options (checked by its schema afterwards). */
function detailOf(command: TriggerCommand, values: Values): object {
  const text = (name: string) => values[name] as string | undefined;
  const defined = (detail: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(detail).filter(([, value]) => value !== undefined));
  switch (command) {
    case 'sweep':
      return defined({
        from: text('from'),
        to: text('to'),
        maxRecords: positiveInt(values, 'max-records'),
      });
    case 'redrive':
      return defined({ maxMessages: positiveInt(values, 'limit') });
    case 'replay':
      if (!values.from || !values.to) throw new UsageError('replay needs --from and --to');
      return defined({
        from: text('from'),
        to: text('to'),
        contactIds: values['contact-id'],
        prefix: text('prefix'),
      });
    case 'resync': {
      const contactIds = (values['contact-id'] as string[] | undefined) ?? [];
      if (contactIds.length === 0) throw new UsageError('resync needs --contact-id');
      if (contactIds.length > 1) {
        throw new UsageError('resync repairs one contact: give one --contact-id per command');
      }
      return defined({
        contactId: contactIds[0],
        reset: values.reset,
        resetOverrides: values['reset-overrides'],
        from: text('from'),
        to: text('to'),
      });
    }
  }
}

/** The stage of `values`. @throws UsageError when it is missing or not a stage name. */
function stageOf(values: Values): string {
  const stage = values.stage;
  if (typeof stage !== 'string') throw new UsageError('--stage is required, e.g. --stage prod');
  if (!isStageName(stage)) {
    throw new UsageError(`--stage takes letters, digits and hyphens, not "${stage}"`);
  }
  return stage;
}

/** Dependencies of {@link main}, replaced in tests. */
export interface MainDependencies {
  io: Io;
  clients?: (connection: { region?: string; endpointUrl?: string }) => Clients;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Run `ctr-sync` with `argv` (without node and the script).
 * @returns the exit code (cli/io.ts, EXIT).
 */
export async function main(
  argv: string[],
  dependencies: MainDependencies = { io: processIo },
): Promise<number> {
  const { io } = dependencies;
  const [name = '', ...rest] = argv;
  if (name === '' || name === '--help' || name === '-h' || name === 'help') {
    io.out(HELP[''] as string);
    return name === '' ? EXIT.usage : EXIT.ok;
  }
  if (!(name in OPTIONS)) {
    io.err(`ctr-sync: unknown command "${name}"; see ctr-sync --help`);
    return EXIT.usage;
  }
  const command = name as Command;
  try {
    let parsed: { values: Values; positionals: string[] };
    try {
      parsed = parseArgs({
        args: rest,
        options: OPTIONS[command],
        allowPositionals: command === 'transform',
        strict: true,
      }) as { values: Values; positionals: string[] };
    } catch (error) {
      if (
        !('endpoint-url' in OPTIONS[command]) &&
        rest.some((arg) => arg.startsWith('--endpoint-url'))
      ) {
        throw new UsageError(
          `${command} does not use EventBridge, whose endpoint --endpoint-url sets; set AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_CLOUDWATCH instead`,
        );
      }
      throw new UsageError(`${(error as Error).message}; see ctr-sync ${command} --help`);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.out(HELP[command] as string);
      return EXIT.ok;
    }
    if (command === 'transform') {
      if (positionals.length !== 1)
        throw new UsageError('transform takes one FILE; see ctr-sync transform --help');
      return await transformFile(positionals[0] as string, io);
    }
    const stage = stageOf(values);
    const endpointUrl = values['endpoint-url'];
    if (typeof endpointUrl === 'string' && !URL.canParse(endpointUrl)) {
      throw new UsageError(
        `--endpoint-url takes a URL, e.g. http://127.0.0.1:4010, not "${endpointUrl}"`,
      );
    }
    const connection = {
      region: values.region as string | undefined,
      endpointUrl: values['endpoint-url'] as string | undefined,
    };
    const clients = (dependencies.clients ?? createClients)(connection);
    if (command === 'status') {
      return printStatus(stage, await readStatus(stage, clients), io);
    }
    if (command === 'peek') {
      const queue = peekQueueOf(values.queue);
      const max = maxOf(values, PEEK_DEFAULT_MAX, PEEK_MAX);
      return await peekQueue(stage, queue, { max, json: values.json === true }, clients, io);
    }
    if (command === 'pending') {
      const max = maxOf(values, PENDING_DEFAULT_MAX, PENDING_MAX);
      return await printPending(stage, max, clients, io);
    }
    const entry = buildTrigger(command, stage, detailOf(command, values));
    return await putTrigger(
      entry,
      {
        stage,
        dryRun: values['dry-run'] === true,
        wait: values.wait === true,
        waitSeconds: positiveInt(values, 'wait-seconds') ?? 300,
        sleep: dependencies.sleep,
      },
      clients,
      io,
    );
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`ctr-sync: ${error.message}`);
      return EXIT.usage;
    }
    const { name: errorName = 'Error', message } = error as Error;
    if (/region is missing/i.test(message)) {
      io.err('ctr-sync: no AWS Region: pass --region or set AWS_REGION');
      return EXIT.usage;
    }
    if (errorName === 'CredentialsProviderError') {
      io.err(
        `ctr-sync: no AWS credentials (${message}): set AWS_PROFILE, run aws sso login, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`,
      );
      return EXIT.usage;
    }
    io.err(`ctr-sync: ${command} failed: ${errorName}: ${message}`);
    return EXIT.failed;
  }
}
