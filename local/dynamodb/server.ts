/**
 * Amazon DynamoDB for the local stack: `dynalite` (an in-memory DynamoDB on
 * LevelDB, from npm) behind a small proxy of our own on 127.0.0.1.
 *
 * The proxy adds what the pipeline relies on and dynalite lacks, and injects
 * faults:
 * - `ReturnValuesOnConditionCheckFailure: ALL_OLD`: on a failed condition,
 *   DynamoDB returns the item in the ConditionalCheckFailedException (Amazon
 *   DynamoDB API Reference, UpdateItem). dynalite does not; the proxy reads
 *   the item (GetItem, strongly consistent) and adds it as `Item`, so the
 *   functions send the same requests as in AWS. That read is the proxy's,
 *   not counted as the functions'.
 * - Faults (`--faults dynamodb=<rate>`): before the request reaches dynalite,
 *   ThrottlingException or ProvisionedThroughputExceededException (400), or
 *   InternalServerError (500); and, as DynamoDB may, a 500 after a write was
 *   applied, so a retried conditional write finds its own write.
 *
 * Not reproduced: capacity and its billing, transactions beyond dynalite's,
 * streams, TTL deletion (items keep their `expiresAt`).
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';

/** What the fault hook answers for one request: no fault, or where to fail it. */
export type DynamoDbFault =
  | undefined
  | { when: 'before'; kind: 'throttling' | 'provisioned-throughput' | 'internal' }
  | { when: 'after' };

/** Options of {@link startLocalDynamoDb}. */
export interface LocalDynamoDbOptions {
  /** Called per request with its operation (`UpdateItem`) and body; may inject a fault. */
  fault?: (operation: string, body: string) => DynamoDbFault;
  /**
   * Count the request units DynamoDB would bill (benchmarks): the proxy reads the item before
   * and after each write (reads of its own, not counted), so concurrent writes to one item can
   * make a count approximate.
   */
  measureCapacity?: boolean;
}

/**
 * Request units DynamoDB on demand would bill, by the rules of the Amazon DynamoDB Developer
 * Guide ("Capacity unit consumption for write operations", "... for read operations", "Item
 * sizes and formats", and for indexes "Provisioned throughput considerations for Global Secondary
 * Indexes"): a write the larger of the item before and after, in 1 KB units, a failed conditional
 * write included; a strongly consistent GetItem per 4 KB; an eventually consistent Query half a
 * unit per 4 KB; a write that puts or deletes an item of the pending index one unit there, two
 * when it moves it (KEYS_ONLY, so always under 1 KB).
 */
export interface CapacityCount {
  writeUnits: number;
  readUnits: number;
  indexWriteUnits: number;
  failedConditionalWrites: number;
}

/** A running local DynamoDB. */
export interface LocalDynamoDb {
  /** `http://127.0.0.1:<port>`: the proxy. */
  endpoint: string;
  /** With `measureCapacity`: the request units counted so far. */
  capacity: CapacityCount;
  stop(): Promise<void>;
}

type AttributeValue = {
  S?: string;
  N?: string;
  M?: Record<string, AttributeValue>;
  L?: AttributeValue[];
  BOOL?: boolean;
  NULL?: boolean;
};

/** Bytes of an attribute value (Developer Guide, "Item sizes and formats"). */
function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined) return Math.ceil(value.N.replace(/[^0-9]/g, '').length / 2) + 1;
  if (value.M !== undefined) return 3 + itemSize(value.M);
  if (value.L !== undefined) return 3 + value.L.reduce((sum, item) => sum + 1 + valueSize(item), 0);
  return 1;
}

/** Bytes of an item: its attribute names and values. */
export function itemSize(item: Record<string, AttributeValue> | undefined): number {
  if (!item) return 0;
  let size = 0;
  for (const [name, value] of Object.entries(item))
    size += Buffer.byteLength(name) + valueSize(value);
  return size;
}

/** Operations that write an item. */
const WRITES = new Set(['UpdateItem', 'PutItem', 'DeleteItem']);

const ERROR_TYPES = {
  throttling: {
    status: 400,
    type: 'ThrottlingException',
    message: 'Rate of requests exceeds the allowed throughput.',
  },
  'provisioned-throughput': {
    status: 400,
    type: 'ProvisionedThroughputExceededException',
    message: 'The level of configured provisioned throughput for the table was exceeded.',
  },
  internal: { status: 500, type: 'InternalServerError', message: 'Internal server error' },
} as const;

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** Start dynalite and the proxy in front of it, both on 127.0.0.1. */
export async function startLocalDynamoDb(
  options: LocalDynamoDbOptions = {},
): Promise<LocalDynamoDb> {
  const dynalite = createRequire(import.meta.url)('dynalite') as (options: object) => Server;
  const upstream = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const upstreamPort = await listen(upstream);
  const capacity: CapacityCount = {
    writeUnits: 0,
    readUnits: 0,
    indexWriteUnits: 0,
    failedConditionalWrites: 0,
  };

  const forward = (headers: Record<string, string>, body: string) =>
    new Promise<{ status: number; headers: Record<string, string>; body: string }>(
      (resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port: upstreamPort, method: 'POST', path: '/', headers },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => {
              const out: Record<string, string> = {};
              for (const [name, value] of Object.entries(res.headers)) {
                if (typeof value === 'string' && name !== 'content-length') out[name] = value;
              }
              resolve({
                status: res.statusCode ?? 500,
                headers: out,
                body: Buffer.concat(chunks).toString('utf8'),
              });
            });
          },
        );
        req.on('error', reject);
        req.end(body);
      },
    );

  const proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const target = String(req.headers['x-amz-target'] ?? '');
        const operation = target.slice(target.indexOf('.') + 1);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) {
          if (typeof value === 'string' && name !== 'content-length') headers[name] = value;
        }
        const fault = options.fault?.(operation, body);
        const reply = (status: number, text: string, extra: Record<string, string> = {}) => {
          res.writeHead(status, {
            'content-type': 'application/x-amz-json-1.0',
            ...extra,
            'content-length': String(Buffer.byteLength(text)),
          });
          res.end(text);
        };
        if (fault?.when === 'before') {
          const error = ERROR_TYPES[fault.kind];
          reply(
            error.status,
            JSON.stringify({
              __type: `com.amazonaws.dynamodb.v20120810#${error.type}`,
              message: error.message,
            }),
          );
          return;
        }
        const measured = options.measureCapacity && WRITES.has(operation);
        const readItem = async () => {
          const request = JSON.parse(body) as { TableName?: string; Key?: object };
          const read = await forward(
            { ...headers, 'x-amz-target': 'DynamoDB_20120810.GetItem' },
            JSON.stringify({
              TableName: request.TableName,
              Key: request.Key,
              ConsistentRead: true,
            }),
          );
          return (JSON.parse(read.body) as { Item?: Record<string, AttributeValue> }).Item;
        };
        const before = measured ? await readItem() : undefined;
        const answer = await forward(headers, body);
        if (options.measureCapacity) {
          if (measured) {
            const failed = answer.status !== 200;
            const after = failed ? before : await readItem();
            const size = Math.max(itemSize(before), itemSize(after));
            capacity.writeUnits += Math.max(1, Math.ceil(size / 1024));
            if (failed && answer.body.includes('ConditionalCheckFailedException')) {
              capacity.failedConditionalWrites++;
            }
            const indexKey = (item: typeof before) =>
              item?.pending ? `${item.pending.S}/${item.pendingSince?.N}` : undefined;
            const [was, is] = [indexKey(before), indexKey(after)];
            if (was !== is) capacity.indexWriteUnits += was && is ? 2 : 1;
          } else if (answer.status === 200 && operation === 'GetItem') {
            const item = (JSON.parse(answer.body) as { Item?: Record<string, AttributeValue> })
              .Item;
            capacity.readUnits += Math.max(1, Math.ceil(itemSize(item) / 4096));
          } else if (answer.status === 200 && operation === 'Query') {
            const items =
              (JSON.parse(answer.body) as { Items?: Record<string, AttributeValue>[] }).Items ?? [];
            const bytes = items.reduce((sum, item) => sum + itemSize(item), 0);
            capacity.readUnits += Math.max(1, Math.ceil(bytes / 4096)) / 2;
          }
        }
        if (fault?.when === 'after') {
          reply(
            500,
            JSON.stringify({
              __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
              message: 'Internal server error',
            }),
          );
          return;
        }
        let text = answer.body;
        if (answer.status === 400 && text.includes('ConditionalCheckFailedException')) {
          const request = JSON.parse(body) as {
            TableName?: string;
            Key?: object;
            ReturnValuesOnConditionCheckFailure?: string;
          };
          if (request.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && request.Key) {
            const item = await readItem();
            if (item) {
              text = JSON.stringify({ ...JSON.parse(text), Item: item });
              // The checksum was of the body dynalite sent.
              delete answer.headers['x-amz-crc32'];
            }
          }
        }
        reply(answer.status, text, answer.headers);
      })().catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(error));
      });
    });
  });
  const port = await listen(proxy);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    capacity,
    async stop() {
      await close(proxy);
      await close(upstream);
    },
  };
}
