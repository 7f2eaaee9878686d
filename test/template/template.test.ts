/**
 * Checks the CloudFormation template and artifacts `serverless package`
 * produces against what the code and the local stack assume: the rule
 * patterns of `events/patterns.json`, the rules, mappings and queue settings
 * of `local/run/topology.ts`, the esbuild settings of `local/lambda/runtime.ts`,
 * and the environment variables each handler's config reads.
 *
 * `serverless package` deletes `<service>/.serverless` and builds in
 * `<service>/.esbuild`, so each run packages a copy of the working tree in a
 * temporary directory (node_modules linked, not copied): the tests neither
 * clobber nor race with a package run in the repository. Packaging is offline
 * (dummy credentials, no AWS calls).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import patterns from '../../events/patterns.json';
import { BUNDLE_OPTIONS, FUNCTION_ENTRIES, type FunctionName } from '../../local/lambda/runtime';
import {
  ARCHIVE_STREAM,
  ASYNC_INVOKE_ATTEMPTS,
  FUNCTION_TIMEOUTS,
  INGEST_MAPPING,
  LEDGER_TABLE,
  RULES,
  SYNC_QUEUE,
  UPDATER_MAPPING,
} from '../../local/run/topology';
import {
  EXTERNAL_ARNS,
  getAtt,
  type Packaged,
  packageService,
  removePackages,
  repoRoot,
  resource,
  resourcesOfType,
  type Template,
} from './packaged';

const FUNCTION_NAMES = Object.keys(FUNCTION_ENTRIES) as FunctionName[];

/** The pattern of `events/patterns.json` each rule of local/run/topology.ts must carry. */
const PATTERN_OF_RULE: Record<string, keyof typeof patterns> = {
  sync: 'ctrReceived',
  archive: 'ctrReceived',
  'redrive-requested': 'redriveRequested',
  'start-call-processing': 'startCallProcessing',
};

interface RuleTarget {
  Id: string;
  Arn: unknown;
  InputPath?: string;
  DeadLetterConfig?: { Arn: unknown };
}

interface RuleProperties {
  EventBusName?: unknown;
  EventPattern?: unknown;
  ScheduleExpression?: string;
  Targets: RuleTarget[];
}

interface FunctionProperties {
  FunctionName: string;
  Role?: unknown;
  Handler: string;
  Runtime: string;
  Architectures: string[];
  Timeout: number;
  Environment: { Variables: Record<string, unknown> };
}

interface EventSourceMappingProperties {
  EventSourceArn: unknown;
  FunctionName: unknown;
  BatchSize?: number;
  MaximumBatchingWindowInSeconds?: number;
  MaximumRetryAttempts?: number;
  MaximumRecordAgeInSeconds?: number;
  BisectBatchOnFunctionError?: boolean;
  StartingPosition?: string;
  FunctionResponseTypes?: string[];
  ScalingConfig?: { MaximumConcurrency?: number };
  DestinationConfig?: { OnFailure?: { Destination?: unknown } };
}

interface QueueProperties {
  QueueName: string;
  VisibilityTimeout?: number | string;
  RedrivePolicy?: { deadLetterTargetArn: unknown; maxReceiveCount: number | string };
}

interface PolicyStatement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

interface RoleProperties {
  Policies: { PolicyDocument: { Statement: PolicyStatement[] } }[];
}

interface EventInvokeConfigProperties {
  FunctionName: unknown;
  MaximumRetryAttempts?: number;
  DestinationConfig?: { OnFailure?: { Destination?: unknown } };
}

const PROD_KMS_KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

let dev: Packaged;
let prod: Packaged;

beforeAll(async () => {
  [dev, prod] = await Promise.all([
    packageService([]),
    packageService([
      '--stage',
      'prod',
      '--param=maxReceiveCount=3',
      '--param=archiveExpirationDays=400',
      `--param=archiveKmsKeyArn=${PROD_KMS_KEY}`,
    ]),
  ]);
}, 120_000);

afterAll(removePackages);

function functionLogicalId(name: FunctionName): string {
  return `${name.charAt(0).toUpperCase()}${name.slice(1)}LambdaFunction`;
}

function lambdaFunction(template: Template, name: FunctionName): FunctionProperties {
  return resource(template, functionLogicalId(name), 'AWS::Lambda::Function');
}

/** The one event source mapping of `name`'s function. */
function eventSourceMapping(template: Template, name: FunctionName): EventSourceMappingProperties {
  const mappings = resourcesOfType<EventSourceMappingProperties>(
    template,
    'AWS::Lambda::EventSourceMapping',
  ).filter(([, mapping]) =>
    isDeepStrictEqual(mapping.FunctionName, getAtt(functionLogicalId(name))),
  );
  expect(mappings).toHaveLength(1);
  return (mappings[0] as [string, EventSourceMappingProperties])[1];
}

/** Bus rules (rules with an event pattern, not schedules). */
function busRules(template: Template): [string, RuleProperties][] {
  return resourcesOfType<RuleProperties>(template, 'AWS::Events::Rule').filter(
    ([, rule]) => rule.EventPattern !== undefined,
  );
}

function isOnEventBus(rule: RuleProperties): boolean {
  return (
    isDeepStrictEqual(rule.EventBusName, { Ref: 'EventBus' }) ||
    isDeepStrictEqual(rule.EventBusName, getAtt('EventBus', 'Name'))
  );
}

/**
 * Names of the environment variables `name`'s handler reads through
 * `readConfig`, split by whether the schema requires them (`requiredString`)
 * or has a default.
 */
function configVariables(name: FunctionName): { required: string[]; withDefault: string[] } {
  const source = readFileSync(join(repoRoot, FUNCTION_ENTRIES[name]), 'utf8');
  const start = source.indexOf('readConfig(');
  if (start < 0) throw new Error(`${FUNCTION_ENTRIES[name]} does not call readConfig`);
  let depth = 0;
  let end = start;
  for (let index = start + 'readConfig'.length; index < source.length; index += 1) {
    const char = source.charAt(index);
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (depth === 0) {
      end = index;
      break;
    }
  }
  const required: string[] = [];
  const withDefault: string[] = [];
  for (const match of source.slice(start, end).matchAll(/\b([A-Z][A-Z0-9_]+)\s*:\s*(\w+)/g)) {
    const [, variable, validator] = match;
    if (variable === undefined) continue;
    (validator === 'requiredString' ? required : withDefault).push(variable);
  }
  return { required, withDefault };
}

/** The files of a zip archive, read from its central directory (stored or deflated entries). */
function readZip(path: string): { name: string; content: Buffer }[] {
  const zip = readFileSync(path);
  const endOfDirectory = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (endOfDirectory < 0) throw new Error(`${path} is not a zip archive`);
  const entryCount = zip.readUInt16LE(endOfDirectory + 10);
  let offset = zip.readUInt32LE(endOfDirectory + 16);
  const files: { name: string; content: Buffer }[] = [];
  for (let entry = 0; entry < entryCount; entry += 1) {
    if (zip.readUInt32LE(offset) !== 0x02014b50)
      throw new Error(`bad central directory in ${path}`);
    const method = zip.readUInt16LE(offset + 10);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    const localHeader = zip.readUInt32LE(offset + 42);
    const name = zip.toString('utf8', offset + 46, offset + 46 + nameLength);
    const dataStart =
      localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    if (method !== 0 && method !== 8) throw new Error(`${name}: unsupported zip method ${method}`);
    files.push({ name, content: method === 8 ? inflateRawSync(data) : Buffer.from(data) });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return files;
}

describe('serverless package (stage dev, default parameters)', () => {
  describe.each(RULES)('the $name rule', (spec) => {
    it('carries its pattern from events/patterns.json, as local/run/topology.ts does', () => {
      const patternName = PATTERN_OF_RULE[spec.name];
      expect(patternName).toBeDefined();
      expect(spec.eventPattern).toEqual(patterns[patternName as keyof typeof patterns]);

      const onBus = busRules(dev.template).filter(
        ([, rule]) => isOnEventBus(rule) && isDeepStrictEqual(rule.EventPattern, spec.eventPattern),
      );

      expect(onBus.length).toBeGreaterThan(0);
    });

    it('delivers to the target local/run/topology.ts names', () => {
      const withPattern = busRules(dev.template).filter(
        ([, rule]) => isOnEventBus(rule) && isDeepStrictEqual(rule.EventPattern, spec.eventPattern),
      );
      const targets = withPattern.flatMap(([, rule]) => rule.Targets);

      if (spec.target.kind === 'function') {
        expect(targets).toContainEqual(
          expect.objectContaining({ Arn: getAtt(functionLogicalId(spec.target.function)) }),
        );
      } else if (spec.target.kind === 'delivery-stream') {
        expect(targets).toContainEqual(
          expect.objectContaining({
            Arn: getAtt('ArchiveDeliveryStream'),
            RoleArn: getAtt('ArchiveRuleRole'),
            InputPath: spec.target.inputPath,
            DeadLetterConfig: { Arn: getAtt('ArchiveDlq') },
          }),
        );
      } else {
        expect(targets).toContainEqual(
          expect.objectContaining({
            Arn: getAtt('SyncQueue'),
            InputPath: spec.target.inputPath,
            DeadLetterConfig: { Arn: getAtt('SyncDlq') },
          }),
        );
      }
    });
  });

  it('has no bus rule or rule target beyond those of local/run/topology.ts', () => {
    const onBus = busRules(dev.template).filter(([, rule]) => isOnEventBus(rule));
    const elsewhere = busRules(dev.template).filter(([, rule]) => !isOnEventBus(rule));

    // On the default bus: the rule reporting the batches ingest gave up on (S3 events of the
    // archive bucket).
    expect(elsewhere.map(([id, rule]) => [id, rule.EventBusName])).toEqual([
      ['IngestFailedBatchRule', undefined],
    ]);
    expect(onBus.flatMap(([, rule]) => rule.Targets)).toHaveLength(RULES.length);
  });

  it('sends undeliverable events of every bus rule to a dead-letter queue', () => {
    // Except the rule reporting ingest's failed batches: its events only point at objects the bucket
    // keeps, and its FailedInvocations alarm says when one was not delivered.
    const targets = busRules(dev.template)
      .filter(([id]) => id !== 'IngestFailedBatchRule')
      .flatMap(([, rule]) => rule.Targets);

    for (const target of targets) {
      expect(target.DeadLetterConfig?.Arn).toEqual(
        expect.objectContaining({ 'Fn::GetAtt': expect.any(Array) }),
      );
    }
  });

  it('reads Kinesis into ingest with partial batch failures, bounded retries and an S3 on-failure destination', () => {
    const mapping = eventSourceMapping(dev.template, 'ingest');

    expect(mapping).toMatchObject({
      // LATEST by default: a first deploy does not replay the stream's retention.
      StartingPosition: 'LATEST',
      FunctionResponseTypes: [INGEST_MAPPING.functionResponseType],
      BisectBatchOnFunctionError: INGEST_MAPPING.bisectBatchOnFunctionError,
      BatchSize: INGEST_MAPPING.batchSize,
      MaximumRetryAttempts: INGEST_MAPPING.maximumRetryAttempts,
    });
    expect(mapping.MaximumRetryAttempts).toBeGreaterThanOrEqual(0);
    expect(mapping.MaximumRetryAttempts).toBeLessThanOrEqual(10_000);
    expect(mapping.MaximumRecordAgeInSeconds).toBeGreaterThanOrEqual(60);
    expect(mapping.MaximumRecordAgeInSeconds).toBeLessThanOrEqual(604_800);
    // The batch itself, records included, is kept in the bucket (not pointers into the stream).
    expect(mapping.DestinationConfig?.OnFailure?.Destination).toEqual(getAtt('ArchiveBucket'));
    const bucket = resource<{
      NotificationConfiguration?: { EventBridgeConfiguration?: { EventBridgeEnabled?: boolean } };
    }>(dev.template, 'ArchiveBucket', 'AWS::S3::Bucket');
    expect(bucket.NotificationConfiguration?.EventBridgeConfiguration?.EventBridgeEnabled).toBe(
      true,
    );
    const rule = resource<RuleProperties & { EventPattern?: unknown }>(
      dev.template,
      'IngestFailedBatchRule',
      'AWS::Events::Rule',
    );
    expect(rule.EventBusName).toBeUndefined();
    expect(rule.EventPattern).toEqual({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: {
        bucket: { name: [{ Ref: 'ArchiveBucket' }] },
        object: { key: [{ prefix: 'aws/lambda/' }] },
      },
    });
    expect(rule.Targets?.map((target) => target.Arn)).toEqual([getAtt('IngestFailureQueue')]);
  });

  it('reads the sync queue into updater with partial batch failures and the concurrency of UPDATER_MAPPING', () => {
    const mapping = eventSourceMapping(dev.template, 'updater');

    expect(mapping).toMatchObject({
      EventSourceArn: getAtt('SyncQueue'),
      FunctionResponseTypes: [UPDATER_MAPPING.functionResponseType],
      BatchSize: UPDATER_MAPPING.batchSize,
      MaximumBatchingWindowInSeconds: UPDATER_MAPPING.maximumBatchingWindowSeconds,
      ScalingConfig: { MaximumConcurrency: UPDATER_MAPPING.maximumConcurrency },
    });
  });

  it('redrives the sync queue to SyncDlq after SYNC_QUEUE.maxReceiveCount receives', () => {
    const queue = resource<QueueProperties>(dev.template, 'SyncQueue', 'AWS::SQS::Queue');

    expect(queue.RedrivePolicy?.deadLetterTargetArn).toEqual(getAtt('SyncDlq'));
    expect(Number(queue.RedrivePolicy?.maxReceiveCount)).toBe(SYNC_QUEUE.maxReceiveCount);
  });

  it('takes messages of SYNC_QUEUE.maximumMessageSize (1 MiB) in the sync queue and the DLQs EventBridge dead-letters to', () => {
    for (const id of ['SyncQueue', 'SyncDlq', 'ArchiveDlq']) {
      const queue = resource<{ MaximumMessageSize?: unknown }>(dev.template, id, 'AWS::SQS::Queue');
      expect([id, Number(queue.MaximumMessageSize)]).toEqual([id, SYNC_QUEUE.maximumMessageSize]);
    }
    expect(SYNC_QUEUE.maximumMessageSize).toBe(1_048_576);
  });

  it('keeps the sync queue visibility timeout at SYNC_QUEUE and at least 6x the updater timeout', () => {
    const queue = resource<QueueProperties>(dev.template, 'SyncQueue', 'AWS::SQS::Queue');
    const updater = lambdaFunction(dev.template, 'updater');

    expect(Number(queue.VisibilityTimeout)).toBe(SYNC_QUEUE.visibilityTimeoutSeconds);
    expect(Number(queue.VisibilityTimeout)).toBeGreaterThanOrEqual(6 * updater.Timeout);
  });

  it('gives EventBridge-invoked functions ASYNC_INVOKE_ATTEMPTS attempts and an on-failure queue', () => {
    const configs = resourcesOfType<EventInvokeConfigProperties>(
      dev.template,
      'AWS::Lambda::EventInvokeConfig',
    );
    const invokedByRules = new Set(
      RULES.flatMap((rule) => (rule.target.kind === 'function' ? [rule.target.function] : [])),
    );

    for (const name of invokedByRules) {
      const config = configs.find(([, properties]) =>
        isDeepStrictEqual(properties.FunctionName, { Ref: functionLogicalId(name) }),
      )?.[1];
      expect(config?.MaximumRetryAttempts, name).toBe(ASYNC_INVOKE_ATTEMPTS - 1);
      expect(config?.DestinationConfig?.OnFailure?.Destination, name).toBeDefined();
    }
  });

  describe.each(FUNCTION_NAMES)('the %s function', (name) => {
    it('runs on nodejs22.x, arm64, with the timeout of FUNCTION_TIMEOUTS', () => {
      const properties = lambdaFunction(dev.template, name);

      expect(properties.Runtime).toBe('nodejs22.x');
      expect(properties.Architectures).toEqual(['arm64']);
      expect(properties.Timeout).toBe(FUNCTION_TIMEOUTS[name]);
    });

    it('has every environment variable its handler config requires', () => {
      const { required } = configVariables(name);
      const variables = Object.keys(lambdaFunction(dev.template, name).Environment.Variables);

      expect(required.length).toBeGreaterThan(0);
      expect(variables).toEqual(expect.arrayContaining(required));
    });

    it('sets no environment variable its handler config ignores (Powertools settings aside)', () => {
      const { required, withDefault } = configVariables(name);
      const variables = Object.keys(lambdaFunction(dev.template, name).Environment.Variables);

      const unread = variables.filter(
        (variable) =>
          !variable.startsWith('POWERTOOLS_') &&
          !required.includes(variable) &&
          !withDefault.includes(variable),
      );
      expect(unread).toEqual([]);
    });

    it('is packaged as one minified .mjs handler with the ESM require banner', () => {
      const handler = lambdaFunction(dev.template, name).Handler;
      const files = readZip(join(dev.dir, `${name}.zip`));

      expect(files.map((file) => file.name)).toEqual([
        `${handler.slice(0, handler.lastIndexOf('.'))}.mjs`,
      ]);
      const code = files[0]?.content.toString('utf8') ?? '';
      expect(code.startsWith(BUNDLE_OPTIONS.banner.js)).toBe(true);
      // Unminified esbuild output averages well under 100 characters a line.
      expect(code.length / code.split('\n').length).toBeGreaterThan(500);
    });
  });

  it('configures serverless-esbuild with the BUNDLE_OPTIONS of the local runtime and .mjs output', () => {
    const esbuild = dev.state.service.custom.esbuild;
    const { external, ...options } = BUNDLE_OPTIONS;
    const keys = Object.keys(options) as (keyof typeof options)[];

    expect(Object.fromEntries(keys.map((key) => [key, esbuild[key]]))).toEqual(options);
    // serverless-esbuild takes the packages to leave out as `exclude` (it sets esbuild's `external`).
    expect(esbuild.exclude).toEqual(external);
    expect(esbuild.outputFileExtension).toBe('.mjs');
  });

  describe('least privilege, one role per function', () => {
    /** A statement given as `Fn::If: [condition, statement, AWS::NoValue]`, as its statement. */
    function unwrapCondition(statement: PolicyStatement): PolicyStatement {
      const conditional = (statement as { 'Fn::If'?: [string, PolicyStatement, unknown] })[
        'Fn::If'
      ];
      return conditional ? conditional[1] : statement;
    }

    function roleOf(name: FunctionName): string {
      const role = lambdaFunction(dev.template, name).Role as { 'Fn::GetAtt'?: [string, string] };
      const logicalId = role?.['Fn::GetAtt']?.[0];
      if (logicalId === undefined) throw new Error(`${name} has no role of its own`);
      return logicalId;
    }

    function statementsOf(logicalId: string): PolicyStatement[] {
      return resource<RoleProperties>(dev.template, logicalId, 'AWS::IAM::Role').Policies.flatMap(
        (policy) => policy.PolicyDocument.Statement.map(unwrapCondition),
      );
    }

    /** Every (action, resource) pair a role allows, resources as JSON text. */
    function grants(logicalId: string): Set<string> {
      const pairs = new Set<string>();
      for (const statement of statementsOf(logicalId)) {
        if (statement.Effect !== 'Allow') continue;
        const actions = Array.isArray(statement.Action) ? statement.Action : [statement.Action];
        const targets = Array.isArray(statement.Resource)
          ? statement.Resource
          : [statement.Resource];
        for (const action of actions)
          for (const target of targets) pairs.add(`${action} ${JSON.stringify(target)}`);
      }
      return pairs;
    }

    const grant = (action: string, target: unknown) => `${action} ${JSON.stringify(target)}`;
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax.
    const referenceKeys = { 'Fn::Sub': '${ArchiveBucket.Arn}/large/*' };
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax.
    const archiveObjects = { 'Fn::Sub': '${ArchiveBucket.Arn}/archive/*' };
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax.
    const pendingIndex = { 'Fn::Sub': '${SyncLedgerTable.Arn}/index/pending' };
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax.
    const quarantineKeys = { 'Fn::Sub': '${ArchiveBucket.Arn}/quarantine/*' };
    const logs = (name: FunctionName) => ({
      'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/ctr-sync-dev-${name}:*`,
    });

    it('gives every function a role of its own, and no role is shared or left over', () => {
      const roles = FUNCTION_NAMES.map(roleOf);
      // The delivery stream's role, and the archive rule's role to put records on it.
      const serviceRoles = ['ArchiveDeliveryRole', 'ArchiveRuleRole'];

      expect(new Set(roles).size).toBe(FUNCTION_NAMES.length);
      expect(
        resourcesOfType(dev.template, 'AWS::IAM::Role')
          .map(([id]) => id)
          .sort(),
      ).toEqual([...roles, ...serviceRoles].sort());
    });

    it('has no wildcard action and no "*" resource in any policy statement of any role', () => {
      const offending: string[] = [];
      for (const [id, role] of resourcesOfType<RoleProperties>(dev.template, 'AWS::IAM::Role')) {
        for (const statement of role.Policies.flatMap((policy) =>
          policy.PolicyDocument.Statement.map(unwrapCondition),
        )) {
          const actions = Array.isArray(statement.Action) ? statement.Action : [statement.Action];
          const targets = Array.isArray(statement.Resource)
            ? statement.Resource
            : [statement.Resource];
          for (const action of actions)
            if (action.includes('*')) offending.push(`${id}: ${action}`);
          for (const target of targets) if (target === '*') offending.push(`${id}: Resource *`);
        }
      }

      expect(offending).toEqual([]);
    });

    const telephonyArn = () =>
      lambdaFunction(dev.template, 'updater').Environment.Variables
        .INVOKE_TELEPHONY_INTEGRATION_API_ARN;
    const restApiArn = () =>
      lambdaFunction(dev.template, 'redrive').Environment.Variables.INVOKE_SALESFORCE_REST_API_ARN;

    it.each<[FunctionName, () => string[]]>([
      [
        'ingest',
        () => [
          grant('events:PutEvents', getAtt('EventBus')),
          grant('s3:PutObject', quarantineKeys),
          grant('s3:PutObject', referenceKeys),
          grant('s3:PutObject', { 'Fn::Sub': '${ArchiveBucket.Arn}/aws/lambda/*' }),
          grant('s3:ListBucket', getAtt('ArchiveBucket')),
        ],
      ],
      [
        'updater',
        () => [
          grant('lambda:InvokeFunction', telephonyArn()),
          grant('dynamodb:UpdateItem', getAtt('SyncLedgerTable')),
          grant('dynamodb:GetItem', getAtt('SyncLedgerTable')),
          grant('s3:GetObject', referenceKeys),
          grant('s3:PutObject', { 'Fn::Sub': '${ArchiveBucket.Arn}/quarantine/updater/*' }),
          grant('s3:ListBucket', getAtt('ArchiveBucket')),
          grant('sqs:ReceiveMessage', getAtt('SyncQueue')),
          grant('sqs:DeleteMessage', getAtt('SyncQueue')),
          grant('sqs:GetQueueAttributes', getAtt('SyncQueue')),
        ],
      ],
      [
        'redrive',
        () => [
          grant('lambda:InvokeFunction', restApiArn()),
          grant('s3:GetObject', archiveObjects),
          grant('s3:GetObject', { 'Fn::Sub': '${ArchiveBucket.Arn}/import/*' }),
          grant('s3:GetObject', referenceKeys),
          grant('s3:PutObject', referenceKeys),
          grant('s3:ListBucket', getAtt('ArchiveBucket')),
          grant('dynamodb:GetItem', getAtt('SyncLedgerTable')),
          grant('dynamodb:UpdateItem', getAtt('SyncLedgerTable')),
          grant('dynamodb:PutItem', getAtt('SyncLedgerTable')),
          grant('dynamodb:Query', pendingIndex),
          grant('sqs:SendMessage', getAtt('SyncQueue')),
          grant('sqs:ReceiveMessage', getAtt('SyncDlq')),
          grant('sqs:DeleteMessage', getAtt('SyncDlq')),
          grant('events:PutEvents', getAtt('EventBus')),
          grant('sqs:SendMessage', getAtt('RedriveDlq')),
        ],
      ],
    ])('the %s role allows exactly what the function uses, and its own logs', (name, expected) => {
      const granted = grants(roleOf(name));
      const kinesis = [...granted].filter((pair) => pair.startsWith('kinesis:'));
      const rest = [...granted].filter((pair) => !pair.startsWith('kinesis:'));

      // The archive key, only used with SSE-KMS (the ArchiveKmsKeyArn template parameter, from
      // archiveKmsKeyArn; 'none' by default): every function writes to the bucket (the updater its
      // quarantine), so each may generate data keys.
      const kms = ['kms:Decrypt', 'kms:GenerateDataKey'];
      expect(rest.sort()).toEqual(
        [
          ...expected(),
          grant('logs:CreateLogStream', logs(name)),
          grant('logs:PutLogEvents', logs(name)),
          ...kms.map((action) => grant(action, { Ref: 'ArchiveKmsKeyArn' })),
        ].sort(),
      );
      if (name === 'ingest') {
        const stream =
          lambdaFunction(dev.template, 'ingest') &&
          eventSourceMapping(dev.template, 'ingest').EventSourceArn;
        expect(kinesis.sort()).toEqual(
          [
            'kinesis:DescribeStream',
            'kinesis:DescribeStreamSummary',
            'kinesis:GetRecords',
            'kinesis:GetShardIterator',
            'kinesis:ListShards',
          ].map((action) => grant(action, stream)),
        );
      } else {
        expect(kinesis).toEqual([]);
      }
    });
  });
});

describe('data protection (stage dev, default parameters)', () => {
  type BucketProperties = {
    VersioningConfiguration?: { Status?: string };
    BucketEncryption?: {
      ServerSideEncryptionConfiguration?: {
        ServerSideEncryptionByDefault?: { SSEAlgorithm?: string };
      }[];
    };
    PublicAccessBlockConfiguration?: Record<string, boolean>;
    OwnershipControls?: { Rules?: { ObjectOwnership?: string }[] };
    LifecycleConfiguration?: {
      Rules?: {
        Status?: string;
        ExpirationInDays?: unknown;
        NoncurrentVersionExpiration?: { NoncurrentDays?: unknown };
      }[];
    };
  };
  type PolicyStatement = {
    Effect?: string;
    Principal?: unknown;
    Action?: unknown;
    Resource?: unknown;
    Condition?: Record<string, Record<string, unknown>>;
  };

  it('keeps the archive versioned, encrypted at rest, private and owner-enforced', () => {
    const bucket = resource<BucketProperties>(dev.template, 'ArchiveBucket', 'AWS::S3::Bucket');

    expect(bucket.VersioningConfiguration?.Status).toBe('Enabled');
    const algorithms = bucket.BucketEncryption?.ServerSideEncryptionConfiguration?.map(
      (rule) => rule.ServerSideEncryptionByDefault?.SSEAlgorithm,
    );
    expect(algorithms).toEqual([{ 'Fn::If': ['ArchiveUsesKms', 'aws:kms', 'AES256'] }]);
    const { Conditions, Parameters } = dev.template;
    expect(Conditions?.ArchiveUsesKms).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'ArchiveKmsKeyArn' }, 'none'] }],
    });
    expect(Parameters?.ArchiveKmsKeyArn?.Default).toBe('none');
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.OwnershipControls?.Rules?.[0]?.ObjectOwnership).toBe('BucketOwnerEnforced');
  });

  it('expires current and noncurrent versions after 730 days by default, as Connect keeps contact records 24 months', () => {
    const bucket = resource<BucketProperties>(dev.template, 'ArchiveBucket', 'AWS::S3::Bucket');
    const [rule] = bucket.LifecycleConfiguration?.Rules ?? [];

    expect(rule?.Status).toBe('Enabled');
    expect(Number(rule?.ExpirationInDays)).toBe(730);
    expect(Number(rule?.NoncurrentVersionExpiration?.NoncurrentDays)).toBe(730);
  });

  it('denies every request to the archive that does not use TLS', () => {
    const policy = resource<{ Bucket?: unknown; PolicyDocument: { Statement: PolicyStatement[] } }>(
      dev.template,
      'ArchiveBucketPolicy',
      'AWS::S3::BucketPolicy',
    );

    expect(policy.Bucket).toEqual({ Ref: 'ArchiveBucket' });
    const deny = policy.PolicyDocument.Statement.find((statement) => statement.Effect === 'Deny');
    expect(deny).toMatchObject({ Principal: '*', Action: 's3:*' });
    expect(deny?.Condition?.Bool?.['aws:SecureTransport']).toBe('false');
    expect(JSON.stringify(deny?.Resource)).toContain('ArchiveBucket');
    expect(JSON.stringify(deny?.Resource)).toContain('/*');
  });

  it('encrypts every queue with SQS-managed keys', () => {
    const queues = resourcesOfType<{ SqsManagedSseEnabled?: boolean }>(
      dev.template,
      'AWS::SQS::Queue',
    );

    expect(queues.map(([id]) => id).sort()).toEqual([
      'ArchiveDlq',
      'IngestFailureQueue',
      'RedriveDlq',
      'SyncDlq',
      'SyncQueue',
    ]);
    for (const [id, queue] of queues) expect([id, queue.SqsManagedSseEnabled]).toEqual([id, true]);
  });

  it('allows only the sync rule to send to the sync queue (the Deny: "the sync queue policy" below)', () => {
    const [, policy] =
      resourcesOfType<{ Queues: unknown[]; PolicyDocument: { Statement: PolicyStatement[] } }>(
        dev.template,
        'AWS::SQS::QueuePolicy',
      ).find(([, candidate]) => JSON.stringify(candidate.Queues).includes('"SyncQueue"')) ?? [];

    const allows = policy?.PolicyDocument.Statement.filter(
      (statement) => statement.Effect === 'Allow',
    );
    expect(allows).toHaveLength(1);
    expect(allows?.[0]?.Condition?.ArnEquals?.['aws:SourceArn']).toEqual(getAtt('SyncRule'));
  });

  it('keeps the sync ledger on demand, encrypted, recoverable, expiring by TTL, and when the stack is removed', () => {
    const table = dev.template.Resources.SyncLedgerTable as {
      Type: string;
      DeletionPolicy?: string;
      UpdateReplacePolicy?: string;
      Properties: Record<string, unknown>;
    };

    expect(table.Type).toBe('AWS::DynamoDB::Table');
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    expect(table.Properties).toMatchObject({
      TableName: 'ctr-sync-dev-ledger',
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('keeps the archive bucket, the ledger, the sync queue and every dead-letter queue when the stack is removed or they are replaced', () => {
    const kept = [
      'ArchiveBucket',
      'SyncLedgerTable',
      'SyncQueue',
      'SyncDlq',
      'RedriveDlq',
      'IngestFailureQueue',
      'ArchiveDlq',
    ];

    for (const id of kept) {
      const entry = dev.template.Resources[id] as {
        DeletionPolicy?: string;
        UpdateReplacePolicy?: string;
      };
      expect([id, entry.DeletionPolicy, entry.UpdateReplacePolicy]).toEqual([
        id,
        'Retain',
        'Retain',
      ]);
    }
  });

  it('blocks public access to the deployment bucket', () => {
    const bucket = resource<{ PublicAccessBlockConfiguration?: Record<string, boolean> }>(
      dev.template,
      'ServerlessDeploymentBucket',
      'AWS::S3::Bucket',
    );

    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
  });

  it('gives the ledger the key, attributes and sparse pending index the local stack creates (LEDGER_TABLE)', () => {
    const properties = resource<Record<string, unknown>>(
      dev.template,
      'SyncLedgerTable',
      'AWS::DynamoDB::Table',
    );

    expect(properties.KeySchema).toEqual(LEDGER_TABLE.KeySchema);
    expect(properties.AttributeDefinitions).toEqual(LEDGER_TABLE.AttributeDefinitions);
    expect(properties.GlobalSecondaryIndexes).toEqual(LEDGER_TABLE.GlobalSecondaryIndexes);
  });

  it('archives through a delivery stream writing GZIP objects under hourly prefixes, as the local stand-in does (ARCHIVE_STREAM)', () => {
    const stream = resource<{
      DeliveryStreamType: string;
      DeliveryStreamEncryptionConfigurationInput?: { KeyType?: string };
      ExtendedS3DestinationConfiguration: {
        BucketARN: unknown;
        RoleARN: unknown;
        Prefix: string;
        ErrorOutputPrefix?: string;
        CompressionFormat: string;
        BufferingHints: { SizeInMBs: unknown; IntervalInSeconds: unknown };
        EncryptionConfiguration?: unknown;
        ProcessingConfiguration?: { Enabled: boolean; Processors: { Type: string }[] };
      };
    }>(dev.template, 'ArchiveDeliveryStream', 'AWS::KinesisFirehose::DeliveryStream');
    const destination = stream.ExtendedS3DestinationConfiguration;

    expect(stream.DeliveryStreamType).toBe('DirectPut');
    expect(stream.DeliveryStreamEncryptionConfigurationInput?.KeyType).toBe('AWS_OWNED_CMK');
    expect(destination.BucketARN).toEqual(getAtt('ArchiveBucket'));
    expect(destination.RoleARN).toEqual(getAtt('ArchiveDeliveryRole'));
    expect(destination.Prefix).toBe(ARCHIVE_STREAM.timestampPrefix);
    expect(destination.ErrorOutputPrefix).toMatch(
      /^archive-errors\/!\{firehose:error-output-type\}\//,
    );
    expect(destination.CompressionFormat).toBe(ARCHIVE_STREAM.compressionFormat);
    expect(Number(destination.BufferingHints.SizeInMBs)).toBe(ARCHIVE_STREAM.bufferSizeMB);
    expect(Number(destination.BufferingHints.IntervalInSeconds)).toBe(300);
    expect(destination.EncryptionConfiguration).toBeDefined();
    expect(destination.ProcessingConfiguration).toEqual({
      Enabled: true,
      Processors: [{ Type: 'AppendDelimiterToRecord' }],
    });
  });

  it('lets the delivery stream write only the archive and its error prefix, and the archive rule only put records on it', () => {
    const statements = (id: string) =>
      resource<RoleProperties>(dev.template, id, 'AWS::IAM::Role').Policies.flatMap(
        (policy) => policy.PolicyDocument.Statement,
      );
    const writes = statements('ArchiveDeliveryRole').filter((statement) =>
      [statement.Action].flat().includes('s3:PutObject'),
    );

    expect(writes).toHaveLength(1);
    expect(writes[0]?.Resource).toEqual([
      { 'Fn::Sub': '${ArchiveBucket.Arn}/archive/*' },
      { 'Fn::Sub': '${ArchiveBucket.Arn}/archive-errors/*' },
    ]);
    expect(statements('ArchiveRuleRole')).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['firehose:PutRecord', 'firehose:PutRecordBatch'],
        Resource: getAtt('ArchiveDeliveryStream'),
      }),
    ]);
  });

  it('lets only the archive rule send to the archive DLQ', () => {
    const [, policy] =
      resourcesOfType<{ Queues: unknown[]; PolicyDocument: { Statement: PolicyStatement[] } }>(
        dev.template,
        'AWS::SQS::QueuePolicy',
      ).find(([, candidate]) => JSON.stringify(candidate.Queues).includes('"ArchiveDlq"')) ?? [];

    expect(policy?.PolicyDocument.Statement).toHaveLength(1);
    expect(policy?.PolicyDocument.Statement[0]?.Condition?.ArnEquals?.['aws:SourceArn']).toEqual(
      getAtt('ArchiveRule'),
    );
  });

  it('admits only principals of this account to put events on the bus (the Denies: bus-policy.test.ts)', () => {
    const policies = resourcesOfType<{ EventBusName?: unknown; Statement?: PolicyStatement }>(
      dev.template,
      'AWS::Events::EventBusPolicy',
    );
    const allows = policies.filter(([, policy]) => policy.Statement?.Effect === 'Allow');

    expect(
      policies.every(([, policy]) => isDeepStrictEqual(policy.EventBusName, { Ref: 'EventBus' })),
    ).toBe(true);
    expect(allows).toHaveLength(1);
    const [, policy] = allows[0] ?? [];
    expect(policy?.Statement).toMatchObject({
      Effect: 'Allow',
      Action: 'events:PutEvents',
      Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } },
    });
  });
});

describe('the sync queue policy', () => {
  it('denies SendMessage to the sync queue to every request neither from the sync rule nor by the redrive role', () => {
    const policy = resource<{
      PolicyDocument: { Statement: (PolicyStatement & { Sid?: string; Condition?: unknown })[] };
    }>(dev.template, 'SyncQueuePolicy', 'AWS::SQS::QueuePolicy');
    const deny = policy.PolicyDocument.Statement.find((statement) => statement.Effect === 'Deny');

    expect(deny).toMatchObject({
      Principal: '*',
      Action: 'sqs:SendMessage',
      Resource: getAtt('SyncQueue'),
      // One operator, two keys: both must differ for the Deny to apply.
      Condition: {
        ArnNotEquals: {
          'aws:SourceArn': getAtt('SyncRule'),
          'aws:PrincipalArn': getAtt('RedriveRole'),
        },
      },
    });
  });
});

describe('packaging without the external ARNs', () => {
  it('fails for a non-local stage, naming each missing parameter, and packages stage local', async () => {
    const refused = await packageService([
      '--stage',
      'dev',
      `--param=kinesisStreamArn=${EXTERNAL_ARNS.kinesisStreamArn}`,
      '--param=telephonyFunctionArn=arn:aws:lambda:us-east-1:000000000000:function:REPLACE-x',
      '--param=restApiFunctionArn=arn:aws:lambda:us-east-1:000000000000:function:REPLACE-y',
    ]).catch((error: { stdout?: string; stderr?: string }) => `${error.stdout}${error.stderr}`);

    expect(refused).toContain(
      'Missing required parameters for stage "dev": telephonyFunctionArn, restApiFunctionArn.',
    );
    const local = await packageService(['--stage', 'local']);
    expect(local.template.Resources.EventBus?.Properties.Name).toBe('ctr-sync-local');
  }, 120_000);
});

describe('parameters', () => {
  it('documents every parameter of serverless.yml with its default in the README', () => {
    const config = readFileSync(join(repoRoot, 'serverless.yml'), 'utf8');
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const defaults = config.slice(
      config.indexOf('params:\n  default:\n'),
      config.indexOf('\nprovider:'),
    );
    const parameters = [...defaults.matchAll(/^ {4}(\w+): (.+)$/gm)].map(([, name, value]) => ({
      name: String(name),
      value: String(value).trim(),
    }));

    expect(parameters.length).toBeGreaterThanOrEqual(15);
    const missing = parameters.filter(({ name, value }) => {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\``));
      const placeholder = value.includes('REPLACE');
      return !row || !(placeholder ? row.includes('must be set') : row.includes(value));
    });
    expect(missing).toEqual([]);
  });
});

describe('serverless package --stage prod --param=maxReceiveCount=3', () => {
  it('names the bus, queues and functions after the stage', () => {
    const { Resources } = prod.template;

    expect(Resources.SyncQueue?.Properties.QueueName).toBe('ctr-sync-prod-sync');
    expect(Resources.SyncDlq?.Properties.QueueName).toBe('ctr-sync-prod-sync-dlq');
    expect(Resources.EventBus?.Properties.Name).toBe('ctr-sync-prod');
    for (const name of FUNCTION_NAMES) {
      expect(lambdaFunction(prod.template, name).FunctionName).toBe(`ctr-sync-prod-${name}`);
    }
  });

  it('encrypts the archive with the KMS key of archiveKmsKeyArn, which the roles may use', () => {
    const { Conditions, Parameters } = prod.template;

    expect(Conditions?.ArchiveUsesKms).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'ArchiveKmsKeyArn' }, 'none'] }],
    });
    expect(Parameters?.ArchiveKmsKeyArn?.Default).toBe(PROD_KMS_KEY);
    expect(
      new RegExp(String(Parameters?.ArchiveKmsKeyArn?.AllowedPattern)).test(PROD_KMS_KEY),
    ).toBe(true);
    expect(JSON.stringify(prod.template.Resources.UpdaterRole)).toContain(
      JSON.stringify({ Ref: 'ArchiveKmsKeyArn' }),
    );
  });

  it('applies archiveExpirationDays to the archive lifecycle', () => {
    const bucket = resource<{
      LifecycleConfiguration?: { Rules?: { ExpirationInDays?: unknown }[] };
    }>(prod.template, 'ArchiveBucket', 'AWS::S3::Bucket');

    expect(Number(bucket.LifecycleConfiguration?.Rules?.[0]?.ExpirationInDays)).toBe(400);
  });

  it('applies maxReceiveCount to the sync queue redrive policy', () => {
    const queue = resource<QueueProperties>(prod.template, 'SyncQueue', 'AWS::SQS::Queue');

    expect(Number(queue.RedrivePolicy?.maxReceiveCount)).toBe(3);
    expect(queue.RedrivePolicy?.deadLetterTargetArn).toEqual(getAtt('SyncDlq'));
  });
});
