/**
 * The stage's bus: the local EventBridge with the rules of topology.ts (the
 * patterns serverless.yml deploys) and their targets as deployed: the sync
 * queue and the archive delivery stream (each input `$.detail`, dead-lettered
 * into its own queue), and the redrive function invoked asynchronously (its
 * failures, after Lambda's attempts, in the redrive DLQ as on-failure records).
 */
import type { FirehoseClient } from '@aws-sdk/client-firehose';
import { PutRecordCommand } from '@aws-sdk/client-firehose';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { LOCAL_REGION } from '../emulators/start-emulators';
import {
  type EventBridgeEvent,
  type LocalEventBridge,
  type RuleTarget,
  startLocalEventBridge,
} from '../eventbridge/server';
import { contentKey, type FaultPlan } from '../faults/plan';
import type { FunctionName } from '../lambda/runtime';
import { ACCOUNT, BUS_NAME, DELIVERY_STREAM, functionArn, type QueueUrls } from './resources';
import { ASYNC_INVOKE_ATTEMPTS, RULES } from './topology';

/** Per-entry PutEvents error codes the fault plan picks from (PutEventsResultEntry.ErrorCode). */
const PUT_EVENTS_ENTRY_FAULTS = [
  { errorCode: 'InternalFailure', errorMessage: 'Injected internal failure' },
  { errorCode: 'ThrottlingException', errorMessage: 'Injected throttling' },
] as const;

/**
 * Lambda's on-failure destination record for an asynchronous invocation (AWS
 * Lambda Developer Guide, "Capturing records of Lambda asynchronous
 * invocations"), as JSON.
 */
function onFailureRecord(functionName: string, event: EventBridgeEvent, error: Error): string {
  return JSON.stringify({
    version: '1.0',
    timestamp: new Date().toISOString(),
    requestContext: {
      functionArn: functionArn(functionName),
      condition: 'RetriesExhausted',
      approximateInvokeCount: ASYNC_INVOKE_ATTEMPTS,
    },
    requestPayload: event,
    responseContext: { statusCode: 200, functionError: 'Unhandled' },
    responsePayload: { errorType: error.name, errorMessage: error.message },
  });
}

/**
 * Start the bus. `sqs` sends to the queues (through the fault proxy, so a
 * failed send to the sync queue is retried, then dead-lettered); `invoke`
 * runs a function (bound late: the functions start after the bus, since they
 * need its endpoint). PutEvents entries and requests fail where `faults` says.
 */
export async function startBus(options: {
  sqs: SQSClient;
  firehose: FirehoseClient;
  queueUrls: QueueUrls;
  invoke: (name: FunctionName, event: unknown) => Promise<unknown>;
  faults?: FaultPlan;
}): Promise<LocalEventBridge> {
  const { sqs, queueUrls, faults } = options;
  const sendTo = (url: string) => async (body: string) => {
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
  };
  const targetOf = ({ name, target }: (typeof RULES)[number]): RuleTarget => {
    if (target.kind === 'delivery-stream') {
      return {
        id: name,
        inputPath: target.inputPath,
        // EventBridge puts the selected input on the delivery stream as one record.
        deliver: async (input) => {
          await options.firehose.send(
            new PutRecordCommand({
              DeliveryStreamName: DELIVERY_STREAM,
              Record: { Data: Buffer.from(JSON.stringify(input)) },
            }),
          );
        },
        deadLetter: (event) => sendTo(queueUrls.archiveDlq)(JSON.stringify(event)),
      };
    }
    if (target.kind === 'queue') {
      return {
        id: name,
        inputPath: target.inputPath,
        deliver: (input) => sendTo(queueUrls.sync)(JSON.stringify(input)),
        deadLetter: (event) => sendTo(queueUrls.syncDlq)(JSON.stringify(event)),
      };
    }
    const functionName = target.function;
    return {
      id: name,
      maxAttempts: ASYNC_INVOKE_ATTEMPTS,
      deliver: async (input) => {
        await options.invoke(functionName, input);
      },
      deadLetter: (event, error) =>
        sendTo(queueUrls.redriveDlq)(onFailureRecord(functionName, event, error)),
    };
  };
  return startLocalEventBridge({
    rules: RULES.map((rule) => ({
      name: rule.name,
      eventBusName: BUS_NAME,
      eventPattern: rule.eventPattern,
      targets: [targetOf(rule)],
    })),
    eventBusNames: [BUS_NAME],
    account: ACCOUNT,
    region: LOCAL_REGION,
    entryFault: (entry) => {
      const key = `entry ${contentKey(entry.Detail ?? '')}`;
      return faults?.decide('eventbridge', key)
        ? faults.choose('eventbridge', key, PUT_EVENTS_ENTRY_FAULTS)
        : undefined;
    },
    throttleRequest: (body) => faults?.decide('eventbridge', `call ${contentKey(body)}`) ?? false,
  });
}
