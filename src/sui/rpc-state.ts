import type { Redis } from 'ioredis';
import { z } from 'zod';
import { jsonOf } from '../common/json.ts';
import type { Logger } from '../common/logger.ts';
import { describeZodError } from '../common/zod-issues.ts';
import { RpcBudgetStatsSchema } from './budget.ts';
import { EndpointHealthSchema } from './endpoints.ts';

/** What one process's RPC budget and endpoints look like now, as it publishes it and the others read it. */
export const RpcProcessStateSchema = z.object({
  id: z.string().describe('`host:pid:random`, unique per process'),
  process: z.string().meta({ description: 'The subcommand: api, worker, indexer, dev', example: 'worker' }),
  host: z.string(),
  pid: z.number().int(),
  ...RpcBudgetStatsSchema.omit({ started: true }).shape,
  endpoints: z.array(EndpointHealthSchema),
  publishedAt: z.string().describe("When the process published this, by its own clock"),
});

export type RpcProcessState = z.infer<typeof RpcProcessStateSchema>;

const PublishedStateSchema = jsonOf(RpcProcessStateSchema);

/** Process states in the order `GET /v1/config/rpc` lists them (sorts in place). */
export function sortById(states: RpcProcessState[]): RpcProcessState[] {
  return states.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Where processes publish their RPC state for `GET /v1/config/rpc`: a Redis key per process that
 * Redis expires `staleAfterMs` after its last publish, so a process that stops publishing (crashed,
 * stopped) drops out, judged by Redis alone: no process's clock, however far off, decides it. A
 * set under `key` names the processes that published lately.
 */
type RpcStateBoard = {
  publish(state: RpcProcessState): Promise<void>;
  remove(id: string): Promise<void>;
  /** Processes that published within `staleAfterMs`, sorted by id. */
  list(): Promise<RpcProcessState[]>;
};

export function createRpcStateBoard(redis: Redis, key: string, staleAfterMs: number, logger: Pick<Logger, 'warn'>): RpcStateBoard {
  const stateKey = (id: string) => `${key}:${id}`;
  let warned = false;
  /** Another process's state, or undefined (said once) when it is not one: another version, or garbage. */
  const parse = (id: string, text: string): RpcProcessState | undefined => {
    const parsed = PublishedStateSchema.safeParse(text);
    if (parsed.success) return parsed.data;
    if (!warned) logger.warn({ id, err: describeZodError(parsed.error, 'state') }, 'an rpc state in Redis is not one this process reads; left out of GET /v1/config/rpc');
    warned = true;
    return undefined;
  };
  return {
    async publish(state) {
      // The set outlives its publishers by a while only: nothing lingers once every process is gone.
      await redis
        .multi()
        .set(stateKey(state.id), JSON.stringify(state), 'PX', staleAfterMs)
        .sadd(key, state.id)
        .pexpire(key, staleAfterMs * 4)
        .exec();
    },
    async remove(id) {
      await redis.multi().del(stateKey(id)).srem(key, id).exec();
    },
    async list() {
      // Sorted, so the one unreadable state that is logged is the same whichever order Redis answers in.
      const ids = (await redis.smembers(key)).sort();
      if (ids.length === 0) return [];
      const texts = await redis.mget(ids.map(stateKey));
      const live: RpcProcessState[] = [];
      // Expired (silent for too long), or unreadable: neither is listed again.
      const dropped: string[] = [];
      ids.forEach((id, index) => {
        const text = texts[index];
        const state = text === null ? undefined : parse(id, text);
        if (state) live.push(state);
        else dropped.push(id);
      });
      if (dropped.length > 0) await redis.multi().del(...dropped.map(stateKey)).srem(key, ...dropped).exec();
      return sortById(live);
    },
  };
}
