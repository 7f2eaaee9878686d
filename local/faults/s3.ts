/**
 * The fault proxy's S3 object requests: the errors the fault plan picks, and
 * the conditional writes fauxqs does not enforce.
 *
 * Faults (Amazon S3 API Reference, "Error responses"): GetObject, HeadObject
 * and PutObject (any GET, HEAD or PUT on a path-style object path
 * `/bucket/key`) fail with `500 InternalError` or `503 SlowDown`, as the
 * REST XML error document with `x-amz-request-id`; HEAD answers carry no body.
 *
 * Conditional writes (Amazon S3 User Guide, "Add preconditions to S3
 * operations with conditional requests"): a PutObject with `If-None-Match: *`
 * on an existing key, or with `If-Match` naming another ETag than the
 * object's (or on a missing key), is answered `412 PreconditionFailed`; the
 * check and the write are one step per key. Without this, two archive
 * writers could both "win" and an older contact record version replace a
 * newer one, which S3 does not allow.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultPlan } from './plan';
import { drain, headerValue, type Upstream } from './upstream';

/** S3 errors to choose from (Amazon S3 API Reference, "Error responses", list of error codes). */
const S3_ERRORS = [
  {
    status: 500,
    code: 'InternalError',
    message: 'We encountered an internal error. Please try again.',
  },
  { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
] as const;

/** Handles a GET, HEAD or PUT on an object path; answers it itself or forwards it. */
export type S3ObjectHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
) => Promise<void>;

/**
 * The handler of S3 object requests. Decision key given to the plan:
 * `${method} ${path}` (path without the query, so the retries of one request
 * are successive occurrences of one key). `injected.s3` counts the requests
 * answered with an error.
 */
export function createS3ObjectHandler(
  upstream: Upstream,
  plan: FaultPlan,
  injected: { s3: number },
): S3ObjectHandler {
  const conditionalPut = createConditionalPut(upstream);
  return async (req, res, path) => {
    const method = req.method ?? 'GET';
    const key = `${method} ${path}`;
    if (!plan.decide('s3', key)) {
      const conditional =
        req.headers['if-match'] !== undefined || req.headers['if-none-match'] !== undefined;
      if (method === 'PUT' && conditional) return conditionalPut(req, res, path);
      upstream.forward(req, res);
      return;
    }
    injected.s3 += 1;
    const error = plan.choose('s3', key, S3_ERRORS);
    await drain(req);
    sendS3Error(res, method, error);
  };
}

/**
 * A PUT with `If-None-Match: *` or `If-Match: <ETag>`: check the condition
 * against the object upstream and answer 412 PreconditionFailed when it does
 * not hold; forward it otherwise. One conditional PUT at a time per key, so
 * the check and the write are one step, as in S3.
 */
function createConditionalPut(upstream: Upstream): S3ObjectHandler {
  const keyLocks = new Map<string, Promise<void>>();
  return async (req, res, path) => {
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
      const current = await upstream.head(req);
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
      upstream.forward(req, res, undefined, release);
    } catch (error) {
      release();
      throw error;
    }
  };
}

/** A path-style S3 object path: `/bucket/key...` with a non-empty key (not fauxqs' own `/_fauxqs/...`). */
export function isS3ObjectPath(path: string): boolean {
  const slash = path.indexOf('/', 1);
  if (slash < 0 || slash === path.length - 1) return false;
  const bucket = path.slice(1, slash);
  return bucket !== '' && !bucket.startsWith('_');
}

/** An S3 REST error answer: the XML error document (none for HEAD) and `x-amz-request-id`. */
function sendS3Error(
  res: ServerResponse,
  method: string,
  error: { status: number; code: string; message: string },
): void {
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
}
