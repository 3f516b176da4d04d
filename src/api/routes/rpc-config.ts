import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { RpcSettings } from '../../sui/rpc-settings.ts';
import type { RpcProcessState } from '../../sui/rpc-state.ts';
import type { ApiDeps } from '../app.ts';
import { ActorHeaderSchema, actorOf, RpcConfigSchema, RpcLimitsUpdateSchema } from '../schemas.ts';
import { errorResponses, json } from './responses.ts';

const { malformed, unauthorized, notJson, tooLarge, postgresDown } = errorResponses;

const DESCRIPTION =
  'The RPC limits every process applies (persisted; a change reaches every process within RPC_SETTINGS_POLL_MS), ' +
  'and each live process as it published its state to Redis in the last seconds: configured, effective and achieved rates, ' +
  'calls in flight and queued, rate-limit replies, the pause in force, and the health of each Sui endpoint.';

const getRpcConfig = createRoute({
  method: 'get',
  path: '/v1/config/rpc',
  tags: ['config'],
  summary: 'RPC limits and what every process achieves',
  description: DESCRIPTION,
  responses: { 200: json(RpcConfigSchema, 'Limits and state'), 503: postgresDown },
});

const putRpcConfig = createRoute({
  method: 'put',
  path: '/v1/config/rpc',
  tags: ['config'],
  summary: 'Change the RPC limits at runtime',
  description:
    'Stores the new limits (a limit left out keeps its current value); every process applies them within seconds, without a restart. ' +
    'Who made the change is recorded as `api:<X-Actor>`, as with the backfill routes; without the header, as the body\'s `updatedBy`, or `api`.',
  security: [{ bearer: [] }],
  request: { headers: ActorHeaderSchema, body: { content: { 'application/json': { schema: RpcLimitsUpdateSchema } }, required: true } },
  responses: {
    200: json(RpcConfigSchema, 'The limits now stored, and the state'),
    400: malformed,
    401: unauthorized,
    413: tooLarge,
    415: notJson,
    503: postgresDown,
  },
});

const deleteRpcConfig = createRoute({
  method: 'delete',
  path: '/v1/config/rpc',
  tags: ['config'],
  summary: "Go back to the environment's RPC limits",
  description: 'Deletes the stored limits: each process applies its RPC_REQUESTS_PER_SECOND and RPC_CONCURRENCY again within seconds.',
  security: [{ bearer: [] }],
  request: { headers: ActorHeaderSchema },
  responses: { 200: json(RpcConfigSchema, 'The environment limits, and the state'), 400: malformed, 401: unauthorized, 503: postgresDown },
});

export function registerRpcConfigRoutes(app: OpenAPIHono, deps: ApiDeps): void {
  const { settings } = deps.rpc;

  const view = async (configured: RpcSettings) => {
    const { processes, complete } = await deps.rpc.processes();
    const sum = (pick: (state: RpcProcessState) => number) => processes.reduce((total, state) => total + pick(state), 0);
    return {
      configured: {
        ...configured.stored,
        source: configured.source,
        updatedAt: configured.updatedAt?.toISOString() ?? null,
        updatedBy: configured.updatedBy,
      },
      totals: {
        processes: processes.length,
        achievedRequestsPerSecond: Math.round(sum((state) => state.achievedRequestsPerSecond) * 10) / 10,
        inFlight: sum((state) => state.inFlight),
        queued: sum((state) => state.queued),
        throttled: sum((state) => state.throttled),
      },
      processes,
      complete,
    };
  };

  app.openapi(getRpcConfig, async (c) => c.json(await view(await settings.read()), 200));

  app.openapi(putRpcConfig, async (c) => {
    const body = c.req.valid('json');
    const header = c.req.valid('header');
    const updatedBy = header['x-actor'] === undefined ? (body.updatedBy ?? 'api') : actorOf(header);
    const stored = await settings.write({ requestsPerSecond: body.requestsPerSecond, maxInFlight: body.maxInFlight }, updatedBy);
    deps.common.logger.info({ ...stored.stored, updatedBy: stored.updatedBy }, 'rpc limits stored');
    await deps.rpc.refresh();
    return c.json(await view(stored), 200);
  });

  app.openapi(deleteRpcConfig, async (c) => {
    const defaults = await settings.reset();
    deps.common.logger.info(
      { requestsPerSecond: defaults.requestsPerSecond, maxInFlight: defaults.maxInFlight, actor: actorOf(c.req.valid('header')) },
      'rpc limits reset to the environment',
    );
    await deps.rpc.refresh();
    return c.json(await view(defaults), 200);
  });
}
