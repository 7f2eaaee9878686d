/**
 * Counts of the AWS requests a function makes, per service and operation,
 * taken by an SDK middleware and published with the invocation's other
 * metrics as `AwsRequests.<Service>.<Operation>` (e.g.
 * `AwsRequests.S3.HeadObject`). Every HTTP attempt counts, retries included,
 * because every attempt is billed.
 *
 * Off unless `CTR_SYNC_REQUEST_METRICS` is `true` (the local stack and the
 * benchmark turn it on): then `instrument` adds nothing to a client and
 * `addTo` adds no metric.
 *
 * Source: AWS SDK for JavaScript v3 Developer Guide, "Middleware stack": a
 * middleware in the `deserialize` step runs inside the retry middleware
 * (`finalizeRequest` step), once per attempt; `context.clientName` and
 * `context.commandName` name the client and the command.
 */
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { MetricUnit } from '@aws-lambda-powertools/metrics';

/** Prefix of the request-count metric names. */
export const AWS_REQUESTS_METRIC_PREFIX = 'AwsRequests.';

type Handler = (args: unknown) => Promise<unknown>;
type HandlerContext = { clientName?: string; commandName?: string };

/** What {@link RequestCounts.instrument} needs of an SDK v3 client. */
export interface InstrumentableClient {
  middlewareStack: {
    add(
      middleware: (next: Handler, context: HandlerContext) => Handler,
      options: { step: 'deserialize'; name: string },
    ): void;
  };
}

/** `S3Client` + `HeadObjectCommand` -> `S3.HeadObject`. */
export function operationName(context: HandlerContext): string {
  const service = (context.clientName ?? 'Unknown').replace(/Client$/, '');
  const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
  return `${service}.${operation}`;
}

/** Request counts of one function, per operation; see the module comment. */
export class RequestCounts {
  private readonly counts = new Map<string, number>();

  /** @param enabled - count (default: `CTR_SYNC_REQUEST_METRICS` is `true`). */
  constructor(readonly enabled = process.env.CTR_SYNC_REQUEST_METRICS === 'true') {}

  /** Count every request `client` sends from now on; returns `client`. */
  instrument<C>(client: C): C {
    if (!this.enabled) return client;
    (client as InstrumentableClient).middlewareStack.add(
      (next, context) => (args) => {
        const name = operationName(context);
        this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
        return next(args);
      },
      { step: 'deserialize', name: 'ctrSyncRequestCount' },
    );
    return client;
  }

  /** Counts so far, by operation (`S3.HeadObject`). */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  /** Counts so far, by operation, and reset them. */
  take(): Record<string, number> {
    const counts = this.snapshot();
    this.counts.clear();
    return counts;
  }

  /**
   * Add the counts so far to `metrics` (stored, not published: they go out
   * in the same EMF line as the function's other counts) and reset them.
   */
  addTo(metrics: Metrics): void {
    for (const [name, count] of this.counts) {
      metrics.addMetric(`${AWS_REQUESTS_METRIC_PREFIX}${name}`, MetricUnit.Count, count);
    }
    this.counts.clear();
  }
}
