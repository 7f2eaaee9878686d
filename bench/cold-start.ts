/**
 * Figure 5 of issue 5, "Cold start": per function (ingest, updater, redrive),
 * the size of the bundle `serverless package` ships, and how long a fresh
 * Node process takes to import it, against importing the same modules
 * unbundled.
 *
 * - **Bundle**: esbuild with the options serverless-esbuild derives from
 *   `custom.esbuild` in serverless.yml, read from that file with the parser
 *   the Serverless Framework (osls) uses, so the bench measures what
 *   `serverless package` ships (same bytes as the `.mjs` in each function's
 *   zip).
 * - **Unbundled**: the same entry point and options, except that every npm
 *   package is left external (esbuild `packages: 'external'`): our own
 *   TypeScript in one file (plus one chunk per module imported dynamically,
 *   esbuild `splitting`, so what loads on first use stays lazy together with
 *   the packages it imports), and Node resolving and loading each package from
 *   node_modules (the AWS SDK clients' CommonJS `main`, Powertools' and zod's
 *   ESM entries), as a deployment of the sources beside node_modules would
 *   run. It is written to a temporary directory whose `node_modules` is a
 *   symlink to the repository's: ESM resolution walks up from the importing
 *   file and ignores NODE_PATH, and Node follows the symlink to the real
 *   files. The bundles sit in a sibling directory with no node_modules, as on
 *   Lambda.
 * - **Init time**: whole-process, in ms: `performance.now()` after the import
 *   of the handler module settled, in a new `node` process (this one's
 *   binary) started with only the function's environment (its variables
 *   from serverless.yml, dummy values where they are CloudFormation
 *   references, plus what Lambda sets: region, credentials, function name).
 *   Node's own startup is included in both; it is reported on its own as
 *   `nodeStartupMs`. Median over `runs` processes per variant, bundled and
 *   unbundled alternating, after one unmeasured warm-up of each. The ratio
 *   is bundled / unbundled; the same ratio of CPU time is reported beside it,
 *   as it varies less when other processes compete for the CPU.
 * - **Clients at import**: the `@aws-sdk/client-*` packages the unbundled
 *   process loaded (see bench/cold-start-child.mjs); every handler
 *   constructs the clients it imports statically at module scope, so these
 *   are the clients constructed at import, in both variants.
 *
 * Run standalone with `npx tsx bench/cold-start.ts [runs]`.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { type FigureResult, median } from './figure';

const execFileAsync = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const childScript = fileURLToPath(new URL('./cold-start-child.mjs', import.meta.url));

/** The functions measured: every function of serverless.yml. */
export const COLD_START_FUNCTIONS = ['ingest', 'updater', 'redrive'] as const;

/** One of {@link COLD_START_FUNCTIONS}. */
export type ColdStartFunction = (typeof COLD_START_FUNCTIONS)[number];

/**
 * The AWS SDK clients (`@aws-sdk/client-<name>`) each function's common path
 * uses, so may load at import. Ingest publishes to EventBridge; S3 serves only
 * the quarantine and records too large for an event, both rare, so it loads
 * on first use. The updater reads and writes the archive (S3) and invokes the
 * telephony function (Lambda) for every message. The redrive's scheduled sweep
 * uses all four: queryRecord (Lambda), the archive (S3), the sync queue (SQS)
 * and its report (EventBridge).
 */
export const COMMON_PATH_CLIENTS: Readonly<Record<ColdStartFunction, readonly string[]>> = {
  ingest: ['eventbridge'],
  updater: ['dynamodb', 'lambda'],
  redrive: ['dynamodb', 'eventbridge', 'lambda', 's3', 'sqs'],
};

/**
 * Bytes in a KB, as this project counts bundle sizes. (The EventBridge limit,
 * "less than 1MB" per PutEvents request, is counted in decimal bytes:
 * functions/shared/event-publisher.ts, MAX_REQUEST_BYTES.)
 */
export const KB = 1024;
/** Target: largest bundle, in bytes (600 KB). */
export const MAX_BUNDLE_BYTES = 600 * KB;
/** Target: largest bundled / unbundled whole-process init time. */
export const MAX_INIT_RATIO = 0.4;

/** The parts of serverless.yml this bench reads. */
export interface ServerlessConfig {
  params?: { default?: Record<string, unknown> };
  provider: { runtime: string; memorySize?: number; environment?: Record<string, unknown> };
  custom: { esbuild: Record<string, unknown> };
  functions: Record<string, { handler: string; environment?: Record<string, unknown> }>;
}

/** serverless.yml, parsed as the Serverless Framework (osls) parses it (CloudFormation tags included). */
export async function readServerlessConfig(): Promise<ServerlessConfig> {
  const file = join(repoRoot, 'serverless.yml');
  const parse = createRequire(import.meta.url)('osls/lib/utils/fs/parse.js') as (
    filePath: string,
    contents: string,
  ) => unknown;
  return parse(file, await readFile(file, 'utf8')) as ServerlessConfig;
}

/**
 * Keys of `custom.esbuild` that serverless-esbuild consumes itself and does
 * not pass to esbuild (serverless-esbuild 1.x, `dist/bundle.js`).
 */
const PLUGIN_ONLY_KEYS = new Set([
  'concurrency',
  'zipConcurrency',
  'exclude',
  'nativeZip',
  'packager',
  'packagePath',
  'watch',
  'keepOutputDirectory',
  'packagerOptions',
  'installExtraArgs',
  'outputFileExtension',
  'outputBuildFolder',
  'outputWorkFolder',
  'nodeExternals',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
]);

/**
 * The esbuild options serverless-esbuild 1.x builds each function with, from
 * `custom.esbuild` and the provider runtime: its defaults (bundle, platform
 * node, the runtime's Node version as target, `aws-sdk` excluded) overridden
 * by `custom.esbuild` (arrays replaced, not merged), its own keys removed,
 * `exclude` added to `external` (excluded modules are external and not
 * packaged), and `outputFileExtension` as `outExtension`.
 *
 * @throws Error for settings this derivation does not cover (`config`, `plugins`, variables).
 */
export function esbuildOptionsFromServerless(
  esbuild: Record<string, unknown>,
  runtime: string,
): BuildOptions {
  for (const key of ['config', 'plugins']) {
    if (key in esbuild) throw new Error(`custom.esbuild.${key} is not supported by the bench`);
  }
  if (JSON.stringify(esbuild).includes('${')) {
    throw new Error('custom.esbuild holds a Serverless variable; the bench reads it unresolved');
  }
  const nodeMajor = /^nodejs(\d+)\.x$/.exec(runtime)?.[1];
  const merged: Record<string, unknown> = {
    bundle: true,
    target: nodeMajor ? `node${nodeMajor}` : 'node18',
    external: [],
    exclude: ['aws-sdk'],
    platform: 'node',
    outputFileExtension: '.js',
    ...esbuild,
  };
  const strings = (value: unknown): string[] =>
    (Array.isArray(value) ? value : [value]).filter((item) => typeof item === 'string');
  const exclude = strings(merged.exclude);
  const options: Record<string, unknown> = Object.fromEntries(
    Object.entries(merged).filter(([key]) => !PLUGIN_ONLY_KEYS.has(key)),
  );
  options.external = [...strings(merged.external), ...(exclude.includes('*') ? [] : exclude)];
  if (merged.outputFileExtension !== '.js') {
    options.outExtension = { '.js': merged.outputFileExtension };
  }
  return options as BuildOptions;
}

/** The handler's source file, relative to the repository, e.g. `functions/ingest/handler.ts`. */
function entryOf(config: ServerlessConfig, name: ColdStartFunction): string {
  const handler = config.functions[name]?.handler;
  if (!handler) throw new Error(`serverless.yml has no function ${name}`);
  return `${handler.slice(0, handler.lastIndexOf('.'))}.ts`;
}

/**
 * The function's environment variables from serverless.yml (provider and
 * function level): `${param:...}` resolved from `params.default`, values
 * that stay unresolved (CloudFormation references, other variables) replaced
 * by a dummy string, as readConfig only checks that they are set.
 */
export function functionEnvironment(
  config: ServerlessConfig,
  name: ColdStartFunction,
): Record<string, string> {
  const params = config.params?.default ?? {};
  const variables = { ...config.provider.environment, ...config.functions[name]?.environment };
  return Object.fromEntries(
    Object.entries(variables).map(([key, value]) => {
      const resolved =
        typeof value === 'string'
          ? value.replace(/\$\{param:(\w+)\}/g, (match, param: string) =>
              params[param] === undefined ? match : String(params[param]),
            )
          : typeof value === 'number' || typeof value === 'boolean'
            ? String(value)
            : undefined;
      return [key, resolved === undefined || resolved.includes('${') ? `bench-${key}` : resolved];
    }),
  );
}

/** The variables the Lambda runtime sets that the SDK and Powertools read, with dummy credentials. */
function lambdaEnvironment(config: ServerlessConfig, name: ColdStartFunction, taskRoot: string) {
  return {
    PATH: process.env.PATH ?? '',
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    LAMBDA_TASK_ROOT: taskRoot,
    AWS_EXECUTION_ENV: `AWS_Lambda_${config.provider.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: `ctr-sync-bench-${name}`,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.provider.memorySize ?? 128),
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_SESSION_TOKEN: 'bench',
  };
}

/** One built handler module. */
interface Built {
  /** Absolute path of the `.mjs`. */
  file: string;
  /** Its size in bytes. */
  bytes: number;
  metafile: Metafile;
}

async function buildEntry(
  entry: string,
  outdir: string,
  options: BuildOptions,
  overrides: BuildOptions = {},
): Promise<Built> {
  // Relative entry and working directory as serverless-esbuild passes them (paths can reach the output).
  const result = await build({
    ...options,
    ...overrides,
    absWorkingDir: repoRoot,
    entryPoints: [entry],
    outdir,
    metafile: true,
    write: true,
    logLevel: 'error',
  });
  const output = Object.entries(result.metafile.outputs).find(([, meta]) => meta.entryPoint);
  if (!output) throw new Error(`no output for ${entry}`);
  const file = join(repoRoot, output[0]);
  return { file, bytes: (await stat(file)).size, metafile: result.metafile };
}

/** Bytes of the output per npm package (or per source folder), largest first, the top `count`. */
export function largestContributors(metafile: Metafile, count = 6): Record<string, number> {
  const bytes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const key =
        /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ??
        path.split('/').slice(0, 2).join('/');
      bytes.set(key, (bytes.get(key) ?? 0) + input.bytesInOutput);
    }
  }
  return Object.fromEntries([...bytes].sort((a, b) => b[1] - a[1]).slice(0, count));
}

/** What the child process reports for one import. */
interface ChildReport {
  /** ms since the child process started, once the import settled. */
  initMs: number;
  /** CPU time the child used until then (user and system), in ms. */
  cpuMs: number;
  /** `@aws-sdk/client-*` packages loaded from node_modules (see bench/cold-start-child.mjs). */
  awsSdkClients: string[];
}

async function importInChild(
  modulePath: string | undefined,
  env: Record<string, string>,
): Promise<ChildReport> {
  const { stdout } = await execFileAsync(
    process.execPath,
    modulePath ? [childScript, modulePath] : [childScript],
    { env, cwd: modulePath ? dirname(modulePath) : repoRoot, timeout: 30_000 },
  );
  return JSON.parse(stdout) as ChildReport;
}

/** Figures of one function, for the figure's details. */
export interface ColdStartDetails {
  /** Size of the bundle `serverless package` ships, in bytes. */
  bundleBytes: number;
  /** Median whole-process init time importing the bundle, in ms. */
  bundledInitMs: number;
  /** Median whole-process init time importing the unbundled build, in ms. */
  unbundledInitMs: number;
  /** bundledInitMs / unbundledInitMs: the figure's ratio. */
  ratio: number;
  /** Median CPU time (user and system) of the process importing the bundle, in ms. */
  bundledInitCpuMs: number;
  /** Median CPU time (user and system) of the process importing the unbundled build, in ms. */
  unbundledInitCpuMs: number;
  /**
   * bundledInitCpuMs / unbundledInitCpuMs: for reference, as CPU time varies
   * less than elapsed time when other processes compete for the CPU.
   */
  cpuRatio: number;
  /** Processes per variant the medians are over. */
  runs: number;
  /**
   * `@aws-sdk/client-*` packages the unbundled handler loaded at import; each
   * handler constructs every client it imports statically, at module scope.
   */
  awsSdkClientsAtImport: string[];
  /** Clients loaded at import that the function's common path does not use. */
  unusedClientsAtImport: string[];
  /** Bytes of the bundle per npm package (or source folder), the largest. */
  largestContributors: Record<string, number>;
  pass: boolean;
}

/**
 * Measure figure 5 (see the module comment).
 *
 * @param options.runs processes per function and variant (default 15).
 * @returns one FigureResult for all three functions; `pass` only when every
 *   function meets every target (bundle ≤ 600 KB, init ≤ 0.4x unbundled, no
 *   unused client loaded at import).
 */
export async function measureColdStart(options: { runs?: number } = {}): Promise<FigureResult> {
  const runs = options.runs ?? 15;
  const config = await readServerlessConfig();
  const bundleOptions = esbuildOptionsFromServerless(
    config.custom.esbuild,
    config.provider.runtime,
  );
  const workDir = await mkdtemp(join(tmpdir(), 'ctr-sync-cold-start-'));
  try {
    await mkdir(join(workDir, 'unbundled'));
    await symlink(
      join(repoRoot, 'node_modules'),
      join(workDir, 'unbundled', 'node_modules'),
      'dir',
    );
    const builds = await Promise.all(
      COLD_START_FUNCTIONS.map(async (name) => {
        const entry = entryOf(config, name);
        const [bundled, unbundled] = await Promise.all([
          buildEntry(entry, join(workDir, 'bundled', name), bundleOptions),
          // Split, so that a module the handler imports dynamically (loaded on first use) stays
          // lazy with the packages it imports: one file would hoist their imports to its top.
          buildEntry(entry, join(workDir, 'unbundled', name), bundleOptions, {
            packages: 'external',
            splitting: true,
          }),
        ]);
        const env = {
          ...lambdaEnvironment(config, name, dirname(bundled.file)),
          ...functionEnvironment(config, name),
        };
        return { name, bundled, unbundled, env };
      }),
    );

    const startup: number[] = [];
    const times = new Map(
      builds.map(({ name }) => [
        name,
        { bundled: [] as ChildReport[], unbundled: [] as ChildReport[] },
      ]),
    );
    const clients = new Map<ColdStartFunction, string[]>();
    for (let run = 0; run <= runs; run++) {
      const nodeOnly = await importInChild(undefined, { PATH: process.env.PATH ?? '' });
      if (run > 0) startup.push(nodeOnly.initMs);
      for (const { name, bundled, unbundled, env } of builds) {
        const variants = [
          ['bundled', bundled.file],
          ['unbundled', unbundled.file],
        ] as const;
        for (const [variant, file] of run % 2 === 0 ? variants : [...variants].reverse()) {
          const report = await importInChild(file, env);
          // Run 0 warms the file cache for both variants and is not counted.
          if (run === 0) {
            if (variant === 'unbundled') clients.set(name, report.awsSdkClients);
            continue;
          }
          times.get(name)?.[variant].push(report);
        }
      }
    }

    const details: Record<string, ColdStartDetails> = {};
    for (const { name, bundled } of builds) {
      const reports = times.get(name) ?? { bundled: [], unbundled: [] };
      const bundledInitMs = median(reports.bundled.map((report) => report.initMs));
      const unbundledInitMs = median(reports.unbundled.map((report) => report.initMs));
      const bundledInitCpuMs = median(reports.bundled.map((report) => report.cpuMs));
      const unbundledInitCpuMs = median(reports.unbundled.map((report) => report.cpuMs));
      const awsSdkClientsAtImport = clients.get(name) ?? [];
      const unusedClientsAtImport = awsSdkClientsAtImport.filter(
        (client) => !COMMON_PATH_CLIENTS[name].includes(client),
      );
      const ratio = bundledInitMs / unbundledInitMs;
      details[name] = {
        bundleBytes: bundled.bytes,
        bundledInitMs: round(bundledInitMs),
        unbundledInitMs: round(unbundledInitMs),
        ratio: round(ratio, 3),
        bundledInitCpuMs: round(bundledInitCpuMs),
        unbundledInitCpuMs: round(unbundledInitCpuMs),
        cpuRatio: round(bundledInitCpuMs / unbundledInitCpuMs, 3),
        runs,
        awsSdkClientsAtImport,
        unusedClientsAtImport,
        largestContributors: largestContributors(bundled.metafile),
        pass:
          bundled.bytes <= MAX_BUNDLE_BYTES &&
          ratio <= MAX_INIT_RATIO &&
          unusedClientsAtImport.length === 0,
      };
    }

    return {
      id: 5,
      name: 'Cold start: bundle size, init vs unbundled',
      measured: COLD_START_FUNCTIONS.map((name) => {
        const figure = details[name] as ColdStartDetails;
        const unused = figure.unusedClientsAtImport;
        return (
          `${name} ${Math.round(figure.bundleBytes / KB)} KB, init ${figure.ratio.toFixed(2)}x` +
          (unused.length > 0 ? `, loads unused ${unused.join('+')}` : '')
        );
      }).join('; '),
      target: `≤ ${MAX_BUNDLE_BYTES / KB} KB, init ≤ ${MAX_INIT_RATIO}x, no unused client at import`,
      pass: Object.values(details).every((figure) => figure.pass),
      details: {
        functions: details,
        nodeStartupMs: round(median(startup)),
        node: process.version,
        kbBytes: KB,
        esbuildOptions: bundleOptions,
      },
    };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  const result = await measureColdStart({ runs });
  const rows = Object.entries(result.details.functions as Record<string, ColdStartDetails>).map(
    ([name, figure]) => ({
      function: name,
      'bundle KB': round(figure.bundleBytes / KB),
      'bundled ms': figure.bundledInitMs,
      'unbundled ms': figure.unbundledInitMs,
      ratio: figure.ratio,
      'cpu ms': `${figure.bundledInitCpuMs} / ${figure.unbundledInitCpuMs}`,
      'cpu ratio': figure.cpuRatio,
      'clients at import': figure.awsSdkClientsAtImport.join(' '),
      pass: figure.pass,
    }),
  );
  console.table(rows);
  console.log(
    `Node startup alone: ${result.details.nodeStartupMs} ms (${result.details.node}); ` +
      `largest contributors (bytes):`,
  );
  for (const [name, figure] of Object.entries(
    result.details.functions as Record<string, ColdStartDetails>,
  )) {
    console.log(`  ${name}: ${JSON.stringify(figure.largestContributors)}`);
  }
  console.log(`${result.pass ? 'PASS' : 'FAIL'} ${result.measured} (target ${result.target})`);
}
