import { describe, expect, it } from 'vitest';
import {
  type EventPattern,
  InvalidEventPatternError,
  matchesEventPattern,
  validateEventPattern,
} from '../../local/eventbridge/event-pattern';

/**
 * Examples follow the Amazon EventBridge User Guide pages named in each
 * describe block. Patterns go through validateEventPattern so every documented
 * example is also checked to be accepted.
 */

function matches(pattern: unknown, event: unknown): boolean {
  return matchesEventPattern(validateEventPattern(pattern), event);
}

function rejectionOf(pattern: unknown): InvalidEventPatternError {
  try {
    validateEventPattern(pattern);
  } catch (error) {
    if (error instanceof InvalidEventPatternError) return error;
    throw error;
  }
  throw new Error('expected the pattern to be rejected');
}

/** An event carrying `detail`, with the envelope of the EC2 example event. */
function eventWith(detail: Record<string, unknown>): Record<string, unknown> {
  return {
    version: '0',
    id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    account: '111122223333',
    time: '2017-12-22T18:43:48Z',
    region: 'us-west-1',
    resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
    detail,
  };
}

const ec2TerminatedEvent = eventWith({ 'instance-id': 'i-1234567890abcdef0', state: 'terminated' });

describe('matchesEventPattern: structure and exact values ("Amazon EventBridge event patterns")', () => {
  const terminationPattern = {
    source: ['aws.ec2'],
    'detail-type': ['EC2 Instance State-change Notification'],
    detail: { state: ['terminated'] },
  };

  it('matches top-level and nested fields while ignoring fields the pattern does not name', () => {
    expect(matches(terminationPattern, ec2TerminatedEvent)).toBe(true);
  });

  it('does not match when a nested value differs', () => {
    const running = eventWith({ 'instance-id': 'i-1234567890abcdef0', state: 'running' });
    expect(matches(terminationPattern, running)).toBe(false);
  });

  it('does not match when any one of the AND-ed fields differs', () => {
    expect(matches(terminationPattern, { ...ec2TerminatedEvent, source: 'aws.s3' })).toBe(false);
  });

  it('matches any of the values listed for a field', () => {
    const pattern = { source: ['aws.ec2', 'aws.fargate'] };
    expect(matches(pattern, { source: 'aws.ec2' })).toBe(true);
    expect(matches(pattern, { source: 'aws.fargate' })).toBe(true);
    expect(matches(pattern, { source: 'aws.s3' })).toBe(false);
  });

  it('does not match when a field named in the pattern is absent from the event', () => {
    expect(matches({ detail: { state: ['terminated'] } }, eventWith({}))).toBe(false);
    expect(matches({ detail: { state: ['terminated'] } }, { source: 'aws.ec2' })).toBe(false);
  });

  it('does not match when the nesting differs from the pattern', () => {
    expect(matches({ detail: { state: ['terminated'] } }, { state: 'terminated' })).toBe(false);
    expect(matches({ detail: ['terminated'] }, eventWith({ state: 'terminated' }))).toBe(false);
  });

  it('matches strings character by character without case folding', () => {
    expect(matches({ detail: { state: ['Terminated'] } }, ec2TerminatedEvent)).toBe(false);
    expect(matches({ detail: { state: ['terminated '] } }, ec2TerminatedEvent)).toBe(false);
  });

  it('matches numbers nested at several levels', () => {
    const pattern = {
      source: ['aws.macie'],
      'detail-type': ['Macie Alert'],
      detail: { 'risk-score': [80], trigger: { risk: [8] } },
    };
    const event = {
      source: 'aws.macie',
      'detail-type': 'Macie Alert',
      detail: { 'risk-score': 80, trigger: { 'alert-type': 'basic', risk: 8 } },
    };
    expect(matches(pattern, event)).toBe(true);
    expect(matches(pattern, { ...event, detail: { 'risk-score': 79, trigger: { risk: 8 } } })).toBe(
      false,
    );
  });

  it('compares values by JSON type', () => {
    expect(matches({ detail: { count: [5] } }, eventWith({ count: '5' }))).toBe(false);
    expect(matches({ detail: { count: ['5'] } }, eventWith({ count: 5 }))).toBe(false);
    expect(matches({ detail: { flag: [true] } }, eventWith({ flag: 'true' }))).toBe(false);
    expect(matches({ detail: { flag: [true] } }, eventWith({ flag: true }))).toBe(true);
    expect(matches({ detail: { flag: [false] } }, eventWith({ flag: true }))).toBe(false);
  });
});

describe('matchesEventPattern: null values and empty strings', () => {
  const autoscalingEvent = {
    source: 'aws.autoscaling',
    'detail-type': 'EC2 Instance Launch Successful',
    resources: [],
    detail: { eventVersion: '', responseElements: null },
  };

  it('matches an empty string', () => {
    expect(matches({ detail: { eventVersion: [''] } }, autoscalingEvent)).toBe(true);
  });

  it('matches a null value', () => {
    expect(matches({ detail: { responseElements: [null] } }, autoscalingEvent)).toBe(true);
  });

  it('does not treat null and the empty string as interchangeable', () => {
    expect(matches({ detail: { responseElements: [''] } }, autoscalingEvent)).toBe(false);
    expect(matches({ detail: { eventVersion: [null] } }, autoscalingEvent)).toBe(false);
  });

  it('does not match null against a field that is absent', () => {
    expect(matches({ detail: { missing: [null] } }, autoscalingEvent)).toBe(false);
  });
});

describe('matchesEventPattern: arrays ("Arrays in Amazon EventBridge event patterns")', () => {
  const pattern = {
    resources: [
      'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
      'arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f',
      'arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f',
    ],
  };

  it('matches when the pattern array and the event array intersect', () => {
    const event = {
      resources: [
        'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate',
        'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
      ],
    };
    expect(matches(pattern, event)).toBe(true);
  });

  it('does not match when the arrays have no value in common', () => {
    expect(
      matches(pattern, { resources: ['arn:aws:ec2:us-east-1:999999999999:instance/i-x'] }),
    ).toBe(false);
    expect(matches(pattern, { resources: [] })).toBe(false);
  });

  it('applies operators to each element of an event array', () => {
    expect(matches({ tags: [{ prefix: 'env:' }] }, { tags: ['team:a', 'env:prod'] })).toBe(true);
    expect(matches({ tags: [{ prefix: 'env:' }] }, { tags: ['team:a', 'owner:b'] })).toBe(false);
  });

  it('matches a nested pattern within a single element of an array of objects', () => {
    // aws/event-ruler README, "JSON Array Matching".
    const event = {
      employees: [
        { firstName: 'John', lastName: 'Doe' },
        { firstName: 'Anna', lastName: 'Smith' },
        { firstName: 'Peter', lastName: 'Jones' },
      ],
    };
    expect(matches({ employees: { firstName: ['Anna'] } }, event)).toBe(true);
    expect(matches({ employees: { firstName: ['Anna'], lastName: ['Smith'] } }, event)).toBe(true);
    expect(matches({ employees: { firstName: ['Anna'], lastName: ['Jones'] } }, event)).toBe(false);
  });
});

describe('matchesEventPattern: prefix', () => {
  it('matches a prefix on a string value', () => {
    const pattern = { time: [{ prefix: '2017-10-02' }] };
    expect(matches(pattern, { time: '2017-10-02T18:43:48Z' })).toBe(true);
    expect(matches(pattern, { time: '2017-10-03T18:43:48Z' })).toBe(false);
  });

  it('matches a region prefix', () => {
    const pattern = { source: ['aws.autoscaling'], region: [{ prefix: 'eu-' }] };
    expect(matches(pattern, { source: 'aws.autoscaling', region: 'eu-west-1' })).toBe(true);
    expect(matches(pattern, { source: 'aws.autoscaling', region: 'us-east-1' })).toBe(false);
  });

  it('matches a prefix case-sensitively', () => {
    expect(matches({ region: [{ prefix: 'us-' }] }, { region: 'US-EAST-1' })).toBe(false);
  });

  it('matches a prefix regardless of case with equals-ignore-case', () => {
    const pattern = { service: [{ prefix: { 'equals-ignore-case': 'eventb' } }] };
    expect(matches(pattern, { service: 'EventBridge' })).toBe(true);
    expect(matches(pattern, { service: 'EVENTBRIDGE' })).toBe(true);
    expect(matches(pattern, { service: 'Amazon EventBridge' })).toBe(false);
  });

  it('matches a prefix only on strings', () => {
    expect(matches({ code: [{ prefix: '12' }] }, { code: 123 })).toBe(false);
  });
});

describe('matchesEventPattern: suffix', () => {
  it('matches a suffix on a string value', () => {
    const pattern = { FileName: [{ suffix: '.png' }] };
    expect(matches(pattern, { FileName: 'image.png' })).toBe(true);
    expect(matches(pattern, { FileName: 'image.jpg' })).toBe(false);
    expect(matches(pattern, { FileName: 'image.PNG' })).toBe(false);
  });

  it('matches a suffix regardless of case with equals-ignore-case', () => {
    const pattern = { service: [{ suffix: { 'equals-ignore-case': 'tbridge' } }] };
    expect(matches(pattern, { service: 'EventBridge' })).toBe(true);
    expect(matches(pattern, { service: 'EVENTBRIDGE' })).toBe(true);
    expect(matches(pattern, { service: 'EventBridge Pipes' })).toBe(false);
  });

  it('matches a suffix only on strings', () => {
    expect(matches({ code: [{ suffix: '3' }] }, { code: 123 })).toBe(false);
  });
});

describe('matchesEventPattern: equals-ignore-case', () => {
  it('matches a string regardless of case', () => {
    const pattern = { Name: [{ 'equals-ignore-case': 'alice' }] };
    expect(matches(pattern, { Name: 'Alice' })).toBe(true);
    expect(matches(pattern, { Name: 'ALICE' })).toBe(true);
    expect(matches(pattern, { Name: 'Alicia' })).toBe(false);
  });

  it('matches equals-ignore-case only on strings', () => {
    expect(matches({ flag: [{ 'equals-ignore-case': 'true' }] }, { flag: true })).toBe(false);
  });
});

describe('matchesEventPattern: anything-but', () => {
  it('matches anything except a single string', () => {
    const pattern = { detail: { state: [{ 'anything-but': 'initializing' }] } };
    expect(matches(pattern, eventWith({ state: 'running' }))).toBe(true);
    expect(matches(pattern, eventWith({ state: 'initializing' }))).toBe(false);
  });

  it('matches anything except a single number', () => {
    const pattern = { detail: { 'x-limit': [{ 'anything-but': 123 }] } };
    expect(matches(pattern, eventWith({ 'x-limit': 124 }))).toBe(true);
    expect(matches(pattern, eventWith({ 'x-limit': 123 }))).toBe(false);
  });

  it('matches anything except the strings in a list', () => {
    const pattern = { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } };
    expect(matches(pattern, eventWith({ state: 'running' }))).toBe(true);
    expect(matches(pattern, eventWith({ state: 'stopped' }))).toBe(false);
    expect(matches(pattern, eventWith({ state: 'overloaded' }))).toBe(false);
  });

  it('matches anything except the numbers in a list', () => {
    const pattern = { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } };
    expect(matches(pattern, eventWith({ 'x-limit': 301.8 }))).toBe(true);
    expect(matches(pattern, eventWith({ 'x-limit': 200 }))).toBe(false);
  });

  it('matches every source except the excluded ones', () => {
    const pattern = { source: [{ 'anything-but': ['aws.ec2', 'aws.s3'] }] };
    expect(matches(pattern, { source: 'com.example.ctr-sync' })).toBe(true);
    expect(matches(pattern, { source: 'aws.s3' })).toBe(false);
  });

  it('matches anything that does not start with a prefix', () => {
    const pattern = { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } };
    expect(matches(pattern, eventWith({ state: 'running' }))).toBe(true);
    expect(matches(pattern, eventWith({ state: 'initializing' }))).toBe(false);
  });

  it('matches a source that is not an AWS one', () => {
    const pattern = { source: [{ 'anything-but': { prefix: 'aws.' } }] };
    expect(matches(pattern, { source: 'com.example.ctr-sync' })).toBe(true);
    expect(matches(pattern, { source: 'aws.ec2' })).toBe(false);
  });

  it('matches anything that does not end with a suffix', () => {
    const pattern = { FileName: [{ 'anything-but': { suffix: '.png' } }] };
    expect(matches(pattern, { FileName: 'notes.txt' })).toBe(true);
    expect(matches(pattern, { FileName: 'image.png' })).toBe(false);
  });

  it('matches anything except a string in any casing', () => {
    const pattern = { state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }] };
    expect(matches(pattern, { state: 'running' })).toBe(true);
    expect(matches(pattern, { state: 'INITIALIZING' })).toBe(false);
    expect(matches(pattern, { state: 'initializing' })).toBe(false);
  });

  it('matches anything except a list of strings in any casing', () => {
    const pattern = {
      state: [{ 'anything-but': { 'equals-ignore-case': ['initializing', 'stopped'] } }],
    };
    expect(matches(pattern, { state: 'running' })).toBe(true);
    expect(matches(pattern, { state: 'Stopped' })).toBe(false);
  });

  it('matches anything that does not fit a wildcard', () => {
    const pattern = { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] };
    expect(matches(pattern, { FilePath: '/usr/bin/env' })).toBe(true);
    expect(matches(pattern, { FilePath: '/usr/lib/libc.so' })).toBe(false);
  });

  it('matches anything that fits none of a list of wildcards', () => {
    const pattern = { FilePath: [{ 'anything-but': { wildcard: ['*/lib/*', '*/bin/*'] } }] };
    expect(matches(pattern, { FilePath: '/etc/hosts' })).toBe(true);
    expect(matches(pattern, { FilePath: '/usr/bin/env' })).toBe(false);
  });

  it('matches present values of other types, which a string cannot exclude', () => {
    const pattern = { state: [{ 'anything-but': 'initializing' }] };
    expect(matches(pattern, { state: 5 })).toBe(true);
    expect(matches(pattern, { state: null })).toBe(true);
  });

  it('does not match when the field is absent', () => {
    expect(
      matches({ detail: { state: [{ 'anything-but': 'initializing' }] } }, eventWith({})),
    ).toBe(false);
  });

  it('matches an event array when at least one element is not excluded', () => {
    const pattern = { tags: [{ 'anything-but': 'internal' }] };
    expect(matches(pattern, { tags: ['internal', 'public'] })).toBe(true);
    expect(matches(pattern, { tags: ['internal', 'internal'] })).toBe(false);
  });
});

describe('matchesEventPattern: numeric', () => {
  const pattern = {
    detail: {
      'c-count': [{ numeric: ['>', 0, '<=', 5] }],
      'd-count': [{ numeric: ['<', 10] }],
      'x-limit': [{ numeric: ['=', 3.018e2] }],
    },
  };

  it('matches when every numeric condition holds', () => {
    expect(matches(pattern, eventWith({ 'c-count': 5, 'd-count': 3, 'x-limit': 301.8 }))).toBe(
      true,
    );
  });

  it('does not match when one numeric condition fails', () => {
    expect(matches(pattern, eventWith({ 'c-count': 0, 'd-count': 3, 'x-limit': 301.8 }))).toBe(
      false,
    );
    expect(matches(pattern, eventWith({ 'c-count': 6, 'd-count': 3, 'x-limit': 301.8 }))).toBe(
      false,
    );
    expect(matches(pattern, eventWith({ 'c-count': 5, 'd-count': 10, 'x-limit': 301.8 }))).toBe(
      false,
    );
    expect(matches(pattern, eventWith({ 'c-count': 5, 'd-count': 3, 'x-limit': 301 }))).toBe(false);
  });

  it.each([
    { condition: ['=', 100], value: 100, expected: true },
    { condition: ['=', 100], value: 100.5, expected: false },
    { condition: ['<', 10], value: 9.99, expected: true },
    { condition: ['<', 10], value: 10, expected: false },
    { condition: ['<=', 10], value: 10, expected: true },
    { condition: ['<=', 10], value: 10.01, expected: false },
    { condition: ['>', 10], value: 10.01, expected: true },
    { condition: ['>', 10], value: 10, expected: false },
    { condition: ['>=', 10], value: 10, expected: true },
    { condition: ['>=', 10], value: 9.99, expected: false },
    { condition: ['>', 10, '<=', 20], value: 20, expected: true },
    { condition: ['>', 10, '<=', 20], value: 10, expected: false },
    { condition: ['>=', 10, '<', 20], value: 10, expected: true },
    { condition: ['>=', 10, '<', 20], value: 20, expected: false },
    { condition: ['>', -5, '<', 5], value: -4.5, expected: true },
  ])('evaluates $condition against $value as $expected', ({ condition, value, expected }) => {
    expect(matches({ Price: [{ numeric: condition }] }, { Price: value })).toBe(expected);
  });

  it('matches numeric conditions only on JSON numbers', () => {
    expect(matches({ Price: [{ numeric: ['=', 100] }] }, { Price: '100' })).toBe(false);
    expect(matches({ Price: [{ numeric: ['>', 0] }] }, { Price: true })).toBe(false);
    expect(matches({ Price: [{ numeric: ['>', 0] }] }, { Price: null })).toBe(false);
  });
});

describe('matchesEventPattern: exists', () => {
  const stateEvent = {
    version: '0',
    id: '7bf73129-1428-4cd3-a780-95db273d1602',
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    account: '123456789012',
    time: '2015-11-11T21:29:54Z',
    region: 'us-east-1',
    resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111'],
    detail: { 'instance-id': 'i-abcd1111', state: 'pending' },
  };
  const noStateEvent = {
    'detail-type': 'EC2 Instance State-change Notification',
    resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341'],
    detail: { 'c-count': { c1: 100 } },
  };

  it('matches a field that is present with exists true', () => {
    expect(matches({ detail: { state: [{ exists: true }] } }, stateEvent)).toBe(true);
  });

  it('does not match a missing field with exists true', () => {
    expect(matches({ detail: { state: [{ exists: true }] } }, noStateEvent)).toBe(false);
  });

  it('matches a missing field with exists false', () => {
    expect(matches({ detail: { 'c-count': [{ exists: false }] } }, stateEvent)).toBe(true);
  });

  it('does not match a present field with exists false', () => {
    expect(matches({ detail: { state: [{ exists: false }] } }, stateEvent)).toBe(false);
  });

  it('treats a field holding an object as absent, since exists only looks at leaf nodes', () => {
    expect(matches({ detail: { 'c-count': [{ exists: false }] } }, noStateEvent)).toBe(true);
    expect(matches({ detail: { 'c-count': [{ exists: true }] } }, noStateEvent)).toBe(false);
  });

  it('matches exists false when the parent object is missing too', () => {
    expect(matches({ detail: { 'c-count': [{ exists: false }] } }, { source: 'aws.ec2' })).toBe(
      true,
    );
  });

  it('treats a null value as present', () => {
    expect(matches({ detail: { state: [{ exists: true }] } }, eventWith({ state: null }))).toBe(
      true,
    );
    expect(matches({ detail: { state: [{ exists: false }] } }, eventWith({ state: null }))).toBe(
      false,
    );
  });

  it('treats an empty array as absent', () => {
    expect(matches({ resources: [{ exists: false }] }, { resources: [] })).toBe(true);
    expect(matches({ resources: [{ exists: true }] }, { resources: [] })).toBe(false);
  });

  it('selects events that have a description field', () => {
    const pattern = { detail: { description: [{ exists: true }] } };
    expect(matches(pattern, eventWith({ description: 'disk full' }))).toBe(true);
    expect(matches(pattern, eventWith({ summary: 'disk full' }))).toBe(false);
  });
});

describe('matchesEventPattern: wildcard', () => {
  it('matches any run of characters in place of an asterisk', () => {
    const pattern = { FileName: [{ wildcard: 'dir/*.png' }] };
    expect(matches(pattern, { FileName: 'dir/image.png' })).toBe(true);
    expect(matches(pattern, { FileName: 'dir/sub/image.png' })).toBe(true);
    expect(matches(pattern, { FileName: 'dir/.png' })).toBe(true);
    expect(matches(pattern, { FileName: 'dir/image.jpg' })).toBe(false);
    expect(matches(pattern, { FileName: 'other/dir/image.png' })).toBe(false);
  });

  it('matches several asterisks in one value', () => {
    const pattern = { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] };
    expect(
      matches(pattern, { EventBusArn: 'arn:aws:events:us-east-1:123456789012:event-bus/default' }),
    ).toBe(true);
    expect(
      matches(pattern, { EventBusArn: 'arn:aws:events:us-west-2:123456789012:event-bus/default' }),
    ).toBe(false);
  });

  it('matches a value with no asterisk exactly', () => {
    expect(matches({ source: [{ wildcard: 'aws.ec2' }] }, { source: 'aws.ec2' })).toBe(true);
    expect(matches({ source: [{ wildcard: 'aws.ec2' }] }, { source: 'aws.ec2x' })).toBe(false);
  });

  it('matches a literal asterisk escaped with a backslash', () => {
    const pattern = { name: [{ wildcard: 'a\\*b' }] };
    expect(matches(pattern, { name: 'a*b' })).toBe(true);
    expect(matches(pattern, { name: 'axb' })).toBe(false);
  });

  it('matches a literal backslash escaped with a backslash', () => {
    const pattern = { path: [{ wildcard: 'C:\\\\*' }] };
    expect(matches(pattern, { path: 'C:\\Windows' })).toBe(true);
    expect(matches(pattern, { path: 'C:/Windows' })).toBe(false);
  });

  it('does not let overlapping literals around an asterisk share characters', () => {
    expect(matches({ name: [{ wildcard: 'ab*ba' }] }, { name: 'aba' })).toBe(false);
    expect(matches({ name: [{ wildcard: 'ab*ba' }] }, { name: 'abba' })).toBe(true);
  });

  it('does not let a middle literal overlap the final literal', () => {
    expect(matches({ name: [{ wildcard: 'a*bc*c' }] }, { name: 'abc' })).toBe(false);
    expect(matches({ name: [{ wildcard: 'a*bc*c' }] }, { name: 'abcc' })).toBe(true);
  });

  it('matches a wildcard only on strings', () => {
    expect(matches({ code: [{ wildcard: '1*' }] }, { code: 123 })).toBe(false);
  });
});

describe('matchesEventPattern: cidr', () => {
  const pattern = { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } };

  it('matches an IPv4 address inside the block', () => {
    expect(matches(pattern, eventWith({ sourceIPAddress: '10.0.0.0' }))).toBe(true);
    expect(matches(pattern, eventWith({ sourceIPAddress: '10.0.0.255' }))).toBe(true);
  });

  it('does not match an IPv4 address outside the block', () => {
    expect(matches(pattern, eventWith({ sourceIPAddress: '10.0.1.1' }))).toBe(false);
  });

  it('matches an IPv6 address inside an IPv6 block', () => {
    const v6 = { ip: [{ cidr: '2001:db8::/32' }] };
    expect(matches(v6, { ip: '2001:db8:1::1' })).toBe(true);
    expect(matches(v6, { ip: '2001:db9::1' })).toBe(false);
  });

  it('does not match across address families or on values that are not addresses', () => {
    expect(matches(pattern, eventWith({ sourceIPAddress: '::ffff:10.0.0.1' }))).toBe(false);
    expect(matches(pattern, eventWith({ sourceIPAddress: 'ten.zero.zero.one' }))).toBe(false);
    expect(matches(pattern, eventWith({ sourceIPAddress: 167772161 }))).toBe(false);
  });
});

describe('matchesEventPattern: $or', () => {
  const pattern = {
    source: ['aws.cloudwatch'],
    $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }],
  };

  it('matches when any alternative matches, AND-ed with the other fields', () => {
    expect(matches(pattern, { source: 'aws.cloudwatch', metricName: 'ReadLatency' })).toBe(true);
    expect(matches(pattern, { source: 'aws.cloudwatch', namespace: 'AWS/ES' })).toBe(true);
  });

  it('does not match when no alternative matches', () => {
    expect(matches(pattern, { source: 'aws.cloudwatch', metricName: 'DiskQueueDepth' })).toBe(
      false,
    );
  });

  it('does not match when an alternative matches but a sibling field does not', () => {
    expect(matches(pattern, { source: 'aws.ec2', metricName: 'ReadLatency' })).toBe(false);
  });

  it('matches $or inside a nested object', () => {
    const nested = {
      detail: {
        $or: [
          { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] },
          { 'd-count': [{ numeric: ['<', 10] }] },
          { 'x-limit': [{ numeric: ['=', 3.018e2] }] },
        ],
      },
    };
    expect(matches(nested, eventWith({ 'c-count': 50, 'd-count': 3 }))).toBe(true);
    expect(matches(nested, eventWith({ 'x-limit': 301.8 }))).toBe(true);
    expect(matches(nested, eventWith({ 'c-count': 50, 'd-count': 30, 'x-limit': 1 }))).toBe(false);
  });

  it('matches alternatives that AND several fields and nest another $or', () => {
    const nested = {
      source: ['aws.cloudwatch'],
      $or: [
        { metricName: ['CPUUtilization'] },
        {
          metricType: ['MetricType'],
          $or: [{ metricId: [1234] }, { spaceId: [1000] }],
        },
      ],
    };
    expect(
      matches(nested, { source: 'aws.cloudwatch', metricType: 'MetricType', spaceId: 1000 }),
    ).toBe(true);
    expect(
      matches(nested, { source: 'aws.cloudwatch', metricType: 'MetricType', spaceId: 1 }),
    ).toBe(false);
    expect(matches(nested, { source: 'aws.cloudwatch', spaceId: 1000 })).toBe(false);
  });
});

describe('matchesEventPattern: combined operators', () => {
  const pattern = {
    time: [{ prefix: '2017-10-02' }],
    detail: {
      state: [{ 'anything-but': 'initializing' }],
      'c-count': [{ numeric: ['>', 0, '<=', 5] }],
      'd-count': [{ numeric: ['<', 10] }],
      'x-limit': [{ 'anything-but': [100, 200, 300] }],
      'source-ip': [{ cidr: '10.0.0.0/8' }],
    },
  };
  const event = {
    version: '0',
    id: 'ddddd4-aaaa-7777-4444-345dd43cc333',
    'detail-type': 'EC2 Instance State-change Notification',
    source: 'aws.ec2',
    account: '012345679012',
    time: '2017-10-02T16:24:49Z',
    region: 'us-east-1',
    resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
    detail: {
      'c-count': 5,
      'd-count': 3,
      'x-limit': 301.8,
      'source-ip': '10.0.0.33',
      'instance-id': 'i-000000aaaaaa00000',
      state: 'running',
    },
  };

  it('matches when every operator holds', () => {
    expect(matches(pattern, event)).toBe(true);
  });

  it('does not match when a single operator fails', () => {
    expect(matches(pattern, { ...event, detail: { ...event.detail, state: 'initializing' } })).toBe(
      false,
    );
    expect(matches(pattern, { ...event, detail: { ...event.detail, 'x-limit': 200 } })).toBe(false);
    expect(matches(pattern, { ...event, time: '2017-10-03T16:24:49Z' })).toBe(false);
  });

  it('matches a field when any of literals and operators in its list matches', () => {
    const mixed = { detail: { state: ['stopped', { prefix: 'run' }] } };
    expect(matches(mixed, event)).toBe(true);
    expect(matches(mixed, { ...event, detail: { state: 'pending' } })).toBe(false);
  });
});

describe('matchesEventPattern: untrusted keys', () => {
  it('does not read inherited properties of the event', () => {
    expect(matches({ constructor: [{ exists: true }] }, {})).toBe(false);
    expect(matches({ toString: [{ exists: false }] }, {})).toBe(true);
    expect(matches({ detail: { hasOwnProperty: [{ exists: true }] } }, eventWith({}))).toBe(false);
  });

  it('does not match values an event object inherits from its prototype', () => {
    const inherited = Object.create({ source: 'aws.ec2' }) as unknown;
    expect(matches({ source: ['aws.ec2'] }, inherited)).toBe(false);
    expect(matches({ source: ['aws.ec2'] }, { source: 'aws.ec2' })).toBe(true);
  });

  it('does not walk into Object.prototype through a __proto__ pattern key', () => {
    const pattern = JSON.parse('{"__proto__": {"__proto__": [null]}}') as unknown;
    expect(matches(pattern, {})).toBe(false);
  });

  it('matches a __proto__ field only when the event has it as its own property', () => {
    const pattern = JSON.parse('{"__proto__": ["x"]}') as unknown;
    expect(matches(pattern, JSON.parse('{"__proto__": "x"}'))).toBe(true);
    expect(matches(pattern, {})).toBe(false);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('treats a missing or non-object event as having no fields', () => {
    const pattern: EventPattern = { source: [{ exists: false }] };
    expect(matchesEventPattern(pattern, undefined)).toBe(true);
    expect(matchesEventPattern(pattern, 'aws.ec2')).toBe(true);
    expect(matchesEventPattern({ source: ['aws.ec2'] }, null)).toBe(false);
  });
});

describe('validateEventPattern', () => {
  it('returns the same pattern object when it is well-formed', () => {
    const pattern = {
      source: ['aws.ec2'],
      detail: { state: [{ 'anything-but': { prefix: 'init' } }], count: [{ numeric: ['>=', 1] }] },
    };
    expect(validateEventPattern(pattern)).toBe(pattern);
  });

  it('throws an InvalidEventPatternError with its name and path set', () => {
    const error = rejectionOf({ detail: { state: 'terminated' } });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('InvalidEventPatternError');
    expect(error.path).toBe('$.detail.state');
    expect(error.message).toContain('$.detail.state');
  });

  it.each([
    { label: 'null', pattern: null, path: '$' },
    { label: 'an array', pattern: [{ source: ['aws.ec2'] }], path: '$' },
    { label: 'a string', pattern: '{"source":["aws.ec2"]}', path: '$' },
    { label: 'an empty object', pattern: {}, path: '$' },
    { label: 'an empty nested object', pattern: { detail: {} }, path: '$.detail' },
    { label: 'a bare string value', pattern: { source: 'aws.ec2' }, path: '$.source' },
    {
      label: 'a bare number value',
      pattern: { detail: { 'c-count': 5 } },
      path: '$.detail["c-count"]',
    },
    { label: 'an empty value list', pattern: { source: [] }, path: '$.source' },
    { label: 'a nested array value', pattern: { source: [['aws.ec2']] }, path: '$.source[0]' },
    { label: 'a non-finite number', pattern: { n: [Number.NaN] }, path: '$.n[0]' },
    {
      label: 'an unknown operator',
      pattern: { type: [{ contains: 'Normal' }] },
      path: '$.type[0]',
    },
    {
      label: 'an operator object with two keys',
      pattern: { s: [{ prefix: 'a', suffix: 'b' }] },
      path: '$.s[0]',
    },
    { label: 'an empty operator object', pattern: { s: [{}] }, path: '$.s[0]' },
  ])('rejects $label', ({ pattern, path }) => {
    expect(rejectionOf(pattern).path).toBe(path);
  });

  it.each([
    { label: 'a numeric prefix', pattern: { s: [{ prefix: 5 }] }, path: '$.s[0].prefix' },
    {
      label: 'a prefix object other than equals-ignore-case',
      pattern: { s: [{ prefix: { wildcard: 'a*' } }] },
      path: '$.s[0].prefix',
    },
    {
      label: 'a non-string ignore-case suffix',
      pattern: { s: [{ suffix: { 'equals-ignore-case': 1 } }] },
      path: '$.s[0].suffix["equals-ignore-case"]',
    },
    {
      label: 'a non-string equals-ignore-case',
      pattern: { s: [{ 'equals-ignore-case': ['a'] }] },
      path: '$.s[0]["equals-ignore-case"]',
    },
    { label: 'a non-boolean exists', pattern: { s: [{ exists: 'yes' }] }, path: '$.s[0].exists' },
    {
      label: 'a cidr without a prefix length',
      pattern: { ip: [{ cidr: '10.0.0.0' }] },
      path: '$.ip[0].cidr',
    },
    {
      label: 'a cidr prefix length too long',
      pattern: { ip: [{ cidr: '10.0.0.0/33' }] },
      path: '$.ip[0].cidr',
    },
    {
      label: 'a cidr with a bad octet',
      pattern: { ip: [{ cidr: '300.0.0.0/8' }] },
      path: '$.ip[0].cidr',
    },
    { label: 'a non-string cidr', pattern: { ip: [{ cidr: 10 }] }, path: '$.ip[0].cidr' },
    {
      label: 'an IPv6 cidr with too few groups',
      pattern: { ip: [{ cidr: '2001:db8/32' }] },
      path: '$.ip[0].cidr',
    },
    {
      label: 'an IPv6 cidr with nine groups',
      pattern: { ip: [{ cidr: '1:2:3:4:5:6:7:8:9/64' }] },
      path: '$.ip[0].cidr',
    },
    {
      label: 'an IPv6 cidr with two "::"',
      pattern: { ip: [{ cidr: '1::2::3/64' }] },
      path: '$.ip[0].cidr',
    },
  ])('rejects $label', ({ pattern, path }) => {
    expect(rejectionOf(pattern).path).toBe(path);
  });

  it.each([
    { label: 'consecutive asterisks', wildcard: 'dir/**.png' },
    { label: 'a backslash escaping a letter', wildcard: 'dir\\n*' },
    { label: 'a trailing backslash', wildcard: 'dir/*\\' },
    { label: 'a non-string value', wildcard: 5 },
  ])('rejects a wildcard with $label', ({ wildcard }) => {
    expect(rejectionOf({ f: [{ wildcard }] }).path).toBe('$.f[0].wildcard');
  });

  it('accepts a wildcard whose escaped asterisk sits next to a wildcard asterisk', () => {
    const pattern = { f: [{ wildcard: 'a\\**' }] };
    expect(validateEventPattern(pattern)).toBe(pattern);
    expect(matches(pattern, { f: 'a*anything' })).toBe(true);
    expect(matches(pattern, { f: 'anything' })).toBe(false);
  });

  it.each([
    { label: 'a boolean', operand: true, path: '$.x[0]["anything-but"]' },
    { label: 'null', operand: null, path: '$.x[0]["anything-but"]' },
    { label: 'an empty list', operand: [], path: '$.x[0]["anything-but"]' },
    { label: 'a mixed list', operand: ['a', 1], path: '$.x[0]["anything-but"]' },
    { label: 'a list of operators', operand: [{ prefix: 'a' }], path: '$.x[0]["anything-but"]' },
    {
      label: 'an unsupported nested operator',
      operand: { numeric: ['>', 1] },
      path: '$.x[0]["anything-but"]',
    },
    {
      label: 'two nested operators',
      operand: { prefix: 'a', suffix: 'b' },
      path: '$.x[0]["anything-but"]',
    },
    { label: 'an empty prefix', operand: { prefix: '' }, path: '$.x[0]["anything-but"].prefix' },
    { label: 'a numeric suffix', operand: { suffix: 1 }, path: '$.x[0]["anything-but"].suffix' },
    {
      label: 'an empty wildcard list',
      operand: { wildcard: [] },
      path: '$.x[0]["anything-but"].wildcard',
    },
    {
      label: 'a bad wildcard in a list',
      operand: { wildcard: ['*/lib/*', 'a**b'] },
      path: '$.x[0]["anything-but"].wildcard[1]',
    },
  ])('rejects anything-but with $label', ({ operand, path }) => {
    expect(rejectionOf({ x: [{ 'anything-but': operand }] }).path).toBe(path);
  });

  it.each([
    { label: 'not an array', operand: '>5', path: '$.n[0].numeric' },
    { label: 'an empty array', operand: [], path: '$.n[0].numeric' },
    { label: 'three terms', operand: ['>', 0, '<'], path: '$.n[0].numeric' },
    { label: 'an unknown operator', operand: ['!=', 5], path: '$.n[0].numeric[0]' },
    { label: 'a string bound', operand: ['>', '5'], path: '$.n[0].numeric[1]' },
    {
      label: 'a non-finite bound',
      operand: ['<', Number.POSITIVE_INFINITY],
      path: '$.n[0].numeric[1]',
    },
    { label: 'an upper bound first', operand: ['<', 5, '>', 0], path: '$.n[0].numeric[0]' },
    { label: 'two lower bounds', operand: ['>', 0, '>=', 5], path: '$.n[0].numeric[2]' },
    { label: 'an equality in a range', operand: ['=', 0, '<', 5], path: '$.n[0].numeric[0]' },
    { label: 'a reversed range', operand: ['>', 5, '<', 1], path: '$.n[0].numeric' },
    { label: 'an empty range', operand: ['>=', 5, '<=', 5], path: '$.n[0].numeric' },
  ])('rejects numeric with $label', ({ operand, path }) => {
    expect(rejectionOf({ n: [{ numeric: operand }] }).path).toBe(path);
  });

  it.each([
    { label: 'an object', pattern: { $or: { source: ['a'] } }, path: '$.$or' },
    { label: 'a single alternative', pattern: { $or: [{ source: ['a'] }] }, path: '$.$or' },
    { label: 'a scalar alternative', pattern: { $or: [{ source: ['a'] }, 'b'] }, path: '$.$or[1]' },
    {
      label: 'an invalid alternative',
      pattern: { detail: { $or: [{ a: ['x'] }, { b: 'y' }] } },
      path: '$.detail.$or[1].b',
    },
  ])('rejects $or given $label', ({ pattern, path }) => {
    expect(rejectionOf(pattern).path).toBe(path);
  });
});
