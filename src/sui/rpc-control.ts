import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Common } from '../common/context.ts';
import { errorMessage } from '../common/errors.ts';
import { createProcessId } from '../common/process-id.ts';
import type { Db } from '../db/client.ts';
import type { RpcBudget } from './budget.ts';
import type { EndpointHealth } from './endpoints.ts';
import { createRpcSettingsStore, environmentRpcLimits, watchRpcSettings, type RpcSettingsStore } from './rpc-settings.ts';
import { createRpcStateBoard, sortById, type RpcProcessState } from './rpc-state.ts';

/** How often a process publishes its state; GET drops a process silent for three of these. */
const PUBLISH_INTERVAL_MS = 1_000;

/**
 * The operator's handle on a process's RPC budget: the persisted limits (applied as they change),
 * this process's state, and every live process's state as published to Redis.
 */
export type RpcControl = {
  readonly budget: RpcBudget;
  readonly settings: RpcSettingsStore;
  /** Applies the stored limits now (after a change made through this process). */
  refresh(): Promise<void>;
  state(): RpcProcessState;
  /** Every live process's state; this process's alone (`complete: false`) when Redis cannot be read. */
  processes(): Promise<{ processes: RpcProcessState[]; complete: boolean }>;
  close(): Promise<void>;
};

/** A source with its process's RPC budget, read as it is now: an operator's PUT /v1/config/rpc reaches fetches in progress. */
export type LiveBudgetSource = { readonly control: { readonly budget: Pick<RpcBudget, 'stats'> } };

/** The process's cap on RPC calls in flight, read anew at each call. */
export function liveMaxInFlight(source: LiveBudgetSource): () => number {
  return () => source.control.budget.stats().maxInFlight;
}

type RpcControlDeps = {
  common: Pick<Common, 'config' | 'logger' | 'metrics'>;
  budget: RpcBudget;
  endpoints: () => EndpointHealth[];
  /** Owned: closed by `close`. */
  db: Db;
  /** Owned: closed by `close`. */
  redis: Redis;
};

export function createRpcControl(deps: RpcControlDeps): RpcControl {
  const { common, budget, db, redis } = deps;
  const { config, logger, metrics } = common;
  const id = createProcessId();
  const processName = String(logger.bindings().process ?? 'process');
  const settings = createRpcSettingsStore(db.db, environmentRpcLimits(config));
  const watcher = watchRpcSettings({ store: settings, budget, intervalMs: config.RPC_SETTINGS_POLL_MS, logger });
  // Not `rpc:processes`, the hash of earlier versions: a set now, each state a key of its own.
  const board = createRpcStateBoard(redis, `${config.REDIS_PREFIX}:rpc:states`, PUBLISH_INTERVAL_MS * 3, logger);

  const state = (): RpcProcessState => {
    const { started: _started, ...stats } = budget.stats();
    return { id, process: processName, host: hostname(), pid: process.pid, ...stats, endpoints: deps.endpoints(), publishedAt: new Date().toISOString() };
  };

  let publishFailing = false;
  const publish = async () => {
    const current = state();
    metrics.rpcRateLimit.set(current.requestsPerSecond);
    metrics.rpcEffectiveRateLimit.set(current.effectiveRequestsPerSecond);
    metrics.rpcAchievedRate.set(current.achievedRequestsPerSecond);
    metrics.rpcMaxInFlight.set(current.maxInFlight);
    metrics.rpcQueued.set(current.queued);
    metrics.rpcBackoffSeconds.set(current.backoffMs / 1000);
    try {
      await board.publish(current);
      publishFailing = false;
    } catch (error) {
      if (!publishFailing) logger.warn({ err: errorMessage(error) }, 'cannot publish the rpc state to Redis; GET /v1/config/rpc will not list this process');
      publishFailing = true;
    }
  };
  let publishing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    publishing = publish();
  }, PUBLISH_INTERVAL_MS);
  timer.unref();
  publishing = publish();

  let closing: Promise<void> | undefined;
  return {
    budget,
    settings,
    refresh: async () => {
      await watcher.refresh();
      await publish();
    },
    state,
    async processes() {
      try {
        const processes = await board.list();
        // Ours may not be published yet (just started) or be a second old: show it as it is now.
        return { processes: sortById([...processes.filter((other) => other.id !== id), state()]), complete: true };
      } catch (error) {
        logger.warn({ err: errorMessage(error) }, 'cannot read the rpc state of other processes from Redis');
        return { processes: [state()], complete: false };
      }
    },
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        await watcher.stop();
        await publishing;
        await board.remove(id).catch(() => {});
        redis.disconnect();
        await db.close();
      })();
      return closing;
    },
  };
}
