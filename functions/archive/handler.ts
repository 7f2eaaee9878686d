/**
 * archive: EventBridge rule target that keeps the newest version of every
 * contact record at `ctr/{ContactId}.json` in the archive bucket.
 *
 * Invoked asynchronously by EventBridge. A thrown error makes Lambda retry
 * the event (twice) and then send it to the function's on-failure
 * destination (the archive DLQ). An older or duplicate version is a success:
 * the archive already holds something at least as new. An event that carries
 * a `contactRecordRef` (a record too large for an event) was archived by the
 * ingest function before it was published; this function only checks that.
 */
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { formatPath } from '../../domain/contact-record';
import { PermanentError } from '../../domain/errors';
import { compareContactRecordVersions } from '../../domain/versions';
import { CtrReceivedDetailSchema } from '../../events/ctr-received';
import { booleanFlag, readConfig, requiredString } from '../shared/config';
import { createObservability, InvocationCounters } from '../shared/observability';
import { redactDeep } from '../shared/log-redaction';
import { createS3Archive } from '../shared/s3-archive';

const config = readConfig(
  z.object({ ARCHIVE_BUCKET_NAME: requiredString, S3_FORCE_PATH_STYLE: booleanFlag(false) }),
);
const { logger, metrics } = createObservability('archive');
const counters = new InvocationCounters();
const archive = createS3Archive({
  client: new S3Client({ forcePathStyle: config.S3_FORCE_PATH_STYLE }),
  bucket: config.ARCHIVE_BUCKET_NAME,
});

const CtrReceivedEventSchema = EventBridgeSchema.extend({ detail: CtrReceivedDetailSchema });

/**
 * Archive the contact record of one `CtrReceived` event.
 *
 * @throws PermanentError when the event is not a valid `CtrReceived` (it ends
 *   in the on-failure destination with its reason, after Lambda's retries).
 */
export async function handler(event: unknown): Promise<{ outcome: string }> {
  try {
    const parsed = CtrReceivedEventSchema.safeParse(event);
    if (!parsed.success) {
      counters.add('Failed');
      throw new PermanentError(
        `Not a valid CtrReceived event: ${parsed.error.issues.map((issue) => formatPath(issue.path)).join(', ')}`,
      );
    }
    const { contactId, lastUpdateTimestamp, contactRecordRef } = parsed.data.detail;
    if (contactRecordRef) {
      const archived = await archive.getVersion(contactId);
      const holdsIt =
        archived !== undefined &&
        compareContactRecordVersions(
          { LastUpdateTimestamp: archived },
          { LastUpdateTimestamp: lastUpdateTimestamp },
        ) >= 0;
      logger.info('Contact record archive', {
        contactId,
        lastUpdateTimestamp,
        outcome: 'referenced',
      });
      if (!holdsIt) {
        counters.add('Failed');
        throw new PermanentError(
          `CtrReceived for ContactId ${contactId} refers to an archived record the archive does not hold`,
        );
      }
      return { outcome: 'referenced' };
    }
    // Archive the record as it arrived (all its fields), not the parsed copy.
    const raw = (event as { detail: { contactRecord: unknown } }).detail.contactRecord;
    const outcome = await archive.putIfNewer({
      contactId,
      lastUpdateTimestamp,
      json: JSON.stringify(raw),
    });
    if (outcome === 'stored') counters.add('Archived');
    logger.info('Contact record archive', { contactId, lastUpdateTimestamp, outcome });
    return { outcome };
  } catch (error) {
    logger.error('Contact record not archived', { error });
    // Lambda logs what a handler throws and puts it in the on-failure record: redact it too.
    throw redactDeep(error);
  } finally {
    counters.flush(metrics);
  }
}
