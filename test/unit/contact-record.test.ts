import { describe, expect, it } from 'vitest';
import {
  decodeContactRecord,
  MAX_CONTACT_RECORD_BYTES,
  MAX_NESTING_DEPTH,
  parseContactRecord,
  toEpochMilliseconds,
} from '../../domain/contact-record';
import { InvalidContactRecordError } from '../../domain/errors';
import {
  type ContactRecordFixtureName,
  encodeContactRecord,
  type JsonObject,
  loadContactRecordFixture,
} from '../fixtures/factories';

const SINGLE_RECORD_FIXTURES: ContactRecordFixtureName[] = [
  'inbound-answered',
  'outbound-answered',
  'callback',
  'api',
  'webrtc-api',
  'transfer-with-previous-contact',
  'abandoned-in-queue',
  'ivr-only',
  'voicemail',
  'chat',
  'task',
  'no-sync',
  'sfdc-attributes',
  'telecom-problem',
];

function captureError(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected the action to throw');
}

function expectInvalid(action: () => unknown, reason: string): InvalidContactRecordError {
  const error = captureError(action);
  expect(error).toBeInstanceOf(InvalidContactRecordError);
  const invalid = error as InvalidContactRecordError;
  expect(invalid.reason).toBe(reason);
  return invalid;
}

describe('parseContactRecord', () => {
  it.each(SINGLE_RECORD_FIXTURES)('accepts the %s fixture', (name) => {
    const raw = loadContactRecordFixture(name);

    const record = parseContactRecord(raw);

    expect(record.ContactId).toBe(raw.ContactId);
    expect(record.LastUpdateTimestamp).toBe(raw.LastUpdateTimestamp);
  });

  it('accepts every version of the republished sample', () => {
    const versions = loadContactRecordFixture('republished-inbound-transfer');

    const records = versions.map((version) => parseContactRecord(version));

    expect(records.map((record) => record.ContactId)).toEqual(
      Array(6).fill('6fe40d2a-1a89-4d73-bfcf-5d9c33894f47'),
    );
  });

  it('keeps the fields the project uses with their types', () => {
    const raw = loadContactRecordFixture('inbound-answered');

    const record = parseContactRecord(raw);

    expect(record.Agent?.CustomerHoldDuration).toBe(0);
    expect(record.Agent?.AgentInteractionDuration).toBe(33);
    expect(record.Queue?.Name).toBe('BasicQueue');
    expect(record.Recordings?.[0]?.MediaStreamType).toBe('AUDIO');
    expect(record.Attributes).toEqual({ greetingPlayed: 'true' });
  });

  it('keeps fields it does not know, at the top level and nested', () => {
    const sample = loadContactRecordFixture('inbound-answered');
    const raw = {
      ...sample,
      SomeFutureField: { Nested: [1, 2] },
      Agent: { ...(sample.Agent as object), Extra: 'x' },
    };

    const record = parseContactRecord(raw);

    expect(record.SomeFutureField).toEqual({ Nested: [1, 2] });
    expect(record.Agent?.Extra).toBe('x');
    expect(record.InstanceARN).toBe(sample.InstanceARN);
  });

  it('accepts a record with only ContactId and LastUpdateTimestamp', () => {
    const raw = { ContactId: 'c-1', LastUpdateTimestamp: '2024-03-12T14:11:02Z' };

    const record = parseContactRecord(raw);

    expect(record).toEqual(raw);
  });

  it('accepts null wherever Connect sends null', () => {
    const raw = {
      ContactId: 'c-1',
      LastUpdateTimestamp: '2024-03-12T14:11:02Z',
      Channel: null,
      InitiationMethod: null,
      InitiationTimestamp: null,
      DisconnectTimestamp: null,
      DisconnectReason: null,
      PreviousContactId: null,
      Agent: null,
      Queue: null,
      SystemEndpoint: null,
      CustomerEndpoint: null,
      Recording: null,
      Recordings: null,
      Attributes: null,
    };

    const record = parseContactRecord(raw);

    expect(record).toEqual(raw);
  });

  it('accepts null inside Agent, Queue, endpoints and recordings', () => {
    const raw = {
      ContactId: 'c-1',
      LastUpdateTimestamp: '2024-03-12T14:11:02Z',
      Agent: {
        ConnectedToAgentTimestamp: null,
        CustomerHoldDuration: null,
        LongestHoldDuration: null,
        AgentInteractionDuration: null,
        NumberOfHolds: null,
      },
      Queue: { EnqueueTimestamp: null, Name: null },
      SystemEndpoint: { Address: null, Type: null },
      Recording: { Location: null },
      Recordings: [{ Location: null, MediaStreamType: null }],
    };

    const record = parseContactRecord(raw);

    expect(record).toEqual(raw);
  });

  it('accepts a LastUpdateTimestamp with milliseconds', () => {
    const raw = { ContactId: 'c-1', LastUpdateTimestamp: '2022-01-05T17:48:35.000Z' };

    const record = parseContactRecord(raw);

    expect(record.LastUpdateTimestamp).toBe('2022-01-05T17:48:35.000Z');
  });

  it('rejects a record without ContactId, naming the field', () => {
    const { ContactId: _removed, ...raw } = loadContactRecordFixture('inbound-answered');

    const error = expectInvalid(() => parseContactRecord(raw), 'schema');

    expect(error.message).toContain('ContactId: is required (expected string)');
  });

  it.each(['sweep-cursor#first-look', 'redrive-report#last-sweep'])(
    'rejects the ContactId %s, a key the sync ledger keeps its own items under',
    (contactId) => {
      const raw = { ...loadContactRecordFixture('inbound-answered'), ContactId: contactId };

      const error = expectInvalid(() => parseContactRecord(raw), 'schema');

      expect(error.message).toMatch(
        /ContactId: starts with "(sweep-cursor|redrive-report)#", a prefix the sync ledger reserves/,
      );
    },
  );

  it('rejects a ContactId longer than the 256 characters Connect documents', () => {
    const raw = { ...loadContactRecordFixture('inbound-answered'), ContactId: 'x'.repeat(257) };

    const error = expectInvalid(() => parseContactRecord(raw), 'schema');

    expect(error.message).toContain('ContactId: must be at most 256');
  });

  it('accepts a ContactId that is not a UUID, as Connect documents it (1 to 256 characters)', () => {
    const raw = {
      ...loadContactRecordFixture('inbound-answered'),
      ContactId: 'contact#sweep-cursor#',
    };

    expect(parseContactRecord(raw).ContactId).toBe('contact#sweep-cursor#');
  });

  it('rejects an empty ContactId', () => {
    const raw = { ...loadContactRecordFixture('inbound-answered'), ContactId: '' };

    const error = expectInvalid(() => parseContactRecord(raw), 'schema');

    expect(error.message).toContain('ContactId: must not be empty');
  });

  it('rejects a record without LastUpdateTimestamp', () => {
    const { LastUpdateTimestamp: _removed, ...raw } = loadContactRecordFixture('inbound-answered');

    const error = expectInvalid(() => parseContactRecord(raw), 'schema');

    expect(error.message).toContain('LastUpdateTimestamp: is required');
  });

  it.each([
    ['a date without time', '2022-01-05'],
    ['an offset instead of Z', '2022-01-05T17:48:35+01:00'],
    ['an impossible date', '2022-02-30T17:48:35Z'],
    ['free text', 'yesterday'],
  ])('rejects a LastUpdateTimestamp that is %s', (_case, timestamp) => {
    const raw = { ...loadContactRecordFixture('inbound-answered'), LastUpdateTimestamp: timestamp };

    const error = expectInvalid(() => parseContactRecord(raw), 'schema');

    expect(error.message).toContain('LastUpdateTimestamp: expected an ISO-8601 UTC timestamp');
  });

  it('rejects wrong types and lists every failing path', () => {
    const raw = loadContactRecordFixture('inbound-answered');
    raw.ContactId = 42;
    raw.Agent = { NumberOfHolds: '2', CustomerHoldDuration: 1.5, LongestHoldDuration: -1 };
    raw.Recordings = [{ Location: 7 }];
    raw.Attributes = { greetingPlayed: true };

    const error = expectInvalid(() => parseContactRecord(raw), 'schema');

    expect(error.message).toContain('ContactId: expected string, received number');
    expect(error.message).toContain('Agent.NumberOfHolds: expected number, received string');
    expect(error.message).toContain(
      'Agent.CustomerHoldDuration: expected int, received non-integer number',
    );
    expect(error.message).toContain('Agent.LongestHoldDuration: must be at least 0');
    expect(error.message).toContain('Recordings[0].Location: expected string, received number');
    expect(error.message).toContain('Attributes.*: expected string, received boolean');
  });

  it('rejects a nested object of the wrong type', () => {
    const raw = { ...loadContactRecordFixture('inbound-answered'), Queue: 'BasicQueue' };

    const error = expectInvalid(() => parseContactRecord(raw), 'schema');

    expect(error.message).toContain('Queue: expected object, received string');
  });

  it('names the ContactId of an invalid record when it is a UUID', () => {
    const raw = { ...loadContactRecordFixture('inbound-answered'), Agent: 'nobody' };

    const error = expectInvalid(() => parseContactRecord(raw), 'schema');

    expect(error.message).toMatch(
      /^contact record 15a5cf14-3212-45a1-9f86-a8e97db8afaf is invalid/,
    );
  });

  it('rejects a value that is not an object', () => {
    const error = expectInvalid(() => parseContactRecord(['not', 'a', 'record']), 'schema');

    expect(error.message).toContain('(root): expected object, received array');
  });

  it('never puts values from the input in the error message', () => {
    const raw = loadContactRecordFixture('inbound-answered');
    raw.ContactId = '+15550199001';
    raw.CustomerEndpoint = { Address: 15550199002, Type: 'TELEPHONE_NUMBER' };
    raw.SystemEndpoint = '+15550199003';
    raw.Attributes = { '+15550199004': 5, callerNumber: 15550199005 };

    const error = expectInvalid(() => parseContactRecord(raw), 'schema');

    expect(error.message).toContain('CustomerEndpoint.Address: expected string, received number');
    expect(error.message).not.toMatch(/555019900\d/);
  });

  it('drops own __proto__ keys without touching any prototype', () => {
    const raw = JSON.parse(
      '{"ContactId":"c-1","LastUpdateTimestamp":"2024-03-12T14:11:02Z",' +
        '"__proto__":{"polluted":"top"},' +
        '"Agent":{"__proto__":{"polluted":"agent"},"NumberOfHolds":1},' +
        '"Attributes":{"__proto__":"attribute","sfdc-Reason":"Billing"}}',
    );

    const record = parseContactRecord(raw);

    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(record.Agent)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(record.Attributes)).toBe(Object.prototype);
    expect(Object.hasOwn(record, '__proto__')).toBe(false);
    expect(record.Attributes).toEqual({ 'sfdc-Reason': 'Billing' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('decodeContactRecord', () => {
  it('decodes the UTF-8 JSON bytes of a contact record', () => {
    const raw = loadContactRecordFixture('inbound-answered');

    const record = decodeContactRecord(encodeContactRecord(raw));

    expect(record).toEqual(raw);
  });

  it('decodes a record that starts with a UTF-8 byte order mark', () => {
    const raw = loadContactRecordFixture('outbound-answered');
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...encodeContactRecord(raw)]);

    const record = decodeContactRecord(bytes);

    expect(record.ContactId).toBe(raw.ContactId);
  });

  it('keeps non-ASCII attribute values intact', () => {
    const raw = { ...loadContactRecordFixture('inbound-answered'), Attributes: { name: 'Zoë 🎧' } };

    const record = decodeContactRecord(encodeContactRecord(raw));

    expect(record.Attributes).toEqual({ name: 'Zoë 🎧' });
  });

  it('keeps fields it does not know, at the top level and nested', () => {
    const sample = loadContactRecordFixture('inbound-answered');
    const raw = {
      ...sample,
      SomeFutureField: { Nested: [1, 2] },
      Agent: { ...(sample.Agent as object), Extra: 'x' },
    };

    const record = decodeContactRecord(encodeContactRecord(raw));

    expect(record).toEqual(raw);
    expect(record.Agent?.Extra).toBe('x');
  });

  it('decodes a non-ASCII record that starts with a UTF-8 byte order mark', () => {
    const raw = { ...loadContactRecordFixture('inbound-answered'), Attributes: { name: 'Zoë 🎧' } };
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...encodeContactRecord(raw)]);

    const record = decodeContactRecord(bytes);

    expect(record).toEqual(raw);
  });

  it('decodes bytes that are a view into a larger buffer', () => {
    const raw = loadContactRecordFixture('callback');
    const encoded = encodeContactRecord(raw);
    const larger = new Uint8Array(encoded.byteLength + 8).fill(0xff);
    larger.set(encoded, 5);

    const record = decodeContactRecord(larger.subarray(5, 5 + encoded.byteLength));

    expect(record).toEqual(raw);
  });

  it.each([
    ['an overlong encoding', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['a sequence cut off', [0xe2, 0x82]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['a lone continuation byte', [0x80]],
  ])('rejects %s inside a string value as invalid-utf8', (_case, sequence) => {
    const [head, tail] = JSON.stringify(loadContactRecordFixture('inbound-answered')).split(
      'BasicQueue',
    );
    const bytes = new Uint8Array([
      ...new TextEncoder().encode(`${head}Basic`),
      ...sequence,
      ...new TextEncoder().encode(`Queue${tail}`),
    ]);

    expectInvalid(() => decodeContactRecord(bytes), 'invalid-utf8');
  });

  it('rejects bytes that are not valid UTF-8', () => {
    const valid = encodeContactRecord(loadContactRecordFixture('inbound-answered'));
    const bytes = new Uint8Array([...valid.subarray(0, 20), 0xc3, 0x28, ...valid.subarray(20)]);

    const error = expectInvalid(() => decodeContactRecord(bytes), 'invalid-utf8');

    expect(error.message).toBe('contact record is not valid UTF-8');
  });

  it('rejects text that is not JSON without quoting it', () => {
    const bytes = new TextEncoder().encode('{"CustomerEndpoint": +15550199006');

    const error = expectInvalid(() => decodeContactRecord(bytes), 'invalid-json');

    expect(error.message).toBe('contact record is not valid JSON');
    expect(error.cause).toBeUndefined();
  });

  it('rejects empty data as invalid JSON', () => {
    const error = expectInvalid(() => decodeContactRecord(new Uint8Array()), 'invalid-json');

    expect(error.message).toBe('contact record is not valid JSON');
  });

  it.each([
    ['an array', '[]', 'array'],
    ['null', 'null', 'null'],
    ['a string', '"+15550199007"', 'string'],
    ['a number', '15550199008', 'number'],
    ['a boolean', 'true', 'boolean'],
  ])('rejects JSON that is %s', (_case, json, type) => {
    const bytes = new TextEncoder().encode(json);

    const error = expectInvalid(() => decodeContactRecord(bytes), 'not-an-object');

    expect(error.message).toBe(`contact record must be a JSON object, received ${type}`);
  });

  it('validates the decoded object against the schema', () => {
    const raw = { ...loadContactRecordFixture('inbound-answered'), ContactId: null };

    const error = expectInvalid(() => decodeContactRecord(encodeContactRecord(raw)), 'schema');

    expect(error.message).toContain('ContactId: expected string, received null');
  });

  it.each<[string, (raw: JsonObject) => void]>([
    ['no ContactId', (raw) => delete raw.ContactId],
    ['an empty ContactId', (raw) => (raw.ContactId = '')],
    [
      'a LastUpdateTimestamp with an offset',
      (raw) => (raw.LastUpdateTimestamp = '2022-01-05T17:48:35+01:00'),
    ],
    ['a Queue that is a string', (raw) => (raw.Queue = 'BasicQueue')],
    [
      'wrong types at several depths',
      (raw) => {
        raw.ContactId = 42;
        raw.Agent = { NumberOfHolds: '2', CustomerHoldDuration: 1.5, LongestHoldDuration: -1 };
        raw.Recordings = [{ Location: 7 }];
        raw.Recording = { Status: false };
        raw.CustomerEndpoint = { Address: 15550199002 };
        raw.Attributes = { greetingPlayed: true, '+15550199004': 5 };
        raw.InitiationTimestamp = 'yesterday';
      },
    ],
  ])('reports a record with %s exactly as parseContactRecord does', (_case, change) => {
    const raw = loadContactRecordFixture('inbound-answered');
    change(raw);
    const parseError = expectInvalid(() => parseContactRecord(raw), 'schema');

    const error = expectInvalid(() => decodeContactRecord(encodeContactRecord(raw)), 'schema');

    expect(error.message).toBe(parseError.message);
  });

  it.each([
    [
      'at the top',
      '{"__proto__":{"polluted":"top"},"ContactId":"c-1","LastUpdateTimestamp":"2024-03-12T14:11:02Z"}',
    ],
    [
      'in a nested object',
      '{"ContactId":"c-1","LastUpdateTimestamp":"2024-03-12T14:11:02Z","Queue":{"Name":"Q","__proto__":{"polluted":"queue"}}}',
    ],
    [
      'inside an array',
      '{"ContactId":"c-1","LastUpdateTimestamp":"2024-03-12T14:11:02Z","Recordings":[{"__proto__":{"polluted":"recording"}}]}',
    ],
    [
      'as an attribute key',
      '{"ContactId":"c-1","LastUpdateTimestamp":"2024-03-12T14:11:02Z","Attributes":{"__proto__":"x"}}',
    ],
    [
      'spelled with unicode escapes',
      '{"ContactId":"c-1","LastUpdateTimestamp":"2024-03-12T14:11:02Z","\\u005f_proto__":{"polluted":"escaped"}}',
    ],
  ])('rejects a record with a __proto__ key %s as forbidden-key', (_where, json) => {
    const error = expectInvalid(
      () => decodeContactRecord(new TextEncoder().encode(json)),
      'forbidden-key',
    );

    expect(error.message).toBe('contact record has a __proto__ key');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('accepts "__proto__" as a string value, which is not a key', () => {
    const raw = loadContactRecordFixture('inbound-answered');
    raw.Attributes = { greeting: '__proto__' };

    const record = decodeContactRecord(encodeContactRecord(raw));

    expect(record.Attributes).toEqual({ greeting: '__proto__' });
  });

  it(`rejects nesting deeper than ${MAX_NESTING_DEPTH} levels as too-deep, at any depth without a stack overflow`, () => {
    for (const depth of [MAX_NESTING_DEPTH, 100_000]) {
      const raw = loadContactRecordFixture('inbound-answered');
      const json = JSON.stringify(raw).replace(
        /}$/,
        `,"Extra":${'['.repeat(depth)}${']'.repeat(depth)}}`,
      );

      expectInvalid(() => decodeContactRecord(new TextEncoder().encode(json)), 'too-deep');
    }
  });

  it('accepts nesting up to the limit, and many brackets that do not nest deeply', () => {
    const raw = loadContactRecordFixture('inbound-answered');
    const nested = `${'['.repeat(MAX_NESTING_DEPTH - 1)}${']'.repeat(MAX_NESTING_DEPTH - 1)}`;
    const wide = `[${Array.from({ length: 200 }, () => '{}').join(',')}]`;
    const json = JSON.stringify(raw).replace(/}$/, `,"Nested":${nested},"Wide":${wide}}`);

    const record = decodeContactRecord(new TextEncoder().encode(json));

    expect(record.ContactId).toBe(raw.ContactId);
    expect((record as Record<string, unknown>).Wide).toHaveLength(200);
  });

  it(`rejects a record over ${MAX_CONTACT_RECORD_BYTES} bytes as too-large without decoding it`, () => {
    const raw = loadContactRecordFixture('inbound-answered');
    raw.Attributes = { big: 'x'.repeat(MAX_CONTACT_RECORD_BYTES) };
    const bytes = encodeContactRecord(raw);

    const error = expectInvalid(() => decodeContactRecord(bytes), 'too-large');

    expect(error.message).toBe(
      `contact record is ${bytes.byteLength} bytes, more than the ${MAX_CONTACT_RECORD_BYTES} accepted`,
    );
  });
});

describe('toEpochMilliseconds', () => {
  it('reads an ISO-8601 UTC timestamp as milliseconds since the epoch', () => {
    const milliseconds = toEpochMilliseconds('2022-01-05T17:48:35Z');

    expect(milliseconds).toBe(Date.UTC(2022, 0, 5, 17, 48, 35));
  });

  it('returns undefined for a timestamp with an offset', () => {
    const milliseconds = toEpochMilliseconds('2022-01-05T17:48:35+00:00');

    expect(milliseconds).toBeUndefined();
  });
});
