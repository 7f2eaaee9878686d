/**
 * The AWS clients of the operator commands and the names a stage's stack
 * gives its resources (serverless.yml: every name is `ctr-sync-<stage>...`).
 *
 * Credentials and region come from the AWS SDK's default chains (environment,
 * shared config and credentials files, SSO, instance or container roles);
 * `--region` overrides the region. `--endpoint-url` points the EventBridge
 * client at an endpoint (the local stack has one port per service); every
 * client reads the standard per-service variables (`AWS_ENDPOINT_URL_DYNAMODB`,
 * `AWS_ENDPOINT_URL_SQS`, ...: AWS SDKs and Tools Reference Guide,
 * "Service-specific endpoints"). With an SQS endpoint configured, requests go
 * to it rather than to the host of the queue URL (`useQueueUrlAsEndpoint`),
 * since an emulator's queue URLs may name a host that does not resolve.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';

/** Where the clients connect. */
export interface Connection {
  region?: string;
  endpointUrl?: string;
}

/** The clients the commands use, created lazily (a dry run creates none). */
export interface Clients {
  eventBridge(): EventBridgeClient;
  dynamoDb(): DynamoDBClient;
  sqs(): SQSClient;
  cloudWatch(): CloudWatchClient;
}

/** Clients for `connection`, each created on first use and then reused. */
export function createClients(connection: Connection): Clients {
  const config = connection.region ? { region: connection.region } : {};
  const eventBridgeConfig = {
    ...config,
    ...(connection.endpointUrl ? { endpoint: connection.endpointUrl } : {}),
  };
  const sqsConfig = {
    ...config,
    ...(process.env.AWS_ENDPOINT_URL_SQS ? { useQueueUrlAsEndpoint: false } : {}),
  };
  const once = <T>(create: () => T) => {
    let client: T | undefined;
    return () => (client ??= create());
  };
  return {
    eventBridge: once(() => new EventBridgeClient(eventBridgeConfig)),
    dynamoDb: once(() => new DynamoDBClient(config)),
    sqs: once(() => new SQSClient(sqsConfig)),
    cloudWatch: once(() => new CloudWatchClient(config)),
  };
}

/** The names of a stage's resources, as serverless.yml names them. */
export function stageNames(stage: string) {
  const prefix = `ctr-sync-${stage}`;
  return {
    bus: prefix,
    ledgerTable: `${prefix}-ledger`,
    alarmPrefix: `${prefix}-`,
    queues: {
      sync: `${prefix}-sync`,
      'sync-dlq': `${prefix}-sync-dlq`,
      'redrive-dlq': `${prefix}-redrive-dlq`,
      'ingest-failures': `${prefix}-ingest-failures`,
      'archive-dlq': `${prefix}-archive-dlq`,
    },
  };
}

/** A stage name as serverless accepts one (letters, digits, hyphens). */
export function isStageName(stage: string): boolean {
  return /^[a-zA-Z0-9-]+$/.test(stage);
}
