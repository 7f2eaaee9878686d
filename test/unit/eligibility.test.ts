import { describe, expect, it } from 'vitest';
import { parseContactRecord } from '../../domain/contact-record';
import {
  evaluateSyncEligibility,
  isSyncedInitiationMethod,
  SYNCED_INITIATION_METHODS,
} from '../../domain/eligibility';
import {
  buildContactRecord,
  type ContactRecordFixtureName,
  loadContactRecord,
  loadContactRecordFixture,
} from '../fixtures/factories';

const RECORDINGS = loadContactRecordFixture('inbound-answered').Recordings;

describe('evaluateSyncEligibility', () => {
  it.each<ContactRecordFixtureName>([
    'inbound-answered',
    'outbound-answered',
    'callback',
    'api',
    'webrtc-api',
    'transfer-with-previous-contact',
    'abandoned-in-queue',
    'ivr-only',
    'sfdc-attributes',
    'telecom-problem',
  ])('syncs the %s voice contact', (name) => {
    const ctr = loadContactRecord(name);

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: true });
  });

  it('syncs every version of the republished sample', () => {
    const versions = loadContactRecordFixture('republished-inbound-transfer');

    const results = versions.map((raw) => evaluateSyncEligibility(parseContactRecord(raw)));

    expect(results).toEqual(Array(6).fill({ eligible: true }));
  });

  it.each(SYNCED_INITIATION_METHODS)('syncs a voice contact initiated by %s', (method) => {
    const ctr = buildContactRecord({ InitiationMethod: method });

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: true });
  });

  it.each([
    ['absent', undefined],
    ['null', null],
  ])('syncs a contact whose Channel is %s', (_case, channel) => {
    const ctr = buildContactRecord({ Channel: channel });

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: true });
  });

  it.each<[ContactRecordFixtureName, string]>([
    ['chat', 'CHAT'],
    ['task', 'TASK'],
  ])('skips the %s contact because its channel is %s', (name) => {
    const ctr = loadContactRecord(name);

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: false, reason: 'channel-not-voice' });
  });

  it.each(['EMAIL', 'voice', ''])('skips a contact on channel "%s"', (channel) => {
    const ctr = buildContactRecord({ Channel: channel });

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: false, reason: 'channel-not-voice' });
  });

  it.each([
    'QUEUE_TRANSFER',
    'DISCONNECT',
    'MONITOR',
    'EXTERNAL_OUTBOUND',
    'AGENT_REPLY',
    'FLOW',
    'inbound',
  ])('skips a voice contact initiated by %s', (method) => {
    const ctr = buildContactRecord({ InitiationMethod: method });

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: false, reason: 'initiation-method-not-synced' });
  });

  it.each([
    ['absent', undefined],
    ['null', null],
  ])('skips a voice contact whose InitiationMethod is %s', (_case, method) => {
    const ctr = buildContactRecord({ InitiationMethod: method });

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: false, reason: 'initiation-method-not-synced' });
  });

  it('skips the contact whose NoSync attribute is "true"', () => {
    const ctr = loadContactRecord('no-sync');

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: false, reason: 'no-sync-attribute' });
  });

  it('reads NoSync case-insensitively', () => {
    const ctr = buildContactRecord({ Attributes: { NoSync: 'TRUE' } });

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: false, reason: 'no-sync-attribute' });
  });

  it.each(['false', '', '1', 'yes'])('syncs a contact whose NoSync is "%s"', (value) => {
    const ctr = buildContactRecord({ Attributes: { NoSync: value } });

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: true });
  });

  it('skips the voicemail contact', () => {
    const ctr = loadContactRecord('voicemail');

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: false, reason: 'voicemail' });
  });

  it.each([
    ['vm_flag', 'true'],
    ['vm_flag', 'True'],
    ['vm_flag', '1'],
    ['vmx_flag', 'true'],
    ['vmx3_flag', 'TRUE'],
    ['vmx3_flag', 'yes'],
  ])('skips a contact with recordings and %s "%s"', (flag, value) => {
    const ctr = buildContactRecord({ Attributes: { [flag]: value }, Recordings: RECORDINGS });

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: false, reason: 'voicemail' });
  });

  it.each(['', ' '])('syncs a contact whose vm_flag is empty ("%s")', (value) => {
    const ctr = buildContactRecord({ Attributes: { vm_flag: value }, Recordings: RECORDINGS });

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: true });
  });

  // SCV's voicemail audio processor sets vm_flag "0" once it processed the voicemail, and its
  // ctrDataSync skips any non-empty vm_flag (ServiceCloudVoiceLambdas, voiceMailAudioProcessing and
  // ctrDataSync handler.js).
  it.each([
    ['vm_flag', '0'],
    ['vm_flag', 'false'],
    ['vmx_flag', '0'],
    ['vmx3_flag', 'FALSE'],
  ])('skips a contact with recordings and %s "%s": a processed voicemail', (flag, value) => {
    const ctr = buildContactRecord({ Attributes: { [flag]: value }, Recordings: RECORDINGS });

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: false, reason: 'voicemail' });
  });

  it.each([
    ['null', null],
    ['absent', undefined],
    ['empty', []],
  ])('syncs a flagged contact whose Recordings is %s', (_case, recordings) => {
    const ctr = buildContactRecord({ Attributes: { vm_flag: 'true' }, Recordings: recordings });

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: true });
  });

  it('syncs a contact without Attributes', () => {
    const ctr = buildContactRecord({ Attributes: null });

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: true });
  });

  it('reports the channel before the other reasons', () => {
    const ctr = buildContactRecord({
      Channel: 'CHAT',
      InitiationMethod: 'QUEUE_TRANSFER',
      Attributes: { NoSync: 'true', vm_flag: 'true' },
    });

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: false, reason: 'channel-not-voice' });
  });

  it('reports the initiation method before NoSync and voicemail', () => {
    const ctr = buildContactRecord({
      InitiationMethod: 'DISCONNECT',
      Attributes: { NoSync: 'true', vm_flag: 'true' },
    });

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: false, reason: 'initiation-method-not-synced' });
  });

  it('reports NoSync before voicemail', () => {
    const ctr = buildContactRecord({ Attributes: { NoSync: 'true', vm_flag: 'true' } });

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: false, reason: 'no-sync-attribute' });
  });

  it('ignores flags inherited from a prototype', () => {
    const attributes: Record<string, string> = Object.create({ NoSync: 'true', vm_flag: 'true' });
    const ctr = { ...buildContactRecord(), Attributes: attributes };

    const eligibility = evaluateSyncEligibility(ctr);

    expect(eligibility).toEqual({ eligible: true });
  });
});

describe('SYNCED_INITIATION_METHODS', () => {
  it('lists the SCV methods plus WEBRTC_API', () => {
    const methods = [...SYNCED_INITIATION_METHODS];

    expect(methods).toEqual(['INBOUND', 'OUTBOUND', 'TRANSFER', 'CALLBACK', 'API', 'WEBRTC_API']);
  });
});

describe('isSyncedInitiationMethod', () => {
  it.each([
    ['CALLBACK', true],
    ['QUEUE_TRANSFER', false],
    [null, false],
    [undefined, false],
  ])('says %s is synced: %s', (method, expected) => {
    const synced = isSyncedInitiationMethod(method);

    expect(synced).toBe(expected);
  });
});
