/**
 * The sync ledger over Amazon DynamoDB: one item per ContactId (partition key
 * `contactId`), written only with conditional writes.
 *
 * Attributes: `claimed`, `sent`, `heldVersion` (version keys, S); `claimedBy`
 * (the claiming message's id, S); `sends` (the send generation) and `dirty`
 * (the generation at which an out-of-order landing was found) (N);
 * `claimedAt`, `sentAt`, `receivedAt`, `overridesAt`, `pendingSince` (ms
 * since the epoch, N); `skipped` (a skip reason, S); `overrides` (M of
 * `toNumber` / `fromNumber`, S); `heldJson` (S) or `heldRef` (M of `bucket`,
 * `key`): a record held for a later send; `pending` (S, always `"pending"`)
 * with `pendingSince`: the keys of the sparse global secondary index
 * {@link PENDING_INDEX}, present only while a version may be unsent;
 * `expiresAt` (epoch seconds, N): the table's TTL attribute.
 *
 * Cost: a write is billed on the larger of the item before and after it, in
 * 1 KB units, and a failed conditional write is billed too (Amazon DynamoDB
 * Developer Guide, "Capacity unit consumption for write operations"). The
 * common path keeps the item far below 1 KB: no record is stored in it, so a
 * claim and a mark-sent are one write unit each (a record held after a
 * failure, a redelivery or a concurrent send stays until the next claim,
 * and makes that contact's writes cost its size meanwhile), and the index is written
 * only when `pending` appears or goes (an update that changes no key or
 * projected attribute of an index does not write to it; Developer Guide,
 * "Provisioned throughput considerations for Global Secondary Indexes").
 *
 * A failed condition returns the item as it was (`ReturnValuesOnConditionCheckFailure:
 * ALL_OLD`, Amazon DynamoDB API Reference, UpdateItem), so a duplicate or a
 * superseded claim costs one request. Where an endpoint does not return it
 * (dynalite), the adapter reads the item instead.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { SkipReason } from '../../domain/eligibility';
import { SWEEP_CURSOR_PREFIX } from '../../domain/ledger-keys';
import type {
  ClaimOutcome,
  FieldOverrides,
  HeldRecord,
  LedgerItem,
  SyncLedger,
} from '../../domain/ports';

/**
 * The key of the scheduled sweep's cursor of `band`: an item of the table under
 * a prefix no accepted ContactId starts with (domain/ledger-keys.ts), holding
 * `sweptTo` (ms, N) and no TTL.
 */
export function sweepCursorKey(band: string): string {
  return `${SWEEP_CURSOR_PREFIX}${band}`;
}

/** Name of the sparse index of pending items (partition key `pending`, sort key `pendingSince`). */
export const PENDING_INDEX = 'pending';
const PENDING = 'pending';

/** Options of {@link createDynamoDbLedger}. */
export interface DynamoDbLedgerOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Days an item lives after its last claim or held override (its TTL), e.g. 730. */
  ttlDays: number;
  /** Milliseconds since the epoch (injected for tests). */
  now?: () => number;
}

const str = (value: string): AttributeValue => ({ S: value });
const num = (value: number): AttributeValue => ({ N: String(value) });

function heldValue(held: HeldRecord): { name: 'heldJson' | 'heldRef'; value: AttributeValue } {
  return 'json' in held
    ? { name: 'heldJson', value: str(held.json) }
    : {
        name: 'heldRef',
        value: { M: { bucket: str(held.ref.bucket), key: str(held.ref.key) } },
      };
}

/** A ledger item from its DynamoDB attributes. */
export function toLedgerItem(attributes: Record<string, AttributeValue>): LedgerItem {
  const s = (name: string) => attributes[name]?.S;
  const n = (name: string) => {
    const value = attributes[name]?.N;
    return value === undefined ? undefined : Number(value);
  };
  const item: LedgerItem = { contactId: s('contactId') ?? '' };
  const assign = <K extends keyof LedgerItem>(key: K, value: LedgerItem[K] | undefined) => {
    if (value !== undefined) item[key] = value;
  };
  assign('claimed', s('claimed'));
  assign('claimedBy', s('claimedBy'));
  assign('receivedAt', n('receivedAt'));
  assign('sent', s('sent'));
  assign('skipped', s('skipped') as SkipReason | undefined);
  assign('overridesAt', n('overridesAt'));
  assign('pendingSince', n('pendingSince'));
  assign('heldVersion', s('heldVersion'));
  assign('sends', n('sends'));
  assign('dirty', n('dirty'));
  const overrides = attributes.overrides?.M;
  if (overrides) {
    const value: FieldOverrides = {};
    if (overrides.toNumber?.S) value.toNumber = overrides.toNumber.S;
    if (overrides.fromNumber?.S) value.fromNumber = overrides.fromNumber.S;
    item.overrides = value;
  }
  const heldJson = s('heldJson');
  const heldRef = attributes.heldRef?.M;
  if (heldJson !== undefined) item.held = { json: heldJson };
  else if (heldRef?.bucket?.S && heldRef.key?.S) {
    item.held = { ref: { bucket: heldRef.bucket.S, key: heldRef.key.S } };
  }
  return item;
}

/** An update expression built from SET and REMOVE clauses and the values they use. */
class Update {
  private readonly sets: string[] = [];
  private readonly removes: string[] = [];
  private readonly adds: string[] = [];
  readonly values: Record<string, AttributeValue> = {};
  /** Every attribute is named through `#name`, so no name can collide with a reserved word. */
  readonly names: Record<string, string> = {};

  /** `#name` for an attribute name, registered in {@link names}. */
  name(name: string): string {
    this.names[`#${name}`] = name;
    return `#${name}`;
  }

  set(name: string, value: AttributeValue, expression?: (placeholder: string) => string): this {
    const placeholder = `:${name}`;
    this.values[placeholder] = value;
    this.sets.push(`${this.name(name)} = ${expression ? expression(placeholder) : placeholder}`);
    return this;
  }

  /** `ADD #name :name`: increment a number (creating it from 0). */
  add(name: string, value: AttributeValue): this {
    this.values[`:${name}`] = value;
    this.adds.push(`${this.name(name)} :${name}`);
    return this;
  }

  remove(...names: string[]): this {
    this.removes.push(...names.map((name) => this.name(name)));
    return this;
  }

  value(placeholder: string, value: AttributeValue): this {
    this.values[placeholder] = value;
    return this;
  }

  get expression(): string {
    const clauses = [];
    if (this.sets.length > 0) clauses.push(`SET ${this.sets.join(', ')}`);
    if (this.removes.length > 0) clauses.push(`REMOVE ${this.removes.join(', ')}`);
    if (this.adds.length > 0) clauses.push(`ADD ${this.adds.join(', ')}`);
    return clauses.join(' ');
  }
}

/** The sync ledger port over DynamoDB; see the module comment for the item's layout. */
export function createDynamoDbLedger(options: DynamoDbLedgerOptions): SyncLedger {
  const { client, tableName } = options;
  const now = options.now ?? Date.now;
  const expiresAt = () => num(Math.floor(now() / 1000) + options.ttlDays * 86_400);
  const key = (contactId: string) => ({ contactId: str(contactId) });

  async function get(contactId: string): Promise<LedgerItem | undefined> {
    const result = await client.send(
      new GetItemCommand({ TableName: tableName, Key: key(contactId), ConsistentRead: true }),
    );
    return result.Item ? toLedgerItem(result.Item) : undefined;
  }

  /**
   * Run a conditional update. Resolves with the attributes it returned, or,
   * when the condition failed, `{ failed: item }` with the item as it is
   * (from the error, or read when the endpoint does not return it).
   */
  async function conditionalUpdate(
    contactId: string,
    update: Update,
    condition: string,
    returnValues: 'ALL_OLD' | 'ALL_NEW' | 'UPDATED_NEW' | 'NONE',
  ): Promise<
    | { failed: false; attributes: Record<string, AttributeValue> | undefined }
    | { failed: true; item: LedgerItem | undefined }
  > {
    try {
      const result = await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: key(contactId),
          UpdateExpression: update.expression,
          ConditionExpression: condition,
          ExpressionAttributeNames: update.names,
          ExpressionAttributeValues: update.values,
          ReturnValues: returnValues,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { failed: false, attributes: result.Attributes };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const item = error.Item ? toLedgerItem(error.Item) : await get(contactId);
      return { failed: true, item };
    }
  }

  return {
    get,

    async claim(request): Promise<ClaimOutcome> {
      const at = now();
      const update = new Update()
        .set('claimed', str(request.version))
        .set('claimedBy', str(request.token))
        .set('claimedAt', num(at))
        .set('receivedAt', num(request.receivedAt))
        .set('expiresAt', expiresAt())
        .add('sends', num(1));
      if (request.skipped) update.set('skipped', str(request.skipped));
      else update.remove('skipped');
      if (request.hold) {
        const held = heldValue(request.hold);
        update
          .set('pending', str(PENDING))
          .set('pendingSince', num(at))
          .set(held.name, held.value)
          .set('heldVersion', str(request.version))
          .remove(held.name === 'heldJson' ? 'heldRef' : 'heldJson');
      } else {
        update.remove('pending', 'pendingSince', 'heldJson', 'heldRef', 'heldVersion');
      }
      const result = await conditionalUpdate(
        request.contactId,
        update,
        `attribute_not_exists(${update.name('claimed')}) OR ${update.name('claimed')} < :claimed`,
        'ALL_OLD',
      );
      if (!result.failed) {
        const before = result.attributes ? toLedgerItem(result.attributes) : undefined;
        return { outcome: 'claimed', before, generation: (before?.sends ?? 0) + 1 };
      }
      const before = result.item ?? { contactId: request.contactId };
      if (before.claimed !== request.version) return { outcome: 'older', before };
      // Claimed by the same token: this claim, written with its answer lost and retried by the
      // SDK, or an earlier receive of the same message.
      return { outcome: 'duplicate', before, own: before.claimedBy === request.token };
    },

    async beginSend(contactId, version) {
      const update = new Update().add('sends', num(1)).value(':version', str(version));
      const condition = `${update.name('claimed')} = :version`;
      const result = await conditionalUpdate(contactId, update, condition, 'UPDATED_NEW');
      if (result.failed) return undefined;
      return Number(result.attributes?.sends?.N ?? Number.NaN);
    },

    async markSent(contactId, version, generation, overridesAt) {
      const update = new Update()
        .set('sent', str(version))
        .set('sentAt', num(now()))
        .remove('pending', 'pendingSince', 'dirty')
        .value(':version', str(version))
        .value(':generation', num(generation));
      const [claimed, sends, dirty] = ['claimed', 'sends', 'dirty'].map((name) =>
        update.name(name),
      );
      let condition =
        `${claimed} = :version AND ${sends} = :generation AND ` +
        `(attribute_not_exists(${dirty}) OR ${dirty} < :generation) AND `;
      if (overridesAt === undefined) {
        condition += `attribute_not_exists(${update.name('overridesAt')})`;
      } else {
        update.value(':overridesAt', num(overridesAt));
        condition += `${update.name('overridesAt')} = :overridesAt`;
      }
      const result = await conditionalUpdate(contactId, update, condition, 'NONE');
      if (!result.failed) return { outcome: 'sent' };
      return { outcome: 'changed', item: result.item ?? { contactId } };
    },

    async markPending(contactId, version, at, options = {}) {
      const { record, outOfOrder } = options;
      const update = new Update()
        .set('pending', str(PENDING))
        .set(
          'pendingSince',
          num(at),
          (placeholder) => `if_not_exists(#pendingSince, ${placeholder})`,
        )
        .value(':version', str(version));
      if (outOfOrder !== undefined) update.set('dirty', num(outOfOrder));
      if (record) {
        const held = heldValue(record);
        update
          .set(held.name, held.value)
          .set('heldVersion', str(version))
          .remove(held.name === 'heldJson' ? 'heldRef' : 'heldJson');
      }
      let condition = `${update.name('claimed')} = :version`;
      if (outOfOrder !== undefined) {
        const dirty = update.name('dirty');
        condition += ` AND (attribute_not_exists(${dirty}) OR ${dirty} < :dirty)`;
      }
      const result = await conditionalUpdate(contactId, update, condition, 'NONE');
      return !result.failed;
    },

    async deferPending(contactId, at) {
      const update = new Update().set('pendingSince', num(at));
      const condition = `attribute_exists(${update.name('pending')})`;
      const result = await conditionalUpdate(contactId, update, condition, 'NONE');
      return !result.failed;
    },

    async holdOverrides(contactId, overrides, at) {
      const value: Record<string, AttributeValue> = {};
      if (overrides.toNumber) value.toNumber = str(overrides.toNumber);
      if (overrides.fromNumber) value.fromNumber = str(overrides.fromNumber);
      const update = new Update()
        .set('overrides', { M: value })
        .set('overridesAt', num(at))
        .set('expiresAt', expiresAt());
      const result = await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: key(contactId),
          UpdateExpression: update.expression,
          ExpressionAttributeNames: update.names,
          ExpressionAttributeValues: update.values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toLedgerItem(result.Attributes ?? key(contactId));
    },

    async listPending({ before, limit, startAfter }) {
      const result = await client.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: PENDING_INDEX,
          KeyConditionExpression: '#pending = :pending AND #pendingSince < :before',
          ExpressionAttributeNames: { '#pending': 'pending', '#pendingSince': 'pendingSince' },
          ExpressionAttributeValues: { ':pending': str(PENDING), ':before': num(before) },
          Limit: limit,
          ...(startAfter
            ? { ExclusiveStartKey: JSON.parse(Buffer.from(startAfter, 'base64url').toString()) }
            : {}),
        }),
      );
      const items: LedgerItem[] = [];
      for (const keys of result.Items ?? []) {
        const contactId = keys.contactId?.S;
        if (!contactId) continue;
        const item = await get(contactId);
        // Gone, or no longer pending, since the index was read (indexes are eventually consistent).
        if (item?.pendingSince !== undefined) items.push(item);
      }
      const next = result.LastEvaluatedKey
        ? Buffer.from(JSON.stringify(result.LastEvaluatedKey)).toString('base64url')
        : undefined;
      return next ? { items, next } : { items };
    },

    async forget(contactId) {
      await client.send(new DeleteItemCommand({ TableName: tableName, Key: key(contactId) }));
    },

    async getSweepCursor(band) {
      const result = await client.send(
        new GetItemCommand({
          TableName: tableName,
          Key: key(sweepCursorKey(band)),
          ConsistentRead: true,
        }),
      );
      const value = result.Item?.sweptTo?.N;
      return value === undefined ? undefined : Number(value);
    },

    async advanceSweepCursor(band, from, to) {
      try {
        await client.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: key(sweepCursorKey(band)),
            UpdateExpression: 'SET #sweptTo = :to',
            ConditionExpression:
              'attribute_not_exists(#sweptTo) OR (#sweptTo < :to AND #sweptTo >= :from)',
            ExpressionAttributeNames: { '#sweptTo': 'sweptTo' },
            ExpressionAttributeValues: { ':from': num(from), ':to': num(to) },
          }),
        );
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    },

    async resetClaim(contactId, options = {}) {
      // `dirty` goes with the claim; `sends` stays, so a send started before the reset cannot be
      // marked sent after it (markSent requires the generation it started).
      const update = new Update()
        .set('expiresAt', expiresAt())
        .remove(
          'claimed',
          'claimedBy',
          'claimedAt',
          'receivedAt',
          'sent',
          'sentAt',
          'skipped',
          'heldJson',
          'heldRef',
          'heldVersion',
          'pending',
          'pendingSince',
          'dirty',
          ...(options.overrides ? ['overrides', 'overridesAt'] : []),
        );
      try {
        const result = await client.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: key(contactId),
            UpdateExpression: update.expression,
            ExpressionAttributeNames: { ...update.names, '#contactId': 'contactId' },
            ExpressionAttributeValues: update.values,
            ConditionExpression: 'attribute_exists(#contactId)',
            ReturnValues: 'ALL_NEW',
          }),
        );
        return result.Attributes ? toLedgerItem(result.Attributes) : undefined;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return undefined;
        throw error;
      }
    },
  };
}
