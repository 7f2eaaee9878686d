/**
 * Ports: the interfaces the use cases need from the outside world.
 *
 * The AWS SDK implementations live in `functions/shared/`; domain tests use
 * small in-memory fakes. Every method either resolves or throws a
 * {@link ../domain/errors!PermanentError} or {@link ../domain/errors!TransientError}
 * (an adapter maps SDK errors to those two classes).
 */
import type { VoiceCallUpdate } from './voice-call';

import type { SkipReason } from './eligibility';

/**
 * Where a contact record too large for an event (or holding a character SQS
 * rejects) is kept: an immutable S3 object per version, `key` in `bucket`.
 */
export interface RecordReference {
  bucket: string;
  key: string;
}

/** A contact record kept for a later send: its JSON text, or a reference to it. */
export type HeldRecord = { json: string } | { ref: RecordReference };

/**
 * Phone-number overrides from START_CALL_PROCESSING (AWS Live Call Analytics),
 * applied to every send of the contact's record.
 */
export interface FieldOverrides {
  toNumber?: string;
  fromNumber?: string;
}

/**
 * One contact in the sync ledger (a DynamoDB item keyed by ContactId). Version
 * keys are {@link ../domain/versions!versionKey}s; times are milliseconds
 * since the epoch (UTC).
 */
export interface LedgerItem {
  contactId: string;
  /** The newest version claimed for sending (or skipped, see `skipped`). */
  claimed?: string;
  /** Who claimed it: the claim's token (the SQS message id). */
  claimedBy?: string;
  /** When the claimed version reached the sync queue (SQS SentTimestamp, ms): where to look for it in the archive. */
  receivedAt?: number;
  /** The newest version SCV acknowledged (`updateVoiceCall` succeeded). */
  sent?: string;
  /** Why the claimed version is not sent, when it is skipped on purpose. */
  skipped?: SkipReason;
  /** Held overrides (START_CALL_PROCESSING), with when they arrived (`overridesAt`, ms). */
  overrides?: FieldOverrides;
  overridesAt?: number;
  /**
   * Set (ms) while the claimed version may be unsent after a failure, a
   * redelivery, or a request to send it again; the sweep resends items
   * pending for longer than its threshold.
   */
  pendingSince?: number;
  /**
   * A record held for a later send (absent on the common path): after a
   * failure or a redelivery, or while another version was in flight. Used
   * only while `heldVersion` is the claimed version.
   */
  held?: HeldRecord;
  heldVersion?: string;
  /**
   * The send generation: how many sends were started (each claim starts one,
   * each further send of the claimed version one more). A send is marked sent
   * only when no later one started, since only then is its update known to be
   * the last that can land.
   */
  sends?: number;
  /**
   * The send generation at which an update that may hold other content than
   * the claimed version's was found to have landed out of order (set with
   * `pendingSince`): no send started at or before it can be marked sent.
   */
  dirty?: number;
}

/** Outcome of {@link SyncLedger.claim}, with the item as it was before the claim. */
export type ClaimOutcome =
  | {
      outcome: 'claimed';
      before: LedgerItem | undefined;
      /** The send generation this claim started. */
      generation: number;
    }
  | {
      outcome: 'duplicate';
      before: LedgerItem;
      /** The version was claimed with this claim's token: by this message (a retry or a redelivery). */
      own: boolean;
    }
  | { outcome: 'older'; before: LedgerItem };

/** A claim of one version, see {@link SyncLedger.claim}. */
export interface ClaimRequest {
  contactId: string;
  /** The version key. */
  version: string;
  /**
   * Unique to this attempt's message (the SQS message id). A claim whose
   * response was lost and that the SDK retried finds the version claimed by
   * its own token: it is this claim, not a duplicate.
   */
  token: string;
  /** SQS SentTimestamp of the message (ms). */
  receivedAt: number;
  /** The record is skipped on purpose: claim it with this reason, nothing will be sent. */
  skipped?: SkipReason;
  /** Hold the record and mark the version pending as the claim is written (a redelivery). */
  hold?: HeldRecord;
}

/** Outcome of {@link SyncLedger.markSent}: `sent`, or the item that made the condition fail. */
export type MarkSentOutcome = { outcome: 'sent' } | { outcome: 'changed'; item: LedgerItem };

/**
 * The sync ledger: per ContactId, which version is claimed, which one SCV
 * acknowledged, held overrides, skip reasons and pending sends. Written only
 * with conditional writes, so concurrent updaters agree on one newest version.
 */
export interface SyncLedger {
  /**
   * Claim `version` if it is newer than the claimed one (or nothing is
   * claimed): one conditional write. `duplicate`: the same version is
   * claimed (`own` when by the same token); `older`: a newer one is.
   */
  claim(request: ClaimRequest): Promise<ClaimOutcome>;
  /**
   * Start one more send of the claimed `version`: one write that increments
   * the send generation, on condition that `version` is still claimed.
   * Resolves with the new generation, or `undefined` when it is not claimed.
   */
  beginSend(contactId: string, version: string): Promise<number | undefined>;
  /**
   * Record that SCV acknowledged `version` sent with the overrides of
   * `overridesAt` (undefined: none were held), clearing pending, on
   * condition that `version` is still claimed, no send started after
   * `generation`, nothing was found out of order since (`dirty` below
   * `generation`), and the overrides are unchanged; otherwise `changed` with
   * the item as it is. The held record stays (a repair may need it) until
   * the next claim.
   */
  markSent(
    contactId: string,
    version: string,
    generation: number,
    overridesAt: number | undefined,
  ): Promise<MarkSentOutcome>;
  /**
   * Mark `version` pending (needs a send), holding `record` when given, on
   * condition that it is still the claimed version; with `outOfOrder`, the
   * send generation the caller read after an older update may have landed
   * last, also set `dirty` to it (never lowering it). Resolves `false` when
   * `version` is not claimed (or `dirty` is already as high).
   */
  markPending(
    contactId: string,
    version: string,
    at: number,
    options?: { record?: HeldRecord; outOfOrder?: number },
  ): Promise<boolean>;
  /**
   * Move a pending item to the back of the pending index (`pendingSince` =
   * `at`), when its record could not be found: so that items the sweep can
   * resolve are not crowded out. Resolves `false` when it is not pending.
   */
  deferPending(contactId: string, at: number): Promise<boolean>;
  /** Store overrides for a contact (creating the item if needed); resolves with the item after the write. */
  holdOverrides(contactId: string, overrides: FieldOverrides, at: number): Promise<LedgerItem>;
  /** The item, or `undefined` (a strongly consistent read). */
  get(contactId: string): Promise<LedgerItem | undefined>;
  /**
   * Items pending since before `before` (ms), oldest first, at most `limit`,
   * after the `startAfter` cursor; from a sparse index, never a scan.
   */
  listPending(request: {
    before: number;
    limit: number;
    startAfter?: string;
  }): Promise<{ items: LedgerItem[]; next?: string }>;
  /** Remove the item: the next delivery of the contact is claimed as new (a repair). */
  forget(contactId: string): Promise<void>;
  /**
   * Reset the claim (a repair of one contact): remove what the item says of
   * versions (claimed, claimedBy, receivedAt, sent, skipped, held record,
   * pending, dirty), keeping the held overrides and the send generation, so
   * the next version offered is claimed as new and no send already started
   * can be marked sent; with `overrides`, the held overrides go too. One
   * write; resolves with the item after it, or `undefined` when there was
   * none (nothing is created).
   */
  resetClaim(contactId: string, options?: { overrides?: boolean }): Promise<LedgerItem | undefined>;
  /**
   * Where the scheduled sweep's `band` (see domain/redrive.ts, SWEEP_BANDS)
   * stopped: the end (ms since the epoch) of the last window swept to its
   * end, or `undefined` before the first. A strongly consistent read.
   */
  getSweepCursor(band: string): Promise<number | undefined>;
  /**
   * Record that `band` was swept to its end over [`from`, `to`) (ms): one
   * conditional write that moves the cursor to `to` only when the window
   * starts at or before it and ends after it (or there is no cursor yet), so
   * it never moves back (a late continuation of an older window changes
   * nothing) nor jumps over a part not swept. Resolves whether it moved.
   */
  advanceSweepCursor(band: string, from: number, to: number): Promise<boolean>;
}

/** Time window of archive objects, ISO-8601 UTC bounds (`from` inclusive, `to` exclusive). */
export interface ArchiveWindow {
  from: string;
  to: string;
}

/**
 * The archive of every contact record version as received: objects the
 * Firehose delivery stream writes under hourly prefixes (`CtrReceived`
 * details, newline-delimited JSON, GZIP), or a contact-record export of
 * Amazon Connect's own data streaming (plain records, one per line or
 * concatenated).
 */
export interface ContactRecordArchive {
  /** Keys of the archive objects whose hourly prefix falls in the window, oldest first, after `startAfter`. */
  listObjects(
    window: ArchiveWindow,
    startAfter?: string,
  ): Promise<{ keys: string[]; next?: string }>;
  /**
   * The JSON texts of the contact records in one object, in order (a record
   * sent by reference read from its object; text that does not parse passed
   * on as it is, for the caller to count). With `wanted`, a record sent by
   * reference whose ContactId it refuses is left out without being read.
   */
  readObject(key: string, wanted?: (contactId: string) => boolean): Promise<string[]>;
}

/** Immutable per-version objects of records sent by reference. */
export interface RecordReferenceStore {
  /** Store the record's JSON; resolves with where it is. */
  put(contactId: string, version: string, json: string): Promise<RecordReference>;
  /** The JSON text, or `undefined` when the object does not exist. */
  get(ref: RecordReference): Promise<string | undefined>;
}

/** Where records that cannot be parsed or validated are kept, with their raw bytes. */
export interface QuarantineStore {
  /**
   * Keep `data` (the raw record bytes) under a key derived from `id`, with
   * the machine-readable `reason` and a human-readable `message`.
   */
  put(entry: { id: string; data: Uint8Array; reason: string; message: string }): Promise<void>;
}

/** SCV's InvokeTelephonyIntegrationApiFunction, method `updateVoiceCall`. */
export interface TelephonyIntegration {
  /**
   * Update (or create) the VoiceCall whose VendorCallKey is `update.contactId`.
   * Throws TransientError on throttling, a FunctionError, a non-2xx status or
   * a `success: false` answer.
   */
  updateVoiceCall(update: VoiceCallUpdate): Promise<void>;
}

/** A VoiceCall row as `queryRecord` returns it (first row only). */
export interface VoiceCallRow {
  Id: string;
  VendorCallKey: string;
  /** ISO-8601 UTC, when SCV created the VoiceCall (the call started); when selected. */
  CreatedDate?: string;
}

/** SCV's InvokeSalesforceRestApiFunction, method `queryRecord`. */
export interface SalesforceRestApi {
  /** The first row of the SOQL query's result, or `undefined` when it has none. */
  queryRecord(soql: string): Promise<VoiceCallRow | undefined>;
}

/** A contact record version to sync again (a resync): its JSON text, or a reference to it. */
export interface SyncQueueItem {
  contactId: string;
  /** ISO-8601 UTC, the record's LastUpdateTimestamp. */
  lastUpdateTimestamp: string;
  record: HeldRecord;
}

/** The SQS sync queue drained by the updater. */
export interface SyncQueue {
  /**
   * Enqueue contact records for sync; resolves when every message was
   * accepted, throws otherwise. They are resyncs (sent even when the ledger
   * says the version was acknowledged) unless `resync` is false.
   */
  enqueue(items: SyncQueueItem[], options?: { resync?: boolean }): Promise<void>;
  /**
   * Send message bodies unchanged (DLQ redrive); resolves when every body was
   * accepted. `redriveRun` marks the messages with the id of the redrive run
   * that sent them, so that run can tell them apart if they fail again and
   * come back to the dead-letter queue while it is still running.
   */
  sendRaw(bodies: string[], options?: { redriveRun?: string }): Promise<void>;
}

/** A message received from a dead-letter queue. */
export interface DeadLetter {
  body: string;
  receiptHandle: string;
  /** The redrive run that last moved this message back, when one did. */
  redriveRun?: string;
}

/** A dead-letter queue that messages can be moved out of. */
export interface DeadLetterQueue {
  /** Receive up to `max` messages (at most 10 per call). */
  receive(max: number): Promise<DeadLetter[]>;
  /** Delete messages that were moved. */
  delete(messages: DeadLetter[]): Promise<void>;
}

/** Publishes a report event on the bus. */
export interface ReportPublisher {
  publish(detailType: string, detail: object): Promise<void>;
}
