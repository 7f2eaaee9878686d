/**
 * Adapters for the two Service Cloud Voice Lambda functions ctr-sync calls,
 * invoked synchronously (RequestResponse) with the payload shape SCV's own
 * functions use: `{ Details: { Parameters: { methodName, ... } } }` (Salesforce
 * recipe "Retry CTR Sync for Voice Call Records", and SCV's
 * CTRDataSyncFunction).
 *
 * An invocation fails with a TransientError (the message is retried) when:
 * the SDK call throws (throttling, 5xx, after the SDK's own retries); the
 * status code is not 2xx; the function reports a FunctionError; or its
 * payload says `success: false`. Error messages carry the ContactId and
 * error type only, never the function's error message (it may echo field
 * values).
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { TransientError } from '../../domain/errors';
import type { SalesforceRestApi, TelephonyIntegration, VoiceCallRow } from '../../domain/ports';

const decoder = new TextDecoder();

async function invoke(
  client: LambdaClient,
  functionName: string,
  parameters: Record<string, unknown>,
  label: string,
): Promise<unknown> {
  const response = await client.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: 'RequestResponse',
      Payload: JSON.stringify({ Details: { Parameters: parameters } }),
    }),
  );
  const status = response.StatusCode ?? 0;
  if (status < 200 || status >= 300) {
    throw new TransientError(`${label}: invoke returned status ${status}`);
  }
  const text = response.Payload ? decoder.decode(response.Payload) : '';
  let payload: unknown;
  try {
    payload = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new TransientError(`${label}: response payload is not JSON`);
  }
  if (response.FunctionError) {
    const errorType = (payload as { errorType?: unknown } | undefined)?.errorType;
    throw new TransientError(
      `${label}: function error (${response.FunctionError}${typeof errorType === 'string' ? `, ${errorType}` : ''})`,
    );
  }
  if ((payload as { success?: unknown } | undefined)?.success === false) {
    throw new TransientError(`${label}: answered success: false`);
  }
  return payload;
}

/** `updateVoiceCall` on InvokeTelephonyIntegrationApiFunction. */
export function createTelephonyIntegration(options: {
  client: LambdaClient;
  functionName: string;
}): TelephonyIntegration {
  return {
    async updateVoiceCall(update) {
      await invoke(
        options.client,
        options.functionName,
        {
          methodName: 'updateVoiceCall',
          fieldValues: update.fieldValues,
          contactId: update.contactId,
        },
        `updateVoiceCall for ContactId ${update.contactId}`,
      );
    },
  };
}

/**
 * `queryRecord` on InvokeSalesforceRestApiFunction. It answers with the first
 * row of the result only, flattened (`Id`, `VendorCallKey`, ...), or `{}`
 * when the query matched nothing.
 */
export function createSalesforceRestApi(options: {
  client: LambdaClient;
  functionName: string;
}): SalesforceRestApi {
  return {
    async queryRecord(soql) {
      const payload = await invoke(
        options.client,
        options.functionName,
        { methodName: 'queryRecord', soql },
        'queryRecord',
      );
      if (payload === undefined || payload === null) return undefined;
      const row = payload as Partial<Record<keyof VoiceCallRow, unknown>>;
      if (typeof row.Id === 'string' && typeof row.VendorCallKey === 'string') {
        return {
          Id: row.Id,
          VendorCallKey: row.VendorCallKey,
          ...(typeof row.CreatedDate === 'string' ? { CreatedDate: row.CreatedDate } : {}),
        };
      }
      if (typeof payload === 'object' && Object.keys(payload).length === 0) return undefined;
      throw new TransientError('queryRecord: unexpected result shape (no Id and VendorCallKey)');
    },
  };
}
