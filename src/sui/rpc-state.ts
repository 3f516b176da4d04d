import type { Redis } from 'ioredis';
import type { RpcBudgetStats } from './budget.ts';
import type { EndpointHealth } from './endpoints.ts';

/** What one process's RPC budget and endpoints look like now. */
export type RpcProcessState = Omit<RpcBudgetStats, 'started'> & {
  /** `host:pid:random`, unique per process. */
  id: string;
  /** The subcommand: api, worker, indexer, dev. */
  process: string;
  host: string;
  pid: number;
  endpoints: EndpointHealth[];
  publishedAt: string;
};

/** Process states in the order `GET /v1/config/rpc` lists them (sorts in place). */
export function sortById(states: RpcProcessState[]): RpcProcessState[] {
  return states.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Where processes publish their RPC state for `GET /v1/config/rpc`: one Redis hash, a field per
 * process. A process that stops publishing (crashed, stopped) drops out after `staleAfterMs`.
 */
export type RpcStateBoard = {
  publish(state: RpcProcessState): Promise<void>;
  remove(id: string): Promise<void>;
  /** Processes that published within `staleAfterMs`, sorted by id. */
  list(): Promise<RpcProcessState[]>;
};

export function createRpcStateBoard(redis: Redis, key: string, staleAfterMs: number): RpcStateBoard {
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
      const stale: string[] = [];
      for (const [id, text] of Object.entries(entries)) {
        let state: RpcProcessState | undefined;
        try {
          state = JSON.parse(text) as RpcProcessState;
        } catch {
          state = undefined;
        }
        if (state && now - Date.parse(state.publishedAt) <= staleAfterMs) live.push(state);
        else stale.push(id);
      }
      if (stale.length > 0) await redis.hdel(key, ...stale);
      return sortById(live);
    },
  };
}
