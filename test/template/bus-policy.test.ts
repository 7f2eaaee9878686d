/**
 * The bus policy is the trust boundary (issue 11): who may put which
 * detail-type on `ctr-sync-<stage>`. The statements of the packaged template
 * are resolved (GetAtt of the roles and the bus, the template parameters'
 * defaults, Fn::If/Join/Split/Sub) and evaluated for PutEvents entries as IAM
 * does for one account: every principal here has an identity policy that
 * allows PutEvents (the worst case), so an entry is refused only by an
 * explicit Deny of the bus policy (IAM User Guide, "Policy evaluation logic").
 * Condition operators as the IAM User Guide defines them ("IAM JSON policy
 * elements: Condition operators"): a condition with several operators holds
 * when all do; StringEquals/ArnEquals/ArnLike hold when the value matches any
 * listed value, their Not forms when it matches none; ArnLike takes `*` and `?`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import patterns from '../../events/patterns.json';
import { type Packaged, packageService, removePackages, type Template } from './packaged';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
/**
 * An IAM Identity Center permission set's roles, wherever the instance is: a role's path has the
 * instance's Region except in us-east-1 (IAM Identity Center User Guide, "Referencing permission
 * sets in resource policies").
 */
const OPERATOR_PATTERN = `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_CtrSyncOps_*`;
const OPERATOR = `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_CtrSyncOps_0a1b2c3d`;
const OPERATOR_ELSEWHERE = `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_CtrSyncOps_0a1b2c3d`;
const LCA_SENDER = `arn:aws:iam::${ACCOUNT}:role/lca-ivr-start-call-processing`;
const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

/** Every detail-type a rule on the bus routes (events/patterns.json), plus one no rule knows. */
const DETAIL_TYPES = [
  ...new Set(Object.values(patterns).flatMap((pattern) => pattern['detail-type'])),
  'RedriveCompleted',
  'SomethingElse',
];

interface Statement {
  Effect: 'Allow' | 'Deny';
  Principal: unknown;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

type FullTemplate = Template & {
  Resources: Record<string, { Condition?: string; Properties: Record<string, unknown> }>;
};

/** Resolves the intrinsic functions the bus policy uses, as CloudFormation would for this account. */
function resolver(template: FullTemplate, stage: string) {
  const parameters = template.Parameters ?? {};
  const conditions = template.Conditions ?? {};
  const arnOf = (logicalId: string): string => {
    const resource = template.Resources[logicalId];
    if (logicalId === 'EventBus') {
      return `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/ctr-sync-${stage}`;
    }
    if (resource?.Properties.RoleName) return role(String(resource.Properties.RoleName));
    throw new Error(`no ARN for ${logicalId} in this test`);
  };
  const condition = (expression: unknown): boolean => {
    const node = expression as Record<string, unknown[]>;
    if (node['Fn::Not']) return !condition(node['Fn::Not'][0]);
    if (node['Fn::Equals']) {
      const [left, right] = node['Fn::Equals'].map(resolve);
      return left === right;
    }
    throw new Error(`unsupported condition ${JSON.stringify(expression)}`);
  };
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    const node = value as Record<string, unknown>;
    if ('Ref' in node) {
      const name = String(node.Ref);
      if (name in parameters) return parameters[name]?.Default;
      if (name === 'EventBus') return `ctr-sync-${stage}`;
      throw new Error(`unresolved Ref ${name}`);
    }
    if ('Fn::GetAtt' in node) return arnOf((node['Fn::GetAtt'] as string[])[0] as string);
    if ('Fn::If' in node) {
      const [name, whenTrue, whenFalse] = node['Fn::If'] as [string, unknown, unknown];
      return resolve(condition(conditions[name]) ? whenTrue : whenFalse);
    }
    if ('Fn::Join' in node) {
      const [separator, items] = node['Fn::Join'] as [string, unknown[]];
      return (resolve(items) as string[]).join(separator);
    }
    if ('Fn::Split' in node) {
      const [separator, text] = node['Fn::Split'] as [string, unknown];
      return String(resolve(text)).split(separator);
    }
    if ('Fn::Sub' in node) {
      return String(node['Fn::Sub'])
        .replaceAll('${AWS::Partition}', 'aws')
        .replaceAll('${AWS::AccountId}', ACCOUNT);
    }
    return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, resolve(item)]));
  };
  return { resolve, condition };
}

/** The bus policy's statements, resolved; resources whose Condition is false are left out. */
function busStatements(packaged: Packaged, stage: string): Statement[] {
  const template = packaged.template as FullTemplate;
  const { resolve, condition } = resolver(template, stage);
  return Object.values(template.Resources)
    .filter((resource) => (resource as { Type?: string }).Type === 'AWS::Events::EventBusPolicy')
    .filter(
      (resource) =>
        resource.Condition === undefined || condition(template.Conditions?.[resource.Condition]),
    )
    .map((resource) => {
      expect(resolve(resource.Properties.EventBusName)).toBe(`ctr-sync-${stage}`);
      return resolve(resource.Properties.Statement) as Statement;
    });
}

const asList = (value: unknown): string[] => (Array.isArray(value) ? value : [value]).map(String);

/** IAM ARN matching with `*` and `?` (ArnLike). */
function arnLike(value: string, pattern: string): boolean {
  const regex = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${regex}$`).test(value);
}

const OPERATORS: Record<string, (value: string, listed: string[]) => boolean> = {
  StringEquals: (value, listed) => listed.includes(value),
  StringNotEquals: (value, listed) => !listed.includes(value),
  ArnEquals: (value, listed) => listed.includes(value),
  ArnNotEquals: (value, listed) => !listed.includes(value),
  ArnLike: (value, listed) => listed.some((pattern) => arnLike(value, pattern)),
  ArnNotLike: (value, listed) => !listed.some((pattern) => arnLike(value, pattern)),
};

/** Whether the bus policy lets `principalArn` put one entry of `detailType` on the bus. */
function allows(statements: Statement[], principalArn: string, detailType: string, bus: string) {
  const context: Record<string, string> = {
    'aws:PrincipalArn': principalArn,
    'events:detail-type': detailType,
  };
  const denied = statements.some((statement) => {
    if (statement.Effect !== 'Deny') return false;
    if (!asList(statement.Action).includes('events:PutEvents')) return false;
    if (!asList(statement.Resource).includes(bus) || statement.Principal !== '*') return false;
    return Object.entries(statement.Condition ?? {}).every(([operator, keys]) => {
      const test = OPERATORS[operator];
      if (!test) throw new Error(`operator ${operator} is not evaluated by this test`);
      return Object.entries(keys).every(([key, listed]) => {
        const value = context[key];
        if (value === undefined) throw new Error(`condition key ${key} is not set by this test`);
        return test(value, asList(listed));
      });
    });
  });
  return !denied;
}

/** The detail-types `principal` may put, per the policy. */
function allowedTypes(statements: Statement[], principal: string, stage: string): string[] {
  const bus = `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/ctr-sync-${stage}`;
  return DETAIL_TYPES.filter((type) => allows(statements, principal, type, bus)).sort();
}

let dev: Packaged;
let prod: Packaged;
let wide: Packaged;

beforeAll(async () => {
  [dev, wide, prod] = await Promise.all([
    packageService(['--stage', 'dev']),
    // Careless lists: patterns that also match the functions' roles.
    packageService([
      '--stage',
      'qa',
      `--param=operatorPrincipalArns=arn:aws:iam::${ACCOUNT}:role/*`,
      `--param=lcaPrincipalArns=arn:aws:iam::${ACCOUNT}:role/ctr-sync-*`,
    ]),
    packageService([
      '--stage',
      'prod',
      `--param=operatorPrincipalArns=${OPERATOR_PATTERN}`,
      `--param=lcaPrincipalArns=${LCA_SENDER}`,
    ]),
  ]);
}, 120_000);

afterAll(removePackages);

describe('the bus policy (--stage prod, operator and LCA principals named)', () => {
  const stage = 'prod';
  const types = (principal: string) => allowedTypes(busStatements(prod, stage), principal, stage);

  it('lets only the ingest role put CtrReceived, and nothing else', () => {
    expect(types(role('ctr-sync-prod-ingest-us-east-1'))).toEqual(['CtrReceived']);
    for (const other of [
      role('ctr-sync-prod-redrive-us-east-1'),
      OPERATOR,
      LCA_SENDER,
      // The same function of another stage.
      role('ctr-sync-dev-ingest-us-east-1'),
    ]) {
      expect([other, types(other).includes('CtrReceived')]).toEqual([other, false]);
    }
  });

  it('refuses CtrReceived and RedriveCompleted to other principals by a statement of their own, whatever the lists say', () => {
    const bus = `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/ctr-sync-${stage}`;
    const statements = busStatements(prod, stage);
    const own = (detailType: string) =>
      statements.filter((statement) => !allows([statement], role('Admin'), detailType, bus)).length;
    const guard = (detailType: string) =>
      statements.find(
        (statement) =>
          asList(statement.Condition?.StringEquals?.['events:detail-type']).includes(detailType) &&
          statement.Condition?.ArnNotEquals !== undefined,
      );

    for (const [detailType, owner] of [
      ['CtrReceived', 'ctr-sync-prod-ingest-us-east-1'],
      ['RedriveCompleted', 'ctr-sync-prod-redrive-us-east-1'],
    ] as const) {
      const statement = guard(detailType);
      expect(statement).toBeDefined();
      // Alone, it refuses an operator (listed) and lets the owner through.
      expect(allows([statement as Statement], OPERATOR, detailType, bus)).toBe(false);
      expect(allows([statement as Statement], role(owner), detailType, bus)).toBe(true);
      expect(own(detailType)).toBeGreaterThanOrEqual(2);
    }
  });

  it('lets the redrive role put its reports and the continuations of its sweeps and replays only', () => {
    expect(types(role('ctr-sync-prod-redrive-us-east-1'))).toEqual(
      ['RedriveCompleted', 'ReplayRequested', 'SweepRequested'].sort(),
    );
  });

  it('lets the operator principals put the triggers and START_CALL_PROCESSING, not records or reports', () => {
    expect(types(OPERATOR_ELSEWHERE)).toEqual(types(OPERATOR));
    expect(types(OPERATOR)).toEqual(
      [
        'DlqRedriveRequested',
        'ReplayRequested',
        'ResyncRequested',
        'START_CALL_PROCESSING',
        'SweepRequested',
      ].sort(),
    );
  });

  it('lets the LCA principals put START_CALL_PROCESSING only', () => {
    expect(types(LCA_SENDER)).toEqual(['START_CALL_PROCESSING']);
  });

  it('denies every other principal of the account everything, an administrator and the root included', () => {
    for (const principal of [
      role('Admin'),
      role('aws-reserved/sso.amazonaws.com/us-east-1/AWSReservedSSO_AdministratorAccess_1'),
      `arn:aws:iam::${ACCOUNT}:root`,
      `arn:aws:iam::${ACCOUNT}:user/ops`,
    ]) {
      expect([principal, types(principal)]).toEqual([principal, []]);
    }
  });
});

describe('the bus policy (--stage dev, no operator or LCA principal named)', () => {
  const stage = 'dev';
  const types = (principal: string) => allowedTypes(busStatements(dev, stage), principal, stage);

  it('lets only the functions put events, and nobody START_CALL_PROCESSING', () => {
    expect(types(role('ctr-sync-dev-ingest-us-east-1'))).toEqual(['CtrReceived']);
    expect(types(role('ctr-sync-dev-redrive-us-east-1'))).toEqual(
      ['RedriveCompleted', 'ReplayRequested', 'SweepRequested'].sort(),
    );
    expect(types(OPERATOR)).toEqual([]);
    expect(types(LCA_SENDER)).toEqual([]);
    // Where an operator's pattern would have been, nothing (no empty ARN) is listed.
    const unlisted = busStatements(dev, stage).find((statement) => statement.Condition?.ArnNotLike);
    expect(asList(unlisted?.Condition?.ArnNotLike?.['aws:PrincipalArn'])).not.toContain('');
  });

  it('refuses principal lists with spaces at deploy time (AllowedPattern)', () => {
    const pattern = new RegExp(
      String(dev.template.Parameters?.OperatorPrincipalArns?.AllowedPattern),
    );

    expect(pattern.test('')).toBe(true);
    expect(pattern.test(`${OPERATOR_PATTERN},${LCA_SENDER}`)).toBe(true);
    expect(pattern.test(`${OPERATOR_PATTERN}, ${LCA_SENDER}`)).toBe(false);
    expect(pattern.test('AWSReservedSSO_CtrSyncOps')).toBe(false);
  });
});

describe('the bus policy (--stage qa, operator and LCA patterns that also match the functions)', () => {
  const stage = 'qa';
  const types = (principal: string) => allowedTypes(busStatements(wide, stage), principal, stage);

  it('still lets ingest put CtrReceived and the redrive its events', () => {
    expect(types(role('ctr-sync-qa-ingest-us-east-1'))).toEqual(['CtrReceived']);
    expect(types(role('ctr-sync-qa-redrive-us-east-1'))).toEqual(
      ['RedriveCompleted', 'ReplayRequested', 'SweepRequested'].sort(),
    );
  });
});
