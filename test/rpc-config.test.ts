import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimChain } from '../src/simnet/chain.ts';
import { createSimnetServer } from '../src/simnet/server.ts';
import { DEFAULT_BURST_SECONDS } from '../src/sui/budget.ts';
import { waitFor } from './helpers/backfill-checks.ts';
import { captureLogs } from './helpers/logs.ts';
import { spawnCli, waitForOutput, type Spawned } from './helpers/processes.ts';
import { freePort } from './helpers/servers.ts';
import { startStack, TEST_TOKEN, type Stack } from './helpers/stack.ts';

const POLL_MS = 500;

describe('/v1/config/rpc', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { RPC_REQUESTS_PER_SECOND: '40', RPC_CONCURRENCY: '8', RPC_SETTINGS_POLL_MS: String(POLL_MS), RPC_SHARED_BUDGET: 'true' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('validates the change, needs the token, and goes back to the environment on DELETE', async () => {
    const before = await stack.call('GET', '/v1/config/rpc');
    expect(before.status).toBe(200);
    // Nothing stored: each process applies its own environment's limits, as its state shows.
    expect(before.body.configured).toEqual({ requestsPerSecond: null, maxInFlight: null, source: 'environment', updatedAt: null, updatedBy: null });
    expect(before.body.complete).toBe(true);
    const self = before.body.processes.find((state: { id: string }) => state.id === stack.source.control.state().id);
    expect(self).toMatchObject({ requestsPerSecond: 40, effectiveRequestsPerSecond: 40, maxInFlight: 8, throttled: 0, backoffMs: 0, shared: true });
    expect(self.endpoints).toEqual([
      { url: stack.simnet.url, role: 'primary', state: 'up', consecutiveFailures: 0, retryAt: null, lowestAvailableCheckpoint: null, lastError: null },
    ]);

    const unauthorized = await stack.call('PUT', '/v1/config/rpc', { requestsPerSecond: 10 }, { authorization: '' });
    expect(unauthorized.status).toBe(401);
    for (const [body, message] of [
      [{ requestsPerSecond: 0 }, 'requestsPerSecond: expected an integer from 1 to 1000000'],
      [{ requestsPerSecond: 2.5 }, 'requestsPerSecond: expected an integer from 1 to 1000000'],
      [{ maxInFlight: 5000 }, 'maxInFlight: expected an integer from 1 to 1024'],
      [{}, 'requestsPerSecond: give requestsPerSecond, maxInFlight or both'],
      [{ requestsPerSecond: 10, burst: 3 }, 'body: unknown field(s) "burst"'],
    ] as const) {
      const refused = await stack.call('PUT', '/v1/config/rpc', body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.error.message).toBe(message);
    }
    expect((await stack.call('GET', '/v1/config/rpc')).body.configured.source).toBe('environment');

    // Recorded as X-Actor, like the backfill routes; the body's updatedBy only stands in without the header.
    const noted = await stack.call('PUT', '/v1/config/rpc', { maxInFlight: 6, updatedBy: 'ops' });
    expect(noted.body.configured).toMatchObject({ maxInFlight: 6, updatedBy: 'ops' });
    const changed = await stack.call('PUT', '/v1/config/rpc', { maxInFlight: 4, updatedBy: 'ignored' }, { 'x-actor': 'ops' });
    expect(changed.status).toBe(200);
    expect(changed.body.configured).toMatchObject({ requestsPerSecond: null, maxInFlight: 4, source: 'database', updatedBy: 'api:ops' });
    // Applied by the process that took the change before it answered.
    expect(stack.source.control.budget.stats()).toMatchObject({ requestsPerSecond: 40, maxInFlight: 4 });
    const [row] = await stack.database.sql`select requests_per_second, max_in_flight, updated_by from rpc_settings where scope = 'global'`;
    // The rate left out is not pinned to this process's environment value.
    expect(row).toEqual({ requests_per_second: null, max_in_flight: 4, updated_by: 'api:ops' });

    const reset = await stack.call('DELETE', '/v1/config/rpc');
    expect(reset.status).toBe(200);
    expect(reset.body.configured).toMatchObject({ requestsPerSecond: null, maxInFlight: null, source: 'environment' });
    expect(stack.source.control.budget.stats().maxInFlight).toBe(8);
    expect(await stack.database.sql`select 1 from rpc_settings`).toHaveLength(0);

    // Two partial changes at once, with no row and then over one: neither undoes the other.
    for (const [rate, cap] of [
      [30, 5],
      [25, 6],
    ]) {
      const both = await Promise.all([stack.call('PUT', '/v1/config/rpc', { requestsPerSecond: rate }), stack.call('PUT', '/v1/config/rpc', { maxInFlight: cap })]);
      expect(both.map((response) => response.status)).toEqual([200, 200]);
      expect(await stack.database.sql`select requests_per_second, max_in_flight from rpc_settings`).toEqual([{ requests_per_second: rate, max_in_flight: cap }]);
    }
    expect((await stack.call('DELETE', '/v1/config/rpc')).status).toBe(200);

    const metrics = await (await fetch(`${stack.api.url}/metrics`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).text();
    for (const name of ['sui_backfill_rpc_rate_limit', 'sui_backfill_rpc_rate_limit_effective', 'sui_backfill_rpc_achieved_rate', 'sui_backfill_rpc_throttled_total', 'sui_backfill_rpc_in_flight', 'sui_backfill_rpc_endpoint_up']) {
      expect(metrics).toMatch(new RegExp(`^${name}(\\{[^}]*\\})? `, 'm'));
    }
  });

  it('a new rate reaches a worker in another process within seconds, measured on the node', { timeout: 90_000 }, async () => {
    let worker: Spawned | undefined;
    try {
      // Its own RPC_CONCURRENCY, which a change of the rate alone must leave it.
      worker = spawnCli(['worker', '--no-migrate'], { ...stack.env, RPC_CONCURRENCY: '6', LOG_LEVEL: 'info' });
      await waitForOutput(worker, 'backfill worker started');
      const dex = stack.chain.package('dex');
      const from = stack.chain.publishCheckpoint(dex.originalId);
      // Long enough to outlast the measurements: about 3 s at 40/s, then up to 5 s at 120/s.
      const to = from + 999n;
      stack.simnet.resetStats();
      const posted = await stack.call('POST', '/v1/backfills', { packageId: dex.originalId, toCheckpoint: to.toString() });
      expect(posted.status).toBe(202);

      const served = () => stack.simnet.stats().requests.GetCheckpoint ?? 0;
      /** GetCheckpoint requests per second the node served over the next `ms`, timed as it really ran. */
      const measure = async (ms: number) => {
        const before = served();
        const started = performance.now();
        await sleep(ms);
        const seconds = (performance.now() - started) / 1_000;
        return { rate: (served() - before) / seconds, seconds };
      };
      // The bucket's promise: over T seconds at most rate·T calls plus one burst, which a worker
      // catching up after a pause (a collection, a busy core) may spend inside the window.
      const atMost = (rate: number, seconds: number) => rate + (rate * DEFAULT_BURST_SECONDS) / seconds;
      // Measure once the walk is under way: job pickup and package resolution come first.
      await waitFor('the walk to be under way', async () => served() >= 40);
      const slow = await measure(2_000);
      expect(slow.rate).toBeGreaterThan(20);
      expect(slow.rate).toBeLessThanOrEqual(atMost(40, slow.seconds));

      // From the PUT on, the node's counter is read every 250 ms: the rate since a second before
      // (or since the PUT) must pass what 40/s allows within one settings poll and two seconds.
      const changedAt = performance.now();
      const samples = [{ at: changedAt, count: served() }];
      expect((await stack.call('PUT', '/v1/config/rpc', { requestsPerSecond: 120 })).status).toBe(200);
      const bound = POLL_MS + 2_000;
      let fasterAfter: number | undefined;
      while (fasterAfter === undefined && performance.now() - changedAt < bound + 250) {
        await sleep(250);
        const now = { at: performance.now(), count: served() };
        const since = samples.find((sample) => now.at - sample.at <= 1_000) ?? samples[samples.length - 1];
        const seconds = (now.at - since.at) / 1_000;
        if ((now.count - since.count) / seconds > atMost(40, seconds)) fasterAfter = now.at - changedAt;
        samples.push(now);
      }
      expect(fasterAfter, `the rate stayed within 40/s for ${bound} ms after the PUT`).toBeDefined();
      expect(fasterAfter).toBeLessThanOrEqual(bound);

      const fast = await measure(2_000);
      expect(fast.rate).toBeGreaterThan(60);
      expect(fast.rate).toBeGreaterThan(2 * slow.rate);
      expect(fast.rate).toBeLessThanOrEqual(atMost(120, fast.seconds));

      const { body } = await stack.call('GET', '/v1/config/rpc');
      const remote = body.processes.find((state: { process: string; pid: number }) => state.process === 'worker' && state.pid === worker!.child.pid);
      expect(remote).toMatchObject({ requestsPerSecond: 120, maxInFlight: 6, shared: true });
      expect(stack.source.control.state()).toMatchObject({ requestsPerSecond: 120, maxInFlight: 8 });
      expect(body.configured).toMatchObject({ requestsPerSecond: 120, maxInFlight: null, source: 'database' });
      // Its own count over its last seconds, slow and fast calls both inside: above the slow rate.
      expect(remote.achievedRequestsPerSecond).toBeGreaterThan(slow.rate);
      expect(body.totals.processes).toBe(2);

      const done = await stack.waitForStatus(posted.body.id, ['completed', 'failed']);
      expect(done.status).toBe('completed');
      expect(await stack.objects()).toEqual(stack.truth(dex.originalId, 'outer', from, to));
    } finally {
      worker?.kill('SIGTERM');
      expect((await worker?.exited)?.code).toBe(0);
      await stack.call('DELETE', '/v1/config/rpc');
    }
  });
});

describe('endpoint URLs holding API keys', () => {
  it('reach the node with their keys, and are shown redacted in GET /v1/config/rpc, errors, logs and /metrics', { timeout: 60_000 }, async () => {
    const KEYS = ['PATHKEY', 'QUERYKEY', 'USERKEY'];
    const node = await createSimnetServer({ chain: createSimChain({ checkpoints: 100 }) });
    const host = new URL(node.url).host;
    // Nothing listens there: its calls fail and it is put aside.
    const refusing = `127.0.0.1:${await freePort()}`;
    const { logger, lines } = captureLogs();
    const stack = await startStack({ logger, env: { SUI_GRPC_URL: `http://${refusing}/v1/PATHKEY,http://${host}/?apikey=QUERYKEY,http://user:USERKEY@${host}` } });
    try {
      // Three calls fail at the first node (each answered by the next), which puts it aside; then
      // both others are asked, each with its key in the query or the userinfo.
      for (let i = 0; i < 3; i++) await stack.source.getServiceInfo();
      const before = node.stats().requests.GetServiceInfo ?? 0;
      const lowest = await stack.source.fullNodesLowestAvailable();
      expect(node.stats().requests.GetServiceInfo).toBe(before + 2);

      const { status, body } = await stack.call('GET', '/v1/config/rpc');
      expect(status).toBe(200);
      const self = body.processes.find((state: { id: string }) => state.id === stack.source.control.state().id);
      const answering = { role: 'primary', state: 'up', consecutiveFailures: 0, retryAt: null, lowestAvailableCheckpoint: String(lowest), lastError: null };
      expect(self.endpoints).toEqual([
        {
          url: `http://${refusing}/…`,
          role: 'primary',
          state: 'down',
          consecutiveFailures: 3,
          retryAt: expect.any(String),
          lowestAvailableCheckpoint: null,
          lastError: expect.stringMatching(new RegExp(`^getServiceInfo\\(\\) at http://${refusing}/…: `)),
        },
        { url: `http://${host}/… [2]`, ...answering },
        { url: `http://${host}/… [3]`, ...answering },
      ]);
      const metrics = await (await fetch(`${stack.api.url}/metrics`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).text();
      expect(metrics).toContain(`sui_backfill_rpc_endpoint_up{url="http://${refusing}/…",role="primary"} 0`);
      expect(lines.map((line) => line.msg)).toContain('sui endpoint put aside after consecutive failures; other endpoints answer until its cool-down ends');
      for (const text of [JSON.stringify(body), metrics, JSON.stringify(lines), stack.source.describeEndpoint()]) for (const key of KEYS) expect(text).not.toContain(key);
    } finally {
      await stack.close();
      await node.close();
    }
  });
});
