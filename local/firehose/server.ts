/**
 * A local stand-in for an Amazon Data Firehose delivery stream with an S3
 * destination, for the local stack (no Firehose emulator exists on npm).
 *
 * It speaks the real wire protocol (AWS JSON 1.1, `X-Amz-Target:
 * Firehose_20150804.PutRecord` and `PutRecordBatch`) on 127.0.0.1, so callers
 * use the real `@aws-sdk/client-firehose`. Like the delivery stream the
 * template defines, it buffers records, appends a newline to each
 * (`AppendDelimiterToRecord`), and when the buffer reaches its size or its
 * interval writes one GZIP object under the timestamp prefix of the oldest
 * record in it (`archive/yyyy/MM/dd/HH/`, UTC), named
 * `<stream>-1-<yyyy-MM-dd-HH-mm-ss>-<uuid>.gz`.
 *
 * Faults (`--faults firehose=<rate>`): a whole call answered
 * ServiceUnavailableException, or, in a batch, single records failed with it
 * (`FailedPutCount` consistent).
 *
 * Sources: Amazon Data Firehose API Reference, PutRecord and PutRecordBatch
 * (shapes, 1,000 KiB per record, 500 records per batch, per-record
 * ErrorCode); Developer Guide, "Configure buffering hints", "Custom prefixes
 * for Amazon S3 objects", "Amazon S3 object name format". Not reproduced:
 * throughput limits, the error output prefix (nothing fails delivery to S3
 * here), encryption.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { hourPrefix } from '../../functions/shared/s3-archive';

/** Options of {@link startLocalFirehose}. */
export interface LocalFirehoseOptions {
  deliveryStreamName: string;
  s3: S3Client;
  bucket: string;
  /** Key prefix before the hour, e.g. `archive/`. */
  prefix: string;
  /** Flush when the buffer holds this many bytes. */
  bufferBytes: number;
  /** Flush this long after the first record entered the buffer (ms). */
  bufferIntervalMs: number;
  /** Per call (`call`) and per record (`record`): true fails it with ServiceUnavailableException. */
  fault?: (scope: 'call' | 'record', data: string) => boolean;
}

/** A running stand-in. */
export interface LocalFirehose {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** Records accepted, records failed, objects written, bytes billed (each record rounded up to 5 KB). */
  stats: { accepted: number; failed: number; objects: number; billedBytes: number };
  /** Records buffered, not yet written to S3. */
  readonly buffered: number;
  /** Write the buffer now (as its interval would), and wait for every write. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

const MAX_RECORD_BYTES = 1000 * 1024;
const MAX_BATCH_RECORDS = 500;

/** Start the stand-in on 127.0.0.1. */
export async function startLocalFirehose(options: LocalFirehoseOptions): Promise<LocalFirehose> {
  const stats = { accepted: 0, failed: 0, objects: 0, billedBytes: 0 };
  let buffer: Buffer[] = [];
  let bufferBytes = 0;
  let oldest = 0;
  let timer: NodeJS.Timeout | undefined;
  const writes = new Set<Promise<void>>();

  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (buffer.length === 0) return;
    const body = gzipSync(Buffer.concat(buffer));
    const arrival = oldest;
    buffer = [];
    bufferBytes = 0;
    const stamp = new Date(arrival).toISOString().slice(0, 19).replace(/[T:]/g, '-');
    const key = `${hourPrefix(arrival, options.prefix)}${options.deliveryStreamName}-1-${stamp}-${randomUUID()}.gz`;
    const write = (async () => {
      // Firehose retries delivery to S3 until it succeeds (or its retry duration ends).
      for (let attempt = 1; ; attempt++) {
        try {
          await options.s3.send(
            new PutObjectCommand({ Bucket: options.bucket, Key: key, Body: body }),
          );
          stats.objects++;
          return;
        } catch (error) {
          if (attempt >= 10) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
        }
      }
    })();
    writes.add(write);
    void write.finally(() => writes.delete(write)).catch(() => undefined);
  };

  /** Accept one record's bytes; false when it is rejected. */
  const put = (data: Buffer): boolean => {
    if (data.byteLength > MAX_RECORD_BYTES) return false;
    if (buffer.length === 0) {
      oldest = Date.now();
      timer = setTimeout(flush, options.bufferIntervalMs);
    }
    buffer.push(data, Buffer.from('\n'));
    bufferBytes += data.byteLength + 1;
    stats.accepted++;
    // Firehose bills ingestion per record rounded up to the next 5 KB (Amazon Data Firehose pricing).
    stats.billedBytes += Math.max(1, Math.ceil(data.byteLength / 5120)) * 5120;
    if (bufferBytes >= options.bufferBytes) flush();
    return true;
  };

  const reply = (
    response: import('node:http').ServerResponse,
    status: number,
    body: object,
    errorType?: string,
  ) => {
    const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1' };
    if (errorType) headers['x-amzn-errortype'] = errorType;
    response.writeHead(status, headers);
    response.end(JSON.stringify(body));
  };

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const target = String(request.headers['x-amz-target'] ?? '');
      let body: {
        DeliveryStreamName?: string;
        Record?: { Data?: string };
        Records?: { Data?: string }[];
      };
      try {
        body = JSON.parse(text);
      } catch {
        reply(response, 400, { __type: 'SerializationException' }, 'SerializationException');
        return;
      }
      if (body.DeliveryStreamName !== options.deliveryStreamName) {
        const message = `Firehose ${String(body.DeliveryStreamName)} not found.`;
        reply(
          response,
          400,
          { __type: 'ResourceNotFoundException', message },
          'ResourceNotFoundException',
        );
        return;
      }
      if (options.fault?.('call', text)) {
        stats.failed++;
        reply(
          response,
          400,
          { __type: 'ServiceUnavailableException', message: 'Slow down.' },
          'ServiceUnavailableException',
        );
        return;
      }
      if (target === 'Firehose_20150804.PutRecord') {
        const data = Buffer.from(body.Record?.Data ?? '', 'base64');
        if (!put(data)) {
          reply(response, 400, { __type: 'InvalidArgumentException' }, 'InvalidArgumentException');
          return;
        }
        reply(response, 200, { RecordId: randomUUID(), Encrypted: false });
        return;
      }
      if (target === 'Firehose_20150804.PutRecordBatch') {
        const records = body.Records ?? [];
        if (records.length < 1 || records.length > MAX_BATCH_RECORDS) {
          reply(response, 400, { __type: 'InvalidArgumentException' }, 'InvalidArgumentException');
          return;
        }
        let failed = 0;
        const responses = records.map((record) => {
          const raw = record.Data ?? '';
          const data = Buffer.from(raw, 'base64');
          if (options.fault?.('record', raw) || !put(data)) {
            failed++;
            stats.failed++;
            return { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' };
          }
          return { RecordId: randomUUID() };
        });
        reply(response, 200, {
          FailedPutCount: failed,
          Encrypted: false,
          RequestResponses: responses,
        });
        return;
      }
      reply(response, 400, { __type: 'UnknownOperationException' }, 'UnknownOperationException');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    get buffered() {
      return buffer.length / 2 + writes.size;
    },
    async flush() {
      flush();
      await Promise.allSettled([...writes]);
    },
    async stop() {
      flush();
      await Promise.allSettled([...writes]);
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
