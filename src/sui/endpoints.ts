import type { SuiGrpcClient } from '@mysten/sui/grpc';
import { z } from 'zod';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { Metrics } from '../common/metrics.ts';
import { redactUrl } from '../common/redact-url.ts';
import { MalformedResponseError, UnavailableError } from './errors.ts';
import { createGrpcClient } from './grpc.ts';

/** One endpoint's health, as the pool reports it and other processes read it back from Redis. */
export const EndpointHealthSchema = z.object({
  url: z.string().describe('Redacted, like every URL the source shows'),
  role: z.enum(['primary', 'archive']),
  state: z.enum(['up', 'down', 'probing']).describe('`down`: put aside after consecutive failures until `retryAt`; `probing`: its cool-down is over and one call is trying it'),
  consecutiveFailures: z.number().int(),
  retryAt: z.string().nullable().describe('When a put-aside endpoint is tried again; null while it is up'),
  lowestAvailableCheckpoint: z.string().nullable().meta({ description: 'The lowest checkpoint it serves, as it last said; null until asked', example: '67456359' }),
  lastError: z.string().nullable(),
});

export type EndpointHealth = z.infer<typeof EndpointHealthSchema>;
type EndpointRole = EndpointHealth['role'];

/**
 * `url` is the endpoint as it may be shown: redacted (`redactUrl`), since the configured URL may
 * carry a provider's API key; only its client holds the URL itself.
 */
export type Endpoint = { readonly url: string; readonly role: EndpointRole; readonly client: SuiGrpcClient };

/** What came of one attempt at an endpoint: it answered (even with an error), it failed, or nothing is known. */
type AttemptOutcome = 'answered' | 'failed' | 'unknown';

/**
 * The endpoints a source reads from: full nodes in order of preference and an optional archival
 * node for history below their lowest available checkpoint. A call goes to the first healthy
 * full node that serves its checkpoint. An endpoint that fails `failuresToPutAside` times in a row
 * is put aside for `cooldownMs` (a circuit breaker); then one call probes it, and an answer puts
 * it back. When every candidate is put aside, the one due back first is asked anyway.
 */
export type EndpointPool = {
  readonly primaries: readonly Endpoint[];
  readonly archive: Endpoint | undefined;
  /** The endpoint for the next attempt; `avoid` is the one that just failed this call. */
  pick(route?: { checkpoint?: bigint; avoid?: Endpoint }): Endpoint;
  report(endpoint: Endpoint, outcome: AttemptOutcome, error?: unknown): void;
  /** Records what an endpoint said its lowest available checkpoint is. */
  learnLowest(endpoint: Endpoint, lowest: bigint): void;
  /** Endpoints other than `except` that may serve `checkpoint` (lowest unknown or at most it), archive last. */
  servingOthers(checkpoint: bigint, except: Endpoint): Endpoint[];
  health(): EndpointHealth[];
  describe(): string;
};

type EndpointPoolOptions = {
  urls: readonly string[];
  archiveUrl?: string;
  cooldownMs?: number;
  failuresToPutAside?: number;
  logger?: Logger;
  metrics?: Metrics;
};

type State = { failures: number; downUntil: number; probing: boolean; lowest: bigint | undefined; lastError: string | null };

/** Failures that say the endpoint itself is in trouble (as opposed to an answer about the request). */
export function isEndpointFailure(error: unknown): boolean {
  return error instanceof UnavailableError || error instanceof MalformedResponseError;
}

/**
 * The redacted URLs of the endpoints, told apart where redaction made them alike (the same host
 * with different keys): a full node by its position in SUI_GRPC_URL (`https://host/… [2]`), the
 * archival endpoint as `[archive]`.
 */
function showableNames(urls: readonly string[], archiveUrl: string | undefined): string[] {
  const redacted = [...urls, ...(archiveUrl === undefined ? [] : [archiveUrl])].map(redactUrl);
  const alike = (name: string) => redacted.filter((other) => other === name).length > 1;
  return redacted.map((name, index) => (alike(name) ? `${name} [${index < urls.length ? index + 1 : 'archive'}]` : name));
}

export function createEndpointPool(options: EndpointPoolOptions): EndpointPool {
  if (options.urls.length === 0) throw new RangeError('at least one Sui endpoint is needed');
  const cooldownMs = options.cooldownMs ?? 30_000;
  const threshold = options.failuresToPutAside ?? 3;
  const { logger, metrics } = options;
  const names = showableNames(options.urls, options.archiveUrl);
  const endpoint = (url: string, role: EndpointRole, name: string): Endpoint => ({ url: name, role, client: createGrpcClient(url) });
  const primaries = options.urls.map((url, index) => endpoint(url, 'primary', names[index]));
  const archive = options.archiveUrl ? endpoint(options.archiveUrl, 'archive', names[options.urls.length]) : undefined;
  const all = archive ? [...primaries, archive] : primaries;
  const states = new Map<Endpoint, State>(all.map((at) => [at, { failures: 0, downUntil: 0, probing: false, lowest: undefined, lastError: null }]));
  const state = (at: Endpoint) => states.get(at)!;
  for (const at of all) metrics?.rpcEndpointUp.set({ url: at.url, role: at.role }, 1);

  const healthy = (at: Endpoint) => state(at).failures < threshold;
  const dueBack = (at: Endpoint, now: number) => !healthy(at) && state(at).downUntil <= now && !state(at).probing;
  const serves = (at: Endpoint, checkpoint: bigint) => {
    const lowest = state(at).lowest;
    return lowest === undefined || checkpoint >= lowest;
  };

  const candidates = (checkpoint: bigint | undefined): readonly Endpoint[] => {
    if (checkpoint === undefined) return primaries;
    const serving = primaries.filter((at) => serves(at, checkpoint));
    if (serving.length > 0) return serving;
    return archive ? [archive] : primaries;
  };

  return {
    primaries,
    archive,
    pick(route = {}) {
      const now = performance.now();
      const list = candidates(route.checkpoint);
      for (const at of list) {
        if (healthy(at) && at !== route.avoid) return at;
        if (dueBack(at, now)) {
          state(at).probing = true;
          return at;
        }
      }
      const fallback = list.find(healthy);
      if (fallback) return fallback;
      return list.reduce((soonest, at) => (state(at).downUntil < state(soonest).downUntil ? at : soonest));
    },
    report(at, outcome, error) {
      const current = state(at);
      if (outcome === 'unknown') {
        current.probing = false;
        return;
      }
      if (outcome === 'answered') {
        if (!healthy(at)) {
          logger?.info({ url: at.url, role: at.role }, 'sui endpoint answers again; back in use');
          metrics?.rpcEndpointUp.set({ url: at.url, role: at.role }, 1);
        }
        current.failures = 0;
        current.downUntil = 0;
        current.probing = false;
        return;
      }
      current.failures++;
      current.lastError = errorMessage(error);
      const wasProbing = current.probing;
      current.probing = false;
      if (current.failures === threshold || (wasProbing && current.failures > threshold)) {
        current.downUntil = performance.now() + cooldownMs;
        logger?.warn(
          { url: at.url, role: at.role, failures: current.failures, cooldownMs, err: current.lastError },
          'sui endpoint put aside after consecutive failures; other endpoints answer until its cool-down ends',
        );
        metrics?.rpcEndpointUp.set({ url: at.url, role: at.role }, 0);
      }
    },
    learnLowest(at, lowest) {
      state(at).lowest = lowest;
    },
    servingOthers(checkpoint, except) {
      return all.filter((at) => at !== except && serves(at, checkpoint));
    },
    health() {
      const now = performance.now();
      return all.map((at) => {
        const current = state(at);
        const down = !healthy(at);
        return {
          url: at.url,
          role: at.role,
          state: !down ? 'up' : current.probing || current.downUntil <= now ? 'probing' : 'down',
          consecutiveFailures: current.failures,
          retryAt: down ? new Date(Date.now() + Math.max(0, current.downUntil - now)).toISOString() : null,
          lowestAvailableCheckpoint: current.lowest === undefined ? null : current.lowest.toString(),
          lastError: current.lastError,
        };
      });
    },
    describe: () => [primaries.map((at) => at.url).join(', '), archive ? ` (archive ${archive.url})` : ''].join(''),
  };
}
