/**
 * Error classes shared by the domain and the handlers.
 *
 * Handlers decide what happens to a record from the class of the error it
 * threw, never from its message:
 * - {@link PermanentError}: retrying cannot help (invalid input, a superseded
 *   version). The record is quarantined or skipped, and counted.
 * - {@link TransientError}: the same input may succeed later (throttling, 5xx,
 *   a timeout). The record is reported as a batch item failure and retried.
 *
 * Messages never carry personal data (phone numbers, attribute values): they
 * name the ContactId and the field at most.
 */

/** Retrying the same input cannot succeed. */
export class PermanentError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

/** The same input may succeed on a later attempt. */
export class TransientError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/**
 * A contact record that cannot be decoded, parsed or validated.
 *
 * `reason` is a short machine-readable code (for example `invalid-json`,
 * `invalid-utf8`, `schema`), `message` a human-readable summary naming the
 * offending fields by path only, never their values.
 */
export class InvalidContactRecordError extends PermanentError {
  readonly reason: string;

  constructor(reason: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidContactRecordError';
    this.reason = reason;
  }
}
