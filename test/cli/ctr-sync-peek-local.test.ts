/**
 * `ctr-sync peek` through the real SDK on the local SQS emulator (fauxqs,
 * local/emulators/start-emulators.ts): the wire protocol of ReceiveMessage
 * with visibility 0, and that the messages are still there afterwards.
 */
import { CreateQueueCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClients } from '../../cli/aws';
import { main } from '../../cli/main';
import {
  createSqsClient,
  type EmulatorHandle,
  startFauxqsServer,
} from '../../local/emulators/start-emulators';

let fauxqs: EmulatorHandle;
let client: SQSClient;

beforeAll(async () => {
  fauxqs = await startFauxqsServer();
  client = createSqsClient(fauxqs.endpoint);
});

afterAll(async () => {
  client?.destroy();
  await fauxqs?.stop();
});

describe('ctr-sync peek against the local SQS emulator (real SDK, real wire protocol)', () => {
  it('reads every message of the sync DLQ once, leaves them visible, and prints no phone number', async () => {
    const { QueueUrl } = await client.send(
      new CreateQueueCommand({ QueueName: 'ctr-sync-dev-sync-dlq' }),
    );
    const contactIds = ['c-1', 'c-2', 'c-3'];
    for (const contactId of contactIds) {
      await client.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: JSON.stringify({
            schemaVersion: '1',
            contactId,
            lastUpdateTimestamp: '2026-11-20T10:00:00Z',
            contactRecord: { ContactId: contactId, CustomerEndpoint: { Address: '+15555550100' } },
          }),
        }),
      );
    }
    vi.stubEnv('AWS_ENDPOINT_URL_SQS', fauxqs.endpoint);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    const peek = async () => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(['peek', '--stage', 'dev', '--queue', 'sync-dlq', '--json'], {
        io: { out: (line) => out.push(line), err: (line) => err.push(line) },
        clients: (connection) => createClients({ ...connection, region: 'us-east-1' }),
      });
      const lines = out.map((line) => JSON.parse(line));
      return {
        code,
        err,
        text: out.join('\n'),
        messages: lines.slice(0, -1),
        summary: lines.at(-1),
      };
    };
    let first: Awaited<ReturnType<typeof peek>>;
    let second: Awaited<ReturnType<typeof peek>>;
    try {
      first = await peek();
      second = await peek();
    } finally {
      vi.unstubAllEnvs();
    }

    expect(first.err).toEqual([]);
    expect(first.code).toBe(0);
    expect(first.messages.map((line) => line.contactId).sort()).toEqual(contactIds);
    expect(new Set(first.messages.map((line) => line.messageId)).size).toBe(3);
    expect(first.messages[0].sent).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(first.text).not.toContain('+15555550100');
    // fauxqs counts a message received with visibility 0 as in flight until its next
    // timer pass (SQS counts it visible): the two together are the queue's three.
    expect(first.summary.read).toBe(3);
    expect(
      first.summary.approximateNumberOfMessages +
        first.summary.approximateNumberOfMessagesNotVisible,
    ).toBe(3);
    // Left where they were: the next look reads the same messages again.
    expect(second.messages.map((line) => line.messageId).sort()).toEqual(
      first.messages.map((line) => line.messageId).sort(),
    );
    expect(second.messages.every((line) => line.receives >= 2)).toBe(true);
  });
});
