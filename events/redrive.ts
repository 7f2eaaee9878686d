/**
 * Operator and scheduled triggers of the redrive function, and the report it
 * publishes after every run. All use `source: "ctr-sync"`.
 */
import * as z from 'zod';
import { contactIdSchema } from '../domain/ledger-keys';
import { SWEEP_BANDS } from '../domain/redrive';
import { CTR_SYNC_SOURCE } from './ctr-received';

const isoTimestamp = z.iso.datetime({ offset: true });

/** A window's check: when both bounds are given, `from` is before `to` (reported on `to`). */
const fromBeforeTo = (detail: { from?: string; to?: string }) =>
  detail.from === undefined ||
  detail.to === undefined ||
  Date.parse(detail.from) < Date.parse(detail.to);
const FROM_BEFORE_TO_ISSUE = { message: 'from must be before to', path: ['to'] };

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
 * - `band`: set by the redrive on the continuation of a scheduled sweep's
 *   band (with `from` and `to`), so that the band's cursor moves when the
 *   window is done (domain/redrive.ts, SWEEP_BANDS).
 *
 * With none of `from`, `to`, `lookbackHours`, `startAfter` (the schedule's
 * `{}`), the redrive runs the scheduled sweep: each band from its cursor.
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
    band: z.enum(SWEEP_BANDS).optional(),
  })
  .strict()
  .refine(fromBeforeTo, FROM_BEFORE_TO_ISSUE)
  .refine(
    (detail) => detail.band === undefined || (detail.from !== undefined && detail.to !== undefined),
    {
      message: 'band goes with from and to',
      path: ['band'],
    },
  );

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
 * `ReplayRequested`: feed the records of the archive objects of a time window
 * through the normal sync path, where the sync ledger decides whether each is
 * newer, a duplicate or superseded. Sent by operators (a restore of the
 * ledger, a backfill from an Amazon Connect contact-record export copied into
 * the bucket) and by the redrive itself to continue a run.
 */
export const ReplayRequested = {
  source: CTR_SYNC_SOURCE,
  detailType: 'ReplayRequested',
  schemaVersion: '1',
} as const;

/** Key prefixes a replay may read: the delivery stream's, or an export copied under `import/`. */
export const REPLAY_PREFIXES = ['archive/', 'import/'] as const;

/**
 * Detail of `ReplayRequested`:
 * - `from` / `to`: ISO-8601 UTC bounds on the objects' hourly prefixes
 *   (`from` inclusive, `to` exclusive, whole hours read).
 * - `contactIds`: optional, replay only these contacts (at most 100).
 * - `prefix`: optional, `archive/` (default, the delivery stream's objects) or
 *   `import/` (an Amazon Connect contact-record export copied there with its
 *   `yyyy/MM/dd/HH/` layout).
 * - `startAfter`: optional, continue after this object key (a run's `nextStartAfter`).
 * - `maxObjects`: optional cap on the objects read in this run.
 */
export const ReplayRequestedDetailSchema = z
  .object({
    from: isoTimestamp,
    to: isoTimestamp,
    contactIds: z.array(z.string().min(1)).min(1).max(100).optional(),
    prefix: z.enum(REPLAY_PREFIXES).optional(),
    startAfter: z.string().min(1).optional(),
    maxObjects: z.number().int().positive().max(100_000).optional(),
  })
  .strict()
  .refine(fromBeforeTo, FROM_BEFORE_TO_ISSUE);

/** Parsed `ReplayRequested` detail. */
export type ReplayRequestedDetail = z.infer<typeof ReplayRequestedDetailSchema>;

/**
 * `ResyncRequested`: repair one contact. Sent by operators when a VoiceCall
 * must be brought back to the newest genuine version of its contact record
 * (README, Runbook, "Repairing one contact").
 */
export const ResyncRequested = {
  source: CTR_SYNC_SOURCE,
  detailType: 'ResyncRequested',
  schemaVersion: '1',
} as const;

/**
 * Detail of `ResyncRequested`:
 * - `contactId`: the contact (the VoiceCall's VendorCallKey).
 * - `reset`: optional, reset the sync ledger's claim first (keeping held
 *   overrides), so a claimed version that should not be there (a forged one)
 *   no longer supersedes the genuine ones. Default false.
 * - `resetOverrides`: optional, with `reset`: also drop the held
 *   START_CALL_PROCESSING overrides (forged numbers). Default false.
 * - `from` / `to`: optional ISO-8601 UTC bounds of the archive window to read
 *   (both or neither); default: from an hour before the VoiceCall's
 *   CreatedDate to `maxTriggerWindowDays` after it (or now).
 */
export const ResyncRequestedDetailSchema = z
  .object({
    contactId: contactIdSchema,
    reset: z.boolean().optional(),
    resetOverrides: z.boolean().optional(),
    from: isoTimestamp.optional(),
    to: isoTimestamp.optional(),
  })
  .strict()
  .refine((detail) => (detail.from === undefined) === (detail.to === undefined), {
    message: 'give both from and to, or neither',
    path: ['to'],
  })
  .refine(fromBeforeTo, FROM_BEFORE_TO_ISSUE);

/** Parsed `ResyncRequested` detail. */
export type ResyncRequestedDetail = z.infer<typeof ResyncRequestedDetailSchema>;

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
  operation: z.enum(['sweep', 'dlq-redrive', 'start-call-processing', 'replay', 'resync']),
  counts: z.record(z.string(), z.number().int().nonnegative()),
  /** Sweep and replay: true when the window was done to its end; false when the run stopped early (count or time). */
  complete: z.boolean().optional(),
  /** Sweep and replay: pass as `startAfter` to continue where this run stopped; absent when the window is done. */
  nextStartAfter: z.string().optional(),
  /** Sweep only: the error that stopped the run early, when one did (the run continues from its cursor). */
  error: z.string().optional(),
  /** Scheduled sweep only: the window each band swept in this run (ISO-8601 UTC). */
  bands: z
    .array(z.object({ band: z.enum(SWEEP_BANDS).optional(), from: z.string(), to: z.string() }))
    .optional(),
  /** Scheduled sweep only: the bands this run had no time left for (they go first next hour). */
  bandsNotRun: z.array(z.enum(SWEEP_BANDS)).optional(),
});

/** Parsed `RedriveCompleted` detail. */
export type RedriveCompletedDetail = z.infer<typeof RedriveCompletedDetailSchema>;
