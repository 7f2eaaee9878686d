/**
 * A local stand-in for Amazon EventBridge's PutEvents, for the local stack
 * (no EventBridge emulator exists). It speaks the real wire protocol (AWS
 * JSON 1.1, `X-Amz-Target: AWSEvents.PutEvents`) on 127.0.0.1, so the
 * functions use the real `@aws-sdk/client-eventbridge`, pointed here by
 * `AWS_ENDPOINT_URL_EVENTBRIDGE`. It also answers DescribeEventBus,
 * ListRules and DescribeRule, so an operator (the `ctr-sync` command, the AWS
 * CLI) can look at the local bus and its rules.
 *
 * Each accepted entry becomes an event (`version`, `id`, `detail-type`,
 * `source`, `account`, `time`, `region`, `resources`, `detail`) and is
 * delivered, asynchronously as EventBridge does, to the targets of every rule
 * on its bus whose event pattern matches ({@link matchesEventPattern}).
 *
 * A request whose entries total {@link MAX_REQUEST_BYTES} or more is refused
 * as a whole (ValidationException, "Total size of the entries in the request
 * is over the limit."), entries sized as "Calculating PutEvents event entry
 * size" says.
 *
 * Sources: Amazon EventBridge API Reference, PutEvents (request/response
 * shapes, per-entry ErrorCode, the size limit); EventBridge User Guide,
 * "Amazon EventBridge events" (event envelope), "Calculating PutEvents event
 * entry size", "Event retry policy and using dead-letter queues".
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type EventPattern, matchesEventPattern, validateEventPattern } from './event-pattern';

/** An EventBridge event as targets receive it. */
export interface EventBridgeEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
}

/** A rule target: receives the event (or the part `inputPath` selects). Throwing means the delivery failed. */
export interface RuleTarget {
  id: string;
  /**
   * A JSONPath of dot-separated names from `$` (`$`, `$.detail`,
   * `$.detail.contactRecord`), as the stack needs no more; an event where it
   * selects nothing is not delivered to the target.
   */
  inputPath?: string;
  deliver(input: unknown): Promise<void>;
  /** Called with the event when every delivery attempt failed (the target's DLQ). */
  deadLetter?(event: EventBridgeEvent, error: Error): Promise<void>;
  /** Delivery attempts before `deadLetter` (default 3). */
  maxAttempts?: number;
}

/** A rule on a bus. */
export interface LocalRule {
  name: string;
  eventBusName: string;
  eventPattern: EventPattern;
  targets: RuleTarget[];
}

/** Per-entry fault injected before an entry is accepted (fault injection, local only). */
export type PutEventsFault = { errorCode: string; errorMessage: string } | undefined;

/** Options of {@link startLocalEventBridge}. */
export interface LocalEventBridgeOptions {
  rules: LocalRule[];
  /** Buses that exist; entries naming another bus fail with ResourceNotFoundException. */
  eventBusNames: string[];
  account?: string;
  region?: string;
  port?: number;
  /** Called per entry; a returned fault fails that entry. */
  entryFault?: (entry: { Source?: string; DetailType?: string; Detail?: string }) => PutEventsFault;
  /** Called per request with its body; true answers the whole call with ThrottlingException (HTTP 400). */
  throttleRequest?: (body: string) => boolean;
}

/** A running local EventBridge. */
export interface LocalEventBridge {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** Resolves when no delivery is in flight. */
  waitUntilIdle(): Promise<void>;
  /** Counters: entries accepted and failed, deliveries, failed deliveries, dead-lettered. */
  stats: {
    accepted: number;
    failedEntries: number;
    deliveries: number;
    failedDeliveries: number;
    deadLettered: number;
  };
  stop(): Promise<void>;
}

/**
 * The entries of one request must total less than this many bytes: "the total
 * entry size must be less than 1MB" (Amazon EventBridge API Reference,
 * PutEvents; raised from 256 KB, AWS Compute Blog, "More room to build:
 * serverless services now support payloads up to 1 MB", January 2026). AWS
 * does not say which 1 MB; the stand-in takes 1,000,000 bytes, the smaller,
 * so it refuses whatever AWS might.
 */
const MAX_REQUEST_BYTES = 1_000_000;

interface PutEventsRequestEntry {
  Source?: unknown;
  DetailType?: unknown;
  Detail?: unknown;
  EventBusName?: unknown;
  Resources?: unknown;
  Time?: unknown;
}

/** The value at a JSONPath of dot-separated names (`$.detail.contactRecord`), or undefined. */
function selectPath(event: EventBridgeEvent, path: string): unknown {
  let value: unknown = event;
  for (const name of path.split('.').slice(1)) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[name];
  }
  return value;
}

function busNameOf(value: unknown): string {
  if (typeof value !== 'string' || value === '') return 'default';
  // An ARN names the bus after "event-bus/".
  const marker = ':event-bus/';
  const at = value.indexOf(marker);
  return at >= 0 ? value.slice(at + marker.length) : value;
}

/** An entry's size as "Calculating PutEvents event entry size" counts it (Time as 14 bytes). */
function entrySize(entry: PutEventsRequestEntry): number {
  let size = entry.Time !== undefined ? 14 : 0;
  for (const value of [entry.Source, entry.DetailType, entry.Detail]) {
    if (typeof value === 'string') size += Buffer.byteLength(value, 'utf8');
  }
  if (Array.isArray(entry.Resources)) {
    for (const resource of entry.Resources)
      if (typeof resource === 'string') size += Buffer.byteLength(resource, 'utf8');
  }
  return size;
}

function eventTime(value: unknown): string {
  // The SDK serializes Time as epoch seconds.
  if (typeof value === 'number')
    return new Date(value * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  errorType?: string,
): void {
  const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1' };
  if (errorType) headers['x-amzn-errortype'] = errorType;
  response.writeHead(status, headers);
  response.end(JSON.stringify(body));
}

/**
 * The per-entry checks of PutEvents (Amazon EventBridge API Reference,
 * PutEventsResultEntry): a Source and a DetailType, a Detail that is a JSON
 * object, an existing bus. Returns the entry's error, or its parsed detail and
 * bus name.
 */
function checkEntry(
  entry: PutEventsRequestEntry,
  buses: ReadonlySet<string>,
):
  | { errorCode: string; errorMessage: string }
  | { detail: object; busName: string; source: string; detailType: string } {
  if (typeof entry.Source !== 'string' || entry.Source === '') {
    return {
      errorCode: 'InvalidArgument',
      errorMessage: 'Parameter Source is not valid. Reason: Source is a required argument.',
    };
  }
  if (typeof entry.DetailType !== 'string' || entry.DetailType === '') {
    return {
      errorCode: 'InvalidArgument',
      errorMessage: 'Parameter DetailType is not valid. Reason: DetailType is a required argument.',
    };
  }
  let detail: unknown;
  try {
    detail = JSON.parse(typeof entry.Detail === 'string' ? entry.Detail : '');
  } catch {
    return { errorCode: 'MalformedDetail', errorMessage: 'Detail is malformed.' };
  }
  if (detail === null || typeof detail !== 'object' || Array.isArray(detail)) {
    return { errorCode: 'MalformedDetail', errorMessage: 'Detail is malformed.' };
  }
  const busName = busNameOf(entry.EventBusName);
  if (!buses.has(busName)) {
    return {
      errorCode: 'ResourceNotFoundException',
      errorMessage: `Event bus ${busName} does not exist.`,
    };
  }
  return { detail, busName, source: entry.Source, detailType: entry.DetailType };
}

/**
 * The read-only operations an operator uses to look (Amazon EventBridge API
 * Reference: DescribeEventBus, ListRules, DescribeRule), or `undefined` for
 * another operation. `EventBusName` defaults to `default`, as in AWS.
 */
function lookUp(
  target: string,
  text: string,
  context: { rules: LocalRule[]; eventBusNames: string[]; region: string; account: string },
): { status: number; body: Record<string, unknown> } | undefined {
  const { region, account } = context;
  const busArn = (name: string) => `arn:aws:events:${region}:${account}:event-bus/${name}`;
  const ruleOf = (rule: LocalRule) => ({
    Name: rule.name,
    Arn: `arn:aws:events:${region}:${account}:rule/${rule.eventBusName}/${rule.name}`,
    EventBusName: rule.eventBusName,
    EventPattern: JSON.stringify(rule.eventPattern),
    State: 'ENABLED',
  });
  const notFound = (message: string) => ({
    status: 400,
    body: { __type: 'ResourceNotFoundException', message },
  });

  if (
    !['AWSEvents.DescribeEventBus', 'AWSEvents.ListRules', 'AWSEvents.DescribeRule'].includes(
      target,
    )
  ) {
    return undefined;
  }
  let input: { Name?: string; EventBusName?: string; NamePrefix?: string };
  try {
    input = JSON.parse(text || '{}') as typeof input;
  } catch {
    return {
      status: 400,
      body: { __type: 'SerializationException', message: 'Malformed request body' },
    };
  }
  if (target === 'AWSEvents.DescribeEventBus') {
    const name = input.Name ?? 'default';
    return context.eventBusNames.includes(name)
      ? { status: 200, body: { Name: name, Arn: busArn(name) } }
      : notFound(`Event bus ${name} does not exist.`);
  }
  const busName = input.EventBusName ?? 'default';
  if (!context.eventBusNames.includes(busName))
    return notFound(`Event bus ${busName} does not exist.`);
  const rules = context.rules.filter((rule) => rule.eventBusName === busName);
  if (target === 'AWSEvents.ListRules') {
    const prefix = input.NamePrefix ?? '';
    return {
      status: 200,
      body: { Rules: rules.filter((rule) => rule.name.startsWith(prefix)).map(ruleOf) },
    };
  }
  const rule = rules.find((candidate) => candidate.name === input.Name);
  return rule
    ? { status: 200, body: ruleOf(rule) }
    : notFound(`Rule ${String(input.Name)} does not exist on EventBus ${busName}.`);
}

/** Start the local EventBridge on 127.0.0.1. Rule patterns are validated first. */
export async function startLocalEventBridge(
  options: LocalEventBridgeOptions,
): Promise<LocalEventBridge> {
  for (const rule of options.rules) validateEventPattern(rule.eventPattern);
  const account = options.account ?? '000000000000';
  const region = options.region ?? 'us-east-1';
  const buses = new Set(options.eventBusNames);
  const stats = {
    accepted: 0,
    failedEntries: 0,
    deliveries: 0,
    failedDeliveries: 0,
    deadLettered: 0,
  };
  const inFlight = new Set<Promise<void>>();
  let idleWaiters: (() => void)[] = [];

  async function deliver(target: RuleTarget, event: EventBridgeEvent): Promise<void> {
    const input = selectPath(event, target.inputPath ?? '$');
    if (input === undefined) return;
    const maxAttempts = target.maxAttempts ?? 3;
    let lastError: Error = new Error('not attempted');
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      stats.deliveries++;
      try {
        await target.deliver(input);
        return;
      } catch (error) {
        stats.failedDeliveries++;
        lastError = error instanceof Error ? error : new Error(String(error));
        await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** (attempt - 1)));
      }
    }
    if (target.deadLetter) {
      stats.deadLettered++;
      await target.deadLetter(event, lastError);
    }
  }

  function track(work: Promise<void>): void {
    const tracked = work
      .catch(() => undefined)
      .finally(() => {
        inFlight.delete(tracked);
        if (inFlight.size === 0) {
          const waiters = idleWaiters;
          idleWaiters = [];
          for (const resolve of waiters) resolve();
        }
      });
    inFlight.add(tracked);
  }

  function putEvents(body: { Entries?: unknown }): { FailedEntryCount: number; Entries: object[] } {
    const entries = Array.isArray(body.Entries) ? (body.Entries as PutEventsRequestEntry[]) : [];
    const results: object[] = [];
    let failed = 0;
    const fail = (ErrorCode: string, ErrorMessage: string) => {
      failed++;
      results.push({ ErrorCode, ErrorMessage });
    };
    for (const entry of entries) {
      const checked = checkEntry(entry, buses);
      if ('errorCode' in checked) {
        fail(checked.errorCode, checked.errorMessage);
        continue;
      }
      const { detail, busName } = checked;
      const fault = options.entryFault?.({
        Source: checked.source,
        DetailType: checked.detailType,
        Detail: typeof entry.Detail === 'string' ? entry.Detail : undefined,
      });
      if (fault) {
        fail(fault.errorCode, fault.errorMessage);
        continue;
      }
      const event: EventBridgeEvent = {
        version: '0',
        id: randomUUID(),
        'detail-type': checked.detailType,
        source: checked.source,
        account,
        time: eventTime(entry.Time),
        region,
        resources: Array.isArray(entry.Resources)
          ? entry.Resources.filter((r): r is string => typeof r === 'string')
          : [],
        detail,
      };
      stats.accepted++;
      results.push({ EventId: event.id });
      for (const rule of options.rules) {
        if (rule.eventBusName !== busName || !matchesEventPattern(rule.eventPattern, event))
          continue;
        for (const target of rule.targets) track(deliver(target, event));
      }
    }
    stats.failedEntries += failed;
    return { FailedEntryCount: failed, Entries: results };
  }

  const server: Server = createServer((request, response) => {
    void (async () => {
      const target = request.headers['x-amz-target'];
      const text = await readBody(request);
      const look =
        request.method === 'POST'
          ? lookUp(String(target), text, {
              rules: options.rules,
              eventBusNames: options.eventBusNames,
              region,
              account,
            })
          : undefined;
      if (look) {
        sendJson(
          response,
          look.status,
          look.body,
          look.status === 200 ? undefined : (look.body.__type as string),
        );
        return;
      }
      if (request.method !== 'POST' || target !== 'AWSEvents.PutEvents') {
        sendJson(
          response,
          400,
          {
            __type: 'UnknownOperationException',
            message: `Unsupported operation ${String(target)}`,
          },
          'UnknownOperationException',
        );
        return;
      }
      if (options.throttleRequest?.(text)) {
        sendJson(
          response,
          400,
          { __type: 'ThrottlingException', message: 'Rate exceeded' },
          'ThrottlingException',
        );
        return;
      }
      let body: { Entries?: unknown };
      try {
        body = JSON.parse(text) as { Entries?: unknown };
      } catch {
        sendJson(
          response,
          400,
          { __type: 'SerializationException', message: 'Malformed request body' },
          'SerializationException',
        );
        return;
      }
      const entries = Array.isArray(body.Entries) ? (body.Entries as PutEventsRequestEntry[]) : [];
      if (entries.length < 1 || entries.length > 10) {
        sendJson(
          response,
          400,
          { __type: 'ValidationException', message: 'Entries must have between 1 and 10 items' },
          'ValidationException',
        );
        return;
      }
      if (entries.reduce((total, entry) => total + entrySize(entry), 0) >= MAX_REQUEST_BYTES) {
        sendJson(
          response,
          400,
          {
            __type: 'ValidationException',
            message: 'Total size of the entries in the request is over the limit.',
          },
          'ValidationException',
        );
        return;
      }
      sendJson(response, 200, putEvents(body));
    })().catch((error: unknown) => {
      sendJson(
        response,
        500,
        { __type: 'InternalException', message: String(error) },
        'InternalException',
      );
    });
  });

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    waitUntilIdle: () =>
      inFlight.size === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => idleWaiters.push(resolve)),
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
