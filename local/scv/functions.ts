/**
 * SCV's two Lambda functions, as far as ctr-sync calls them: the
 * `updateVoiceCall` method of InvokeTelephonyIntegrationApiFunction and the
 * `queryRecord` method of InvokeSalesforceRestApiFunction, run against the
 * VoiceCall store (`voice-calls.ts`). A function that throws is reported as a
 * function error; how it travels on the wire is in `invoke-api.ts`.
 *
 * Sources of the behaviour reproduced here:
 * - SCV's InvokeTelephonyIntegrationApiFunction, source in the public repository
 *   service-cloud-voice/ServiceCloudVoiceLambdas, files
 *   `invokeTelephonyIntegrationApi/handler.js` and `telephonyIntegrationApi.js`:
 *   `updateVoiceCall` PATCHes `/telephony/v1/voiceCalls/{contactId}` and returns
 *   the response body (`{ success: true }` in that repository's tests); any HTTP
 *   failure is thrown (`Error updating VoiceCall record.`), so it reaches the
 *   caller as a function error; an unknown method throws
 *   `Unsupported method: <name>`.
 * - The Telephony Integration REST API "Update a Voice Call Record" page
 *   (Salesforce Voice developer guide): the PATCH creates the VoiceCall when
 *   none exists (missed or abandoned calls); `totalHoldDuration` is an int32 in
 *   seconds. The CTRDataSyncFunction page: CustomerHoldDuration has no value
 *   until the contact record has been synced, which is what the "Retry CTR
 *   Sync" recipe queries on (`CustomerHoldDuration = null`).
 * - SCV's InvokeSalesforceRestApiFunction, same repository,
 *   `invokeSfRestApi/handler.js`, `queryEngine.js`, `sfRestApi.js`:
 *   `queryRecord` runs the SOQL, returns `{}` when `totalSize` is 0, otherwise
 *   the first record with its `attributes` member deleted, flattened with the
 *   `flat` package.
 *
 * Not reproduced: the functions' other methods (each is `Unsupported method`),
 * and the calls to Salesforce themselves (`updateLatencyMs` stands in for
 * their time; failed ones are injected as faults, in `invoke-api.ts`).
 */

import { setTimeout as delay } from 'node:timers/promises';
import { parseVoiceCallQuery, SoqlParseError, type VoiceCallQuery } from './soql';
import { isRecord, type StoredVoiceCall, type VoiceCallStore } from './voice-calls';

/** An error the stand-in function "throws": reported as an Unhandled function error. */
export class FunctionFailure extends Error {
  constructor(
    message: string,
    readonly errorType = 'Error',
  ) {
    super(message);
  }
}

/** What one invocation of a function produced: its result, or the error it threw. */
export type FunctionOutcome =
  | { kind: 'result'; payload: unknown }
  | { kind: 'function-error'; errorType: string; errorMessage: string; trace?: string[] };

/** Options of {@link createFunctionRunner}. */
export interface FunctionRunnerOptions {
  /** The VoiceCalls both functions work on. */
  store: VoiceCallStore;
  /** Name of the InvokeTelephonyIntegrationApiFunction (runs `updateVoiceCall`). */
  telephonyFunctionName: string;
  /** Name of the InvokeSalesforceRestApiFunction (runs `queryRecord`). */
  restApiFunctionName: string;
  /** Milliseconds `updateVoiceCall` takes before it applies the update and answers. */
  updateLatencyMs?: number;
  /** Clock of CreatedDate and LastModifiedDate. */
  now: () => Date;
}

/**
 * Runs one invocation of `functionName` (one of the two configured names) on
 * `event` (`{ Details: { Parameters: { methodName, ... } } }`): the method
 * the event names, when that function has it. Never rejects: whatever the
 * method throws becomes a `function-error` outcome, a {@link FunctionFailure}
 * with its own type and message, anything else as
 * `Internal error in SCV stand-in` (so no field value leaks into an answer).
 */
export function createFunctionRunner(
  options: FunctionRunnerOptions,
): (functionName: string, event: unknown) => Promise<FunctionOutcome> {
  const { store, telephonyFunctionName, restApiFunctionName, now } = options;
  return async function runFunction(functionName, event) {
    try {
      const parameters = parametersOf(event);
      const methodName = parameters.methodName;
      if (functionName === telephonyFunctionName && methodName === 'updateVoiceCall') {
        return {
          kind: 'result',
          payload: await updateVoiceCall(store, parameters, {
            updateLatencyMs: options.updateLatencyMs,
            now,
          }),
        };
      }
      if (functionName === restApiFunctionName && methodName === 'queryRecord') {
        return { kind: 'result', payload: await queryRecord(store, parameters) };
      }
      throw new FunctionFailure(`Unsupported method: ${String(methodName)}`);
    } catch (error) {
      const failure =
        error instanceof FunctionFailure
          ? error
          : new FunctionFailure('Internal error in SCV stand-in');
      return {
        kind: 'function-error',
        errorType: failure.errorType,
        errorMessage: failure.message,
        trace: [`${failure.errorType}: ${failure.message}`],
      };
    }
  };
}

/**
 * The parameters that name an invocation, read leniently (for the fault hook
 * and the counts): `methodName`, `''` when it is missing or not a string;
 * `contactId` when it is a string.
 */
export function invocationParameters(event: unknown): { methodName: string; contactId?: string } {
  const parameters =
    isRecord(event) && isRecord(event.Details) && isRecord(event.Details.Parameters)
      ? event.Details.Parameters
      : {};
  const named: { methodName: string; contactId?: string } = {
    methodName: typeof parameters.methodName === 'string' ? parameters.methodName : '',
  };
  if (typeof parameters.contactId === 'string') {
    named.contactId = parameters.contactId;
  }
  return named;
}

function parametersOf(event: unknown): Record<string, unknown> {
  if (!isRecord(event) || !isRecord(event.Details) || !isRecord(event.Details.Parameters)) {
    throw new FunctionFailure('event.Details.Parameters must be an object', 'TypeError');
  }
  return event.Details.Parameters;
}

/** Key paths (never values) of null entries anywhere inside `value`. */
function nullPaths(value: unknown, path: string, found: string[]): void {
  if (value === null) {
    found.push(path);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      nullPaths(item, `${path}[${index}]`, found);
    });
    return;
  }
  if (isRecord(value)) {
    for (const [key, item] of Object.entries(value)) {
      nullPaths(item, `${path}.${key}`, found);
    }
  }
}

/**
 * `updateVoiceCall` of the telephony function: merge `fieldValues` into the
 * VoiceCall whose VendorCallKey is `contactId`, creating it when missing (the
 * Update a Voice Call Record API also creates one after the call), after
 * `updateLatencyMs`.
 * @throws FunctionFailure for a missing contactId, non-object or null fieldValues.
 */
async function updateVoiceCall(
  store: VoiceCallStore,
  parameters: Record<string, unknown>,
  options: { updateLatencyMs?: number; now: () => Date },
): Promise<unknown> {
  const { now } = options;
  const { contactId, fieldValues } = parameters;
  if (typeof contactId !== 'string' || contactId.length === 0) {
    throw new FunctionFailure('updateVoiceCall: contactId must be a non-empty string');
  }
  if (!isRecord(fieldValues)) {
    throw new FunctionFailure(
      `updateVoiceCall: fieldValues must be an object (contactId ${contactId})`,
    );
  }
  if (options.updateLatencyMs) await delay(options.updateLatencyMs);
  const nulls: string[] = [];
  nullPaths(fieldValues, 'fieldValues', nulls);
  if (nulls.length > 0) {
    throw new FunctionFailure(
      `updateVoiceCall: null values are not accepted (contactId ${contactId}): ${nulls.join(', ')}`,
    );
  }
  await store.mutate((voiceCalls) => {
    const existing = voiceCalls[contactId];
    const voiceCall: StoredVoiceCall =
      existing ?? store.newVoiceCall(contactId, now().toISOString());
    voiceCall.fieldValues = { ...voiceCall.fieldValues, ...structuredClone(fieldValues) };
    if (typeof fieldValues.totalHoldDuration === 'number') {
      voiceCall.CustomerHoldDuration = fieldValues.totalHoldDuration;
    }
    voiceCall.updateCount += 1;
    voiceCall.LastModifiedDate = now().toISOString();
    voiceCalls[contactId] = voiceCall;
  });
  // The Lambda returns the SCRT PATCH response body; the repository's tests use { success: true }.
  return { success: true };
}

/**
 * `queryRecord` of the REST API function: the first VoiceCall, by VendorCallKey,
 * that the supported SOQL selects (`parseVoiceCallQuery`), flattened as SCV
 * returns it; `{}` when none.
 * @throws FunctionFailure for an empty or unsupported query.
 */
async function queryRecord(
  store: VoiceCallStore,
  parameters: Record<string, unknown>,
): Promise<unknown> {
  const { soql } = parameters;
  if (typeof soql !== 'string' || soql.trim().length === 0) {
    throw new FunctionFailure('queryRecord: soql must be a non-empty string');
  }
  let query: VoiceCallQuery;
  try {
    query = parseVoiceCallQuery(soql);
  } catch (error) {
    if (error instanceof SoqlParseError) {
      throw new FunctionFailure(
        `queryRecord: unsupported SOQL: ${error.message}`,
        'SoqlParseError',
      );
    }
    throw error;
  }
  const from = query.createdDateFrom === undefined ? undefined : Date.parse(query.createdDateFrom);
  const before =
    query.createdDateBefore === undefined ? undefined : Date.parse(query.createdDateBefore);
  const after = query.vendorCallKeyAfter;
  const rows = Object.values(await store.snapshot())
    .filter((call) => {
      const created = Date.parse(call.CreatedDate);
      return (
        call.CustomerHoldDuration === null &&
        (from === undefined || created >= from) &&
        (before === undefined || created < before) &&
        (after === undefined || call.VendorCallKey > after)
      );
    })
    .sort((a, b) =>
      a.VendorCallKey < b.VendorCallKey ? -1 : a.VendorCallKey > b.VendorCallKey ? 1 : 0,
    );
  const first = rows[0];
  // Flattening { Id, VendorCallKey, CreatedDate } with `flat` leaves it unchanged.
  if (!first) return {};
  const row = { Id: first.Id, VendorCallKey: first.VendorCallKey };
  return query.selectsCreatedDate ? { ...row, CreatedDate: first.CreatedDate } : row;
}
