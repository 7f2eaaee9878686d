/**
 * Synthetic Amazon Connect contact records for the local stack (`--generate N`).
 *
 * Each contact starts from the shape of one fixture in `test/fixtures/ctr`
 * (field set, key order, which fields are `null`), gets fresh identifiers,
 * people, places and a consistent timeline, and is republished in 1 to 4
 * versions. Versions are delivered once or twice and shuffled into the stream
 * by delivery time, so a later version can arrive first. About 1% of the
 * records are malformed on purpose.
 *
 * Everything comes from one seeded PRNG and a clock starting at a fixed epoch:
 * the same count and seed give byte-identical records.
 *
 * Source: the fixtures (see test/fixtures/ctr/README.md) and the Amazon Connect
 * admin guide, "Data model for Amazon Connect contact records" and "Contact
 * initiation methods".
 */
import { readFileSync } from 'node:fs';
import type { InputRecord } from './read';

/** What to generate. */
export interface GenerateOptions {
  /** How many records to return: a non-negative integer. */
  count: number;
  /** PRNG seed: a finite number, of which the low 32 bits (as an unsigned integer) are used. */
  seed: number;
}

/**
 * Kinds of malformed record.
 * - `bad-base64`: the base64 text of a contact record, truncated and with characters
 *   outside the base64 alphabet (a producer that double-encoded it); not JSON.
 * - `invalid-json`: a contact record's JSON text cut off part-way.
 * - `invalid-utf8`: a contact record's JSON with an invalid UTF-8 byte sequence inside
 *   a string value.
 * - `missing-contact-id`: a valid JSON contact record without `ContactId`.
 * - `wrong-types`: a valid JSON contact record with a field of the wrong type
 *   (`Agent.NumberOfHolds` a word, an attribute value a number, or
 *   `LastUpdateTimestamp` a number).
 * - `too-large`: a valid JSON contact record of 2,000,000 to 2,150,000 bytes (a huge
 *   attribute value).
 * - `deeply-nested`: a valid JSON contact record with an extra top-level key whose
 *   value is arrays nested 100,000 levels deep.
 * - `proto-key`: a valid JSON contact record with `"__proto__"` keys at top level and
 *   inside `Attributes`.
 */
export type MalformedKind =
  | 'bad-base64'
  | 'invalid-json'
  | 'invalid-utf8'
  | 'missing-contact-id'
  | 'wrong-types'
  | 'too-large'
  | 'deeply-nested'
  | 'proto-key';

/**
 * One generated Kinesis record: {@link InputRecord} (`data` holds the record's bytes,
 * the other fields are what local/input/read.ts reads from them), and for a malformed
 * record, which kind it is (absent on valid records).
 */
export interface GeneratedRecord extends InputRecord {
  malformed?: MalformedKind;
}

/**
 * Seeded PRNG (mulberry32).
 * @param seed - any finite number; its low 32 bits, as an unsigned integer, are the state.
 * @returns a function giving floats in [0, 1), the same sequence for the same seed.
 */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Generates contact records as Amazon Connect publishes them to Kinesis (compact JSON,
 * UTF-8), with republished versions, duplicates and about 1% malformed records.
 *
 * Mix of contacts (percent): inbound answered 38 (of which sfdc attributes 5, NoSync 3,
 * telecom problem 2), abandoned in queue 8, IVR only 8, voicemail 4, outbound 7,
 * external outbound 1, transfer 7, queue transfer 2, callback 4, API 3, WebRTC API 3,
 * disconnect flow 1, monitor 1, chat 7, task 4, email agent reply 1, email flow 1. The
 * first contacts of every run cover each of them once, so a run of 200 records or more
 * holds every InitiationMethod. Versions per contact: 1 (10%), 2 (40%), 3 (30%),
 * 4 (20%); 20% of versions are delivered twice. Timestamps are whole seconds, starting
 * at 2026-10-01T00:00:00Z plus (seed mod 30) days.
 *
 * @param options - `count` records to return and the `seed`.
 * @returns exactly `count` records, in delivery order; same seed and count give
 *   byte-identical `data`.
 * @throws {RangeError} when `count` is not a non-negative integer or `seed` is not finite.
 */
export function generateContactRecords(options: GenerateOptions): GeneratedRecord[] {
  const { count, seed } = options;
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`count must be a non-negative integer, received ${count}`);
  }
  if (!Number.isFinite(seed)) {
    throw new RangeError(`seed must be a finite number, received ${seed}`);
  }
  const rng = createRandom(seed);
  const world = createWorld(rng);
  const start = EPOCH_SECONDS + ((seed >>> 0) % 30) * DAY;
  const malformedKinds = planMalformedKinds(count, rng);

  const stream = new ContactStream(world, start, meanArrivalGap(count));
  let budget = count - malformedKinds.length;
  while (budget > 0) {
    budget -= stream.addContact(budget);
  }
  stream.flush();

  const end = stream.end;
  for (const kind of malformedKinds) {
    const contactStart = start + Math.floor(rng() * (end - start + 1));
    stream.push(
      contactStart + MALFORMED_DELIVERY_DELAY,
      buildMalformedRecord(kind, world, contactStart),
    );
  }
  return stream.inDeliveryOrder();
}

// ---------------------------------------------------------------------------
// Contact records and the fixtures they are shaped after

/** A telephone or email endpoint. */
interface Endpoint {
  Address: string | null;
  Type: string | null;
}

/** `Recording`, or one entry of `Recordings`. */
interface RecordingEntry {
  [field: string]: unknown;
  Location: string | null;
}

interface AgentFields {
  [field: string]: unknown;
  ARN: string;
  AfterContactWorkDuration: number | null;
  AfterContactWorkEndTimestamp: string | null;
  AfterContactWorkStartTimestamp: string | null;
  AgentInteractionDuration: number;
  ConnectedToAgentTimestamp: string;
  CustomerHoldDuration: number;
  LongestHoldDuration: number;
  NumberOfHolds: number;
  RoutingProfile: { ARN: string; Name: string };
  Username: string;
}

interface QueueFields {
  [field: string]: unknown;
  ARN: string;
  DequeueTimestamp: string | null;
  Duration: number;
  EnqueueTimestamp: string | null;
  Name: string;
}

/** A contact record as built here: Connect's JSON, the fields this module sets typed. */
interface Ctr {
  [field: string]: unknown;
  AWSAccountId: string;
  Agent: AgentFields | null;
  AgentConnectionAttempts: number;
  Attributes: Record<string, string>;
  Channel: string;
  ConnectedToSystemTimestamp: string;
  ContactId: string;
  CustomerEndpoint: Endpoint | null;
  DisconnectReason: string;
  DisconnectTimestamp: string;
  InitialContactId: string | null;
  InitiationMethod: string;
  InitiationTimestamp: string;
  InstanceARN: string;
  LastUpdateTimestamp: string;
  MediaStreams: unknown[];
  NextContactId: string | null;
  PreviousContactId: string | null;
  Queue: QueueFields | null;
  Recording: RecordingEntry | null;
  Recordings: RecordingEntry[] | null;
  SystemEndpoint: Endpoint | null;
  TransferCompletedTimestamp: string | null;
  TransferredToEndpoint: Endpoint | null;
}

type FixtureName =
  | 'inbound-answered'
  | 'outbound-answered'
  | 'callback'
  | 'api'
  | 'webrtc-api'
  | 'transfer-with-previous-contact'
  | 'abandoned-in-queue'
  | 'ivr-only'
  | 'voicemail'
  | 'chat'
  | 'task'
  | 'no-sync'
  | 'sfdc-attributes'
  | 'telecom-problem';

const FIXTURE_DIRECTORY = new URL('../../test/fixtures/ctr/', import.meta.url);
const fixtureText = new Map<FixtureName, string>();

/** A fresh copy of a fixture's contact record, read once per process. */
function fromFixture(name: FixtureName): Ctr {
  let text = fixtureText.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`${name}.json`, FIXTURE_DIRECTORY), 'utf8');
    fixtureText.set(name, text);
  }
  return JSON.parse(text) as Ctr;
}

/** How a contact is handled, which decides its timeline and whether it has a queue and an agent. */
type Routing =
  | 'answered' // flow, queue, agent, after-contact work
  | 'abandoned' // flow, queue, customer hangs up
  | 'voicemail' // flow, voicemail queue, message recorded
  | 'ivr' // flow only
  | 'outbound' // agent dials, no wait in queue
  | 'monitor' // supervisor listens in; no queue, no customer endpoint
  | 'agent-reply' // agent writes, no queue
  | 'flow'; // a flow sends, no agent

/** Which earlier contact a contact continues (its PreviousContactId). */
type Follows = 'transfer' | 'queue-transfer' | 'callback' | 'disconnect-flow';

type ScenarioName =
  | 'inbound-answered'
  | 'sfdc-attributes'
  | 'no-sync'
  | 'telecom-problem'
  | 'abandoned-in-queue'
  | 'ivr-only'
  | 'voicemail'
  | 'outbound'
  | 'external-outbound'
  | 'transfer'
  | 'queue-transfer'
  | 'callback'
  | 'api'
  | 'webrtc-api'
  | 'disconnect-flow'
  | 'monitor'
  | 'chat'
  | 'task'
  | 'email-agent-reply'
  | 'email-flow';

interface Scenario {
  name: ScenarioName;
  /** The fixture giving the record's shape, attributes, channel and initiation method. */
  fixture: FixtureName;
  /** Share of contacts, in percent (the weights add up to 100). */
  weight: number;
  routing: Routing;
  follows?: Follows;
  /** InitiationMethod, when it differs from the fixture's. */
  initiationMethod?: string;
  /** Channel, when it differs from the fixture's. */
  channel?: string;
}

const SCENARIOS: readonly Scenario[] = [
  { name: 'inbound-answered', fixture: 'inbound-answered', weight: 28, routing: 'answered' },
  { name: 'sfdc-attributes', fixture: 'sfdc-attributes', weight: 5, routing: 'answered' },
  { name: 'no-sync', fixture: 'no-sync', weight: 3, routing: 'answered' },
  { name: 'telecom-problem', fixture: 'telecom-problem', weight: 2, routing: 'answered' },
  { name: 'abandoned-in-queue', fixture: 'abandoned-in-queue', weight: 8, routing: 'abandoned' },
  { name: 'ivr-only', fixture: 'ivr-only', weight: 8, routing: 'ivr' },
  { name: 'voicemail', fixture: 'voicemail', weight: 4, routing: 'voicemail' },
  { name: 'outbound', fixture: 'outbound-answered', weight: 7, routing: 'outbound' },
  {
    name: 'external-outbound',
    fixture: 'outbound-answered',
    weight: 1,
    routing: 'outbound',
    initiationMethod: 'EXTERNAL_OUTBOUND',
  },
  {
    name: 'transfer',
    fixture: 'transfer-with-previous-contact',
    weight: 7,
    routing: 'answered',
    follows: 'transfer',
  },
  {
    name: 'queue-transfer',
    fixture: 'transfer-with-previous-contact',
    weight: 2,
    routing: 'answered',
    follows: 'queue-transfer',
    initiationMethod: 'QUEUE_TRANSFER',
  },
  { name: 'callback', fixture: 'callback', weight: 4, routing: 'answered', follows: 'callback' },
  { name: 'api', fixture: 'api', weight: 3, routing: 'answered' },
  { name: 'webrtc-api', fixture: 'webrtc-api', weight: 3, routing: 'answered' },
  {
    name: 'disconnect-flow',
    fixture: 'ivr-only',
    weight: 1,
    routing: 'ivr',
    follows: 'disconnect-flow',
    initiationMethod: 'DISCONNECT',
  },
  {
    name: 'monitor',
    fixture: 'inbound-answered',
    weight: 1,
    routing: 'monitor',
    initiationMethod: 'MONITOR',
  },
  { name: 'chat', fixture: 'chat', weight: 7, routing: 'answered' },
  { name: 'task', fixture: 'task', weight: 4, routing: 'answered' },
  {
    name: 'email-agent-reply',
    fixture: 'task',
    weight: 1,
    routing: 'agent-reply',
    initiationMethod: 'AGENT_REPLY',
    channel: 'EMAIL',
  },
  {
    name: 'email-flow',
    fixture: 'task',
    weight: 1,
    routing: 'flow',
    initiationMethod: 'FLOW',
    channel: 'EMAIL',
  },
];

function scenario(name: ScenarioName): Scenario {
  const found = SCENARIOS.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`unknown scenario ${name}`);
  return found;
}

const ROUTINGS_WITH_QUEUE: ReadonlySet<Routing> = new Set([
  'answered',
  'abandoned',
  'voicemail',
  'outbound',
]);
const ROUTINGS_WITH_AGENT: ReadonlySet<Routing> = new Set([
  'answered',
  'outbound',
  'monitor',
  'agent-reply',
]);

// ---------------------------------------------------------------------------
// Randomness helpers

type Random = () => number;

/** A whole number from `min` to `max`, both included. */
function between(rng: Random, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

function pick<T>(rng: Random, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/** One of `choices`, each `[value, weight]`, with probability proportional to its weight. */
function pickWeighted<T>(rng: Random, choices: readonly (readonly [T, number])[]): T {
  const total = choices.reduce((sum, [, weight]) => sum + weight, 0);
  let point = rng() * total;
  for (const [value, weight] of choices) {
    point -= weight;
    if (point < 0) return value;
  }
  const last = choices[choices.length - 1];
  if (!last) throw new Error('pick from an empty list');
  return last[0];
}

function shuffle<T>(rng: Random, items: T[]): T[] {
  for (let index = items.length - 1; index > 0; index--) {
    const other = Math.floor(rng() * (index + 1));
    [items[index], items[other]] = [items[other] as T, items[index] as T];
  }
  return items;
}

/** A UUID in version 4 format (random bits from `rng`). */
function uuid(rng: Random): string {
  const hex = [0, 1, 2, 3]
    .map(() =>
      Math.floor(rng() * 0x1_0000_0000)
        .toString(16)
        .padStart(8, '0'),
    )
    .join('');
  const variant = '89ab'[Math.floor(rng() * 4)] ?? '8';
  const version = `4${hex.slice(13, 16)}`;
  const variantAndClock = `${variant}${hex.slice(17, 20)}`;
  return [hex.slice(0, 8), hex.slice(8, 12), version, variantAndClock, hex.slice(20, 32)].join('-');
}

// ---------------------------------------------------------------------------
// Clock

/**
 * 2026-10-01T00:00:00Z, in seconds since the Unix epoch. Every generated
 * LastUpdateTimestamp (at most about 33 days later) lies before the day this
 * project's tests first ran with the future-timestamp check (2026-12-02), so
 * none is refused as `future-timestamp`.
 */
const EPOCH_SECONDS = Date.UTC(2026, 9, 1) / 1000;
const DAY = 86_400;
/** Fresh contacts are spread over about this many seconds (fewer for small runs). */
const SPREAD_SECONDS = 3 * DAY;
/** Average records one contact takes (versions times copies). */
const RECORDS_PER_CONTACT = 3.1;

/** Seconds between two fresh contacts, on average: three days over the run, 2 to 30 s. */
function meanArrivalGap(count: number): number {
  const contacts = Math.max(1, count / RECORDS_PER_CONTACT);
  return Math.min(30, Math.max(2, SPREAD_SECONDS / contacts));
}

/** ISO-8601 UTC without milliseconds, as Connect writes it: `2026-11-01T14:59:38Z`. */
function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

// ---------------------------------------------------------------------------
// The contact center: instance, agents, queues, numbers, attribute values

const ACCOUNT_ID = '123456789012';
const RECORDING_PREFIX = 'amazon-connect-0a1b2c3d4e5f/connect/example-cc';
const SYSTEM_NUMBERS = ['+15550100100', '+15550100101', '+15550100102', '+15550100103'];
const AGENT_USERNAMES = [
  'a.garcia',
  'j.smith',
  'm.chen',
  's.okafor',
  'l.rossi',
  'k.tanaka',
  'p.novak',
  'r.haddad',
  'e.johansson',
  'd.kim',
  'n.patel',
  't.nguyen',
];
const SUPERVISOR_USERNAMES = ['sup.martin', 'sup.ito'];
const ROUTING_PROFILE_NAMES = ['Basic Routing Profile', 'Billing Profile', 'Support Tier 2'];
const QUEUE_NAMES = ['BasicQueue', 'Billing', 'Support', 'Sales', 'Soporte Técnico', 'Retentions'];

/** Customer names: ASCII, accented, CJK, Hangul, Cyrillic, Hebrew and Arabic (RTL), emoji. */
const CUSTOMER_NAMES = [
  'Alex Johnson',
  'Sam Taylor',
  'María José Núñez',
  'Zoë Ångström',
  'François Lefèvre',
  '山田 太郎',
  '王芳',
  '김민준',
  'Дмитрий Соколов',
  'שרה לוי',
  'محمد الأحمد',
  'Ελένη Παππά',
  'Nguyễn Thị Hoa',
  'Chris 🙂 Lee',
];
const CUSTOMER_NOTES = [
  'Asked for a callback ☎️',
  'Prefers Spanish — habla español',
  'VIP 🌟 handle with care',
  '请用中文回复',
  'يرجى الاتصال بعد الظهر',
  'לקוח חוזר',
  'Unterschrift fehlt für Bestellung Nr. 4411',
  'Order #A-1029 late 😡',
  // U+FFFF is valid in JSON and UTF-8 but not in an SQS message body (a pasted noncharacter).
  'Copied from form \uFFFF field 3',
];
const LANGUAGES = ['en-US', 'es-US', 'fr-CA', 'ja-JP', 'ar-AE', 'he-IL'];
const EMAIL_SUBJECTS = [
  'Question about my bill',
  'Réclamation commande #4411',
  '配送について',
  'Order 🚚 delayed',
];

/** Values for attributes the fixtures carry, by attribute name. */
const FIXTURE_ATTRIBUTE_VALUES: Record<string, readonly string[]> = {
  greetingPlayed: ['true', 'false'],
  menuChoice: ['store-hours', 'billing', 'order-status', 'opción-3', 'agent'],
  customerName: CUSTOMER_NAMES,
  campaign: ['renewals', 'winback', 'Été 2026', '年末キャンペーン'],
  'sfdc-Reason__c': ['Billing', 'Technical', 'Facturación', 'Réclamation'],
  'sfdc-Priority__c': ['High', 'Medium', 'Low'],
  sf_realtime_transcription_status: ['LIMIT_EXCEEDED', 'COMPLETED', 'IN_PROGRESS'],
  vm_lang: ['en-US', 'es-US', 'fr-CA'],
};

/** Attributes a later version adds (set by UpdateContactAttributes after the contact). */
const UPDATED_ATTRIBUTE_VALUES: Record<string, readonly string[]> = {
  surveyScore: ['1', '2', '3', '4', '5'],
  disposition: ['Resolved', 'Follow-up needed', 'Résolu', '已解决', 'נפתר'],
  greetingPlayed: ['false'],
  GreetingPlayed: ['false'],
  customerNote: CUSTOMER_NOTES,
  caseNumber: ['00001026', '00001027', '00004411', '00012345'],
};

interface AgentProfile {
  arn: string;
  username: string;
  routingProfile: { ARN: string; Name: string };
}

interface QueueProfile {
  arn: string;
  name: string;
}

/** The generated contact center, and the sources of randomness and fresh ContactIds. */
interface World {
  rng: Random;
  /** A ContactId no other record of the run has. */
  newContactId: () => string;
  instanceArn: string;
  agents: readonly AgentProfile[];
  supervisors: readonly AgentProfile[];
  queues: readonly QueueProfile[];
  voicemailQueue: QueueProfile;
}

function createWorld(rng: Random): World {
  const instanceArn = `arn:aws:connect:us-east-1:${ACCOUNT_ID}:instance/${uuid(rng)}`;
  const routingProfiles = ROUTING_PROFILE_NAMES.map((Name) => ({
    ARN: `${instanceArn}/routing-profile/${uuid(rng)}`,
    Name,
  }));
  const agentProfile = (username: string): AgentProfile => ({
    arn: `${instanceArn}/agent/${uuid(rng)}`,
    username,
    routingProfile: pick(rng, routingProfiles),
  });
  const queueProfile = (name: string): QueueProfile => ({
    arn: `${instanceArn}/queue/${uuid(rng)}`,
    name,
  });
  const usedIds = new Set<string>();
  return {
    rng,
    newContactId: () => {
      let id = uuid(rng);
      while (usedIds.has(id)) id = uuid(rng);
      usedIds.add(id);
      return id;
    },
    instanceArn,
    agents: AGENT_USERNAMES.map(agentProfile),
    supervisors: SUPERVISOR_USERNAMES.map(agentProfile),
    queues: QUEUE_NAMES.map(queueProfile),
    voicemailQueue: queueProfile('Voicemail'),
  };
}

/** A customer number in the fictional +1 555 01xx xxx range. */
function customerNumber(rng: Random): string {
  return `+155501${String(between(rng, 0, 99_999)).padStart(5, '0')}`;
}

// ---------------------------------------------------------------------------
// Contact: one contact's record (its first version) and timeline

/** When things happened in a contact, in seconds since the Unix epoch; durations in seconds. */
interface Timeline {
  initiation: number;
  connectedToSystem: number;
  enqueue: number | null;
  dequeue: number | null;
  agentConnected: number | null;
  /** Seconds the agent interacted with the customer, holds excluded. */
  interaction: number;
  /** Length of each hold, in seconds. */
  holds: number[];
  /** End of after-contact work, which starts at `disconnect`; `null` without it. */
  acwEnd: number | null;
  disconnect: number;
}

function planTimeline(routing: Routing, record: Ctr, start: number, rng: Random): Timeline {
  const connectedToSystem = start + between(rng, 1, 3);
  const timeline: Timeline = {
    initiation: start,
    connectedToSystem,
    enqueue: null,
    dequeue: null,
    agentConnected: null,
    interaction: 0,
    holds: [],
    acwEnd: null,
    disconnect: connectedToSystem,
  };
  switch (routing) {
    case 'answered':
    case 'abandoned':
    case 'voicemail': {
      const inFlow =
        record.InitiationMethod === 'INBOUND' ? between(rng, 5, 90) : between(rng, 1, 10);
      timeline.enqueue = connectedToSystem + inFlow;
      timeline.dequeue = timeline.enqueue + queueWait(routing, record, rng);
      timeline.disconnect = timeline.dequeue;
      if (routing === 'answered') handleByAgent(timeline, timeline.dequeue, record.Channel, rng);
      break;
    }
    case 'outbound':
      handleByAgent(timeline, connectedToSystem + between(rng, 5, 30), record.Channel, rng);
      break;
    case 'agent-reply':
      handleByAgent(timeline, connectedToSystem, record.Channel, rng);
      break;
    case 'monitor':
      timeline.agentConnected = connectedToSystem;
      timeline.interaction = between(rng, 30, 600);
      timeline.disconnect = connectedToSystem + timeline.interaction;
      break;
    case 'ivr':
      timeline.disconnect = connectedToSystem + between(rng, 10, 240);
      break;
    case 'flow':
      timeline.disconnect = connectedToSystem + between(rng, 1, 20);
      break;
  }
  return timeline;
}

/** Seconds in queue: long for callbacks, up to 15 min before abandoning, mostly short otherwise. */
function queueWait(routing: Routing, record: Ctr, rng: Random): number {
  if (record.InitiationMethod === 'CALLBACK') return between(rng, 300, 1800);
  if (routing === 'abandoned') return between(rng, 20, 900);
  if (routing === 'voicemail') return between(rng, 20, 150);
  return rng() < 0.7 ? between(rng, 2, 60) : between(rng, 61, 600);
}

const INTERACTION_SECONDS: Record<string, readonly [number, number]> = {
  VOICE: [30, 900],
  CHAT: [120, 1500],
  TASK: [300, 3600],
  EMAIL: [60, 900],
};

/** An agent takes the contact at `agentConnected`: interaction, holds (voice only), ACW. */
function handleByAgent(
  timeline: Timeline,
  agentConnected: number,
  channel: string,
  rng: Random,
): void {
  const [min, max] = INTERACTION_SECONDS[channel] ?? [30, 900];
  timeline.agentConnected = agentConnected;
  timeline.interaction = between(rng, min, max);
  if (channel === 'VOICE') {
    const holds = pickWeighted(rng, [
      [0, 50],
      [1, 25],
      [2, 15],
      [3, 10],
    ]);
    timeline.holds = Array.from({ length: holds }, () => between(rng, 5, 180));
  }
  const holdTotal = timeline.holds.reduce((sum, hold) => sum + hold, 0);
  timeline.disconnect = agentConnected + timeline.interaction + holdTotal;
  timeline.acwEnd = timeline.disconnect + between(rng, 5, 120);
}

/** A contact's first version and what its followers and versions need to know. */
interface Contact {
  scenario: Scenario;
  record: Ctr;
  timeline: Timeline;
}

/**
 * Builds a contact of `scenario` starting at `start` (seconds since the Unix epoch),
 * from its fixture's shape, with a fresh ContactId and no links to other contacts.
 */
function buildContact(scenario: Scenario, world: World, start: number): Contact {
  const { rng } = world;
  const record = fromFixture(scenario.fixture);
  record.ContactId = world.newContactId();
  record.AWSAccountId = ACCOUNT_ID;
  record.InstanceARN = world.instanceArn;
  record.InitiationMethod = scenario.initiationMethod ?? record.InitiationMethod;
  record.Channel = scenario.channel ?? record.Channel;
  record.PreviousContactId = null;
  record.InitialContactId = null;
  record.NextContactId = null;
  record.TransferCompletedTimestamp = null;
  record.TransferredToEndpoint = null;

  assignAgentAndQueue(record, scenario, world);
  assignEndpoints(record, scenario, rng);
  const timeline = planTimeline(scenario.routing, record, start, rng);
  applyTimeline(record, timeline);
  assignDisconnectReason(record, scenario, rng);
  assignRecordings(record, scenario, timeline, rng);
  record.Attributes = attributesFor(record, rng);
  return { scenario, record, timeline };
}

function assignAgentAndQueue(record: Ctr, scenario: Scenario, world: World): void {
  const { rng } = world;
  if (!ROUTINGS_WITH_AGENT.has(scenario.routing) || !record.Agent) {
    record.Agent = null;
    record.AgentConnectionAttempts = 0;
  } else {
    const agent = pick(rng, scenario.routing === 'monitor' ? world.supervisors : world.agents);
    record.Agent.ARN = agent.arn;
    record.Agent.Username = agent.username;
    record.Agent.RoutingProfile = { ...agent.routingProfile };
    record.AgentConnectionAttempts = 1;
  }
  if (!ROUTINGS_WITH_QUEUE.has(scenario.routing) || !record.Queue) {
    record.Queue = null;
  } else {
    const queue = scenario.routing === 'voicemail' ? world.voicemailQueue : pick(rng, world.queues);
    record.Queue.ARN = queue.arn;
    record.Queue.Name = queue.name;
  }
}

function assignEndpoints(record: Ctr, scenario: Scenario, rng: Random): void {
  if (record.Channel === 'EMAIL') {
    record.CustomerEndpoint = {
      Address: `customer.${between(rng, 1000, 99_999)}@example.com`,
      Type: 'EMAIL_ADDRESS',
    };
    record.SystemEndpoint = { Address: 'support@example.com', Type: 'EMAIL_ADDRESS' };
    return;
  }
  if (scenario.routing === 'monitor') record.CustomerEndpoint = null;
  if (record.CustomerEndpoint) record.CustomerEndpoint.Address = customerNumber(rng);
  if (record.SystemEndpoint) record.SystemEndpoint.Address = pick(rng, SYSTEM_NUMBERS);
}

function applyTimeline(record: Ctr, timeline: Timeline): void {
  const { enqueue, dequeue, agentConnected, acwEnd, disconnect, holds } = timeline;
  record.InitiationTimestamp = iso(timeline.initiation);
  record.ConnectedToSystemTimestamp = iso(timeline.connectedToSystem);
  record.DisconnectTimestamp = iso(disconnect);
  if (record.Queue) {
    record.Queue.EnqueueTimestamp = enqueue === null ? null : iso(enqueue);
    record.Queue.DequeueTimestamp = dequeue === null ? null : iso(dequeue);
    record.Queue.Duration = enqueue === null || dequeue === null ? 0 : dequeue - enqueue;
  }
  if (record.Agent && agentConnected !== null) {
    Object.assign(record.Agent, {
      AfterContactWorkDuration: acwEnd === null ? null : acwEnd - disconnect,
      AfterContactWorkEndTimestamp: acwEnd === null ? null : iso(acwEnd),
      AfterContactWorkStartTimestamp: acwEnd === null ? null : iso(disconnect),
      AgentInteractionDuration: timeline.interaction,
      ConnectedToAgentTimestamp: iso(agentConnected),
      CustomerHoldDuration: holds.reduce((sum, hold) => sum + hold, 0),
      LongestHoldDuration: Math.max(0, ...holds),
      NumberOfHolds: holds.length,
    });
  }
}

function assignDisconnectReason(record: Ctr, scenario: Scenario, rng: Random): void {
  const handledCall =
    record.Channel === 'VOICE' &&
    (scenario.routing === 'answered' || scenario.routing === 'outbound');
  if (handledCall && record.DisconnectReason !== 'TELECOM_PROBLEM') {
    record.DisconnectReason = rng() < 0.7 ? 'CUSTOMER_DISCONNECT' : 'AGENT_DISCONNECT';
  } else if (scenario.routing === 'ivr' && !scenario.follows) {
    record.DisconnectReason = rng() < 0.5 ? 'CONTACT_FLOW_DISCONNECT' : 'CUSTOMER_DISCONNECT';
  } else if (scenario.routing === 'monitor') {
    record.DisconnectReason = 'AGENT_DISCONNECT';
  } else if (scenario.routing === 'flow') {
    record.DisconnectReason = 'CONTACT_FLOW_DISCONNECT';
  }
}

/** Recording locations for the contact; about 10% of handled calls are not recorded. */
function assignRecordings(record: Ctr, scenario: Scenario, timeline: Timeline, rng: Random): void {
  const unrecorded =
    scenario.routing === 'monitor' ||
    (record.Channel === 'VOICE' && scenario.routing !== 'voicemail' && rng() < 0.1);
  if (unrecorded) {
    record.Recording = null;
    record.Recordings = null;
    return;
  }
  const at = iso(timeline.agentConnected ?? timeline.enqueue ?? timeline.connectedToSystem);
  const day = at.slice(0, 10);
  const minute = `${day.replaceAll('-', '')}T${at.slice(11, 16)}`;
  const [folder, extension] =
    record.Channel === 'CHAT' ? ['ChatTranscripts', 'json'] : ['CallRecordings', 'wav'];
  const file = `${record.ContactId}_${minute}_UTC.${extension}`;
  const location = `${RECORDING_PREFIX}/${folder}/${day.replaceAll('-', '/')}/${file}`;
  if (record.Recording) record.Recording.Location = location;
  for (const entry of record.Recordings ?? []) entry.Location = location;
}

/** The fixture's attributes with fresh values, plus some customer details (often non-ASCII). */
function attributesFor(record: Ctr, rng: Random): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(record.Attributes ?? {})) {
    const values = FIXTURE_ATTRIBUTE_VALUES[name];
    attributes[name] = values ? pick(rng, values) : value;
  }
  if ('WebRTC_From' in attributes) attributes.WebRTC_From = customerNumber(rng);
  if ('WebRTC_To' in attributes) attributes.WebRTC_To = pick(rng, SYSTEM_NUMBERS);
  if ('ticketId' in attributes) attributes.ticketId = `T-${between(rng, 1000, 99_999)}`;
  if (record.Channel === 'EMAIL') attributes.emailSubject = pick(rng, EMAIL_SUBJECTS);
  if (rng() < 0.35) attributes.customerName = pick(rng, CUSTOMER_NAMES);
  if (rng() < 0.2) attributes.language = pick(rng, LANGUAGES);
  if (rng() < 0.1) attributes.customerNote = pick(rng, CUSTOMER_NOTES);
  return attributes;
}

// ---------------------------------------------------------------------------
// Links between contacts: transfers, callbacks, disconnect flows

/** Whether `contact` can be the PreviousContactId of a contact that `follows` it. */
function canBeFollowed(follows: Follows, contact: Contact): boolean {
  const { record, scenario } = contact;
  if (record.Channel !== 'VOICE') return false;
  switch (follows) {
    case 'transfer':
      return (
        record.Agent !== null && scenario.routing !== 'monitor' && record.NextContactId === null
      );
    case 'queue-transfer':
      return scenario.routing === 'abandoned' && record.NextContactId === null;
    case 'callback':
      return record.InitiationMethod === 'INBOUND';
    case 'disconnect-flow':
      return record.Agent !== null && scenario.routing !== 'monitor';
  }
}

/** When the follower starts: at the transfer, or minutes later for a callback. */
function followerStart(follows: Follows, previous: Contact, rng: Random): number {
  const end = previous.timeline.disconnect;
  return follows === 'callback' ? end + between(rng, 120, 3600) : end;
}

/**
 * Links `follower` to `previous`: PreviousContactId, InitialContactId (the first contact
 * of the chain), the same customer; a transfer also sets the previous contact's
 * NextContactId and TransferCompletedTimestamp.
 */
function link(follows: Follows, previous: Contact, follower: Contact): void {
  const before = previous.record;
  const after = follower.record;
  after.PreviousContactId = before.ContactId;
  after.InitialContactId = before.InitialContactId ?? before.ContactId;
  if (after.CustomerEndpoint && before.CustomerEndpoint) {
    after.CustomerEndpoint.Address = before.CustomerEndpoint.Address;
  }
  if (follows === 'transfer' || follows === 'queue-transfer') {
    before.NextContactId = after.ContactId;
    before.TransferCompletedTimestamp = iso(previous.timeline.disconnect);
  }
}

/** The scenario a contact needs before it, when no earlier contact can be followed. */
function predecessorScenario(follows: Follows): ScenarioName {
  return follows === 'queue-transfer' ? 'abandoned-in-queue' : 'inbound-answered';
}

// ---------------------------------------------------------------------------
// Versions: republished records of one contact

/** Share of contacts with 1, 2, 3 or 4 versions, in percent. */
const VERSION_COUNT_WEIGHTS: readonly (readonly [number, number])[] = [
  [1, 10],
  [2, 40],
  [3, 30],
  [4, 20],
];
/** Probability that a version is delivered twice. */
const DUPLICATE_RATE = 0.2;

/** One published version of a contact. */
interface Version {
  /** LastUpdateTimestamp, in seconds since the Unix epoch. */
  lastUpdate: number;
  /** How many times it is delivered: 1, or 2 (a byte-identical duplicate). */
  copies: number;
  /** Turns the record of the previous version into this one; absent on the first. */
  apply?: () => void;
}

/**
 * How many times each version is delivered (the array's length is the number of
 * versions), at most `budget` records in all: duplicates go first, then versions, so a
 * contact near the end of the run simply has fewer versions.
 */
function planCopies(rng: Random, budget: number): number[] {
  const versions = pickWeighted(rng, VERSION_COUNT_WEIGHTS);
  const copies = Array.from({ length: versions }, () => (rng() < DUPLICATE_RATE ? 2 : 1));
  let total = copies.reduce((sum, copy) => sum + copy, 0);
  while (total > budget) {
    const duplicate = copies.lastIndexOf(2);
    if (duplicate >= 0) copies[duplicate] = 1;
    else copies.pop();
    total--;
  }
  return copies;
}

/** Seconds between two versions: mostly seconds or minutes, sometimes days (the real sample). */
function revisionGap(rng: Random): number {
  const roll = rng();
  if (roll < 0.45) return between(rng, 1, 30);
  if (roll < 0.85) return between(rng, 31, 3600);
  return between(rng, 3601, 3 * DAY);
}

/**
 * Plans the versions of `contact`, one per entry of `copies`. The record becomes the
 * first version (after-contact work still running or the recording not yet available,
 * sometimes); each later version is 1 s or more after the previous one and completes
 * what was pending, adds attributes, or corrects the hold counts.
 */
function planVersions(contact: Contact, copies: number[], rng: Random): Version[] {
  const { record, timeline, scenario } = contact;
  const pending: (() => void)[] = [];
  let firstUpdate = Math.max(timeline.disconnect, timeline.acwEnd ?? 0) + between(rng, 5, 90);
  let secondNotBefore = 0;
  const agent = record.Agent;
  if (copies.length > 1 && agent && timeline.acwEnd !== null && rng() < 0.4) {
    pending.push(deferAfterContactWork(agent));
    firstUpdate = timeline.disconnect + between(rng, 1, timeline.acwEnd - timeline.disconnect);
    secondNotBefore = timeline.acwEnd + between(rng, 5, 60);
  }
  if (copies.length > 1 && record.Recording && scenario.routing !== 'voicemail' && rng() < 0.3) {
    pending.push(deferRecording(record));
  }

  const versions: Version[] = [];
  let lastUpdate = firstUpdate;
  copies.forEach((copyCount, index) => {
    if (index === 0) {
      versions.push({ lastUpdate, copies: copyCount });
      return;
    }
    lastUpdate = Math.max(lastUpdate + revisionGap(rng), index === 1 ? secondNotBefore : 0);
    const changes = index === copies.length - 1 ? pending.splice(0) : pending.splice(0, 1);
    if (changes.length === 0) changes.push(randomChange(record, rng));
    // Every version shows on the VoiceCall (callAttributes), so a VoiceCall left on an older
    // version is told from one on the newest whatever else the version changed.
    changes.push(() => {
      record.Attributes[REVISION_ATTRIBUTE] = String(index + 1);
    });
    versions.push({ lastUpdate, copies: copyCount, apply: () => changes.forEach((c) => c()) });
  });
  return versions;
}

/** The attribute each later version sets to its number (2, 3, 4): an `sfdc-` one, so SCV receives it. */
export const REVISION_ATTRIBUTE = 'sfdc-revision';

/** Clears the end of after-contact work from the first version; the change restores it. */
function deferAfterContactWork(agent: AgentFields): () => void {
  const { AfterContactWorkEndTimestamp: end, AfterContactWorkDuration: duration } = agent;
  agent.AfterContactWorkEndTimestamp = null;
  agent.AfterContactWorkDuration = null;
  return () => {
    agent.AfterContactWorkEndTimestamp = end;
    agent.AfterContactWorkDuration = duration;
  };
}

/** Removes the recording from the first version; the change adds it. */
function deferRecording(record: Ctr): () => void {
  const { Recording: recording, Recordings: recordings } = record;
  record.Recording = null;
  record.Recordings = null;
  return () => {
    record.Recording = recording;
    record.Recordings = recordings;
  };
}

/** A later version's change: a hold the first version missed, or attributes added later. */
function randomChange(record: Ctr, rng: Random): () => void {
  const agent = record.Agent;
  if (agent && record.Channel === 'VOICE' && rng() < 0.35) {
    const seconds = between(rng, 5, 120);
    return () => {
      // The hold comes out of the interaction, so the timeline stays as it was.
      const hold = Math.min(seconds, agent.AgentInteractionDuration - 5);
      if (hold <= 0) return;
      agent.NumberOfHolds += 1;
      agent.CustomerHoldDuration += hold;
      agent.LongestHoldDuration = Math.max(agent.LongestHoldDuration, hold);
      agent.AgentInteractionDuration -= hold;
    };
  }
  const name = pick(rng, Object.keys(UPDATED_ATTRIBUTE_VALUES));
  const value = pick(rng, UPDATED_ATTRIBUTE_VALUES[name] ?? ['true']);
  return () => {
    record.Attributes[name] = value;
  };
}

// ---------------------------------------------------------------------------
// Delivery: versions and copies onto the stream

/** Seconds from publication to delivery: mostly under 30 s, up to 30 min on retries. */
function deliveryDelay(rng: Random): number {
  return rng() < 0.85 ? between(rng, 0, 30) : between(rng, 31, 1800);
}

interface Delivery {
  /** Delivery time, seconds since the Unix epoch. */
  at: number;
  /** Order of creation, to break ties. */
  sequence: number;
  record: GeneratedRecord;
}

/** Contacts kept open (not yet serialized) so later contacts can follow them. */
const OPEN_CONTACTS = 32;

interface OpenContact extends Contact {
  versions: Version[];
}

/**
 * The stream of deliveries: builds contacts one after another, links followers to
 * recent contacts, and serializes each contact's versions once no later contact can
 * change it any more.
 */
class ContactStream {
  private readonly deliveries: Delivery[] = [];
  private readonly open: OpenContact[] = [];
  /**
   * Scenarios to build before picking from the mix: each one once, in a seeded order,
   * and any that had to wait for a contact it can follow.
   */
  private readonly uncovered: ScenarioName[];
  private clock: number;
  private latest: number;

  constructor(
    private readonly world: World,
    start: number,
    private readonly meanGap: number,
  ) {
    this.clock = start;
    this.latest = start;
    const others = SCENARIOS.map(({ name }) => name).filter((name) => name !== 'inbound-answered');
    this.uncovered = ['inbound-answered', ...shuffle(world.rng, others)];
  }

  /** Latest delivery time so far, in seconds since the Unix epoch. */
  get end(): number {
    return this.latest;
  }

  /** Adds one contact of at most `budget` records (`budget` >= 1); returns how many it takes. */
  addContact(budget: number): number {
    const { rng } = this.world;
    const chosen = this.nextScenario();
    const previous = chosen.follows ? this.findPrevious(chosen.follows) : undefined;
    let contact: Contact;
    if (chosen.follows && previous) {
      contact = buildContact(chosen, this.world, followerStart(chosen.follows, previous, rng));
      link(chosen.follows, previous, contact);
    } else {
      const fallback = chosen.follows ? scenario(predecessorScenario(chosen.follows)) : chosen;
      if (fallback !== chosen) this.uncovered.unshift(chosen.name);
      contact = buildContact(fallback, this.world, this.clock);
      this.clock += between(rng, 0, Math.round(2 * this.meanGap));
    }
    const copies = planCopies(rng, budget);
    this.open.push({ ...contact, versions: planVersions(contact, copies, rng) });
    if (this.open.length > OPEN_CONTACTS) this.deliver(this.open.shift() as OpenContact);
    return copies.reduce((sum, copy) => sum + copy, 0);
  }

  /** Delivers the contacts still open. */
  flush(): void {
    for (const contact of this.open.splice(0)) this.deliver(contact);
  }

  push(at: number, record: GeneratedRecord): void {
    this.deliveries.push({ at, sequence: this.deliveries.length, record });
    this.latest = Math.max(this.latest, at);
  }

  inDeliveryOrder(): GeneratedRecord[] {
    return this.deliveries
      .sort((a, b) => a.at - b.at || a.sequence - b.sequence)
      .map(({ record }) => record);
  }

  private nextScenario(): Scenario {
    const name = this.uncovered.shift();
    if (name) return scenario(name);
    return pickWeighted(
      this.world.rng,
      SCENARIOS.map((candidate) => [candidate, candidate.weight] as const),
    );
  }

  private findPrevious(follows: Follows): Contact | undefined {
    const candidates = this.open.filter((contact) => canBeFollowed(follows, contact));
    return candidates.length > 0 ? pick(this.world.rng, candidates) : undefined;
  }

  /** Serializes each version of `contact` and delivers each copy. */
  private deliver(contact: OpenContact): void {
    const { record } = contact;
    const described = {
      contactId: record.ContactId,
      initiationTimestamp: record.InitiationTimestamp,
      voice: isVoice(record.Channel),
    };
    for (const version of contact.versions) {
      version.apply?.();
      record.LastUpdateTimestamp = iso(version.lastUpdate);
      const json = JSON.stringify(record);
      for (let copy = 0; copy < version.copies; copy++) {
        const at = version.lastUpdate + deliveryDelay(this.world.rng);
        this.push(at, { data: Buffer.from(json, 'utf8'), ...described });
      }
    }
  }
}

/** As local/input/read.ts reads it: VOICE, or no channel (the oldest records). */
function isVoice(channel: unknown): boolean {
  return channel === undefined || channel === null || channel === 'VOICE';
}

// ---------------------------------------------------------------------------
// Malformed records

/** Share of malformed records. */
const MALFORMED_RATE = 0.01;
/** In the order a run includes them first; `invalid-json` comes in any run of 8 or more. */
const MALFORMED_KINDS: readonly MalformedKind[] = [
  'invalid-json',
  'missing-contact-id',
  'wrong-types',
  'invalid-utf8',
  'bad-base64',
  'proto-key',
  'deeply-nested',
  'too-large',
];
const SMALL_MALFORMED_KINDS = MALFORMED_KINDS.filter((kind) => kind !== 'too-large');
/** Runs of this many records or more hold a `too-large` record (2 MB)... */
const TOO_LARGE_FROM_COUNT = 1000;
/** ...and one more per this many records beyond the first. */
const TOO_LARGE_PER = 50_000;
const NESTING_DEPTH = 100_000;
/** Seconds from a malformed record's contact start to its delivery (the contact has ended). */
const MALFORMED_DELIVERY_DELAY = 3600;

/**
 * The malformed records of a run of `count`: 1% (none below 8 records), each kind once
 * as far as they fit, then random kinds; `too-large` once from 1,000 records, plus one
 * per 50,000.
 */
function planMalformedKinds(count: number, rng: Random): MalformedKind[] {
  if (count < 8) return [];
  const total = Math.max(1, Math.round(count * MALFORMED_RATE));
  const tooLarge =
    count >= TOO_LARGE_FROM_COUNT ? Math.max(1, Math.floor(count / TOO_LARGE_PER)) : 0;
  const kinds = (tooLarge > 0 ? MALFORMED_KINDS : SMALL_MALFORMED_KINDS).slice(0, total);
  let tooLargeLeft = tooLarge - (kinds.includes('too-large') ? 1 : 0);
  while (kinds.length < total) {
    if (tooLargeLeft > 0) {
      kinds.push('too-large');
      tooLargeLeft--;
    } else {
      kinds.push(pick(rng, SMALL_MALFORMED_KINDS));
    }
  }
  return kinds;
}

/**
 * A standalone malformed record, built from a fresh inbound answered contact (its own
 * ContactId) starting at `start` (seconds since the Unix epoch). `contactId`,
 * `initiationTimestamp` and `voice` are what local/input/read.ts reads from the bytes;
 * without a ContactId, `voice` is false.
 */
function buildMalformedRecord(kind: MalformedKind, world: World, start: number): GeneratedRecord {
  const { rng } = world;
  const { record, timeline } = buildContact(scenario('inbound-answered'), world, start);
  record.LastUpdateTimestamp = iso((timeline.acwEnd ?? timeline.disconnect) + between(rng, 5, 90));
  const described = {
    contactId: record.ContactId,
    initiationTimestamp: record.InitiationTimestamp,
    voice: isVoice(record.Channel),
  };
  switch (kind) {
    case 'bad-base64':
      return { data: corruptBase64(JSON.stringify(record), rng), voice: false, malformed: kind };
    case 'invalid-json':
      return { data: truncateJson(JSON.stringify(record), rng), voice: false, malformed: kind };
    case 'invalid-utf8':
      return { data: insertInvalidUtf8(record, rng), ...described, malformed: kind };
    case 'missing-contact-id': {
      const { ContactId: _removed, ...rest } = record;
      const data = Buffer.from(JSON.stringify(rest), 'utf8');
      return {
        data,
        initiationTimestamp: record.InitiationTimestamp,
        voice: false,
        malformed: kind,
      };
    }
    case 'wrong-types':
      return { data: withWrongType(record, rng), ...described, malformed: kind };
    case 'too-large':
      return {
        data: padToSize(record, between(rng, 2_000_000, 2_150_000)),
        ...described,
        malformed: kind,
      };
    case 'deeply-nested': {
      const nested = `${'['.repeat(NESTING_DEPTH)}${']'.repeat(NESTING_DEPTH)}`;
      const json = `${JSON.stringify(record).slice(0, -1)},"NestedPayload":${nested}}`;
      return { data: Buffer.from(json, 'utf8'), ...described, malformed: kind };
    }
    case 'proto-key':
      return { data: withProtoKeys(JSON.stringify(record)), ...described, malformed: kind };
  }
}

/** The record's base64 text, cut to a length that is not a multiple of 4, with `!*.~$%` in it. */
function corruptBase64(json: string, rng: Random): Buffer {
  const base64 = Buffer.from(json, 'utf8').toString('base64');
  let length = between(rng, Math.floor(base64.length / 2), base64.length - 2);
  if (length % 4 === 0) length--;
  const characters = base64.slice(0, length).split('');
  for (let bad = 0; bad < 3; bad++) {
    characters[between(rng, 4, length - 1)] = pick(rng, ['!', '*', '.', '~', '$', '%']);
  }
  return Buffer.from(characters.join(''), 'ascii');
}

/** The JSON text cut off between 10% and 90% of its length. */
function truncateJson(json: string, rng: Random): Buffer {
  const cut = between(rng, Math.floor(json.length * 0.1), Math.floor(json.length * 0.9));
  return Buffer.from(json.slice(0, cut), 'utf8');
}

/**
 * The record's JSON with invalid UTF-8 (a bad continuation byte, a lone 0xFF, an encoded
 * surrogate or a cut sequence) at the start of the customerName attribute value.
 */
function insertInvalidUtf8(record: Ctr, rng: Random): Buffer {
  record.Attributes.customerName = pick(rng, CUSTOMER_NAMES);
  const json = Buffer.from(JSON.stringify(record), 'utf8');
  const marker = Buffer.from('"customerName":"', 'utf8');
  const position = json.indexOf(marker) + marker.length;
  const invalid = pick(rng, [[0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xe2, 0x82]]);
  return Buffer.concat([json.subarray(0, position), Buffer.from(invalid), json.subarray(position)]);
}

/**
 * The record's JSON with one field of the wrong type: a word for NumberOfHolds,
 * numeric attribute values, or LastUpdateTimestamp in epoch seconds.
 */
function withWrongType(record: Ctr, rng: Random): Buffer {
  const variant = between(rng, 0, 2);
  const json: Record<string, unknown> = { ...record };
  if (variant === 0 && record.Agent) {
    const words = ['zero', 'one', 'two', 'three'];
    json.Agent = { ...record.Agent, NumberOfHolds: words[record.Agent.NumberOfHolds] ?? 'many' };
  } else if (variant === 1) {
    json.Attributes = { ...record.Attributes, callCount: between(rng, 1, 9), queuePosition: 3 };
  } else {
    json.LastUpdateTimestamp = Math.floor(Date.parse(record.LastUpdateTimestamp) / 1000);
  }
  return Buffer.from(JSON.stringify(json), 'utf8');
}

const TRANSCRIPT_LINE =
  'Agent: Thank you for calling, how can I help? Customer: My order has not arrived yet. ';

/** The record with a `transcript` attribute making it exactly `size` bytes. */
function padToSize(record: Ctr, size: number): Buffer {
  record.Attributes.transcript = '';
  const length = Buffer.byteLength(JSON.stringify(record), 'utf8');
  const padding = size - length;
  record.Attributes.transcript = TRANSCRIPT_LINE.repeat(
    Math.ceil(padding / TRANSCRIPT_LINE.length),
  ).slice(0, padding);
  return Buffer.from(JSON.stringify(record), 'utf8');
}

/** `"__proto__"` first at top level (an object) and first in Attributes (a string). */
function withProtoKeys(json: string): Buffer {
  const attributes = '"Attributes":{';
  const at = json.indexOf(attributes) + attributes.length;
  const separator = json[at] === '}' ? '' : ',';
  const withAttribute = `${json.slice(0, at)}"__proto__":"polluted"${separator}${json.slice(at)}`;
  return Buffer.from(`{"__proto__":{"isAdmin":"true"},${withAttribute.slice(1)}`, 'utf8');
}
