/**
 * `CtrReceived`: a valid, sync-eligible Amazon Connect contact record, as the
 * ingest function publishes it on the ctr-sync event bus.
 *
 * The sync rule subscribes to it: an SQS target with `InputPath: $.detail`,
 * so the sync queue's message bodies are the detail object itself.
 */
import * as z from 'zod';
import { ContactRecordSchema } from '../domain/contact-record';
import { contactIdSchema } from '../domain/ledger-keys';

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
 * Where a contact record too large to travel in an event (or holding a
 * character SQS rejects) was stored, instead of the record itself (the
 * claim-check pattern): `key` in `bucket`, which is
 * `large/{ContactId}/{version}.json` in the archive bucket, one object per version.
 */
export const ContactRecordRefSchema = z.object({
  bucket: z.string().min(1),
  key: z.string().min(1),
});

/**
 * Whether JSON text holds a character that SQS does not accept in a message
 * body, U+FFFE or U+FFFF (SQS allows #x9, #xA, #xD, #x20 to #xD7FF, #xE000 to
 * #xFFFD and #x10000 to #x10FFFF; Amazon SQS API Reference, SendMessage),
 * written as itself or as the escape `\uFFFE` / `\uFFFF` (any case): an
 * escape is decoded on the way (EventBridge turns the event's detail into the
 * message body), and SQS would then reject both the send and the dead-letter
 * send. A detail holding one cannot reach the sync queue, so it travels by
 * reference.
 *
 * @param text - JSON text (an escape counts only where its backslash is not
 *   itself escaped: `\\uffff` is a backslash and the letters `uffff`).
 */
export function hasCharactersSqsRejects(text: string): boolean {
  // One scan for both spellings; only an escape found needs its backslashes counted.
  const found = SQS_REJECTED.exec(text);
  if (!found) return false;
  return found[0].length === 1 || SQS_REJECTED_ESCAPE.test(text);
}

const SQS_REJECTED = /[\uFFFE\uFFFF]|\\u[fF]{3}[eEfF]/;
/** The escape after an even number of backslashes (so the backslash escapes the `u`), or the character. */
const SQS_REJECTED_ESCAPE = /(?<!\\)(?:\\\\)*\\u[fF]{3}[eEfF]|[\uFFFE\uFFFF]/;

/** Parsed {@link ContactRecordRefSchema}. */
export type ContactRecordRef = z.infer<typeof ContactRecordRefSchema>;

/**
 * The detail of `CtrReceived`:
 * - `schemaVersion`: "1".
 * - `contactId`: the record's ContactId (also the VoiceCall's VendorCallKey).
 * - `lastUpdateTimestamp`: the record's LastUpdateTimestamp, ISO-8601 UTC; orders versions.
 * - exactly one of
 *   - `contactRecord`: the whole contact record, as Amazon Connect published it;
 *   - `contactRecordRef`: where the record was stored before publishing,
 *     when it is too large for an event entry (PutEvents entries must total
 *     less than 1 MB per request, Amazon EventBridge API Reference, PutEvents;
 *     ingest counts 1,000,000 bytes, functions/shared/event-publisher.ts).
 * - `fieldOverrides`: optional; accepted so that messages enqueued by earlier
 *   versions still parse, and ignored: the updater applies the overrides the
 *   sync ledger holds (START_CALL_PROCESSING).
 */
export const CtrReceivedDetailSchema = z
  .object({
    schemaVersion: z.literal(CtrReceived.schemaVersion),
    contactId: contactIdSchema,
    lastUpdateTimestamp: z.string().min(1),
    contactRecord: ContactRecordSchema.optional(),
    contactRecordRef: ContactRecordRefSchema.optional(),
    fieldOverrides: FieldOverridesSchema.optional(),
  })
  .refine(
    (detail) => (detail.contactRecord === undefined) !== (detail.contactRecordRef === undefined),
    {
      message: 'must have exactly one of contactRecord and contactRecordRef',
      path: ['contactRecord'],
    },
  );

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
  return `${detailHead(contactId, lastUpdateTimestamp, fieldOverrides)},"contactRecord":${contactRecordJson}}`;
}

/**
 * The detail of `CtrReceived` for a record that was stored first, as JSON
 * text: `contactRecordRef` instead of `contactRecord`.
 *
 * @param contactId - the record's ContactId.
 * @param lastUpdateTimestamp - the record's LastUpdateTimestamp, ISO-8601 UTC.
 * @param ref - where the record is stored.
 * @param fieldOverrides - optional phone-number overrides (resyncs only).
 */
export function buildCtrReceivedReferenceDetail(
  contactId: string,
  lastUpdateTimestamp: string,
  ref: ContactRecordRef,
  fieldOverrides?: z.infer<typeof FieldOverridesSchema>,
): string {
  return `${detailHead(contactId, lastUpdateTimestamp, fieldOverrides)},"contactRecordRef":${JSON.stringify({ bucket: ref.bucket, key: ref.key })}}`;
}

function detailHead(
  contactId: string,
  lastUpdateTimestamp: string,
  fieldOverrides: z.infer<typeof FieldOverridesSchema> | undefined,
): string {
  const overrides = fieldOverrides ? `,"fieldOverrides":${JSON.stringify(fieldOverrides)}` : '';
  return `{"schemaVersion":"${CtrReceived.schemaVersion}","contactId":${JSON.stringify(contactId)},"lastUpdateTimestamp":${JSON.stringify(lastUpdateTimestamp)}${overrides}`;
}
