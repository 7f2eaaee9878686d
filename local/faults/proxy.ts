/**
 * An HTTP proxy in front of fauxqs that injects S3 and SQS faults chosen by a
 * {@link FaultPlan}, and enforces what fauxqs does not: S3 conditional writes.
 * The local stack gives its endpoint to the functions as `AWS_ENDPOINT_URL_S3`
 * / `AWS_ENDPOINT_URL_SQS` and creates its queues through it (so the queue
 * URLs name it); every request it does not fault goes to fauxqs unchanged.
 *
 * Conditional writes (Amazon S3 User Guide, "Add preconditions to S3
 * operations with conditional requests"): a PutObject with `If-None-Match: *`
 * on an existing key, or with `If-Match` naming another ETag than the
 * object's (or on a missing key), is answered `412 PreconditionFailed`; the
 * check and the write are one step per key. Without this, two archive
 * writers could both "win" and an older contact record version replace a
 * newer one, which S3 does not allow.
 *
 * Faults reproduce what AWS documents:
 * - S3 (Amazon S3 API Reference, "Error responses"): GetObject, HeadObject and
 *   PutObject (any GET, HEAD or PUT on a path-style object path
 *   `/bucket/key`) fail with `500 InternalError` or `503 SlowDown`, as the
 *   REST XML error document with `x-amz-request-id`; HEAD answers carry no body.
 * - SQS (Amazon SQS API Reference, SendMessage, SendMessageBatch and "Common
 *   errors"; AWS JSON 1.0 protocol, which SDK v3 uses for SQS): SendMessage
 *   fails whole with `500 InternalError`; SendMessageBatch fails per entry,
 *   as the API's partial failure: the entry is not sent and the `200` answer
 *   lists it in `Failed` with `SenderFault: false`.
 */
import { randomUUID } from 'node:crypto';
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request as httpRequest,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { contentKey, type FaultPlan } from './plan';

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

/** S3 errors to choose from (Amazon S3 API Reference, "Error responses", list of error codes). */
const S3_ERRORS = [
  {
    status: 500,
    code: 'InternalError',
    message: 'We encountered an internal error. Please try again.',
  },
  { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
] as const;

const SQS_TARGET_PREFIX = 'AmazonSQS.';
const SQS_JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
const SQS_INJECTED_MESSAGE = 'Injected failure (fault proxy)';
/** SendMessageBatch accepts at most this many entries (Amazon SQS API Reference, SendMessageBatch). */
const SQS_MAX_BATCH_ENTRIES = 10;

/** Headers that belong to one connection and are not forwarded (RFC 9110, section 7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  // This server already answered `100 Continue` to the client.
  'expect',
]);

/**
 * Start the proxy on a free port of 127.0.0.1.
 *
 * Every request is forwarded to `upstream` (method, path and query, headers
 * with `host` rewritten, body streamed) and the answer streamed back as it
 * is; a request that cannot reach upstream is answered `502`. Faulted S3
 * requests and faulted SendMessage requests are answered here, after their
 * body is read, without reaching upstream. A SendMessageBatch with faulted
 * entries is forwarded without them (not at all when every entry is
 * faulted), and the faulted entries are added to the answer's `Failed` list.
 *
 * Decision keys given to the plan: S3 `${method} ${path}` (path without the
 * query, so the retries of one request are successive occurrences of one key);
 * SendMessage `SendMessage ${contentKey(request body)}`; SendMessageBatch
 * entries `SendMessageBatch ${contentKey(entry.MessageBody)}`.
 *
 * SQS requests are recognised by their `x-amz-target: AmazonSQS.<Operation>`
 * header (AWS JSON 1.0). Query-protocol SQS requests (`Action=SendMessage`
 * form bodies) are forwarded unfaulted: SDK v3 no longer sends them, and
 * fauxqs 1.9 routes form bodies to its SNS and STS handlers, not to SQS.
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.upstream);
  if (upstream.protocol !== 'http:') {
    throw new Error(`Fault proxy upstream must be http: ${options.upstream}`);
  }
  const agent = new Agent({ keepAlive: true });
  const injected = { s3: 0, sqs: 0 };
  const { plan } = options;
  const queueNames = options.sqsQueueNames;
  const selectedQueue = (queueUrl: unknown): boolean =>
    queueNames === undefined ||
    (typeof queueUrl === 'string' &&
      queueNames.some((name) => queueUrl === name || queueUrl.endsWith(`/${name}`)));

  const upstreamRequest = (req: IncomingMessage, headers: OutgoingHttpHeaders) =>
    httpRequest({
      protocol: upstream.protocol,
      hostname: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers,
      agent,
    });

  /**
   * Forward `req` and stream the answer back; `body` replaces the request's own body when
   * given; `onUpstreamDone` runs once the upstream exchange is over (answered or failed).
   */
  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    body?: Buffer,
    onUpstreamDone?: () => void,
  ): void => {
    const upReq = upstreamRequest(req, withoutHopByHop(req.headers, body?.length));
    if (onUpstreamDone) upReq.on('close', onUpstreamDone);
    upReq.on('response', (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, withoutHopByHop(upRes.headers));
      pipeline(upRes, res, () => undefined);
    });
    upReq.on('error', (error) => {
      // Read the rest of the client's body so that the 502 reaches it.
      req.unpipe(upReq);
      req.resume();
      badGateway(res, error);
    });
    res.on('close', () => {
      if (!res.writableFinished) upReq.destroy();
    });
    if (body === undefined) {
      req.on('error', () => upReq.destroy());
      req.pipe(upReq);
    } else {
      upReq.end(body);
    }
  };

  /** Forward `req` with `body` and read the whole answer. */
  const exchange = (
    req: IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers = withoutHopByHop(req.headers, body.length);
      // The answer is parsed here, so ask for it uncompressed.
      delete headers['accept-encoding'];
      const upReq = upstreamRequest(req, headers);
      upReq.on('response', (upRes) => {
        readBody(upRes).then(
          (answer) =>
            resolve({ status: upRes.statusCode ?? 502, headers: upRes.headers, body: answer }),
          reject,
        );
      });
      upReq.on('error', reject);
      upReq.end(body);
    });

  const handleSendMessage = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const request = parseJsonObject(body);
    if (
      request !== undefined &&
      selectedQueue(request.QueueUrl) &&
      plan.decide('sqs', `SendMessage ${contentKey(body)}`)
    ) {
      injected.sqs += 1;
      sendSqsInternalError(res);
      return;
    }
    forward(req, res, body);
  };

  const handleSendMessageBatch = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const request = parseJsonObject(body);
    const entries = request?.Entries;
    // A batch SQS would reject as a whole goes through unchanged, so upstream rejects it.
    if (request === undefined || !isFaultableBatch(entries) || !selectedQueue(request.QueueUrl)) {
      forward(req, res, body);
      return;
    }
    const failed: BatchEntry[] = [];
    const kept: BatchEntry[] = [];
    for (const entry of entries) {
      const faulted = plan.decide('sqs', `SendMessageBatch ${contentKey(entry.MessageBody)}`);
      (faulted ? failed : kept).push(entry);
    }
    if (failed.length === 0) {
      forward(req, res, body);
      return;
    }
    injected.sqs += failed.length;
    const failedResults = failed.map((entry) => ({
      Id: entry.Id,
      SenderFault: false,
      Code: 'InternalError',
      Message: SQS_INJECTED_MESSAGE,
    }));

    if (kept.length === 0) {
      sendJson(
        res,
        200,
        { 'x-amzn-requestid': randomUUID() },
        {
          Successful: [],
          Failed: failedResults,
        },
      );
      return;
    }
    let answer: Awaited<ReturnType<typeof exchange>>;
    try {
      answer = await exchange(req, Buffer.from(JSON.stringify({ ...request, Entries: kept })));
    } catch (error) {
      badGateway(res, error);
      return;
    }
    const result = answer.status === 200 ? parseJsonObject(answer.body) : undefined;
    if (result === undefined) {
      // An error for the whole batch stands for every entry, as it would have without the proxy.
      res.writeHead(answer.status, withoutHopByHop(answer.headers, answer.body.length));
      res.end(answer.body);
      return;
    }
    const merged = {
      ...result,
      Successful: Array.isArray(result.Successful) ? result.Successful : [],
      Failed: [...(Array.isArray(result.Failed) ? result.Failed : []), ...failedResults],
    };
    const { 'content-length': _length, ...headers } = withoutHopByHop(answer.headers);
    sendJson(res, 200, headers, merged);
  };

  /** Status and ETag of an object upstream (HEAD). */
  const headUpstream = (req: IncomingMessage): Promise<{ status: number; etag?: string }> =>
    new Promise((resolve, reject) => {
      const upReq = httpRequest({
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port,
        method: 'HEAD',
        path: req.url,
        headers: { host: headerValue(req.headers.host) ?? upstream.host },
        agent,
      });
      upReq.on('response', (upRes) => {
        upRes.resume();
        resolve({ status: upRes.statusCode ?? 502, etag: headerValue(upRes.headers.etag) });
      });
      upReq.on('error', reject);
      upReq.end();
    });

  // One conditional PUT at a time per key, so the check and the write are one step, as in S3.
  const keyLocks = new Map<string, Promise<void>>();

  /**
   * A PUT with `If-None-Match: *` or `If-Match: <ETag>`, which fauxqs does not
   * enforce: check the condition against the object upstream and answer 412
   * PreconditionFailed when it does not hold (Amazon S3 User Guide, "Add
   * preconditions to S3 operations with conditional requests"); forward it
   * otherwise.
   */
  const conditionalPut = async (req: IncomingMessage, res: ServerResponse, path: string) => {
    const previous = keyLocks.get(path) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const chained = previous.then(() => mine);
    keyLocks.set(path, chained);
    void chained.then(() => {
      if (keyLocks.get(path) === chained) keyLocks.delete(path);
    });
    // Released once the write upstream is over (a client that went away mid-request does not
    // stop a PUT fauxqs already received), or at once if the client left while waiting.
    let forwarded = false;
    res.on('close', () => {
      if (!forwarded) release();
    });
    await previous;
    if (res.destroyed) return;
    try {
      const current = await headUpstream(req);
      const ifNoneMatch = headerValue(req.headers['if-none-match']);
      const ifMatch = headerValue(req.headers['if-match']);
      const exists = current.status === 200;
      if (
        (ifNoneMatch === '*' && exists) ||
        (ifMatch !== undefined && (!exists || current.etag !== ifMatch))
      ) {
        await drain(req);
        sendS3Error(res, 'PUT', {
          status: 412,
          code: 'PreconditionFailed',
          message: 'At least one of the pre-conditions you specified did not hold',
        });
        release();
        return;
      }
      forwarded = true;
      forward(req, res, undefined, release);
    } catch (error) {
      release();
      throw error;
    }
  };

  const sendS3Error = (
    res: ServerResponse,
    method: string,
    error: { status: number; code: string; message: string },
  ) => {
    const requestId = randomUUID().replaceAll('-', '').slice(0, 16).toUpperCase();
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>' +
      `<Error><Code>${error.code}</Code><Message>${error.message}</Message>` +
      `<RequestId>${requestId}</RequestId></Error>`;
    const body = method === 'HEAD' ? undefined : Buffer.from(xml);
    res.writeHead(error.status, {
      'content-type': 'application/xml',
      'x-amz-request-id': requestId,
      'x-amz-id-2': 'fault-proxy',
      ...(body === undefined ? {} : { 'content-length': String(body.length) }),
    });
    res.end(body);
  };

  const handleS3Object = async (req: IncomingMessage, res: ServerResponse, path: string) => {
    const method = req.method ?? 'GET';
    const key = `${method} ${path}`;
    if (!plan.decide('s3', key)) {
      const conditional =
        req.headers['if-match'] !== undefined || req.headers['if-none-match'] !== undefined;
      if (method === 'PUT' && conditional) return conditionalPut(req, res, path);
      forward(req, res);
      return;
    }
    injected.s3 += 1;
    const error = plan.choose('s3', key, S3_ERRORS);
    await drain(req);
    sendS3Error(res, method, error);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const target = headerValue(req.headers['x-amz-target']);
    if (target !== undefined && target.startsWith(SQS_TARGET_PREFIX)) {
      const operation = target.slice(SQS_TARGET_PREFIX.length);
      if (operation === 'SendMessage') return handleSendMessage(req, res);
      if (operation === 'SendMessageBatch') return handleSendMessageBatch(req, res);
      return forward(req, res);
    }
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const method = req.method ?? 'GET';
    if ((method === 'GET' || method === 'HEAD' || method === 'PUT') && isS3ObjectPath(path)) {
      return handleS3Object(req, res, path);
    }
    return forward(req, res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => badGateway(res, error));
  });
  // No timeout of this server's own may cut a slow upstream answer short.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    injected,
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      });
      return stopped;
    },
  };
}

interface BatchEntry {
  Id: string;
  MessageBody: string;
  [member: string]: unknown;
}

/** 1 to 10 entries, each with a string Id and MessageBody, Ids distinct: a batch SQS would accept. */
function isFaultableBatch(entries: unknown): entries is BatchEntry[] {
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > SQS_MAX_BATCH_ENTRIES) {
    return false;
  }
  const ids = new Set<string>();
  for (const entry of entries as unknown[]) {
    if (typeof entry !== 'object' || entry === null) return false;
    const { Id: id, MessageBody: body } = entry as Record<string, unknown>;
    if (typeof id !== 'string' || typeof body !== 'string' || ids.has(id)) return false;
    ids.add(id);
  }
  return true;
}

/** A path-style S3 object path: `/bucket/key...` with a non-empty key (not fauxqs' own `/_fauxqs/...`). */
function isS3ObjectPath(path: string): boolean {
  const slash = path.indexOf('/', 1);
  if (slash < 0 || slash === path.length - 1) return false;
  const bucket = path.slice(1, slash);
  return bucket !== '' && !bucket.startsWith('_');
}

/**
 * SQS `InternalError` in the AWS JSON 1.0 protocol with the query-compatible
 * error header, which SDK v3 reads for SQS: the client throws an
 * `SQSServiceException` named `InternalError` with `$fault: 'server'` and
 * `$metadata.httpStatusCode` 500, which its standard retry strategy retries.
 */
function sendSqsInternalError(res: ServerResponse): void {
  sendJson(
    res,
    500,
    { 'x-amzn-requestid': randomUUID(), 'x-amzn-query-error': 'InternalError;Receiver' },
    { __type: 'com.amazonaws.sqs#InternalError', message: SQS_INJECTED_MESSAGE },
  );
}

function sendJson(
  res: ServerResponse,
  status: number,
  headers: OutgoingHttpHeaders,
  value: unknown,
): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, {
    ...headers,
    'content-type': SQS_JSON_CONTENT_TYPE,
    'content-length': String(body.length),
  });
  res.end(body);
}

function badGateway(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(`Fault proxy: upstream request failed: ${String(error)}`);
  res.writeHead(502, { 'content-type': 'text/plain', 'content-length': String(body.length) });
  res.end(body);
}

/**
 * Headers without connection-level ones, for requests going upstream and answers coming back;
 * `bodyLength` replaces the framing. The Host header is kept: fauxqs builds queue URLs from it, so
 * queues created through the proxy get URLs naming the proxy, and SQS clients (which send to the
 * queue URL's host) stay on it.
 */
function withoutHopByHop(headers: IncomingHttpHeaders, bodyLength?: number): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  if (bodyLength !== undefined) {
    delete out['transfer-encoding'];
    out['content-length'] = String(bodyLength);
  }
  return out;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function parseJsonObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

async function readBody(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function drain(stream: IncomingMessage): Promise<void> {
  for await (const _chunk of stream) {
    // Discard.
  }
}
