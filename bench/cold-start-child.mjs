/**
 * Child process of bench/cold-start.ts: imports one handler module, the way
 * the Lambda runtime loads a handler at cold start, and prints one JSON line
 * to stdout:
 *
 * - `initMs`: `performance.now()` right after the import settled, i.e.
 *   milliseconds since this process started (Node's own startup included);
 * - `cpuMs`: CPU time the process used until then (user and system, all
 *   threads), in ms: less sensitive than `initMs` to other processes
 *   competing for the CPU;
 * - `awsSdkClients`: the `@aws-sdk/client-*` packages whose CommonJS entry is
 *   in the module cache, sorted (e.g. `["eventbridge"]`). Node loads the SDK
 *   clients' `main` (dist-cjs) when a module outside a bundle imports them,
 *   so this lists the clients an unbundled handler loaded at import; it is
 *   always empty for a bundle, whose clients are inlined.
 *
 * With no module argument it imports nothing: Node's startup alone.
 *
 * Usage: node bench/cold-start-child.mjs [module.mjs]
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const modulePath = process.argv[2];
if (modulePath) await import(pathToFileURL(modulePath).href);
const initMs = performance.now();
const cpu = process.cpuUsage();
const cpuMs = (cpu.user + cpu.system) / 1000;

const CLIENT_PATH = /[\\/]node_modules[\\/]@aws-sdk[\\/]client-([a-z0-9-]+)[\\/]/;
const awsSdkClients = [
  ...new Set(
    Object.keys(createRequire(import.meta.url).cache).flatMap((path) => {
      const match = CLIENT_PATH.exec(path);
      return match ? [match[1]] : [];
    }),
  ),
].sort();

// Exit once written: a handler module may hold the event loop open (sockets, timers).
process.stdout.write(`${JSON.stringify({ initMs, cpuMs, awsSdkClients })}\n`, () =>
  process.exit(0),
);
