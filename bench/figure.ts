/**
 * The shape every `npm run bench` figure reports, so bench/run.ts can print
 * one table and write the JSON.
 */

/** One measured figure against its target (issue 5). */
export interface FigureResult {
  /** Figure number, 1 to 7, in the order of the README's Performance table. */
  id: number;
  /** Short name, e.g. "Ingest CPU per record vs floor". */
  name: string;
  /** What was measured, for the table: values with units, e.g. "4.1 µs vs 4.6 µs floor: 0.89x". */
  measured: string;
  /** The target, for the table, e.g. "≤ 1.0x". */
  target: string;
  /** Whether the measurement meets the target. */
  pass: boolean;
  /** The raw figures (numbers with their units in the key names, e.g. `medianNsPerRecord`), for the JSON. */
  details: Record<string, unknown>;
}

/** Median of `values` (the mean of the middle two for an even count). @throws RangeError when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] as number;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] as number) + upper) / 2;
}

/** The `q` quantile (0..1) of `values` by nearest rank. @throws RangeError when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new RangeError('quantile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] as number;
}
