import { eq, sql } from 'drizzle-orm';
import { errorMessage } from '../common/errors.ts';
import type { Config } from '../common/config.ts';
import type { Logger } from '../common/logger.ts';
import type { Database } from '../db/client.ts';
import { rpcSettings } from '../db/schema/rpc.ts';
import type { RpcBudget, RpcLimits } from './budget.ts';

/** The one scope in use: the limits every process of the deployment applies. */
const GLOBAL_SCOPE = 'global';

/** The limits as stored; null: none stored, so each process applies its own environment's. */
type StoredRpcLimits = { [K in keyof RpcLimits]: RpcLimits[K] | null };

/** The limits a process applies (`RpcLimits`), and what is stored that they come from. */
export type RpcSettings = RpcLimits & {
  stored: StoredRpcLimits;
  /** `database`: an operator set one or both; `environment`: no row, the processes' env defaults apply. */
  source: 'database' | 'environment';
  updatedAt: Date | null;
  updatedBy: string | null;
};

/**
 * The persisted RPC limits (`rpc_settings`). A limit nobody set is stored as null, never as the
 * environment value of the process that wrote the other one: each process reads it as its own.
 */
export type RpcSettingsStore = {
  read(): Promise<RpcSettings>;
  /** Sets the limits given; one left out keeps what is stored (null: each process's environment). */
  write(limits: Partial<RpcLimits>, updatedBy: string): Promise<RpcSettings>;
  /** Deletes the row: every process goes back to its environment's limits. */
  reset(): Promise<RpcSettings>;
};

/** The limits a process starts with, and applies where no operator has stored any. */
export function environmentRpcLimits(config: Pick<Config, 'RPC_REQUESTS_PER_SECOND' | 'RPC_CONCURRENCY'>): RpcLimits {
  return { requestsPerSecond: config.RPC_REQUESTS_PER_SECOND, maxInFlight: config.RPC_CONCURRENCY };
}

/** `defaults`: the environment's limits of the process reading the settings. */
export function createRpcSettingsStore(db: Database, defaults: RpcLimits): RpcSettingsStore {
  const settings = (row: typeof rpcSettings.$inferSelect | undefined): RpcSettings => {
    const stored = { requestsPerSecond: row?.requestsPerSecond ?? null, maxInFlight: row?.maxInFlight ?? null };
    return {
      requestsPerSecond: stored.requestsPerSecond ?? defaults.requestsPerSecond,
      maxInFlight: stored.maxInFlight ?? defaults.maxInFlight,
      stored,
      source: row ? 'database' : 'environment',
      updatedAt: row?.updatedAt ?? null,
      updatedBy: row?.updatedBy ?? null,
    };
  };
  return {
    async read() {
      const [row] = await db.select().from(rpcSettings).where(eq(rpcSettings.scope, GLOBAL_SCOPE));
      return settings(row);
    },
    async write(limits, updatedBy) {
      // One statement that sets only the limits given: two concurrent partial changes (one the
      // rate, one the cap) both stand. Without a row, a limit not given starts as null.
      const given = {
        ...(limits.requestsPerSecond === undefined ? {} : { requestsPerSecond: limits.requestsPerSecond }),
        ...(limits.maxInFlight === undefined ? {} : { maxInFlight: limits.maxInFlight }),
      };
      const [row] = await db
        .insert(rpcSettings)
        .values({ scope: GLOBAL_SCOPE, ...given, updatedBy })
        .onConflictDoUpdate({ target: rpcSettings.scope, set: { ...given, updatedBy, updatedAt: sql`now()` } })
        .returning();
      return settings(row);
    },
    async reset() {
      await db.delete(rpcSettings).where(eq(rpcSettings.scope, GLOBAL_SCOPE));
      return settings(undefined);
    },
  };
}

type RpcSettingsWatcher = {
  /** Reads the settings now and applies them (also what every poll does). */
  refresh(): Promise<RpcSettings | undefined>;
  /** The settings last applied; undefined until the first read succeeded. */
  current(): RpcSettings | undefined;
  /** Stops polling; resolves once a read in progress has ended. */
  stop(): Promise<void>;
};

/** While the row cannot be read, polls slow down (doubling) to at most this. */
const MAX_FAILING_INTERVAL_MS = 10_000;

/**
 * Polls the settings row and applies changes to the budget, so a PUT on any API replica reaches
 * every process within one interval. While Postgres cannot be read the budget keeps what it has
 * and the polls slow down, so an outage is not met with a reconnect every second.
 */
export function watchRpcSettings(options: { store: RpcSettingsStore; budget: RpcBudget; intervalMs: number; logger: Logger }): RpcSettingsWatcher {
  const { store, budget, logger } = options;
  let applied: RpcSettings | undefined;
  let failures = 0;
  let stopped = false;

  const refresh = async () => {
    let settings: RpcSettings;
    try {
      settings = await store.read();
    } catch (error) {
      if (failures === 0) logger.warn({ err: errorMessage(error) }, 'cannot read the rpc settings; the current limits stay in force');
      failures++;
      return undefined;
    }
    failures = 0;
    if (!applied || applied.requestsPerSecond !== settings.requestsPerSecond || applied.maxInFlight !== settings.maxInFlight) {
      if (applied) {
        logger.info(
          { requestsPerSecond: settings.requestsPerSecond, maxInFlight: settings.maxInFlight, source: settings.source, updatedBy: settings.updatedBy },
          'rpc limits changed',
        );
      }
      budget.setLimits(settings);
    }
    applied = settings;
    return settings;
  };

  const delay = () => Math.min(options.intervalMs * 2 ** failures, Math.max(options.intervalMs, MAX_FAILING_INTERVAL_MS));
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<unknown> = Promise.resolve();
  const poll = () => {
    polling = refresh().finally(() => {
      if (stopped) return;
      timer = setTimeout(poll, delay());
      timer.unref();
    });
  };
  poll();

  return {
    refresh,
    current: () => applied,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await polling;
    },
  };
}
