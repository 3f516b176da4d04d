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
  publishedAt: z.string(),
});

export type RpcProcessState = z.infer<typeof RpcProcessStateSchema>;

const PublishedStateSchema = jsonOf(RpcProcessStateSchema);

/** Process states in the order `GET /v1/config/rpc` lists them (sorts in place). */
export function sortById(states: RpcProcessState[]): RpcProcessState[] {
  return states.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Where processes publish their RPC state for `GET /v1/config/rpc`: one Redis hash, a field per
 * process. A process that stops publishing (crashed, stopped) drops out after `staleAfterMs`.
 */
type RpcStateBoard = {
  publish(state: RpcProcessState): Promise<void>;
  remove(id: string): Promise<void>;
  /** Processes that published within `staleAfterMs`, sorted by id. */
  list(): Promise<RpcProcessState[]>;
};

export function createRpcStateBoard(redis: Redis, key: string, staleAfterMs: number, logger: Pick<Logger, 'warn'>): RpcStateBoard {
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
      // The hash outlives its publishers by a while only: nothing lingers once every process is gone.
      await redis.multi().hset(key, state.id, JSON.stringify(state)).pexpire(key, staleAfterMs * 4).exec();
    },
    async remove(id) {
      await redis.hdel(key, id);
    },
    async list() {
      const entries = await redis.hgetall(key);
      const now = Date.now();
      const live: RpcProcessState[] = [];
      // Silent for too long, or unreadable: neither is listed again.
      const dropped: string[] = [];
      for (const [id, text] of Object.entries(entries)) {
        const state = parse(id, text);
        if (state && now - Date.parse(state.publishedAt) <= staleAfterMs) live.push(state);
        else dropped.push(id);
      }
      if (dropped.length > 0) await redis.hdel(key, ...dropped);
      return sortById(live);
    },
  };
}
