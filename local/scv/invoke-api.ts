/**
 * The AWS Lambda Invoke API as the SCV stand-in serves it: the request
 * (`POST /2015-03-31/functions/{FunctionName}/invocations`, the function
 * named by name or ARN, `X-Amz-Invocation-Type`, the JSON payload) turned
 * into an invocation or an error answer, the answers themselves, and the
 * answers of injected faults ({@link faultOutcome}).
 *
 * Sources of the behaviour reproduced here:
 * - AWS Lambda Invoke API reference (`POST /2015-03-31/functions/{FunctionName}/invocations`):
 *   status 200 / 202 / 204 for RequestResponse / Event / DryRun, the
 *   `X-Amz-Function-Error` and `X-Amz-Executed-Version` headers, error
 *   responses named by the `x-amzn-ErrorType` header. The error body members
 *   (`Type`, `Message` or `message`, `Reason`) follow the error shapes modelled
 *   in `@aws-sdk/client-lambda`.
 * - A Node.js Lambda whose handler throws is reported as
 *   `X-Amz-Function-Error: Unhandled` with `{ errorType, errorMessage, trace }`;
 *   a timed-out one as `{ errorType: "Sandbox.Timedout", errorMessage:
 *   "RequestId: <id> Error: Task timed out after <s>.00 seconds" }`.
 *
 * Not reproduced: authentication (requests are not authenticated), versions
 * and aliases (an ARN may end in `:$LATEST` only; `Qualifier` is ignored),
 * `X-Amz-Log-Type` and `X-Amz-Client-Context` (ignored), and every other
 * Lambda operation (`UnknownOperationException`).
 */

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { FunctionOutcome } from './functions';

/**
 * A fault to inject into one invocation, returned by {@link ScvStandInOptions.fault}.
 *
 * - `throttle`: HTTP 429 `TooManyRequestsException` (the SDK throws it).
 * - `server-error`: HTTP 500 `ServiceException` (the SDK throws it).
 * - `function-error`: HTTP 200 with `X-Amz-Function-Error: Unhandled` and an
 *   `{ errorType, errorMessage, trace }` payload, as when the function throws.
 * - `timeout`: waits `delayMs` milliseconds, then answers as a timed-out
 *   function: HTTP 200, `X-Amz-Function-Error: Unhandled`, payload
 *   `{ errorType: "Sandbox.Timedout", errorMessage }`.
 * - `success-false`: HTTP 200 and a payload `{ success: false, errorMessage }`
 *   without a function error (for `queryRecord` it also carries `status`,
 *   `statusText` and `errorCode`, the shape `sfRestApi.js` builds from a failed
 *   Salesforce request).
 *
 * A faulted invocation never changes the store.
 */
export type StandInFault =
  | { kind: 'throttle' }
  | { kind: 'server-error' }
  | { kind: 'function-error' }
  | { kind: 'timeout'; delayMs: number }
  | { kind: 'success-false' };

/** Lambda's synchronous invocation payload limit (AWS Lambda quotas): 6 MB. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

/** `X-Amz-Invocation-Type` values the Invoke API accepts. */
export type InvocationType = 'RequestResponse' | 'Event' | 'DryRun';

/** A request to invoke one of the served functions, as {@link parseInvokeRequest} reads it. */
export interface InvokeRequest {
  /** The served function it names (never the ARN it was named by). */
  functionName: string;
  invocationType: InvocationType;
  /** The JSON payload; `{}` when the body is empty or only whitespace. */
  event: unknown;
}

/**
 * Reads an Invoke request for one of `functionNames` (matched by name, or by an
 * ARN ending in `:function:<name>`, optionally followed by `:$LATEST`), or says
 * which error answers it, in this order: not `POST` on the Invoke path, 404
 * `UnknownOperationException`; an unknown function, 404
 * `ResourceNotFoundException`; another invocation type, 400
 * `InvalidParameterValueException`; a body over 6 MB, 413
 * `RequestTooLargeException`; a body that is not JSON, 400
 * `InvalidRequestContentException`. The body is read only when the path,
 * function and invocation type are valid.
 */
export async function parseInvokeRequest(
  req: IncomingMessage,
  functionNames: readonly string[],
): Promise<InvokeRequest | LambdaErrorSpec> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const match = INVOKE_PATH.exec(url.pathname);
  if (req.method !== 'POST' || !match?.[1]) {
    return {
      status: 404,
      code: 'UnknownOperationException',
      body: { Type: 'User', message: 'Unknown operation (the SCV stand-in serves Invoke only)' },
    };
  }
  let requested: string;
  try {
    requested = decodeURIComponent(match[1]);
  } catch {
    requested = match[1];
  }
  const functionName = functionNames.find((name) => matchFunctionName(requested, name));
  if (!functionName) {
    return {
      status: 404,
      code: 'ResourceNotFoundException',
      body: { Type: 'User', Message: `Function not found: ${requested}` },
    };
  }
  const invocationType = req.headers['x-amz-invocation-type'] ?? 'RequestResponse';
  if (
    invocationType !== 'RequestResponse' &&
    invocationType !== 'Event' &&
    invocationType !== 'DryRun'
  ) {
    return {
      status: 400,
      code: 'InvalidParameterValueException',
      body: {
        Type: 'User',
        message: `Unsupported X-Amz-Invocation-Type: ${String(invocationType)}`,
      },
    };
  }
  const body = await readBody(req);
  if (body === 'too-large') {
    return {
      status: 413,
      code: 'RequestTooLargeException',
      body: {
        Type: 'User',
        message: `Request must be smaller than ${MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation`,
      },
    };
  }
  let event: unknown;
  try {
    const text = body.toString('utf8');
    event = text.trim().length === 0 ? {} : JSON.parse(text);
  } catch {
    return {
      status: 400,
      code: 'InvalidRequestContentException',
      body: { Type: 'User', message: 'Could not parse request body into json' },
    };
  }
  return { functionName, invocationType, event };
}

/** A Lambda API error answer: HTTP status, `x-amzn-ErrorType`, JSON body. */
export interface LambdaErrorSpec {
  status: number;
  code: string;
  body: Record<string, string>;
}

/** Answers with a Lambda API error. */
export function sendError(res: ServerResponse, requestId: string, error: LambdaErrorSpec): void {
  const body = JSON.stringify(error.body);
  res.writeHead(error.status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'x-amzn-ErrorType': error.code,
    'x-amzn-RequestId': requestId,
  });
  res.end(body);
}

function sendPayload(
  res: ServerResponse,
  requestId: string,
  payload: unknown,
  functionError?: 'Unhandled',
): void {
  const body = JSON.stringify(payload ?? null);
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'X-Amz-Executed-Version': '$LATEST',
    'x-amzn-RequestId': requestId,
  };
  if (functionError) {
    headers['X-Amz-Function-Error'] = functionError;
  }
  res.writeHead(200, headers);
  res.end(body);
}

/**
 * Answers a RequestResponse invocation with what it produced: a Lambda API
 * error, a function error (200, `X-Amz-Function-Error: Unhandled`), or the
 * result (200); `aborted` (a fault's wait cut short by `stop`) drops the
 * connection without an answer.
 */
export function sendOutcome(
  res: ServerResponse,
  requestId: string,
  outcome: FunctionOutcome | LambdaErrorSpec | 'aborted',
): void {
  if (outcome === 'aborted') {
    res.destroy();
    return;
  }
  if ('status' in outcome) {
    sendError(res, requestId, outcome);
  } else if (outcome.kind === 'function-error') {
    const payload: Record<string, unknown> = {
      errorType: outcome.errorType,
      errorMessage: outcome.errorMessage,
    };
    if (outcome.trace) {
      payload.trace = outcome.trace;
    }
    sendPayload(res, requestId, payload, 'Unhandled');
  } else {
    sendPayload(res, requestId, outcome.payload);
  }
}

/** Answers with no body: 202 for an accepted Event invocation, 204 for a DryRun. */
export function sendEmpty(res: ServerResponse, requestId: string, status: 202 | 204): void {
  res.writeHead(status, { 'x-amzn-RequestId': requestId });
  res.end();
}

/** Answers a request whose handling failed unexpectedly: 500 `ServiceException`, or a dropped connection once the answer has begun. */
export function sendInternalError(res: ServerResponse): void {
  if (!res.headersSent) {
    sendError(res, randomUUID(), {
      status: 500,
      code: 'ServiceException',
      body: { Type: 'Service', Message: 'Internal error in SCV stand-in' },
    });
  } else {
    res.destroy();
  }
}

function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_PAYLOAD_BYTES) {
        tooLarge = true;
        chunks.length = 0;
      } else if (!tooLarge) {
        chunks.push(chunk);
      }
    });
    req.on('end', () => resolve(tooLarge ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function matchFunctionName(requested: string, configured: string): boolean {
  if (requested === configured) {
    return true;
  }
  const suffix = `:function:${configured}`;
  return requested.endsWith(suffix) || requested.endsWith(`${suffix}:$LATEST`);
}

/**
 * What an invocation answers when the fault plan picks `fault`: a Lambda API
 * error (throttling, a service exception), a function error, a timeout after
 * `delayMs` (`aborted` when the stand-in stops meanwhile; waits are registered
 * in `pendingWaits`), or a `success: false` result in the shape of the
 * function called (`restApi`: sfRestApi.js's).
 */
export async function faultOutcome(
  fault: StandInFault,
  context: { restApi: boolean; requestId: string; pendingWaits: Set<AbortController> },
): Promise<FunctionOutcome | LambdaErrorSpec | 'aborted'> {
  const { requestId, pendingWaits } = context;
  switch (fault.kind) {
    case 'throttle':
      return {
        status: 429,
        code: 'TooManyRequestsException',
        body: {
          Type: 'User',
          message: 'Rate Exceeded.',
          Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
        },
      };
    case 'server-error':
      return {
        status: 500,
        code: 'ServiceException',
        body: { Type: 'Service', Message: 'Injected service exception (SCV stand-in)' },
      };
    case 'function-error':
      return {
        kind: 'function-error',
        errorType: 'Error',
        errorMessage: 'Injected function error (SCV stand-in)',
        trace: ['Error: Injected function error (SCV stand-in)'],
      };
    case 'timeout': {
      const controller = new AbortController();
      pendingWaits.add(controller);
      try {
        await delay(Math.max(0, fault.delayMs), undefined, { signal: controller.signal });
      } catch {
        return 'aborted';
      } finally {
        pendingWaits.delete(controller);
      }
      const seconds = (Math.max(0, fault.delayMs) / 1000).toFixed(2);
      return {
        kind: 'function-error',
        errorType: 'Sandbox.Timedout',
        errorMessage: `RequestId: ${requestId} Error: Task timed out after ${seconds} seconds`,
      };
    }
    case 'success-false': {
      const errorMessage = 'Injected failure (SCV stand-in)';
      if (context.restApi) {
        // sfRestApi.js builds this shape from a failed Salesforce request.
        return {
          kind: 'result',
          payload: {
            success: false,
            status: 500,
            statusText: 'Internal Server Error',
            errorCode: 'INJECTED_FAILURE',
            errorMessage,
          },
        };
      }
      return { kind: 'result', payload: { success: false, errorMessage } };
    }
  }
}
