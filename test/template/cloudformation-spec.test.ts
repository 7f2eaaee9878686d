/**
 * The packaged template against the CloudFormation resource specification
 * (the AWS resource database that @aws-cdk/aws-service-spec ships, built from
 * the CloudFormation registry schemas): every resource type exists, every
 * property name is one its type (or nested property type) defines, and every
 * required property is present. Values given by intrinsic functions (`Ref`,
 * `Fn::*`) are not looked into; JSON-typed properties (policies, event
 * patterns) are free-form by definition.
 *
 * Not a deploy: CloudFormation checks more (value formats, cross-resource
 * constraints), but a typo or a missing required property fails here.
 */
import { loadAwsServiceSpec } from '@aws-cdk/aws-service-spec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Packaged, packageService, removePackages } from './packaged';

type SpecDatabase = Awaited<ReturnType<typeof loadAwsServiceSpec>>;
/** A property type as the database describes it (the parts read here). */
type PropertyType =
  | { type: 'ref'; reference: { $ref: string } }
  | { type: 'array' | 'map'; element: PropertyType }
  | { type: 'union'; types: PropertyType[] }
  | { type: string };
type PropertySpec = { type: PropertyType; required?: boolean };

let db: SpecDatabase;
let dev: Packaged;
let prod: Packaged;

beforeAll(async () => {
  [db, dev, prod] = await Promise.all([
    loadAwsServiceSpec(),
    packageService([]),
    packageService(['--stage', 'prod', '--param=alarmEmail=ops@example.com']),
  ]);
}, 120_000);

afterAll(removePackages);

function isIntrinsic(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || String(keys[0]).startsWith('Fn::'));
}

/** Problems of `value` against `type`, each as `path: problem`. */
function checkValue(value: unknown, type: PropertyType, path: string): string[] {
  if (value === undefined || isIntrinsic(value)) return [];
  if (type.type === 'union') {
    const options = (type as { types: PropertyType[] }).types;
    const results = options.map((option) => checkValue(value, option, path));
    return results.some((problems) => problems.length === 0) ? [] : (results[0] ?? []);
  }
  if (type.type === 'array') {
    if (!Array.isArray(value)) return [];
    const element = (type as { element: PropertyType }).element;
    return value.flatMap((item, index) => checkValue(item, element, `${path}[${index}]`));
  }
  if (type.type === 'map') {
    if (typeof value !== 'object' || value === null) return [];
    const element = (type as { element: PropertyType }).element;
    return Object.entries(value).flatMap(([key, item]) =>
      checkValue(item, element, `${path}.${key}`),
    );
  }
  if (type.type === 'ref') {
    const definition = db.get(
      'typeDefinition',
      (type as { reference: { $ref: string } }).reference.$ref,
    ) as {
      properties: Record<string, PropertySpec>;
    };
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return [`${path}: expected an object`];
    }
    return checkProperties(value as Record<string, unknown>, definition.properties, path);
  }
  return [];
}

function checkProperties(
  given: Record<string, unknown>,
  spec: Record<string, PropertySpec>,
  path: string,
): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(given)) {
    const property = spec[name];
    if (!property) {
      problems.push(`${path}.${name}: not a property of this type`);
      continue;
    }
    problems.push(...checkValue(value, property.type, `${path}.${name}`));
  }
  for (const [name, property] of Object.entries(spec)) {
    if (property.required && !(name in given)) problems.push(`${path}.${name}: required, missing`);
  }
  return problems;
}

function checkTemplate(packaged: Packaged): string[] {
  const problems: string[] = [];
  for (const [logicalId, resource] of Object.entries(packaged.template.Resources)) {
    const [spec] = db.lookup(
      'resource',
      'cloudFormationType',
      'equals',
      resource.Type,
    ) as unknown as {
      properties: Record<string, PropertySpec>;
    }[];
    if (!spec) {
      problems.push(`${logicalId}: unknown resource type ${resource.Type}`);
      continue;
    }
    problems.push(...checkProperties(resource.Properties ?? {}, spec.properties, logicalId));
  }
  return problems;
}

describe('the packaged template against the CloudFormation resource specification', () => {
  it('finds a misspelt property, an unknown type and a missing required property (the check itself)', () => {
    const broken: Packaged = {
      ...dev,
      template: {
        Resources: {
          Queue: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimout: 30 } },
          Thing: { Type: 'AWS::Nothing::Thing', Properties: {} },
          Mapping: { Type: 'AWS::Lambda::EventSourceMapping', Properties: {} },
          Bucket: {
            Type: 'AWS::S3::Bucket',
            Properties: { LifecycleConfiguration: { Rules: [{ Status: 'Enabled', Expiry: 1 }] } },
          },
        },
      },
    };

    expect(checkTemplate(broken)).toEqual([
      'Queue.VisibilityTimout: not a property of this type',
      'Thing: unknown resource type AWS::Nothing::Thing',
      'Mapping.FunctionName: required, missing',
      'Bucket.LifecycleConfiguration.Rules[0].Expiry: not a property of this type',
    ]);
  });

  it('stage dev, default parameters: every type, property name and required property is valid', () => {
    expect(Object.keys(dev.template.Resources).length).toBeGreaterThan(20);
    expect(checkTemplate(dev)).toEqual([]);
  });

  it('stage prod with an alarm e-mail: valid too', () => {
    expect(checkTemplate(prod)).toEqual([]);
  });
});
