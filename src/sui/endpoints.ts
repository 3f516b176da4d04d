import type { SuiGrpcClient } from '@mysten/sui/grpc';
import { z } from 'zod';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/logger.ts';
import type { Metrics } from '../common/metrics.ts';
import { redactUrl } from '../common/redact-url.ts';
import { EndpointRefusedError, MalformedResponseError, UnavailableError } from './errors.ts';
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
 * candidate for its checkpoint: the full nodes that may serve it (lowest unknown or at most it),
 * then the archive if it may serve it too; with no full node that may, the archive alone. An
 * endpoint that fails `failuresToPutAside` times in a row is put aside for `cooldownMs` (a circuit
 * breaker); then one call probes it, and an answer puts it back. When every candidate is put
 * aside, the one due back first is asked anyway. An endpoint recently seen behind a checkpoint
 * (its tip below it) is asked for it only after the others.
 */
export type EndpointPool = {
  readonly primaries: readonly Endpoint[];
  readonly archive: Endpoint | undefined;
  /**
   * The endpoint for the next attempt; `avoid` is the one that just failed this call, `exclude`
   * those it must not ask again (they refused our credentials). Undefined only when every
   * candidate is excluded.
   */
  pick(route?: { checkpoint?: bigint; avoid?: Endpoint; exclude?: ReadonlySet<Endpoint> }): Endpoint | undefined;
  report(endpoint: Endpoint, outcome: AttemptOutcome, error?: unknown): void;
  /** Records what an endpoint said its lowest available checkpoint is. */
  learnLowest(endpoint: Endpoint, lowest: bigint): void;
  /**
   * Records what an endpoint said its tip is (`getServiceInfo`), or a checkpoint it served: then
   * its tip is at least that, and a lower one it said is out of date.
   */
  learnTip(endpoint: Endpoint, tip: bigint, how: 'said' | 'served'): void;
  /** The highest checkpoint any endpoint said it has or served: every checkpoint up to it exists. */
  highestTip(): bigint | undefined;
  /** Endpoints other than `except` that may serve `checkpoint` (lowest unknown or at most it), archive last. */
  servingOthers(checkpoint: bigint, except: Endpoint): Endpoint[];
  /** Full nodes other than `except` that may have reached `checkpoint`: none was seen behind it lately. */
  aheadOthers(checkpoint: bigint, except: Endpoint): Endpoint[];
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

type State = {
  failures: number;
  downUntil: number;
  probing: boolean;
  lowest: bigint | undefined;
  /** Its tip as it last said it, and when (performance.now()); undefined once it served a checkpoint above it. */
  tip: bigint | undefined;
  tipAt: number;
  lastError: string | null;
};

/**
 * How long a node seen behind a checkpoint is asked for it only after the others: it catches up,
 * and is tried again first once this has passed.
 */
const BEHIND_FOR_MS = 5_000;

/**
 * Failures that say the endpoint itself is in trouble (as opposed to an answer about the request):
 * no answer, a garbled one, or a refusal of our credentials.
 */
export function isEndpointFailure(error: unknown): boolean {
  return error instanceof UnavailableError || error instanceof MalformedResponseError || error instanceof EndpointRefusedError;
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
  const states = new Map<Endpoint, State>(all.map((at) => [at, { failures: 0, downUntil: 0, probing: false, lowest: undefined, tip: undefined, tipAt: 0, lastError: null }]));
  let highest: bigint | undefined;
  const state = (at: Endpoint) => states.get(at)!;
  for (const at of all) metrics?.rpcEndpointUp.set({ url: at.url, role: at.role }, 1);

  const healthy = (at: Endpoint) => state(at).failures < threshold;
  const dueBack = (at: Endpoint, now: number) => !healthy(at) && state(at).downUntil <= now && !state(at).probing;
  const serves = (at: Endpoint, checkpoint: bigint) => {
    const lowest = state(at).lowest;
    return lowest === undefined || checkpoint >= lowest;
  };

  const behind = (at: Endpoint, checkpoint: bigint) => {
    const { tip, tipAt } = state(at);
    return tip !== undefined && tip < checkpoint && performance.now() - tipAt < BEHIND_FOR_MS;
  };

  /**
   * The endpoints to ask for `checkpoint`, in order: the full nodes that may serve it, then the
   * archive if it may too (it is for history they pruned, so never ahead of a healthy one). `pick`
   * passes over those put aside, so a full node that is down, or never answered and so never said
   * what it pruned (it counts as serving everything), does not hide the archive. Those seen behind
   * it come last, in the same order.
   */
  const candidates = (checkpoint: bigint | undefined): readonly Endpoint[] => {
    if (checkpoint === undefined) return primaries;
    const serving = primaries.filter((at) => serves(at, checkpoint));
    if (serving.length === 0) return archive ? [archive] : primaries;
    const asked = archive && serves(archive, checkpoint) ? [...serving, archive] : serving;
    return [...asked.filter((at) => !behind(at, checkpoint)), ...asked.filter((at) => behind(at, checkpoint))];
  };

  return {
    primaries,
    archive,
    pick(route = {}) {
      const now = performance.now();
      const list = candidates(route.checkpoint).filter((at) => !route.exclude?.has(at));
      if (list.length === 0) return undefined;
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
    learnTip(at, tip, how) {
      const current = state(at);
      // What it said replaces what we knew: a replica behind a load balancer may answer lower.
      if (how === 'said') {
        current.tip = tip;
        current.tipAt = performance.now();
      } else if (current.tip !== undefined && tip > current.tip) {
        current.tip = undefined;
      }
      if (highest === undefined || tip > highest) highest = tip;
    },
    highestTip: () => highest,
    servingOthers(checkpoint, except) {
      return all.filter((at) => at !== except && serves(at, checkpoint));
    },
    aheadOthers(checkpoint, except) {
      return primaries.filter((at) => at !== except && serves(at, checkpoint) && !behind(at, checkpoint));
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
