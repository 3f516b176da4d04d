/**
 * `npm run bench`: throughput of the backfill worker against the simulator with per-request
 * latency, next to two baselines measured in the same run: the RPC bound (a raw fetch loop with
 * the same client and concurrency, no database) and a naive sequential loop (one checkpoint at a
 * time, row-by-row inserts, over windows spread evenly across the same range). Then politeness:
 * with the simulator limiting to 100 requests/s and the worker configured at 100/s, the share of
 * the limit it achieves and the rate-limit replies it drew. Alongside, what serving costs the
 * simulator (its CPU per checkpoint), so the figures can be seen to measure this project and not
 * the simulator. Prints one JSON line of figures on stdout (logs go to stderr); exits 1 when a
 * target is missed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import postgres from 'postgres';
import { createIntake } from '../src/backfill/intake.ts';
import { createBackfillQueue } from '../src/backfill/queue.ts';
import { loadConfig } from '../src/common/config.ts';
import type { Common } from '../src/common/context.ts';
import { createMetrics } from '../src/common/metrics.ts';
import { createShutdown } from '../src/common/shutdown.ts';
import { createDb } from '../src/db/client.ts';
import { createRpcBudget, DEFAULT_BURST_SECONDS } from '../src/sui/budget.ts';
import { extractObjectVersions } from '../src/sui/object-versions.ts';
import { createSuiSource } from '../src/sui/source.ts';
import { createFamilyMatcher } from '../src/sui/types.ts';
import {
  REDIS_URL,
  cpuMs,
  dropDatabase,
  emptyQueue,
  freshDatabase,
  peakRssMb,
  resetSimnetStats,
  setSimnetKnobs,
  simnetStats,
  startCli,
  startSimnetProcess,
  totalRequests,
} from './harness.ts';

const HELP = `Usage: npm run bench -- [options]

Options:
  --checkpoints N       simulated chain length (default 21000; the walk covers ~98% of it)
  --latency-ms N        latency the simulator adds to every request (default 20)
  --concurrency N       RPC requests in flight (default 32)
  --chunk-size N        worker chunk size (default 100, the BACKFILL_CHUNK_SIZE default)
  --sweep LIST          also time the worker at these chunk sizes, e.g. 25,100,400
  --sequential N        checkpoints walked by the sequential baseline (default 600), in
  --sequential-windows N  windows of consecutive checkpoints spread evenly over the worker's
                        range (default 12)
  --rate-limit N        requests/s the simulator allows (and the worker is configured at) in the
                        rate-limited run (default 100)
  --rate-limited-checkpoints N  checkpoints of the rate-limited run (default 2000)
  --run-timeout-s N     give up on a worker run after N seconds (default 900)
  -h, --help            show this help`;

const { values } = parseArgs({
  options: {
    checkpoints: { type: 'string', default: '21000' },
    'latency-ms': { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '32' },
    'chunk-size': { type: 'string', default: '100' },
    sweep: { type: 'string' },
    sequential: { type: 'string', default: '600' },
    'sequential-windows': { type: 'string', default: '12' },
    'rate-limit': { type: 'string', default: '100' },
    'rate-limited-checkpoints': { type: 'string', default: '2000' },
    'run-timeout-s': { type: 'string', default: '900' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

const concurrency = Number(values.concurrency);
const log = (message: string) => process.stderr.write(`bench: ${message}\n`);
const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

// Room for every response of the walk (about 15 kB each), so the warm-up pass below fills it.
const simnet = await startSimnetProcess(['--checkpoints', values.checkpoints, '--latency-ms', values['latency-ms'], '--response-cache-mb', '1024']);

/** The simulator's CPU from now until the returned function is called, per checkpoint served. */
const servingCost = () => {
  const cpu = cpuMs(simnet.pid);
  const wall = performance.now();
  return (checkpoints: number) => {
    const used = cpuMs(simnet.pid) - cpu;
    return { checkpoints, cpuMsPerCheckpoint: round(used / checkpoints, 3), shareOfOneCore: round(used / (performance.now() - wall), 3) };
  };
};

try {
  const packageId = simnet.packages.dex;
  const env = {
    SUI_GRPC_URL: simnet.url,
    REDIS_URL,
    RPC_CONCURRENCY: String(concurrency),
    RPC_REQUESTS_PER_SECOND: '1000000',
  };
  // Logs on stderr: stdout carries nothing but the JSON line.
  const logger = pino({ level: 'warn', base: { process: 'bench' } }, pino.destination(2));
  const common: Common = { config: loadConfig(env), logger, metrics: createMetrics(), shutdown: createShutdown(logger) };
  const source = createSuiSource({ url: simnet.url, timeoutMs: 30_000, maxRetries: 3, budget: createRpcBudget({ requestsPerSecond: 1e6, maxInFlight: concurrency }) });
  const resolved = await source.resolvePackage(packageId);
  const tip = (await source.getServiceInfo()).checkpointHeight;
  const from = resolved.publishCheckpoint ?? 0n;
  const checkpoints = Number(tip - from + 1n);
  log(`chain of ${values.checkpoints} checkpoints, ${values['latency-ms']} ms latency, walking dex ${from}..${tip} (${checkpoints} checkpoints)`);

  /** Every checkpoint of the walk through the client alone: decoded, then dropped. */
  const fetchAll = async () => {
    for await (const _ of source.getCheckpoints(from, tip, { concurrency }));
  };

  // The simulator stands in for a full node on another machine, yet shares these two cores: one
  // unmeasured pass fills its response cache, so in the measured runs serving costs little more
  // than a cache hit and the figures measure this project rather than the simulator's generator.
  let started = performance.now();
  let serving = servingCost();
  await fetchAll();
  const coldServing = serving(checkpoints);
  log(`simulator warmed in ${round((performance.now() - started) / 1000)} s, ${coldServing.cpuMsPerCheckpoint} ms of its CPU per checkpoint`);

  // (a) The RPC bound: same client and concurrency, decode only, no database.
  await resetSimnetStats(simnet.url);
  serving = servingCost();
  started = performance.now();
  await fetchAll();
  const rawSeconds = (performance.now() - started) / 1000;
  const rawServing = serving(checkpoints);
  const raw = { checkpointsPerSecond: round(checkpoints / rawSeconds), requestsPerCheckpoint: round(totalRequests(await simnetStats(simnet.url)) / checkpoints, 3) };
  log(`raw fetch: ${raw.checkpointsPerSecond} checkpoints/s`);

  // (c) The worker, in its own process, on a fresh database.
  const runTimeoutMs = Number(values['run-timeout-s']) * 1000;
  const runWorker = async (chunkSize: number, limited: { requestsPerSecond: number; to: bigint } | undefined = undefined) => {
    const name = `sui_backfill_bench_${chunkSize}${limited ? '_limited' : ''}`;
    const databaseUrl = await freshDatabase(name);
    const prefix = `sui-backfill-bench-${chunkSize}`;
    await emptyQueue(prefix);
    const workerEnv = {
      ...env,
      DATABASE_URL: databaseUrl,
      REDIS_PREFIX: prefix,
      BACKFILL_CHUNK_SIZE: String(chunkSize),
      WORKER_CONCURRENCY: '1',
      LOG_LEVEL: 'info',
      ...(limited ? { RPC_REQUESTS_PER_SECOND: String(limited.requestsPerSecond) } : {}),
    };
    const to = limited?.to ?? tip;
    const walked = Number(to - from + 1n);
    const worker = startCli(['worker', '--no-migrate'], workerEnv);
    const db = createDb(databaseUrl, { max: 2 });
    const queue = createBackfillQueue({ redisUrl: REDIS_URL, prefix });
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await worker.waitFor('backfill worker started', 60_000);
      await resetSimnetStats(simnet.url);
      const served = servingCost();
      const intake = createIntake(common, db, source, queue);
      const { request } = await intake.submit({ packageId, match: 'anywhere', toCheckpoint: to });
      const deadline = Date.now() + runTimeoutMs;
      let row;
      for (;;) {
        [row] = await sql`
          select r.status, extract(epoch from r.finished_at - r.started_at) as seconds, w.objects_matched, w.rows_inserted, w.checkpoint_hi_inclusive
          from package_backfill_requests r join package_backfill_watermarks w on w.request_id = r.id where r.id = ${request.id}`;
        if (row && ['completed', 'failed'].includes(row.status)) break;
        if (Date.now() > deadline) throw new Error(`worker backfill still ${row?.status ?? 'not started'} after ${values['run-timeout-s']} s (watermark ${row?.checkpoint_hi_inclusive ?? '-'} of ${to})`);
        await sleep(100);
      }
      if (row.status !== 'completed') throw new Error(`worker backfill ${row.status}`);
      const simulator = served(walked);
      const stats = await simnetStats(simnet.url);
      const requests = totalRequests(stats);
      const seconds = Number(row.seconds);
      return {
        chunkSize,
        checkpoints: walked,
        seconds,
        checkpointsPerSecond: round(walked / seconds),
        matchedObjectsPerSecond: round(Number(row.objects_matched) / seconds),
        objectsMatched: Number(row.objects_matched),
        rpcRequestsPerCheckpoint: round(requests / walked, 3),
        throttled: stats.throttled,
        peakRssMb: peakRssMb(worker.pid),
        simulator,
      };
    } finally {
      await sql.end();
      await worker.stop();
      await queue.close();
      await db.close();
      await dropDatabase(name);
    }
  };
  const { simulator: workerServing, ...workerFigures } = await runWorker(Number(values['chunk-size']));
  log(`worker: ${workerFigures.checkpointsPerSecond} checkpoints/s, ${workerFigures.matchedObjectsPerSecond} matched objects/s`);
  const sweep = [];
  for (const size of (values.sweep ?? '').split(',').filter(Boolean).map(Number)) {
    const figures = await runWorker(size);
    log(`worker at chunk size ${size}: ${figures.checkpointsPerSecond} checkpoints/s`);
    sweep.push({ chunkSize: size, checkpointsPerSecond: figures.checkpointsPerSecond });
  }

  // (d) Politeness: the simulator allows `rate-limit` requests/s, the worker is configured at as many.
  const limit = Number(values['rate-limit']);
  await setSimnetKnobs(simnet.url, { rateLimitRps: limit });
  const limitedTo = from + BigInt(Math.min(Number(values['rate-limited-checkpoints']), checkpoints) - 1);
  const limitedFigures = await runWorker(Number(values['chunk-size']), { requestsPerSecond: limit, to: limitedTo }).finally(() => setSimnetKnobs(simnet.url, { rateLimitRps: 0 }));
  // The budget starts with a full bucket (DEFAULT_BURST_SECONDS of tokens), spent at once; the
  // sustained rate is what the rest of the run achieved.
  const burstCheckpoints = (limit * DEFAULT_BURST_SECONDS) / limitedFigures.rpcRequestsPerCheckpoint;
  const rateLimited = {
    limitRps: limit,
    configuredRps: limit,
    checkpoints: limitedFigures.checkpoints,
    checkpointsPerSecond: limitedFigures.checkpointsPerSecond,
    rpcRequestsPerCheckpoint: limitedFigures.rpcRequestsPerCheckpoint,
    burstCheckpoints: round(burstCheckpoints),
    fractionOfLimit: round((limitedFigures.checkpoints - burstCheckpoints) / limitedFigures.seconds / limit, 3),
    throttled: limitedFigures.throttled,
  };
  log(`rate-limited at ${limit}/s: ${rateLimited.checkpointsPerSecond} checkpoints/s (${rateLimited.fractionOfLimit} of the limit after the burst), ${rateLimited.throttled} throttled`);

  // (b) What a first attempt looks like: one checkpoint at a time, one INSERT per row, over windows
  // spread evenly across the worker's range so that it meets the same mix of object density.
  const windows = Math.max(1, Number(values['sequential-windows']));
  const windowLength = Math.max(1, Math.ceil(Math.min(Number(values.sequential), checkpoints) / windows));
  const starts = Array.from({ length: windows }, (_, index) =>
    from + BigInt(windows === 1 ? 0 : Math.floor((index * Math.max(0, checkpoints - windowLength)) / (windows - 1))),
  );
  const seqName = 'sui_backfill_bench_sequential';
  const seqSql = postgres(await freshDatabase(seqName), { max: 1, onnotice: () => {} });
  const matches = createFamilyMatcher(resolved.familyIds, 'anywhere');
  let sequentialCheckpoints = 0;
  let sequentialObjects = 0;
  serving = servingCost();
  started = performance.now();
  for (const start of starts) {
    for (let seq = start; seq < start + BigInt(windowLength) && seq <= tip; seq++) {
      const rows = extractObjectVersions(await source.getCheckpoint(seq), matches);
      sequentialCheckpoints++;
      sequentialObjects += rows.length;
      for (const row of rows) {
        await seqSql`insert into sui_objects (object_id, version, object_type, type_package, type_module, type_name, owner_kind,
          owner_address, checkpoint, tx_digest, object_digest, change) values (${row.objectId}, ${row.version.toString()}, ${row.objectType},
          ${row.typePackage}, ${row.typeModule}, ${row.typeName}, ${row.ownerKind}, ${row.ownerAddress}, ${row.checkpoint.toString()},
          ${row.txDigest}, ${row.objectDigest}, ${row.change}) on conflict do nothing`;
      }
    }
  }
  const sequentialSeconds = (performance.now() - started) / 1000;
  const sequential = {
    checkpoints: sequentialCheckpoints,
    windows,
    windowLength,
    checkpointsPerSecond: round(sequentialCheckpoints / sequentialSeconds),
    objectsMatched: sequentialObjects,
    matchedObjectsPerSecond: round(sequentialObjects / sequentialSeconds),
  };
  const sequentialServing = serving(sequentialCheckpoints);
  await seqSql.end();
  await dropDatabase(seqName);
  log(`sequential: ${sequential.checkpointsPerSecond} checkpoints/s, ${sequential.matchedObjectsPerSecond} matched objects/s`);

  const ratios = {
    workerVsRaw: round(workerFigures.checkpointsPerSecond / raw.checkpointsPerSecond, 3),
    workerVsSequential: round(workerFigures.checkpointsPerSecond / sequential.checkpointsPerSecond, 1),
    workerVsSequentialPerObject: round(workerFigures.matchedObjectsPerSecond / sequential.matchedObjectsPerSecond, 1),
  };
  const target = (value: number, bound: number, atLeast = true) => ({ value, target: atLeast ? `>= ${bound}` : `<= ${bound}`, pass: atLeast ? value >= bound : value <= bound });
  const targets = {
    workerVsRaw: target(ratios.workerVsRaw, 0.8),
    workerVsSequential: target(ratios.workerVsSequential, 10),
    workerVsSequentialPerObject: target(ratios.workerVsSequentialPerObject, 10),
    rateLimitedFractionOfLimit: target(rateLimited.fractionOfLimit, 0.95),
    rateLimitedThrottled: target(rateLimited.throttled, 0, false),
  };
  const pass = Object.values(targets).every((result) => result.pass);
  console.log(
    JSON.stringify({
      bench: 'backfill',
      checkpoints,
      latencyMs: Number(values['latency-ms']),
      concurrency,
      // What serving cost the simulator: the cold warm-up pass, then each measured pass (warm).
      simulator: { warmUp: coldServing, raw: rawServing, worker: workerServing, sequential: sequentialServing },
      raw,
      sequential,
      worker: workerFigures,
      sweep,
      rateLimited,
      ratios,
      targets,
      pass,
    }),
  );
  process.exitCode = pass ? 0 : 1;
} finally {
  await simnet.stop();
}
