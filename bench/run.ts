/**
 * `npm run bench`: throughput of the backfill worker against the simulator with per-request
 * latency, next to two baselines measured in the same run: the RPC bound (a raw fetch loop with
 * the same client and concurrency, no database) and a naive sequential loop (one checkpoint at a
 * time, row-by-row inserts). Then politeness: with the simulator limiting to 100 requests/s and the
 * worker configured at 100/s, the share of the limit it achieves and the rate-limit replies it
 * drew. Prints one JSON line of figures; exits 1 when a target is missed.
 */
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { createIntake } from '../src/backfill/intake.ts';
import { createBackfillQueue } from '../src/backfill/queue.ts';
import { loadConfig } from '../src/common/config.ts';
import { createCommon } from '../src/common/context.ts';
import { createDb } from '../src/db/client.ts';
import { createRpcBudget } from '../src/sui/budget.ts';
import { extractObjectVersions } from '../src/sui/object-versions.ts';
import { orderedStream } from '../src/sui/ordered-stream.ts';
import { createSuiSource } from '../src/sui/source.ts';
import { createFamilyMatcher } from '../src/sui/types.ts';
import { spawnCli, waitForOutput } from '../test/helpers/processes.ts';
import {
  REDIS_URL,
  dropDatabase,
  emptyQueue,
  freshDatabase,
  peakRssMb,
  resetSimnetStats,
  setSimnetKnobs,
  simnetStats,
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
  --sequential N        checkpoints walked by the sequential baseline (default 600)
  --rate-limit N        requests/s the simulator allows (and the worker is configured at) in the
                        rate-limited run (default 100)
  --rate-limited-checkpoints N  checkpoints of the rate-limited run (default 2000)
  -h, --help            show this help`;

const { values } = parseArgs({
  options: {
    checkpoints: { type: 'string', default: '21000' },
    'latency-ms': { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '32' },
    'chunk-size': { type: 'string', default: '100' },
    sweep: { type: 'string' },
    sequential: { type: 'string', default: '600' },
    'rate-limit': { type: 'string', default: '100' },
    'rate-limited-checkpoints': { type: 'string', default: '2000' },
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
try {
  const startLine = simnet.process.output().split('\n').find((line) => line.includes('simnet listening on'))!;
  const packages = JSON.parse(startLine).packages as Record<string, string>;
  const packageId = packages.dex;
  const env = {
    SUI_GRPC_URL: simnet.url,
    REDIS_URL,
    RPC_CONCURRENCY: String(concurrency),
    RPC_REQUESTS_PER_SECOND: '1000000',
    LOG_LEVEL: 'warn',
  };
  const common = createCommon(loadConfig(env));
  const source = createSuiSource({ url: simnet.url, timeoutMs: 30_000, maxRetries: 3, budget: createRpcBudget({ requestsPerSecond: 1e6, maxInFlight: concurrency }) });
  const resolved = await source.resolvePackage(packageId);
  const tip = (await source.getServiceInfo()).checkpointHeight;
  const from = resolved.publishCheckpoint ?? 0n;
  const checkpoints = Number(tip - from + 1n);
  log(`chain of ${values.checkpoints} checkpoints, ${values['latency-ms']} ms latency, walking dex ${from}..${tip} (${checkpoints} checkpoints)`);

  /** Every checkpoint of the walk through the client alone: decoded, then dropped. */
  const fetchAll = async () => {
    for await (const _ of orderedStream({ from, to: tip, concurrency, window: concurrency * 2, fetch: (seq, signal) => source.getCheckpoint(seq, { signal }) }));
  };

  // The simulator stands in for a full node on another machine, yet shares these two cores: one
  // unmeasured pass fills its response cache, so in the measured runs serving costs little more
  // than a cache hit and the figures measure this project rather than the simulator's generator.
  let started = performance.now();
  await fetchAll();
  log(`simulator warmed in ${round((performance.now() - started) / 1000)} s`);

  // (a) The RPC bound: same client and concurrency, decode only, no database.
  await resetSimnetStats(simnet.url);
  started = performance.now();
  await fetchAll();
  const rawSeconds = (performance.now() - started) / 1000;
  const raw = { checkpointsPerSecond: round(checkpoints / rawSeconds), requestsPerCheckpoint: round(totalRequests(await simnetStats(simnet.url)) / checkpoints, 3) };
  log(`raw fetch: ${raw.checkpointsPerSecond} checkpoints/s`);

  // (c) The worker, in its own process, on a fresh database.
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
    const worker = spawnCli(['worker', '--no-migrate'], workerEnv);
    const db = createDb(databaseUrl, { max: 2 });
    const queue = createBackfillQueue({ redisUrl: REDIS_URL, prefix });
    try {
      await waitForOutput(worker, 'backfill worker started');
      await resetSimnetStats(simnet.url);
      const intake = createIntake(common, db, source, queue);
      const { request } = await intake.submit({ packageId, match: 'anywhere', toCheckpoint: to });
      const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
      let row;
      for (;;) {
        [row] = await sql`
          select r.status, extract(epoch from r.finished_at - r.started_at) as seconds, w.objects_matched, w.rows_inserted
          from package_backfill_requests r join package_backfill_watermarks w on w.request_id = r.id where r.id = ${request.id}`;
        if (row && ['completed', 'failed'].includes(row.status)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await sql.end();
      if (row.status !== 'completed') throw new Error(`worker backfill ${row.status}`);
      const stats = await simnetStats(simnet.url);
      const requests = totalRequests(stats);
      const seconds = Number(row.seconds);
      const rss = peakRssMb(worker.child.pid!);
      return {
        chunkSize,
        checkpoints: walked,
        checkpointsPerSecond: round(walked / seconds),
        matchedObjectsPerSecond: round(Number(row.objects_matched) / seconds),
        objectsMatched: Number(row.objects_matched),
        rpcRequestsPerCheckpoint: round(requests / walked, 3),
        throttled: stats.throttled,
        peakRssMb: rss,
      };
    } finally {
      worker.kill('SIGTERM');
      await worker.exited;
      await queue.close();
      await db.close();
      await dropDatabase(name);
    }
  };
  const workerFigures = await runWorker(Number(values['chunk-size']));
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
  const rateLimited = {
    limitRps: limit,
    configuredRps: limit,
    checkpoints: limitedFigures.checkpoints,
    checkpointsPerSecond: limitedFigures.checkpointsPerSecond,
    rpcRequestsPerCheckpoint: limitedFigures.rpcRequestsPerCheckpoint,
    fractionOfLimit: round(limitedFigures.checkpointsPerSecond / limit, 3),
    throttled: limitedFigures.throttled,
  };
  log(`rate-limited at ${limit}/s: ${rateLimited.checkpointsPerSecond} checkpoints/s (${rateLimited.fractionOfLimit} of the limit), ${rateLimited.throttled} throttled`);

  // (b) What a first attempt looks like: one checkpoint at a time, one INSERT per row.
  const sequentialCount = Math.min(Number(values.sequential), checkpoints);
  const seqName = 'sui_backfill_bench_sequential';
  const seqSql = postgres(await freshDatabase(seqName), { max: 1, onnotice: () => {} });
  const matches = createFamilyMatcher(resolved.familyIds, 'anywhere');
  started = performance.now();
  for (let seq = from; seq < from + BigInt(sequentialCount); seq++) {
    const rows = extractObjectVersions(await source.getCheckpoint(seq), matches);
    for (const row of rows) {
      await seqSql`insert into sui_objects (object_id, version, object_type, type_package, type_module, type_name, owner_kind,
        owner_address, checkpoint, tx_digest, object_digest, change) values (${row.objectId}, ${row.version.toString()}, ${row.objectType},
        ${row.typePackage}, ${row.typeModule}, ${row.typeName}, ${row.ownerKind}, ${row.ownerAddress}, ${row.checkpoint.toString()},
        ${row.txDigest}, ${row.objectDigest}, ${row.change}) on conflict do nothing`;
    }
  }
  const sequential = { checkpointsPerSecond: round(sequentialCount / ((performance.now() - started) / 1000)), checkpoints: sequentialCount };
  await seqSql.end();
  await dropDatabase(seqName);
  log(`sequential: ${sequential.checkpointsPerSecond} checkpoints/s`);

  const workerVsRaw = round(workerFigures.checkpointsPerSecond / raw.checkpointsPerSecond, 3);
  const workerVsSequential = round(workerFigures.checkpointsPerSecond / sequential.checkpointsPerSecond, 1);
  const targets = { workerVsRaw: 0.8, workerVsSequential: 10, rateLimitedFractionOfLimit: 0.95, rateLimitedThrottled: 0 };
  const pass =
    workerVsRaw >= targets.workerVsRaw &&
    workerVsSequential >= targets.workerVsSequential &&
    rateLimited.fractionOfLimit >= targets.rateLimitedFractionOfLimit &&
    rateLimited.throttled <= targets.rateLimitedThrottled;
  console.log(
    JSON.stringify({
      bench: 'backfill',
      checkpoints,
      latencyMs: Number(values['latency-ms']),
      concurrency,
      raw,
      sequential,
      worker: workerFigures,
      sweep,
      rateLimited,
      ratios: { workerVsRaw, workerVsSequential },
      targets,
      pass,
    }),
  );
  process.exitCode = pass ? 0 : 1;
} finally {
  await simnet.stop();
}
