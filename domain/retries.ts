/**
 * Retries of the redrive's steps (a query, a ledger read, an archive list or
 * read): 3 attempts in all, with backoff, never for a PermanentError.
 */
import { PermanentError } from './errors';

/** Attempts of one query or read in a sweep, the first included. */
const SWEEP_STEP_ATTEMPTS = 3;

/**
 * Run `step`, retrying any error but a PermanentError with backoff (100 ms,
 * 200 ms), while `hasTimeLeft()` (when given) says there is time for another attempt.
 */
export async function withRetries<T>(
  step: () => Promise<T>,
  sleep: (ms: number) => Promise<void>,
  hasTimeLeft: () => boolean = () => true,
) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (error instanceof PermanentError || attempt === SWEEP_STEP_ATTEMPTS || !hasTimeLeft()) {
        throw error;
      }
      await sleep(100 * 2 ** (attempt - 1));
    }
  }
}

/** Waits `ms` milliseconds (the sleep the ports use unless a test injects one). */
export const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
