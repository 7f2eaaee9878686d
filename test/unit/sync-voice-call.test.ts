import { describe, expect, it } from 'vitest';
import { TransientError } from '../../domain/errors';
import { syncVoiceCall } from '../../domain/sync-voice-call';
import { toVoiceCallUpdate } from '../../domain/voice-call';
import { loadContactRecord } from '../fixtures/factories';
import { FakeArchive, FakeTelephony } from '../fixtures/fakes';

/** The inbound-answered sample: LastUpdateTimestamp 2022-04-08T15:03:02Z. */
const CONTACT_ID = '15a5cf14-3212-45a1-9f86-a8e97db8afaf';

function archived(lastUpdateTimestamp: string) {
  return { contactId: CONTACT_ID, lastUpdateTimestamp, json: '{}' };
}

describe('syncVoiceCall', () => {
  it('archives a new version, sends the transformed fieldValues, and checks the archive again: three archive requests', async () => {
    const contactRecord = loadContactRecord('inbound-answered');
    const archive = new FakeArchive();
    const telephony = new FakeTelephony();

    const result = await syncVoiceCall({ contactRecord }, { archive, telephony });

    expect(result.outcome).toBe('synced');
    expect(telephony.updates).toEqual([toVoiceCallUpdate(loadContactRecord('inbound-answered'))]);
    expect(telephony.updates[0]?.contactId).toBe(CONTACT_ID);
    expect(archive.requests).toEqual({ reads: 2, writes: 1 });
    expect((await archive.getVersion(CONTACT_ID))?.lastUpdateTimestamp).toBe(
      '2022-04-08T15:03:02Z',
    );
    expect(JSON.parse((await archive.get(CONTACT_ID))?.json ?? '')).toEqual(contactRecord);
  });

  it('archives the JSON text as received when the request carries it', async () => {
    const contactRecord = loadContactRecord('inbound-answered');
    const contactRecordJson = JSON.stringify({ ...contactRecord, Extra: { kept: true } });
    const archive = new FakeArchive();

    await syncVoiceCall(
      { contactRecord, contactRecordJson },
      { archive, telephony: new FakeTelephony() },
    );

    expect((await archive.get(CONTACT_ID))?.json).toBe(contactRecordJson);
  });

  it('sends nothing for a duplicate (the archive holds this version), with one archive read', async () => {
    const contactRecord = loadContactRecord('inbound-answered');
    const archive = new FakeArchive([archived('2022-04-08T15:03:02Z')]);
    const telephony = new FakeTelephony();

    const result = await syncVoiceCall({ contactRecord }, { archive, telephony });

    expect(result).toEqual({ outcome: 'duplicate' });
    expect(telephony.updates).toHaveLength(0);
    expect(archive.requests).toEqual({ reads: 1, writes: 0 });
  });

  it('sends nothing for a duplicate whose twin archived the same version between the read and the write', async () => {
    const contactRecord = loadContactRecord('inbound-answered');
    const archive = new FakeArchive();
    const telephony = new FakeTelephony();
    const putIfNewer = archive.putIfNewer.bind(archive);
    archive.putIfNewer = async (record, known) => {
      await putIfNewer(record);
      return putIfNewer(record, known);
    };

    const result = await syncVoiceCall({ contactRecord }, { archive, telephony });

    expect(result).toEqual({ outcome: 'duplicate' });
    expect(telephony.updates).toHaveLength(0);
  });

  it.each([
    [
      'a redelivery (an earlier attempt may have archived it and failed to send)',
      { redelivered: true },
    ],
    ['a resync', { resync: true }],
  ])('sends the version the archive holds for %s', async (_, flags) => {
    const contactRecord = loadContactRecord('inbound-answered');
    const archive = new FakeArchive([archived('2022-04-08T15:03:02Z')]);
    const telephony = new FakeTelephony();

    const result = await syncVoiceCall({ contactRecord, ...flags }, { archive, telephony });

    expect(result.outcome).toBe('synced');
    expect(telephony.updates).toEqual([toVoiceCallUpdate(contactRecord)]);
  });

  it('sends the newest archived version too when it was archived during the sync', async () => {
    const contactRecord = loadContactRecord('inbound-answered');
    const archive = new FakeArchive();
    const newer = {
      ...contactRecord,
      LastUpdateTimestamp: '2022-04-08T16:00:00Z',
      Queue: { Name: 'Newer' },
    };
    const telephony = new FakeTelephony();
    telephony.duringUpdate = async () => {
      await archive.putIfNewer({
        contactId: CONTACT_ID,
        lastUpdateTimestamp: '2022-04-08T16:00:00Z',
        json: JSON.stringify(newer),
      });
    };

    const result = await syncVoiceCall({ contactRecord }, { archive, telephony });

    expect(telephony.updates.map((update) => update.fieldValues.queue)).toEqual([
      'BasicQueue',
      'Newer',
    ]);
    expect(result).toMatchObject({
      outcome: 'synced',
      lastUpdateTimestamp: '2022-04-08T16:00:00Z',
    });
  });

  it('reports superseded and sends nothing when the archive holds a newer version', async () => {
    const contactRecord = loadContactRecord('inbound-answered');
    const archive = new FakeArchive([archived('2022-04-08T15:03:02.001Z')]);
    const telephony = new FakeTelephony();

    const result = await syncVoiceCall({ contactRecord }, { archive, telephony });

    expect(result).toEqual({ outcome: 'superseded', archivedVersion: '2022-04-08T15:03:02.001Z' });
    expect(telephony.updates).toHaveLength(0);
  });

  it('takes the same version written differently for a duplicate', async () => {
    const contactRecord = loadContactRecord('inbound-answered');
    const archive = new FakeArchive([archived('2022-04-08T15:03:02.000Z')]);
    const telephony = new FakeTelephony();

    const result = await syncVoiceCall({ contactRecord }, { archive, telephony });

    expect(result.outcome).toBe('duplicate');
    expect(telephony.updates).toHaveLength(0);
  });

  it('replaces an older archived version with this one and sends it', async () => {
    const contactRecord = loadContactRecord('inbound-answered');
    const archive = new FakeArchive([archived('2022-04-08T15:00:00Z')]);
    const telephony = new FakeTelephony();

    const result = await syncVoiceCall({ contactRecord }, { archive, telephony });

    expect(result.outcome).toBe('synced');
    expect((await archive.getVersion(CONTACT_ID))?.lastUpdateTimestamp).toBe(
      '2022-04-08T15:03:02Z',
    );
    expect(telephony.updates).toHaveLength(1);
  });

  it('is superseded when a newer version is archived between its read and its write', async () => {
    const contactRecord = loadContactRecord('inbound-answered');
    const archive = new FakeArchive();
    const telephony = new FakeTelephony();
    const putIfNewer = archive.putIfNewer.bind(archive);
    archive.putIfNewer = async (record) => {
      await putIfNewer({ ...record, lastUpdateTimestamp: '2022-04-09T00:00:00Z' });
      return putIfNewer(record);
    };

    const result = await syncVoiceCall({ contactRecord }, { archive, telephony });

    expect(result).toEqual({ outcome: 'superseded', archivedVersion: '2022-04-09T00:00:00Z' });
    expect(telephony.updates).toHaveLength(0);
  });

  it('applies toNumber and fromNumber overrides to the fieldValues sent', async () => {
    const contactRecord = loadContactRecord('inbound-answered');
    const telephony = new FakeTelephony();

    await syncVoiceCall(
      { contactRecord, fieldOverrides: { toNumber: '+15550109999', fromNumber: '+15550108888' } },
      { archive: new FakeArchive(), telephony },
    );

    const fieldValues = telephony.updates[0]?.fieldValues;
    expect(fieldValues?.toNumber).toBe('+15550109999');
    expect(fieldValues?.fromNumber).toBe('+15550108888');
    expect(fieldValues?.queue).toBe('BasicQueue');
  });

  it('keeps the record phone number that has no override', async () => {
    const contactRecord = loadContactRecord('inbound-answered');
    const telephony = new FakeTelephony();

    await syncVoiceCall(
      { contactRecord, fieldOverrides: { toNumber: '+15550109999' } },
      { archive: new FakeArchive(), telephony },
    );

    expect(telephony.updates[0]?.fieldValues.toNumber).toBe('+15550109999');
    expect(telephony.updates[0]?.fieldValues.fromNumber).toBe('+17208401003');
  });

  it.each([
    ['chat', 'channel-not-voice'],
    ['voicemail', 'voicemail'],
    ['no-sync', 'no-sync-attribute'],
  ] as const)('skips a %s record without sending it', async (fixture, reason) => {
    const contactRecord = loadContactRecord(fixture);
    const telephony = new FakeTelephony();

    const result = await syncVoiceCall(
      { contactRecord },
      { archive: new FakeArchive(), telephony },
    );

    expect(result).toEqual({ outcome: 'skipped', reason });
    expect(telephony.updates).toHaveLength(0);
  });

  it('lets a failed invoke propagate so the message is retried', async () => {
    const contactRecord = loadContactRecord('inbound-answered');
    const telephony = new FakeTelephony();
    telephony.failWith = new TransientError('throttled');

    const sync = syncVoiceCall({ contactRecord }, { archive: new FakeArchive(), telephony });

    await expect(sync).rejects.toBeInstanceOf(TransientError);
  });

  it('sends the newest archived version again when a superseded version is a redelivery', async () => {
    const contactRecord = loadContactRecord('inbound-answered');
    const newer = {
      ...contactRecord,
      LastUpdateTimestamp: '2022-04-09T00:00:00Z',
      Queue: { Name: 'Newer' },
    };
    const archive = new FakeArchive([
      {
        contactId: CONTACT_ID,
        lastUpdateTimestamp: newer.LastUpdateTimestamp,
        json: JSON.stringify(newer),
      },
    ]);
    const firstDelivery = new FakeTelephony();
    const redelivery = new FakeTelephony();

    const first = await syncVoiceCall({ contactRecord }, { archive, telephony: firstDelivery });
    const again = await syncVoiceCall(
      { contactRecord, redelivered: true },
      { archive, telephony: redelivery },
    );

    expect(first.outcome).toBe('superseded');
    expect(firstDelivery.updates).toHaveLength(0);
    expect(again).toMatchObject({ outcome: 'synced', lastUpdateTimestamp: '2022-04-09T00:00:00Z' });
    expect(redelivery.updates.map((update) => update.fieldValues.queue)).toEqual(['Newer']);
  });

  it('fails with a PermanentError naming the ContactId, not the content, when the archived record is not JSON', async () => {
    const archive = new FakeArchive([
      {
        contactId: CONTACT_ID,
        lastUpdateTimestamp: '2022-04-08T15:03:02Z',
        json: '{"Phone": "+15550100',
      },
    ]);

    const sync = syncVoiceCall(
      { contactId: CONTACT_ID, lastUpdateTimestamp: '2022-04-08T15:03:02Z' },
      { archive, telephony: new FakeTelephony() },
    );

    await expect(sync).rejects.toThrow(
      `Archived contact record of ContactId ${CONTACT_ID} is not JSON`,
    );
  });

  describe('a request by reference (a record too large for an event)', () => {
    const VERSION = '2022-04-08T15:03:02Z';
    const byReference = { contactId: CONTACT_ID, lastUpdateTimestamp: VERSION };

    it('reads the record from the archive and sends it when the archive holds this version', async () => {
      const contactRecord = loadContactRecord('inbound-answered');
      const archive = new FakeArchive([
        {
          contactId: CONTACT_ID,
          lastUpdateTimestamp: VERSION,
          json: JSON.stringify(contactRecord),
        },
      ]);
      const telephony = new FakeTelephony();

      const result = await syncVoiceCall(byReference, { archive, telephony });

      expect(result.outcome).toBe('synced');
      expect(telephony.updates).toEqual([toVoiceCallUpdate(contactRecord)]);
    });

    it('is superseded, sending nothing, when the archive holds a newer version', async () => {
      const newer = {
        ...loadContactRecord('inbound-answered'),
        LastUpdateTimestamp: '2022-04-09T00:00:00Z',
      };
      const archive = new FakeArchive([
        {
          contactId: CONTACT_ID,
          lastUpdateTimestamp: newer.LastUpdateTimestamp,
          json: JSON.stringify(newer),
        },
      ]);
      const telephony = new FakeTelephony();

      const result = await syncVoiceCall(byReference, { archive, telephony });

      expect(result).toEqual({ outcome: 'superseded', archivedVersion: '2022-04-09T00:00:00Z' });
      expect(telephony.updates).toHaveLength(0);
    });

    it('fails with a TransientError while the archive does not hold it', async () => {
      const telephony = new FakeTelephony();

      const sync = syncVoiceCall(byReference, { archive: new FakeArchive(), telephony });

      await expect(sync).rejects.toBeInstanceOf(TransientError);
      expect(telephony.updates).toHaveLength(0);
    });

    it('skips an archived record that is not eligible, with its reason', async () => {
      const voicemail = loadContactRecord('voicemail');
      const archive = new FakeArchive([
        {
          contactId: voicemail.ContactId,
          lastUpdateTimestamp: voicemail.LastUpdateTimestamp,
          json: JSON.stringify(voicemail),
        },
      ]);
      const telephony = new FakeTelephony();

      const result = await syncVoiceCall(
        { contactId: voicemail.ContactId, lastUpdateTimestamp: voicemail.LastUpdateTimestamp },
        { archive, telephony },
      );

      expect(result).toEqual({ outcome: 'skipped', reason: 'voicemail' });
      expect(telephony.updates).toHaveLength(0);
    });
  });
});
