/**
 * Keys of the sync ledger's table. Its partition key `contactId` holds
 * contacts' ContactIds, and the table's own items under reserved prefixes:
 * the scheduled sweep's cursors (`sweep-cursor#<band>`) and the redrive's run
 * reports (`redrive-report#<id>`).
 *
 * Amazon Connect documents a ContactId as a string of 1 to 256 characters
 * (Amazon Connect API Reference, DescribeContact, `ContactId`), not as a UUID,
 * so ctr-sync does not require the UUIDs Connect writes in practice. Beyond
 * that length, it refuses only a ContactId that starts with a reserved prefix: the contact
 * record, the `CtrReceived` detail, START_CALL_PROCESSING's `callId` and
 * `ResyncRequested`'s `contactId` are checked with {@link reservedKeyIssue},
 * so no input can write onto a cursor or a report.
 */
import * as z from 'zod';

/** The prefix of the scheduled sweep's cursor items. */
export const SWEEP_CURSOR_PREFIX = 'sweep-cursor#';
/** The prefix of the redrive's run report items. */
export const RUN_REPORT_PREFIX = 'redrive-report#';
const RESERVED_PREFIXES = [SWEEP_CURSOR_PREFIX, RUN_REPORT_PREFIX] as const;

/**
 * Why `contactId` cannot be a ledger key (it starts with a reserved prefix),
 * naming the prefix, never the rest; `undefined` when it can be.
 */
export function reservedKeyIssue(contactId: string): string | undefined {
  const prefix = RESERVED_PREFIXES.find((reserved) => contactId.startsWith(reserved));
  return prefix === undefined
    ? undefined
    : `starts with "${prefix}", a prefix the sync ledger reserves for its own items`;
}

/**
 * A ContactId field: 1 to 256 characters (DynamoDB refuses a partition key
 * over 2,048 bytes, so a longer one would fail in the updater instead of
 * being refused here), and not a reserved ledger key.
 */
export const contactIdSchema = z
  .string()
  .min(1)
  .max(256)
  .check((context) => {
    const issue = reservedKeyIssue(context.value);
    if (issue !== undefined)
      context.issues.push({ code: 'custom', message: issue, input: context.value });
  });
