/** Local DynamoDB for a test file: dynalite behind local/dynamodb/server.ts, and a client of it. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type LocalDynamoDb,
  type LocalDynamoDbOptions,
  startLocalDynamoDb,
} from '../../local/dynamodb/server';

/** A running local DynamoDB and its client; `stop()` ends both. */
export interface TestDynamoDb {
  dynamoDb: LocalDynamoDb;
  client: DynamoDBClient;
  stop(): Promise<void>;
}

/** Start local DynamoDB on 127.0.0.1 with `options` (faults, capacity), and a client of it in us-east-1. */
export async function startTestDynamoDb(options: LocalDynamoDbOptions = {}): Promise<TestDynamoDb> {
  const dynamoDb = await startLocalDynamoDb(options);
  const client = new DynamoDBClient({
    endpoint: dynamoDb.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  return {
    dynamoDb,
    client,
    stop: async () => {
      client.destroy();
      await dynamoDb.stop();
    },
  };
}
