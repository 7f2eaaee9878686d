/**
 * A local stand-in for the two Amazon CloudWatch reads `ctr-sync status`
 * makes, so that it can tell a healthy local stack from one that needs a
 * person (no CloudWatch emulator exists on npm). It speaks the wire protocol
 * `@aws-sdk/client-cloudwatch` uses (AWS JSON 1.0, `X-Amz-Target:
 * GraniteServiceVersion20100801.<Operation>`, timestamps in epoch seconds) on
 * 127.0.0.1, and reads the queues from fauxqs' own inspection endpoint
 * (`GET /_fauxqs/queues/<name>`), which neither receives nor changes them.
 *
 * - GetMetricData answers `AWS/SQS` `ApproximateAgeOfOldestMessage` and
 *   `ApproximateNumberOfMessagesVisible` of a queue (dimension `QueueName`)
 *   with one value, now. As SQS does, the age leaves out a message received
 *   three times or more (Amazon SQS Developer Guide, "Available CloudWatch
 *   metrics for Amazon SQS"), and a queue without messages has no data point.
 *   Any other metric has no data points: nothing else is collected locally.
 * - DescribeAlarms evaluates, now, the queue alarms it is given (the stack
 *   gives it resources/monitoring.yml's `*-not-empty` alarms:
 *   `ApproximateNumberOfMessagesVisible` above 0), filtered by
 *   `AlarmNamePrefix` and `StateValue`. The other alarms of
 *   resources/monitoring.yml (function errors and throttles, rule failures,
 *   quarantines, ages) are not evaluated locally and are not listed.
 *
 * Sources: Amazon CloudWatch API Reference, GetMetricData and DescribeAlarms
 * (request and response shapes).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnFreePort } from '../emulators/start-emulators';

/** An alarm on one queue's metric, as resources/monitoring.yml defines it. */
export interface QueueAlarm {
  alarmName: string;
  queueName: string;
  metricName: 'ApproximateNumberOfMessagesVisible';
  /** The alarm is in ALARM when the metric is greater than this. */
  threshold: number;
}

/** Options of {@link startLocalCloudWatch}. */
export interface LocalCloudWatchOptions {
  /** Base URL of fauxqs (its inspection endpoint). */
  fauxqsEndpoint: string;
  alarms: QueueAlarm[];
  /** Milliseconds since the epoch (injected for tests). */
  now?: () => number;
}

/** A running local CloudWatch. */
export interface LocalCloudWatch {
  /** Base URL for SDK clients (`AWS_ENDPOINT_URL_CLOUDWATCH`). */
  endpoint: string;
  stop(): Promise<void>;
}

const TARGET_PREFIX = 'GraniteServiceVersion20100801.';
const SQS_NAMESPACE = 'AWS/SQS';
/** SQS leaves a message received this many times or more out of the age of the oldest. */
const AGE_RECEIVE_LIMIT = 3;

/** A message as fauxqs' inspection lists it (the fields read here). */
interface InspectedMessage {
  sentTimestamp: number;
  approximateReceiveCount: number;
}

/** What the queue holds now: visible messages, and the age (s) of its oldest that SQS would count. */
interface QueueState {
  visible: number;
  oldestAgeSeconds?: number;
}

/**
 * Start the stand-in on a free port of 127.0.0.1. Operations other than
 * GetMetricData and DescribeAlarms are answered `400 UnknownOperationException`.
 */
export async function startLocalCloudWatch(
  options: LocalCloudWatchOptions,
): Promise<LocalCloudWatch> {
  const now = options.now ?? Date.now;

  const queueState = async (queueName: string): Promise<QueueState | undefined> => {
    const response = await fetch(
      `${options.fauxqsEndpoint}/_fauxqs/queues/${encodeURIComponent(queueName)}`,
    );
    if (response.status === 404) return undefined;
    if (!response.ok) throw new Error(`fauxqs inspection of ${queueName}: ${response.status}`);
    const { messages } = (await response.json()) as {
      messages: { ready: InspectedMessage[]; inflight: { message: InspectedMessage }[] };
    };
    const all = [...messages.ready, ...messages.inflight.map((entry) => entry.message)];
    const counted = all.filter((message) => message.approximateReceiveCount < AGE_RECEIVE_LIMIT);
    const oldest = Math.min(...counted.map((message) => message.sentTimestamp));
    return {
      visible: messages.ready.length,
      ...(counted.length > 0 ? { oldestAgeSeconds: Math.floor((now() - oldest) / 1000) } : {}),
    };
  };

  const getMetricData = async (request: GetMetricDataRequest) => {
    const results = [];
    for (const query of request.MetricDataQueries ?? []) {
      const metric = query.MetricStat?.Metric;
      const queueName = metric?.Dimensions?.find(
        (dimension) => dimension.Name === 'QueueName',
      )?.Value;
      let value: number | undefined;
      if (metric?.Namespace === SQS_NAMESPACE && queueName !== undefined) {
        const state = await queueState(queueName);
        if (metric.MetricName === 'ApproximateAgeOfOldestMessage') value = state?.oldestAgeSeconds;
        if (metric.MetricName === 'ApproximateNumberOfMessagesVisible') value = state?.visible;
      }
      results.push({
        Id: query.Id,
        Label: metric?.MetricName ?? query.Id,
        Timestamps: value === undefined ? [] : [Math.floor(now() / 1000)],
        Values: value === undefined ? [] : [value],
        StatusCode: 'Complete',
      });
    }
    return { MetricDataResults: results, Messages: [] };
  };

  const describeAlarms = async (request: DescribeAlarmsRequest) => {
    const alarms = [];
    for (const alarm of options.alarms) {
      if (request.AlarmNamePrefix && !alarm.alarmName.startsWith(request.AlarmNamePrefix)) continue;
      const state = await queueState(alarm.queueName);
      const value = state?.visible;
      const stateValue =
        value === undefined ? 'INSUFFICIENT_DATA' : value > alarm.threshold ? 'ALARM' : 'OK';
      if (request.StateValue && request.StateValue !== stateValue) continue;
      alarms.push({
        AlarmName: alarm.alarmName,
        Namespace: SQS_NAMESPACE,
        MetricName: alarm.metricName,
        Dimensions: [{ Name: 'QueueName', Value: alarm.queueName }],
        Threshold: alarm.threshold,
        ComparisonOperator: 'GreaterThanThreshold',
        StateValue: stateValue,
        StateUpdatedTimestamp: Math.floor(now() / 1000),
      });
    }
    return { MetricAlarms: alarms, CompositeAlarms: [] };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const request = (text.trim() === '' ? {} : JSON.parse(text)) as Record<string, unknown>;
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : '';
    if (operation === 'GetMetricData') return sendJson(res, 200, await getMetricData(request));
    if (operation === 'DescribeAlarms') return sendJson(res, 200, await describeAlarms(request));
    sendJson(res, 400, {
      __type: 'UnknownOperationException',
      message: `The local CloudWatch answers GetMetricData and DescribeAlarms only, not ${operation || target}`,
    });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) =>
      sendJson(res, 500, { __type: 'InternalServiceError', message: String(error) }),
    );
  });
  const port = await listenOnFreePort(server);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The parts of a GetMetricData request read here. */
interface GetMetricDataRequest {
  MetricDataQueries?: {
    Id: string;
    MetricStat?: {
      Metric?: {
        Namespace?: string;
        MetricName?: string;
        Dimensions?: { Name: string; Value: string }[];
      };
    };
  }[];
}

/** The parts of a DescribeAlarms request read here. */
interface DescribeAlarmsRequest {
  AlarmNamePrefix?: string;
  StateValue?: string;
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': String(body.length),
    'x-amzn-requestid': crypto.randomUUID(),
    ...(status >= 400
      ? { 'x-amzn-query-error': `${(value as { __type: string }).__type};Sender` }
      : {}),
  });
  res.end(body);
}
