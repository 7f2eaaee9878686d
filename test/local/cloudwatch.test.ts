/**
 * The local CloudWatch (local/cloudwatch/server.ts) through the real
 * `@aws-sdk/client-cloudwatch`, over queues in the local SQS emulator
 * (fauxqs): what `ctr-sync status` reads of a local stack.
 */
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCloudWatch, startLocalCloudWatch } from '../../local/cloudwatch/server';
import {
  createSqsClient,
  type EmulatorHandle,
  startFauxqsServer,
} from '../../local/emulators/start-emulators';

const NOW = Date.parse('2026-12-02T10:00:00Z');
let fauxqs: EmulatorHandle;
let sqs: SQSClient;
let cloudWatch: LocalCloudWatch;
let client: CloudWatchClient;
let clock = NOW;

beforeAll(async () => {
  fauxqs = await startFauxqsServer();
  sqs = createSqsClient(fauxqs.endpoint);
  cloudWatch = await startLocalCloudWatch({
    fauxqsEndpoint: fauxqs.endpoint,
    alarms: ['sync-dlq', 'redrive-dlq'].map((queue) => ({
      alarmName: `ctr-sync-dev-${queue}-not-empty`,
      queueName: `ctr-sync-dev-${queue}`,
      metricName: 'ApproximateNumberOfMessagesVisible',
      threshold: 0,
    })),
    now: () => clock,
  });
  client = new CloudWatchClient({
    endpoint: cloudWatch.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  client?.destroy();
  sqs?.destroy();
  await cloudWatch?.stop();
  await fauxqs?.stop();
});

const inAlarm = async () =>
  (
    await client.send(
      new DescribeAlarmsCommand({ AlarmNamePrefix: 'ctr-sync-dev-', StateValue: 'ALARM' }),
    )
  ).MetricAlarms?.map((alarm) => alarm.AlarmName);

const oldestAge = async (queueName: string) => {
  const result = await client.send(
    new GetMetricDataCommand({
      StartTime: new Date(clock - 900_000),
      EndTime: new Date(clock),
      MetricDataQueries: [
        {
          Id: 'q0',
          MetricStat: {
            Metric: {
              Namespace: 'AWS/SQS',
              MetricName: 'ApproximateAgeOfOldestMessage',
              Dimensions: [{ Name: 'QueueName', Value: queueName }],
            },
            Period: 300,
            Stat: 'Maximum',
          },
        },
      ],
    }),
  );
  return result.MetricDataResults?.[0]?.Values;
};

describe('the local CloudWatch', () => {
  it("puts a queue's not-empty alarm in ALARM while it holds a message, and gives its oldest message's age", async () => {
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({ QueueName: 'ctr-sync-dev-sync-dlq' }),
    );
    await sqs.send(new CreateQueueCommand({ QueueName: 'ctr-sync-dev-redrive-dlq' }));
    clock = Date.now();
    expect(await inAlarm()).toEqual([]);
    expect(await oldestAge('ctr-sync-dev-sync-dlq')).toEqual([]);

    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: '{"contactId":"c-1"}' }));
    clock = Date.now() + 120_000;

    expect(await inAlarm()).toEqual(['ctr-sync-dev-sync-dlq-not-empty']);
    const [age] = (await oldestAge('ctr-sync-dev-sync-dlq')) ?? [];
    expect(age).toBeGreaterThanOrEqual(119);
    expect(age).toBeLessThan(180);
  });

  it('leaves a message received three times out of the age, as SQS does', async () => {
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({ QueueName: 'ctr-sync-dev-received' }),
    );
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x' }));
    clock = Date.now() + 60_000;
    expect(await oldestAge('ctr-sync-dev-received')).toHaveLength(1);

    for (let receive = 0; receive < 3; receive++) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 0, WaitTimeSeconds: 1 }),
      );
      expect(Messages).toHaveLength(1);
    }

    expect(await oldestAge('ctr-sync-dev-received')).toEqual([]);
  });
});
