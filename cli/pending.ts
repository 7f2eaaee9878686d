/**
 * `ctr-sync pending --stage S [--max N]`: the contacts with a version pending
 * in the sync ledger, oldest first.
 *
 * A version is pending while it may be unsent (claimed, then a send that
 * failed or was not confirmed; START_CALL_PROCESSING numbers waiting for
 * their record). The ledger marks it with `pending` (S, always "pending") and
 * `pendingSince` (ms since the epoch), the keys of the sparse index `pending`
 * (functions/shared/dynamodb-ledger.ts; serverless.yml, `SyncLedgerTable`),
 * which projects the keys only. `pendingSince` is when the contact became
 * pending (a later pending version keeps it), moved on only when the sweep
 * defers it because its record could not be found (domain/ports.ts,
 * `deferPending`); the sweep resends what has been pending longer than
 * `pendingResendAfterMinutes`.
 *
 * Prints ContactIds and times only: the ledger item's held record and
 * numbers are not read.
 */
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { PENDING_INDEX } from '../functions/shared/dynamodb-ledger';
import { type Clients, stageNames } from './aws';
import { asciiJson, EXIT, type Io, UsageError } from './io';

/** Contacts listed when `--max` is not given. */
export const PENDING_DEFAULT_MAX = 100;

/** The most `--max` may ask for. */
export const PENDING_MAX = 10_000;

/** One pending contact. */
export interface PendingContact {
  contactId: string;
  /** ms since the epoch. */
  pendingSince: number;
}

/**
 * Up to `max` pending contacts of `tableName`, oldest `pendingSince` first:
 * `Query` on the index `pending` (`ScanIndexForward: true`, sorted by its sort
 * key `pendingSince`), page after page (`LastEvaluatedKey`) until `max` or
 * the end (Amazon DynamoDB API Reference, Query).
 *
 * @returns the contacts, and `more` when the last page ended at `max` with a
 *   `LastEvaluatedKey` (there may be more).
 * @throws the SDK's error (ResourceNotFoundException: no such table).
 */
export async function readPending(
  tableName: string,
  max: number,
  clients: Clients,
): Promise<{ contacts: PendingContact[]; more: boolean }> {
  const contacts: PendingContact[] = [];
  let start: Record<string, never> | undefined;
  do {
    const page = await clients.dynamoDb().send(
      new QueryCommand({
        TableName: tableName,
        IndexName: PENDING_INDEX,
        KeyConditionExpression: '#pending = :pending',
        ExpressionAttributeNames: { '#pending': 'pending' },
        ExpressionAttributeValues: { ':pending': { S: 'pending' } },
        ScanIndexForward: true,
        Limit: max - contacts.length,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      const contactId = item.contactId?.S;
      const pendingSince = Number(item.pendingSince?.N);
      if (contactId !== undefined && Number.isFinite(pendingSince)) {
        contacts.push({ contactId, pendingSince });
      }
    }
    start = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (start && contacts.length < max);
  return { contacts, more: start !== undefined };
}

/**
 * Print up to `max` pending contacts of `stage`'s ledger, one line each
 * (ContactId, `pendingSince` ISO-8601 UTC, age in whole minutes at `now`),
 * then a count line.
 *
 * @returns {@link EXIT.ok} once read (none pending included).
 * @throws UsageError when the stage has no ledger table in the Region.
 * @throws the SDK's error on any other failure (the command exits 1).
 */
export async function printPending(
  stage: string,
  max: number,
  clients: Clients,
  io: Io,
  now: number = Date.now(),
): Promise<number> {
  const tableName = stageNames(stage).ledgerTable;
  let read: Awaited<ReturnType<typeof readPending>>;
  try {
    read = await readPending(tableName, max, clients);
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFoundException') {
      const region = await clients.dynamoDb().config.region();
      throw new UsageError(
        `no table ${tableName} (or its index ${PENDING_INDEX}) in ${region}: is stage ${stage} deployed there? (--stage, --region)`,
      );
    }
    throw error;
  }
  for (const { contactId, pendingSince } of read.contacts) {
    const minutes = Math.floor((now - pendingSince) / 60_000);
    io.out(`${printable(contactId)}  ${new Date(pendingSince).toISOString()}  ${minutes} min`);
  }
  const count = read.contacts.length;
  io.out(
    read.more
      ? `${count} pending shown, the oldest first; there may be more (--max, or ctr-sync status --stage ${stage} for the count)`
      : `${count} pending in ${tableName}`,
  );
  return EXIT.ok;
}

/**
 * A ContactId as one word of one line: as it is when it is printable ASCII
 * without spaces (a UUID), else as a JSON string with every other character
 * escaped ({@link asciiJson}), so that one holding a line break or a terminal
 * escape cannot forge lines of the output.
 */
export function printable(contactId: string): string {
  return /^[\x21-\x7e]+$/.test(contactId) ? contactId : asciiJson(contactId);
}
