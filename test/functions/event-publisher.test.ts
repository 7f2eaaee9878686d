import {
  EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandInput,
  type PutEventsCommandOutput,
} from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  chunkEntries,
  createEventPublisher,
  DEFAULT_MAX_CONCURRENT_REQUESTS,
  type EventEntry,
  entrySize,
  MAX_REQUEST_BYTES,
} from '../../functions/shared/event-publisher';
import { MAX_MESSAGE_BYTES } from '../../functions/shared/sqs-queues';

const eventBridge = mockClient(EventBridgeClient);

beforeEach(() => {
  eventBridge.reset();
});

function entry(contactId: string, padding = 0): EventEntry {
  return {
    Source: 'ctr-sync',
    DetailType: 'CtrReceived',
    Detail: JSON.stringify({ contactId, padding: 'x'.repeat(padding) }),
  };
}

/** Accept every entry whose Detail does not contain `failing`. */
function answer(failing?: string) {
  return (input: PutEventsCommandInput): PutEventsCommandOutput => {
    const entries = (input.Entries ?? []).map((item, index) =>
      failing !== undefined && item.Detail?.includes(failing)
        ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }
        : { EventId: `event-${index}` },
    );
    return {
      FailedEntryCount: entries.filter((item) => 'ErrorCode' in item).length,
      Entries: entries,
      $metadata: {},
    };
  };
}

describe('chunkEntries', () => {
  it('splits entries into requests of at most 10, in order', () => {
    const sizes = Array.from({ length: 25 }, () => 100);

    const { chunks, oversized } = chunkEntries(sizes);

    expect(chunks.map((chunk) => chunk.length)).toEqual([10, 10, 5]);
    expect(chunks.flat()).toEqual(sizes.map((_, index) => index));
    expect(oversized).toEqual([]);
  });

  it('keeps entries of 999,999 bytes in all in one request and starts a new one at 1,000,000', () => {
    // More than the old 256 KB limit in one request, one byte under the 1 MB one.
    const sizes = [400_000, 400_000, 199_999, 1];

    const { chunks } = chunkEntries(sizes);

    expect(chunks).toEqual([[0, 1, 2], [3]]);
  });

  it('keeps two entries that together make exactly 1,000,000 bytes in separate requests', () => {
    const { chunks } = chunkEntries([500_000, 500_000]);

    expect(chunks).toEqual([[0], [1]]);
  });

  it('reports an entry of 1,000,000 bytes or more as oversized and leaves it out of every request', () => {
    const sizes = [10, 1_000_000, 20, 999_999, 1_048_576];

    const { chunks, oversized } = chunkEntries(sizes);

    expect(oversized).toEqual([1, 4]);
    expect(chunks).toEqual([[0, 2], [3]]);
  });

  it('returns no request for no entries', () => {
    expect(chunkEntries([])).toEqual({ chunks: [], oversized: [] });
  });
});

describe('MAX_REQUEST_BYTES', () => {
  it('lets no detail through that the sync queue or the archive stream could refuse', () => {
    // The sync and archive rules deliver the detail (InputPath $.detail), which is smaller than
    // its entry: at most MAX_REQUEST_BYTES - 1 bytes. SQS takes a message of 1 MiB (the sync
    // queue's MaximumMessageSize), Firehose a record of 1,000 KiB (Firehose API Reference, Record).
    expect(MAX_REQUEST_BYTES - 1).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(MAX_REQUEST_BYTES - 1).toBeLessThanOrEqual(1000 * 1024);
  });
});

describe('entrySize', () => {
  it('counts UTF-8 bytes of Source, DetailType and Detail', () => {
    const size = entrySize({ Source: 'ab', DetailType: 'c', Detail: '"ü"' });

    expect(size).toBe(2 + 1 + 4);
  });
});

describe('createEventPublisher', () => {
  it('retries only the failed entry and reports it after maxAttempts', async () => {
    eventBridge.on(PutEventsCommand).callsFake(answer('contact-b'));
    const delays: number[] = [];
    const publisher = createEventPublisher({
      client: new EventBridgeClient({ region: 'us-east-1' }),
      eventBusName: 'ctr-sync-bus',
      maxAttempts: 3,
      sleep: async (ms) => {
        delays.push(ms);
      },
    });

    const outcomes = await publisher.publishAll([entry('contact-a'), entry('contact-b')]);

    expect(outcomes).toEqual([
      { ok: true },
      { ok: false, errorCode: 'ThrottlingException', errorMessage: 'Rate exceeded' },
    ]);
    const requests = eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input);
    expect(requests.map((request) => request.Entries?.length)).toEqual([2, 1, 1]);
    expect(requests[1]?.Entries?.[0]?.Detail).toContain('contact-b');
    expect(requests[0]?.Entries?.every((item) => item.EventBusName === 'ctr-sync-bus')).toBe(true);
    expect(delays).toHaveLength(2);
  });

  it('counts a request that throws as a failed attempt for each of its entries', async () => {
    eventBridge
      .on(PutEventsCommand)
      .rejectsOnce(Object.assign(new Error('Service unavailable'), { name: 'ServiceUnavailable' }))
      .callsFake(answer());
    const publisher = createEventPublisher({
      client: new EventBridgeClient({ region: 'us-east-1' }),
      eventBusName: 'ctr-sync-bus',
      sleep: async () => undefined,
    });

    const outcomes = await publisher.publishAll([entry('contact-a'), entry('contact-b')]);

    expect(outcomes).toEqual([{ ok: true }, { ok: true }]);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(2);
  });

  it('sends an entry of 999,999 bytes and fails one of 1,000,000 as EntryTooLarge', async () => {
    eventBridge.on(PutEventsCommand).callsFake(answer());
    const publisher = createEventPublisher({
      client: new EventBridgeClient({ region: 'us-east-1' }),
      eventBusName: 'ctr-sync-bus',
      sleep: async () => undefined,
    });
    const ofSize = (contactId: string, bytes: number) =>
      entry(contactId, bytes - entrySize(entry(contactId)));
    const under = ofSize('contact-under', 999_999);
    const at = ofSize('contact-at', 1_000_000);
    expect([entrySize(under), entrySize(at)]).toEqual([999_999, 1_000_000]);

    const outcomes = await publisher.publishAll([under, at]);

    expect(outcomes[0]).toEqual({ ok: true });
    expect(outcomes[1]).toMatchObject({ ok: false, errorCode: 'EntryTooLarge' });
    const sent = eventBridge
      .commandCalls(PutEventsCommand)
      .map((call) => call.args[0].input.Entries?.map((item) => item.Detail));
    expect(sent).toEqual([[under.Detail]]);
  });

  it('fails an oversized entry as EntryTooLarge without sending it', async () => {
    eventBridge.on(PutEventsCommand).callsFake(answer());
    const publisher = createEventPublisher({
      client: new EventBridgeClient({ region: 'us-east-1' }),
      eventBusName: 'ctr-sync-bus',
      sleep: async () => undefined,
    });

    const outcomes = await publisher.publishAll([
      entry('contact-a'),
      entry('contact-huge', MAX_REQUEST_BYTES),
    ]);

    expect(outcomes[0]).toEqual({ ok: true });
    expect(outcomes[1]).toMatchObject({ ok: false, errorCode: 'EntryTooLarge' });
    const sent = eventBridge
      .commandCalls(PutEventsCommand)
      .flatMap((call) => call.args[0].input.Entries ?? []);
    expect(sent).toHaveLength(1);
  });

  it.each([
    [2, 2],
    [undefined, DEFAULT_MAX_CONCURRENT_REQUESTS],
  ])(
    'keeps at most maxConcurrentRequests (%s) PutEvents requests in flight and publishes every entry',
    async (maxConcurrentRequests, expected) => {
      let inFlight = 0;
      let mostInFlight = 0;
      eventBridge.on(PutEventsCommand).callsFake(async (input: PutEventsCommandInput) => {
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 2));
        inFlight--;
        return answer()(input);
      });
      const publisher = createEventPublisher({
        client: new EventBridgeClient({ region: 'us-east-1' }),
        eventBusName: 'ctr-sync-bus',
        maxConcurrentRequests,
        sleep: async () => undefined,
      });
      const entries = Array.from({ length: (expected + 3) * 10 }, (_, index) =>
        entry(`contact-${index}`),
      );

      const outcomes = await publisher.publishAll(entries);

      expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
      expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(expected + 3);
      expect(mostInFlight).toBe(expected);
    },
  );
});
