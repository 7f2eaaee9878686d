/**
 * The last line of defence against personal data in logs: every log line
 * passes through {@link RedactingLogFormatter}, which replaces phone numbers
 * and e-mail addresses in its message and attributes (error messages and
 * stacks included) before Powertools prints it.
 *
 * The first line is that handlers never log contact record fields besides
 * ContactId, LastUpdateTimestamp, reasons and counts; but error messages come
 * from elsewhere (an SDK, SCV's functions, Salesforce) and can quote input.
 */
import { LogFormatter, LogItem } from '@aws-lambda-powertools/logger';
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types';

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]';

/**
 * A phone number: `+` and at least 7 digits, separators allowed between them
 * (E.164 as Amazon Connect writes it, `+15550100123`, and written forms such
 * as `+1 (555) 010-0123`). Bare digit runs are left alone: Kinesis sequence
 * numbers and ContactIds are digits too, and are what logs are for.
 */
const PHONE_NUMBER = /\+\d(?:[\s().-]*\d){6,}/g;
/** An e-mail address. */
const EMAIL_ADDRESS = /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g;

/** `text` with every phone number and e-mail address replaced by {@link REDACTED}. */
export function redact(text: string): string {
  if (!text.includes('+') && !text.includes('@')) return text;
  return text.replace(PHONE_NUMBER, REDACTED).replace(EMAIL_ADDRESS, REDACTED);
}

/**
 * A copy of `value` with {@link redact} applied to every string in it, at any
 * depth; an Error becomes an error of the same class and fields with its
 * message, stack and cause redacted (the same error when there is nothing to
 * redact).
 */
export function redactDeep<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return redact(value) as T;
  if (value === null || typeof value !== 'object' || depth > 10) return value;
  if (value instanceof Error) {
    const message = redact(value.message);
    const stack = value.stack === undefined ? undefined : redact(value.stack);
    if (message === value.message && stack === value.stack && value.cause === undefined) {
      return value;
    }
    // Same class (instanceof keeps working) and own fields, with the text redacted.
    const copy = Object.assign(Object.create(Object.getPrototypeOf(value)) as Error, value);
    for (const [key, text] of [
      ['message', message],
      ['stack', stack],
    ] as const) {
      Object.defineProperty(copy, key, { value: text, writable: true, configurable: true });
    }
    if (value.cause !== undefined) copy.cause = redactDeep(value.cause, depth + 1);
    return copy as T;
  }
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1)) as T;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = redactDeep(item, depth + 1);
  return copy as T;
}

/**
 * Powertools' standard JSON log keys (level, message, timestamp, service,
 * cold_start, function_*, sampling_rate, xray_trace_id, then the line's own
 * attributes), with {@link redactDeep} applied to the message and attributes.
 * Source: Powertools for AWS Lambda (TypeScript), Logger, "Custom log formatter".
 */
export class RedactingLogFormatter extends LogFormatter {
  override formatAttributes(
    attributes: UnformattedAttributes,
    additionalLogAttributes: LogAttributes,
  ): LogItem {
    return new LogItem({
      attributes: {
        level: attributes.logLevel,
        message: redact(attributes.message),
        timestamp: this.formatTimestamp(attributes.timestamp),
        service: attributes.serviceName,
        cold_start: attributes.lambdaContext?.coldStart,
        function_arn: attributes.lambdaContext?.invokedFunctionArn,
        function_memory_size: attributes.lambdaContext?.memoryLimitInMB,
        function_name: attributes.lambdaContext?.functionName,
        function_request_id: attributes.lambdaContext?.awsRequestId,
        sampling_rate: attributes.sampleRateValue,
        xray_trace_id: attributes.xRayTraceId,
      },
    }).addAttributes(redactDeep(additionalLogAttributes));
  }
}
