/**
 * `ctr-sync peek --stage S --queue Q [--max N] [--json]`: what the messages of
 * a dead-letter or failures queue are about, without taking them and without
 * printing the personal data they carry (contact records hold phone numbers;
 * START_CALL_PROCESSING triggers hold phone numbers and an agent).
 *
 * Each message is received with `VisibilityTimeout: 0` (Amazon SQS API
 * Reference, ReceiveMessage): it stays visible, to the redrive and to the
 * next look. Receiving still counts: SQS adds one to its
 * `ApproximateReceiveCount` (none of these queues has a redrive policy of its
 * own; serverless.yml), and leaves a message received three times or more
 * out of the queue's `ApproximateAgeOfOldestMessage` (Amazon SQS Developer
 * Guide, "Available CloudWatch metrics for Amazon SQS"), the age `ctr-sync
 * status` shows. So a look receives each message as few times as it can
 * (once, when the queue holds no more than it reads), and prints when each
 * expires.
 *
 * Per message, one line of fields (JSON with `--json`): `messageId`, `sent`
 * (the `SentTimestamp` attribute, ISO-8601 UTC; a message a redrive policy
 * moved keeps its first enqueue time), `expires` (`sent` plus the queue's
 * `MessageRetentionPeriod`: SQS deletes the message then, and a standard
 * queue's redrive policy leaves the enqueue time unchanged; Amazon SQS
 * Developer Guide, "Setting-up dead-letter queue retention in Amazon SQS"), `receives`
 * (`ApproximateReceiveCount`, this receive included), then per queue what the
 * runbook needs (README, Runbook), see {@link summarizeMessage}. Then one line
 * with the number read and the queue's `ApproximateNumberOfMessages` and
 * `ApproximateNumberOfMessagesNotVisible` (Amazon SQS API Reference,
 * GetQueueAttributes). Every string printed passes through the log redaction
 * (functions/shared/log-redaction.ts: phone numbers written with `+`, e-mail
 * addresses) and is cut at {@link MAX_TEXT} characters, in case a reason
 * quotes its input.
 */
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import {
  DlqRedriveRequestedDetailSchema,
  ReplayRequestedDetailSchema,
  ResyncRequestedDetailSchema,
  SweepRequestedDetailSchema,
} from '../events/redrive';
import { StartCallProcessingDetailSchema } from '../events/start-call-processing';
import { redact } from '../functions/shared/log-redaction';
import { type Clients, stageNames } from './aws';
import { asciiJson, EXIT, type Io, UsageError } from './io';

/** The queues `peek` reads, by their name after `ctr-sync-<stage>-`. */
export const PEEK_QUEUES = ['sync-dlq', 'redrive-dlq', 'ingest-failures', 'archive-dlq'] as const;

/** One of {@link PEEK_QUEUES}. */
export type PeekQueue = (typeof PEEK_QUEUES)[number];

/** Messages read when `--max` is not given. */
export const PEEK_DEFAULT_MAX = 10;

/** The most `--max` may ask for: each message read is a whole body fetched. */
export const PEEK_MAX = 100;

/**
 * Receives in a row that bring no message not seen yet after which reading
 * stops, when fewer messages than the queue reported have been seen. Each
 * receive long-polls (`WaitTimeSeconds` {@link WAIT_SECONDS}), which asks
 * every SQS server rather than a sample, so it does not answer empty while
 * the queue holds messages (Amazon SQS Developer Guide, "Amazon SQS short and
 * long polling"); but with visibility 0 SQS does not promise to answer with
 * messages not seen yet, so a receive that brings only seen ones is not the end.
 */
export const IDLE_RECEIVES = 3;

/** Seconds each receive waits for messages (long polling). */
export const WAIT_SECONDS = 1;

/** Strings printed are cut at this many characters (a reason can be long). */
export const MAX_TEXT = 300;

/** The printed form of a value that is not one of the shapes printed. */
const NOT_SHOWN = '[not shown]';

/** Fields of a message's summary; `undefined` fields are not printed. */
export type Summary = Record<string, unknown>;

/** Options of {@link peekQueue}. */
export interface PeekOptions {
  /** At most this many messages, 1 to {@link PEEK_MAX}. */
  max: number;
  /** Print JSON lines instead of `name=value` lines. */
  json: boolean;
}

/**
 * Print up to `options.max` messages of `queue` of `stage`, then the count
 * read and the queue's approximate depth.
 *
 * Steps: the queue URL (`GetQueueUrl`); its depth and `MessageRetentionPeriod`
 * (`GetQueueAttributes`); `ReceiveMessage` of up to 10 at a time with
 * `VisibilityTimeout: 0`, `WaitTimeSeconds` {@link WAIT_SECONDS}, the
 * `SentTimestamp` and `ApproximateReceiveCount` system attributes and every
 * message attribute, de-duplicated by MessageId, until `max` or as many as
 * the queue holds (`ApproximateNumberOfMessages` and `...NotVisible`) are read, or
 * {@link IDLE_RECEIVES} receives in a row bring nothing new.
 *
 * @returns {@link EXIT.ok} once read (a queue with nothing to read included).
 * @throws UsageError when the stage has no such queue in the Region.
 * @throws the SDK's error on any other failure (the command exits 1).
 */
export async function peekQueue(
  stage: string,
  queue: PeekQueue,
  options: PeekOptions,
  clients: Clients,
  io: Io,
): Promise<number> {
  const queueName = stageNames(stage).queues[queue];
  const sqs = clients.sqs();
  let queueUrl: string | undefined;
  try {
    ({ QueueUrl: queueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName })));
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue') {
      const region = await sqs.config.region();
      throw new UsageError(
        `no queue ${queueName} in ${region}: is stage ${stage} deployed there? (--stage, --region)`,
      );
    }
    throw error;
  }
  // Before receiving, so that the depth does not count this look's own receives as in flight.
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'MessageRetentionPeriod',
      ],
    }),
  );
  const visible = Number(Attributes.ApproximateNumberOfMessages ?? 0);
  const inFlight = Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
  const retentionSeconds = Number(Attributes.MessageRetentionPeriod);
  // As many as the queue holds (reading stops once they are all seen), at most --max. In flight
  // too: an emulator may count a message just received with visibility 0 as in flight.
  // The counts lag a send by up to a minute: with none reported, read up to --max all the same.
  const held = visible + inFlight;
  const messages = await receiveWithoutTaking(
    queueUrl as string,
    held > 0 ? Math.min(options.max, held) : options.max,
    clients,
  );
  for (const message of messages) {
    printLine(
      { ...describeMessage(message, retentionSeconds), ...summarizeMessage(queue, message) },
      options,
      io,
    );
  }
  if (options.json) {
    io.out(
      JSON.stringify({
        queue: queueName,
        read: messages.length,
        approximateNumberOfMessages: visible,
        approximateNumberOfMessagesNotVisible: inFlight,
      }),
    );
  } else {
    io.out(
      `read ${messages.length} message(s) of ${queueName}; it holds about ${visible} visible (ApproximateNumberOfMessages) and ${inFlight} in flight`,
    );
  }
  return EXIT.ok;
}

/**
 * Up to `max` distinct messages of the queue at `queueUrl`, in the order
 * first received, left visible (see {@link peekQueue} for the requests).
 */
async function receiveWithoutTaking(
  queueUrl: string,
  max: number,
  clients: Clients,
): Promise<Message[]> {
  const seen = new Map<string, Message>();
  let idle = 0;
  while (seen.size < max && idle < IDLE_RECEIVES) {
    const { Messages = [] } = await clients.sqs().send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, max - seen.size),
        VisibilityTimeout: 0,
        WaitTimeSeconds: WAIT_SECONDS,
        MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
        MessageAttributeNames: ['All'],
      }),
    );
    const before = seen.size;
    for (const message of Messages) {
      if (seen.size >= max) break;
      if (message.MessageId && !seen.has(message.MessageId)) seen.set(message.MessageId, message);
    }
    idle = seen.size === before ? idle + 1 : 0;
  }
  return [...seen.values()];
}

/**
 * `messageId`, `sent` and `expires` (ISO-8601 UTC; `expires` is `sent` plus
 * `retentionSeconds`, when both are known) and `receives` of a message.
 */
function describeMessage(message: Message, retentionSeconds: number): Summary {
  const sentMs = Number(message.Attributes?.SentTimestamp);
  const receives = Number(message.Attributes?.ApproximateReceiveCount);
  const sent = Number.isFinite(sentMs) && sentMs > 0;
  return {
    messageId: message.MessageId,
    sent: sent ? new Date(sentMs).toISOString() : undefined,
    expires:
      sent && Number.isFinite(retentionSeconds) && retentionSeconds > 0
        ? new Date(sentMs + retentionSeconds * 1000).toISOString()
        : undefined,
    receives: Number.isFinite(receives) ? receives : undefined,
  };
}

/**
 * What the runbook needs of one message of `queue`, and nothing personal:
 *
 * - `sync-dlq`: `contactId`, of a body that is a `CtrReceived` detail (what
 *   the sync queue holds; events/ctr-received.ts) or an EventBridge event
 *   whose detail has one (what the sync rule dead-letters); `ruleErrorCode`
 *   and `ruleError`, the `ERROR_CODE` and `ERROR_MESSAGE` attributes
 *   EventBridge adds to what a rule dead-letters (Amazon EventBridge User
 *   Guide, "Using dead-letter queues to process undelivered events").
 * - `redrive-dlq`: a trigger a rule dead-lettered (the event itself, with
 *   those attributes) or a Lambda on-failure record of the redrive function
 *   (`requestContext`, `requestPayload`: the event, `responsePayload`: the
 *   error; AWS Lambda Developer Guide, "Capturing records of Lambda
 *   asynchronous invocations"): `trigger` (the detail-type), `detail` (the
 *   trigger's fields of {@link TRIGGER_FIELDS_SHOWN} only), `withheld` (the
 *   names of the personal fields it has, {@link TRIGGER_FIELDS_WITHHELD}),
 *   `otherFields` (how many fields it has besides: an invalid trigger's,
 *   whose reason names them), `condition` (`RetriesExhausted`,
 *   `EventAgeExceeded`), `errorType`, and `reason` (the error message, or
 *   `ERROR_MESSAGE`), with `errorCode` (`ERROR_CODE`).
 * - `ingest-failures`: `bucket`, `key` and `size` (bytes) of the S3 object
 *   holding a Kinesis batch ingest gave up on, from the S3 "Object Created"
 *   event (Amazon S3 User Guide, "EventBridge message structure"); the object
 *   is what the runbook copies and replays.
 * - `archive-dlq`: `contactId` of the dead-lettered `CtrReceived` event, and
 *   `errorCode` and `error` (`ERROR_CODE`, `ERROR_MESSAGE`).
 *
 * A body that is not JSON, or lacks what the queue's messages have, gives
 * `problem: "unreadable body"` instead.
 */
export function summarizeMessage(queue: PeekQueue, message: Message): Summary {
  const body = parseJson(message.Body);
  const attribute = (name: string) => {
    const value = message.MessageAttributes?.[name]?.StringValue;
    return value === undefined ? undefined : text(value);
  };
  const unreadable = { problem: 'unreadable body' };
  switch (queue) {
    case 'sync-dlq':
    case 'archive-dlq': {
      const contactId = shownString(at(body, 'contactId') ?? at(body, 'detail', 'contactId'));
      const errors =
        queue === 'sync-dlq'
          ? { ruleErrorCode: attribute('ERROR_CODE'), ruleError: attribute('ERROR_MESSAGE') }
          : { errorCode: attribute('ERROR_CODE'), error: attribute('ERROR_MESSAGE') };
      return { ...(contactId === undefined ? unreadable : { contactId }), ...errors };
    }
    case 'redrive-dlq': {
      if (body === undefined) {
        return {
          ...unreadable,
          errorCode: attribute('ERROR_CODE'),
          reason: attribute('ERROR_MESSAGE'),
        };
      }
      const trigger = at(body, 'requestPayload') ?? body;
      const errorMessage = at(body, 'responsePayload', 'errorMessage');
      return {
        trigger: shownString(at(trigger, 'detail-type')),
        ...triggerDetail(at(trigger, 'detail')),
        condition: shownString(at(body, 'requestContext', 'condition')),
        errorType: shownString(at(body, 'responsePayload', 'errorType')),
        errorCode: attribute('ERROR_CODE'),
        reason: typeof errorMessage === 'string' ? text(errorMessage) : attribute('ERROR_MESSAGE'),
      };
    }
    case 'ingest-failures': {
      const bucket = shownString(at(body, 'detail', 'bucket', 'name'));
      const key = shownString(at(body, 'detail', 'object', 'key'));
      const size = at(body, 'detail', 'object', 'size');
      if (bucket === undefined || key === undefined) return unreadable;
      return { bucket, key, size: typeof size === 'number' ? size : undefined };
    }
  }
}

/**
 * Fields of the redrive triggers (events/redrive.ts) and of
 * START_CALL_PROCESSING (events/start-call-processing.ts) that are printed:
 * windows, limits, cursors, prefixes, flags and ContactIds (what the
 * functions log too; README, "Logs and personal data").
 */
export const TRIGGER_FIELDS_SHOWN: ReadonlySet<string> = new Set([
  'from',
  'to',
  'lookbackHours',
  'startAfter',
  'maxRecords',
  'band',
  'maxMessages',
  'contactIds',
  'prefix',
  'maxObjects',
  'contactId',
  'reset',
  'resetOverrides',
  'callId',
]);

/**
 * Fields of START_CALL_PROCESSING that are personal data and never printed,
 * only named: the phone numbers, and the agent's id (a person's).
 */
export const TRIGGER_FIELDS_WITHHELD: ReadonlySet<string> = new Set([
  'toNumber',
  'fromNumber',
  'agentId',
]);

/** The schemas whose fields are sorted into shown and withheld above (tests check them all). */
export const TRIGGER_DETAIL_SCHEMAS = [
  SweepRequestedDetailSchema,
  DlqRedriveRequestedDetailSchema,
  ReplayRequestedDetailSchema,
  ResyncRequestedDetailSchema,
  StartCallProcessingDetailSchema,
] as const;

/** `detail`, `withheld` and `otherFields` of a trigger's detail (see {@link summarizeMessage}). */
function triggerDetail(detail: unknown): Summary {
  if (detail === undefined) return {};
  if (detail === null || typeof detail !== 'object' || Array.isArray(detail)) {
    return { detail: NOT_SHOWN };
  }
  const shown: Record<string, unknown> = {};
  const withheld: string[] = [];
  let others = 0;
  for (const [field, value] of Object.entries(detail)) {
    if (TRIGGER_FIELDS_SHOWN.has(field)) shown[field] = shownValue(value);
    else if (TRIGGER_FIELDS_WITHHELD.has(field)) withheld.push(field);
    else others++;
  }
  return {
    detail: shown,
    withheld: withheld.length > 0 ? withheld : undefined,
    otherFields: others > 0 ? others : undefined,
  };
}

/** A trigger field's value as printed: a redacted string, a number, a flag or strings; else {@link NOT_SHOWN}. */
function shownValue(value: unknown): unknown {
  if (typeof value === 'string') return text(value);
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
    return value.map((item) => text(item));
  }
  return NOT_SHOWN;
}

/** A non-empty string, redacted and cut; `undefined` for anything else. */
function shownString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? text(value) : undefined;
}

/** `value` redacted (phone numbers, e-mail addresses) and cut at {@link MAX_TEXT} characters. */
function text(value: string): string {
  const redacted = redact(value);
  return redacted.length > MAX_TEXT ? `${redacted.slice(0, MAX_TEXT)}…` : redacted;
}

/** The JSON value of `body`, or `undefined` when it is absent or not JSON. */
function parseJson(body: string | undefined): unknown {
  if (body === undefined) return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

/** The value at `path` in `value`, through objects only; `undefined` when absent. */
function at(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/**
 * Print one message: a JSON line, or `name=value` pairs two spaces apart,
 * each value bare when it is a plain token and JSON otherwise (so a line is
 * one line whatever a reason holds).
 */
function printLine(fields: Summary, options: PeekOptions, io: Io): void {
  if (options.json) {
    io.out(asciiJson(fields));
    return;
  }
  const pairs = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => {
      const bare =
        typeof value === 'string' ? /^[\w.:/#-]+$/.test(value) : typeof value !== 'object';
      return `${name}=${bare ? String(value) : asciiJson(value)}`;
    });
  io.out(pairs.join('  '));
}

/**
 * The queue named by `--queue`.
 * @throws UsageError when it is missing or not one of {@link PEEK_QUEUES}.
 */
export function peekQueueOf(value: unknown): PeekQueue {
  if (typeof value !== 'string') {
    throw new UsageError(`peek needs --queue, one of ${PEEK_QUEUES.join(', ')}`);
  }
  if (!(PEEK_QUEUES as readonly string[]).includes(value)) {
    throw new UsageError(`--queue takes one of ${PEEK_QUEUES.join(', ')}, not "${value}"`);
  }
  return value as PeekQueue;
}
