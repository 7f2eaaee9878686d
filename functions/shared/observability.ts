/**
 * Powertools logger and metrics, one namespace for the whole pipeline.
 *
 * Log lines carry ContactIds, sequence numbers, reasons and counts; never
 * phone numbers, attribute values or whole records. Every line also passes
 * through a redaction step (log-redaction.ts) for what error messages quote.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { RedactingLogFormatter } from './log-redaction';

/** CloudWatch namespace of every ctr-sync metric (EMF). */
export const METRICS_NAMESPACE = 'CtrSync';

/**
 * Metric names, counts per invocation:
 * Received, Skipped (dimension Reason), Quarantined, Published, Archived,
 * Synced, Repaired (sends beyond the first in one sync), Resent (a claimed version sent again,
 * dimension Reason: resync, redelivery, own-claim), Superseded, Duplicate, Failed,
 * Redriven (dimension Operation), SweepStuck (a sweep run, or a band of the
 * scheduled one, that could not take its first VoiceCall: its cursor cannot move).
 */
export type MetricName =
  | 'Received'
  | 'Skipped'
  | 'Quarantined'
  | 'Published'
  | 'Archived'
  | 'Synced'
  | 'Repaired'
  | 'Resent'
  | 'Superseded'
  | 'Duplicate'
  | 'Failed'
  | 'Redriven'
  | 'SweepStuck';

/** Logger and metrics of one function, created once at cold start. */
export function createObservability(serviceName: string): { logger: Logger; metrics: Metrics } {
  return {
    logger: new Logger({ serviceName, logFormatter: new RedactingLogFormatter() }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName }),
  };
}

/**
 * Counts accumulated during one invocation and flushed as EMF once at its
 * end: one `addMetric` per name instead of one per record, and one extra
 * single-metric line per dimension value (skip reasons).
 */
export class InvocationCounters {
  private readonly counts = new Map<MetricName, number>();
  private readonly byDimension = new Map<
    string,
    { name: MetricName; dimension: string; value: string; count: number }
  >();

  /** Add `n` (default 1) to `name`. */
  add(name: MetricName, n = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + n);
  }

  /** Add `n` (default 1) to `name` under `dimension=value` (e.g. Reason=voicemail). */
  addWithDimension(name: MetricName, dimension: string, value: string, n = 1): void {
    const key = `${name}\u0000${dimension}\u0000${value}`;
    const entry = this.byDimension.get(key);
    if (entry) entry.count += n;
    else this.byDimension.set(key, { name, dimension, value, count: n });
  }

  /** Emit everything counted so far and reset. */
  flush(metrics: Metrics): void {
    for (const [name, count] of this.counts) metrics.addMetric(name, MetricUnit.Count, count);
    for (const { name, dimension, value, count } of this.byDimension.values()) {
      const single = metrics.singleMetric();
      single.addDimension(dimension, value);
      single.addMetric(name, MetricUnit.Count, count);
    }
    this.counts.clear();
    this.byDimension.clear();
    metrics.publishStoredMetrics();
  }
}
