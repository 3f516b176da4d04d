import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { RequestNotFoundError } from '../../backfill/errors.ts';
import { cancelRequest, deleteRequest, pauseRequest, resumeRequest } from '../../backfill/operations.ts';
import type { BackfillRequest } from '../../backfill/requests.ts';
import { decodeChunkCursor, decodeCursor, getBackfillView, listBackfills, listChunks, requestFieldsOf, type BackfillView } from '../../backfill/views.ts';
import { errorMessage } from '../../common/errors.ts';
import { ApiError } from '../errors.ts';
import type { ApiDeps } from '../app.ts';
import {
  ActorHeaderSchema,
  actorOf,
  BackfillCreatedSchema,
  BackfillPageSchema,
  BackfillSchema,
  ChunkPageSchema,
  CreateBackfillSchema,
  ErrorSchema,
  ListBackfillsQuerySchema,
  ListChunksQuerySchema,
  OperatorActionSchema,
  RequestIdParamSchema,
  ResumedBackfillSchema,
} from '../schemas.ts';
import { errorResponses, json } from './responses.ts';

const { malformed, unauthorized, notJson, tooLarge, postgresDown } = errorResponses;
const noSuchBackfill = json(ErrorSchema, 'No such backfill');

const createBackfill = createRoute({
  method: 'post',
  path: '/v1/backfills',
  tags: ['backfills'],
  summary: 'Backfill a package',
  description:
    'Resolves the package (any ID of its upgrade family), fixes the checkpoint range and queues the backfill. ' +
    'Posting a package that already has an active backfill with the same options returns that one (200).',
  security: [{ bearer: [] }],
  request: { headers: ActorHeaderSchema, body: { content: { 'application/json': { schema: CreateBackfillSchema } }, required: true } },
  responses: {
    202: json(BackfillCreatedSchema, 'A new backfill was queued'),
    200: json(BackfillCreatedSchema, 'An active backfill for the same package and options already exists; `packageId` is the ID it was posted with'),
    400: malformed,
    401: unauthorized,
    404: json(ErrorSchema, 'No object with this ID exists'),
    413: tooLarge,
    415: notJson,
    422: json(
      ErrorSchema,
      'The object is not a package; or the range goes beyond the chain tip or ends before it starts; or no configured full node nor the ' +
        'archival endpoint serves it (the message names the lowest available checkpoint)',
    ),
    502: json(ErrorSchema, 'The Sui RPC cannot send an answer this large (its response size limit), or refused this service\'s credentials (the message names the endpoint); retrying does not help'),
    503: errorResponses.unavailable(
      'Postgres or the Sui RPC is unavailable (with Redis down a request is still accepted: 202 with `enqueued: false`, and the reconciler enqueues it)',
    ),
  },
});

const getBackfill = createRoute({
  method: 'get',
  path: '/v1/backfills/{id}',
  tags: ['backfills'],
  summary: 'A backfill with its progress and recent chunks',
  request: { params: RequestIdParamSchema },
  responses: {
    200: json(BackfillSchema, 'The backfill'),
    400: malformed,
    404: noSuchBackfill,
    503: postgresDown,
  },
});

const listChunksRoute = createRoute({
  method: 'get',
  path: '/v1/backfills/{id}/chunks',
  tags: ['backfills'],
  summary: "A backfill's chunk log, newest first",
  description: 'Every committed chunk: range, objects matched, rows inserted, RPC calls, duration, worker. Cursor pagination: `nextCursor` of one page is the `cursor` of the next.',
  request: { params: RequestIdParamSchema, query: ListChunksQuerySchema },
  responses: {
    200: json(ChunkPageSchema, 'A page of chunks'),
    400: malformed,
    404: noSuchBackfill,
    503: postgresDown,
  },
});

const listBackfillsRoute = createRoute({
  method: 'get',
  path: '/v1/backfills',
  tags: ['backfills'],
  summary: 'Backfills, newest first',
  request: { query: ListBackfillsQuerySchema },
  responses: { 200: json(BackfillPageSchema, 'A page of backfills'), 400: malformed, 503: postgresDown },
});

const actionBody = { body: { content: { 'application/json': { schema: OperatorActionSchema } }, required: false } };
const actionErrors = {
  400: malformed,
  401: unauthorized,
  404: noSuchBackfill,
  409: json(ErrorSchema, "The backfill's current status does not allow this; the message says which statuses do"),
  // Redis is not needed: a stop message that cannot be sent leaves the walk to stop at its next commit, a resumed request is enqueued by the reconciler.
  503: postgresDown,
};
const bodyActionErrors = { ...actionErrors, 413: tooLarge, 415: notJson };

const pauseBackfill = createRoute({
  method: 'post',
  path: '/v1/backfills/{id}/pause',
  tags: ['backfills'],
  summary: 'Pause a queued or running backfill',
  description:
    'The worker walking it stops within one chunk: the chunk in flight is not committed once the pause is visible. ' +
    'Resume continues from the watermark.',
  security: [{ bearer: [] }],
  request: { params: RequestIdParamSchema, headers: ActorHeaderSchema, ...actionBody },
  responses: { 200: json(BackfillSchema, 'The paused backfill'), ...bodyActionErrors },
});

const cancelBackfill = createRoute({
  method: 'post',
  path: '/v1/backfills/{id}/cancel',
  tags: ['backfills'],
  summary: 'Cancel a queued, running or paused backfill',
  description:
    'Final: the worker walking it stops within one chunk and nothing commits once the cancel is visible; the rows ' +
    'written so far stay. Resuming a cancelled backfill starts a new one from its watermark.',
  security: [{ bearer: [] }],
  request: { params: RequestIdParamSchema, headers: ActorHeaderSchema, ...actionBody },
  responses: { 200: json(BackfillSchema, 'The cancelled backfill'), ...bodyActionErrors },
});

const resumeBackfill = createRoute({
  method: 'post',
  path: '/v1/backfills/{id}/resume',
  tags: ['backfills'],
  summary: 'Resume a paused, failed or cancelled backfill',
  description:
    'A paused or failed backfill is queued again and continues from its watermark (200). A cancelled one stays ' +
    'cancelled and is continued by a new backfill over [its watermark + 1, its end] with the same family, match ' +
    'and options, naming it in `resumedFromId` (202); an active backfill of the same package and options is returned ' +
    'instead (200). A cancelled backfill continued before resumes its newest continuation: an active or completed one ' +
    'is returned (200), a paused or failed one is queued again (200), a cancelled one is continued in turn (202).',
  security: [{ bearer: [] }],
  request: { params: RequestIdParamSchema, headers: ActorHeaderSchema, ...actionBody },
  responses: {
    200: json(ResumedBackfillSchema, 'The backfill, queued again (or the existing continuation)'),
    202: json(ResumedBackfillSchema, 'The new backfill continuing the cancelled one'),
    ...bodyActionErrors,
  },
});

const deleteBackfill = createRoute({
  method: 'delete',
  path: '/v1/backfills/{id}',
  tags: ['backfills'],
  summary: 'Delete a finished backfill',
  description: 'Completed, failed and cancelled backfills only; their watermark, chunk log and history go, the rows written stay in sui_objects.',
  security: [{ bearer: [] }],
  request: { params: RequestIdParamSchema, headers: ActorHeaderSchema },
  responses: { 204: { description: 'Deleted' }, ...actionErrors },
});

export function registerBackfillRoutes(app: OpenAPIHono, deps: ApiDeps): void {
  const { logger } = deps.common;
  const view = async (id: string): Promise<BackfillView> => {
    const found = await getBackfillView(deps.db, id);
    if (!found) throw new RequestNotFoundError(id);
    return found;
  };
  /** After a pause or cancel: the worker walking the request abandons its chunk in flight now, not at its next commit. */
  const stopWalk = async (request: BackfillRequest, status: 'paused' | 'cancelled') => {
    const published = await deps.queue.publishStop({ requestId: request.id, status, attempts: request.attempts }).catch((error: unknown) => {
      logger.warn({ requestId: request.id, err: errorMessage(error) }, 'stop message failed');
      return false;
    });
    if (!published) logger.warn({ requestId: request.id, status }, 'stop message not sent (Redis unavailable); the walk stops at its next chunk commit or heartbeat');
  };

  app.openapi(createBackfill, async (c) => {
    const body = c.req.valid('json');
    const { request, created, enqueued } = await deps.intake.submit({ ...body, actor: actorOf(c.req.valid('header')) });
    return c.json({ ...requestFieldsOf(request), enqueued }, created ? 202 : 200);
  });

  app.openapi(listBackfillsRoute, async (c) => {
    const query = c.req.valid('query');
    const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && cursor === undefined) throw new ApiError(400, 'invalid_request', 'cursor: not a cursor this API gave out');
    return c.json(await listBackfills(deps.db, { status: query.status, packageId: query.packageId, limit: query.limit, cursor }), 200);
  });

  app.openapi(getBackfill, async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await view(id), 200);
  });

  app.openapi(listChunksRoute, async (c) => {
    const { id } = c.req.valid('param');
    const query = c.req.valid('query');
    const cursor = query.cursor === undefined ? undefined : decodeChunkCursor(query.cursor);
    if (query.cursor !== undefined && cursor === undefined) throw new ApiError(400, 'invalid_request', 'cursor: not a cursor this API gave out');
    const page = await listChunks(deps.db, id, { limit: query.limit, cursor });
    if (!page) throw new RequestNotFoundError(id);
    return c.json(page, 200);
  });

  app.openapi(pauseBackfill, async (c) => {
    const { id } = c.req.valid('param');
    const paused = await pauseRequest(deps.db.db, id, { actor: actorOf(c.req.valid('header')), reason: c.req.valid('json').reason });
    await stopWalk(paused, 'paused');
    return c.json(await view(id), 200);
  });

  app.openapi(cancelBackfill, async (c) => {
    const { id } = c.req.valid('param');
    const cancelled = await cancelRequest(deps.db.db, id, { actor: actorOf(c.req.valid('header')), reason: c.req.valid('json').reason });
    await stopWalk(cancelled, 'cancelled');
    return c.json(await view(id), 200);
  });

  app.openapi(resumeBackfill, async (c) => {
    const { id } = c.req.valid('param');
    const { request, kind } = await resumeRequest(deps.db.db, id, { actor: actorOf(c.req.valid('header')), reason: c.req.valid('json').reason });
    // The answer is the backfill as the resume left it: read before its job exists, no worker has claimed it yet.
    const resumed = await view(request.id);
    let enqueued = false;
    if (request.status === 'queued') {
      // As at intake: with Redis down the request is safe in Postgres and the reconciler enqueues it.
      enqueued = await deps.queue.enqueue(request.id).then(
        () => true,
        (error) => {
          logger.warn({ requestId: request.id, err: errorMessage(error) }, 'resumed but not enqueued; the reconciler will enqueue it');
          return false;
        },
      );
    }
    return c.json({ ...resumed, enqueued }, kind === 'continued' ? 202 : 200);
  });

  app.openapi(deleteBackfill, async (c) => {
    const { id } = c.req.valid('param');
    const deleted = await deleteRequest(deps.db.db, id);
    logger.info({ requestId: id, status: deleted.status, packageId: deleted.packageId, actor: actorOf(c.req.valid('header')) }, 'backfill deleted');
    return c.body(null, 204);
  });
}
