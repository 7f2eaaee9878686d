/**
 * The SOQL that SCV's InvokeSalesforceRestApiFunction runs for ctr-sync, as
 * the stand-in's `queryRecord` understands it: one statement shape on
 * VoiceCall (see {@link parseVoiceCallQuery}), read with SOQL's lexical rules.
 *
 * Sources: the SOQL and SOSL Reference (keywords, field and object names are
 * case-insensitive; dateTime literals are unquoted; "Quoted String Escape
 * Sequences"); `LIMIT 1` only, because `queryRecord` returns the first row
 * only (`invokeSfRestApi/sfRestApi.js` in
 * service-cloud-voice/ServiceCloudVoiceLambdas).
 *
 * Not reproduced: any other statement (other fields or objects, OR, LIKE,
 * date literals such as `TODAY`, a LIMIT other than 1); each is a
 * {@link SoqlParseError}.
 */

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
