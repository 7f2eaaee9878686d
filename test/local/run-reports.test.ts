/**
 * Run reports (functions/shared/run-reports.ts) on local DynamoDB (dynalite
 * behind local/dynamodb/server.ts): which report an operator's `--wait` reads
 * when one trigger is run by more than one invocation (EventBridge delivers
 * at least once, and Lambda retries a failed asynchronous invocation).
 */
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRunReportStore } from '../../functions/shared/run-reports';
import { ledgerTableInput } from '../../local/run/topology';
import { startTestDynamoDb, type TestDynamoDb } from './local-dynamodb';

let local: TestDynamoDb;
let tables = 0;

beforeAll(async () => {
  local = await startTestDynamoDb();
});

afterAll(async () => {
  await local?.stop();
});

async function store() {
  const tableName = `reports-${++tables}`;
  await local.client.send(new CreateTableCommand(ledgerTableInput(tableName)));
  return createRunReportStore({ client: local.client, tableName, now: () => 1_000_000 });
}

const COMPLETED = {
  schemaVersion: '1',
  operation: 'sweep',
  counts: { queried: 3 },
  complete: true,
};
const FAILED = { failed: true, error: 'Sweep made no progress: SCV throttled' };

describe('run reports of one trigger run by two invocations', () => {
  it("keeps a completed run's report when another invocation of the trigger fails after it", async () => {
    const reports = await store();
    await reports.put('event-1', COMPLETED, 'request-a');

    const stored = await reports.putFailure('event-1', FAILED, 'request-b');

    expect(stored).toBe(false);
    expect((await reports.get('event-1'))?.report).toEqual(COMPLETED);
  });

  it('replaces its own report when the same invocation fails after storing it', async () => {
    const reports = await store();
    await reports.put('event-1', COMPLETED, 'request-a');

    expect(await reports.putFailure('event-1', FAILED, 'request-a')).toBe(true);
    expect((await reports.get('event-1'))?.report).toEqual(FAILED);
  });

  it('replaces a failure report, by a failure or by a completed run', async () => {
    const reports = await store();
    expect(await reports.putFailure('event-1', FAILED, 'request-a')).toBe(true);
    const later = { ...FAILED, error: 'Redrive failed again' };

    expect(await reports.putFailure('event-1', later, 'request-b')).toBe(true);
    expect((await reports.get('event-1'))?.report).toEqual(later);
    await reports.put('event-1', COMPLETED, 'request-c');
    expect((await reports.get('event-1'))?.report).toEqual(COMPLETED);
  });
});
