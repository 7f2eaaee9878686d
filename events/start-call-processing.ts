/**
 * `START_CALL_PROCESSING`, the event AWS Live Call Analytics (LCA) defines to
 * start processing an in-progress call, optionally reassigning its agent and
 * phone numbers (LCA documentation, "Start call processing for an in-progress
 * call"). ctr-sync holds `toNumber` / `fromNumber` in the sync ledger under
 * the callId (the ContactId) and applies them to every send of that call's
 * contact record, resyncing it at once when the record was already claimed.
 */
import * as z from 'zod';

/** Descriptor of the LCA event; `source` and `detail-type` are fixed by LCA. */
export const StartCallProcessing = {
  source: 'lca-solution',
  detailType: 'START_CALL_PROCESSING',
} as const;

/** Detail: `callId` required (the ContactId for Amazon Connect calls); the rest optional. */
export const StartCallProcessingDetailSchema = z.object({
  callId: z.string().min(1),
  agentId: z.string().optional(),
  toNumber: z.string().min(1).optional(),
  fromNumber: z.string().min(1).optional(),
});

/** Parsed START_CALL_PROCESSING detail. */
export type StartCallProcessingDetail = z.infer<typeof StartCallProcessingDetailSchema>;
