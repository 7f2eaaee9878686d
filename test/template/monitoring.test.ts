/**
 * Checks the monitoring of resources/monitoring.yml in the CloudFormation
 * template `serverless package` produces: every alarm notifies the one alarm
 * topic; the alarm set covers every dead-letter queue, function and
 * EventBridge rule the template holds; thresholds and periods follow their
 * parameters; the e-mail subscription exists only with `alarmEmail`; the
 * dashboard body is JSON that shows every alarm and the pipeline's metrics;
 * and the README's runbook names every alarm, and its parameter table every
 * parameter with its default.
 *
 * Packaging is offline (dummy credentials), on a copy of the working tree
 * (see ./packaged.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE, type MetricName } from '../../functions/shared/observability';
import { DLQ_ALARM_THRESHOLD, QUEUE_ALARMS } from '../../local/run/topology';
import {
  getAtt,
  type Packaged,
  packageService,
  removePackages,
  repoRoot,
  resource,
  resourcesOfType,
  type Template,
} from './packaged';

interface Dimension {
  Name: string;
  Value: unknown;
}

interface AlarmProperties {
  AlarmName: string;
  Namespace: string;
  MetricName: string;
  Dimensions: Dimension[];
  Statistic: string;
  Period: number | string;
  EvaluationPeriods: number | string;
  DatapointsToAlarm?: number | string;
  Threshold: number | string;
  ComparisonOperator: string;
  TreatMissingData: string;
  AlarmActions?: unknown[];
  OKActions?: unknown[];
}

interface RuleProperties {
  Name?: string;
  EventBusName?: unknown;
  Targets?: { Arn?: unknown; DeadLetterConfig?: { Arn: unknown } }[];
}

interface MetricWidget {
  type: string;
  properties: {
    region?: string;
    metrics?: unknown[][];
    alarms?: string[];
    annotations?: { horizontal?: { value: number }[] };
  };
}

/** The template with the sections resources/monitoring.yml adds besides Resources. */
type FullTemplate = Template & {
  Conditions?: Record<string, unknown>;
  Resources: Record<string, { Condition?: string }>;
};

const DEAD_LETTER_QUEUES = ['SyncDlq', 'RedriveDlq', 'IngestFailureQueue', 'ArchiveDlq'];
const TOPIC = { Ref: 'AlarmTopic' };

/** Thresholds and periods the prod package sets, all unlike their defaults. */
const PROD_PARAMS = {
  alarmEmail: 'ops@example.com',
  alarmPeriodSeconds: 60,
  alarmEvaluationPeriods: 3,
  dlqAlarmThreshold: 2,
  syncQueueOldestMessageAlarmSeconds: 600,
  ingestIteratorAgeAlarmMilliseconds: 120_000,
  functionErrorsAlarmThreshold: 3,
  functionThrottlesAlarmThreshold: 4,
  ruleFailedInvocationsAlarmThreshold: 5,
  quarantinedAlarmThreshold: 6,
  archiveFreshnessAlarmSeconds: 1200,
};

let dev: Packaged;
let prod: Packaged;

beforeAll(async () => {
  [dev, prod] = await Promise.all([
    packageService([]),
    packageService([
      '--stage',
      'prod',
      ...Object.entries(PROD_PARAMS).map(([name, value]) => `--param=${name}=${value}`),
    ]),
  ]);
}, 120_000);

afterAll(removePackages);

function alarms(template: Template): [string, AlarmProperties][] {
  return resourcesOfType<AlarmProperties>(template, 'AWS::CloudWatch::Alarm');
}

/** The alarms on `metricName` of `namespace` whose dimensions are exactly `dimensions`. */
function alarmsOn(
  template: Template,
  namespace: string,
  metricName: string,
  dimensions: Dimension[],
): [string, AlarmProperties][] {
  const sorted = (list: Dimension[]) => [...list].sort((a, b) => a.Name.localeCompare(b.Name));
  return alarms(template).filter(
    ([, alarm]) =>
      alarm.Namespace === namespace &&
      alarm.MetricName === metricName &&
      isDeepStrictEqual(sorted(alarm.Dimensions), sorted(dimensions)),
  );
}

/** The one alarm on that metric (fails when there is none or more than one). */
function alarmOn(
  template: Template,
  namespace: string,
  metricName: string,
  dimensions: Dimension[],
): AlarmProperties {
  const found = alarmsOn(template, namespace, metricName, dimensions);
  expect(
    found.map(([id]) => id),
    `${namespace} ${metricName} ${JSON.stringify(dimensions)}`,
  ).toHaveLength(1);
  return (found[0] as [string, AlarmProperties])[1];
}

function expectAbove(alarm: AlarmProperties, threshold: number, statistic: string): void {
  expect(alarm.ComparisonOperator).toBe('GreaterThanThreshold');
  expect(Number(alarm.Threshold)).toBe(threshold);
  expect(alarm.Statistic).toBe(statistic);
}

/**
 * Logical ids of the queues the template dead-letters into: a queue's
 * RedrivePolicy target, rule targets' DeadLetterConfig, and the on-failure
 * destinations of event invoke configs and event source mappings.
 */
function deadLetterQueues(template: Template): string[] {
  const arns: unknown[] = [];
  for (const [, queue] of resourcesOfType<{ RedrivePolicy?: { deadLetterTargetArn: unknown } }>(
    template,
    'AWS::SQS::Queue',
  )) {
    if (queue.RedrivePolicy) arns.push(queue.RedrivePolicy.deadLetterTargetArn);
  }
  for (const [, rule] of resourcesOfType<RuleProperties>(template, 'AWS::Events::Rule')) {
    for (const target of rule.Targets ?? []) arns.push(target.DeadLetterConfig?.Arn);
  }
  for (const type of ['AWS::Lambda::EventInvokeConfig', 'AWS::Lambda::EventSourceMapping']) {
    for (const [, config] of resourcesOfType<{
      DestinationConfig?: { OnFailure?: { Destination?: unknown } };
    }>(template, type)) {
      arns.push(config.DestinationConfig?.OnFailure?.Destination);
    }
  }
  // Ingest's on-failure destination is the archive bucket; the queue its S3 events reach stands
  // in for it (IngestFailedBatchRule).
  for (const [, rule] of resourcesOfType<RuleProperties & { EventPattern?: { source?: string[] } }>(
    template,
    'AWS::Events::Rule',
  )) {
    if (rule.EventPattern?.source?.includes('aws.s3')) {
      for (const target of rule.Targets ?? []) arns.push(target.Arn);
    }
  }
  const ids = arns.flatMap((arn) => {
    const getAttOf = (arn as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt'];
    return getAttOf && template.Resources[getAttOf[0]]?.Type === 'AWS::SQS::Queue'
      ? [getAttOf[0]]
      : [];
  });
  return [...new Set(ids)].sort();
}

/** Evaluate a condition made of Fn::Not, Fn::Or and Fn::Equals over literal strings. */
function evaluateCondition(expression: unknown, template: FullTemplate): boolean {
  const node = expression as {
    'Fn::Not'?: [unknown];
    'Fn::Or'?: unknown[];
    'Fn::Equals'?: [unknown, unknown];
  };
  if (node['Fn::Not']) return !evaluateCondition(node['Fn::Not'][0], template);
  if (node['Fn::Or']) return node['Fn::Or'].some((item) => evaluateCondition(item, template));
  if (node['Fn::Equals']) {
    // A Ref to a template parameter takes the parameter's default (what serverless deploys).
    const value = (operand: unknown): unknown => {
      const ref = (operand as { Ref?: string } | null)?.Ref;
      return ref === undefined ? operand : template.Parameters?.[ref]?.Default;
    };
    const [left, right] = node['Fn::Equals'].map(value);
    if (typeof left !== 'string' || typeof right !== 'string') {
      throw new Error(`not a literal comparison: ${JSON.stringify(node)}`);
    }
    return left === right;
  }
  throw new Error(`unsupported condition: ${JSON.stringify(expression)}`);
}

/** The Fn::Sub string of the dashboard body, and its variables. */
function dashboardSub(template: Template): { body: string; variables: string[] } {
  const dashboard = resource<{ DashboardName: string; DashboardBody: { 'Fn::Sub': unknown } }>(
    template,
    'Dashboard',
    'AWS::CloudWatch::Dashboard',
  );
  const body = dashboard.DashboardBody['Fn::Sub'];
  if (typeof body !== 'string') throw new Error('DashboardBody is not an Fn::Sub of one string');
  const variables = [...body.matchAll(/\$\{([^!}][^}]*)\}/g)].map((match) => match[1] as string);
  return { body, variables };
}

/** The dashboard body parsed as JSON, each `${Variable}` replaced by `<Variable>`. */
function dashboardBody(template: Template): { widgets: MetricWidget[] } {
  const { body } = dashboardSub(template);
  return JSON.parse(body.replace(/\$\{([^!}][^}]*)\}/g, '<$1>'));
}

/** The text of README.md's `## Runbook` section. */
function runbook(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Runbook\n');
  expect(start, 'README.md has a "## Runbook" section').toBeGreaterThanOrEqual(0);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

describe('monitoring (stage dev, default parameters)', () => {
  it('notifies the alarm topic from every alarm, when it fires and when it clears', () => {
    const all = alarms(dev.template);

    expect(all.length).toBeGreaterThan(0);
    for (const [id, alarm] of all) {
      expect([id, alarm.AlarmActions]).toEqual([id, [TOPIC]]);
      expect([id, alarm.OKActions]).toEqual([id, [TOPIC]]);
    }
    expect(dev.template.Resources.AlarmTopic?.Type).toBe('AWS::SNS::Topic');
  });

  it('encrypts the topic with a customer managed key that CloudWatch alarms may use', () => {
    const topic = resource<{ TopicName: string; KmsMasterKeyId: unknown }>(
      dev.template,
      'AlarmTopic',
      'AWS::SNS::Topic',
    );
    const key = resource<{
      EnableKeyRotation?: boolean;
      KeyPolicy: {
        Statement: { Effect: string; Principal?: { Service?: string }; Action: string[] }[];
      };
    }>(dev.template, 'AlarmTopicKey', 'AWS::KMS::Key');

    expect(topic.TopicName).toBe('ctr-sync-dev-alarms');
    // Not alias/aws/sns: CloudWatch cannot use the AWS managed key (see resources/monitoring.yml).
    expect(topic.KmsMasterKeyId).toEqual({ Ref: 'AlarmTopicKey' });
    expect(key.EnableKeyRotation).toBe(true);
    const forCloudWatch = key.KeyPolicy.Statement.find(
      (statement) => statement.Principal?.Service === 'cloudwatch.amazonaws.com',
    );
    expect(forCloudWatch?.Effect).toBe('Allow');
    expect(forCloudWatch?.Action).toEqual(
      expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']),
    );
  });

  it('alarms on any message in every queue the template dead-letters into', () => {
    expect(deadLetterQueues(dev.template)).toEqual([...DEAD_LETTER_QUEUES].sort());

    for (const queue of DEAD_LETTER_QUEUES) {
      const alarm = alarmOn(dev.template, 'AWS/SQS', 'ApproximateNumberOfMessagesVisible', [
        { Name: 'QueueName', Value: getAtt(queue, 'QueueName') },
      ]);
      expectAbove(alarm, 0, 'Maximum');
      // SQS stops sending metrics of a queue inactive for six hours: keep the state meanwhile.
      expect(alarm.TreatMissingData).toBe('ignore');
    }
  });

  it('holds the queue alarms the local CloudWatch evaluates, on the queues it evaluates them on', () => {
    for (const { alarm, queue } of QUEUE_ALARMS) {
      const found = alarms(dev.template).find(
        ([, properties]) => properties.AlarmName === `ctr-sync-dev-${alarm}`,
      );
      expect(found, alarm).toBeDefined();
      const [, properties] = found as [string, AlarmProperties];
      const [dimension] = properties.Dimensions;
      const [queueId] = (dimension?.Value as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
      expect(
        resource<{ QueueName: string }>(dev.template, queueId, 'AWS::SQS::Queue').QueueName,
      ).toBe(`ctr-sync-dev-${queue}`);
      expect([properties.Namespace, properties.MetricName]).toEqual([
        'AWS/SQS',
        'ApproximateNumberOfMessagesVisible',
      ]);
      expectAbove(properties, DLQ_ALARM_THRESHOLD, 'Maximum');
    }
  });

  it('alarms when the oldest sync queue message is older than 900 seconds', () => {
    const alarm = alarmOn(dev.template, 'AWS/SQS', 'ApproximateAgeOfOldestMessage', [
      { Name: 'QueueName', Value: getAtt('SyncQueue', 'QueueName') },
    ]);

    expectAbove(alarm, 900, 'Maximum');
  });

  it("alarms when ingest's Kinesis iterator age exceeds 300000 ms", () => {
    const alarm = alarmOn(dev.template, 'AWS/Lambda', 'IteratorAge', [
      { Name: 'FunctionName', Value: { Ref: 'IngestLambdaFunction' } },
    ]);

    expectAbove(alarm, 300_000, 'Maximum');
  });

  it('alarms on errors and on throttles of every function', () => {
    const functions = resourcesOfType(dev.template, 'AWS::Lambda::Function').map(([id]) => id);

    expect(functions.sort()).toEqual([
      'IngestLambdaFunction',
      'RedriveLambdaFunction',
      'UpdaterLambdaFunction',
    ]);
    for (const id of functions) {
      for (const metricName of ['Errors', 'Throttles']) {
        const alarm = alarmOn(dev.template, 'AWS/Lambda', metricName, [
          { Name: 'FunctionName', Value: { Ref: id } },
        ]);
        expectAbove(alarm, 0, 'Sum');
      }
    }
  });

  it('alarms on failed invocations of every EventBridge rule, by its name and bus', () => {
    const rules = resourcesOfType<RuleProperties>(dev.template, 'AWS::Events::Rule');

    // Sync, archive, two redrive rules, the sweep schedule, the rule reporting ingest's failed
    // batches.
    expect(rules).toHaveLength(6);
    for (const [id, rule] of rules) {
      const onCustomBus = rule.EventBusName !== undefined;
      if (onCustomBus) {
        expect([{ Ref: 'EventBus' }, getAtt('EventBus', 'Name')]).toContainEqual(rule.EventBusName);
      }
      // A rule CloudFormation names is found by the last part of its ARN:
      // rule/<bus>/<name> on a custom bus, rule/<name> on the default bus.
      const ruleName = rule.Name ?? {
        'Fn::Select': [onCustomBus ? 2 : 1, { 'Fn::Split': ['/', getAtt(id)] }],
      };
      const dimensions: Dimension[] = [{ Name: 'RuleName', Value: ruleName }];
      if (onCustomBus) dimensions.push({ Name: 'EventBusName', Value: getAtt('EventBus', 'Name') });

      const alarm = alarmOn(dev.template, 'AWS/Events', 'FailedInvocations', dimensions);
      expectAbove(alarm, 0, 'Sum');
    }
  });

  it('alarms on any event lost at the bus by a rule with a dead-letter queue (InvocationsFailedToBeSentToDlq)', () => {
    // Every rule but the sweep schedule (which carries no record) has a dead-letter queue.
    const rules = resourcesOfType<RuleProperties>(dev.template, 'AWS::Events::Rule').filter(
      ([, rule]) => rule.Targets?.some((target) => target.DeadLetterConfig !== undefined),
    );

    expect(rules).toHaveLength(4);
    for (const [id, rule] of rules) {
      expect(rule.Targets?.every((target) => target.DeadLetterConfig?.Arn !== undefined)).toBe(
        true,
      );
      const onCustomBus = rule.EventBusName !== undefined;
      const ruleName = rule.Name ?? { 'Fn::Select': [2, { 'Fn::Split': ['/', getAtt(id)] }] };
      const dimensions: Dimension[] = [{ Name: 'RuleName', Value: ruleName }];
      if (onCustomBus) dimensions.push({ Name: 'EventBusName', Value: getAtt('EventBus', 'Name') });
      const alarm = alarmOn(
        dev.template,
        'AWS/Events',
        'InvocationsFailedToBeSentToDlq',
        dimensions,
      );
      expectAbove(alarm, 0, 'Sum');
    }
  });

  it('alarms when the archive delivery stream holds a record older than 900 seconds', () => {
    const alarm = alarmOn(dev.template, 'AWS/Firehose', 'DeliveryToS3.DataFreshness', [
      { Name: 'DeliveryStreamName', Value: { Ref: 'ArchiveDeliveryStream' } },
    ]);

    expectAbove(alarm, 900, 'Maximum');
  });

  it('alarms on records quarantined by ingest (CtrSync, dimension service)', () => {
    const quarantined: MetricName = 'Quarantined';
    const ingest = readFileSync(join(repoRoot, 'functions/ingest/handler.ts'), 'utf8');

    expect(ingest).toContain("createObservability('ingest')");
    expect(ingest).toContain(`counters.add('${quarantined}')`);
    const alarm = alarmOn(dev.template, METRICS_NAMESPACE, quarantined, [
      { Name: 'service', Value: 'ingest' },
    ]);
    expectAbove(alarm, 0, 'Sum');
  });

  it('alarms on a sweep that cannot take its first VoiceCall (CtrSync SweepStuck of redrive)', () => {
    const stuck: MetricName = 'SweepStuck';
    const redrive = readFileSync(join(repoRoot, 'functions/redrive/handler.ts'), 'utf8');

    expect(redrive).toContain("createObservability('redrive')");
    expect(redrive).toContain(`counters.add('${stuck}')`);
    const alarm = alarmOn(dev.template, METRICS_NAMESPACE, stuck, [
      { Name: 'service', Value: 'redrive' },
    ]);
    expectAbove(alarm, 0, 'Sum');
  });

  it('has exactly those alarms, stage-scoped, over 5 minutes, not breaching on missing data', () => {
    const all = alarms(dev.template);
    const functions = resourcesOfType(dev.template, 'AWS::Lambda::Function').length;
    const rules = resourcesOfType(dev.template, 'AWS::Events::Rule').length;
    const names = all.map(([, alarm]) => alarm.AlarmName);

    // DLQs, oldest sync message, iterator age, errors and throttles, rules, quarantine (ingest's
    // and the updater's), archive freshness, events lost by each rule with a dead-letter queue
    // (all but the schedule and the rule reporting ingest's failed batches), a stuck sweep.
    expect(all).toHaveLength(
      DEAD_LETTER_QUEUES.length + 1 + 1 + 2 * functions + rules + 2 + 1 + (rules - 2) + 1,
    );
    expect(new Set(names).size).toBe(names.length);
    for (const [id, alarm] of all) {
      expect([id, alarm.AlarmName]).toEqual([id, expect.stringMatching(/^ctr-sync-dev-[a-z-]+$/)]);
      expect([id, Number(alarm.Period)]).toEqual([id, 300]);
      expect([id, Number(alarm.EvaluationPeriods)]).toEqual([id, 1]);
      expect([id, Number(alarm.DatapointsToAlarm)]).toEqual([id, 1]);
      const isDeadLetterAlarm = alarm.MetricName === 'ApproximateNumberOfMessagesVisible';
      expect([id, alarm.TreatMissingData]).toEqual([
        id,
        isDeadLetterAlarm ? 'ignore' : 'notBreaching',
      ]);
    }
  });

  it('says loudly, when packaging, that the alarms reach nobody when alarmEmail is not set', () => {
    expect(dev.output).toContain('alarmEmail is not set: the alarms of stage "dev" reach NOBODY.');
    expect(prod.output).not.toContain('reach NOBODY');
  });

  it('subscribes no e-mail address when alarmEmail is not set (none)', () => {
    const template = dev.template as FullTemplate;
    const subscription = resource<{ TopicArn: unknown; Protocol: string }>(
      dev.template,
      'AlarmEmailSubscription',
      'AWS::SNS::Subscription',
    );

    expect(template.Resources.AlarmEmailSubscription?.Condition).toBe('HasAlarmEmail');
    expect(evaluateCondition(template.Conditions?.HasAlarmEmail, template)).toBe(false);
    expect(subscription).toMatchObject({ TopicArn: TOPIC, Protocol: 'email' });
  });

  describe('the dashboard', () => {
    it('has a JSON body once its variables are substituted, each naming a resource', () => {
      const { variables } = dashboardSub(dev.template);
      const widgets = dashboardBody(dev.template).widgets;

      expect(widgets.length).toBeGreaterThan(0);
      expect(variables.length).toBeGreaterThan(0);
      for (const variable of variables) {
        const [id] = variable.split('.');
        if (variable.startsWith('AWS::')) expect(variable).toBe('AWS::Region');
        else expect(dev.template.Resources[id as string], variable).toBeDefined();
      }
      for (const widget of widgets.filter((candidate) => candidate.type === 'metric')) {
        expect(widget.properties.region).toBe('<AWS::Region>');
      }
    });

    it('shows the state of every alarm', () => {
      const widget = dashboardBody(dev.template).widgets.find(
        (candidate) => candidate.type === 'alarm',
      );

      expect(widget?.properties.alarms?.sort()).toEqual(
        alarms(dev.template)
          .map(([id]) => `<${id}.Arn>`)
          .sort(),
      );
    });

    it('plots the records from received to synced and the depth of every dead-letter queue', () => {
      const metrics = dashboardBody(dev.template).widgets.flatMap(
        (widget) => widget.properties.metrics ?? [],
      );
      const plotted = (namespace: string, metricName: string) =>
        metrics.filter((metric) => metric[0] === namespace && metric[1] === metricName);
      const expressions = metrics.flatMap((metric) => {
        const expression = (metric[0] as { expression?: string }).expression;
        return expression === undefined ? [] : [expression];
      });
      const flow: MetricName[] = [
        'Received',
        'Published',
        'Archived',
        'Synced',
        'Superseded',
        'Duplicate',
        'Quarantined',
        'Failed',
      ];

      for (const metricName of flow) {
        expect(plotted(METRICS_NAMESPACE, metricName), metricName).not.toHaveLength(0);
      }
      const skipped: MetricName = 'Skipped';
      expect(expressions).toContainEqual(
        expect.stringContaining(`{${METRICS_NAMESPACE},Reason,service} MetricName="${skipped}"`),
      );
      const depths = plotted('AWS/SQS', 'ApproximateNumberOfMessagesVisible').map(
        (metric) => metric[3],
      );
      for (const queue of DEAD_LETTER_QUEUES) expect(depths).toContain(`<${queue}.QueueName>`);
    });
  });

  describe('README.md', () => {
    it('explains every alarm in its Runbook, by its AlarmName with <stage> for the stage', () => {
      const text = runbook();
      const names = alarms(dev.template).map(([, alarm]) =>
        alarm.AlarmName.replace(/^ctr-sync-dev-/, 'ctr-sync-<stage>-'),
      );

      expect(names.length).toBeGreaterThan(0);
      const missing = names.filter((name) => !text.includes(`\`${name}\``));
      expect(missing).toEqual([]);
    });

    it('places the Runbook right before "Logs and personal data"', () => {
      const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
      const headings = [...readme.matchAll(/^## (.+)$/gm)].map((match) => match[1]);

      expect(headings).toContain('Runbook');
      expect(headings[headings.indexOf('Runbook') + 1]).toBe('Logs and personal data');
    });

    it('lists every monitoring parameter with its default in the Parameters table', () => {
      const monitoring = readFileSync(join(repoRoot, 'resources/monitoring.yml'), 'utf8');
      const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
      const defaults = new Map<string, Set<string>>();
      for (const [, name, fallback] of monitoring.matchAll(/\$\{param:(\w+), ([^}]+)\}/g)) {
        const values = defaults.get(name as string) ?? new Set<string>();
        values.add((fallback as string).trim());
        defaults.set(name as string, values);
      }

      expect([...defaults.keys()].sort()).toEqual(Object.keys(PROD_PARAMS).sort());
      for (const [name, values] of defaults) {
        // One default per parameter, wherever the template uses it.
        expect([name, values.size]).toEqual([name, 1]);
        const [fallback] = [...values];
        // A string default is written as code (`none`), a number as is.
        const documented = fallback?.replace(/^'(.*)'$/, '`$1`');
        const row = readme.split('\n').find((line) => line.startsWith(`| \`${name}\` `));
        expect(row, name).toBeDefined();
        expect(row?.split('|')[2]?.trim(), name).toBe(documented);
      }
    });
  });
});

describe('monitoring (--stage prod, thresholds, periods and alarmEmail set)', () => {
  it('names the alarms, topic and dashboard after the stage', () => {
    const names = alarms(prod.template).map(([, alarm]) => alarm.AlarmName);

    expect(names.length).toBe(alarms(dev.template).length);
    for (const name of names) expect(name).toMatch(/^ctr-sync-prod-[a-z-]+$/);
    expect(prod.template.Resources.AlarmTopic?.Properties.TopicName).toBe('ctr-sync-prod-alarms');
    expect(prod.template.Resources.Dashboard?.Properties.DashboardName).toBe('ctr-sync-prod');
  });

  it('applies the thresholds, the period and the evaluation periods of the parameters', () => {
    const threshold = (namespace: string, metricName: string): number[] =>
      alarms(prod.template)
        .filter(([, alarm]) => alarm.Namespace === namespace && alarm.MetricName === metricName)
        .map(([, alarm]) => Number(alarm.Threshold));

    expect(threshold('AWS/SQS', 'ApproximateNumberOfMessagesVisible')).toEqual(
      DEAD_LETTER_QUEUES.map(() => PROD_PARAMS.dlqAlarmThreshold),
    );
    expect(threshold('AWS/SQS', 'ApproximateAgeOfOldestMessage')).toEqual([
      PROD_PARAMS.syncQueueOldestMessageAlarmSeconds,
    ]);
    expect(threshold('AWS/Lambda', 'IteratorAge')).toEqual([
      PROD_PARAMS.ingestIteratorAgeAlarmMilliseconds,
    ]);
    expect(threshold('AWS/Lambda', 'Errors')).toEqual(
      Array(3).fill(PROD_PARAMS.functionErrorsAlarmThreshold),
    );
    expect(threshold('AWS/Lambda', 'Throttles')).toEqual(
      Array(3).fill(PROD_PARAMS.functionThrottlesAlarmThreshold),
    );
    expect(threshold('AWS/Events', 'FailedInvocations')).toEqual(
      Array(6).fill(PROD_PARAMS.ruleFailedInvocationsAlarmThreshold),
    );
    expect(threshold('AWS/Firehose', 'DeliveryToS3.DataFreshness')).toEqual([
      PROD_PARAMS.archiveFreshnessAlarmSeconds,
    ]);
    // Ingest's, then the updater's: any record it refuses was forged, so its threshold is fixed at 0.
    expect(threshold(METRICS_NAMESPACE, 'Quarantined')).toEqual([
      PROD_PARAMS.quarantinedAlarmThreshold,
      0,
    ]);
    for (const [id, alarm] of alarms(prod.template)) {
      expect([id, Number(alarm.Period)]).toEqual([id, PROD_PARAMS.alarmPeriodSeconds]);
      expect([id, Number(alarm.EvaluationPeriods)]).toEqual([
        id,
        PROD_PARAMS.alarmEvaluationPeriods,
      ]);
      expect([id, Number(alarm.DatapointsToAlarm)]).toEqual([
        id,
        PROD_PARAMS.alarmEvaluationPeriods,
      ]);
    }
  });

  it('draws the thresholds of the parameters on the dashboard', () => {
    const lines = dashboardBody(prod.template).widgets.flatMap(
      (widget) => widget.properties.annotations?.horizontal ?? [],
    );

    expect(lines.map((line) => line.value).sort()).toEqual(
      [
        PROD_PARAMS.syncQueueOldestMessageAlarmSeconds,
        PROD_PARAMS.ingestIteratorAgeAlarmMilliseconds,
      ].sort(),
    );
  });

  it('subscribes the alarmEmail address to the topic', () => {
    const template = prod.template as FullTemplate;
    const subscription = resource<{ TopicArn: unknown; Protocol: string; Endpoint: string }>(
      prod.template,
      'AlarmEmailSubscription',
      'AWS::SNS::Subscription',
    );

    expect(template.Resources.AlarmEmailSubscription?.Condition).toBe('HasAlarmEmail');
    expect(evaluateCondition(template.Conditions?.HasAlarmEmail, template)).toBe(true);
    expect(subscription).toEqual({
      TopicArn: TOPIC,
      Protocol: 'email',
      Endpoint: { Ref: 'AlarmEmail' },
    });
    expect(template.Parameters?.AlarmEmail?.Default).toBe(PROD_PARAMS.alarmEmail);
  });
});
