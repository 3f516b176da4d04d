import { z } from '@hono/zod-openapi';
import { normalizeSuiObjectId } from '@mysten/sui/utils';
import { BACKFILL_STATUSES } from '../db/schema/backfill.ts';
import { EndpointHealthSchema } from '../sui/endpoints.ts';
import { RpcProcessStateSchema } from '../sui/rpc-state.ts';

/** A Sui object ID as users write it (short or long), normalized to 0x + 64 hex. */
const PackageIdSchema = z
  .string({ error: (issue) => (issue.input === undefined ? 'required' : 'expected a string') })
  .regex(/^0x[0-9a-fA-F]{1,64}$/, 'expected 0x followed by 1 to 64 hex digits')
  .transform((value) => normalizeSuiObjectId(value))
  .openapi({ example: '0x2c8d603bc51326b8c13cef9dd07031a408a48dddb541963357661df5d3204809' });

/** A checkpoint sequence number: a non-negative integer, as a JSON number or a decimal string. */
const CHECKPOINT_MESSAGE = 'expected a non-negative integer checkpoint sequence number';
// JSON numbers beyond 2^53 - 1 reach us already rounded: refused, never read as a neighbouring checkpoint.
const UNSAFE_CHECKPOINT_MESSAGE = `expected a checkpoint number of at most ${Number.MAX_SAFE_INTEGER} (2^53 - 1); send larger ones as a string of digits`;
const CheckpointNumberSchema = z
  .number()
  .min(0, { error: CHECKPOINT_MESSAGE, abort: true })
  .int({ error: (issue) => (issue.code === 'too_big' ? UNSAFE_CHECKPOINT_MESSAGE : CHECKPOINT_MESSAGE) })
  .openapi({ maximum: Number.MAX_SAFE_INTEGER, example: 67456359 });
const CheckpointDigitsSchema = z.string().regex(/^\d{1,19}$/, CHECKPOINT_MESSAGE).openapi({ example: '67456359' });
const CheckpointSchema = z
  .union([CheckpointNumberSchema, CheckpointDigitsSchema], { error: CHECKPOINT_MESSAGE })
  .transform((value) => BigInt(value))
  .openapi({ description: 'A checkpoint sequence number: a JSON integer up to 2^53 - 1, or a string of decimal digits for any value' });

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

/** What every view of a backfill request starts with. */
const requestFields = {
  id: z.string().uuid(),
  status: StatusSchema,
  packageId: z.string(),
  originalPackageId: z.string(),
  match: MatchSchema,
  fromCheckpoint: checkpointString,
  toCheckpoint: checkpointString,
};

export const BackfillCreatedSchema = z
  .object({
    ...requestFields,
    enqueued: z.boolean().openapi({
      description:
        'Whether the request has its job in the queue. A new queued request: false when Redis was down (the request is safe in Postgres and is ' +
        'enqueued when Redis returns). An existing request (200): whether its job exists now. A request created completed (the live indexer ' +
        'already covers its whole range): false, there is nothing to queue.',
    }),
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

const TransitionSchema = z
  .object({
    from: StatusSchema.nullable().openapi({ description: 'null for the creation' }),
    to: StatusSchema,
    actor: z.string().openapi({ example: 'api:alice@ops-host', description: '`api` (or `api:<X-Actor>`), `worker:<host>:<pid>:<id>`, `handoff`, ...' }),
    reason: z.string().nullable(),
    at: z.string(),
  })
  .openapi('Transition');

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
    lastErrorDetail: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({
        description:
          'Of a failed chunk: `stage` (fetch, process or commit), `chunk` {fromCheckpoint, toCheckpoint}, `attempts`, `code`; of a failed read of the ranges left to walk: `stage` ranges, `range` (of the request), `attempts`, `code`; of a failure as the walk began: `stage` start, `range`, `code`',
      }),
    resumedFromId: z.string().uuid().nullable().openapi({ description: 'The cancelled backfill this one continues' }),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    recentChunks: z.array(ChunkSchema),
    transitions: z.array(TransitionSchema).openapi({ description: 'Every status change, oldest first' }),
  })
  .openapi('Backfill');

export const ResumedBackfillSchema = BackfillSchema.extend({
  /** False when Redis was down: the request is queued in Postgres and the reconciler enqueues it. */
  enqueued: z.boolean(),
}).openapi('ResumedBackfill');

export const OperatorActionSchema = z
  .strictObject({
    reason: z.string().max(500).optional().openapi({ description: 'Recorded in the transition history' }),
  })
  .openapi('OperatorAction');

export const PackageWatermarkSchema = z
  .object({
    packageId: z.string(),
    originalPackageId: z.string(),
    match: MatchSchema,
    publishCheckpoint: checkpointString.nullable().openapi({ description: "The family's publish checkpoint, where the coverage starts; null when the registry does not know it (the lowest first checkpoint of the backfills is used)" }),
    checkpointHiInclusive: checkpointString.openapi({
      description: 'Every checkpoint from the publish checkpoint up to this one is done, by one backfill of the family in this match mode or another',
    }),
    doneRanges: z.string().openapi({ description: 'The done ranges of all those backfills together', example: '{[67456359,67460000)}' }),
    requests: z
      .array(
        z.object({
          id: z.string().uuid(),
          status: StatusSchema,
          fromCheckpoint: checkpointString,
          toCheckpoint: checkpointString,
          checkpointHiInclusive: checkpointString,
          doneRanges: z.string(),
        }),
      )
      .openapi({ description: 'The backfills that did some of that work, newest first' }),
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
    ...requestFields,
    checkpointHiInclusive: checkpointString,
    percent: z.number(),
    rowsInserted: z.number().int(),
    objectsMatched: z.number().int(),
    checkpointsPerSecond: z.number().nullable().openapi({ description: 'Of a running backfill, over its chunks of the last minute (as in GET /v1/backfills/{id}); else null' }),
    etaSeconds: z.number().nullable(),
    workerId: z.string().nullable(),
    heartbeatAt: z.string().nullable().openapi({ description: "The worker's last heartbeat: a running backfill whose heartbeat is older than STALE_AFTER_MS is taken over" }),
    lastError: z.string().nullable(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .openapi('BackfillSummary');

export const ChunkPageSchema = z.object({ items: z.array(ChunkSchema), nextCursor: z.string().nullable() }).openapi('ChunkPage');

export const ListChunksQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().min(1).optional().openapi({ description: 'nextCursor of the previous page' }),
});

/** Who makes an operator change, recorded in the history as `api:<actor>`. */
export const ActorHeaderSchema = z.object({
  'x-actor': z
    .string()
    .regex(/^[\x21-\x7e](?:[\x20-\x7e]{0,62}[\x21-\x7e])?$/, 'expected 1 to 64 printable ASCII characters, not starting or ending with a space')
    .optional()
    .openapi({ param: { name: 'x-actor', in: 'header' }, example: 'alice@ops-host', description: 'Who makes the change; recorded in the history as `api:<X-Actor>`' }),
});

/** Who makes a change: `api`, or `api:<X-Actor>` when the caller names itself. */
export const actorOf = (headers: { 'x-actor'?: string }) => (headers['x-actor'] ? `api:${headers['x-actor']}` : 'api');

export const BackfillPageSchema = z
  .object({ items: z.array(BackfillSummarySchema), nextCursor: z.string().nullable() })
  .openapi('BackfillPage');

export const ListBackfillsQuerySchema = z.object({
  status: StatusSchema.optional(),
  packageId: PackageIdSchema.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().min(1).optional().openapi({ description: 'nextCursor of the previous page' }),
});

const limit = (max: number) => {
  const message = `expected an integer from 1 to ${max}`;
  return z.number({ error: message }).int(message).min(1, message).max(max, message);
};

export const RpcLimitsUpdateSchema = z
  .strictObject({
    requestsPerSecond: limit(1_000_000).optional().openapi({
      description: 'RPC calls per second: per process, or for all processes together when they run with RPC_SHARED_BUDGET=true',
      example: 50,
    }),
    maxInFlight: limit(1024).optional().openapi({ description: 'RPC calls in flight per process', example: 16 }),
    updatedBy: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: 'Recorded as who made the change when no X-Actor header names one', example: 'ops: provider asked us to slow down' }),
  })
  .refine((body) => body.requestsPerSecond !== undefined || body.maxInFlight !== undefined, {
    message: 'give requestsPerSecond, maxInFlight or both',
    path: ['requestsPerSecond'],
  })
  .openapi('RpcLimitsUpdate');

// The states processes publish, as GET /v1/config/rpc lists them. Named with zod's own `meta`: these
// schemas may be built before @hono/zod-openapi adds `openapi` to zod's schemas.
const RpcProcessSchema = RpcProcessStateSchema.extend({ endpoints: z.array(EndpointHealthSchema.meta({ id: 'RpcEndpoint' })) }).meta({ id: 'RpcProcess' });

export const RpcConfigSchema = z
  .object({
    configured: z.object({
      requestsPerSecond: z.number().int().nullable().openapi({ description: 'As stored; null: never set, each process applies its RPC_REQUESTS_PER_SECOND' }),
      maxInFlight: z.number().int().nullable().openapi({ description: 'As stored; null: never set, each process applies its RPC_CONCURRENCY' }),
      source: z.enum(['database', 'environment']).openapi({ description: '`environment`: nobody set limits; each process applies its RPC_REQUESTS_PER_SECOND and RPC_CONCURRENCY' }),
      updatedAt: z.string().nullable(),
      updatedBy: z.string().nullable(),
    }),
    totals: z.object({
      processes: z.number().int(),
      achievedRequestsPerSecond: z.number(),
      inFlight: z.number().int(),
      queued: z.number().int(),
      throttled: z.number().int(),
    }),
    processes: z.array(RpcProcessSchema).openapi({ description: 'Every live process, as it published its state within the last 3 s' }),
    complete: z.boolean().openapi({ description: "False when Redis could not be read: only this API process's own state is listed" }),
  })
  .openapi('RpcConfig');
