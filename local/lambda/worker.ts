/**
 * One local Lambda execution environment: a child process that loads one
 * function bundle (its module scope runs once, like a cold start) and runs
 * invocations one at a time, answering the parent over IPC. Its stdout is
 * the function's log stream (Powertools JSON lines and EMF metrics).
 *
 * Protocol: the parent sends `{ id, event, timeoutMs, crash? }`; the worker
 * answers `{ id, ok: true, value, durationMs }` or
 * `{ id, ok: false, error: { name, message }, durationMs }`, `durationMs` being
 * the handler's run time in milliseconds (what Lambda bills as duration).
 *
 * Fault injection: with `crash: true` the process dies in the middle of that
 * invocation, right after its second completed request that changes
 * something (a PutEvents, a PutObject, a Lambda Invoke, an SQS send or
 * delete; not a GET, a HEAD or an SQS receive), so some records of the batch
 * are done and the rest are not; an invocation with fewer such requests dies after its work,
 * before it answers. Either way the caller sees the process exit, as Lambda
 * reports `Runtime.ExitError`.
 */
import dns from 'node:dns';
import { subscribe } from 'node:diagnostics_channel';
import { pathToFileURL } from 'node:url';

interface InvokeMessage {
  id: number;
  event: unknown;
  timeoutMs: number;
  crash?: boolean;
}

// fauxqs hands out queue URLs on `sqs.<region>.localhost:<port>`, and the SQS client sends to the
// queue URL's host. Names under `.localhost` are loopback names (RFC 6761, section 6.3), but the
// system resolver here does not resolve them; resolve them to 127.0.0.1 in this process.
const systemLookup = dns.lookup;
const loopbackLookup = ((hostname: string, options: unknown, callback: unknown) => {
  if (!hostname.endsWith('.localhost')) {
    return (systemLookup as (...args: unknown[]) => void)(hostname, options, callback);
  }
  const done = (typeof options === 'function' ? options : callback) as (
    error: null,
    address: string | { address: string; family: number }[],
    family?: number,
  ) => void;
  if (typeof options === 'object' && options !== null && (options as { all?: boolean }).all) {
    done(null, [{ address: '127.0.0.1', family: 4 }]);
  } else {
    done(null, '127.0.0.1', 4);
  }
}) as typeof dns.lookup;
dns.lookup = loopbackLookup;

/** Completed state-changing requests after which a crashing invocation dies. */
const CRASH_AFTER_WRITES = 2;
/** Exit code of an injected crash (what a SIGKILL-ed process reports as 128 + 9). */
const CRASH_EXIT_CODE = 137;

let crashArmed = false;
let writesDone = 0;
// Node publishes every HTTP client response on this channel (node:diagnostics_channel, "HTTP").
subscribe('http.client.response.finish', (message) => {
  if (!crashArmed) return;
  const { request } = message as {
    request: { method?: string; getHeader(name: string): unknown };
  };
  if (request.method === 'GET' || request.method === 'HEAD') return;
  // SQS and DynamoDB (AWS JSON 1.0) reads are POSTs too; they change nothing.
  const target = String(request.getHeader('x-amz-target') ?? '');
  if (/^AmazonSQS\.(ReceiveMessage|GetQueueAttributes|GetQueueUrl)$/.test(target)) return;
  if (/^DynamoDB_20120810\.(GetItem|Query)$/.test(target)) return;
  if (++writesDone >= CRASH_AFTER_WRITES) process.exit(CRASH_EXIT_CODE);
});

const bundlePath = process.env.CTR_SYNC_BUNDLE;
if (!bundlePath) throw new Error('CTR_SYNC_BUNDLE is not set');

let handlerPromise: Promise<(event: unknown, context: unknown) => Promise<unknown>> | undefined;

function loadHandler() {
  handlerPromise ??= import(pathToFileURL(bundlePath as string).href).then((module) => {
    if (typeof module.handler !== 'function') throw new Error(`${bundlePath} exports no handler`);
    return module.handler;
  });
  return handlerPromise;
}

process.on('message', (message: InvokeMessage) => {
  void (async () => {
    const deadline = Date.now() + message.timeoutMs;
    const context = {
      awsRequestId: `local-${process.pid}-${message.id}`,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'local',
      functionVersion: '$LATEST',
      memoryLimitInMB: '256',
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    crashArmed = message.crash === true;
    writesDone = 0;
    let started = performance.now();
    try {
      const handler = await loadHandler();
      // Lambda bills the handler's run, not the module's first load (init is billed apart).
      started = performance.now();
      const value = await handler(message.event, context);
      const durationMs = performance.now() - started;
      if (crashArmed) process.exit(CRASH_EXIT_CODE);
      process.send?.({ id: message.id, ok: true, value: value ?? null, durationMs });
    } catch (error) {
      const durationMs = performance.now() - started;
      if (crashArmed) process.exit(CRASH_EXIT_CODE);
      const { name, message: text } = error instanceof Error ? error : new Error(String(error));
      process.send?.({ id: message.id, ok: false, error: { name, message: text }, durationMs });
    }
  })();
});
