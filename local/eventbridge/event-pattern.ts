/**
 * Amazon EventBridge event pattern matching for the local stack, which has no
 * EventBridge emulator to route events from the bus to the queue.
 *
 * Behaviour follows these Amazon EventBridge User Guide pages:
 * - "Amazon EventBridge event patterns" (structure, exact matching, AND/OR),
 * - "Matching null values and empty strings in Amazon EventBridge event patterns",
 * - "Arrays in Amazon EventBridge event patterns",
 * - "Content filtering in Amazon EventBridge event patterns" and its summary
 *   "Comparison operators for use in event patterns in Amazon EventBridge".
 *
 * Where those pages leave the grammar open (which numeric operator sequences are
 * legal, how wildcard escapes work, what `$or` must contain), the rules come from
 * the README and rule compiler of aws/event-ruler, the open-source engine behind
 * EventBridge. Where both are silent, the stricter reading is chosen and the
 * comment at that spot says so.
 */

/** A JSON value a pattern compares an event value against exactly. */
export type EventPatternLiteral = string | number | boolean | null;

/** A string operand, or the same operand compared without regard to case. */
export type StringOperand = string | { readonly 'equals-ignore-case': string };

/** One string, or a non-empty list of them (any of which excludes the value). */
export type StringOrStrings = string | readonly string[];

/**
 * Operand of `anything-but`: a string, a number, a list of only strings or only
 * numbers, or one nested string operator whose matches are excluded.
 */
export type AnythingButOperand =
  | string
  | number
  | readonly string[]
  | readonly number[]
  | { readonly prefix: StringOrStrings }
  | { readonly suffix: StringOrStrings }
  | { readonly 'equals-ignore-case': StringOrStrings }
  | { readonly wildcard: StringOrStrings };

/** Lower-bound comparison operators of a numeric condition. */
export type NumericLowerOperator = '>' | '>=';

/** Upper-bound comparison operators of a numeric condition. */
export type NumericUpperOperator = '<' | '<=';

/**
 * Operand of `numeric`: one comparison (`["=", 5]`, `["<", 10]`), or a range
 * with its lower bound first (`[">", 0, "<=", 5]`).
 */
export type NumericCondition =
  | readonly ['=', number]
  | readonly [NumericLowerOperator | NumericUpperOperator, number]
  | readonly [NumericLowerOperator, number, NumericUpperOperator, number];

/** A content-filtering operator object: exactly one of these keys. */
export type EventPatternOperator =
  | { readonly prefix: StringOperand }
  | { readonly suffix: StringOperand }
  | { readonly 'equals-ignore-case': string }
  | { readonly wildcard: string }
  | { readonly 'anything-but': AnythingButOperand }
  | { readonly numeric: NumericCondition }
  | { readonly exists: boolean }
  | { readonly cidr: string };

/** The values allowed for one event field; the field matches if any of them does. */
export type EventPatternLeaf = readonly (EventPatternLiteral | EventPatternOperator)[];

/** What a pattern key maps to: a leaf, a nested pattern, or (under `$or`) alternatives. */
export type EventPatternNode = EventPatternLeaf | EventPattern | readonly EventPattern[];

/**
 * An EventBridge event pattern, shaped like the events it matches.
 *
 * Each key names an event field and maps to either an array of allowed values
 * (a leaf) or a nested pattern for an object field. Every key must match (AND);
 * a leaf matches if any of its values does (OR). The key `$or` maps to a list of
 * at least two sub-patterns, one of which must match the same object.
 */
export type EventPattern = { readonly [field: string]: EventPatternNode };

/**
 * Thrown by {@link validateEventPattern} when a pattern is not well-formed.
 * `path` locates the problem, from `$` (the pattern itself), for example
 * `$.detail["c-count"][0].numeric`.
 */
export class InvalidEventPatternError extends Error {
  readonly path: string;

  constructor(path: string, problem: string) {
    super(`Invalid event pattern at ${path}: ${problem}`);
    this.name = 'InvalidEventPatternError';
    this.path = path;
  }
}

const OR_KEY = '$or';

type JsonRecord = Record<string, unknown>;
type LeafValue = string | number | boolean | null;

// ---------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------

/**
 * Whether `event` (a parsed EventBridge event: version, id, detail-type, source,
 * account, time, region, resources, detail) matches `pattern`.
 *
 * Never throws. The pattern is trusted to be well-formed: run untrusted
 * patterns through {@link validateEventPattern} first. Only own properties of
 * the event are read, so keys such as `__proto__` or `constructor` never reach
 * a prototype.
 *
 * Semantics (see the module comment for the documentation pages):
 * - strings, numbers, booleans and null match exactly and by type, so `"5"`
 *   does not match `5` and `""` does not match `null`;
 * - a field named in the pattern but absent from the event does not match,
 *   except with `{ "exists": false }`;
 * - an array in the event matches if any element matches; a nested pattern
 *   applied to an array of objects must match within a single element;
 * - `prefix`, `suffix`, `equals-ignore-case`, `wildcard` and `cidr` only match
 *   strings, `numeric` only matches numbers.
 */
export function matchesEventPattern(pattern: EventPattern, event: unknown): boolean {
  return matchesObject(pattern, event);
}

function matchesObject(pattern: EventPattern, value: unknown): boolean {
  if (Array.isArray(value)) {
    const objects = flatten(value).filter(isRecord);
    // Testing each element separately keeps sibling fields from matching
    // across different elements of the same array.
    if (objects.length > 0) return objects.some((element) => matchesFields(pattern, element));
  }
  return matchesFields(pattern, isRecord(value) ? value : undefined);
}

function matchesFields(pattern: EventPattern, object: JsonRecord | undefined): boolean {
  return Object.entries(pattern).every(([key, node]) => {
    if (key === OR_KEY && isPatternList(node)) {
      return node.some((alternative) => matchesObject(alternative, object));
    }
    const child = object !== undefined && hasOwn(object, key) ? object[key] : undefined;
    return isLeaf(node) ? matchesLeaf(node, child) : matchesObject(node as EventPattern, child);
  });
}

function matchesLeaf(leaf: EventPatternLeaf, value: unknown): boolean {
  const values = leafValues(value);
  return leaf.some((condition) => {
    if (!isRecord(condition)) return values.some((candidate) => candidate === condition);
    const [name, operand] = soleEntry(condition);
    if (name === 'exists') return matchesExists(operand as boolean, values);
    return values.some((candidate) => matchesOperator(name, operand, candidate));
  });
}

/**
 * The scalar values found at a field. Arrays are flattened ("Arrays in Amazon
 * EventBridge event patterns"); objects hold no leaf value, which is why
 * `exists` on an object-valued field behaves as if the field were absent.
 */
function leafValues(value: unknown): LeafValue[] {
  if (Array.isArray(value)) return value.flatMap(leafValues);
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
    return [value as LeafValue];
  }
  return [];
}

function matchesOperator(name: string, operand: unknown, value: LeafValue): boolean {
  switch (name) {
    case 'prefix':
      return matchesPrefix(operand as StringOperand, value);
    case 'suffix':
      return matchesSuffix(operand as StringOperand, value);
    case 'equals-ignore-case':
      return matchesEqualsIgnoreCase(operand as string, value);
    case 'wildcard':
      return matchesWildcard(operand as string, value);
    case 'anything-but':
      return matchesAnythingBut(operand as AnythingButOperand, value);
    case 'numeric':
      return matchesNumeric(operand as NumericCondition, value);
    case 'cidr':
      return matchesCidr(operand as string, value);
    default:
      return false;
  }
}

/**
 * `exists: true` needs at least one leaf value at the field. A field holding
 * `null` counts as present: the docs do not say, and a null is a value in the
 * event JSON, so the strict reading is that `exists: false` does not match it.
 * An empty array holds no value, so it counts as absent.
 */
function matchesExists(expected: boolean, values: readonly LeafValue[]): boolean {
  return expected === values.length > 0;
}

function matchesPrefix(operand: StringOperand, value: LeafValue): boolean {
  if (typeof value !== 'string') return false;
  if (typeof operand === 'string') return value.startsWith(operand);
  return foldCase(value).startsWith(foldCase(operand['equals-ignore-case']));
}

function matchesSuffix(operand: StringOperand, value: LeafValue): boolean {
  if (typeof value !== 'string') return false;
  if (typeof operand === 'string') return value.endsWith(operand);
  return foldCase(value).endsWith(foldCase(operand['equals-ignore-case']));
}

function matchesEqualsIgnoreCase(operand: string, value: LeafValue): boolean {
  return typeof value === 'string' && foldCase(value) === foldCase(operand);
}

/**
 * The docs do not define case-insensitivity beyond ASCII examples; a
 * locale-independent lower-casing keeps results the same on every machine.
 */
function foldCase(text: string): string {
  return text.toLowerCase();
}

/**
 * `*` matches any run of characters, including none and including `/`; the
 * rest of the pattern must match exactly, anchored at both ends.
 */
function matchesWildcard(pattern: string, value: LeafValue): boolean {
  if (typeof value !== 'string') return false;
  const parts = splitWildcard(pattern);
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (parts.length === 1) return value === first;
  if (value.length < first.length + last.length) return false;
  if (!value.startsWith(first) || !value.endsWith(last)) return false;
  const end = value.length - last.length;
  let position = first.length;
  // Placing each middle literal at its leftmost occurrence never rules out a
  // match, so no backtracking is needed.
  for (const part of parts.slice(1, -1)) {
    const index = value.indexOf(part, position);
    if (index === -1 || index + part.length > end) return false;
    position = index + part.length;
  }
  return true;
}

/** The literal runs between unescaped `*`; `\*` and `\\` stand for `*` and `\`. */
function splitWildcard(pattern: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let index = 0; index < pattern.length; index += 1) {
    const char = pattern.charAt(index);
    if (char === '\\' && index + 1 < pattern.length) {
      index += 1;
      current += pattern.charAt(index);
    } else if (char === '*') {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

/**
 * The docs define `anything-but` as matching anything except what the rule
 * provides, so any present value the operand does not exclude matches,
 * including numbers, booleans and null against a string operand. A missing
 * field has no value to compare and does not match: the docs are silent here
 * and this is the strict reading (use `exists: false` to match absence).
 */
function matchesAnythingBut(operand: AnythingButOperand, value: LeafValue): boolean {
  if (typeof operand === 'string' || typeof operand === 'number') return value !== operand;
  if (Array.isArray(operand)) return !operand.includes(value);
  const [name, inner] = soleEntry(operand as JsonRecord);
  const excluded = typeof inner === 'string' ? [inner] : (inner as readonly string[]);
  return !excluded.some((text) => matchesOperator(name, text, value));
}

/**
 * Compares by value. EventBridge compares exact (non-`numeric`) numbers by
 * their JSON text, so 300 and 300.0 differ there; a parsed event no longer has
 * that text, so this matcher treats them as equal.
 */
function matchesNumeric(condition: NumericCondition, value: LeafValue): boolean {
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  for (let index = 0; index + 1 < condition.length; index += 2) {
    const operator = condition[index] as string;
    const bound = condition[index + 1] as number;
    if (!compareNumbers(operator, value, bound)) return false;
  }
  return true;
}

function compareNumbers(operator: string, value: number, bound: number): boolean {
  switch (operator) {
    case '=':
      return value === bound;
    case '<':
      return value < bound;
    case '<=':
      return value <= bound;
    case '>':
      return value > bound;
    case '>=':
      return value >= bound;
    default:
      return false;
  }
}

function matchesCidr(operand: string, value: LeafValue): boolean {
  if (typeof value !== 'string') return false;
  const block = parseCidr(operand);
  const address = parseIpAddress(value);
  if (block === undefined || address === undefined || address.bits !== block.bits) return false;
  const hostBits = BigInt(block.bits - block.prefixLength);
  return address.value >> hostBits === block.value >> hostBits;
}

// ---------------------------------------------------------------------------
// IP addresses (IPv4 and IPv6, per "IP address matching" in the content
// filtering page)
// ---------------------------------------------------------------------------

interface IpAddress {
  readonly bits: 32 | 128;
  readonly value: bigint;
}

interface CidrBlock extends IpAddress {
  readonly prefixLength: number;
}

function parseCidr(text: string): CidrBlock | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (match === null) return undefined;
  const address = parseIpAddress(match[1] ?? '');
  const prefixLength = Number(match[2]);
  if (address === undefined || prefixLength > address.bits) return undefined;
  return { ...address, prefixLength };
}

function parseIpAddress(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const value = parseIpv6(text);
    return value === undefined ? undefined : { bits: 128, value };
  }
  const value = parseIpv4(text);
  return value === undefined ? undefined : { bits: 32, value };
}

function parseIpv4(text: string): bigint | undefined {
  const octets = text.split('.');
  if (octets.length !== 4) return undefined;
  let value = 0n;
  for (const octet of octets) {
    if (!/^\d{1,3}$/.test(octet) || Number(octet) > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const compressed = halves.length === 2;
  const head = parseIpv6Groups(halves[0] ?? '', !compressed);
  const tail = compressed ? parseIpv6Groups(halves[1] ?? '', true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (compressed ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return groups.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

/** 16-bit groups of one side of `::`; only the address's last group may be dotted IPv4. */
function parseIpv6Groups(text: string, endsAddress: boolean): number[] | undefined {
  if (text === '') return [];
  const groups: number[] = [];
  const pieces = text.split(':');
  for (const [index, piece] of pieces.entries()) {
    if (endsAddress && index === pieces.length - 1 && piece.includes('.')) {
      const embedded = parseIpv4(piece);
      if (embedded === undefined) return undefined;
      groups.push(Number(embedded >> 16n), Number(embedded & 0xffffn));
    } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
      groups.push(Number.parseInt(piece, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/**
 * Checks that `pattern` is a well-formed event pattern and returns it typed
 * (the same object, not a copy).
 *
 * @throws {InvalidEventPatternError} naming the path of the first problem when:
 * - the pattern or a nested pattern is not a non-empty JSON object;
 * - a field maps to anything but an array (leaf) or an object (nested pattern);
 * - a leaf is empty, or holds a nested array, a non-finite number, or an
 *   operator object that is unknown or has more or fewer than one key;
 * - `prefix` / `suffix` is not a string or `{ "equals-ignore-case": string }`;
 *   `equals-ignore-case` and `cidr` are not strings, or the CIDR block does not
 *   parse; `exists` is not a boolean;
 * - `wildcard` is not a string, has two unescaped `*` in a row, or has a `\`
 *   that does not escape `*` or `\`;
 * - `anything-but` is not a string, a number, a non-empty list of only strings
 *   or only numbers, or one of `prefix`, `suffix`, `equals-ignore-case`,
 *   `wildcard` holding a string or a non-empty list of strings (`prefix` and
 *   `suffix` strings must be non-empty);
 * - `numeric` is not `[op, n]` with op one of `=`, `<`, `<=`, `>`, `>=`, nor a
 *   range `[">" | ">=", low, "<" | "<=", high]` with low < high, or a bound is
 *   not a finite number;
 * - `$or` is not an array of at least two patterns.
 *
 * Sources: "Comparison operators for use in event patterns in Amazon
 * EventBridge" for the operator shapes; the aws/event-ruler README and rule
 * compiler for the numeric grammar, the wildcard escapes and the `$or` rules.
 */
export function validateEventPattern(pattern: unknown): EventPattern {
  validatePatternObject(pattern, '$');
  return pattern as EventPattern;
}

function validatePatternObject(value: unknown, path: string): void {
  if (!isRecord(value)) fail(path, 'must be a JSON object');
  const entries = Object.entries(value);
  // EventBridge rejects empty objects; an empty pattern would match everything.
  if (entries.length === 0) fail(path, 'must not be an empty object');
  for (const [key, node] of entries) {
    const nodePath = childPath(path, key);
    if (key === OR_KEY) validateOr(node, nodePath);
    else if (Array.isArray(node)) validateLeaf(node, nodePath);
    else if (isRecord(node)) validatePatternObject(node, nodePath);
    else fail(nodePath, 'must be an array of allowed values or a nested pattern object');
  }
}

/**
 * event-ruler only reads `$or` as a disjunction when it holds two or more
 * objects and otherwise treats it as a field name; mixing the two readings is
 * unsupported there, so this validator rejects every other shape.
 */
function validateOr(node: unknown, path: string): void {
  if (!Array.isArray(node) || node.length < 2) {
    fail(path, 'must be an array of at least two patterns');
  }
  node.forEach((alternative, index) => {
    validatePatternObject(alternative, `${path}[${index}]`);
  });
}

function validateLeaf(values: readonly unknown[], path: string): void {
  if (values.length === 0) fail(path, 'must list at least one allowed value');
  values.forEach((value, index) => {
    const valuePath = `${path}[${index}]`;
    if (isRecord(value)) validateOperator(value, valuePath);
    else if (Array.isArray(value)) fail(valuePath, 'must not be a nested array');
    else if (typeof value === 'number') requireFiniteNumber(value, valuePath);
    else if (!(value === null || typeof value === 'string' || typeof value === 'boolean')) {
      fail(valuePath, 'must be a string, number, boolean, null or operator object');
    }
  });
}

function validateOperator(operator: JsonRecord, path: string): void {
  const keys = Object.keys(operator);
  if (keys.length !== 1) {
    fail(path, `an operator object must have exactly one key, found ${keys.length}`);
  }
  const [name, operand] = soleEntry(operator);
  const operandPath = childPath(path, name);
  switch (name) {
    case 'prefix':
    case 'suffix':
      validateStringOperand(operand, operandPath);
      return;
    case 'equals-ignore-case':
      requireString(operand, operandPath);
      return;
    case 'wildcard':
      validateWildcard(operand, operandPath);
      return;
    case 'anything-but':
      validateAnythingBut(operand, operandPath);
      return;
    case 'numeric':
      validateNumeric(operand, operandPath);
      return;
    case 'exists':
      if (typeof operand !== 'boolean') fail(operandPath, 'must be true or false');
      return;
    case 'cidr':
      requireString(operand, operandPath);
      if (parseCidr(operand) === undefined) {
        fail(operandPath, 'must be an IPv4 or IPv6 CIDR block such as "10.0.0.0/24"');
      }
      return;
    default:
      fail(path, `unknown operator "${name}"`);
  }
}

function validateStringOperand(operand: unknown, path: string): void {
  if (typeof operand === 'string') return;
  if (!isRecord(operand) || Object.keys(operand).join() !== 'equals-ignore-case') {
    fail(path, 'must be a string or { "equals-ignore-case": string }');
  }
  requireString(operand['equals-ignore-case'], childPath(path, 'equals-ignore-case'));
}

/** Escape rules from the aws/event-ruler README ("Wildcard matching"). */
function validateWildcard(operand: unknown, path: string): void {
  requireString(operand, path);
  let previousWasStar = false;
  for (let index = 0; index < operand.length; index += 1) {
    const char = operand.charAt(index);
    if (char === '\\') {
      const escaped = operand.charAt(index + 1);
      if (escaped !== '*' && escaped !== '\\') {
        fail(path, 'a backslash may only escape "*" or "\\"');
      }
      index += 1;
      previousWasStar = false;
    } else if (char === '*') {
      if (previousWasStar) fail(path, 'must not contain consecutive "*" wildcards');
      previousWasStar = true;
    } else {
      previousWasStar = false;
    }
  }
}

function validateAnythingBut(operand: unknown, path: string): void {
  if (typeof operand === 'string') return;
  if (typeof operand === 'number') {
    requireFiniteNumber(operand, path);
    return;
  }
  if (Array.isArray(operand)) {
    const allStrings = operand.every((item) => typeof item === 'string');
    const allNumbers = operand.every((item) => typeof item === 'number' && Number.isFinite(item));
    if (operand.length === 0 || !(allStrings || allNumbers)) {
      fail(path, 'a list must be non-empty and hold only strings or only finite numbers');
    }
    return;
  }
  if (!isRecord(operand)) {
    fail(path, 'must be a string, a number, a list of either, or a nested string operator');
  }
  const keys = Object.keys(operand);
  if (keys.length !== 1) {
    fail(path, `a nested operator must have exactly one key, found ${keys.length}`);
  }
  const [name, inner] = soleEntry(operand);
  const innerPath = childPath(path, name);
  if (!['prefix', 'suffix', 'equals-ignore-case', 'wildcard'].includes(name)) {
    fail(path, `"${name}" cannot be nested in anything-but`);
  }
  const texts = typeof inner === 'string' ? [inner] : inner;
  if (!Array.isArray(texts) || texts.length === 0) {
    fail(innerPath, 'must be a string or a non-empty list of strings');
  }
  texts.forEach((text, index) => {
    const textPath = typeof inner === 'string' ? innerPath : `${innerPath}[${index}]`;
    requireString(text, textPath);
    // event-ruler refuses an empty excluded prefix or suffix, which would exclude everything.
    if ((name === 'prefix' || name === 'suffix') && text === '') {
      fail(textPath, 'must not be empty');
    }
    if (name === 'wildcard') validateWildcard(text, textPath);
  });
}

/** Grammar from the aws/event-ruler rule compiler: a lower bound can only come first. */
function validateNumeric(operand: unknown, path: string): void {
  if (!Array.isArray(operand) || (operand.length !== 2 && operand.length !== 4)) {
    fail(path, 'must be [operator, number] or [">" | ">=", low, "<" | "<=", high]');
  }
  operand.forEach((item, index) => {
    const itemPath = `${path}[${index}]`;
    if (index % 2 === 1) {
      if (typeof item !== 'number') fail(itemPath, 'must be a number');
      requireFiniteNumber(item, itemPath);
    } else if (typeof item !== 'string') {
      fail(itemPath, 'must be a comparison operator string');
    }
  });
  const [first, low, second, high] = operand as [string, number, unknown, unknown];
  if (operand.length === 2) {
    if (!['=', '<', '<=', '>', '>='].includes(first)) {
      fail(`${path}[0]`, `unknown numeric operator "${first}"`);
    }
    return;
  }
  if (first !== '>' && first !== '>=') {
    fail(`${path}[0]`, 'a range must start with ">" or ">="');
  }
  if (second !== '<' && second !== '<=') {
    fail(`${path}[2]`, 'a range must end with "<" or "<="');
  }
  if (!(low < (high as number))) fail(path, 'the lower bound must be less than the upper bound');
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

function requireString(value: unknown, path: string): asserts value is string {
  if (typeof value !== 'string') fail(path, 'must be a string');
}

function requireFiniteNumber(value: number, path: string): void {
  if (!Number.isFinite(value)) fail(path, 'must be a finite number');
}

function fail(path: string, problem: string): never {
  throw new InvalidEventPatternError(path, problem);
}

function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isLeaf(node: EventPatternNode): node is EventPatternLeaf {
  return Array.isArray(node);
}

function isPatternList(node: EventPatternNode): node is readonly EventPattern[] {
  return Array.isArray(node) && node.every(isRecord);
}

function hasOwn(object: object, key: string): boolean {
  return Object.hasOwn(object, key);
}

/** The single own entry of an operator object (validation guarantees exactly one). */
function soleEntry(object: object): [string, unknown] {
  return Object.entries(object)[0] ?? ['', undefined];
}

function flatten(values: readonly unknown[]): unknown[] {
  return values.flatMap((value) => (Array.isArray(value) ? flatten(value) : [value]));
}
