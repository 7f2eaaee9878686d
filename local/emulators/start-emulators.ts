/**
 * Local emulators for the AWS services the pipeline uses, and SDK clients
 * configured to talk to them.
 *
 * - Kinesis: `kinesis-local` (kinesis-mock compiled to JavaScript), run as a
 *   child process.
 * - SQS and S3: `fauxqs`, run in this process.
 *
 * Every emulator listens on 127.0.0.1 only, on a port the operating system
 * reports free. Callers get an endpoint URL back and pass it on as
 * configuration; nothing here decides whether the code runs locally.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListStreamsCommand,
} from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { buildApp } from 'fauxqs';

/** The region every local client and emulator uses. */
export const LOCAL_REGION = 'us-east-1';

/**
 * Dummy static credentials. The emulators accept any signature; the access
 * key id is deliberately not 12 digits, because kinesis-local would read a
 * 12-digit one as an account id and namespace the streams under it.
 */
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

const LOOPBACK = '127.0.0.1';

/** A running emulator. */
export interface EmulatorHandle {
  /** Base URL to give an SDK client as `endpoint`, e.g. `http://127.0.0.1:41234`. */
  endpoint: string;
  /**
   * Stop the emulator and release its port. Safe to call more than once.
   * Never rejects for an emulator that has already exited.
   */
  stop(): Promise<void>;
}

/** Options for {@link startKinesisLocal}. */
export interface StartKinesisLocalOptions {
  /**
   * File that receives the emulator's stdout and stderr (appended). When
   * omitted the output is discarded.
   */
  logFile?: string;
  /** How long to wait for the emulator to answer ListStreams, in milliseconds. Default 30 000. */
  startTimeoutMs?: number;
  /**
   * Extra environment for the emulator, e.g. `{ LOG_LEVEL: 'DEBUG' }` or
   * `{ CREATE_STREAM_DURATION: '100ms' }` (see kinesis-local's README). The
   * port variables are always chosen here and cannot be overridden.
   */
  env?: Record<string, string>;
}

/**
 * Run inside the kinesis-local child with `node -e` before its own code.
 *
 * kinesis-local calls `listen(port)` without a host, which binds every
 * interface and has no setting to change it; the shim supplies 127.0.0.1 to
 * such calls. It also exits when its stdin closes, which happens when the
 * parent dies by any means (even SIGKILL), so no emulator outlives the stack.
 * It keeps Node's own `process.exit`, because cats-effect replaces it with a
 * graceful shutdown that waits for clients' keep-alive connections to close.
 */
const KINESIS_LOCAL_SHIM = `
const net = require('node:net');
const listen = net.Server.prototype.listen;
const wildcard = (host) => host === undefined || host === '0.0.0.0' || host === '::';
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function')) {
    args.splice(1, 0, '${LOOPBACK}');
  } else if (typeof args[0] === 'number' && typeof args[1] === 'string' && wildcard(args[1])) {
    args[1] = '${LOOPBACK}';
  } else if (args[0] !== null && typeof args[0] === 'object' && args[0].path === undefined && wildcard(args[0].host)) {
    args[0] = { ...args[0], host: '${LOOPBACK}' };
  }
  return listen.apply(this, args);
};
const exit = process.exit.bind(process);
process.stdin.on('end', () => exit(0));
process.stdin.on('error', () => exit(0));
process.stdin.resume();
require(process.argv[1]);
`;

/**
 * Start kinesis-local as a child process on free loopback ports and wait
 * until it answers ListStreams.
 *
 * The child is killed when this process exits (a process `'exit'` handler)
 * and exits by itself when this process dies without running handlers.
 *
 * @returns the plain-HTTP endpoint; kinesis-local's TLS port is also bound
 *   (to a free port) but not used.
 * @throws Error when the emulator exits during start-up or does not answer
 *   within `startTimeoutMs`; the child is stopped before the error is thrown.
 */
export async function startKinesisLocal(
  options: StartKinesisLocalOptions = {},
): Promise<EmulatorHandle> {
  const require = createRequire(import.meta.url);
  const mainPath = require.resolve('kinesis-local');
  const certPath = join(dirname(mainPath), 'server.json');
  const [plainPort, tlsPort] = await findFreePorts(2);
  const endpoint = `http://${LOOPBACK}:${plainPort}`;

  const logFd = options.logFile === undefined ? undefined : openSync(options.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ['-e', KINESIS_LOCAL_SHIM, mainPath], {
      env: {
        ...process.env,
        ...options.env,
        KINESIS_MOCK_CERT_PATH: certPath,
        KINESIS_MOCK_PLAIN_PORT: String(plainPort),
        KINESIS_MOCK_TLS_PORT: String(tlsPort),
      },
      stdio: ['pipe', logFd ?? 'ignore', logFd ?? 'ignore'],
    });
  } finally {
    // The child holds its own copy of the descriptor.
    if (logFd !== undefined) closeSync(logFd);
  }

  // The pipe only signals liveness; a child that is already gone is handled by 'exit'.
  child.stdin?.on('error', () => {});

  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      process.off('exit', killOnExit);
      resolve();
    });
  });
  // A failed spawn emits 'error' and possibly no 'exit'.
  child.once('error', () => {
    exited = true;
    process.off('exit', killOnExit);
  });

  const stop = async (): Promise<void> => {
    if (exited) return;
    // Closing stdin makes the shim exit at once; SIGTERM would wait for
    // clients' keep-alive connections to close.
    child.stdin?.end();
    const terminate = setTimeout(() => child.kill('SIGTERM'), 2_000);
    const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exitPromise;
    clearTimeout(terminate);
    clearTimeout(kill);
  };

  try {
    await waitForKinesis(endpoint, options.startTimeoutMs ?? 30_000, () => exited);
  } catch (error) {
    await stop();
    const where = options.logFile === undefined ? '' : ` (output in ${options.logFile})`;
    throw new Error(`kinesis-local did not start on ${endpoint}${where}: ${describeError(error)}`, {
      cause: error,
    });
  }
  return { endpoint, stop };
}

/**
 * fauxqs 1.9 rejects message bodies with characters outside the Basic
 * Multilingual Plane (emoji, many CJK extensions) as InvalidMessageContents,
 * but SQS accepts #x10000 to #x10FFFF (Amazon SQS API Reference, SendMessage,
 * MessageBody). Its check is one shared regular expression; widen it in place
 * (`RegExp.prototype.compile`) so the local stack treats such contact
 * records as AWS does. fauxqs 2.x needs Node 22.5, so 1.9 stays.
 */
async function acceptSupplementaryCharacters(): Promise<void> {
  const fauxqsEntry = fileURLToPath(import.meta.resolve('fauxqs'));
  const types = await import(pathToFileURL(join(dirname(fauxqsEntry), 'sqs/sqsTypes.js')).href);
  const check = types.INVALID_MESSAGE_BODY_CHAR as RegExp & {
    compile(pattern: string, flags: string): void;
  };
  if (!check.flags.includes('u')) {
    check.compile('[^\\x09\\x0A\\x0D\\x20-\\uD7FF\\uE000-\\uFFFD\\u{10000}-\\u{10FFFF}]', 'u');
  }
}

/** Options for {@link startFauxqsServer}. */
export interface StartFauxqsOptions {
  /** Log every request through Fastify's logger. Default false. */
  logger?: boolean;
  /** Region for requests whose signature names none. Default `us-east-1`. */
  defaultRegion?: string;
}

/**
 * Start fauxqs (SQS, S3, SNS) in this process on a free loopback port.
 *
 * Uses fauxqs' `buildApp` rather than `startFauxqs`, because `startFauxqs`
 * always listens on 0.0.0.0. Queue URLs it hands out look like
 * `http://sqs.us-east-1.localhost:<port>/000000000000/<name>`; clients from
 * {@link createSqsClient} send every request to the endpoint regardless.
 *
 * @throws Error from Fastify when the port cannot be bound.
 */
export async function startFauxqsServer(options: StartFauxqsOptions = {}): Promise<EmulatorHandle> {
  await acceptSupplementaryCharacters();
  const app = buildApp({
    logger: options.logger ?? false,
    host: 'localhost',
    defaultRegion: options.defaultRegion ?? LOCAL_REGION,
  });
  await app.listen({ port: 0, host: LOOPBACK });
  const address = app.server.address();
  if (address === null || typeof address === 'string') {
    await app.close();
    throw new Error('fauxqs did not report a TCP address');
  }
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://${LOOPBACK}:${address.port}`,
    stop: () => {
      const closing = stopped ?? app.close().then(() => undefined);
      stopped = closing;
      return closing;
    },
  };
}

/**
 * A Kinesis client for an emulator endpoint: region us-east-1, dummy
 * credentials, and an HTTP/1.1 handler, because the SDK's default handler
 * hits intermittent protocol errors against kinesis-local.
 */
export function createKinesisClient(endpoint: string): KinesisClient {
  return new KinesisClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    requestHandler: new NodeHttpHandler(),
  });
}

/** An SQS client for an emulator endpoint: region us-east-1, dummy credentials. */
export function createSqsClient(endpoint: string): SQSClient {
  return new SQSClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
}

/**
 * An S3 client for an emulator endpoint: region us-east-1, dummy
 * credentials, path-style addressing (bucket names in the path, not the
 * host name), and checksums only where an operation requires them, which is
 * what fauxqs supports.
 */
export function createS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Options for {@link createStream}. */
export interface CreateStreamOptions {
  /** How long to wait for the stream to become ACTIVE, in milliseconds. Default 30 000. */
  timeoutMs?: number;
  /** Delay between DescribeStreamSummary calls, in milliseconds. Default 100. */
  pollIntervalMs?: number;
}

/**
 * Create a provisioned stream and wait until it is ACTIVE.
 *
 * Polls DescribeStreamSummary itself, because the SDK's stream waiters poll
 * every 10 seconds.
 *
 * @returns the stream's ARN.
 * @throws the SDK's ResourceInUseException when a stream of that name
 *   already exists; Error when the stream is not ACTIVE within `timeoutMs`.
 */
export async function createStream(
  client: KinesisClient,
  name: string,
  shardCount: number,
  options: CreateStreamOptions = {},
): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const pollIntervalMs = options.pollIntervalMs ?? 100;
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shardCount }));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { StreamDescriptionSummary: summary } = await client.send(
      new DescribeStreamSummaryCommand({ StreamName: name }),
    );
    if (summary?.StreamStatus === 'ACTIVE' && summary.StreamARN !== undefined) {
      return summary.StreamARN;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `Stream ${name} is ${summary?.StreamStatus ?? 'unknown'}, not ACTIVE, after ${timeoutMs} ms`,
      );
    }
    await delay(pollIntervalMs);
  }
}

async function waitForKinesis(
  endpoint: string,
  timeoutMs: number,
  hasExited: () => boolean,
): Promise<void> {
  const client = createKinesisClient(endpoint);
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  try {
    while (Date.now() < deadline) {
      if (hasExited()) throw new Error('the process exited during start-up');
      try {
        await client.send(new ListStreamsCommand({}), { abortSignal: AbortSignal.timeout(2_000) });
        return;
      } catch (error) {
        lastError = error;
      }
      await delay(100);
    }
    throw new Error(`no answer to ListStreams within ${timeoutMs} ms`, { cause: lastError });
  } finally {
    client.destroy();
  }
}

/**
 * Ports that were free on 127.0.0.1 a moment ago. All are held open together
 * before any is released, so the same port is never returned twice.
 */
async function findFreePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i += 1) {
      const server = createServer();
      servers.push(server);
      ports.push(await listenOnFreePort(server));
    }
    return ports;
  } finally {
    await Promise.all(
      servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
  }
}

/**
 * Start `server` listening on a free port of 127.0.0.1; resolves with the port.
 * Rejects when it cannot listen, or has no TCP address.
 */
export function listenOnFreePort(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      server.off('error', reject);
      const address = server.address();
      if (address === null || typeof address === 'string') {
        reject(new Error('listening socket has no TCP address'));
        return;
      }
      resolve(address.port);
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}
