/**
 * Collects the CloudWatch embedded metric format (EMF) lines the functions
 * print, so the local stack's summary is computed from the same metrics that
 * CloudWatch would receive in AWS.
 *
 * Source: Amazon CloudWatch User Guide, "Embedded metric format specification"
 * (`_aws.CloudWatchMetrics[].Metrics[].Name`, values as top-level members,
 * `Dimensions` as arrays of member names).
 */

interface EmfDirective {
  Namespace?: string;
  Dimensions?: string[][];
  Metrics?: { Name: string }[];
}

/** Sums of counts by metric name, and by `name:dimensionValue` for the extra dimensions (e.g. `Skipped:voicemail`). */
export class MetricsCollector {
  private readonly totals = new Map<string, number>();

  /**
   * @param onDocument - called with each EMF line's `service` (Powertools' service name, `''`
   *   when absent) and its metric values by name (summed when a metric holds several).
   */
  constructor(
    private readonly onDocument?: (service: string, values: Record<string, number>) => void,
  ) {}

  /** Feed one log line; lines that are not EMF are ignored. Returns true when it was EMF. */
  accept(line: string): boolean {
    if (!line.startsWith('{') || !line.includes('"_aws"')) return false;
    let document: Record<string, unknown>;
    try {
      document = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return false;
    }
    const directives = (document._aws as { CloudWatchMetrics?: EmfDirective[] } | undefined)
      ?.CloudWatchMetrics;
    if (!Array.isArray(directives)) return false;
    const byName: Record<string, number> = {};
    for (const directive of directives) {
      const extraDimensions = (directive.Dimensions ?? [])
        .flat()
        .filter((name) => name !== 'service');
      for (const metric of directive.Metrics ?? []) {
        const raw = document[metric.Name];
        const values = Array.isArray(raw) ? raw : [raw];
        const sum = values.reduce(
          (total: number, value) => total + (typeof value === 'number' ? value : 0),
          0,
        );
        this.add(metric.Name, sum);
        byName[metric.Name] = (byName[metric.Name] ?? 0) + sum;
        for (const dimension of extraDimensions) {
          const value = document[dimension];
          if (typeof value === 'string') this.add(`${metric.Name}:${value}`, sum);
        }
      }
    }
    this.onDocument?.(typeof document.service === 'string' ? document.service : '', byName);
    return true;
  }

  private add(key: string, value: number): void {
    this.totals.set(key, (this.totals.get(key) ?? 0) + value);
  }

  /** Total of a metric name (all dimension values together), 0 when never seen. */
  total(name: string): number {
    return this.totals.get(name) ?? 0;
  }

  /** Totals of the metrics whose name starts with `prefix`, by the rest of the name. */
  totalsWithPrefix(prefix: string): Record<string, number> {
    const result: Record<string, number> = {};
    for (const [key, value] of this.totals) {
      if (key.startsWith(prefix) && !key.includes(':')) result[key.slice(prefix.length)] = value;
    }
    return result;
  }

  /** Totals per dimension value of a metric, e.g. `{ voicemail: 2, 'channel-not-voice': 5 }`. */
  byDimension(name: string): Record<string, number> {
    const result: Record<string, number> = {};
    for (const [key, value] of this.totals) {
      if (key.startsWith(`${name}:`)) result[key.slice(name.length + 1)] = value;
    }
    return result;
  }
}
