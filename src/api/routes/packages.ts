import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { getPackageWatermark } from '../../backfill/views.ts';
import type { ApiDeps } from '../app.ts';
import { ApiError } from '../errors.ts';
import { ErrorSchema, MatchSchema, PackageIdParamSchema, PackageWatermarkSchema } from '../schemas.ts';
import { errorResponses, json } from './responses.ts';

const getWatermark = createRoute({
  method: 'get',
  path: '/v1/packages/{packageId}/watermark',
  tags: ['packages'],
  summary: "A package's backfill watermark",
  description:
    'Over every backfill of the package family in the given match mode (default outer): their done ranges together, and ' +
    'the watermark, the last checkpoint of the coverage that runs without a gap from the publish checkpoint. Lists the ' +
    'backfills that contributed. Any ID of the upgrade family works.',
  request: { params: PackageIdParamSchema, query: z.object({ match: MatchSchema.default('outer') }) },
  responses: {
    200: json(PackageWatermarkSchema, 'The watermark'),
    400: json(ErrorSchema, 'Malformed package ID or match mode'),
    404: json(ErrorSchema, 'No backfill of this package family in this match mode'),
    503: errorResponses.postgresDown,
  },
});

export function registerPackageRoutes(app: OpenAPIHono, deps: ApiDeps): void {
  app.openapi(getWatermark, async (c) => {
    const { packageId } = c.req.valid('param');
    const { match } = c.req.valid('query');
    const view = await getPackageWatermark(deps.db, packageId, match);
    if (!view) throw new ApiError(404, 'no_backfill', `no ${match} backfill of package ${packageId} (or of its family) was requested`);
    return c.json(view, 200);
  });
}
