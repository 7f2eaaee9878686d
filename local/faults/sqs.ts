/**
 * The fault proxy's SQS sends: SendMessage and SendMessageBatch requests (AWS
 * JSON 1.0, which SDK v3 uses for SQS) that the fault plan picks fail as SQS
 * documents (Amazon SQS API Reference, SendMessage, SendMessageBatch and
 * "Common errors"): SendMessage whole, with `500 InternalError`;
 * SendMessageBatch per entry, as the API's partial failure: the entry is not
 * sent and the `200` answer lists it in `Failed` with `SenderFault: false`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { contentKey, type FaultPlan } from './plan';
import {
  badGateway,
  parseJsonObject,
  readBody,
  type Upstream,
  type UpstreamAnswer,
  withoutHopByHop,
} from './upstream';

const SQS_JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
const SQS_INJECTED_MESSAGE = 'Injected failure (fault proxy)';
/** SendMessageBatch accepts at most this many entries (Amazon SQS API Reference, SendMessageBatch). */
const SQS_MAX_BATCH_ENTRIES = 10;

/** Handles one SQS send; answers it itself or forwards it. */
export type SqsSendHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * Handlers of SendMessage and SendMessageBatch.
 *
 * Only sends to `queueNames` are faulted (a queue matches when its `QueueUrl`
 * equals the name or ends with `/<name>`; every queue when `undefined`).
 * Decision keys given to the plan: `SendMessage ${contentKey(request body)}`
 * and, per batch entry, `SendMessageBatch ${contentKey(entry.MessageBody)}`.
 * A faulted SendMessage is answered here, without reaching upstream; a batch
 * with faulted entries is forwarded without them (not at all when every
 * entry is faulted), and the faulted entries are added to the answer's
 * `Failed` list. `injected.sqs` counts faulted requests and entries.
 */
export function createSqsSendHandlers(
  upstream: Upstream,
  plan: FaultPlan,
  injected: { sqs: number },
  queueNames: string[] | undefined,
): { sendMessage: SqsSendHandler; sendMessageBatch: SqsSendHandler } {
  const selectedQueue = (queueUrl: unknown): boolean =>
    queueNames === undefined ||
    (typeof queueUrl === 'string' &&
      queueNames.some((name) => queueUrl === name || queueUrl.endsWith(`/${name}`)));

  const sendMessage: SqsSendHandler = async (req, res) => {
    const body = await readBody(req);
    const request = parseJsonObject(body);
    if (
      request !== undefined &&
      selectedQueue(request.QueueUrl) &&
      plan.decide('sqs', `SendMessage ${contentKey(body)}`)
    ) {
      injected.sqs += 1;
      sendSqsInternalError(res);
      return;
    }
    upstream.forward(req, res, body);
  };

  const sendMessageBatch: SqsSendHandler = async (req, res) => {
    const body = await readBody(req);
    const request = parseJsonObject(body);
    const entries = request?.Entries;
    // A batch SQS would reject as a whole goes through unchanged, so upstream rejects it.
    if (request === undefined || !isFaultableBatch(entries) || !selectedQueue(request.QueueUrl)) {
      upstream.forward(req, res, body);
      return;
    }
    const failed: BatchEntry[] = [];
    const kept: BatchEntry[] = [];
    for (const entry of entries) {
      const faulted = plan.decide('sqs', `SendMessageBatch ${contentKey(entry.MessageBody)}`);
      (faulted ? failed : kept).push(entry);
    }
    if (failed.length === 0) {
      upstream.forward(req, res, body);
      return;
    }
    injected.sqs += failed.length;
    const failedResults = failed.map((entry) => ({
      Id: entry.Id,
      SenderFault: false,
      Code: 'InternalError',
      Message: SQS_INJECTED_MESSAGE,
    }));

    if (kept.length === 0) {
      sendJson(
        res,
        200,
        { 'x-amzn-requestid': randomUUID() },
        { Successful: [], Failed: failedResults },
      );
      return;
    }
    let answer: UpstreamAnswer;
    try {
      answer = await upstream.exchange(
        req,
        Buffer.from(JSON.stringify({ ...request, Entries: kept })),
      );
    } catch (error) {
      badGateway(res, error);
      return;
    }
    const result = answer.status === 200 ? parseJsonObject(answer.body) : undefined;
    if (result === undefined) {
      // An error for the whole batch stands for every entry, as it would have without the proxy.
      res.writeHead(answer.status, withoutHopByHop(answer.headers, answer.body.length));
      res.end(answer.body);
      return;
    }
    const merged = {
      ...result,
      Successful: Array.isArray(result.Successful) ? result.Successful : [],
      Failed: [...(Array.isArray(result.Failed) ? result.Failed : []), ...failedResults],
    };
    const { 'content-length': _length, ...headers } = withoutHopByHop(answer.headers);
    sendJson(res, 200, headers, merged);
  };

  return { sendMessage, sendMessageBatch };
}

interface BatchEntry {
  Id: string;
  MessageBody: string;
  [member: string]: unknown;
}

/** 1 to 10 entries, each with a string Id and MessageBody, Ids distinct: a batch SQS would accept. */
function isFaultableBatch(entries: unknown): entries is BatchEntry[] {
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > SQS_MAX_BATCH_ENTRIES) {
    return false;
  }
  const ids = new Set<string>();
  for (const entry of entries as unknown[]) {
    if (typeof entry !== 'object' || entry === null) return false;
    const { Id: id, MessageBody: body } = entry as Record<string, unknown>;
    if (typeof id !== 'string' || typeof body !== 'string' || ids.has(id)) return false;
    ids.add(id);
  }
  return true;
}

/**
 * SQS `InternalError` in the AWS JSON 1.0 protocol with the query-compatible
 * error header, which SDK v3 reads for SQS: the client throws an
 * `SQSServiceException` named `InternalError` with `$fault: 'server'` and
 * `$metadata.httpStatusCode` 500, which its standard retry strategy retries.
 */
function sendSqsInternalError(res: ServerResponse): void {
  sendJson(
    res,
    500,
    { 'x-amzn-requestid': randomUUID(), 'x-amzn-query-error': 'InternalError;Receiver' },
    { __type: 'com.amazonaws.sqs#InternalError', message: SQS_INJECTED_MESSAGE },
  );
}

function sendJson(
  res: ServerResponse,
  status: number,
  headers: OutgoingHttpHeaders,
  value: unknown,
): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, {
    ...headers,
    'content-type': SQS_JSON_CONTENT_TYPE,
    'content-length': String(body.length),
  });
  res.end(body);
}
