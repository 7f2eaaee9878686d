/**
 * `ctr-sync transform <ctr.json>`: what the updater would send SCV for one
 * contact record, without running anything.
 *
 * Prints `{"contactId": ..., "fieldValues": {...}}` (the `updateVoiceCall`
 * fieldValues) or `{"contactId": ..., "skipped": "<reason>"}`. A file holding
 * a JSON array prints one such line per element. Invalid input exits 2 with
 * the reason on stderr; usage errors exit 64.
 */
import { readFile } from 'node:fs/promises';
import { decodeContactRecordWithText } from '../domain/contact-record';
import { evaluateSyncEligibility } from '../domain/eligibility';
import { InvalidContactRecordError } from '../domain/errors';
import { toVoiceCallUpdate } from '../domain/voice-call';

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

/** Records of a file: the elements of a top-level JSON array, or the file itself. */
function recordsOf(bytes: Buffer): Uint8Array[] {
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
  return [bytes];
}

/** Run the CLI with `argv` (without node and script); returns the exit code. */
export async function main(
  argv: string[],
  io: { out: (line: string) => void; err: (line: string) => void } = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  },
): Promise<number> {
  const [command, path, ...rest] = argv;
  if (command !== 'transform' || !path || rest.length > 0) {
    io.err('usage: ctr-sync transform <ctr.json>');
    return 64;
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    io.err(`ctr-sync: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
    return 2;
  }
  const records = recordsOf(bytes);
  let status = 0;
  records.forEach((record, index) => {
    try {
      io.out(JSON.stringify(transformRecord(record)));
    } catch (error) {
      if (!(error instanceof InvalidContactRecordError)) throw error;
      const where = records.length > 1 ? ` (record ${index + 1} of ${records.length})` : '';
      io.err(
        `ctr-sync: invalid contact record in ${path}${where}: ${error.message} [${error.reason}]`,
      );
      status = 2;
    }
  });
  return status;
}
