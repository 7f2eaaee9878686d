/**
 * Local stand-in for the two Salesforce Service Cloud Voice (SCV) Lambda
 * functions that ctr-sync invokes, served over the AWS Lambda Invoke REST API
 * on 127.0.0.1 and backed by a VoiceCall store in one JSON file.
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
 * The stand-in logs nothing. Error messages name keys and ContactIds at most,
 * never field values or phone numbers.
 */

import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

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

/** A VoiceCall as kept in the store, keyed there by its VendorCallKey. */
export interface StoredVoiceCall {
  /** Salesforce-like 18-character record id starting `0LQ` (the VoiceCall key prefix). */
  Id: string;
  /** The Amazon Connect ContactId. */
  VendorCallKey: string;
  /** Creation time, ISO-8601 UTC with milliseconds (`Date.prototype.toISOString`). */
  CreatedDate: string;
  /** Seconds on hold: `null` until an `updateVoiceCall` carries a numeric `totalHoldDuration`. */
  CustomerHoldDuration: number | null;
  /** The `fieldValues` of every `updateVoiceCall` so far, later ones merged over earlier ones. */
  fieldValues: Record<string, unknown>;
  /** Number of `updateVoiceCall` invocations applied to this VoiceCall. */
  updateCount: number;
  /** Time of the last `updateVoiceCall` applied, ISO-8601 UTC with milliseconds; absent before the first. */
  LastModifiedDate?: string;
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
 * The subset of SOQL the stand-in's `queryRecord` understands, as parsed by
 * {@link parseVoiceCallQuery}. All bounds are optional.
 */
export interface VoiceCallQuery {
  /** `CreatedDate >= <literal>`, normalised to ISO-8601 UTC with milliseconds. */
  createdDateFrom?: string;
  /** `CreatedDate < <literal>`, normalised to ISO-8601 UTC with milliseconds. */
  createdDateBefore?: string;
  /** `VendorCallKey > '<literal>'`, unescaped. */
  vendorCallKeyAfter?: string;
  /** True when `CreatedDate` is selected too (the row then carries it). */
  selectsCreatedDate?: boolean;
}

/** A SOQL statement outside the subset {@link parseVoiceCallQuery} accepts. */
export class SoqlParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SoqlParseError';
  }
}

// ---------------------------------------------------------------------------
// SOQL subset parser
// ---------------------------------------------------------------------------

type Token =
  | { kind: 'word'; text: string; at: number }
  | { kind: 'string'; text: string; at: number }
  | { kind: 'datetime'; text: string; at: number }
  | { kind: 'number'; text: string; at: number }
  | { kind: 'symbol'; text: string; at: number };

// SOQL quoted-string escape sequences (SOQL and SOSL Reference, "Quoted String
// Escape Sequences"); \_ and \% are only meaningful in LIKE, so not accepted here.
const STRING_ESCAPES: Record<string, string> = {
  n: '\n',
  N: '\n',
  r: '\r',
  R: '\r',
  t: '\t',
  T: '\t',
  b: '\b',
  B: '\b',
  f: '\f',
  F: '\f',
  '"': '"',
  "'": "'",
  '\\': '\\',
};

// SOQL dateTime literal: YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm), unquoted.
const DATETIME_LITERAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})/;

function tokenize(soql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < soql.length) {
    const ch = soql.charAt(i);
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === "'") {
      const start = i;
      let text = '';
      i++;
      for (;;) {
        if (i >= soql.length) {
          throw new SoqlParseError(`unterminated string literal at offset ${start}`);
        }
        const c = soql.charAt(i);
        if (c === "'") {
          i++;
          break;
        }
        if (c === '\\') {
          const next = soql.charAt(i + 1);
          const replacement = STRING_ESCAPES[next];
          if (replacement === undefined) {
            throw new SoqlParseError(`invalid escape sequence in string literal at offset ${i}`);
          }
          text += replacement;
          i += 2;
          continue;
        }
        text += c;
        i++;
      }
      tokens.push({ kind: 'string', text, at: start });
      continue;
    }
    const datetime = DATETIME_LITERAL.exec(soql.slice(i));
    if (datetime) {
      tokens.push({ kind: 'datetime', text: datetime[0], at: i });
      i += datetime[0].length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(soql.slice(i));
    if (word) {
      tokens.push({ kind: 'word', text: word[0], at: i });
      i += word[0].length;
      continue;
    }
    const num = /^\d+/.exec(soql.slice(i));
    if (num) {
      tokens.push({ kind: 'number', text: num[0], at: i });
      i += num[0].length;
      continue;
    }
    const symbol = /^(?:>=|<=|!=|<>|[,=<>()])/.exec(soql.slice(i));
    if (symbol) {
      tokens.push({ kind: 'symbol', text: symbol[0], at: i });
      i += symbol[0].length;
      continue;
    }
    throw new SoqlParseError(`unexpected character at offset ${i}`);
  }
  return tokens;
}

function parseDatetimeLiteral(text: string, at: number): string {
  // Reject impossible calendar dates (2022-02-30) that Date would roll over.
  const [datePart] = text.split('T');
  const [y, m, d] = (datePart ?? '').split('-').map(Number);
  const ms = Date.parse(text);
  if (Number.isNaN(ms) || y === undefined || m === undefined || d === undefined) {
    throw new SoqlParseError(`invalid dateTime literal at offset ${at}`);
  }
  const calendar = new Date(Date.UTC(y, m - 1, d));
  if (
    calendar.getUTCFullYear() !== y ||
    calendar.getUTCMonth() !== m - 1 ||
    calendar.getUTCDate() !== d
  ) {
    throw new SoqlParseError(`invalid dateTime literal at offset ${at}`);
  }
  return new Date(ms).toISOString();
}

class TokenCursor {
  private index = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly length: number,
  ) {}

  peek(): Token | undefined {
    return this.tokens[this.index];
  }

  next(expected: string): Token {
    const token = this.tokens[this.index];
    if (!token) {
      throw new SoqlParseError(
        `expected ${expected} at offset ${this.length}, found end of statement`,
      );
    }
    this.index++;
    return token;
  }

  keyword(word: string): void {
    const token = this.next(word);
    if (token.kind !== 'word' || token.text.toUpperCase() !== word.toUpperCase()) {
      throw new SoqlParseError(`expected ${word} at offset ${token.at}`);
    }
  }

  isSymbol(text: string): boolean {
    const token = this.peek();
    return token?.kind === 'symbol' && token.text === text;
  }

  isKeyword(word: string): boolean {
    const token = this.peek();
    return token?.kind === 'word' && token.text.toUpperCase() === word.toUpperCase();
  }

  symbol(text: string): void {
    const token = this.next(`'${text}'`);
    if (token.kind !== 'symbol' || token.text !== text) {
      throw new SoqlParseError(`expected '${text}' at offset ${token.at}`);
    }
  }

  atEnd(): boolean {
    return this.index >= this.tokens.length;
  }
}

/**
 * Parses the only SOQL statement shape the stand-in's `queryRecord` runs:
 *
 * ```
 * SELECT Id, VendorCallKey[, CreatedDate] FROM VoiceCall
 * WHERE CustomerHoldDuration = null
 *   [AND CreatedDate >= <dateTime>] [AND CreatedDate < <dateTime>]
 *   [AND VendorCallKey != null]
 *   [AND VendorCallKey > '<string>']
 * ORDER BY VendorCallKey [ASC] LIMIT 1
 * ```
 *
 * Keywords, field and object names are case-insensitive (as in SOQL); the
 * optional conditions may come in any order after `CustomerHoldDuration = null`,
 * each at most once. dateTime literals are unquoted
 * (`2022-01-05T00:00:00Z`, `2022-01-05T00:00:00.000Z`, `2022-01-05T01:00:00+01:00`);
 * string literals are single-quoted with SOQL backslash escapes
 * (`\' \" \\ \n \r \t \b \f`). Only `LIMIT 1` is accepted because `queryRecord`
 * returns the first row only (source: `invokeSfRestApi/sfRestApi.js` in
 * service-cloud-voice/ServiceCloudVoiceLambdas).
 *
 * @param soql - The statement, as sent in `Details.Parameters.soql`.
 * @returns The bounds of the query, dateTimes normalised to UTC.
 * @throws SoqlParseError naming the offset of the first thing outside the subset.
 */
export function parseVoiceCallQuery(soql: string): VoiceCallQuery {
  const cursor = new TokenCursor(tokenize(soql), soql.length);
  cursor.keyword('SELECT');
  cursor.keyword('Id');
  cursor.symbol(',');
  cursor.keyword('VendorCallKey');
  // `CreatedDate` may be selected too (the sweep reads it to bound its archive lookup).
  const query: VoiceCallQuery = {};
  if (cursor.isSymbol(',')) {
    cursor.symbol(',');
    cursor.keyword('CreatedDate');
    query.selectsCreatedDate = true;
  }
  cursor.keyword('FROM');
  cursor.keyword('VoiceCall');
  cursor.keyword('WHERE');
  cursor.keyword('CustomerHoldDuration');
  cursor.symbol('=');
  cursor.keyword('null');

  while (cursor.isKeyword('AND')) {
    cursor.keyword('AND');
    const field = cursor.next('a condition');
    if (field.kind !== 'word') {
      throw new SoqlParseError(`expected a field name at offset ${field.at}`);
    }
    const op = cursor.next('an operator');
    const value = cursor.next('a value');
    const fieldName = field.text.toUpperCase();
    if (
      fieldName === 'CREATEDDATE' &&
      op.kind === 'symbol' &&
      (op.text === '>=' || op.text === '<')
    ) {
      if (value.kind !== 'datetime') {
        throw new SoqlParseError(`expected an unquoted dateTime literal at offset ${value.at}`);
      }
      const key = op.text === '>=' ? 'createdDateFrom' : 'createdDateBefore';
      if (query[key] !== undefined) {
        throw new SoqlParseError(
          `duplicate CreatedDate ${op.text} condition at offset ${field.at}`,
        );
      }
      query[key] = parseDatetimeLiteral(value.text, value.at);
    } else if (
      fieldName === 'VENDORCALLKEY' &&
      op.kind === 'symbol' &&
      op.text === '!=' &&
      value.kind === 'word' &&
      value.text.toLowerCase() === 'null'
    ) {
      // Every stored VoiceCall has a VendorCallKey, so the condition selects them all.
    } else if (fieldName === 'VENDORCALLKEY' && op.kind === 'symbol' && op.text === '>') {
      if (value.kind !== 'string') {
        throw new SoqlParseError(`expected a quoted string literal at offset ${value.at}`);
      }
      if (query.vendorCallKeyAfter !== undefined) {
        throw new SoqlParseError(`duplicate VendorCallKey > condition at offset ${field.at}`);
      }
      query.vendorCallKeyAfter = value.text;
    } else {
      throw new SoqlParseError(
        `unsupported condition at offset ${field.at}: only CreatedDate >=, CreatedDate <, VendorCallKey != null and VendorCallKey > are supported`,
      );
    }
  }

  cursor.keyword('ORDER');
  cursor.keyword('BY');
  cursor.keyword('VendorCallKey');
  if (cursor.isKeyword('ASC')) {
    cursor.keyword('ASC');
  }
  cursor.keyword('LIMIT');
  const limit = cursor.next('1');
  if (limit.kind !== 'number' || limit.text !== '1') {
    throw new SoqlParseError(
      `expected LIMIT 1 at offset ${limit.at}: queryRecord returns only the first row`,
    );
  }
  if (!cursor.atEnd()) {
    const extra = cursor.peek();
    throw new SoqlParseError(`unexpected text after LIMIT 1 at offset ${extra?.at ?? soql.length}`);
  }
  return query;
}

// ---------------------------------------------------------------------------
// Store
// ---------------------------------------------------------------------------

interface StoreFile {
  voiceCalls: Record<string, StoredVoiceCall>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStoredVoiceCall(value: unknown): value is StoredVoiceCall {
  return (
    isRecord(value) &&
    typeof value.Id === 'string' &&
    typeof value.VendorCallKey === 'string' &&
    typeof value.CreatedDate === 'string' &&
    (value.CustomerHoldDuration === null || typeof value.CustomerHoldDuration === 'number') &&
    isRecord(value.fieldValues) &&
    typeof value.updateCount === 'number'
  );
}

async function loadStore(path: string): Promise<Record<string, StoredVoiceCall>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return {};
    }
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`SCV stand-in store ${path} is not valid JSON`);
  }
  if (!isRecord(parsed) || !isRecord(parsed.voiceCalls)) {
    throw new Error(`SCV stand-in store ${path} has no "voiceCalls" object`);
  }
  const voiceCalls: Record<string, StoredVoiceCall> = {};
  for (const [key, value] of Object.entries(parsed.voiceCalls)) {
    if (!isStoredVoiceCall(value) || value.VendorCallKey !== key) {
      throw new Error(`SCV stand-in store ${path} has an invalid VoiceCall under key ${key}`);
    }
    voiceCalls[key] = value;
  }
  return voiceCalls;
}

/** Shortest time between two writes of the store, in milliseconds. */
const WRITE_INTERVAL_MS = 100;

/**
 * Applies mutations to the in-memory store one at a time and persists them
 * behind: each mutation schedules a write of the whole store (atomic: a
 * temporary file, then a rename), and the mutations made while a write runs
 * share the next one. `snapshot` and `flush` wait until every mutation so far
 * is on disk. (A synchronous write per mutation rewrote the whole store
 * serially on every update and capped the local stack's throughput.)
 */
class VoiceCallStore {
  /** The write in progress, if any. */
  private writing: Promise<void> | undefined;
  /** The write that will start when the one in progress ends, shared by the mutations waiting for it. */
  private nextWrite: Promise<void> | undefined;
  /** When the last write started (ms since the epoch). */
  private lastWriteAt = 0;
  private readonly usedIds = new Set<string>();

  constructor(
    private readonly path: string,
    private readonly voiceCalls: Record<string, StoredVoiceCall>,
  ) {
    for (const call of Object.values(voiceCalls)) {
      this.usedIds.add(call.Id);
    }
  }

  /** Runs `mutate` on the store now and schedules a write; resolves with its result. */
  async mutate<T>(mutate: (voiceCalls: Record<string, StoredVoiceCall>) => T): Promise<T> {
    const result = mutate(this.voiceCalls);
    void this.persistSoon().catch(() => undefined);
    return result;
  }

  /** A write that starts after this call: the next one, shared with every caller until it starts. */
  private persistSoon(): Promise<void> {
    this.nextWrite ??= (this.writing ?? Promise.resolve())
      .catch(() => undefined)
      // At most one write per WRITE_INTERVAL_MS: each one serializes the whole store.
      .then(() => delay(Math.max(0, this.lastWriteAt + WRITE_INTERVAL_MS - Date.now())))
      .then(() => {
        this.lastWriteAt = Date.now();
        this.nextWrite = undefined;
        const write = this.persist();
        this.writing = write;
        return write;
      });
    return this.nextWrite;
  }

  /** A deep copy of the store once every mutation so far is persisted. */
  async snapshot(): Promise<Record<string, StoredVoiceCall>> {
    await this.flush();
    return structuredClone(this.voiceCalls);
  }

  /** Resolves when every mutation so far is on disk; rejects when that write failed. */
  async flush(): Promise<void> {
    await (this.nextWrite ?? this.writing);
  }

  newId(): string {
    for (;;) {
      const id = salesforceId('0LQ');
      if (!this.usedIds.has(id)) {
        this.usedIds.add(id);
        return id;
      }
    }
  }

  private async persist(): Promise<void> {
    const body: StoreFile = { voiceCalls: this.voiceCalls };
    const temp = `${this.path}.${process.pid}.${randomUUID()}.tmp`;
    try {
      await writeFile(temp, `${JSON.stringify(body)}\n`, 'utf8');
      await rename(temp, this.path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const CHECKSUM_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';

/**
 * A random Salesforce-style 18-character id: the 3-character key prefix, 12
 * random base-62 characters, then the standard 3-character case-safe suffix
 * (one character per 5-character block, encoding which of its characters are
 * upper-case letters).
 */
function salesforceId(keyPrefix: string): string {
  const bytes = randomBytes(12);
  let id15 = keyPrefix;
  for (const byte of bytes) {
    id15 += BASE62.charAt(byte % BASE62.length);
  }
  let suffix = '';
  for (let block = 0; block < 3; block++) {
    let bits = 0;
    for (let j = 0; j < 5; j++) {
      const c = id15.charAt(block * 5 + j);
      if (c >= 'A' && c <= 'Z') {
        bits |= 1 << j;
      }
    }
    suffix += CHECKSUM_ALPHABET.charAt(bits);
  }
  return id15 + suffix;
}

// ---------------------------------------------------------------------------
// Function behaviour
// ---------------------------------------------------------------------------

/** An error the stand-in function "throws": reported as an Unhandled function error. */
class FunctionFailure extends Error {
  constructor(
    message: string,
    readonly errorType = 'Error',
  ) {
    super(message);
  }
}

type FunctionOutcome =
  | { kind: 'result'; payload: unknown }
  | { kind: 'function-error'; errorType: string; errorMessage: string; trace?: string[] };

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

function isIsoUtc(value: string): boolean {
  return (
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/.test(value) &&
    !Number.isNaN(Date.parse(value))
  );
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

/** Lambda's synchronous invocation payload limit (AWS Lambda quotas): 6 MB. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;
const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;

interface LambdaErrorSpec {
  status: number;
  code: string;
  body: Record<string, string>;
}

function sendError(res: ServerResponse, requestId: string, error: LambdaErrorSpec): void {
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
    const voiceCall: StoredVoiceCall = existing ?? {
      Id: store.newId(),
      VendorCallKey: contactId,
      CreatedDate: now().toISOString(),
      CustomerHoldDuration: null,
      fieldValues: {},
      updateCount: 0,
    };
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

/**
 * What an invocation answers when the fault plan picks `fault`: a Lambda API
 * error (throttling, a service exception), a function error, a timeout after
 * `delayMs` (`aborted` when the stand-in stops meanwhile; waits are registered
 * in `pendingWaits`), or a `success: false` result in the shape of the
 * function called (`restApi`: sfRestApi.js's).
 */
async function faultOutcome(
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
  await mkdir(dirname(storePath), { recursive: true });
  const store = new VoiceCallStore(storePath, await loadStore(storePath));
  const counts: InvocationCounts = {};
  const pendingWaits = new Set<AbortController>();
  const backgroundWork = new Set<Promise<unknown>>();
  let stopping = false;

  function count(functionName: string, methodName: string): void {
    const perFunction = counts[functionName] ?? {};
    perFunction[methodName] = (perFunction[methodName] ?? 0) + 1;
    counts[functionName] = perFunction;
  }

  async function runFunction(functionName: string, event: unknown): Promise<FunctionOutcome> {
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
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const match = INVOKE_PATH.exec(url.pathname);
    if (req.method !== 'POST' || !match?.[1]) {
      sendError(res, requestId, {
        status: 404,
        code: 'UnknownOperationException',
        body: { Type: 'User', message: 'Unknown operation (the SCV stand-in serves Invoke only)' },
      });
      return;
    }
    let requested: string;
    try {
      requested = decodeURIComponent(match[1]);
    } catch {
      requested = match[1];
    }
    const functionName = [telephonyFunctionName, restApiFunctionName].find((name) =>
      matchFunctionName(requested, name),
    );
    if (!functionName) {
      sendError(res, requestId, {
        status: 404,
        code: 'ResourceNotFoundException',
        body: { Type: 'User', Message: `Function not found: ${requested}` },
      });
      return;
    }
    const invocationType = req.headers['x-amz-invocation-type'] ?? 'RequestResponse';
    if (
      invocationType !== 'RequestResponse' &&
      invocationType !== 'Event' &&
      invocationType !== 'DryRun'
    ) {
      sendError(res, requestId, {
        status: 400,
        code: 'InvalidParameterValueException',
        body: {
          Type: 'User',
          message: `Unsupported X-Amz-Invocation-Type: ${String(invocationType)}`,
        },
      });
      return;
    }
    const body = await readBody(req);
    if (body === 'too-large') {
      sendError(res, requestId, {
        status: 413,
        code: 'RequestTooLargeException',
        body: {
          Type: 'User',
          message: `Request must be smaller than ${MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation`,
        },
      });
      return;
    }
    let event: unknown;
    try {
      const text = body.toString('utf8');
      event = text.trim().length === 0 ? {} : JSON.parse(text);
    } catch {
      sendError(res, requestId, {
        status: 400,
        code: 'InvalidRequestContentException',
        body: { Type: 'User', message: 'Could not parse request body into json' },
      });
      return;
    }
    if (invocationType === 'DryRun') {
      res.writeHead(204, { 'x-amzn-RequestId': requestId });
      res.end();
      return;
    }

    const parameters =
      isRecord(event) && isRecord(event.Details) && isRecord(event.Details.Parameters)
        ? event.Details.Parameters
        : {};
    const call: StandInCall = {
      functionName,
      methodName: typeof parameters.methodName === 'string' ? parameters.methodName : '',
    };
    if (typeof parameters.contactId === 'string') {
      call.contactId = parameters.contactId;
    }
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
      res.writeHead(202, { 'x-amzn-RequestId': requestId });
      res.end();
      if (!fault) {
        const work = runFunction(functionName, event);
        backgroundWork.add(work);
        void work.finally(() => backgroundWork.delete(work));
      }
      return;
    }

    const outcome = await produce();
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

  const server: Server = createServer((req, res) => {
    if (stopping) {
      res.destroy();
      return;
    }
    handle(req, res).catch(() => {
      if (!res.headersSent) {
        sendError(res, randomUUID(), {
          status: 500,
          code: 'ServiceException',
          body: { Type: 'Service', Message: 'Internal error in SCV stand-in' },
        });
      } else {
        res.destroy();
      }
    });
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

    async createVoiceCall(contactId: string, createdDate: string): Promise<void> {
      if (typeof contactId !== 'string' || contactId.length === 0) {
        throw new Error('createVoiceCall: contactId must be a non-empty string');
      }
      if (typeof createdDate !== 'string' || !isIsoUtc(createdDate)) {
        throw new Error(
          'createVoiceCall: createdDate must be an ISO-8601 UTC timestamp ending in Z',
        );
      }
      await store.mutate((voiceCalls) => {
        if (voiceCalls[contactId]) {
          throw new Error(
            `createVoiceCall: a VoiceCall with VendorCallKey ${contactId} already exists`,
          );
        }
        voiceCalls[contactId] = {
          Id: store.newId(),
          VendorCallKey: contactId,
          CreatedDate: new Date(createdDate).toISOString(),
          CustomerHoldDuration: null,
          fieldValues: {},
          updateCount: 0,
        };
      });
    },

    readVoiceCalls(): Promise<Record<string, StoredVoiceCall>> {
      return store.snapshot();
    },

    get invocationCount(): InvocationCounts {
      return structuredClone(counts);
    },
  };
}
