/**
 * Local stand-in for the two Salesforce Service Cloud Voice (SCV) Lambda
 * functions that ctr-sync invokes, served over the AWS Lambda Invoke REST API
 * on 127.0.0.1 and backed by a VoiceCall store in one JSON file.
 *
 * This file holds the public types and {@link startScvStandIn}, which
 * composes the parts, each in its own file with the sources of what it
 * reproduces:
 * - `invoke-api.ts`: the Lambda Invoke API wire (requests, invocation types,
 *   error and payload answers) and the answers of injected faults;
 * - `functions.ts`: SCV's `updateVoiceCall` and `queryRecord`;
 * - `soql.ts`: the SOQL subset `queryRecord` runs;
 * - `voice-calls.ts`: the VoiceCall store file.
 *
 * The stand-in logs nothing. Error messages name keys and ContactIds at most,
 * never field values or phone numbers.
 */

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFunctionRunner, type FunctionOutcome, invocationParameters } from './functions';
import {
  faultOutcome,
  type LambdaErrorSpec,
  parseInvokeRequest,
  sendEmpty,
  sendError,
  sendInternalError,
  sendOutcome,
  type StandInFault,
} from './invoke-api';
import {
  createVoiceCall as createStoredVoiceCall,
  openVoiceCallStore,
  type StoredVoiceCall,
} from './voice-calls';

export type { StandInFault } from './invoke-api';
export { parseVoiceCallQuery, SoqlParseError, type VoiceCallQuery } from './soql';
export type { StoredVoiceCall } from './voice-calls';

/** What the fault hook is told about one invocation. */
export interface StandInCall {
  /** The configured function name (never the ARN it was invoked by). */
  functionName: string;
  /** `Details.Parameters.methodName`, or `''` when it is missing or not a string. */
  methodName: string;
  /** `Details.Parameters.contactId` when it is a string. */
  contactId?: string;
}

/** Options of {@link startScvStandIn}. */
export interface ScvStandInOptions {
  /**
   * Path of the JSON store `{ "voiceCalls": { "<VendorCallKey>": StoredVoiceCall } }`.
   * Loaded at start when it exists; its directory is created when missing.
   */
  storePath: string;
  /**
   * Name of the stand-in InvokeTelephonyIntegrationApiFunction. Invocations
   * match it by this name, or by an ARN ending in `:function:<name>`
   * (optionally followed by `:$LATEST`).
   */
  telephonyFunctionName: string;
  /** Name of the stand-in InvokeSalesforceRestApiFunction, matched like `telephonyFunctionName`. */
  restApiFunctionName: string;
  /** TCP port on 127.0.0.1; default 0 (a free port chosen by the system). */
  port?: number;
  /**
   * Called once per invocation of a known function whose payload is JSON,
   * before the function runs; returning a {@link StandInFault} replaces the
   * function's behaviour for that invocation. Not called for DryRun.
   */
  fault?: (call: StandInCall) => StandInFault | undefined;
  /** Clock of CreatedDate (VoiceCalls created by `updateVoiceCall`) and LastModifiedDate; default `new Date()`. */
  now?: () => Date;
  /**
   * Milliseconds `updateVoiceCall` takes before it applies the update and answers (default 0):
   * the time SCV's function spends calling Salesforce, for benchmarks.
   */
  updateLatencyMs?: number;
}

/**
 * Invocations received, per configured function name, then per `methodName`
 * (`''` when the payload had none). Counts every invocation of a known function
 * whose payload is JSON, faulted ones included; DryRun is not counted.
 */
export type InvocationCounts = Record<string, Record<string, number>>;

/** A running stand-in, returned by {@link startScvStandIn}. */
export interface ScvStandIn {
  /** Base URL to give the Lambda client as `endpoint`: `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** Stops listening, closes open connections, waits for pending store writes. */
  stop(): Promise<void>;
  /**
   * What SCV does when a call starts: stores a VoiceCall with
   * `VendorCallKey = contactId`, `CustomerHoldDuration = null`, no field values.
   *
   * @param contactId - The Amazon Connect ContactId (non-empty).
   * @param createdDate - ISO-8601 UTC timestamp ending in `Z`.
   * @throws Error when an argument is invalid or a VoiceCall with this key exists.
   */
  createVoiceCall(contactId: string, createdDate: string): Promise<void>;
  /** A deep copy of every stored VoiceCall, keyed by VendorCallKey, once pending writes are on disk. */
  readVoiceCalls(): Promise<Record<string, StoredVoiceCall>>;
  /** A snapshot of the invocation counts; see {@link InvocationCounts}. */
  readonly invocationCount: InvocationCounts;
}

/**
 * Starts the SCV stand-in: an HTTP server on 127.0.0.1 that answers the AWS
 * Lambda Invoke API for two functions.
 *
 * Telephony function (`telephonyFunctionName`), payload
 * `{ Details: { Parameters: { methodName, contactId, fieldValues } } }`:
 * - `updateVoiceCall`: `contactId` must be a non-empty string and `fieldValues`
 *   an object with no `null` anywhere inside it, else a function error. Upserts
 *   the VoiceCall keyed by `contactId` (creating it, with CreatedDate = now, as
 *   SCV does for missed or abandoned calls), merges `fieldValues` over the
 *   stored ones, sets `CustomerHoldDuration` from a numeric
 *   `fieldValues.totalHoldDuration` (seconds), increments `updateCount`, and
 *   returns `{ success: true }` once the store file is written.
 * - any other `methodName`: function error `Unsupported method: <name>`.
 *
 * REST API function (`restApiFunctionName`):
 * - `queryRecord` with `soql`: runs the subset parsed by
 *   {@link parseVoiceCallQuery} against the store (VoiceCalls with a null
 *   CustomerHoldDuration, within the CreatedDate bounds, VendorCallKey after the
 *   given key, ordered by VendorCallKey in UTF-16 code-unit order) and returns
 *   the first row as `{ Id, VendorCallKey }` (no `attributes`: the real
 *   function deletes them), or `{}` when there is none. A statement outside
 *   the subset is a function error (`SoqlParseError: ...`).
 * - any other `methodName`: function error `Unsupported method: <name>`.
 *
 * HTTP: `X-Amz-Invocation-Type` RequestResponse (default, 200), Event (202,
 * empty body, runs after the response) or DryRun (204, runs nothing); an
 * unknown function is 404 `ResourceNotFoundException`; a body that is not JSON
 * is 400 `InvalidRequestContentException`; a body over 6 MB is 413
 * `RequestTooLargeException`. Requests are not authenticated.
 *
 * @param options - See {@link ScvStandInOptions}.
 * @returns The running stand-in; call `stop()` when done.
 * @throws Error when the store file exists but is not a valid store, or the port cannot be bound.
 */
export async function startScvStandIn(options: ScvStandInOptions): Promise<ScvStandIn> {
  const { storePath, telephonyFunctionName, restApiFunctionName } = options;
  if (
    !telephonyFunctionName ||
    !restApiFunctionName ||
    telephonyFunctionName === restApiFunctionName
  ) {
    throw new Error(
      'telephonyFunctionName and restApiFunctionName must be two different non-empty names',
    );
  }
  const now = options.now ?? (() => new Date());
  const store = await openVoiceCallStore(storePath);
  const runFunction = createFunctionRunner({
    store,
    telephonyFunctionName,
    restApiFunctionName,
    updateLatencyMs: options.updateLatencyMs,
    now,
  });
  const counts: InvocationCounts = {};
  const pendingWaits = new Set<AbortController>();
  const backgroundWork = new Set<Promise<unknown>>();
  let stopping = false;

  function count(functionName: string, methodName: string): void {
    const perFunction = counts[functionName] ?? {};
    perFunction[methodName] = (perFunction[methodName] ?? 0) + 1;
    counts[functionName] = perFunction;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const request = await parseInvokeRequest(req, [telephonyFunctionName, restApiFunctionName]);
    if ('status' in request) {
      sendError(res, requestId, request);
      return;
    }
    const { functionName, invocationType, event } = request;
    if (invocationType === 'DryRun') {
      sendEmpty(res, requestId, 204);
      return;
    }

    const call: StandInCall = { functionName, ...invocationParameters(event) };
    count(functionName, call.methodName);
    const fault = options.fault?.(call);

    const produce = (): Promise<FunctionOutcome | LambdaErrorSpec | 'aborted'> =>
      fault
        ? faultOutcome(fault, {
            restApi: functionName === restApiFunctionName,
            requestId,
            pendingWaits,
          })
        : runFunction(functionName, event);

    if (invocationType === 'Event') {
      if (fault?.kind === 'throttle' || fault?.kind === 'server-error') {
        const outcome = await produce();
        if (outcome !== 'aborted' && 'status' in outcome) {
          sendError(res, requestId, outcome);
          return;
        }
      }
      sendEmpty(res, requestId, 202);
      if (!fault) {
        const work = runFunction(functionName, event);
        backgroundWork.add(work);
        void work.finally(() => backgroundWork.delete(work));
      }
      return;
    }

    sendOutcome(res, requestId, await produce());
  }

  const server: Server = createServer((req, res) => {
    if (stopping) {
      res.destroy();
      return;
    }
    handle(req, res).catch(() => sendInternalError(res));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,

    async stop(): Promise<void> {
      if (stopping) {
        return;
      }
      stopping = true;
      for (const controller of pendingWaits) {
        controller.abort();
      }
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await Promise.allSettled([...backgroundWork]);
      server.closeAllConnections();
      await closed;
      await store.flush();
    },

    createVoiceCall(contactId: string, createdDate: string): Promise<void> {
      return createStoredVoiceCall(store, contactId, createdDate);
    },

    readVoiceCalls(): Promise<Record<string, StoredVoiceCall>> {
      return store.snapshot();
    },

    get invocationCount(): InvocationCounts {
      return structuredClone(counts);
    },
  };
}
