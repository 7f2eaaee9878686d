import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  InvokeCommand,
  type InvokeCommandOutput,
  LambdaClient,
  ResourceNotFoundException,
  ServiceException,
  TooManyRequestsException,
} from '@aws-sdk/client-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  parseVoiceCallQuery,
  type ScvStandIn,
  type ScvStandInOptions,
  SoqlParseError,
  type StandInFault,
  startScvStandIn,
} from '../../local/scv/stand-in';

const TELEPHONY = 'InvokeTelephonyIntegrationApiFunction';
const REST_API = 'InvokeSalesforceRestApiFunction';
const TELEPHONY_ARN = `arn:aws:lambda:us-east-1:123456789012:function:${TELEPHONY}`;

let dir: string;
let storePath: string;
const running: ScvStandIn[] = [];
const clients: LambdaClient[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scv-stand-in-'));
  storePath = join(dir, 'scv-store.json');
});

afterEach(async () => {
  for (const client of clients.splice(0)) {
    client.destroy();
  }
  for (const standIn of running.splice(0)) {
    await standIn.stop();
  }
  await rm(dir, { recursive: true, force: true });
});

async function start(options: Partial<ScvStandInOptions> = {}): Promise<ScvStandIn> {
  const standIn = await startScvStandIn({
    storePath,
    telephonyFunctionName: TELEPHONY,
    restApiFunctionName: REST_API,
    ...options,
  });
  running.push(standIn);
  return standIn;
}

function clientFor(standIn: ScvStandIn): LambdaClient {
  const client = new LambdaClient({
    endpoint: standIn.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' },
    maxAttempts: 1,
  });
  clients.push(client);
  return client;
}

async function invoke(
  client: LambdaClient,
  functionName: string,
  parameters: Record<string, unknown>,
): Promise<InvokeCommandOutput> {
  return client.send(
    new InvokeCommand({
      FunctionName: functionName,
      Payload: new TextEncoder().encode(JSON.stringify({ Details: { Parameters: parameters } })),
    }),
  );
}

function payloadOf(output: InvokeCommandOutput): unknown {
  return JSON.parse(new TextDecoder().decode(output.Payload));
}

function update(contactId: string, fieldValues: Record<string, unknown>): Record<string, unknown> {
  return { methodName: 'updateVoiceCall', contactId, fieldValues };
}

function query(conditions: string[] = []): Record<string, unknown> {
  const where = ['CustomerHoldDuration = null', ...conditions].join(' AND ');
  return {
    methodName: 'queryRecord',
    soql: `SELECT Id, VendorCallKey FROM VoiceCall WHERE ${where} ORDER BY VendorCallKey ASC LIMIT 1`,
  };
}

describe('updateVoiceCall', () => {
  it('creates a missing VoiceCall and then merges later updates into it', async () => {
    const standIn = await start({ now: () => new Date('2022-01-05T10:00:00Z') });
    const client = clientFor(standIn);

    const first = await invoke(
      client,
      TELEPHONY,
      update('c-1', { startTime: '2022-01-05T09:00:00Z' }),
    );
    expect(first.StatusCode).toBe(200);
    expect(first.FunctionError).toBeUndefined();
    expect(first.ExecutedVersion).toBe('$LATEST');
    expect(payloadOf(first)).toEqual({ success: true });

    const created = (await standIn.readVoiceCalls())['c-1'];
    expect(created).toMatchObject({
      VendorCallKey: 'c-1',
      CreatedDate: '2022-01-05T10:00:00.000Z',
      CustomerHoldDuration: null,
      fieldValues: { startTime: '2022-01-05T09:00:00Z' },
      updateCount: 1,
    });
    expect(created?.Id).toMatch(/^0LQ[0-9A-Za-z]{15}$/);

    await invoke(client, TELEPHONY, update('c-1', { totalHoldDuration: 42, queue: 'Support' }));
    const updated = (await standIn.readVoiceCalls())['c-1'];
    expect(updated).toEqual({
      Id: created?.Id,
      VendorCallKey: 'c-1',
      CreatedDate: '2022-01-05T10:00:00.000Z',
      CustomerHoldDuration: 42,
      fieldValues: { startTime: '2022-01-05T09:00:00Z', totalHoldDuration: 42, queue: 'Support' },
      updateCount: 2,
      LastModifiedDate: '2022-01-05T10:00:00.000Z',
    });
  });

  it('accepts the function ARN as well as its name', async () => {
    const standIn = await start();
    const output = await invoke(clientFor(standIn), TELEPHONY_ARN, update('c-arn', { queue: 'Q' }));
    expect(output.FunctionError).toBeUndefined();
    expect(Object.keys(await standIn.readVoiceCalls())).toEqual(['c-arn']);
  });

  it('keeps CustomerHoldDuration null on a pre-created VoiceCall until an update carries totalHoldDuration', async () => {
    const standIn = await start();
    const client = clientFor(standIn);
    await standIn.createVoiceCall('c-2', '2022-01-05T08:30:00Z');

    const before = (await standIn.readVoiceCalls())['c-2'];
    expect(before).toMatchObject({ CustomerHoldDuration: null, updateCount: 0, fieldValues: {} });
    expect(before?.CreatedDate).toBe('2022-01-05T08:30:00.000Z');

    await invoke(client, TELEPHONY, update('c-2', { queue: 'Sales' }));
    expect((await standIn.readVoiceCalls())['c-2']?.CustomerHoldDuration).toBeNull();

    await invoke(client, TELEPHONY, update('c-2', { totalHoldDuration: 0 }));
    const after = (await standIn.readVoiceCalls())['c-2'];
    expect(after?.CustomerHoldDuration).toBe(0);
    expect(after?.Id).toBe(before?.Id);
  });

  it('rejects a null field value with a function error and stores nothing', async () => {
    const standIn = await start();
    const output = await invoke(
      clientFor(standIn),
      TELEPHONY,
      update('c-3', { queue: null, agent: 'a' }),
    );
    expect(output.StatusCode).toBe(200);
    expect(output.FunctionError).toBe('Unhandled');
    const payload = payloadOf(output) as { errorType: string; errorMessage: string };
    expect(payload.errorMessage).toContain('fieldValues.queue');
    expect(await standIn.readVoiceCalls()).toEqual({});
  });

  it('rejects a missing contactId or a non-object fieldValues with a function error', async () => {
    const standIn = await start();
    const client = clientFor(standIn);
    const noContact = await invoke(client, TELEPHONY, {
      methodName: 'updateVoiceCall',
      fieldValues: {},
    });
    expect(noContact.FunctionError).toBe('Unhandled');
    const badFields = await invoke(
      client,
      TELEPHONY,
      update('c-4', 'x' as unknown as Record<string, unknown>),
    );
    expect(badFields.FunctionError).toBe('Unhandled');
    expect(await standIn.readVoiceCalls()).toEqual({});
  });

  it('answers an unknown methodName with an Unsupported method function error', async () => {
    const standIn = await start();
    const output = await invoke(clientFor(standIn), TELEPHONY, {
      methodName: 'deleteVoiceCall',
      contactId: 'c',
    });
    expect(output.FunctionError).toBe('Unhandled');
    expect(payloadOf(output)).toMatchObject({
      errorType: 'Error',
      errorMessage: 'Unsupported method: deleteVoiceCall',
    });
  });

  it('loses no update when many are invoked concurrently', async () => {
    const standIn = await start();
    const client = clientFor(standIn);
    const contactIds = Array.from({ length: 20 }, (_, i) => `c-${String(i).padStart(2, '0')}`);
    await Promise.all(
      contactIds.flatMap((contactId) => [
        invoke(client, TELEPHONY, update(contactId, { queue: 'Q' })),
        invoke(client, TELEPHONY, update(contactId, { agent: 'A' })),
        invoke(client, TELEPHONY, update(contactId, { totalHoldDuration: 7 })),
      ]),
    );
    const stored = await standIn.readVoiceCalls();
    expect(Object.keys(stored).sort()).toEqual(contactIds);
    for (const contactId of contactIds) {
      expect(stored[contactId]).toMatchObject({
        updateCount: 3,
        CustomerHoldDuration: 7,
        fieldValues: { queue: 'Q', agent: 'A', totalHoldDuration: 7 },
      });
    }
    const onDisk = JSON.parse(await readFile(storePath, 'utf8')) as { voiceCalls: typeof stored };
    expect(onDisk.voiceCalls).toEqual(stored);
    expect(standIn.invocationCount[TELEPHONY]?.updateVoiceCall).toBe(60);
  });
});

describe('queryRecord', () => {
  it('pages through unsynced VoiceCalls in VendorCallKey order and returns {} at the end', async () => {
    const standIn = await start();
    const client = clientFor(standIn);
    for (const key of ['k-c', 'k-a', 'k-d', 'k-b']) {
      await standIn.createVoiceCall(key, '2022-01-05T12:00:00Z');
    }
    await invoke(client, TELEPHONY, update('k-b', { totalHoldDuration: 3 }));
    const ids = await standIn.readVoiceCalls();

    const seen: unknown[] = [];
    let after: string | undefined;
    for (let page = 0; page < 10; page++) {
      const conditions = after === undefined ? [] : [`VendorCallKey > '${after}'`];
      const output = await invoke(client, REST_API, query(conditions));
      expect(output.FunctionError).toBeUndefined();
      const row = payloadOf(output) as { Id?: string; VendorCallKey?: string };
      if (row.VendorCallKey === undefined) {
        expect(row).toEqual({});
        break;
      }
      seen.push(row);
      after = row.VendorCallKey;
    }
    expect(seen).toEqual(
      ['k-a', 'k-c', 'k-d'].map((key) => ({ Id: ids[key]?.Id, VendorCallKey: key })),
    );
  });

  it('returns only VoiceCalls created inside the CreatedDate window', async () => {
    const standIn = await start();
    const client = clientFor(standIn);
    await standIn.createVoiceCall('w-1', '2022-01-04T23:59:59.999Z');
    await standIn.createVoiceCall('w-2', '2022-01-05T00:00:00Z');
    await standIn.createVoiceCall('w-3', '2022-01-05T23:59:59Z');
    await standIn.createVoiceCall('w-4', '2022-01-06T00:00:00Z');
    const window = ['CreatedDate >= 2022-01-05T00:00:00Z', 'CreatedDate < 2022-01-06T00:00:00Z'];

    const first = payloadOf(await invoke(client, REST_API, query(window)));
    expect(first).toMatchObject({ VendorCallKey: 'w-2' });
    const second = payloadOf(
      await invoke(client, REST_API, query([...window, "VendorCallKey > 'w-2'"])),
    );
    expect(second).toMatchObject({ VendorCallKey: 'w-3' });
    const end = payloadOf(
      await invoke(client, REST_API, query([...window, "VendorCallKey > 'w-3'"])),
    );
    expect(end).toEqual({});
  });

  it('returns rows without the attributes member, as the real function deletes it', async () => {
    const standIn = await start();
    await standIn.createVoiceCall('a-1', '2022-01-05T00:00:00Z');
    const row = payloadOf(await invoke(clientFor(standIn), REST_API, query())) as Record<
      string,
      unknown
    >;
    expect(Object.keys(row).sort()).toEqual(['Id', 'VendorCallKey']);
  });

  it('returns the CreatedDate of the row when the query selects it, as the sweep does', async () => {
    const standIn = await start();
    await standIn.createVoiceCall('c-1', '2022-01-05T03:04:05Z');
    const soql =
      'SELECT Id, VendorCallKey, CreatedDate FROM VoiceCall WHERE CustomerHoldDuration = null ' +
      'ORDER BY VendorCallKey ASC LIMIT 1';

    const row = payloadOf(
      await invoke(clientFor(standIn), REST_API, { methodName: 'queryRecord', soql }),
    );

    expect(row).toMatchObject({ VendorCallKey: 'c-1', CreatedDate: '2022-01-05T03:04:05.000Z' });
  });

  it('answers SOQL outside the supported subset with a function error', async () => {
    const standIn = await start();
    const output = await invoke(clientFor(standIn), REST_API, {
      methodName: 'queryRecord',
      soql: 'SELECT Id FROM Account',
    });
    expect(output.StatusCode).toBe(200);
    expect(output.FunctionError).toBe('Unhandled');
    expect((payloadOf(output) as { errorMessage: string }).errorMessage).toMatch(
      /unsupported SOQL/,
    );
  });
});

describe('Lambda Invoke API surface', () => {
  it('answers an unknown function with ResourceNotFoundException', async () => {
    const standIn = await start();
    await expect(
      invoke(clientFor(standIn), 'NoSuchFunction', update('c', {})),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('answers a DryRun with 204 and runs nothing', async () => {
    const standIn = await start();
    const output = await clientFor(standIn).send(
      new InvokeCommand({
        FunctionName: TELEPHONY,
        InvocationType: 'DryRun',
        Payload: new TextEncoder().encode(
          JSON.stringify({ Details: { Parameters: update('c', {}) } }),
        ),
      }),
    );
    expect(output.StatusCode).toBe(204);
    expect(await standIn.readVoiceCalls()).toEqual({});
  });

  it('answers an Event invocation with 202 and applies it afterwards', async () => {
    const standIn = await start();
    const output = await clientFor(standIn).send(
      new InvokeCommand({
        FunctionName: TELEPHONY,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(
          JSON.stringify({ Details: { Parameters: update('c-ev', { queue: 'Q' }) } }),
        ),
      }),
    );
    expect(output.StatusCode).toBe(202);
    await expect.poll(async () => (await standIn.readVoiceCalls())['c-ev']?.updateCount).toBe(1);
  });
});

describe('fault injection', () => {
  async function faulted(
    fault: StandInFault,
  ): Promise<{ standIn: ScvStandIn; client: LambdaClient }> {
    const standIn = await start({
      fault: (call) =>
        call.methodName === 'updateVoiceCall' && call.contactId === 'f-1' ? fault : undefined,
    });
    return { standIn, client: clientFor(standIn) };
  }

  it('surfaces throttle as TooManyRequestsException (429) and stores nothing', async () => {
    const { standIn, client } = await faulted({ kind: 'throttle' });
    const error = await invoke(client, TELEPHONY, update('f-1', { queue: 'Q' })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TooManyRequestsException);
    expect((error as TooManyRequestsException).$metadata.httpStatusCode).toBe(429);
    expect(await standIn.readVoiceCalls()).toEqual({});
    expect(standIn.invocationCount[TELEPHONY]?.updateVoiceCall).toBe(1);
  });

  it('surfaces server-error as ServiceException (500) and stores nothing', async () => {
    const { standIn, client } = await faulted({ kind: 'server-error' });
    const error = await invoke(client, TELEPHONY, update('f-1', { queue: 'Q' })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ServiceException);
    expect((error as ServiceException).$metadata.httpStatusCode).toBe(500);
    expect(await standIn.readVoiceCalls()).toEqual({});
  });

  it('surfaces function-error as FunctionError Unhandled with an error payload and stores nothing', async () => {
    const { standIn, client } = await faulted({ kind: 'function-error' });
    const output = await invoke(client, TELEPHONY, update('f-1', { queue: 'Q' }));
    expect(output.StatusCode).toBe(200);
    expect(output.FunctionError).toBe('Unhandled');
    expect(payloadOf(output)).toMatchObject({
      errorType: 'Error',
      errorMessage: expect.any(String),
    });
    expect(await standIn.readVoiceCalls()).toEqual({});
  });

  it('surfaces timeout after the delay as a Sandbox.Timedout function error and stores nothing', async () => {
    const { standIn, client } = await faulted({ kind: 'timeout', delayMs: 150 });
    const startedAt = Date.now();
    const output = await invoke(client, TELEPHONY, update('f-1', { queue: 'Q' }));
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(140);
    expect(output.FunctionError).toBe('Unhandled');
    const payload = payloadOf(output) as { errorType: string; errorMessage: string };
    expect(payload.errorType).toBe('Sandbox.Timedout');
    expect(payload.errorMessage).toMatch(/Task timed out after 0\.15 seconds/);
    expect(await standIn.readVoiceCalls()).toEqual({});
  });

  it('surfaces success-false as a 200 payload { success: false, errorMessage } and stores nothing', async () => {
    const { standIn, client } = await faulted({ kind: 'success-false' });
    const output = await invoke(client, TELEPHONY, update('f-1', { queue: 'Q' }));
    expect(output.StatusCode).toBe(200);
    expect(output.FunctionError).toBeUndefined();
    expect(payloadOf(output)).toEqual({ success: false, errorMessage: expect.any(String) });
    expect(await standIn.readVoiceCalls()).toEqual({});
  });

  it('leaves invocations the hook does not fault untouched', async () => {
    const { standIn, client } = await faulted({ kind: 'throttle' });
    const output = await invoke(client, TELEPHONY, update('f-2', { queue: 'Q' }));
    expect(payloadOf(output)).toEqual({ success: true });
    expect(Object.keys(await standIn.readVoiceCalls())).toEqual(['f-2']);
  });

  it('stops promptly while a timeout fault is still waiting', async () => {
    const { standIn, client } = await faulted({ kind: 'timeout', delayMs: 60_000 });
    const pending = invoke(client, TELEPHONY, update('f-1', {})).catch((e: unknown) => e);
    await expect.poll(() => standIn.invocationCount[TELEPHONY]?.updateVoiceCall).toBe(1);
    const startedAt = Date.now();
    await standIn.stop();
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect(await pending).toBeInstanceOf(Error);
  });
});

describe('store file', () => {
  it('survives a restart', async () => {
    const first = await start();
    await invoke(clientFor(first), TELEPHONY, update('r-1', { totalHoldDuration: 5 }));
    await first.createVoiceCall('r-2', '2022-01-05T00:00:00Z');
    const before = await first.readVoiceCalls();
    await first.stop();

    const second = await start();
    expect(await second.readVoiceCalls()).toEqual(before);
    const row = payloadOf(await invoke(clientFor(second), REST_API, query()));
    expect(row).toEqual({ Id: before['r-2']?.Id, VendorCallKey: 'r-2' });
  });

  it('refuses to start on a store file that is not a store', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(storePath, '{"something":"else"}');
    await expect(start()).rejects.toThrow(/voiceCalls/);
  });

  it('refuses to pre-create a VoiceCall twice or with a non-UTC date', async () => {
    const standIn = await start();
    await standIn.createVoiceCall('d-1', '2022-01-05T00:00:00Z');
    await expect(standIn.createVoiceCall('d-1', '2022-01-05T00:00:00Z')).rejects.toThrow(
      /already exists/,
    );
    await expect(standIn.createVoiceCall('d-2', '2022-01-05T00:00:00+01:00')).rejects.toThrow(
      /UTC/,
    );
  });
});

describe('parseVoiceCallQuery', () => {
  const base = 'SELECT Id, VendorCallKey FROM VoiceCall WHERE CustomerHoldDuration = null';

  it('accepts the bare statement with no bounds', () => {
    expect(parseVoiceCallQuery(`${base} ORDER BY VendorCallKey LIMIT 1`)).toEqual({});
  });

  it('accepts every bound, ASC, and case-insensitive keywords', () => {
    expect(
      parseVoiceCallQuery(
        'select id, vendorcallkey from voicecall where customerholdduration = NULL and CreatedDate >= 2022-01-05T00:00:00Z ' +
          "AND CreatedDate < 2022-01-06T01:00:00+01:00 AND VendorCallKey > 'abc' order by VendorCallKey asc limit 1",
      ),
    ).toEqual({
      createdDateFrom: '2022-01-05T00:00:00.000Z',
      createdDateBefore: '2022-01-06T00:00:00.000Z',
      vendorCallKeyAfter: 'abc',
    });
  });

  it('accepts the optional conditions in any order and fractional seconds', () => {
    expect(
      parseVoiceCallQuery(
        `${base} AND VendorCallKey > 'k' AND CreatedDate < 2022-01-06T00:00:00.500Z ORDER BY VendorCallKey LIMIT 1`,
      ),
    ).toEqual({ createdDateBefore: '2022-01-06T00:00:00.500Z', vendorCallKeyAfter: 'k' });
  });

  it('unescapes backslash escapes in string literals', () => {
    expect(
      parseVoiceCallQuery(
        `${base} AND VendorCallKey > 'it\\'s \\\\ \\"x\\"' ORDER BY VendorCallKey LIMIT 1`,
      ),
    ).toEqual({ vendorCallKeyAfter: 'it\'s \\ "x"' });
  });

  it.each([
    [
      'another object',
      'SELECT Id, VendorCallKey FROM Account WHERE CustomerHoldDuration = null ORDER BY VendorCallKey LIMIT 1',
    ],
    [
      'other fields',
      'SELECT Id, Name FROM VoiceCall WHERE CustomerHoldDuration = null ORDER BY VendorCallKey LIMIT 1',
    ],
    ['no WHERE clause', 'SELECT Id, VendorCallKey FROM VoiceCall ORDER BY VendorCallKey LIMIT 1'],
    [
      'a non-null hold filter',
      `SELECT Id, VendorCallKey FROM VoiceCall WHERE CustomerHoldDuration = 0 ORDER BY VendorCallKey LIMIT 1`,
    ],
    [
      'a quoted dateTime',
      `${base} AND CreatedDate >= '2022-01-05T00:00:00Z' ORDER BY VendorCallKey LIMIT 1`,
    ],
    [
      'an impossible date',
      `${base} AND CreatedDate >= 2022-02-30T00:00:00Z ORDER BY VendorCallKey LIMIT 1`,
    ],
    ['an unquoted key', `${base} AND VendorCallKey > abc ORDER BY VendorCallKey LIMIT 1`],
    ['an unterminated string', `${base} AND VendorCallKey > 'abc ORDER BY VendorCallKey LIMIT 1`],
    ['an unknown escape', `${base} AND VendorCallKey > 'a\\qb' ORDER BY VendorCallKey LIMIT 1`],
    ['OR', `${base} OR VendorCallKey > 'a' ORDER BY VendorCallKey LIMIT 1`],
    [
      'another operator',
      `${base} AND CreatedDate > 2022-01-05T00:00:00Z ORDER BY VendorCallKey LIMIT 1`,
    ],
    [
      'a duplicate bound',
      `${base} AND VendorCallKey > 'a' AND VendorCallKey > 'b' ORDER BY VendorCallKey LIMIT 1`,
    ],
    ['DESC order', `${base} ORDER BY VendorCallKey DESC LIMIT 1`],
    ['another order field', `${base} ORDER BY CreatedDate LIMIT 1`],
    ['a limit other than 1', `${base} ORDER BY VendorCallKey LIMIT 200`],
    ['no LIMIT', `${base} ORDER BY VendorCallKey`],
    ['trailing text', `${base} ORDER BY VendorCallKey LIMIT 1 OFFSET 5`],
    ['an update statement', 'UPDATE VoiceCall SET CustomerHoldDuration = 1'],
  ])('rejects %s', (_name, soql) => {
    expect(() => parseVoiceCallQuery(soql)).toThrow(SoqlParseError);
  });
});
