/**
 * Operator and scheduled triggers of the redrive function, and the report it
 * publishes after every run. All use `source: "ctr-sync"`.
 */
import * as z from 'zod';
import { CTR_SYNC_SOURCE } from './ctr-received';

const isoTimestamp = z.iso.datetime({ offset: true });

/**
 * `SweepRequested`: re-sync VoiceCalls still missing hold-duration data
 * (`CustomerHoldDuration = null`) created in a time window, from the archive.
 * Sent by the schedule and by operators with `aws events put-events`.
 */
export const SweepRequested = {
  source: CTR_SYNC_SOURCE,
  detailType: 'SweepRequested',
  schemaVersion: '1',
} as const;

/**
 * Detail of `SweepRequested`, every field optional:
 * - `from` / `to`: ISO-8601 UTC bounds on the VoiceCall's CreatedDate (`from`
 *   inclusive, `to` exclusive). Default: the last `lookbackHours` up to now.
 * - `lookbackHours`: default window length when `from` is absent (hours).
 * - `startAfter`: resume after this VendorCallKey (the previous run's `nextStartAfter`).
 * - `maxRecords`: cap on VoiceCalls handled in this run.
 */
export const SweepRequestedDetailSchema = z
  .object({
    from: isoTimestamp.optional(),
    to: isoTimestamp.optional(),
    lookbackHours: z
      .number()
      .positive()
      .max(24 * 366)
      .optional(),
    startAfter: z.string().min(1).optional(),
    maxRecords: z.number().int().positive().max(10_000).optional(),
  })
  .strict();

/** Parsed `SweepRequested` detail. */
export type SweepRequestedDetail = z.infer<typeof SweepRequestedDetailSchema>;

/**
 * `DlqRedriveRequested`: move messages from the sync dead-letter queue back
 * to the sync queue, bodies unchanged.
 */
export const DlqRedriveRequested = {
  source: CTR_SYNC_SOURCE,
  detailType: 'DlqRedriveRequested',
  schemaVersion: '1',
} as const;

/**
 * Detail of `DlqRedriveRequested`, every field optional:
 * - `maxMessages`: cap on the messages received from the sync DLQ in this run.
 */
export const DlqRedriveRequestedDetailSchema = z
  .object({
    maxMessages: z.number().int().positive().max(10_000).optional(),
  })
  .strict();

/** Parsed `DlqRedriveRequested` detail. */
export type DlqRedriveRequestedDetail = z.infer<typeof DlqRedriveRequestedDetailSchema>;

/**
 * `RedriveCompleted`: the counts of one redrive run, published after it.
 * `operation` names what ran; counts absent for an operation are omitted.
 */
export const RedriveCompleted = {
  source: CTR_SYNC_SOURCE,
  detailType: 'RedriveCompleted',
  schemaVersion: '1',
} as const;

/** Detail of `RedriveCompleted`. */
export const RedriveCompletedDetailSchema = z.object({
  schemaVersion: z.literal('1'),
  operation: z.enum(['sweep', 'dlq-redrive', 'start-call-processing']),
  counts: z.record(z.string(), z.number().int().nonnegative()),
  /** Sweep only: true when the window was swept to its end; false when the run stopped early (count or time). */
  complete: z.boolean().optional(),
  /** Sweep only: pass as `startAfter` to continue where this run stopped; absent when the window is done. */
  nextStartAfter: z.string().optional(),
  /** Sweep only: the error that stopped the run early, when one did (the run continues from its cursor). */
  error: z.string().optional(),
});

/** Parsed `RedriveCompleted` detail. */
export type RedriveCompletedDetail = z.infer<typeof RedriveCompletedDetailSchema>;
