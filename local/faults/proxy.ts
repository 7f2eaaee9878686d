/**
 * An HTTP proxy in front of fauxqs that injects S3 and SQS faults chosen by a
 * {@link FaultPlan}, and enforces what fauxqs does not: S3 conditional writes.
 * The local stack gives its endpoint to the functions as `AWS_ENDPOINT_URL_S3`
 * / `AWS_ENDPOINT_URL_SQS` and creates its queues through it (so the queue
 * URLs name it); every request it does not fault goes to fauxqs unchanged.
 *
 * This file routes requests; what each route does is in its own file:
 * - `upstream.ts`: forwarding to fauxqs (streamed, hop-by-hop headers dropped);
 * - `s3.ts`: S3 object errors (`500 InternalError`, `503 SlowDown`) and
 *   conditional writes (`If-None-Match: *`, `If-Match`: `412 PreconditionFailed`);
 * - `sqs.ts`: SendMessage failing whole and SendMessageBatch failing per entry.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnFreePort } from '../emulators/start-emulators';
import type { FaultPlan } from './plan';
import { createS3ObjectHandler, isS3ObjectPath } from './s3';
import { createSqsSendHandlers } from './sqs';
import { badGateway, createUpstream, headerValue } from './upstream';

/** Options of {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** Base URL of fauxqs, e.g. `http://127.0.0.1:41234` (plain HTTP). */
  upstream: string;
  /** Decides which requests fail (targets `s3` and `sqs`). */
  plan: FaultPlan;
  /**
   * Only sends to these queues are faulted: a queue matches when its
   * `QueueUrl` equals the name or ends with `/<name>`. Default: every queue.
   */
  sqsQueueNames?: string[];
}

/** A running fault proxy. */
export interface FaultProxy {
  /** Base URL for SDK clients, e.g. `http://127.0.0.1:41235`. */
  endpoint: string;
  /**
   * Faults injected so far (live counts): S3 requests answered with an error;
   * SQS SendMessage requests answered with an error plus SendMessageBatch
   * entries reported as failed.
   */
  injected: { s3: number; sqs: number };
  /** Close the server, its open connections and the connections to upstream. Safe to call twice. */
  stop(): Promise<void>;
}

const SQS_TARGET_PREFIX = 'AmazonSQS.';

/**
 * Start the proxy on a free port of 127.0.0.1.
 *
 * Every request is forwarded to `upstream` (method, path and query, headers
 * with `host` kept, body streamed) and the answer streamed back as it is; a
 * request that cannot reach upstream is answered `502`. SendMessage and
 * SendMessageBatch go to the SQS handlers (local/faults/sqs.ts), GET, HEAD
 * and PUT on an object path to the S3 handler (local/faults/s3.ts), which
 * say which decision keys they give the plan.
 *
 * SQS requests are recognised by their `x-amz-target: AmazonSQS.<Operation>`
 * header (AWS JSON 1.0). Query-protocol SQS requests (`Action=SendMessage`
 * form bodies) are forwarded unfaulted: SDK v3 no longer sends them, and
 * fauxqs 1.9 routes form bodies to its SNS and STS handlers, not to SQS.
 *
 * Throws when `upstream` is not an `http:` URL, or the server cannot listen.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = createUpstream(options.upstream);
  const injected = { s3: 0, sqs: 0 };
  const sqs = createSqsSendHandlers(upstream, options.plan, injected, options.sqsQueueNames);
  const s3Object = createS3ObjectHandler(upstream, options.plan, injected);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const target = headerValue(req.headers['x-amz-target']);
    if (target !== undefined && target.startsWith(SQS_TARGET_PREFIX)) {
      const operation = target.slice(SQS_TARGET_PREFIX.length);
      if (operation === 'SendMessage') return sqs.sendMessage(req, res);
      if (operation === 'SendMessageBatch') return sqs.sendMessageBatch(req, res);
      return upstream.forward(req, res);
    }
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const method = req.method ?? 'GET';
    if ((method === 'GET' || method === 'HEAD' || method === 'PUT') && isS3ObjectPath(path)) {
      return s3Object(req, res, path);
    }
    return upstream.forward(req, res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => badGateway(res, error));
  });
  // No timeout of this server's own may cut a slow upstream answer short.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  const port = await listenOnFreePort(server);

  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    injected,
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        upstream.destroy();
      });
      return stopped;
    },
  };
}
