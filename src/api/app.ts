import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import type { Intake } from '../backfill/intake.ts';
import type { BackfillQueue } from '../backfill/queue.ts';
import { countRequestsByStatus } from '../backfill/views.ts';
import type { Common } from '../common/context.ts';
import { ConfigError, errorMessage } from '../common/errors.ts';
import { describeZodError } from '../common/zod-issues.ts';
import type { Db } from '../db/client.ts';
import { BACKFILL_STATUSES } from '../db/schema/backfill.ts';
import type { RpcControl } from '../sui/rpc-control.ts';
import { adminPage } from './admin-page.ts';
import { requireTokenForMutations } from './auth.ts';
import { ApiError, errorResponse, MAX_BODY_BYTES, toErrorResponse } from './errors.ts';
import { registerBackfillRoutes } from './routes/backfills.ts';
import { registerPackageRoutes } from './routes/packages.ts';
import { registerRpcConfigRoutes } from './routes/rpc-config.ts';

export type ApiDeps = {
  common: Common;
  db: Db;
  intake: Intake;
  /** Where resumed backfills are enqueued. */
  queue: BackfillQueue;
  /** Readiness probes of the services the API depends on. */
  ready: () => Promise<{ postgres: boolean; redis: boolean }>;
  /** The process's RPC budget control, behind /v1/config/rpc. */
  rpc: RpcControl;
};

/** The API: every mutating route needs `Authorization: Bearer <API_TOKEN>`, so there is no API without a token. */
export function createApp(deps: ApiDeps): OpenAPIHono {
  const { common } = deps;
  if (!common.config.API_TOKEN) throw new ConfigError('Invalid configuration: API_TOKEN: required by the api, expected at least 16 characters (missing)');
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) {
        return c.json({ error: { code: 'invalid_request', message: describeZodError(result.error) } }, 400);
      }
    },
  });

  app.use(async (c, next) => {
    await next();
    common.metrics.httpRequests.inc({ method: c.req.method, route: c.req.routePath, status: String(c.res.status) });
  });
  app.use('/v1/*', requireTokenForMutations(common.config.API_TOKEN));
  app.use(
    '/v1/*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new ApiError(413, 'payload_too_large', `the request body is larger than ${MAX_BODY_BYTES / 1024} KiB; these routes take a small JSON object`);
      },
    }),
  );

  registerBackfillRoutes(app, deps);
  registerPackageRoutes(app, deps);
  registerRpcConfigRoutes(app, deps);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'sui-backfill', version: '1', description: 'Per-package backfills of Sui objects into Postgres.' },
  });

  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/readyz', async (c) => {
    const services = await deps.ready();
    const ok = services.postgres && services.redis;
    return c.json({ ok, ...services }, ok ? 200 : 503);
  });
  app.get('/metrics', async (c) => {
    // Counted where the truth is, at each scrape; with Postgres down the gauge is left out rather than stale.
    const gauge = common.metrics.backfillRequests;
    try {
      const counts = await countRequestsByStatus(deps.db);
      for (const status of BACKFILL_STATUSES) gauge.set({ status }, counts[status]);
    } catch (error) {
      gauge.reset();
      common.logger.warn({ err: errorMessage(error) }, 'could not count backfill requests for /metrics');
    }
    c.header('Content-Type', common.metrics.registry.contentType);
    return c.body(await common.metrics.registry.metrics());
  });
  const page = adminPage({ heartbeatIntervalMs: common.config.HEARTBEAT_INTERVAL_MS, staleAfterMs: common.config.STALE_AFTER_MS });
  app.get('/', (c) => c.html(page));

  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}` } }, 404));
  app.onError((error, c) => {
    const { status } = toErrorResponse(error);
    if (status >= 500) common.logger.error({ err: error, path: c.req.path }, 'request failed');
    return errorResponse(c, error);
  });
  return app;
}
