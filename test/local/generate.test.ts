/**
 * The contact record generator of the local stack: determinism, count, the mix of
 * contacts, republished versions and their delivery, and the malformed records.
 */
import { describe, expect, it } from 'vitest';
import { decodeContactRecord } from '../../domain/contact-record';
import { toVoiceCallUpdate } from '../../domain/voice-call';
import {
  createRandom,
  type GeneratedRecord,
  generateContactRecords,
  type MalformedKind,
} from '../../local/input/generate';

type Json = { [key: string]: unknown };

const ALL_KINDS: MalformedKind[] = [
  'bad-base64',
  'invalid-json',
  'invalid-utf8',
  'missing-contact-id',
  'wrong-types',
  'too-large',
  'deeply-nested',
  'proto-key',
];
/** Kinds that the current decoder rejects; the other three only have their structure checked. */
const REJECTED_KINDS: MalformedKind[] = [
  'bad-base64',
  'invalid-json',
  'invalid-utf8',
  'missing-contact-id',
  'wrong-types',
];
const INITIATION_METHODS = [
  'INBOUND',
  'OUTBOUND',
  'TRANSFER',
  'QUEUE_TRANSFER',
  'CALLBACK',
  'API',
  'WEBRTC_API',
  'DISCONNECT',
  'MONITOR',
  'EXTERNAL_OUTBOUND',
  'AGENT_REPLY',
  'FLOW',
];
const CONNECT_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const FAKE_PHONE = /^\+1555\d{7}$/;

const records = generateContactRecords({ count: 10_000, seed: 7 });
const valid = records.filter((record) => record.malformed === undefined);
const malformed = records.filter((record) => record.malformed !== undefined);
const contacts = valid.map((record) => JSON.parse(record.data.toString('utf8')) as Json);

/** What local/input/read.ts's describe() reads from a record's bytes. */
function describeLikeInput(data: Buffer): Omit<GeneratedRecord, 'data'> {
  try {
    const value = JSON.parse(data.toString('utf8')) as Json;
    return {
      contactId:
        typeof value?.ContactId === 'string' && value.ContactId !== ''
          ? value.ContactId
          : undefined,
      initiationTimestamp:
        typeof value?.InitiationTimestamp === 'string' ? value.InitiationTimestamp : undefined,
      voice: value?.Channel === undefined || value?.Channel === null || value?.Channel === 'VOICE',
    };
  } catch {
    return { voice: false };
  }
}

function seconds(timestamp: unknown): number {
  expect(timestamp).toMatch(CONNECT_TIMESTAMP);
  return Date.parse(timestamp as string) / 1000;
}

/** Deepest nesting of arrays and objects in a JSON text. */
function maxNesting(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const character = text[index];
    if (inString) {
      if (character === '\\') index++;
      else if (character === '"') inString = false;
    } else if (character === '"') inString = true;
    else if (character === '[' || character === '{') deepest = Math.max(deepest, ++depth);
    else if (character === ']' || character === '}') depth--;
  }
  return deepest;
}

/** Every `[key, value]` pair in a JSON value, at any depth. */
function* entries(value: unknown): Generator<[string, unknown]> {
  if (Array.isArray(value)) {
    for (const item of value) yield* entries(item);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      yield [key, item];
      yield* entries(item);
    }
  }
}

function kindsOf(list: GeneratedRecord[]): Set<MalformedKind | undefined> {
  return new Set(list.map((record) => record.malformed));
}

function attributeValues(): string[] {
  return contacts.flatMap((contact) =>
    Object.values((contact.Attributes as Json) ?? {}),
  ) as string[];
}

describe('createRandom', () => {
  it('gives the same floats in [0, 1) for the same seed, other floats for another seed', () => {
    const first = createRandom(5);
    const again = createRandom(5);
    const other = createRandom(6);
    const a = Array.from({ length: 1000 }, first);
    expect(Array.from({ length: 1000 }, again)).toEqual(a);
    expect(Array.from({ length: 1000 }, other)).not.toEqual(a);
    expect(a.every((value) => value >= 0 && value < 1)).toBe(true);
    expect(new Set(a).size).toBeGreaterThan(990);
  });
});

describe('generateContactRecords: determinism and count', () => {
  it('gives byte-identical records for the same seed and count', () => {
    const first = generateContactRecords({ count: 3000, seed: 11 });
    const again = generateContactRecords({ count: 3000, seed: 11 });
    expect(again).toHaveLength(first.length);
    first.forEach((record, index) => {
      const other = again[index] as GeneratedRecord;
      expect(other.data.equals(record.data)).toBe(true);
      expect({ ...other, data: undefined }).toEqual({ ...record, data: undefined });
    });
  });

  it('gives different records for a different seed', () => {
    const first = generateContactRecords({ count: 500, seed: 11 });
    const other = generateContactRecords({ count: 500, seed: 12 });
    const same = first.filter((record, index) =>
      record.data.equals(other[index]?.data ?? Buffer.alloc(0)),
    );
    expect(same).toHaveLength(0);
  });

  it.each([0, 1, 2, 7, 8, 9, 57, 199, 200, 1000, 1234])('returns exactly %i records', (count) => {
    for (const seed of [1, 2, 3]) {
      expect(generateContactRecords({ count, seed })).toHaveLength(count);
    }
  });

  it('rejects a count that is not a non-negative integer, and a seed that is not finite', () => {
    expect(() => generateContactRecords({ count: -1, seed: 1 })).toThrow(RangeError);
    expect(() => generateContactRecords({ count: 1.5, seed: 1 })).toThrow(RangeError);
    expect(() => generateContactRecords({ count: 10, seed: Number.NaN })).toThrow(RangeError);
  });

  it('starts the clock at 2026-10-01T00:00:00Z plus (seed mod 30) days', () => {
    const starts = (seed: number) =>
      generateContactRecords({ count: 300, seed })
        .map((record) => record.initiationTimestamp)
        .filter((timestamp): timestamp is string => timestamp !== undefined)
        .sort()[0];
    expect(starts(0)?.slice(0, 10)).toBe('2026-10-01');
    expect(starts(3)?.slice(0, 10)).toBe('2026-10-04');
  });

  it('writes no LastUpdateTimestamp after 2026-12-01 for any seed, so none is refused as future-timestamp', () => {
    let latest = '';
    for (const seed of [29, 59, 89]) {
      for (const record of generateContactRecords({ count: 2000, seed })) {
        const match = /"LastUpdateTimestamp":"([^"]+)"/.exec(record.data.toString('utf8'));
        if (match?.[1] && match[1] > latest) latest = match[1];
      }
    }
    expect(latest > '2026-10-30').toBe(true);
    expect(latest < '2026-12-01').toBe(true);
  });
});

describe('generateContactRecords: malformed records', () => {
  it('makes about 1% of the records malformed, every kind present in 10,000 and in 1,000', () => {
    expect(malformed.length / records.length).toBeGreaterThanOrEqual(0.005);
    expect(malformed.length / records.length).toBeLessThanOrEqual(0.02);
    for (const kind of ALL_KINDS) expect(kindsOf(records)).toContain(kind);
    const thousand = generateContactRecords({ count: 1000, seed: 99 });
    for (const kind of ALL_KINDS) expect(kindsOf(thousand)).toContain(kind);
  });

  it('includes an invalid-json record in any run of 8 records or more, none below', () => {
    for (let seed = 0; seed < 20; seed++) {
      for (const count of [8, 9, 15, 40, 120]) {
        expect(kindsOf(generateContactRecords({ count, seed }))).toContain('invalid-json');
      }
      expect(generateContactRecords({ count: 7, seed }).some((r) => r.malformed)).toBe(false);
    }
  });

  it('has no too-large record below 1,000 records and one in 10,000', () => {
    const small = generateContactRecords({ count: 999, seed: 3 });
    expect(kindsOf(small)).not.toContain('too-large');
    expect(records.filter((record) => record.malformed === 'too-large')).toHaveLength(1);
  });

  it('makes rejected kinds fail decodeContactRecord', () => {
    const rejected = malformed.filter((record) => REJECTED_KINDS.includes(record.malformed!));
    expect(rejected.length).toBeGreaterThan(0);
    for (const record of rejected) {
      expect(() => decodeContactRecord(record.data), record.malformed).toThrow();
    }
  });

  it('gives each kind its defining bytes', () => {
    for (const record of malformed) {
      const text = record.data.toString('utf8');
      switch (record.malformed) {
        case 'bad-base64':
          expect(text).toMatch(/^eyJ/);
          expect(text).toMatch(/[^A-Za-z0-9+/=]/);
          expect(() => JSON.parse(text)).toThrow();
          break;
        case 'invalid-json':
          expect(text.startsWith('{"AWSAccountId"')).toBe(true);
          expect(() => JSON.parse(text)).toThrow();
          break;
        case 'invalid-utf8':
          expect(() => new TextDecoder('utf-8', { fatal: true }).decode(record.data)).toThrow();
          expect(JSON.parse(text)).toHaveProperty('ContactId');
          break;
        case 'missing-contact-id':
          expect(JSON.parse(text)).not.toHaveProperty('ContactId');
          break;
        case 'wrong-types': {
          const json = JSON.parse(text) as Json;
          const agent = json.Agent as Json;
          const wrong =
            typeof agent?.NumberOfHolds === 'string' ||
            typeof json.LastUpdateTimestamp === 'number' ||
            Object.values(json.Attributes as Json).some((value) => typeof value !== 'string');
          expect(wrong).toBe(true);
          break;
        }
        case 'too-large':
          expect(record.data.length).toBeGreaterThanOrEqual(2_000_000);
          expect(record.data.length).toBeLessThanOrEqual(2_200_000);
          expect(JSON.parse(text)).toHaveProperty('ContactId');
          break;
        case 'deeply-nested':
          expect(maxNesting(text)).toBeGreaterThanOrEqual(100_000);
          expect(JSON.parse(text)).toHaveProperty('ContactId');
          break;
        case 'proto-key': {
          expect(text.startsWith('{"__proto__":')).toBe(true);
          expect(text).toMatch(/"Attributes":\{"__proto__":/);
          const json = JSON.parse(text) as Json;
          expect(Object.hasOwn(json, '__proto__')).toBe(true);
          expect(Object.hasOwn(json.Attributes as Json, '__proto__')).toBe(true);
          break;
        }
        default:
          throw new Error(`unexpected kind ${String(record.malformed)}`);
      }
    }
  });

  it('gives malformed records ContactIds that no valid record uses', () => {
    const validIds = new Set(valid.map((record) => record.contactId));
    const malformedIds = malformed.flatMap((record) => record.contactId ?? []);
    expect(malformedIds.length).toBeGreaterThan(0);
    for (const contactId of malformedIds) expect(validIds.has(contactId)).toBe(false);
  });
});

describe('generateContactRecords: what the local stack reads from each record', () => {
  it('fills contactId, initiationTimestamp and voice as local/input/read.ts would', () => {
    for (const record of valid) {
      expect(record.contactId).toBeDefined();
      expect({
        contactId: record.contactId,
        initiationTimestamp: record.initiationTimestamp,
        voice: record.voice,
      }).toEqual(describeLikeInput(record.data));
    }
  });

  it('leaves contactId undefined and voice false on malformed records without a ContactId', () => {
    for (const record of malformed) {
      const described = describeLikeInput(record.data);
      expect(record.contactId, record.malformed).toBe(described.contactId);
      expect(record.initiationTimestamp, record.malformed).toBe(described.initiationTimestamp);
      expect(record.voice, record.malformed).toBe(
        described.contactId === undefined ? false : described.voice,
      );
    }
  });
});

describe('generateContactRecords: valid contact records', () => {
  it('decodes every valid record with decodeContactRecord', () => {
    for (const record of valid) expect(() => decodeContactRecord(record.data)).not.toThrow();
  });

  it('writes compact JSON', () => {
    for (const record of valid.slice(0, 200)) {
      const text = record.data.toString('utf8');
      expect(text).toBe(JSON.stringify(JSON.parse(text)));
    }
  });

  it('covers every InitiationMethod, in 10,000 records and in any 200', () => {
    const methods = new Set(contacts.map((contact) => contact.InitiationMethod));
    for (const method of INITIATION_METHODS) expect(methods).toContain(method);
    for (const seed of [1, 2, 3, 4, 5]) {
      const small = generateContactRecords({ count: 200, seed })
        .filter((record) => !record.malformed)
        .map((record) => (JSON.parse(record.data.toString('utf8')) as Json).InitiationMethod);
      for (const method of INITIATION_METHODS) expect(small).toContain(method);
    }
  });

  it('has voice, chat and task channels', () => {
    const channels = new Set(contacts.map((contact) => contact.Channel));
    for (const channel of ['VOICE', 'CHAT', 'TASK']) expect(channels).toContain(channel);
  });

  it('has answered calls with 0 to 3 holds, abandoned, IVR-only, voicemail and NoSync contacts', () => {
    const voice = contacts.filter((contact) => contact.Channel === 'VOICE');
    const holds = new Set(voice.map((contact) => (contact.Agent as Json | null)?.NumberOfHolds));
    for (const count of [0, 1, 2, 3]) expect(holds).toContain(count);
    expect(voice.some((contact) => contact.Queue !== null && contact.Agent === null)).toBe(true);
    expect(voice.some((contact) => contact.Queue === null && contact.Agent === null)).toBe(true);
    const attributes = (contact: Json) => contact.Attributes as Record<string, string>;
    expect(
      voice.some((contact) => attributes(contact).vm_flag === 'true' && contact.Recording !== null),
    ).toBe(true);
    expect(contacts.some((contact) => attributes(contact).NoSync === 'true')).toBe(true);
  });

  it('has attribute values in accented Latin, CJK, emoji and right-to-left scripts, all strings', () => {
    const values = attributeValues();
    expect(values.every((value) => typeof value === 'string')).toBe(true);
    expect(values.some((value) => /[À-ÿ]/u.test(value))).toBe(true);
    expect(values.some((value) => /\p{Script=Han}/u.test(value))).toBe(true);
    expect(values.some((value) => /\p{Extended_Pictographic}/u.test(value))).toBe(true);
    expect(values.some((value) => /[\u0590-\u05FF\u0600-\u06FF]/u.test(value))).toBe(true);
  });

  it('uses only +1555 phone numbers', () => {
    let numbers = 0;
    for (const contact of contacts) {
      for (const [key, value] of entries(contact)) {
        const isNumber = typeof value === 'string' && value.startsWith('+');
        if (isNumber || (key === 'Address' && typeof value === 'string' && !value.includes('@'))) {
          expect(value).toMatch(FAKE_PHONE);
          numbers++;
        }
      }
    }
    expect(numbers).toBeGreaterThan(contacts.length);
  });

  it('links transfers, callbacks and disconnect flows to earlier generated contacts, in chains', () => {
    const byId = new Map(contacts.map((contact) => [contact.ContactId as string, contact]));
    const followers = contacts.filter((contact) => contact.PreviousContactId !== null);
    expect(followers.length).toBeGreaterThan(0);
    let longestChain = 0;
    for (const follower of followers) {
      const previous = byId.get(follower.PreviousContactId as string);
      expect(previous, 'PreviousContactId is a generated contact').toBeDefined();
      expect(seconds(previous!.InitiationTimestamp)).toBeLessThan(
        seconds(follower.InitiationTimestamp),
      );
      let root = follower;
      let length = 1;
      while (root.PreviousContactId !== null) {
        root = byId.get(root.PreviousContactId as string)!;
        length++;
      }
      expect(follower.InitialContactId).toBe(root.ContactId);
      longestChain = Math.max(longestChain, length);
    }
    expect(longestChain).toBeGreaterThanOrEqual(3);
    for (const method of ['TRANSFER', 'QUEUE_TRANSFER', 'CALLBACK', 'DISCONNECT']) {
      expect(followers.map((contact) => contact.InitiationMethod)).toContain(method);
    }
    const transferred = contacts.filter((contact) => contact.NextContactId !== null);
    for (const contact of transferred) {
      const next = byId.get(contact.NextContactId as string);
      expect(next?.PreviousContactId).toBe(contact.ContactId);
    }
  });

  it('orders timestamps as Connect does, whole seconds in UTC', () => {
    for (const contact of contacts) {
      for (const [key, value] of entries(contact)) {
        if (key.endsWith('Timestamp') && value !== null) expect(value).toMatch(CONNECT_TIMESTAMP);
      }
      const initiation = seconds(contact.InitiationTimestamp);
      const connected = seconds(contact.ConnectedToSystemTimestamp);
      const disconnect = seconds(contact.DisconnectTimestamp);
      const lastUpdate = seconds(contact.LastUpdateTimestamp);
      expect(initiation).toBeLessThan(connected);
      expect(connected).toBeLessThanOrEqual(disconnect);
      expect(disconnect).toBeLessThanOrEqual(lastUpdate);
      const agent = contact.Agent as Json | null;
      if (agent) {
        const agentConnected = seconds(agent.ConnectedToAgentTimestamp);
        expect(agentConnected).toBeGreaterThanOrEqual(connected);
        expect(agentConnected).toBeLessThanOrEqual(disconnect);
        expect(agent.CustomerHoldDuration).toBeGreaterThanOrEqual(
          agent.LongestHoldDuration as number,
        );
        if (agent.AfterContactWorkEndTimestamp !== null) {
          expect(seconds(agent.AfterContactWorkEndTimestamp)).toBeLessThanOrEqual(lastUpdate);
        }
      }
      const queue = contact.Queue as Json | null;
      if (queue?.EnqueueTimestamp) {
        expect(seconds(queue.EnqueueTimestamp)).toBeGreaterThanOrEqual(connected);
        expect(seconds(queue.DequeueTimestamp)).toBeLessThanOrEqual(disconnect);
      }
    }
  });
});

describe('generateContactRecords: republished versions and delivery', () => {
  /** Each contact's records, in delivery order. */
  const deliveries = new Map<string, { lastUpdate: number; data: Buffer }[]>();
  valid.forEach((record, index) => {
    const list = deliveries.get(record.contactId!) ?? [];
    list.push({ lastUpdate: seconds(contacts[index]!.LastUpdateTimestamp), data: record.data });
    deliveries.set(record.contactId!, list);
  });

  it('gives most contacts 2 to 4 versions, none more, each version with one content', () => {
    let republished = 0;
    for (const list of deliveries.values()) {
      const versions = new Map<number, Buffer>();
      for (const { lastUpdate, data } of list) {
        const known = versions.get(lastUpdate);
        if (known) expect(known.equals(data)).toBe(true);
        versions.set(lastUpdate, data);
      }
      expect(versions.size).toBeLessThanOrEqual(4);
      if (versions.size >= 2) republished++;
    }
    expect(republished / deliveries.size).toBeGreaterThan(0.75);
  });

  it('makes every version of a contact differ from the others in what its VoiceCall receives', () => {
    let compared = 0;
    for (const list of deliveries.values()) {
      const fieldValues = new Map<number, string>();
      for (const { lastUpdate, data } of list) {
        const update = toVoiceCallUpdate(decodeContactRecord(data));
        fieldValues.set(lastUpdate, JSON.stringify(update.fieldValues));
      }
      if (fieldValues.size < 2) continue;
      compared++;
      expect(new Set(fieldValues.values()).size).toBe(fieldValues.size);
    }
    expect(compared).toBeGreaterThan(100);
  });

  it('delivers some later versions before earlier ones', () => {
    const outOfOrder = [...deliveries.values()].filter((list) =>
      list.some(
        (delivery, index) => index > 0 && delivery.lastUpdate < list[index - 1]!.lastUpdate,
      ),
    );
    expect(outOfOrder.length).toBeGreaterThan(0);
  });

  it('delivers some versions twice, byte for byte', () => {
    const duplicated = [...deliveries.values()].filter((list) =>
      list.some(
        (delivery, index) => list.findIndex((other) => other.data.equals(delivery.data)) !== index,
      ),
    );
    expect(duplicated.length).toBeGreaterThan(0);
  });

  it('interleaves the deliveries of one contact with other records', () => {
    const positions = new Map<string, number[]>();
    records.forEach((record, index) => {
      if (record.malformed || !record.contactId) return;
      positions.set(record.contactId, [...(positions.get(record.contactId) ?? []), index]);
    });
    const several = [...positions.values()].filter((list) => list.length > 1);
    const adjacent = several.filter((list) => list.at(-1)! - list[0]! === list.length - 1);
    expect(adjacent.length / several.length).toBeLessThan(0.5);
  });
});
