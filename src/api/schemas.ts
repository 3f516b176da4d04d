import { z } from '@hono/zod-openapi';
import { normalizeSuiObjectId } from '@mysten/sui/utils';
import { BACKFILL_STATUSES } from '../db/schema/backfill.ts';

/** A Sui object ID as users write it (short or long), normalized to 0x + 64 hex. */
export const PackageIdSchema = z
  .string({ error: (issue) => (issue.input === undefined ? 'required' : 'expected a string') })
  .regex(/^0x[0-9a-fA-F]{1,64}$/, 'expected 0x followed by 1 to 64 hex digits')
  .transform((value) => normalizeSuiObjectId(value))
  .openapi({ example: '0x2c8d603bc51326b8c13cef9dd07031a408a48dddb541963357661df5d3204809' });

/** A checkpoint sequence number: a non-negative integer, as a JSON number or a decimal string. */
const CHECKPOINT_MESSAGE = 'expected a non-negative integer checkpoint sequence number';
export const CheckpointSchema = z
  .union([z.number(), z.string()], { error: CHECKPOINT_MESSAGE })
  // Numbers beyond 2^53 print in exponent form and fail the pattern: such checkpoints must be strings.
  .transform((value) => String(value))
  .pipe(z.string().regex(/^\d{1,19}$/, CHECKPOINT_MESSAGE))
  .transform((value) => BigInt(value))
  .openapi({ type: 'string', example: '67456359' });

export const MatchSchema = z.enum(['outer', 'anywhere']).openapi({
  description:
    "`outer` (default): the object's outer type is defined by the package family. `anywhere`: the family appears anywhere in the type, type arguments included (dynamic fields, coins of the package's currency).",
});

export const CreateBackfillSchema = z
  .strictObject({
    packageId: PackageIdSchema,
    match: MatchSchema.default('outer'),
    fromCheckpoint: CheckpointSchema.optional(),
    toCheckpoint: CheckpointSchema.optional(),
  })
  .refine((body) => body.fromCheckpoint === undefined || body.toCheckpoint === undefined || body.fromCheckpoint <= body.toCheckpoint, {
    message: 'must not be below fromCheckpoint',
    path: ['toCheckpoint'],
  })
  .openapi('CreateBackfill');

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'not_a_package' }),
      message: z.string(),
    }),
  })
  .openapi('Error');

const checkpointString = z.string().openapi({ example: '67456359' });
const StatusSchema = z.enum(BACKFILL_STATUSES);

export const BackfillCreatedSchema = z
  .object({
    id: z.string().uuid(),
    status: StatusSchema,
    packageId: z.string(),
    originalPackageId: z.string(),
    match: MatchSchema,
    fromCheckpoint: checkpointString,
    toCheckpoint: checkpointString,
    /** False when Redis was down: the request is safe in Postgres and will be enqueued when it returns. */
    enqueued: z.boolean(),
  })
  .openapi('BackfillCreated');

export const ChunkSchema = z
  .object({
    fromCheckpoint: checkpointString,
    toCheckpoint: checkpointString,
    objectsMatched: z.number().int(),
    rowsInserted: z.number().int(),
    rpcCalls: z.number().int(),
    durationMs: z.number().int(),
    workerId: z.string(),
    finishedAt: z.string(),
  })
  .openapi('Chunk');

export const BackfillSchema = z
  .object({
    id: z.string().uuid(),
    status: StatusSchema,
    packageId: z.string(),
    originalPackageId: z.string(),
    familyIds: z.array(z.string()),
    match: MatchSchema,
    fromCheckpoint: checkpointString,
    toCheckpoint: checkpointString,
    watermark: z.object({ checkpointHiInclusive: checkpointString, doneRanges: z.string().openapi({ example: '{[67456359,67460000)}' }) }),
    progress: z.object({
      checkpointsTotal: z.number().int(),
      checkpointsDone: z.number().int(),
      percent: z.number(),
      checkpointsPerSecond: z.number().nullable(),
      etaSeconds: z.number().nullable(),
    }),
    rowsInserted: z.number().int(),
    objectsMatched: z.number().int(),
    attempts: z.number().int(),
    workerId: z.string().nullable(),
    heartbeatAt: z.string().nullable(),
    lastError: z.string().nullable(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    recentChunks: z.array(ChunkSchema),
  })
  .openapi('Backfill');

export const PackageWatermarkSchema = z
  .object({
    packageId: z.string(),
    originalPackageId: z.string(),
    match: MatchSchema,
    requestId: z.string().uuid(),
    status: StatusSchema,
    fromCheckpoint: checkpointString,
    toCheckpoint: checkpointString,
    checkpointHiInclusive: checkpointString,
    percent: z.number(),
  })
  .openapi('PackageWatermark');

export const RequestIdParamSchema = z.object({
  id: z.string().uuid('expected a backfill request id (a UUID)').openapi({ param: { name: 'id', in: 'path' } }),
});

export const PackageIdParamSchema = z.object({
  packageId: PackageIdSchema.openapi({ param: { name: 'packageId', in: 'path' } }),
});

export const BackfillSummarySchema = z
  .object({
    id: z.string().uuid(),
    status: StatusSchema,
    packageId: z.string(),
    originalPackageId: z.string(),
    match: MatchSchema,
    fromCheckpoint: checkpointString,
    toCheckpoint: checkpointString,
    checkpointHiInclusive: checkpointString,
    percent: z.number(),
    rowsInserted: z.number().int(),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .openapi('BackfillSummary');

export const BackfillPageSchema = z
  .object({ items: z.array(BackfillSummarySchema), nextCursor: z.string().nullable() })
  .openapi('BackfillPage');

export const ListBackfillsQuerySchema = z.object({
  status: StatusSchema.optional(),
  packageId: PackageIdSchema.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).optional().openapi({ description: 'nextCursor of the previous page' }),
});
