/**
 * What every `ctr-sync` command shares: exit codes, output, and a usage error.
 *
 * Exit codes: 0 done (or healthy), 1 the work failed or needs a person (a
 * trigger the bus refused, a run that reported an error or did not report in
 * time, an unhealthy stage), 2 usage or input errors (an unknown flag, a bad
 * number or timestamp, a missing file, a stage with no bus).
 */

/** The exit codes of every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Where a command writes: `out` for results (stdout), `err` for one-line problems (stderr). */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/** stdout and stderr, a line at a time. */
export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * A usage or input error: the command prints `ctr-sync: <message>` on stderr
 * and exits {@link EXIT.usage}. The message names the fix.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * `value` as JSON with every character outside printable ASCII escaped
 * (`\uXXXX`): JSON.stringify leaves U+0085 (a line break to some terminals),
 * U+009B (CSI) and U+202E (right-to-left override) as they are, and text from
 * a record or a queue (anyone who can write to the stream chooses it) must
 * not forge lines or colours of the output.
 */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[^\x20-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
