import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { createMetrics } from '../common/metrics.ts';
import { captureLogs } from '../../test/helpers/logs.ts';
import { createEndpointPool, isEndpointFailure } from './endpoints.ts';
import { EndpointRefusedError, NotFoundError, RateLimitedError, UnavailableError } from './errors.ts';

const A = 'http://a.example:9000';
const B = 'http://b.example:9000';
const ARCHIVE = 'http://archive.example:9000';
const down = () => new UnavailableError('connection refused', 'network');

describe('createEndpointPool', () => {
  it('prefers the first full node, and another one for the retry of a call that just failed there', () => {
    const pool = createEndpointPool({ urls: [A, B] });
    const [a, b] = pool.primaries;
    expect(pool.pick()).toBe(a);
    expect(pool.pick({ avoid: a })).toBe(b);
    expect(pool.describe()).toBe(`${A}, ${B}`);
  });

  it('puts an endpoint aside after three failures in a row; answers of any kind reset the count', async () => {
    const pool = createEndpointPool({ urls: [A, B], cooldownMs: 100 });
    const [a, b] = pool.primaries;
    pool.report(a, 'failed', down());
    pool.report(a, 'failed', down());
    // NOT_FOUND or a rate limit is the node answering.
    pool.report(a, 'answered', new NotFoundError('no such object'));
    pool.report(a, 'failed', down());
    pool.report(a, 'failed', down());
    expect(pool.pick()).toBe(a);
    pool.report(a, 'failed', down());
    expect(pool.pick()).toBe(b);
    expect(pool.health()[0]).toMatchObject({ url: A, state: 'down', consecutiveFailures: 3, lastError: 'connection refused' });
    expect(pool.health()[1]).toMatchObject({ url: B, state: 'up', retryAt: null });

    // After the cool-down one call probes it while the others keep going elsewhere.
    await sleep(120);
    expect(pool.health()[0].state).toBe('probing');
    expect(pool.pick()).toBe(a);
    expect(pool.pick()).toBe(b);
    // A failed probe puts it aside again at once; an answered one brings it back.
    pool.report(a, 'failed', down());
    expect(pool.pick()).toBe(b);
    await sleep(120);
    expect(pool.pick()).toBe(a);
    pool.report(a, 'answered');
    expect(pool.health()[0]).toMatchObject({ state: 'up', consecutiveFailures: 0 });
    expect(pool.pick()).toBe(a);
  });

  it('with every endpoint put aside, asks the one due back first rather than none', () => {
    const pool = createEndpointPool({ urls: [A, B], cooldownMs: 60_000 });
    const [a, b] = pool.primaries;
    for (let i = 0; i < 3; i++) pool.report(b, 'failed', down());
    for (let i = 0; i < 3; i++) pool.report(a, 'failed', down());
    expect(pool.pick()).toBe(b);
  });

  it('sends a checkpoint below what the full nodes serve to the archive, once their lowest is known', () => {
    const pool = createEndpointPool({ urls: [A, B], archiveUrl: ARCHIVE });
    const [a, b] = pool.primaries;
    expect(pool.pick({ checkpoint: 10n })).toBe(a);
    pool.learnLowest(a, 100n);
    expect(pool.pick({ checkpoint: 10n })).toBe(b);
    expect(pool.servingOthers(10n, a)).toEqual([b, pool.archive]);
    pool.learnLowest(b, 50n);
    expect(pool.pick({ checkpoint: 10n })).toBe(pool.archive);
    expect(pool.pick({ checkpoint: 60n })).toBe(b);
    expect(pool.pick({ checkpoint: 100n })).toBe(a);
    expect(pool.pick()).toBe(a);
    pool.learnLowest(pool.archive!, 20n);
    expect(pool.servingOthers(10n, b)).toEqual([]);
    expect(pool.describe()).toBe(`${A}, ${B} (archive ${ARCHIVE})`);
    expect(pool.health().map((endpoint) => [endpoint.role, endpoint.lowestAvailableCheckpoint])).toEqual([
      ['primary', '100'],
      ['primary', '50'],
      ['archive', '20'],
    ]);
  });

  it('a full node put aside, or one that just failed, does not hide the archive: healthy full nodes that may serve a checkpoint, then the archive, then those put aside', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const pool = createEndpointPool({ urls: [A, B], archiveUrl: ARCHIVE, cooldownMs: 10_000 });
      const [a, b] = pool.primaries;
      const archive = pool.archive!;
      pool.learnLowest(b, 1_000n);
      // A never said what it pruned: it may serve 120, and is asked first while it is healthy.
      expect(pool.pick({ checkpoint: 120n })).toBe(a);
      expect(pool.pick({ checkpoint: 120n, avoid: a })).toBe(archive);
      for (let i = 0; i < 3; i++) pool.report(a, 'failed', down());
      expect(pool.pick({ checkpoint: 120n })).toBe(archive);
      expect(pool.pick({ checkpoint: 1_500n })).toBe(b);
      expect(pool.pick({ checkpoint: 1_500n, avoid: b })).toBe(archive);
      // Once its cool-down is over, one call probes it; the others keep going to the archive.
      vi.advanceTimersByTime(10_000);
      expect(pool.pick({ checkpoint: 120n })).toBe(a);
      expect(pool.pick({ checkpoint: 120n })).toBe(archive);
      pool.report(a, 'failed', down());
      expect(pool.pick({ checkpoint: 120n })).toBe(archive);
      // The archive put aside too: the one due back first is asked.
      vi.advanceTimersByTime(1_000);
      for (let i = 0; i < 3; i++) pool.report(archive, 'failed', down());
      expect(pool.pick({ checkpoint: 120n })).toBe(a);
      vi.advanceTimersByTime(9_500);
      expect(pool.pick({ checkpoint: 120n })).toBe(a);
      // An archive that said it does not have a checkpoint is not asked for it while a full node may serve it.
      pool.report(archive, 'answered');
      pool.learnLowest(archive, 200n);
      expect(pool.pick({ checkpoint: 120n, avoid: a })).toBe(a);
      expect(pool.pick({ checkpoint: 150n })).toBe(a);
    } finally {
      vi.useRealTimers();
    }
  });

  it('without an archive, a pruned checkpoint still goes to a full node (which says what it pruned)', () => {
    const pool = createEndpointPool({ urls: [A] });
    pool.learnLowest(pool.primaries[0], 100n);
    expect(pool.pick({ checkpoint: 10n })).toBe(pool.primaries[0]);
    expect(pool.servingOthers(10n, pool.primaries[0])).toEqual([]);
  });

  it('an endpoint refusing our credentials is failing; a call excludes those that refused it, and learns when none is left', () => {
    const pool = createEndpointPool({ urls: [A, B], cooldownMs: 60_000 });
    const [a, b] = pool.primaries;
    const refused = new EndpointRefusedError('invalid api key');
    expect(isEndpointFailure(refused)).toBe(true);
    expect(pool.pick({ exclude: new Set([a]) })).toBe(b);
    expect(pool.pick({ exclude: new Set([a, b]) })).toBeUndefined();
    for (let i = 0; i < 3; i++) pool.report(a, 'failed', refused);
    expect(pool.health()[0]).toMatchObject({ state: 'down', lastError: 'invalid api key' });
    expect(pool.pick()).toBe(b);
    // Put aside or not, an excluded endpoint is never the fallback.
    expect(pool.pick({ exclude: new Set([b]) })).toBe(a);
    expect(pool.pick({ exclude: new Set([b, a]) })).toBeUndefined();
  });

  it('asks a node seen behind a checkpoint for it after the others, for a while; every checkpoint up to the highest tip seen exists', async () => {
    const pool = createEndpointPool({ urls: [A, B] });
    const [a, b] = pool.primaries;
    expect(pool.highestTip()).toBeUndefined();
    pool.learnTip(a, 190n, 'said');
    expect(pool.highestTip()).toBe(190n);
    expect(pool.pick({ checkpoint: 190n })).toBe(a);
    expect(pool.pick({ checkpoint: 195n })).toBe(b);
    expect(pool.aheadOthers(195n, b)).toEqual([]);
    expect(pool.aheadOthers(195n, a)).toEqual([b]);
    // A checkpoint served says it exists, not that the node has nothing above it.
    pool.learnTip(b, 300n, 'served');
    pool.learnTip(b, 250n, 'served');
    expect(pool.highestTip()).toBe(300n);
    expect(pool.pick({ checkpoint: 301n })).toBe(b);
    // What a node says replaces what it said before, lower or not; what it served above that says it caught up.
    pool.learnTip(a, 180n, 'said');
    expect(pool.pick({ checkpoint: 185n })).toBe(b);
    pool.learnTip(a, 186n, 'served');
    expect(pool.pick({ checkpoint: 200n })).toBe(a);
    expect(pool.highestTip()).toBe(300n);
    // Both behind: the preferred one first, then the other.
    pool.learnTip(a, 190n, 'said');
    pool.learnTip(b, 195n, 'said');
    expect(pool.pick({ checkpoint: 400n })).toBe(a);
    expect(pool.pick({ checkpoint: 400n, avoid: a })).toBe(b);
  });

  it('asks a node seen behind first again once 5 s have passed: it catches up', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const pool = createEndpointPool({ urls: [A, B] });
      const [a, b] = pool.primaries;
      pool.learnTip(a, 190n, 'said');
      vi.advanceTimersByTime(4_900);
      expect(pool.pick({ checkpoint: 195n })).toBe(b);
      vi.advanceTimersByTime(200);
      expect(pool.pick({ checkpoint: 195n })).toBe(a);
      expect(pool.aheadOthers(195n, b)).toEqual([a]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a rate-limit reply is an answer, not a failing endpoint', () => {
    const pool = createEndpointPool({ urls: [A, B] });
    const [a] = pool.primaries;
    for (let i = 0; i < 5; i++) pool.report(a, 'answered', new RateLimitedError('slow down'));
    expect(pool.pick()).toBe(a);
  });

  it('shows endpoints redacted in health, logs and metric labels, told apart by position where they look alike', async () => {
    const KEYS = ['PATHKEY', 'QUERYKEY', 'USERKEY', 'ARCHIVEKEY'];
    const { logger, lines } = captureLogs();
    const metrics = createMetrics();
    const pool = createEndpointPool({
      urls: ['https://sui.provider.example/v1/PATHKEY', 'https://sui.provider.example/?apikey=QUERYKEY', 'https://user:USERKEY@other.example:8443'],
      archiveUrl: 'https://archive.example/ARCHIVEKEY',
      logger,
      metrics,
    });
    const [a, b, c] = pool.primaries;
    for (const at of [a, b, c, pool.archive!]) for (let i = 0; i < 3; i++) pool.report(at, 'failed', down());
    pool.report(c, 'answered');
    expect(pool.health().map(({ url, role, state }) => [url, role, state])).toEqual([
      ['https://sui.provider.example/… [1]', 'primary', 'down'],
      ['https://sui.provider.example/… [2]', 'primary', 'down'],
      ['https://other.example:8443/…', 'primary', 'up'],
      ['https://archive.example/…', 'archive', 'down'],
    ]);
    expect(pool.describe()).toBe('https://sui.provider.example/… [1], https://sui.provider.example/… [2], https://other.example:8443/… (archive https://archive.example/…)');
    expect(lines.map((line) => [line.msg, line.url])).toEqual([
      ...[a, b, c, pool.archive!].map((at) => ['sui endpoint put aside after consecutive failures; other endpoints answer until its cool-down ends', at.url]),
      ['sui endpoint answers again; back in use', 'https://other.example:8443/…'],
    ]);
    const exposed = await metrics.registry.getSingleMetricAsString('sui_backfill_rpc_endpoint_up');
    expect(exposed).toContain('sui_backfill_rpc_endpoint_up{url="https://sui.provider.example/… [2]",role="primary"} 0');
    expect(exposed).toContain('sui_backfill_rpc_endpoint_up{url="https://other.example:8443/…",role="primary"} 1');
    for (const text of [JSON.stringify(pool.health()), JSON.stringify(lines), exposed, pool.describe()]) for (const key of KEYS) expect(text).not.toContain(key);
  });
});
