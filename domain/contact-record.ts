/**
 * The Amazon Connect contact record (CTR) as this project reads it, and its
 * decoding from the bytes of a Kinesis record.
 *
 * Source: Amazon Connect admin guide, "Data model for Amazon Connect contact
 * records" (field names, types, nullability), and the SCV CTRDataSyncFunction
 * field mapping (which fields a VoiceCall needs).
 */
import { isAscii, isUtf8 } from 'node:buffer';
import * as z from 'zod';
import { InvalidContactRecordError } from './errors';
import { contactIdSchema } from './ledger-keys';

/**
 * An ISO-8601 date-time in UTC as Connect writes it: `YYYY-MM-DDThh:mm:ssZ`,
 * optionally with a fraction of a second. Offsets other than `Z`, missing
 * seconds and impossible dates (2022-02-30) are rejected.
 */
const utcTimestamp = z.iso.datetime();

/** A whole number of seconds (durations) or a count (holds). */
const wholeNumber = z.number().int().nonnegative();

/** A string Connect may also send as `null` or leave out. */
const optionalString = z.string().nullish();

/** Fields of the Agent who handled the contact. */
const agentShape = {
  /** ISO-8601 UTC: when the agent was connected to the customer. */
  ConnectedToAgentTimestamp: utcTimestamp.nullish(),
  /** Seconds the customer spent on hold, all holds together. */
  CustomerHoldDuration: wholeNumber.nullish(),
  /** Seconds of the longest single hold. */
  LongestHoldDuration: wholeNumber.nullish(),
  /** Seconds the agent spent interacting with the customer. */
  AgentInteractionDuration: wholeNumber.nullish(),
  /** How many times the customer was put on hold. */
  NumberOfHolds: wholeNumber.nullish(),
};

/** Fields of the Queue the contact waited in. */
const queueShape = {
  /** ISO-8601 UTC: when the contact entered the queue. */
  EnqueueTimestamp: utcTimestamp.nullish(),
  Name: optionalString,
};

/** Fields of a telephone endpoint (system or customer side). */
const endpointShape = {
  /** E.164 telephone number: personal data on the customer side. */
  Address: optionalString,
  Type: optionalString,
};

/** Fields of the legacy single recording entry. */
const recordingShape = {
  /** S3 location (bucket/key) of the recording. */
  Location: optionalString,
  Status: optionalString,
  Type: optionalString,
  DeletionReason: optionalString,
};

/** Fields of one entry of the `Recordings` list (voice, video, chat transcript). */
const recordingsEntryShape = {
  Location: optionalString,
  /** AUDIO, VIDEO or CHAT. */
  MediaStreamType: optionalString,
  Status: optionalString,
  StorageType: optionalString,
  DeletionReason: optionalString,
};

/** The record's own fields before its nested objects. */
const headShape = {
  /** Not a key the sync ledger reserves (domain/ledger-keys.ts). */
  ContactId: contactIdSchema,
  /** ISO-8601 UTC; orders republished versions of the same contact. */
  LastUpdateTimestamp: utcTimestamp,
  /** VOICE, CHAT, TASK, EMAIL; absent on the oldest records. */
  Channel: optionalString,
  /** INBOUND, OUTBOUND, TRANSFER, CALLBACK, API, WEBRTC_API, QUEUE_TRANSFER, ... */
  InitiationMethod: optionalString,
  /** ISO-8601 UTC: when the contact started. */
  InitiationTimestamp: utcTimestamp.nullish(),
  /** ISO-8601 UTC: when the customer endpoint disconnected. */
  DisconnectTimestamp: utcTimestamp.nullish(),
  /** CUSTOMER_DISCONNECT, AGENT_DISCONNECT, TELECOM_PROBLEM, ... */
  DisconnectReason: optionalString,
  PreviousContactId: optionalString,
};

/** User-defined contact attributes; values are personal data. */
const attributesSchema = z.record(z.string(), z.string()).nullish();

/**
 * Zod 4 schema of the contact record fields this project uses.
 *
 * Shape: every object is loose, so fields Connect adds later (and every field
 * not listed here) pass through unchanged; AWS asks consumers to tolerate new
 * fields. `ContactId` (non-empty) and `LastUpdateTimestamp` (ISO-8601 UTC) are
 * required; every other field may be absent or `null`, as Connect sends `null`
 * for what does not apply (no agent, no queue, no recording). Durations are
 * whole seconds, counts are whole numbers, timestamps are ISO-8601 UTC
 * strings, `Attributes` maps strings to strings.
 *
 * Source: Amazon Connect admin guide, "Data model for Amazon Connect contact
 * records".
 */
export const ContactRecordSchema = z.looseObject({
  ...headShape,
  /** `null` when no agent accepted the contact. */
  Agent: z.looseObject(agentShape).nullish(),
  /** `null` when the contact never reached a queue. */
  Queue: z.looseObject(queueShape).nullish(),
  SystemEndpoint: z.looseObject(endpointShape).nullish(),
  CustomerEndpoint: z.looseObject(endpointShape).nullish(),
  Recording: z.looseObject(recordingShape).nullish(),
  Recordings: z.array(z.looseObject(recordingsEntryShape)).nullish(),
  Attributes: attributesSchema,
});

/**
 * The checks of {@link ContactRecordSchema}, field for field and in the same
 * order (so the same issues), with objects that strip unknown fields: its
 * output is a copy of the listed fields only, never of the whole record.
 * {@link decodeContactRecordWithText} runs it and returns its input, which
 * the checks prove has the shape of {@link ContactRecord} (no field is
 * transformed, defaulted or coerced). Copying every field, as a loose object
 * does, costs more than `JSON.parse` of the same record (bench/ingest.ts,
 * figure 1).
 */
const ContactRecordCheck = z.object({
  ...headShape,
  Agent: z.object(agentShape).nullish(),
  Queue: z.object(queueShape).nullish(),
  SystemEndpoint: z.object(endpointShape).nullish(),
  CustomerEndpoint: z.object(endpointShape).nullish(),
  Recording: z.object(recordingShape).nullish(),
  Recordings: z.array(z.object(recordingsEntryShape)).nullish(),
  Attributes: attributesSchema,
});

/**
 * A validated contact record: the fields of {@link ContactRecordSchema}, plus
 * every other field of the input, kept as `unknown`.
 */
export type ContactRecord = z.infer<typeof ContactRecordSchema>;

/**
 * Milliseconds since the Unix epoch of an ISO-8601 UTC timestamp as
 * {@link ContactRecordSchema} accepts it, or `undefined` when the string is
 * not such a timestamp.
 *
 * Precision is the millisecond: digits beyond the third fraction digit are
 * ignored.
 */
export function toEpochMilliseconds(timestamp: string): number | undefined {
  if (!utcTimestamp.safeParse(timestamp).success) {
    return undefined;
  }
  const milliseconds = Date.parse(timestamp);
  return Number.isNaN(milliseconds) ? undefined : milliseconds;
}

/** Default of the future-timestamp tolerance, in minutes (serverless param `futureTimestampToleranceMinutes`). */
export const DEFAULT_FUTURE_TIMESTAMP_TOLERANCE_MINUTES = 15;

/**
 * Refuse a version from the future. Amazon Connect sets LastUpdateTimestamp
 * when it writes the record, so a record processed (`nowMs`, milliseconds
 * since the Unix epoch) more than `toleranceMs` before its LastUpdateTimestamp
 * was not written by Connect: a forged or corrupted version. Accepted, it
 * would be claimed as newest and supersede every genuine version until that
 * date.
 *
 * @param lastUpdateTimestamp - ISO-8601 UTC, as {@link ContactRecordSchema} checked it.
 * @returns an {@link InvalidContactRecordError} with reason `future-timestamp`
 *   naming the ContactId (never a value of the record), or `undefined` when
 *   the timestamp is acceptable (or not a timestamp: the schema reports that).
 */
export function futureTimestampError(
  contactId: string,
  lastUpdateTimestamp: string,
  nowMs: number,
  toleranceMs: number,
): InvalidContactRecordError | undefined {
  const timestampMs = Date.parse(lastUpdateTimestamp);
  if (!(timestampMs > nowMs + toleranceMs)) return undefined;
  return new InvalidContactRecordError(
    'future-timestamp',
    `ContactId ${contactId}: LastUpdateTimestamp is ${Math.ceil((timestampMs - nowMs) / 60_000)} minutes ` +
      `after it was processed (tolerance ${toleranceMs / 60_000} minutes)`,
  );
}

/**
 * Validates a decoded contact record.
 *
 * @param value - any JSON value, typically the output of `JSON.parse`.
 * @returns the record with the shape of {@link ContactRecord}; unknown fields
 *   are kept, own `__proto__` keys are dropped (Zod never copies them).
 * @throws {InvalidContactRecordError} reason `schema` when a required field is
 *   missing or a field has the wrong type or format. The message lists each
 *   failing field path with the problem (expected type, received type); it
 *   never contains a field value, and it names attribute keys only as `*`,
 *   because both can be personal data. It names the ContactId when the input
 *   has a UUID-shaped one.
 *
 * Source: Amazon Connect admin guide, "Data model for Amazon Connect contact
 * records".
 */
export function parseContactRecord(value: unknown): ContactRecord {
  const result = ContactRecordSchema.safeParse(value);
  if (result.success) {
    return result.data;
  }
  throw schemaError(result.error.issues, value);
}

/** The `schema` error for `issues` of `value`, in the words of {@link parseContactRecord}. */
function schemaError(
  issues: readonly z.core.$ZodIssue[],
  value: unknown,
): InvalidContactRecordError {
  const problems = issues.map(
    (issue) => `${formatPath(issue.path)}: ${describeIssue(issue, value)}`,
  );
  return new InvalidContactRecordError(
    'schema',
    `${describeSubject(value)} is invalid: ${problems.join('; ')}`,
  );
}

/**
 * Largest contact record accepted, in bytes (1 MiB): the default maximum
 * record size of a Kinesis data stream (Amazon Kinesis Data Streams Developer
 * Guide, "Handle large records"). Amazon Connect keeps contact records far
 * below it (user-defined attributes are limited to 32 KB in total, Amazon
 * Connect service quotas); a stream raised to 10 MiB records can still carry
 * bigger ones, and those are rejected before they are decoded.
 */
export const MAX_CONTACT_RECORD_BYTES = 1024 * 1024;

/**
 * Deepest nesting of objects and arrays accepted. A contact record nests about
 * four levels (`Recordings[0].FragmentStartNumber`, `Agent.HierarchyGroups.Level1.ArnInfo`);
 * deeper input is not a contact record, and recursive consumers downstream
 * (`JSON.stringify`, revivers) fail on very deep values.
 */
export const MAX_NESTING_DEPTH = 32;

/**
 * Decodes the data of one Kinesis record (the bytes Connect wrote, after
 * base64 decoding) into a validated contact record.
 *
 * Steps: a size check, strict UTF-8 decoding (a leading byte order mark is
 * skipped), JSON parsing, a check that the JSON is an object, a structure
 * check (nesting depth, no `__proto__` key), then the checks of
 * {@link ContactRecordSchema}. The structure check walks the value only when
 * a cheap scan of the text says it could fail (more opening brackets than
 * {@link MAX_NESTING_DEPTH}, or the text contains `__proto__` or a `\u`
 * escape), so a typical record is parsed once and never walked; the schema
 * checks do not copy the record (see {@link ContactRecordCheck}).
 *
 * @param data - the raw bytes of the record.
 * @throws {InvalidContactRecordError} with reason
 *   - `too-large` when the record is over {@link MAX_CONTACT_RECORD_BYTES};
 *   - `invalid-utf8` when the bytes are not valid UTF-8;
 *   - `invalid-json` when the text is not JSON;
 *   - `not-an-object` when the JSON is an array, a string, a number, a boolean
 *     or `null`;
 *   - `too-deep` when objects and arrays nest deeper than {@link MAX_NESTING_DEPTH};
 *   - `forbidden-key` when any object has a `__proto__` key (a prototype
 *     pollution attempt for any consumer that copies the record naively);
 *   - `schema` as {@link parseContactRecord} throws it (the same message).
 *   No error carries the underlying parser error as `cause`: the JSON
 *   parser's message quotes the input, which can hold phone numbers.
 *
 * @returns the record and its JSON text (UTF-8 decoded, byte order mark
 *   removed), so callers can forward the text instead of re-serializing. The
 *   record is the value `JSON.parse` returned, every field kept, not a copy.
 *
 * Source: Amazon Connect admin guide, "Data model for Amazon Connect contact
 * records" (Connect streams contact records as JSON).
 */
export function decodeContactRecordWithText(data: Uint8Array): {
  contactRecord: ContactRecord;
  json: string;
} {
  if (data.byteLength > MAX_CONTACT_RECORD_BYTES) {
    throw new InvalidContactRecordError(
      'too-large',
      `contact record is ${data.byteLength} bytes, more than the ${MAX_CONTACT_RECORD_BYTES} accepted`,
    );
  }
  const text = decodeUtf8(data);
  if (text === undefined) {
    throw new InvalidContactRecordError('invalid-utf8', 'contact record is not valid UTF-8');
  }

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidContactRecordError('invalid-json', 'contact record is not valid JSON');
  }

  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidContactRecordError(
      'not-an-object',
      `contact record must be a JSON object, received ${describeType(json)}`,
    );
  }
  const problem = mayHaveStructureProblem(text) ? findStructureProblem(json) : undefined;
  if (problem) {
    throw new InvalidContactRecordError(
      problem,
      problem === 'too-deep'
        ? `${describeSubject(json)} nests deeper than ${MAX_NESTING_DEPTH} levels`
        : `${describeSubject(json)} has a __proto__ key`,
    );
  }
  const checked = ContactRecordCheck.safeParse(json);
  if (!checked.success) {
    throw schemaError(checked.error.issues, json);
  }
  return { contactRecord: json as ContactRecord, json: text };
}

/**
 * `data` as text when it is valid UTF-8 (what a fatal `TextDecoder` accepts:
 * no overlong forms, no surrogates, nothing cut off), without a leading byte
 * order mark; `undefined` when it is not. ASCII (most contact records) is
 * copied as Latin-1: the same text, and cheaper to build.
 */
function decodeUtf8(data: Uint8Array): string | undefined {
  const bytes = Buffer.isBuffer(data)
    ? data
    : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (isAscii(bytes)) return bytes.toString('latin1');
  if (!isUtf8(bytes)) return undefined;
  const hasByteOrderMark = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  return bytes.toString('utf8', hasByteOrderMark ? 3 : 0);
}

/**
 * {@link decodeContactRecordWithText} without the text: the validated record only.
 * @throws {InvalidContactRecordError} as {@link decodeContactRecordWithText}.
 */
export function decodeContactRecord(data: Uint8Array): ContactRecord {
  return decodeContactRecordWithText(data).contactRecord;
}

/**
 * JSON text in the form `JSON.stringify` writes it after `JSON.parse` (no
 * whitespace, numbers spelled one way, key order kept): the form
 * {@link ../domain/versions!contentDigest} digests, so that a record digests
 * alike however it was written.
 * @throws SyntaxError when `text` is not JSON.
 */
export function canonicalJson(text: string): string {
  return JSON.stringify(JSON.parse(text));
}

/**
 * A contact record from JSON text held or archived by the pipeline (a record
 * sent by reference, held in the sync ledger, read from the archive), checked
 * as ingest checks a Kinesis record.
 *
 * @returns the record, and its JSON text in `JSON.stringify` form (what
 *   {@link ../domain/versions!contentDigest} digests).
 * @throws {InvalidContactRecordError} as {@link decodeContactRecordWithText}.
 */
export function parseContactRecordText(text: string): {
  contactRecord: ContactRecord;
  json: string;
} {
  const { contactRecord } = decodeContactRecordWithText(Buffer.from(text, 'utf8'));
  return { contactRecord, json: canonicalJson(text) };
}

/** Count of `char` in `text`, stopping once it exceeds `limit`. */
function countUpTo(text: string, char: string, limit: number): number {
  let count = 0;
  for (let index = text.indexOf(char); index !== -1; index = text.indexOf(char, index + 1)) {
    if (++count > limit) break;
  }
  return count;
}

/**
 * Whether {@link findStructureProblem} could find anything: JSON can only nest
 * deeper than the limit with more opening brackets than the limit, and can
 * only have a `__proto__` key if the text spells it or escapes a character.
 */
function mayHaveStructureProblem(text: string): boolean {
  if (text.includes('__proto__') || text.includes('\\u')) return true;
  const objects = countUpTo(text, '{', MAX_NESTING_DEPTH);
  return objects + countUpTo(text, '[', MAX_NESTING_DEPTH - objects) > MAX_NESTING_DEPTH;
}

/** Iterative walk (no recursion, so any depth is safe) for the first structure problem. */
function findStructureProblem(root: object): 'too-deep' | 'forbidden-key' | undefined {
  const stack: [value: unknown, depth: number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number];
    if (typeof value !== 'object' || value === null) continue;
    if (depth > MAX_NESTING_DEPTH) return 'too-deep';
    if (Array.isArray(value)) {
      for (const item of value) stack.push([item, depth + 1]);
      continue;
    }
    if (Object.hasOwn(value, '__proto__')) return 'forbidden-key';
    for (const item of Object.values(value)) stack.push([item, depth + 1]);
  }
  return undefined;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function describeSubject(value: unknown): string {
  const contactId = readPath(value, ['ContactId']);
  return typeof contactId === 'string' && UUID_PATTERN.test(contactId)
    ? `contact record ${contactId}`
    : 'contact record';
}

/**
 * Path as `Agent.NumberOfHolds` or `Recordings[0].Location` for error
 * messages; a key under `Attributes` (at any depth, e.g. inside an event's
 * `detail.contactRecord`) is written as `*`, because a key can itself be
 * personal data.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) {
    return '(root)';
  }
  let formatted = '';
  path.forEach((segment, index) => {
    if (typeof segment === 'number') {
      formatted += `[${segment}]`;
    } else if (index > 0 && path[index - 1] === 'Attributes') {
      formatted += '.*';
    } else {
      formatted += index === 0 ? String(segment) : `.${String(segment)}`;
    }
  });
  return formatted;
}

/** A problem description built from the issue's metadata, never from the input's values. */
function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  switch (issue.code) {
    case 'invalid_type': {
      const received = readPath(input, issue.path);
      return received === undefined
        ? `is required (expected ${issue.expected})`
        : `expected ${issue.expected}, received ${describeType(received)}`;
    }
    case 'too_small':
      return issue.origin === 'string' ? 'must not be empty' : `must be at least ${issue.minimum}`;
    case 'too_big':
      return `must be at most ${issue.maximum}`;
    case 'invalid_format':
      return issue.format === 'datetime'
        ? 'expected an ISO-8601 UTC timestamp (YYYY-MM-DDThh:mm:ss[.sss]Z)'
        : `invalid ${issue.format} format`;
    case 'custom':
      // Only this project's checks raise these, with messages that name no value (domain/ledger-keys.ts).
      return issue.message;
    default:
      return `invalid (${issue.code})`;
  }
}

/** The value at `path`, following own properties only. */
function readPath(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null || typeof segment === 'symbol') {
      return undefined;
    }
    if (!Object.hasOwn(current, segment)) {
      return undefined;
    }
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

function describeType(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'array';
  }
  if (typeof value === 'number' && !Number.isInteger(value)) {
    return 'non-integer number';
  }
  return typeof value;
}
