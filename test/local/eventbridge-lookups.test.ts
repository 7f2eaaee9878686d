/**
 * The local EventBridge's read-only operations (local/eventbridge/server.ts),
 * through the real SDK: DescribeEventBus, ListRules, DescribeRule, with AWS's
 * ResourceNotFoundException for a bus or rule that does not exist.
 */
import {
  DescribeEventBusCommand,
  DescribeRuleCommand,
  EventBridgeClient,
  ListRulesCommand,
} from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import patterns from '../../events/patterns.json';
import { type LocalEventBridge, startLocalEventBridge } from '../../local/eventbridge/server';

let local: LocalEventBridge;
let client: EventBridgeClient;

beforeAll(async () => {
  local = await startLocalEventBridge({
    eventBusNames: ['ctr-sync-dev'],
    account: '000000000000',
    region: 'us-east-1',
    rules: [
      {
        name: 'sync',
        eventBusName: 'ctr-sync-dev',
        eventPattern: patterns.ctrReceived,
        targets: [],
      },
      {
        name: 'redrive-requested',
        eventBusName: 'ctr-sync-dev',
        eventPattern: patterns.redriveRequested,
        targets: [],
      },
    ],
  });
  client = new EventBridgeClient({
    endpoint: local.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  client?.destroy();
  await local?.stop();
});

describe('local EventBridge lookups', () => {
  it('describes an existing bus and refuses one that does not exist', async () => {
    const bus = await client.send(new DescribeEventBusCommand({ Name: 'ctr-sync-dev' }));
    const missing = await client
      .send(new DescribeEventBusCommand({ Name: 'ctr-sync-prod' }))
      .catch((error: unknown) => error);

    expect(bus).toMatchObject({
      Name: 'ctr-sync-dev',
      Arn: 'arn:aws:events:us-east-1:000000000000:event-bus/ctr-sync-dev',
    });
    expect((missing as Error).name).toBe('ResourceNotFoundException');
  });

  it('lists the rules of a bus by prefix, with their patterns, and describes one', async () => {
    const all = await client.send(new ListRulesCommand({ EventBusName: 'ctr-sync-dev' }));
    const some = await client.send(
      new ListRulesCommand({ EventBusName: 'ctr-sync-dev', NamePrefix: 'redrive' }),
    );
    const rule = await client.send(
      new DescribeRuleCommand({ EventBusName: 'ctr-sync-dev', Name: 'sync' }),
    );
    const missing = await client
      .send(new DescribeRuleCommand({ EventBusName: 'ctr-sync-dev', Name: 'nope' }))
      .catch((error: unknown) => error);

    expect(all.Rules?.map((candidate) => candidate.Name)).toEqual(['sync', 'redrive-requested']);
    expect(some.Rules?.map((candidate) => candidate.Name)).toEqual(['redrive-requested']);
    expect(JSON.parse(rule.EventPattern ?? '')).toEqual(patterns.ctrReceived);
    expect(rule).toMatchObject({ State: 'ENABLED', EventBusName: 'ctr-sync-dev' });
    expect((missing as Error).name).toBe('ResourceNotFoundException');
  });
});
