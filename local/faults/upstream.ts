/**
 * The fault proxy's connection to fauxqs: forwarding a request as it came,
 * exchanging a rewritten one, and the HTTP helpers the fault handlers share.
 * Nothing here decides a fault (local/faults/s3.ts and sqs.ts do).
 */
import {
  Agent,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request as httpRequest,
  type ServerResponse,
} from 'node:http';
import { pipeline } from 'node:stream';

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

/** A whole answer from upstream. */
export interface UpstreamAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Requests to fauxqs over one keep-alive agent. */
export interface Upstream {
  /**
   * Forward `req` (method, path and query, headers, body streamed; `body`
   * replaces the request's own body when given) and stream the answer back
   * as it is; a request that cannot reach upstream is answered `502`.
   * `onUpstreamDone` runs once the upstream exchange is over, answered or failed.
   */
  forward(
    req: IncomingMessage,
    res: ServerResponse,
    body?: Buffer,
    onUpstreamDone?: () => void,
  ): void;
  /** Send `req` with `body` instead of its own and read the whole (uncompressed) answer. */
  exchange(req: IncomingMessage, body: Buffer): Promise<UpstreamAnswer>;
  /** Status and ETag of the object at `req`'s path (a HEAD of it). */
  head(req: IncomingMessage): Promise<{ status: number; etag?: string }>;
  /** Close the connections to upstream. */
  destroy(): void;
}

/**
 * Requests to `baseUrl` (plain HTTP). Throws when `baseUrl` is not `http:`.
 */
export function createUpstream(baseUrl: string): Upstream {
  const upstream = new URL(baseUrl);
  if (upstream.protocol !== 'http:') {
    throw new Error(`Fault proxy upstream must be http: ${baseUrl}`);
  }
  const agent = new Agent({ keepAlive: true });
  const open = (
    method: string | undefined,
    path: string | undefined,
    headers: OutgoingHttpHeaders,
  ) =>
    httpRequest({
      protocol: upstream.protocol,
      hostname: upstream.hostname,
      port: upstream.port,
      method,
      path,
      headers,
      agent,
    });

  return {
    forward(req, res, body, onUpstreamDone) {
      const upReq = open(req.method, req.url, withoutHopByHop(req.headers, body?.length));
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
    },

    exchange: (req, body) =>
      new Promise((resolve, reject) => {
        const headers = withoutHopByHop(req.headers, body.length);
        // The answer is parsed here, so ask for it uncompressed.
        delete headers['accept-encoding'];
        const upReq = open(req.method, req.url, headers);
        upReq.on('response', (upRes) => {
          readBody(upRes).then(
            (answer) =>
              resolve({ status: upRes.statusCode ?? 502, headers: upRes.headers, body: answer }),
            reject,
          );
        });
        upReq.on('error', reject);
        upReq.end(body);
      }),

    head: (req) =>
      new Promise((resolve, reject) => {
        const upReq = open('HEAD', req.url, {
          host: headerValue(req.headers.host) ?? upstream.host,
        });
        upReq.on('response', (upRes) => {
          upRes.resume();
          resolve({ status: upRes.statusCode ?? 502, etag: headerValue(upRes.headers.etag) });
        });
        upReq.on('error', reject);
        upReq.end();
      }),

    destroy: () => agent.destroy(),
  };
}

/** Answer `502` naming the upstream error (or cut the connection if the answer has begun). */
export function badGateway(res: ServerResponse, error: unknown): void {
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
export function withoutHopByHop(
  headers: IncomingHttpHeaders,
  bodyLength?: number,
): OutgoingHttpHeaders {
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

/** The first value of a header that may repeat. */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** `body` as a JSON object; `undefined` when it is not JSON or not an object. */
export function parseJsonObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The whole body of a request or answer. */
export async function readBody(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Read and discard a body, so that an answer given without it reaches the client. */
export async function drain(stream: IncomingMessage): Promise<void> {
  for await (const _chunk of stream) {
    // Discard.
  }
}
