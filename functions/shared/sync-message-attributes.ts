/**
 * SQS message attributes the redrive function puts on what it sends to the
 * sync queue, and the updater reads (Lambda passes them in each record's
 * `messageAttributes`). A module of its own so the updater does not bundle
 * the SQS client for two names.
 */

/** Names the DLQ redrive run that moved a message back (a string run id). */
export const REDRIVE_RUN_ATTRIBUTE = 'ctr-sync-redrive-run';

/**
 * `"true"` on what the sweep and START_CALL_PROCESSING enqueue: a resync, which
 * the updater sends even when the sync ledger says SCV acknowledged this version.
 */
export const RESYNC_ATTRIBUTE = 'ctr-sync-resync';
