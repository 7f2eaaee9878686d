/**
 * The request-count middleware on a real SDK client against a local HTTP
 * server: every attempt counts, retries included, per service and operation.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationName, RequestCounts } from '../../functions/shared/request-metrics';

let server: Server;
let endpoint: string;
let answers: number[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const status = answers.shift() ?? 200;
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(
        status === 200
          ? JSON.stringify({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] })
          : JSON.stringify({ __type: 'InternalException', message: 'try again' }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function client(): EventBridgeClient {
  return new EventBridgeClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: 3,
  });
}

const putEvents = () =>
  new PutEventsCommand({ Entries: [{ Source: 's', DetailType: 'd', Detail: '{}' }] });

describe('RequestCounts', () => {
  it('counts each attempt of each operation, the retries included', async () => {
    const counts = new RequestCounts(true);
    const eventBridge = counts.instrument(client());
    answers = [500, 200, 200];

    await eventBridge.send(putEvents());
    await eventBridge.send(putEvents());

    expect(counts.snapshot()).toEqual({ 'EventBridge.PutEvents': 3 });
  });

  it('adds nothing to a client when disabled', async () => {
    const counts = new RequestCounts(false);
    const eventBridge = client();
    const before = eventBridge.middlewareStack.identify().length;

    counts.instrument(eventBridge);
    await eventBridge.send(putEvents());

    expect(eventBridge.middlewareStack.identify()).toHaveLength(before);
    expect(counts.snapshot()).toEqual({});
  });

  it('hands the counts over once with take', async () => {
    const counts = new RequestCounts(true);
    const eventBridge = counts.instrument(client());
    answers = [200];

    await eventBridge.send(putEvents());

    expect(counts.take()).toEqual({ 'EventBridge.PutEvents': 1 });
    expect(counts.snapshot()).toEqual({});
  });

  it('names operations as Service.Operation', () => {
    expect(operationName({ clientName: 'S3Client', commandName: 'HeadObjectCommand' })).toBe(
      'S3.HeadObject',
    );
  });
});
