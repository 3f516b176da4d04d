import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { RequestNotFoundError } from '../../backfill/errors.ts';
import { decodeCursor, getBackfillView, listBackfills } from '../../backfill/views.ts';
import { ApiError } from '../errors.ts';
import type { ApiDeps } from '../app.ts';
import {
  BackfillCreatedSchema,
  BackfillPageSchema,
  BackfillSchema,
  CreateBackfillSchema,
  ErrorSchema,
  ListBackfillsQuerySchema,
  RequestIdParamSchema,
} from '../schemas.ts';

const json = <T>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });
const errors = {
  400: json(ErrorSchema, 'Malformed input: the message names the field and why'),
  401: json(ErrorSchema, 'Missing or wrong bearer token'),
  503: json(ErrorSchema, 'Postgres, Redis or the Sui RPC is unavailable; retry after the Retry-After seconds'),
};

const createBackfill = createRoute({
  method: 'post',
  path: '/v1/backfills',
  tags: ['backfills'],
  summary: 'Backfill a package',
  description:
    'Resolves the package (any ID of its upgrade family), fixes the checkpoint range and queues the backfill. ' +
    'Posting a package that already has an active backfill with the same options returns that one (200).',
  security: [{ bearer: [] }],
  request: { body: { content: { 'application/json': { schema: CreateBackfillSchema } }, required: true } },
  responses: {
    202: json(BackfillCreatedSchema, 'A new backfill was queued'),
    200: json(BackfillCreatedSchema, 'An active backfill for the same package and options already exists'),
    ...errors,
    404: json(ErrorSchema, 'No object with this ID exists'),
    422: json(ErrorSchema, 'The object is not a package, or the range is not served by the node'),
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
    400: errors[400],
    404: json(ErrorSchema, 'No such backfill'),
    503: errors[503],
  },
});

const listBackfillsRoute = createRoute({
  method: 'get',
  path: '/v1/backfills',
  tags: ['backfills'],
  summary: 'Backfills, newest first',
  request: { query: ListBackfillsQuerySchema },
  responses: { 200: json(BackfillPageSchema, 'A page of backfills'), 400: errors[400], 503: errors[503] },
});

export function registerBackfillRoutes(app: OpenAPIHono, deps: ApiDeps): void {
  app.openapi(createBackfill, async (c) => {
    const body = c.req.valid('json');
    const { request, created, enqueued } = await deps.intake.submit(body);
    return c.json(
      {
        id: request.id,
        status: request.status,
        packageId: body.packageId,
        originalPackageId: request.packageId,
        match: request.match,
        fromCheckpoint: request.fromCheckpoint.toString(),
        toCheckpoint: request.toCheckpoint.toString(),
        enqueued,
      },
      created ? 202 : 200,
    );
  });

  app.openapi(listBackfillsRoute, async (c) => {
    const query = c.req.valid('query');
    const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (query.cursor !== undefined && cursor === undefined) throw new ApiError(400, 'invalid_request', 'cursor: not a cursor this API gave out');
    return c.json(await listBackfills(deps.db, { status: query.status, packageId: query.packageId, limit: query.limit, cursor }), 200);
  });

  app.openapi(getBackfill, async (c) => {
    const { id } = c.req.valid('param');
    const view = await getBackfillView(deps.db, id);
    if (!view) throw new RequestNotFoundError(id);
    return c.json(view, 200);
  });
}
