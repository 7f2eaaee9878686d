/**
 * Ports: the interfaces the use cases need from the outside world.
 *
 * The AWS SDK implementations live in `functions/shared/`; domain tests use
 * small in-memory fakes. Every method either resolves or throws a
 * {@link ../domain/errors!PermanentError} or {@link ../domain/errors!TransientError}
 * (an adapter maps SDK errors to those two classes).
 */
import type { VoiceCallUpdate } from './voice-call';

/** The newest archived version of a contact record, as the archive holds it. */
export interface ArchivedContactRecord {
  contactId: string;
  /** ISO-8601 UTC, the archived record's LastUpdateTimestamp. */
  lastUpdateTimestamp: string;
  /** The contact record's JSON text, with every field it was received with. */
  json: string;
}

/** Which version the archive holds for a ContactId, as {@link ContactRecordArchive.getVersion} read it. */
export interface ArchivedVersion {
  /** ISO-8601 UTC, the archived record's LastUpdateTimestamp. */
  lastUpdateTimestamp: string;
  /**
   * Opaque token of the stored object (the S3 ETag). {@link ContactRecordArchive.putIfNewer}
   * makes its first write conditional on it instead of reading the archive again.
   */
  revision: string;
}

/** Outcome of {@link ContactRecordArchive.putIfNewer}. */
export type ArchivePutOutcome = 'stored' | 'duplicate' | 'older';

/**
 * The archive of contact records: one object per ContactId, newest version
 * wins (`ctr/{ContactId}.json` in S3).
 */
export interface ContactRecordArchive {
  /** The archived version (one read), or `undefined` when nothing is archived. */
  getVersion(contactId: string): Promise<ArchivedVersion | undefined>;
  /** The archived record, or `undefined` when nothing is archived. */
  get(contactId: string): Promise<ArchivedContactRecord | undefined>;
  /**
   * Store `json` unless the archive already holds the same or a newer
   * version. Never replaces a newer archived version with an older one.
   *
   * @param current - what the caller just read with {@link getVersion} (`null`: nothing was
   *   archived). The first write is then conditional on it, without reading the archive
   *   first; when it is stale that write fails its precondition and the archive is read
   *   again. Omitted: the archive is read first.
   */
  putIfNewer(
    record: ArchivedContactRecord,
    current?: ArchivedVersion | null,
  ): Promise<ArchivePutOutcome>;
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
}

/** SCV's InvokeSalesforceRestApiFunction, method `queryRecord`. */
export interface SalesforceRestApi {
  /** The first row of the SOQL query's result, or `undefined` when it has none. */
  queryRecord(soql: string): Promise<VoiceCallRow | undefined>;
}

/** Phone-number overrides applied to a resync (from START_CALL_PROCESSING). */
export interface FieldOverrides {
  toNumber?: string;
  fromNumber?: string;
}

/** An archived contact record to sync again, with optional overrides. */
export interface SyncQueueItem extends ArchivedContactRecord {
  fieldOverrides?: FieldOverrides;
}

/** The SQS sync queue drained by the updater. */
export interface SyncQueue {
  /** Enqueue contact records for sync; resolves when every message was accepted, throws otherwise. */
  enqueue(items: SyncQueueItem[]): Promise<void>;
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
