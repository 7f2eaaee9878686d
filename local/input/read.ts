/**
 * Input of the local stack: contact records from files, each becoming one
 * Kinesis record exactly as given.
 *
 * - A `.json` file holding an array: one record per element (compact JSON,
 *   as Amazon Connect publishes them); holding an object: one record.
 * - Any other file, or a `.json` file that does not parse as a whole: JSON
 *   lines, one record per non-empty line, bytes as-is, so malformed lines
 *   reach the stream and exercise rejection.
 * - A directory: its `.json`, `.jsonl` and `.ndjson` files, in name order.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';

/** One record for the stream, with what the stack can tell about it without validating it. */
export interface InputRecord {
  data: Buffer;
  /** ContactId when the record parses and has one (used as the partition key). */
  contactId?: string;
  /** InitiationTimestamp when present (the VoiceCall's CreatedDate). */
  initiationTimestamp?: string;
  /** True when Channel is VOICE or absent: SCV created a VoiceCall when the call started. */
  voice: boolean;
}

function describe(data: Buffer): InputRecord {
  try {
    const value = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    const contactId =
      typeof value?.ContactId === 'string' && value.ContactId !== '' ? value.ContactId : undefined;
    const initiationTimestamp =
      typeof value?.InitiationTimestamp === 'string' ? value.InitiationTimestamp : undefined;
    const voice =
      value?.Channel === undefined || value?.Channel === null || value?.Channel === 'VOICE';
    return { data, contactId, initiationTimestamp, voice };
  } catch {
    return { data, voice: false };
  }
}

function jsonLines(text: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let index = 0; index <= text.length; index++) {
    if (index === text.length || text[index] === 0x0a) {
      let end = index;
      if (end > start && text[end - 1] === 0x0d) end--;
      const line = text.subarray(start, end);
      if (line.toString('utf8').trim() !== '') lines.push(Buffer.from(line));
      start = index + 1;
    }
  }
  return lines;
}

async function readFileRecords(path: string): Promise<Buffer[]> {
  const bytes = await readFile(path);
  if (extname(path) === '.json') {
    try {
      const value: unknown = JSON.parse(bytes.toString('utf8'));
      const items = Array.isArray(value) ? value : [value];
      return items.map((item) => Buffer.from(JSON.stringify(item), 'utf8'));
    } catch {
      // Not one JSON document: read it as JSON lines.
    }
  }
  return jsonLines(bytes);
}

/** Read records from files and directories, in the order given. */
export async function readInput(paths: string[]): Promise<InputRecord[]> {
  const records: InputRecord[] = [];
  for (const path of paths) {
    const info = await stat(path);
    const files = info.isDirectory()
      ? (await readdir(path))
          .filter((name) => ['.json', '.jsonl', '.ndjson'].includes(extname(name)))
          .sort()
          .map((name) => join(path, name))
      : [path];
    for (const file of files)
      for (const data of await readFileRecords(file)) records.push(describe(data));
  }
  return records;
}
