/**
 * One local Lambda execution environment: a child process that loads one
 * function bundle (its module scope runs once, like a cold start) and runs
 * invocations one at a time, answering the parent over IPC. Its stdout is
 * the function's log stream (Powertools JSON lines and EMF metrics).
 *
 * Protocol: the parent sends `{ id, event, timeoutMs }`; the worker answers
 * `{ id, ok: true, value }` or `{ id, ok: false, error: { name, message } }`.
 */
import { pathToFileURL } from 'node:url';

interface InvokeMessage {
  id: number;
  event: unknown;
  timeoutMs: number;
}

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
    try {
      const handler = await loadHandler();
      const value = await handler(message.event, context);
      process.send?.({ id: message.id, ok: true, value: value ?? null });
    } catch (error) {
      const { name, message: text } = error instanceof Error ? error : new Error(String(error));
      process.send?.({ id: message.id, ok: false, error: { name, message: text } });
    }
  })();
});
