/**
 * `npm start -- --serve` (local/run/start.ts, runLocal with `serve`): a local stack
 * that stays up, driven as an operator would, through the endpoints it
 * announces: START_CALL_PROCESSING from events/examples/ as it is (on the
 * `ctr-sync-dev` bus), a record put on the stream with the real Kinesis SDK,
 * a sweep with `ctr-sync sweep --stage dev --wait`, and `ctr-sync status
 * --stage dev`; then stopped, drained and reconciled.
 */
import { readFileSync } from 'node:fs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main';
import type { LocalStack } from '../../local/run/stack';
import { readInput } from '../../local/input/read';
import { runLocal } from '../../local/run/start';
import { loadContactRecordFixture } from '../fixtures/factories';

const examples = new URL('../../events/examples/', import.meta.url);

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('npm start -- --serve', () => {
  it('announces its endpoints, takes what an operator puts, and reconciles when stopped', async () => {
    let stop!: () => void;
    const until = new Promise<void>((resolve) => {
      stop = resolve;
    });
    let ready!: (stack: LocalStack) => void;
    const served = new Promise<LocalStack>((resolve) => {
      ready = resolve;
    });
    // The answered call as input; another contact's record is put by hand while it serves.
    const input = await readInput([
      new URL('../fixtures/ctr/inbound-answered.json', import.meta.url).pathname,
    ]);
    const run = runLocal(input, { serve: { onReady: ready, until } });
    let finished = false;
    try {
      const stack = await served;
      expect(Object.keys(stack.endpoints).sort()).toEqual(
        [
          'CLOUDWATCH',
          'DYNAMODB',
          'EVENTBRIDGE',
          'FIREHOSE',
          'KINESIS',
          'LAMBDA',
          'S3',
          'SQS',
        ].sort(),
      );
      for (const [service, url] of Object.entries(stack.endpoints)) {
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        vi.stubEnv(`AWS_ENDPOINT_URL_${service}`, url);
      }
      vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
      vi.stubEnv('AWS_REGION', 'us-east-1');

      // START_CALL_PROCESSING, as the example file has it, for the input's call (synced already:
      // it is resynced with the numbers).
      const entries = JSON.parse(
        readFileSync(new URL('start-call-processing.json', examples), 'utf8'),
      );
      const put = await new EventBridgeClient({}).send(new PutEventsCommand({ Entries: entries }));
      expect(put.FailedEntryCount).toBe(0);
      const detail = JSON.parse(entries[0].Detail) as {
        callId: string;
        toNumber: string;
        fromNumber: string;
      };

      expect(input[0]?.contactId).toBe(detail.callId);

      // Another call ends: its record on the stream, its VoiceCall created by SCV when it started.
      const versions = loadContactRecordFixture('republished-inbound-transfer');
      const record = versions[versions.length - 1] as Record<string, unknown>;
      const byHand = String(record.ContactId);
      await stack.createVoiceCall(byHand, String(record.InitiationTimestamp));
      // kinesis-local speaks HTTP/1.1; the SDK's Kinesis client defaults to HTTP/2 in Node.
      await new KinesisClient({ requestHandler: new NodeHttpHandler() }).send(
        new PutRecordCommand({
          StreamName: 'connect-contact-records',
          PartitionKey: byHand,
          Data: Buffer.from(JSON.stringify(record)),
        }),
      );
      await stack.drain();

      const out: string[] = [];
      const err: string[] = [];
      const sweep = await main(['sweep', '--stage', 'dev', '--wait', '--wait-seconds', '120'], {
        io: { out: (line) => out.push(line), err: (line) => err.push(line) },
      });
      expect([sweep, err]).toEqual([0, []]);
      expect(out[0]).toMatch(/^SweepRequested put on ctr-sync-dev: EventId [0-9a-f-]{36}$/);
      expect(JSON.parse(out.slice(1).join('\n'))).toMatchObject({
        operation: 'sweep',
        complete: true,
      });

      // The operator's one screen, through the local CloudWatch: healthy, the sweep just run.
      const screen: string[] = [];
      const status = await main(['status', '--stage', 'dev'], {
        io: { out: (line) => screen.push(line), err: (line) => screen.push(line) },
      });
      expect([status, screen.at(-1)]).toEqual([0, 'healthy']);
      expect(screen).toContain('alarms in ALARM: none');
      expect(screen.find((line) => line.startsWith('last sweep: '))).toMatch(/min ago/);

      stop();
      const result = await run;
      finished = true;
      expect(result.voiceCalls[detail.callId]).toMatchObject({
        toNumber: detail.toNumber,
        fromNumber: detail.fromNumber,
      });
      expect(result.summary).toMatchObject({ inDlq: { sync: 0, redrive: 0 } });
      expect(result.summary.received).toBe(input.length + 1);
      expect(result.voiceCalls[byHand]).toMatchObject({
        queue: (record.Queue as { Name: string }).Name,
      });
      // The input's call carries the numbers put by hand, which the reconciliation reads from the
      // ledger: nothing lost.
      expect(result.reconciliation.lost).toBe(0);
      expect(result.summary.voiceCalls).toBe(2);
    } finally {
      if (!finished) {
        stop();
        await run.catch(() => undefined);
      }
    }
  }, 300_000);
});
