/**
 * `ctr-sync transform <file>`: what the updater would send SCV for contact
 * records, without running anything.
 *
 * Prints `{"contactId": ..., "fieldValues": {...}}` (the `updateVoiceCall`
 * fieldValues) or `{"contactId": ..., "skipped": "<reason>"}` per record. The
 * file holds one record, a JSON array of records, or JSON lines (one record
 * per line, as `npm start -- --input` reads them). An invalid record, or a
 * file that cannot be read, exits 2 with the reason on stderr.
 */
import { readFile } from 'node:fs/promises';
import { decodeContactRecordWithText } from '../domain/contact-record';
import { evaluateSyncEligibility } from '../domain/eligibility';
import { InvalidContactRecordError } from '../domain/errors';
import { toVoiceCallUpdate } from '../domain/voice-call';
import { EXIT, type Io, UsageError } from './io';

/** Result of transforming one record, as printed. */
export type TransformResult =
  { contactId: string; fieldValues: object } | { contactId: string; skipped: string };

/**
 * Transform one record's bytes.
 * @throws InvalidContactRecordError when the bytes are not a valid contact record.
 */
export function transformRecord(data: Uint8Array): TransformResult {
  const { contactRecord } = decodeContactRecordWithText(data);
  const eligibility = evaluateSyncEligibility(contactRecord);
  if (!eligibility.eligible)
    return { contactId: contactRecord.ContactId, skipped: eligibility.reason };
  const { contactId, fieldValues } = toVoiceCallUpdate(contactRecord);
  return { contactId, fieldValues };
}

/**
 * Records of a file: the elements of a top-level JSON array; each line of
 * JSON lines (more than one non-empty line, each an object); or the file itself.
 */
export function recordsOf(bytes: Buffer): Uint8Array[] {
  const text = bytes.toString('utf8').trimStart();
  if (text.startsWith('[')) {
    try {
      const items: unknown = JSON.parse(text);
      if (Array.isArray(items))
        return items.map((item) => Buffer.from(JSON.stringify(item), 'utf8'));
    } catch {
      // Not a JSON array after all: decoding the whole file reports the problem.
    }
  }
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  if (lines.length > 1) {
    // One record over several lines (pretty-printed) parses whole; anything else is JSON lines,
    // each line a record as npm start -- --input puts it, a malformed one reported on its own.
    try {
      JSON.parse(text);
    } catch {
      return lines.map((line) => Buffer.from(line, 'utf8'));
    }
  }
  return [bytes];
}

/**
 * Transform every record of `path`, one line each on `io.out`.
 * @returns 0, or 2 when the file cannot be read or a record is invalid (each named on `io.err`).
 */
export async function transformFile(path: string, io: Io): Promise<number> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new UsageError(
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}; give a contact record file (JSON, a JSON array or JSON lines)`,
    );
  }
  const records = recordsOf(bytes);
  let status: number = EXIT.ok;
  records.forEach((record, index) => {
    try {
      io.out(JSON.stringify(transformRecord(record)));
    } catch (error) {
      if (!(error instanceof InvalidContactRecordError)) throw error;
      const where = records.length > 1 ? ` (record ${index + 1} of ${records.length})` : '';
      io.err(
        `ctr-sync: invalid contact record in ${path}${where}: ${error.message} [${error.reason}]`,
      );
      status = EXIT.usage;
    }
  });
  return status;
}
