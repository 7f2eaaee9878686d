import { describe, expect, it } from 'vitest';
import { parseContactRecord } from '../../domain/contact-record';
import { toVoiceCallUpdate } from '../../domain/voice-call';
import {
  buildContactRecord,
  loadContactRecord,
  loadContactRecordFixture,
} from '../fixtures/factories';

const AUDIO_ENTRY = {
  DeletionReason: null,
  Location: 'bucket/connect/example/CallRecordings/audio.wav',
  MediaStreamType: 'AUDIO',
  Status: 'AVAILABLE',
  StorageType: 'S3',
};

function hasNullish(value: object): boolean {
  return Object.values(value).some((field) => field === null || field === undefined);
}

describe('toVoiceCallUpdate', () => {
  it('maps the real inbound answered contact to every VoiceCall field', () => {
    const ctr = loadContactRecord('inbound-answered');

    const update = toVoiceCallUpdate(ctr);

    expect(update).toEqual({
      contactId: '15a5cf14-3212-45a1-9f86-a8e97db8afaf',
      fieldValues: {
        startTime: '2022-04-08T14:59:38Z',
        endTime: '2022-04-08T15:01:22Z',
        acceptTime: '2022-04-08T15:00:49Z',
        totalHoldDuration: 0,
        longestHoldDuration: 0,
        agentInteractionDuration: 33,
        numberOfHolds: 0,
        enqueueTime: '2022-04-08T15:00:42Z',
        queue: 'BasicQueue',
        initiationMethod: 'INBOUND',
        fromNumber: '+17208401003',
        toNumber: '+14065003978',
        callSubType: 'PSTN',
        recordingLocation:
          'amazon-connect-fcc603e85e16/connect/kightsCC/CallRecordings/2022/04/08/15a5cf14-3212-45a1-9f86-a8e97db8afaf_20220408T15:00_UTC.wav',
        callAttributes: '{}',
        disconnectReason: { value: 'CUSTOMER_DISCONNECT', isError: false },
      },
    });
  });

  it('maps the holds of the republished transfer sample', () => {
    const ctr = parseContactRecord(loadContactRecordFixture('republished-inbound-transfer')[0]);

    const { fieldValues } = toVoiceCallUpdate(ctr);

    expect(fieldValues).toMatchObject({
      totalHoldDuration: 221,
      longestHoldDuration: 204,
      numberOfHolds: 2,
      agentInteractionDuration: 239,
      acceptTime: '2022-01-05T17:20:32Z',
      queue: 'TCC Refrig AC LLA',
    });
  });

  describe('phone numbers and call type', () => {
    it('sends an OUTBOUND call from the system number to the customer', () => {
      const ctr = loadContactRecord('outbound-answered');

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues).toMatchObject({
        initiationMethod: 'OUTBOUND',
        fromNumber: '+15550100100',
        toNumber: '+15550142001',
        callSubType: 'PSTN',
      });
    });

    it('sends a CALLBACK to the customer and leaves fromNumber out without a SystemEndpoint', () => {
      const ctr = loadContactRecord('callback');

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues.initiationMethod).toBe('CALLBACK');
      expect(fieldValues.toNumber).toBe('+15550142002');
      expect(fieldValues).not.toHaveProperty('fromNumber');
    });

    it('sends a CALLBACK from the system number when the record has one', () => {
      const ctr = buildContactRecord({
        InitiationMethod: 'CALLBACK',
        SystemEndpoint: { Address: '+15550100199', Type: 'TELEPHONE_NUMBER' },
        CustomerEndpoint: { Address: '+15550142099', Type: 'TELEPHONE_NUMBER' },
      });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues.fromNumber).toBe('+15550100199');
      expect(fieldValues.toNumber).toBe('+15550142099');
    });

    it('sends an API contact as INBOUND, from the customer to the system number', () => {
      const ctr = loadContactRecord('api');

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues).toMatchObject({
        initiationMethod: 'INBOUND',
        fromNumber: '+15550142003',
        toNumber: '+15550100100',
        callSubType: 'PSTN',
      });
    });

    it('sends a TRANSFER from the customer to the system number, with its parent call', () => {
      const ctr = loadContactRecord('transfer-with-previous-contact');

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues).toMatchObject({
        initiationMethod: 'TRANSFER',
        fromNumber: '+15550142005',
        toNumber: '+15550100100',
        parentCallIdentifier: 'b5c7d9e1-f3a5-4b7c-9d1e-3f5a7b9c1d15',
      });
    });

    it('takes a WEBRTC_API call numbers from the WebRTC_From and WebRTC_To attributes', () => {
      const ctr = loadContactRecord('webrtc-api');

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues).toMatchObject({
        initiationMethod: 'WEBRTC_API',
        fromNumber: '+15550142004',
        toNumber: '+15550100104',
        callSubType: 'WebRTC',
      });
    });

    it('falls back to the endpoints for a WEBRTC_API call without WebRTC attributes', () => {
      const ctr = buildContactRecord({
        InitiationMethod: 'WEBRTC_API',
        Attributes: { WebRTC_From: '' },
      });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues.fromNumber).toBe('+17208401003');
      expect(fieldValues.toNumber).toBe('+14065003978');
      expect(fieldValues.callSubType).toBe('WebRTC');
    });

    it('ignores WebRTC attributes on a call that is not WEBRTC_API', () => {
      const ctr = buildContactRecord({
        Attributes: { WebRTC_From: '+15550142098', WebRTC_To: '+15550100198' },
      });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues.fromNumber).toBe('+17208401003');
      expect(fieldValues.toNumber).toBe('+14065003978');
    });

    it('leaves initiationMethod out and keeps the inbound direction when InitiationMethod is absent', () => {
      const ctr = buildContactRecord({ InitiationMethod: undefined });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues).not.toHaveProperty('initiationMethod');
      expect(fieldValues.fromNumber).toBe('+17208401003');
      expect(fieldValues.callSubType).toBe('PSTN');
    });

    it('leaves both numbers out when the record has no endpoints', () => {
      const ctr = buildContactRecord({ SystemEndpoint: null, CustomerEndpoint: null });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues).not.toHaveProperty('fromNumber');
      expect(fieldValues).not.toHaveProperty('toNumber');
    });
  });

  describe('agent and holds', () => {
    it('sends zero holds for a contact abandoned in queue, which has no Agent', () => {
      const ctr = loadContactRecord('abandoned-in-queue');

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues.totalHoldDuration).toBe(0);
      expect(fieldValues.numberOfHolds).toBe(0);
      expect(fieldValues.enqueueTime).toBe('2024-03-14T12:30:25Z');
      expect(fieldValues.queue).toBe('BasicQueue');
      for (const key of ['acceptTime', 'longestHoldDuration', 'agentInteractionDuration']) {
        expect(fieldValues).not.toHaveProperty(key);
      }
    });

    it('sends zero holds and no queue for an IVR-only contact', () => {
      const ctr = loadContactRecord('ivr-only');

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues.totalHoldDuration).toBe(0);
      expect(fieldValues.numberOfHolds).toBe(0);
      expect(fieldValues).not.toHaveProperty('queue');
      expect(fieldValues).not.toHaveProperty('enqueueTime');
      expect(fieldValues).not.toHaveProperty('recordingLocation');
    });

    it('sends zero for null CustomerHoldDuration and NumberOfHolds of a present Agent', () => {
      const agent = loadContactRecordFixture('inbound-answered').Agent as object;
      const ctr = buildContactRecord({
        Agent: {
          ...agent,
          CustomerHoldDuration: null,
          NumberOfHolds: null,
          LongestHoldDuration: null,
          AgentInteractionDuration: null,
          ConnectedToAgentTimestamp: null,
        },
      });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues.totalHoldDuration).toBe(0);
      expect(fieldValues.numberOfHolds).toBe(0);
      expect(fieldValues).not.toHaveProperty('longestHoldDuration');
      expect(fieldValues).not.toHaveProperty('agentInteractionDuration');
      expect(fieldValues).not.toHaveProperty('acceptTime');
    });

    it('maps the agent fields of a transfer with two holds', () => {
      const ctr = loadContactRecord('transfer-with-previous-contact');

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues).toMatchObject({
        acceptTime: '2024-03-14T11:01:55Z',
        totalHoldDuration: 60,
        longestHoldDuration: 45,
        agentInteractionDuration: 335,
        numberOfHolds: 2,
        enqueueTime: '2024-03-14T11:00:41Z',
        queue: 'Billing',
      });
    });
  });

  describe('recording location', () => {
    it('prefers Recording.Location', () => {
      const ctr = buildContactRecord({
        Recording: { Location: 'bucket/legacy.wav', Status: 'AVAILABLE', Type: 'AUDIO' },
        Recordings: [AUDIO_ENTRY],
      });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues.recordingLocation).toBe('bucket/legacy.wav');
    });

    it('takes the first AUDIO entry of Recordings when Recording is null', () => {
      const ctr = buildContactRecord({
        Recording: null,
        Recordings: [
          { ...AUDIO_ENTRY, MediaStreamType: 'VIDEO', Location: 'bucket/screen.mp4' },
          { ...AUDIO_ENTRY, Location: null },
          AUDIO_ENTRY,
          { ...AUDIO_ENTRY, Location: 'bucket/second.wav' },
        ],
      });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues.recordingLocation).toBe(AUDIO_ENTRY.Location);
    });

    it('passes over an AUDIO entry stored in a Kinesis video stream: its Location is a stream ARN', () => {
      const ctr = buildContactRecord({
        Recording: null,
        Recordings: [
          {
            ...AUDIO_ENTRY,
            StorageType: 'KINESIS_VIDEO_STREAM',
            Location: 'arn:aws:kinesisvideo:us-east-1:111122223333:stream/connect-live/1',
          },
          { ...AUDIO_ENTRY, Location: 'bucket/stored.wav' },
        ],
      });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues.recordingLocation).toBe('bucket/stored.wav');
    });

    it('leaves recordingLocation out when the only AUDIO entry is not stored in S3', () => {
      const ctr = buildContactRecord({
        Recording: null,
        Recordings: [{ ...AUDIO_ENTRY, StorageType: 'KINESIS_VIDEO_STREAM', Location: 'arn:x' }],
      });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues).not.toHaveProperty('recordingLocation');
    });

    it('leaves recordingLocation out when only a chat transcript exists', () => {
      const ctr = loadContactRecord('chat');

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues).not.toHaveProperty('recordingLocation');
    });
  });

  describe('call attributes', () => {
    it('sends the sfdc- attributes without prefix, plus the transcription status', () => {
      const ctr = loadContactRecord('sfdc-attributes');

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(typeof fieldValues.callAttributes).toBe('string');
      expect(JSON.parse(fieldValues.callAttributes ?? '')).toEqual({
        Reason__c: 'Billing',
        Priority__c: 'High',
        sf_realtime_transcription_status: 'LIMIT_EXCEEDED',
      });
    });

    it('sends "{}" when no attribute is meant for the VoiceCall', () => {
      const ctr = buildContactRecord({ Attributes: { greetingPlayed: 'true', sfdcNoDash: 'x' } });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues.callAttributes).toBe('{}');
    });

    it.each([
      ['null', null],
      ['absent', undefined],
    ])('leaves callAttributes out when Attributes is %s', (_case, attributes) => {
      const ctr = buildContactRecord({ Attributes: attributes });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues).not.toHaveProperty('callAttributes');
    });

    it('sends the transcription status even when it is empty', () => {
      const ctr = buildContactRecord({ Attributes: { sf_realtime_transcription_status: '' } });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues.callAttributes).toBe('{"sf_realtime_transcription_status":""}');
    });

    it('lets the unprefixed transcription status win over an sfdc- one', () => {
      const ctr = buildContactRecord({
        Attributes: {
          sf_realtime_transcription_status: 'LIMIT_EXCEEDED',
          'sfdc-sf_realtime_transcription_status': 'OK',
        },
      });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(JSON.parse(fieldValues.callAttributes ?? '')).toEqual({
        sf_realtime_transcription_status: 'LIMIT_EXCEEDED',
      });
    });

    it('keeps an sfdc-__proto__ attribute as plain data without polluting any prototype', () => {
      const ctr = buildContactRecord({
        Attributes: { 'sfdc-__proto__': '{"polluted":true}', 'sfdc-constructor': 'x' },
      });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues.callAttributes).toBe(
        '{"__proto__":"{\\"polluted\\":true}","constructor":"x"}',
      );
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getPrototypeOf(fieldValues)).toBe(Object.prototype);
    });
  });

  describe('disconnect reason', () => {
    it.each(['TELECOM_PROBLEM', 'CONTACT_FLOW_DISCONNECT', 'OTHER'])(
      'marks %s as an error',
      (reason) => {
        const ctr = buildContactRecord({ DisconnectReason: reason });

        const { fieldValues } = toVoiceCallUpdate(ctr);

        expect(fieldValues.disconnectReason).toEqual({ value: reason, isError: true });
      },
    );

    it.each([
      'CUSTOMER_DISCONNECT',
      'AGENT_DISCONNECT',
      'THIRD_PARTY_DISCONNECT',
      'BARGED',
      'EXPIRED',
      'API',
    ])('does not mark %s as an error', (reason) => {
      const ctr = buildContactRecord({ DisconnectReason: reason });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues.disconnectReason).toEqual({ value: reason, isError: false });
    });

    it('maps the TELECOM_PROBLEM fixture', () => {
      const ctr = loadContactRecord('telecom-problem');

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues.disconnectReason).toEqual({ value: 'TELECOM_PROBLEM', isError: true });
    });

    it('leaves disconnectReason out when DisconnectReason is null', () => {
      const ctr = buildContactRecord({ DisconnectReason: null });

      const { fieldValues } = toVoiceCallUpdate(ctr);

      expect(fieldValues).not.toHaveProperty('disconnectReason');
    });
  });

  it('never sends null or undefined values', () => {
    const ctr = parseContactRecord({
      ContactId: 'c-1',
      LastUpdateTimestamp: '2024-03-12T14:11:02Z',
      InitiationMethod: 'INBOUND',
      InitiationTimestamp: null,
      DisconnectTimestamp: null,
      PreviousContactId: null,
      Agent: null,
      Queue: { EnqueueTimestamp: null, Name: null },
      SystemEndpoint: { Address: null },
      CustomerEndpoint: null,
      Recording: null,
      Recordings: null,
      Attributes: null,
      DisconnectReason: null,
    });

    const { fieldValues } = toVoiceCallUpdate(ctr);

    expect(hasNullish(fieldValues)).toBe(false);
    expect(fieldValues).toEqual({
      totalHoldDuration: 0,
      numberOfHolds: 0,
      initiationMethod: 'INBOUND',
      callSubType: 'PSTN',
    });
  });

  it('does not change the contact record it maps', () => {
    const ctr = loadContactRecord('sfdc-attributes');
    const before = structuredClone(ctr);

    toVoiceCallUpdate(ctr);

    expect(ctr).toEqual(before);
  });
});
