/**
 * `CtrReceived`: a valid, sync-eligible Amazon Connect contact record, as the
 * ingest function publishes it on the ctr-sync event bus.
 *
 * Two rules subscribe to it: the archive rule (a Lambda target) and the sync
 * rule (an SQS target with `InputPath: $.detail`, so the sync queue's message
 * bodies are the detail object itself).
 */
import { z } from 'zod';
import { ContactRecordSchema } from '../domain/contact-record';

/** `source` of every event ctr-sync publishes. */
export const CTR_SYNC_SOURCE = 'ctr-sync';

/** Descriptor of the `CtrReceived` event. */
export const CtrReceived = {
  source: CTR_SYNC_SOURCE,
  detailType: 'CtrReceived',
  /** Bumped on any incompatible change of the detail's shape. */
  schemaVersion: '1',
} as const;

/**
 * Overrides applied to the VoiceCall's phone numbers when a call is resynced
 * from a START_CALL_PROCESSING event (Live Call Analytics).
 */
export const FieldOverridesSchema = z.object({
  toNumber: z.string().min(1).optional(),
  fromNumber: z.string().min(1).optional(),
});

/**
 * The detail of `CtrReceived`:
 * - `schemaVersion`: "1".
 * - `contactId`: the record's ContactId (also the VoiceCall's VendorCallKey).
 * - `lastUpdateTimestamp`: the record's LastUpdateTimestamp, ISO-8601 UTC; orders versions.
 * - `contactRecord`: the whole contact record, as Amazon Connect published it.
 * - `fieldOverrides`: optional, set only on resyncs requested by START_CALL_PROCESSING.
 */
export const CtrReceivedDetailSchema = z.object({
  schemaVersion: z.literal(CtrReceived.schemaVersion),
  contactId: z.string().min(1),
  lastUpdateTimestamp: z.string().min(1),
  contactRecord: ContactRecordSchema,
  fieldOverrides: FieldOverridesSchema.optional(),
});

/** Parsed `CtrReceived` detail. */
export type CtrReceivedDetail = z.infer<typeof CtrReceivedDetailSchema>;

/**
 * The detail of `CtrReceived` as JSON text, with the contact record's own
 * JSON text embedded as it arrived rather than re-serialized: the ingest hot
 * path parses each record once (to validate it) and never stringifies it.
 *
 * @param contactRecordJson - the record's JSON text; must be valid JSON (the caller parsed it).
 * @param contactId - the record's ContactId.
 * @param lastUpdateTimestamp - the record's LastUpdateTimestamp, ISO-8601 UTC.
 * @param fieldOverrides - optional phone-number overrides (resyncs only).
 */
export function buildCtrReceivedDetail(
  contactRecordJson: string,
  contactId: string,
  lastUpdateTimestamp: string,
  fieldOverrides?: z.infer<typeof FieldOverridesSchema>,
): string {
  const overrides = fieldOverrides ? `,"fieldOverrides":${JSON.stringify(fieldOverrides)}` : '';
  return `{"schemaVersion":"${CtrReceived.schemaVersion}","contactId":${JSON.stringify(contactId)},"lastUpdateTimestamp":${JSON.stringify(lastUpdateTimestamp)}${overrides},"contactRecord":${contactRecordJson}}`;
}
