/**
 * Configuration from environment variables, read and validated once at cold
 * start. A missing or malformed variable fails the cold start immediately
 * with its name, instead of failing every record later.
 */
// A namespace import lets esbuild drop the parts of zod left unused; `import { z }` keeps all of
// it, every locale included (about 350 KB of each bundle).
import * as z from 'zod';

/** Thrown at cold start when an environment variable is missing or malformed. */
export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

/**
 * Validate `env` (default `process.env`) against `schema` and return the
 * typed result.
 *
 * @throws ConfigurationError naming every variable that is missing or invalid.
 */
export function readConfig<T extends z.ZodType>(
  schema: T,
  env: Record<string, string | undefined> = process.env,
): z.infer<T> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join('.')}: ${issue.message}`,
    );
    throw new ConfigurationError(`Invalid configuration: ${problems.join('; ')}`);
  }
  return result.data;
}

/** A required, non-empty environment variable. */
export const requiredString = z.string().min(1);

/** An optional positive integer variable with a default, e.g. `"5"`. */
export const positiveInt = (fallback: number) =>
  z.coerce.number().int().positive().default(fallback);

/** An optional non-negative integer variable with a default, e.g. `"0"`. */
export const nonNegativeInt = (fallback: number) =>
  z.coerce.number().int().nonnegative().default(fallback);

/** An optional boolean variable, `"true"` or `"false"`, with a default. */
export const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false'])
    .default(fallback ? 'true' : 'false')
    .transform((value) => value === 'true');
