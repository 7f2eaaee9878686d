/**
 * The three functions as a deployed stage runs them: the bundles `serverless
 * package` would ship, each with serverless.yml's environment and timeout,
 * reaching the local services through the SDK's `AWS_ENDPOINT_URL_<SERVICE>`
 * variables, and their EMF metrics collected from their log lines.
 */
import { join } from 'node:path';
import { AWS_REQUESTS_METRIC_PREFIX } from '../../functions/shared/request-metrics';
import { LOCAL_REGION } from '../emulators/start-emulators';
import type { FaultPlan } from '../faults/plan';
import { MetricsCollector } from '../lambda/metrics-collector';
import {
  buildFunctions,
  type FunctionName,
  type LocalFunction,
  openLogFile,
  startLocalFunction,
} from '../lambda/runtime';
import {
  BUCKET,
  BUS_NAME,
  functionArn,
  LEDGER_TABLE_NAME,
  type QueueUrls,
  REST_API_FUNCTION,
  TELEPHONY_FUNCTION,
} from './resources';
import { FUNCTION_TIMEOUTS, UPDATER_MAPPING } from './topology';

/** The functions' metrics: totals by name, and what the summary reports per invocation. */
export interface FunctionMetrics {
  collector: MetricsCollector;
  /** Per ingest invocation: CtrReceived entries published, and PutEvents requests sent. */
  ingestInvocations: { published: number; putEventsRequests: number }[];
  /** AWS requests per operation the updater sent, retries included. */
  updaterRequests: Record<string, number>;
}

/** A collector of the functions' EMF metric lines. */
export function collectFunctionMetrics(): FunctionMetrics {
  const ingestInvocations: FunctionMetrics['ingestInvocations'] = [];
  const updaterRequests: Record<string, number> = {};
  const collector = new MetricsCollector((service, values) => {
    if (service === 'updater') {
      for (const [name, value] of Object.entries(values)) {
        if (!name.startsWith(AWS_REQUESTS_METRIC_PREFIX)) continue;
        const operation = name.slice(AWS_REQUESTS_METRIC_PREFIX.length);
        updaterRequests[operation] = (updaterRequests[operation] ?? 0) + value;
      }
    }
    // The invocation's own line (with Received), not the single-metric lines of skip reasons.
    if (service !== 'ingest' || values.Received === undefined) return;
    ingestInvocations.push({
      published: values.Published ?? 0,
      putEventsRequests: values[`${AWS_REQUESTS_METRIC_PREFIX}EventBridge.PutEvents`] ?? 0,
    });
  });
  return { collector, ingestInvocations, updaterRequests };
}

/** The environment of each function beyond what every function gets (serverless.yml). */
function functionEnvironment(queueUrls: QueueUrls): Record<FunctionName, Record<string, string>> {
  return {
    ingest: { EVENT_BUS_NAME: BUS_NAME },
    updater: {
      INVOKE_TELEPHONY_INTEGRATION_API_ARN: functionArn(TELEPHONY_FUNCTION),
      LEDGER_TABLE_NAME,
    },
    redrive: {
      LEDGER_TABLE_NAME,
      // A local run sweeps after it drained: nothing is in flight, every pending item is due.
      PENDING_RESEND_AFTER_MINUTES: '0',
      // Generated records start weeks before a run (local/input/generate.ts, a fixed epoch), and the
      // run's sweep covers them all in one window: wider than a deployed stack's operator bound.
      MAX_TRIGGER_WINDOW_DAYS: '3660',
      EVENT_BUS_NAME: BUS_NAME,
      SYNC_QUEUE_URL: queueUrls.sync,
      SYNC_DLQ_URL: queueUrls.syncDlq,
      INVOKE_SALESFORCE_REST_API_ARN: functionArn(REST_API_FUNCTION),
    },
  };
}

/**
 * Build the bundles under `workDir/build` and start ingest (concurrency 1),
 * updater (the SQS mapping's maximum concurrency) and redrive (1), each
 * logging to `logDir/<name>.log` and crashing where `faults` says. Each
 * function's stop, and its log file's, is pushed onto `stops`.
 */
export async function startFunctions(
  options: {
    workDir: string;
    logDir: string;
    endpoints: { s3AndSqs: string; eventBridge: string; lambda: string; dynamoDb: string };
    queueUrls: QueueUrls;
    metrics: FunctionMetrics;
    faults?: FaultPlan;
  },
  stops: (() => Promise<void>)[],
): Promise<Record<FunctionName, LocalFunction>> {
  const bundles = await buildFunctions(join(options.workDir, 'build'));
  const { endpoints } = options;
  const environments = functionEnvironment(options.queueUrls);
  const start = async (name: FunctionName, concurrency: number) => {
    const log = await openLogFile(join(options.logDir, `${name}.log`));
    stops.push(() => new Promise<void>((resolve) => log.end(resolve)));
    const fn = startLocalFunction({
      name,
      workerPath: bundles.worker,
      bundlePath: bundles.bundles[name],
      concurrency,
      timeoutMs: FUNCTION_TIMEOUTS[name] * 1000,
      environment: {
        AWS_REGION: LOCAL_REGION,
        // Lambda runs these bundles on nodejs22.x; the local stack may run on Node 20.
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_S3: endpoints.s3AndSqs,
        AWS_ENDPOINT_URL_SQS: endpoints.s3AndSqs,
        AWS_ENDPOINT_URL_EVENTBRIDGE: endpoints.eventBridge,
        AWS_ENDPOINT_URL_LAMBDA: endpoints.lambda,
        AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamoDb,
        AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
        AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
        S3_FORCE_PATH_STYLE: 'true',
        ARCHIVE_BUCKET_NAME: BUCKET,
        POWERTOOLS_METRICS_NAMESPACE: 'CtrSync',
        CTR_SYNC_REQUEST_METRICS: 'true',
        ...environments[name],
      },
      onLogLine: (line) => {
        options.metrics.collector.accept(line);
        log.write(`${line}\n`);
      },
      crashOnInvocation: options.faults?.crashInvocation(name),
    });
    stops.push(() => fn.stop());
    return fn;
  };
  return {
    ingest: await start('ingest', 1),
    updater: await start('updater', UPDATER_MAPPING.maximumConcurrency),
    redrive: await start('redrive', 1),
  };
}
