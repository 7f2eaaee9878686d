/**
 * The VoiceCall records of the Salesforce org behind SCV, as the stand-in
 * keeps them: in memory, written behind to one JSON file
 * `{ "voiceCalls": { "<VendorCallKey>": StoredVoiceCall } }`.
 *
 * Reproduced: the VoiceCall fields ctr-sync reads or writes (`Id`,
 * `VendorCallKey` = the Amazon Connect ContactId, `CreatedDate`,
 * `CustomerHoldDuration`, `LastModifiedDate`), with 18-character Salesforce
 * ids under the VoiceCall key prefix `0LQ`; SCV creating a VoiceCall when a
 * call starts ({@link createVoiceCall}). Source: the CTRDataSyncFunction page
 * (Salesforce Voice developer guide): CustomerHoldDuration has no value until
 * the contact record has been synced. `updateVoiceCall` and `queryRecord`,
 * which change and read these records, are in `functions.ts`.
 *
 * Not reproduced: the other VoiceCall fields, field types and validation
 * rules, and any other object.
 */

import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

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

interface StoreFile {
  voiceCalls: Record<string, StoredVoiceCall>;
}

/** True for a plain object: not null, not an array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
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

/**
 * Opens the store file at `path`: creates its directory when missing, loads
 * the file when it exists (an empty store otherwise).
 * @throws Error when the file exists but is not a valid store.
 */
export async function openVoiceCallStore(path: string): Promise<VoiceCallStore> {
  await mkdir(dirname(path), { recursive: true });
  return new VoiceCallStore(path, await loadStore(path));
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
export class VoiceCallStore {
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

  /** A VoiceCall as SCV creates it: a new Id, `CustomerHoldDuration = null`, no field values. */
  newVoiceCall(vendorCallKey: string, createdDate: string): StoredVoiceCall {
    return {
      Id: this.newId(),
      VendorCallKey: vendorCallKey,
      CreatedDate: createdDate,
      CustomerHoldDuration: null,
      fieldValues: {},
      updateCount: 0,
    };
  }

  private newId(): string {
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

function isIsoUtc(value: string): boolean {
  return (
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/.test(value) &&
    !Number.isNaN(Date.parse(value))
  );
}

/**
 * What SCV does when a call starts: stores a VoiceCall with
 * `VendorCallKey = contactId`, `CustomerHoldDuration = null`, no field values.
 *
 * @param contactId - The Amazon Connect ContactId (non-empty).
 * @param createdDate - ISO-8601 UTC timestamp ending in `Z`.
 * @throws Error when an argument is invalid or a VoiceCall with this key exists.
 */
export async function createVoiceCall(
  store: VoiceCallStore,
  contactId: string,
  createdDate: string,
): Promise<void> {
  if (typeof contactId !== 'string' || contactId.length === 0) {
    throw new Error('createVoiceCall: contactId must be a non-empty string');
  }
  if (typeof createdDate !== 'string' || !isIsoUtc(createdDate)) {
    throw new Error('createVoiceCall: createdDate must be an ISO-8601 UTC timestamp ending in Z');
  }
  await store.mutate((voiceCalls) => {
    if (voiceCalls[contactId]) {
      throw new Error(
        `createVoiceCall: a VoiceCall with VendorCallKey ${contactId} already exists`,
      );
    }
    voiceCalls[contactId] = store.newVoiceCall(contactId, new Date(createdDate).toISOString());
  });
}
