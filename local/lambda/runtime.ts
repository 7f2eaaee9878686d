/**
 * Local Lambda runtime for the local stack: builds each function the way
 * `serverless package` does (esbuild, bundled, minified, ESM), and runs it in
 * child processes, one invocation at a time per process, with its own
 * environment variables, as Lambda runs execution environments.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The functions of the stack, by name, with their handler source. */
export const FUNCTION_ENTRIES = {
  ingest: 'functions/ingest/handler.ts',
  updater: 'functions/updater/handler.ts',
  redrive: 'functions/redrive/handler.ts',
} as const;

/** A function name of the stack. */
export type FunctionName = keyof typeof FUNCTION_ENTRIES;

/** esbuild settings equal to `custom.esbuild` in serverless.yml (a template test checks they agree). */
export const BUNDLE_OPTIONS = {
  bundle: true,
  minify: true,
  sourcemap: false,
  target: 'node22',
  platform: 'node',
  format: 'esm',
  mainFields: ['module', 'main'] as string[],
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
  /**
   * serverless.yml `exclude`: credential providers the SDK imports only when the environment
   * holds no credentials; Lambda always sets them (see the comment there).
   */
  external: [
    '@aws-sdk/credential-provider-ini',
    '@aws-sdk/credential-provider-process',
    '@aws-sdk/credential-provider-sso',
    '@aws-sdk/credential-provider-web-identity',
  ] as string[],
} satisfies BuildOptions;

/**
 * Bundle every function and the worker into `outDir`.
 * @returns absolute paths: `{ worker, bundles: { ingest: .../ingest.mjs, ... } }`.
 */
export async function buildFunctions(
  outDir: string,
): Promise<{ worker: string; bundles: Record<FunctionName, string> }> {
  await mkdir(outDir, { recursive: true });
  const names = Object.keys(FUNCTION_ENTRIES) as FunctionName[];
  await build({
    ...BUNDLE_OPTIONS,
    // Node 20 runs the local stack; the syntax of node22 output runs there too.
    entryPoints: Object.fromEntries(
      names.map((name) => [name, join(projectRoot, FUNCTION_ENTRIES[name])]),
    ),
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    logLevel: 'error',
  });
  await build({
    ...BUNDLE_OPTIONS,
    minify: false,
    entryPoints: { worker: join(projectRoot, 'local/lambda/worker.ts') },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    logLevel: 'error',
  });
  return {
    worker: join(outDir, 'worker.mjs'),
    bundles: Object.fromEntries(names.map((name) => [name, join(outDir, `${name}.mjs`)])) as Record<
      FunctionName,
      string
    >,
  };
}

/** Error of an invocation: the handler threw, timed out, or its process died. */
export class InvocationError extends Error {
  constructor(
    message: string,
    readonly errorType: string,
  ) {
    super(message);
    this.name = 'InvocationError';
  }
}

/** Options of {@link startLocalFunction}. */
export interface LocalFunctionOptions {
  name: string;
  workerPath: string;
  bundlePath: string;
  /** Environment variables of the function (merged over a minimal base). */
  environment: Record<string, string>;
  /** Execution environments (processes) = maximum concurrent invocations. */
  concurrency: number;
  /** Function timeout in milliseconds. */
  timeoutMs: number;
  /** Each stdout/stderr line of the function, e.g. to a log file and a metrics collector. */
  onLogLine?: (line: string) => void;
  /**
   * Fault injection: the process running the invocation with this number
   * (1 = the first) dies in the middle of it (see lambda-worker.ts).
   */
  crashOnInvocation?: number;
}

/** A function running locally. */
export interface LocalFunction {
  name: string;
  /** Invoke synchronously; rejects with {@link InvocationError} when the handler failed. */
  invoke(event: unknown): Promise<unknown>;
  /** Invocations currently running or waiting for a free environment. */
  readonly pending: number;
  /** Invocations dispatched so far, retries included. */
  readonly invocations: number;
  /** Execution environments that died during an invocation (crash, timeout). */
  readonly crashes: number;
  /** Handler run time of every invocation that answered, in milliseconds, in order of answer. */
  readonly durationsMs: readonly number[];
  /** Bytes the function wrote to stdout and stderr (its log stream), newlines included. */
  readonly logBytes: number;
  stop(): Promise<void>;
}

interface Environment {
  child: ChildProcess;
  busy: boolean;
  current?: {
    id: number;
    resolve: (value: unknown) => void;
    reject: (error: Error) => void;
    timer: NodeJS.Timeout;
  };
}

/** Start a function with `concurrency` execution environments (started lazily). */
export function startLocalFunction(options: LocalFunctionOptions): LocalFunction {
  const environments: Environment[] = [];
  const queue: {
    event: unknown;
    resolve: (value: unknown) => void;
    reject: (error: Error) => void;
  }[] = [];
  let nextId = 1;
  let pending = 0;
  let invocations = 0;
  let crashes = 0;
  const durationsMs: number[] = [];
  let logBytes = 0;
  let stopped = false;

  function spawnEnvironment(): Environment {
    const child = fork(options.workerPath, [], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_OPTIONS: '',
        AWS_LAMBDA_FUNCTION_NAME: options.name,
        CTR_SYNC_BUNDLE: options.bundlePath,
        ...options.environment,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
      // The bundles are plain JavaScript: no loader (tsx) of the parent's own.
      execArgv: [],
    });
    const environment: Environment = { child, busy: false };
    for (const stream of [child.stdout, child.stderr]) {
      if (stream)
        createInterface({ input: stream }).on('line', (line) => {
          logBytes += Buffer.byteLength(line) + 1;
          options.onLogLine?.(line);
        });
    }
    child.on(
      'message',
      (message: {
        id: number;
        ok: boolean;
        value?: unknown;
        error?: { name: string; message: string };
        durationMs?: number;
      }) => {
        const current = environment.current;
        if (!current || current.id !== message.id) return;
        if (typeof message.durationMs === 'number') durationsMs.push(message.durationMs);
        clearTimeout(current.timer);
        environment.current = undefined;
        environment.busy = false;
        if (message.ok) current.resolve(message.value);
        else
          current.reject(
            new InvocationError(message.error?.message ?? 'error', message.error?.name ?? 'Error'),
          );
        dispatch();
      },
    );
    child.on('exit', (code, signal) => {
      const index = environments.indexOf(environment);
      if (index >= 0) environments.splice(index, 1);
      const current = environment.current;
      if (current) {
        crashes++;
        clearTimeout(current.timer);
        current.reject(
          new InvocationError(
            `Runtime exited (code ${code}, signal ${signal})`,
            'Runtime.ExitError',
          ),
        );
      }
      if (!stopped) dispatch();
    });
    environments.push(environment);
    return environment;
  }

  function dispatch(): void {
    while (queue.length > 0 && !stopped) {
      let environment = environments.find((candidate) => !candidate.busy);
      if (!environment) {
        if (environments.length >= options.concurrency) return;
        environment = spawnEnvironment();
      }
      const job = queue.shift();
      if (!job) return;
      const id = nextId++;
      const target = environment;
      target.busy = true;
      const timer = setTimeout(() => {
        // Lambda ends a timed-out environment; so do we.
        target.current?.reject(
          new InvocationError(`Task timed out after ${options.timeoutMs} ms`, 'Sandbox.Timedout'),
        );
        target.current = undefined;
        target.child.kill('SIGKILL');
      }, options.timeoutMs);
      target.current = { id, resolve: job.resolve, reject: job.reject, timer };
      invocations++;
      const crash = invocations === options.crashOnInvocation;
      target.child.send({ id, event: job.event, timeoutMs: options.timeoutMs, crash });
    }
  }

  return {
    name: options.name,
    get pending() {
      return pending;
    },
    get invocations() {
      return invocations;
    },
    get crashes() {
      return crashes;
    },
    durationsMs,
    get logBytes() {
      return logBytes;
    },
    invoke(event) {
      if (stopped)
        return Promise.reject(new InvocationError(`${options.name} is stopped`, 'Stopped'));
      pending++;
      return new Promise<unknown>((resolve, reject) => {
        queue.push({ event, resolve, reject });
        dispatch();
      }).finally(() => {
        pending--;
      });
    },
    async stop() {
      stopped = true;
      await Promise.all(
        environments.map(
          (environment) =>
            new Promise<void>((resolve) => {
              if (environment.child.exitCode !== null) return resolve();
              environment.child.once('exit', () => resolve());
              environment.child.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

/** A log file of the local stack, one per function. */
export async function openLogFile(path: string): Promise<WriteStream> {
  await mkdir(dirname(path), { recursive: true });
  return createWriteStream(path, { flags: 'a' });
}
