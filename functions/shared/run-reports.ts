/**
 * The reports of redrive runs, kept a day in the sync ledger's table so that
 * an operator's `ctr-sync <command> --wait` can read the `RedriveCompleted`
 * of the run its trigger started, and `ctr-sync status` the last sweep's.
 *
 * Items: `contactId` = `redrive-report#<trigger event id>` (the EventId that
 * PutEvents returned for the trigger; no accepted ContactId starts with the
 * prefix: domain/ledger-keys.ts) or
 * `redrive-report#last-sweep`; `report` (S, the `RedriveCompleted` detail as
 * JSON), `invocation` (S, the request id of the Lambda invocation that wrote
 * it), `failed` (BOOL, on failure reports only), `at` (N, ms since the epoch),
 * `expiresAt` (N, epoch seconds: the table's TTL attribute, a day later).
 */
import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { RUN_REPORT_PREFIX } from '../../domain/ledger-keys';

const PREFIX = RUN_REPORT_PREFIX;
/** The key of the last sweep's report. */
export const LAST_SWEEP = 'last-sweep';

/** A stored run report: the `RedriveCompleted` detail and when it was stored (ms). */
export interface RunReport {
  report: Record<string, unknown>;
  at: number;
}

/** Run reports over DynamoDB; see the module comment for the items. */
export function createRunReportStore(options: {
  client: DynamoDBClient;
  tableName: string;
  /** Milliseconds since the epoch (injected for tests). */
  now?: () => number;
}) {
  const { client, tableName } = options;
  const now = options.now ?? (() => Date.now());
  const item = (id: string, report: object, invocationId: string) => {
    const at = now();
    return {
      contactId: { S: `${PREFIX}${id}` },
      report: { S: JSON.stringify(report) },
      invocation: { S: invocationId },
      at: { N: String(at) },
      expiresAt: { N: String(Math.floor(at / 1000) + 86_400) },
    };
  };
  return {
    /**
     * Store `report` under `id` (a trigger's event id, or {@link LAST_SWEEP}),
     * written by the Lambda invocation `invocationId` (its request id).
     */
    async put(id: string, report: object, invocationId: string): Promise<void> {
      await client.send(
        new PutItemCommand({ TableName: tableName, Item: item(id, report, invocationId) }),
      );
    },
    /**
     * Store a failure report under `id`, unless a report of another invocation
     * that did not fail is there: EventBridge may deliver one trigger twice
     * (at least once), and the run that failed must not hide the one that
     * completed. It replaces a failure report, and this invocation's own
     * report (a run that failed after storing it). A conditional write
     * (Amazon DynamoDB Developer Guide, "Condition expressions").
     *
     * @returns false when a completed run's report was kept.
     * @throws what DynamoDB throws but a failed condition.
     */
    async putFailure(id: string, report: object, invocationId: string): Promise<boolean> {
      try {
        await client.send(
          new PutItemCommand({
            TableName: tableName,
            Item: { ...item(id, report, invocationId), failed: { BOOL: true } },
            ConditionExpression:
              'attribute_not_exists(#report) OR #failed = :true OR #invocation = :invocation',
            ExpressionAttributeNames: {
              '#report': 'report',
              '#failed': 'failed',
              '#invocation': 'invocation',
            },
            ExpressionAttributeValues: {
              ':true': { BOOL: true },
              ':invocation': { S: invocationId },
            },
          }),
        );
        return true;
      } catch (error) {
        if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
        throw error;
      }
    },
    /** The report stored under `id`, or `undefined` (a strongly consistent read). */
    async get(id: string): Promise<RunReport | undefined> {
      const result = await client.send(
        new GetItemCommand({
          TableName: tableName,
          Key: { contactId: { S: `${PREFIX}${id}` } },
          ConsistentRead: true,
        }),
      );
      const text = result.Item?.report?.S;
      if (text === undefined) return undefined;
      return {
        report: JSON.parse(text) as Record<string, unknown>,
        at: Number(result.Item?.at?.N),
      };
    },
  };
}
