/**
 * The archive lookup of the redrive: the newest genuine version of each
 * wanted contact in the archive objects of its window (the sweep, a
 * START_CALL_PROCESSING, a resync), and the record helpers a replay shares.
 *
 * Genuine: a version dated after `latestTimestampMs`, or more than the
 * tolerance after the hour it was archived in, was not written by Connect
 * (domain/contact-record.ts, futureTimestampError), and is passed over.
 */
import { parseContactRecordText } from './contact-record';
import { PermanentError } from './errors';
import type { ContactRecordArchive, SyncQueueItem } from './ports';
import { realSleep, withRetries } from './retries';
import { contentDigest, versionKey } from './versions';

/** An hour, in milliseconds. */
export const HOUR_MS = 3_600_000;

/**
 * The ContactIds a contact record's JSON text names, read without parsing it:
 * every `"ContactId":"<id>"` in it (an attribute may carry that key too, so
 * this is a superset; the parse decides), unescaped.
 */
function contactIdsIn(json: string): string[] {
  const ids: string[] = [];
  for (const match of json.matchAll(/"ContactId"\s*:\s*"((?:[^"\\]|\\.)*)"/g)) {
    const literal = match[1] as string;
    // An id written with escapes (a quote or a backslash in it) is compared once unescaped.
    const id = literal.includes('\\') ? unescapeJsonString(literal) : literal;
    if (id !== undefined) ids.push(id);
  }
  return ids;
}

/** The value of a JSON string literal's contents, or `undefined` when they are not valid JSON. */
function unescapeJsonString(literal: string): string | undefined {
  try {
    return JSON.parse(`"${literal}"`) as string;
  } catch {
    return undefined;
  }
}

/** A resync item with the version key of its record. */
export interface Versioned {
  item: SyncQueueItem;
  version: string;
}

/** A record found in the archive: its resync item and version key. */
export type FoundRecord = Versioned;

/**
 * Whether a record's LastUpdateTimestamp is after `latestTimestampMs` (ms
 * since the epoch): a version from the future, which Connect did not write
 * (see futureTimestampError in domain/contact-record.ts). The archive keeps
 * whatever was put on the bus, so lookups pass such versions over rather
 * than resend them.
 */
export function isFromTheFuture(
  parsed: ReturnType<typeof parseContactRecordText>,
  latestTimestampMs: number | undefined,
): boolean {
  return (
    latestTimestampMs !== undefined &&
    Date.parse(parsed.contactRecord.LastUpdateTimestamp) > latestTimestampMs
  );
}

/**
 * The latest LastUpdateTimestamp (ms) a genuine record of archive object `key`
 * can have: the end of the hour its prefix names (`.../yyyy/MM/dd/HH/...`,
 * when the delivery stream received it) plus `toleranceMs`, and never after
 * `latestTimestampMs`. A version dated after the hour it was archived in was
 * forged then, even once that date has passed.
 */
export function latestForObject(
  key: string,
  latestTimestampMs: number | undefined,
  toleranceMs: number | undefined,
): number | undefined {
  const hour = /\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\//.exec(key);
  if (!hour || toleranceMs === undefined) return latestTimestampMs;
  const [, year, month, day, hh] = hour.map(Number) as [number, number, number, number, number];
  const byHour = Date.UTC(year, month - 1, day, hh) + HOUR_MS + toleranceMs;
  return latestTimestampMs === undefined ? byHour : Math.min(byHour, latestTimestampMs);
}

/** Keep `parsed` in `found` under its ContactId when it is newer than the version kept there. */
export function keepNewest(
  found: Map<string, FoundRecord>,
  parsed: ReturnType<typeof parseContactRecordText>,
): void {
  const { contactRecord, json } = parsed;
  const version = versionKey(contactRecord.LastUpdateTimestamp, contentDigest(json));
  const current = found.get(contactRecord.ContactId);
  if (current && current.version >= version) return;
  found.set(contactRecord.ContactId, {
    version,
    item: {
      contactId: contactRecord.ContactId,
      lastUpdateTimestamp: contactRecord.LastUpdateTimestamp,
      record: { json },
    },
  });
}

/** What {@link findInArchive} found, and what it could not tell. */
export interface ArchiveLookup {
  /** The newest genuine version found per ContactId (only for resolved contacts a final answer). */
  found: Map<string, FoundRecord>;
  objectsRead: number;
  /**
   * ContactIds whose window was not read to its end; their newest version
   * may be in an object not read, so "not found" is no answer for them.
   */
  unresolved: Set<string>;
  /**
   * Why the lookup stopped before the end: `maxObjects` read, no time left,
   * or a list or read that failed 3 times (`error` says which object).
   */
  stoppedBy?: 'max-objects' | 'time' | 'error';
  /** With `stoppedBy: 'error'`: the object key or window and the error, e.g. `archive/2024/05/01/10/o1: InternalError`. */
  error?: string;
  /** With `stoppedBy: 'error'` on an object read: the ContactId whose window holds the object. */
  stoppedOn?: string;
}

/**
 * What earlier lookups of one run read, so that a later one does not read an
 * object again for nothing: per object, the ContactIds its records name (those
 * of records sent by reference included, without reading them). Bounded: past
 * {@link READ_STATE_MAX_IDS} ContactIds, objects are not recorded (and are read
 * again when listed), so that the state stays small in a 256 MB function.
 */
export interface ArchiveReadState {
  contactsOf: Map<string, Set<string>>;
  ids: number;
}

/** ContactIds an {@link ArchiveReadState} keeps at most (about 20 MB). */
export const READ_STATE_MAX_IDS = 250_000;

/** A state for the lookups of one run. */
export function newArchiveReadState(): ArchiveReadState {
  return { contactsOf: new Map(), ids: 0 };
}

/** Whole hours (ms since the epoch) the archive lists for a window: from `from`'s hour up to `to`'s, exclusive. */
function hourSpan(window: { from: number; to: number }): { from: number; to: number } {
  return {
    from: Math.floor(window.from / HOUR_MS) * HOUR_MS,
    to: Math.ceil(window.to / HOUR_MS) * HOUR_MS,
  };
}

/** Disjoint spans, merged and sorted; `covers` says whether they hold a span whole. */
class Spans {
  private spans: { from: number; to: number }[] = [];

  covers(span: { from: number; to: number }): boolean {
    return this.spans.some((held) => held.from <= span.from && span.to <= held.to);
  }

  add(span: { from: number; to: number }): void {
    const all = [...this.spans, span].sort((a, b) => a.from - b.from);
    const merged: { from: number; to: number }[] = [];
    for (const next of all) {
      const last = merged.at(-1);
      if (last && next.from <= last.to) last.to = Math.max(last.to, next.to);
      else merged.push({ ...next });
    }
    this.spans = merged;
  }
}

/**
 * Look for the newest version of each wanted contact in the archive objects
 * of its window, contact by contact in `wanted`'s order (put first the
 * contacts that must be answered first): each object is read once, and a
 * contact whose hours were all read for contacts before it costs no listing.
 * Records that do not parse, or whose LastUpdateTimestamp is after
 * `latestTimestampMs` (ms since the epoch; forged versions), are passed over.
 *
 * A contact is resolved when every object of its window's hours was read.
 * The first contact's window is read whole (unless `firstWhole` is false);
 * after it, at most `maxObjects` objects in all. The lookup also stops when `hasTimeLeft()`
 * turns false, or at a list or read that fails 3 times; the contacts not
 * resolved by then are returned as `unresolved`, with why (`stoppedBy`).
 *
 * @param wanted - per ContactId, the window (epoch ms, `from` inclusive, `to` exclusive).
 * @throws PermanentError from the archive.
 */
export async function findInArchive(
  wanted: ReadonlyMap<string, { from: number; to: number }>,
  ports: {
    archive: ContactRecordArchive;
    maxObjects: number;
    latestTimestampMs?: number;
    /** With it, a record dated after its object's hour plus this (ms) is passed over too. */
    toleranceMs?: number;
    hasTimeLeft?: () => boolean;
    /** Read the first contact's window whole, past `maxObjects` (default true). */
    firstWhole?: boolean;
    /**
     * What earlier lookups of the run read: an object they read whose records
     * name no wanted contact is not read again (nor counted). Updated.
     */
    state?: ArchiveReadState;
    sleep?: (ms: number) => Promise<void>;
  },
): Promise<ArchiveLookup> {
  const sleep = ports.sleep ?? realSleep;
  const hasTimeLeft = () => ports.hasTimeLeft?.() ?? true;
  const found = new Map<string, FoundRecord>();
  const unresolved = new Set(wanted.keys());
  const read = new Set<string>();
  const readHours = new Spans();
  const stop = (
    stoppedBy?: ArchiveLookup['stoppedBy'],
    error?: string,
    stoppedOn?: string,
  ): ArchiveLookup => ({
    found,
    objectsRead: read.size,
    unresolved,
    ...(stoppedBy === undefined ? {} : { stoppedBy }),
    ...(stoppedOn === undefined ? {} : { stoppedOn }),
    ...(error === undefined ? {} : { error }),
  });
  let first = ports.firstWhole ?? true;
  for (const [contactId, window] of wanted) {
    const hours = hourSpan(window);
    if (!readHours.covers(hours)) {
      const listed = {
        from: new Date(window.from).toISOString(),
        to: new Date(window.to).toISOString(),
      };
      let cursor: string | undefined;
      do {
        let page: Awaited<ReturnType<ContactRecordArchive['listObjects']>>;
        try {
          page = await withRetries(
            () => ports.archive.listObjects(listed, cursor),
            sleep,
            hasTimeLeft,
          );
        } catch (error) {
          if (error instanceof PermanentError) throw error;
          return stop('error', `listing ${listed.from}/${listed.to}: ${(error as Error).message}`);
        }
        for (const key of page.keys) {
          if (read.has(key)) continue;
          const earlier = ports.state?.contactsOf.get(key);
          if (earlier && ![...earlier].some((id) => wanted.has(id))) continue;
          if (!first && read.size >= ports.maxObjects) return stop('max-objects');
          if (!hasTimeLeft()) return stop('time');
          let texts: string[];
          // The ContactIds of the records sent by reference, which are read only when wanted.
          const referenced = new Set<string>();
          try {
            texts = await withRetries(
              () =>
                ports.archive.readObject(key, (id) => {
                  referenced.add(id);
                  return wanted.has(id);
                }),
              sleep,
              hasTimeLeft,
            );
          } catch (error) {
            if (error instanceof PermanentError) throw error;
            return stop('error', `${key}: ${(error as Error).message}`, contactId);
          }
          read.add(key);
          const named = readObjectRecords(texts, key, wanted, found, ports);
          if (ports.state) remember(ports.state, key, [...named, ...referenced]);
        }
        cursor = page.next;
      } while (cursor !== undefined);
      readHours.add(hours);
    }
    unresolved.delete(contactId);
    first = false;
  }
  return stop();
}

/**
 * Keep, per wanted contact, the newest genuine version among the records of
 * object `key`; returns the ContactIds the records name.
 */
function readObjectRecords(
  texts: string[],
  key: string,
  wanted: ReadonlyMap<string, unknown>,
  found: Map<string, FoundRecord>,
  ports: { latestTimestampMs?: number; toleranceMs?: number },
): Set<string> {
  const latest = latestForObject(key, ports.latestTimestampMs, ports.toleranceMs);
  const named = new Set<string>();
  for (const text of texts) {
    const ids = contactIdsIn(text);
    for (const id of ids) named.add(id);
    if (!ids.some((id) => wanted.has(id))) continue;
    let parsed: ReturnType<typeof parseContactRecordText>;
    try {
      parsed = parseContactRecordText(text);
    } catch {
      continue;
    }
    if (!wanted.has(parsed.contactRecord.ContactId)) continue;
    if (isFromTheFuture(parsed, latest)) continue;
    keepNewest(found, parsed);
  }
  return named;
}

/** Record in `state` the ContactIds object `key` names, while it has room. */
function remember(state: ArchiveReadState, key: string, ids: string[]): void {
  if (state.ids + ids.length > READ_STATE_MAX_IDS) return;
  state.contactsOf.set(key, new Set(ids));
  state.ids += ids.length;
}
