/**
 * `serverless package` for template tests: packages a copy of the working
 * tree in a temporary directory (node_modules linked, not copied), offline
 * with dummy credentials, and reads the CloudFormation template and the
 * resolved service state it wrote. `serverless package` deletes
 * `<service>/.serverless` and builds in `<service>/.esbuild`, so packaging a
 * copy neither clobbers nor races with a package run in the repository.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'vitest';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const execFileAsync = promisify(execFile);
const serverlessBin = join(repoRoot, 'node_modules', '.bin', 'serverless');

/** Top-level entries of the working tree that the packaged copy leaves out. */
const NOT_COPIED = new Set([
  'node_modules',
  '.git',
  '.serverless',
  '.esbuild',
  '.local',
  'coverage',
]);

/** A CloudFormation resource of the template. */
export interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}

/** A template parameter (the parts read here). */
export interface TemplateParameter {
  Type: string;
  Default?: string;
  AllowedPattern?: string;
}

export interface Template {
  Resources: Record<string, Resource>;
  Parameters?: Record<string, TemplateParameter>;
  Conditions?: Record<string, unknown>;
}

/** The resolved service configuration serverless-state.json holds (the parts read here). */
export interface ServiceState {
  service: { custom: { esbuild: Record<string, unknown> } };
}

export interface Packaged {
  /** Where the artifacts and templates were written. */
  dir: string;
  template: Template;
  state: ServiceState;
  /** What `serverless package` printed (stdout, then stderr). */
  output: string;
}

const workDirs: string[] = [];

/**
 * The external ARNs a non-local stage must be given (resources/deploy-checks.cjs refuses the
 * placeholders); {@link packageService} adds them unless the arguments set them or the stage is
 * `local`.
 */
export const EXTERNAL_ARNS = {
  kinesisStreamArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/connect-contact-records',
  telephonyFunctionArn:
    'arn:aws:lambda:us-east-1:123456789012:function:InvokeTelephonyIntegrationApiFunction',
  restApiFunctionArn:
    'arn:aws:lambda:us-east-1:123456789012:function:InvokeSalesforceRestApiFunction',
} as const;

/** `args` with `--param=<name>=<arn>` for each external ARN they do not set (none for stage local). */
function withExternalArns(args: string[]): string[] {
  const stage = args[args.indexOf('--stage') + 1];
  if (args.includes('--stage') && stage === 'local') return args;
  const missing = Object.entries(EXTERNAL_ARNS).filter(
    ([name]) => !args.some((arg) => arg.startsWith(`--param=${name}=`)),
  );
  return [...args, ...missing.map(([name, arn]) => `--param=${name}=${arn}`)];
}

/**
 * `serverless package` of a copy of the working tree, with `args` added (and the
 * {@link EXTERNAL_ARNS} they leave out).
 * @throws the command's error (its output in `stderr`) when serverless fails.
 */
export async function packageService(args: string[]): Promise<Packaged> {
  const workDir = await mkdtemp(join(tmpdir(), 'ctr-sync-template-'));
  workDirs.push(workDir);
  const serviceDir = join(workDir, 'service');
  const dir = join(workDir, 'package');
  await cp(repoRoot, serviceDir, {
    recursive: true,
    filter: (source) => {
      const [topLevel] = source.slice(repoRoot.length).split('/');
      return topLevel === undefined || !NOT_COPIED.has(topLevel);
    },
  });
  await symlink(join(repoRoot, 'node_modules'), join(serviceDir, 'node_modules'), 'dir');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ACCESS_KEY_ID: 'dummy-access-key-id',
    AWS_SECRET_ACCESS_KEY: 'dummy-secret-access-key',
  };
  delete env.AWS_PROFILE;
  delete env.AWS_SESSION_TOKEN;
  const { stdout, stderr } = await execFileAsync(
    serverlessBin,
    ['package', '--package', dir, ...withExternalArns(args)],
    { cwd: serviceDir, env, timeout: 110_000 },
  );
  const readJson = async (file: string) => JSON.parse(await readFile(join(dir, file), 'utf8'));
  return {
    dir,
    template: await readJson('cloudformation-template-update-stack.json'),
    state: await readJson('serverless-state.json'),
    output: `${stdout}${stderr}`,
  };
}

/** Delete every directory {@link packageService} made (call it in `afterAll`). */
export async function removePackages(): Promise<void> {
  await Promise.all(workDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** `{ "Fn::GetAtt": [logicalId, attribute] }`. */
export function getAtt(logicalId: string, attribute = 'Arn'): unknown {
  return { 'Fn::GetAtt': [logicalId, attribute] };
}

/** Every resource of `type`, as `[logicalId, Properties]`. */
export function resourcesOfType<T>(template: Template, type: string): [string, T][] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === type)
    .map(([id, resource]) => [id, resource.Properties as T]);
}

export function resource<T>(template: Template, logicalId: string, type: string): T {
  const found = template.Resources[logicalId];
  if (found === undefined) throw new Error(`the template has no resource ${logicalId}`);
  expect(found.Type).toBe(type);
  return found.Properties as T;
}
