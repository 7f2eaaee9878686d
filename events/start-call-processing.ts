/**
 * `START_CALL_PROCESSING`, the event AWS Live Call Analytics (LCA) defines to
 * start processing an in-progress call, optionally reassigning its agent and
 * phone numbers (LCA documentation, "Start call processing for an in-progress
 * call"). ctr-sync holds `toNumber` / `fromNumber` in the sync ledger under
 * the callId (the ContactId) and applies them to every send of that call's
 * contact record, resyncing it at once when the record was already claimed.
 */
import * as z from 'zod';
import { contactIdSchema } from '../domain/ledger-keys';

/** Descriptor of the LCA event; `source` and `detail-type` are fixed by LCA. */
export const StartCallProcessing = {
  source: 'lca-solution',
  detailType: 'START_CALL_PROCESSING',
} as const;

/**
 * What SCV takes as a VoiceCall's toNumber / fromNumber: an E.164 number (ITU-T
 * E.164: `+`, then up to 15 digits, the first not 0), as Amazon Connect writes
 * endpoint addresses and SCV's stock sync copies them (ctrDataSync/utils.js,
 * `CustomerEndpoint.Address`, `SystemEndpoint.Address`), or `WebRTC_Default`,
 * the value SCV itself sends for a WebRTC call without an address
 * (ctrDataSync/utils.js and invokeTelephonyIntegrationApi/handler.js,
 * WEBRTC_DEFAULT). LCA's own documentation shows free text ("Bobs cell"),
 * which LCA displays but a VoiceCall's phone fields should not take.
 */
export const OverrideNumberSchema = z.string().regex(/^(\+[1-9]\d{1,14}|WebRTC_Default)$/, {
  message: 'must be an E.164 number (+ then up to 15 digits) or WebRTC_Default, as SCV sends',
});

/**
 * Detail: `callId` required (the ContactId for Amazon Connect calls); the rest
 * optional. `toNumber` / `fromNumber` are checked against
 * {@link OverrideNumberSchema}; an event with another value is refused whole
 * (nothing held) and, after Lambda's retries, lands in the redrive DLQ with
 * the reason (never the value).
 */
export const StartCallProcessingDetailSchema = z.object({
  callId: contactIdSchema,
  agentId: z.string().optional(),
  toNumber: OverrideNumberSchema.optional(),
  fromNumber: OverrideNumberSchema.optional(),
});

/** Parsed START_CALL_PROCESSING detail. */
export type StartCallProcessingDetail = z.infer<typeof StartCallProcessingDetailSchema>;
