import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimChain, type SimChain, type SimPackageName } from '../src/simnet/chain.ts';
import { createSimnetServer, type SimnetKnobs, type SimnetServer } from '../src/simnet/server.ts';
import {
  BelowLowestAvailableError,
  InvalidRequestError,
  MalformedResponseError,
  NotAPackageError,
  NotFoundError,
  RateLimitedError,
  ResponseTooLargeError,
  UnavailableError,
} from '../src/sui/errors.ts';
import { extractObjectVersions } from '../src/sui/object-versions.ts';
import type { CheckpointRecord, MatchMode, ObjectVersionRow, ResolvedPackage } from '../src/sui/records.ts';
import { createSuiSource, type SuiSource } from '../src/sui/source.ts';
import { createFamilyMatcher } from '../src/sui/types.ts';

const SEED = 11;
const CHECKPOINTS = 3_000;
const PACKAGES: SimPackageName[] = ['dex', 'book', 'token', 'nft', 'late'];
const MODES: MatchMode[] = ['outer', 'anywhere'];

const rowKey = (row: ObjectVersionRow) => `${row.checkpoint.toString().padStart(10, '0')}|${row.txDigest}|${row.objectId}|${row.version}`;
const sortRows = (rows: ObjectVersionRow[]) => [...rows].sort((a, b) => (rowKey(a) < rowKey(b) ? -1 : rowKey(a) > rowKey(b) ? 1 : 0));

let chain: SimChain;
let server: SimnetServer;
let source: SuiSource;

beforeAll(async () => {
  chain = createSimChain({ seed: SEED, checkpoints: CHECKPOINTS });
  // Some nodes leave object_type empty on changed objects: the source must recover it.
  server = await createSimnetServer({ chain, omitChangedObjectTypes: 0.25 });
  source = createSuiSource({ url: server.url, timeoutMs: 10_000, maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
});

describe('resolvePackage', () => {
  it.each(PACKAGES)('resolves %s to the family, versions and publish checkpoints the chain holds', async (name) => {
    const pkg = chain.package(name);
    const newest = pkg.versions[pkg.versions.length - 1];
    const resolved = await source.resolvePackage(pkg.originalId);
    expect(resolved.requestedId).toBe(pkg.originalId);
    expect(resolved.originalId).toBe(pkg.originalId);
    expect(resolved.versions).toEqual(
      pkg.versions.map((version) => ({
        packageId: version.id,
        version: version.version,
        publishCheckpoint: version.publishCheckpoint,
        publishTxDigest: version.publishTxDigest,
        publishedAtMs: chain.timestampMs(version.publishCheckpoint),
      })),
    );
    expect(resolved.typeOrigins).toEqual(newest.typeOrigins);
    expect(resolved.familyIds).toEqual([...new Set([pkg.originalId, ...chain.family(pkg.originalId), ...newest.typeOrigins.map((origin) => origin.packageId)])].sort());
    expect(resolved.publishCheckpoint).toBe(chain.publishCheckpoint(pkg.originalId));
  });

  it('resolves the upgraded dex from its newest ID to the same family, and a struct added by an upgrade keeps the upgrade ID', async () => {
    const dex = chain.package('dex');
    expect(dex.versions.length).toBe(3);
    const newest = dex.versions[2];
    const byOriginal = await source.resolvePackage(dex.originalId);
    const byNewest = await source.resolvePackage(newest.id.replace(/^0x0+/, '0x'));
    expect(byNewest.requestedId).toBe(newest.id);
    expect({ ...byNewest, requestedId: dex.originalId }).toEqual(byOriginal);
    const addedByUpgrade = newest.typeOrigins.filter((origin) => origin.packageId !== dex.originalId);
    expect(addedByUpgrade.length).toBeGreaterThan(0);
    for (const origin of addedByUpgrade) expect(byNewest.familyIds).toContain(origin.packageId);
  });

  it('resolves 0x2, upgraded in place, to its newest version published at genesis, not at the upgrade', async () => {
    const sui = chain.package('sui');
    const [first, upgrade] = sui.versions;
    expect(upgrade.id).toBe(first.id);
    expect(upgrade.publishCheckpoint).toBeGreaterThan(0n);
    const resolved = await source.resolvePackage('0x2');
    expect(resolved.versions).toEqual([
      { packageId: sui.originalId, version: 2n, publishCheckpoint: 0n, publishTxDigest: first.publishTxDigest, publishedAtMs: chain.timestampMs(0) },
    ]);
    expect(resolved.publishCheckpoint).toBe(0n);
    expect(resolved.familyIds).toEqual([sui.originalId]);
  });

  it('says NotFound for an ID nothing has', async () => {
    await expect(source.resolvePackage(`0x${'ab'.repeat(32)}`)).rejects.toThrow(NotFoundError);
  });

  it('says NotAPackage, naming the type, for an object that is not a package', async () => {
    const checkpoint = await source.getCheckpoint(chain.tip(), { withObjects: true });
    const coin = checkpoint.objects!.find((object) => object.objectType?.includes('::coin::Coin<'));
    expect(coin).toBeDefined();
    const error = await source.resolvePackage(coin!.objectId).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NotAPackageError);
    expect((error as NotAPackageError).objectType).toBe(coin!.objectType);
  });

  it('rejects a malformed ID without asking the node', async () => {
    const before = source.stats().calls;
    for (const bad of ['', '0x', 'dex', '0xabc::dex::Pool', `0x${'1'.repeat(65)}`]) {
      await expect(source.resolvePackage(bad), bad).rejects.toThrow(InvalidRequestError);
    }
    expect(source.stats().calls).toBe(before);
  });
});

describe('checkpoints read through the source', () => {
  it('yield, for every package and match mode, exactly the object versions the chain holds', { timeout: 300_000 }, async () => {
    const resolved = new Map<SimPackageName, ResolvedPackage>();
    for (const name of PACKAGES) resolved.set(name, await source.resolvePackage(chain.package(name).originalId));
    // The dex family posted by its newest ID must give the same rows as by its original ID.
    const dex = chain.package('dex');
    const dexByNewest = await source.resolvePackage(dex.versions[dex.versions.length - 1].id);

    type Target = { key: string; packageId: string; from: bigint; mode: MatchMode; matches: (type: string) => boolean; rows: ObjectVersionRow[] };
    const targets: Target[] = [];
    for (const name of PACKAGES) {
      const pkg = resolved.get(name)!;
      for (const mode of MODES) targets.push({ key: `${name}/${mode}`, packageId: pkg.originalId, from: pkg.publishCheckpoint!, mode, matches: createFamilyMatcher(pkg.familyIds, mode), rows: [] });
    }
    for (const mode of MODES) {
      targets.push({ key: `dex-by-newest/${mode}`, packageId: dexByNewest.requestedId, from: dexByNewest.publishCheckpoint!, mode, matches: createFamilyMatcher(dexByNewest.familyIds, mode), rows: [] });
    }

    const tip = chain.tip();
    const first = targets.reduce((min, target) => (target.from < min ? target.from : min), tip);
    const callsBefore = source.stats().calls;
    let read = 0n;
    let withObjectSet = 0;
    for await (const checkpoint of source.getCheckpoints(first, tip, { concurrency: 8 })) {
      expect(checkpoint.sequenceNumber).toBe(first + read);
      read++;
      // The lean mask leaves the object set out; it is asked for (a second call) only to name the
      // types the node left off some changed objects.
      if (checkpoint.objects !== null) withObjectSet++;
      for (const target of targets) {
        if (checkpoint.sequenceNumber >= target.from) target.rows.push(...extractObjectVersions(checkpoint, target.matches));
      }
    }
    expect(read).toBe(tip - first + 1n);
    expect(withObjectSet).toBeGreaterThan(0);
    expect(source.stats().calls - callsBefore).toBe(Number(read) + withObjectSet);

    const kinds = new Set<string>();
    for (const target of targets) {
      const truth = chain.groundTruth({ packageId: target.packageId, match: target.mode, fromCheckpoint: target.from, toCheckpoint: tip });
      expect(truth.length, target.key).toBeGreaterThan(0);
      expect(sortRows(target.rows), target.key).toEqual(sortRows(truth));
      for (const row of truth) kinds.add(row.change);
    }
    expect([...kinds].sort()).toEqual(['created', 'deleted', 'mutated', 'unwrapped', 'wrapped']);
    const dexRows = (mode: MatchMode) => targets.find((target) => target.key === `dex/${mode}`)!.rows;
    expect(targets.find((target) => target.key === 'dex-by-newest/outer')!.rows).toEqual(dexRows('outer'));
    expect(targets.find((target) => target.key === 'dex-by-newest/anywhere')!.rows).toEqual(dexRows('anywhere'));
    // `anywhere` finds the family inside wrappers too (dynamic fields, coins), never fewer rows.
    expect(dexRows('anywhere').length).toBeGreaterThan(dexRows('outer').length);
  });

  it('reads the node tip and lowest available checkpoint', async () => {
    const info = await source.getServiceInfo();
    expect(info.checkpointHeight).toBe(chain.tip());
    expect(info.lowestAvailableCheckpoint).toBe(chain.lowestAvailableCheckpoint());
  });
});

describe('faults, through the real client', () => {
  let faulty: SimnetServer;
  beforeAll(async () => {
    faulty = await createSimnetServer({ chain });
  });
  afterAll(async () => {
    await faulty?.close();
  });

  const withKnobs = async <T>(knobs: Partial<SimnetKnobs>, run: () => Promise<T>): Promise<T> => {
    const previous = faulty.knobs();
    faulty.setKnobs(knobs);
    try {
      return await run();
    } finally {
      faulty.setKnobs(previous);
    }
  };
  const once = (timeoutMs = 5_000) => createSuiSource({ url: faulty.url, timeoutMs, maxRetries: 0, maxThrottledRetries: 0 });
  const caught = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

  it('above the tip: NotFound saying the checkpoint is not yet available', async () => {
    const tip = chain.tip();
    const error = await caught(once().getCheckpoint(tip + 5n));
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toBe(`checkpoint ${tip + 5n} is not yet available (tip ${tip})`);
  });

  it('below the lowest available checkpoint: BelowLowestAvailable naming it and the endpoint, or the archive answers', async () => {
    const lowest = 1_000n;
    await withKnobs({ lowestAvailableCheckpoint: Number(lowest) }, async () => {
      const source = once();
      expect(source.describeEndpoint()).toBe(faulty.url);
      expect(await source.archiveLowestAvailable()).toBeUndefined();
      const error = await caught(source.getCheckpoint(400n));
      expect(error).toBeInstanceOf(BelowLowestAvailableError);
      expect(error).toMatchObject({ checkpoint: 400n, lowestAvailable: lowest, retryable: false });
      expect((error as Error).message).toContain(faulty.url);
      expect((error as Error).message).toContain('checkpoint 400 is below the lowest available checkpoint 1000');

      // An archival node (the same chain, unpruned) serves what the full node pruned.
      const archiveChain = createSimChain({ seed: SEED, checkpoints: CHECKPOINTS });
      const archive = await createSimnetServer({ chain: archiveChain });
      try {
        const withArchive = createSuiSource({ url: faulty.url, archiveUrl: archive.url, timeoutMs: 5_000, maxRetries: 0 });
        const fromArchive = await withArchive.getCheckpoint(400n);
        expect(fromArchive).toEqual(await createSuiSource({ url: archive.url, timeoutMs: 5_000 }).getCheckpoint(400n));
        expect(archive.stats().requests.GetCheckpoint).toBe(2);
        expect(withArchive.stats().byMethod).toEqual({ getCheckpoint: 2, getServiceInfo: 1 });
        expect(withArchive.describeEndpoint()).toBe(`${faulty.url} (archive ${archive.url})`);
        expect(await withArchive.archiveLowestAvailable()).toBe(0n);

        // The full node pruned nft's publish transaction too: only the archive can date it.
        const nft = chain.package('nft');
        expect(nft.versions[0].publishCheckpoint).toBeLessThan(lowest);
        expect((await withArchive.resolvePackage(nft.originalId)).publishCheckpoint).toBe(nft.versions[0].publishCheckpoint);
        const undated = await once().resolvePackage(nft.originalId);
        expect(undated.publishCheckpoint).toBeNull();
        expect(undated.versions[0]).toMatchObject({ packageId: nft.originalId, publishCheckpoint: null, publishTxDigest: nft.versions[0].publishTxDigest, publishedAtMs: null });
      } finally {
        await archive.close();
      }
    });
  });

  it.each(['grpc', 'http'] as const)('rate limit (%s style): RateLimited with the retry-after hint', async (style) => {
    await withKnobs({ rateLimitRps: 1, rateLimitStyle: style }, async () => {
      const client = once();
      const results = await Promise.all(Array.from({ length: 4 }, (_, i) => caught(client.getCheckpoint(BigInt(100 + i)))));
      const limited = results.filter((result) => result instanceof RateLimitedError) as RateLimitedError[];
      expect(limited.length).toBeGreaterThanOrEqual(2);
      for (const error of limited) {
        expect(error.retryable).toBe(true);
        expect(error.retryAfterMs).toBe(1_000);
      }
    });
  });

  it('UNAVAILABLE: Unavailable, retryable', async () => {
    await withKnobs({ unavailableRate: 1 }, async () => {
      const error = await caught(once().getCheckpoint(10n));
      expect(error).toBeInstanceOf(UnavailableError);
      expect(error).toMatchObject({ reason: 'unavailable', retryable: true });
    });
  });

  it('retries up to the bound, counting every attempt, then throws the typed error', async () => {
    await withKnobs({ unavailableRate: 1 }, async () => {
      const source = createSuiSource({ url: faulty.url, timeoutMs: 5_000, maxRetries: 2, retryBaseMs: 1, retryMaxMs: 5 });
      let attempts = 0;
      const error = await caught(source.getCheckpoint(10n, { onAttempt: () => attempts++ }));
      expect(error).toBeInstanceOf(UnavailableError);
      expect(attempts).toBe(3);
      expect(source.stats()).toEqual({ calls: 3, byMethod: { getCheckpoint: 3 }, retries: 2, failures: 3 });
    });
  });

  it('a hung call ends at our deadline as a retryable Unavailable', async () => {
    await withKnobs({ hangRate: 1, hangMs: 30_000 }, async () => {
      const started = performance.now();
      const error = await caught(once(400).getCheckpoint(10n));
      expect(error).toBeInstanceOf(UnavailableError);
      expect(error).toMatchObject({ reason: 'deadline', retryable: true });
      expect(performance.now() - started).toBeLessThan(3_000);
    });
  });

  it('a truncated body: MalformedResponse, retryable', async () => {
    await withKnobs({ truncateRate: 1 }, async () => {
      const error = await caught(once().getCheckpoint(10n));
      expect(error).toBeInstanceOf(MalformedResponseError);
      expect((error as MalformedResponseError).retryable).toBe(true);
    });
  });

  it('a response over the limit even for one transaction: ResponseTooLarge, not retryable, saying nothing smaller can be asked', async () => {
    // Checkpoint 10's digests fit in 1,000 bytes; two of its transactions do not.
    await withKnobs({ maxResponseBytes: 1_000 }, async () => {
      const error = await caught(once().getCheckpoint(10n));
      expect(error).toBeInstanceOf(ResponseTooLargeError);
      expect((error as ResponseTooLargeError).retryable).toBe(false);
      expect((error as Error).message).toMatch(
        /^checkpoint 10: transaction \w+ alone is larger than the node answers, and nothing smaller can be asked \(.*OUT_OF_RANGE: Error, encoded message length too large: found \d+ bytes, the limit is: 1000 bytes\)$/,
      );
    });
    // Checkpoint 1089 holds so many transactions that even their digests are over 30 kB.
    await withKnobs({ maxResponseBytes: 30_000 }, async () => {
      const error = await caught(once().getCheckpoint(1_089n));
      expect(error).toBeInstanceOf(ResponseTooLargeError);
      expect((error as Error).message).toMatch(/^checkpoint 1089: even its list of transaction digests is larger than the node answers \(.*the limit is: 30000 bytes\)$/);
    });
  });

  it('a checkpoint over the limit is read as its digests, then its transactions in batches that fit: the same rows, the same object set', { timeout: 60_000 }, async () => {
    const targets = PACKAGES.map((name) => createFamilyMatcher(chain.family(chain.package(name).originalId), 'anywhere'));
    const rows = (checkpoint: CheckpointRecord) => targets.map((matches) => extractObjectVersions(checkpoint, matches));
    const from = 1_100n;
    const to = 1_399n;
    const clean: CheckpointRecord[] = [];
    for await (const checkpoint of once().getCheckpoints(from, to, { concurrency: 8 })) clean.push(checkpoint);
    // 23 of these checkpoints are over 26 kB with the lean mask, more with their object sets; no
    // transaction is, even with its object set, nor any checkpoint's list of digests. Types are left off a quarter of the changes, so the
    // route must also fetch transactions' object sets.
    const knobs = { maxResponseBytes: 26_000, omitChangedObjectTypes: 0.25 };
    const strained: bigint[] = [];
    await withKnobs(knobs, async () => {
      faulty.resetStats();
      const source = once();
      for (let sequence = from; sequence <= to; sequence++) {
        const reasons: string[] = [];
        const checkpoint = await source.getCheckpoint(sequence, { onStrain: (reason) => reasons.push(reason) });
        const reference = clean[Number(sequence - from)];
        expect(rows(checkpoint), `checkpoint ${sequence}`).toEqual(rows(reference));
        expect(checkpoint.transactions.map((transaction) => transaction.digest)).toEqual(reference.transactions.map((transaction) => transaction.digest));
        expect({ ...checkpoint, transactions: [], objects: [] }).toEqual({ ...reference, transactions: [], objects: [] });
        if (reasons.length > 0) strained.push(sequence);
        expect(new Set(reasons).size).toBeLessThanOrEqual(1);
        if (reasons.length > 0) expect(reasons[0]).toBe('response_too_large');
      }
      expect(strained.length).toBeGreaterThanOrEqual(23);
      expect(faulty.stats().requests.BatchGetTransactions).toBeGreaterThan(strained.length);
    });

    // Asked for its object set too, a checkpoint read transaction by transaction has the same one.
    const sample = strained.slice(0, 4);
    const withObjects = await withKnobs({ omitChangedObjectTypes: knobs.omitChangedObjectTypes }, () =>
      Promise.all(sample.map((sequence) => once().getCheckpoint(sequence, { withObjects: true }))),
    );
    await withKnobs(knobs, async () => {
      const source = once();
      for (const [index, sequence] of sample.entries()) expect(await source.getCheckpoint(sequence, { withObjects: true })).toEqual(withObjects[index]);
    });
  });

  it('with faults all around, retries return exactly what a healthy node serves', { timeout: 120_000 }, async () => {
    const clean: CheckpointRecord[] = [];
    for await (const checkpoint of once().getCheckpoints(1_000n, 1_149n, { concurrency: 8 })) clean.push(checkpoint);

    await withKnobs({ unavailableRate: 0.15, truncateRate: 0.15, hangRate: 0.05, hangMs: 30_000, rateLimitRps: 400 }, async () => {
      faulty.resetStats();
      const retrying = createSuiSource({ url: faulty.url, timeoutMs: 500, maxRetries: 20, retryBaseMs: 5, retryMaxMs: 50 });
      const got: CheckpointRecord[] = [];
      for await (const checkpoint of retrying.getCheckpoints(1_000n, 1_149n, { concurrency: 8 })) got.push(checkpoint);
      expect(got).toEqual(clean);
      const { faults } = faulty.stats();
      expect(faults.unavailable).toBeGreaterThan(0);
      expect(faults.truncate).toBeGreaterThan(0);
      expect(faults.hang).toBeGreaterThan(0);
      const stats = retrying.stats();
      expect(stats.retries).toBeGreaterThanOrEqual(faults.unavailable + faults.truncate + faults.hang);
      expect(stats.calls).toBe(150 + stats.retries);
    });
  });
});

describe('full nodes at different tips', () => {
  const LAG_OPTIONS = { seed: SEED, checkpoints: 300, txPerCheckpoint: 4 };
  let behind: SimChain;
  let lagging: SimnetServer;
  let ahead: SimnetServer;
  let reference: SuiSource;
  beforeAll(async () => {
    behind = createSimChain({ ...LAG_OPTIONS, initialTip: 190 });
    lagging = await createSimnetServer({ chain: behind });
    ahead = await createSimnetServer({ chain: createSimChain(LAG_OPTIONS) });
    reference = createSuiSource({ url: ahead.url, timeoutMs: 5_000 });
  });
  afterAll(async () => {
    await lagging?.close();
    await ahead?.close();
  });
  const reset = () => {
    behind.setTip(190);
    lagging.resetStats();
    ahead.resetStats();
  };
  const caught = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

  it('a checkpoint above one node tip is read from another; that node is asked for the next ones only after it', async () => {
    reset();
    const expected = await reference.getCheckpoint(195n);
    ahead.resetStats();
    const source = createSuiSource({ url: [lagging.url, ahead.url], timeoutMs: 5_000, retryBaseMs: 1, retryMaxMs: 5 });
    expect(await source.getCheckpoint(195n)).toEqual(expected);
    expect(lagging.stats().requests).toEqual({ GetCheckpoint: 1, GetServiceInfo: 1 });
    expect(ahead.stats().requests).toEqual({ GetCheckpoint: 1 });
    expect(await source.getCheckpoint(196n)).toEqual(await reference.getCheckpoint(196n));
    expect(lagging.stats().requests).toEqual({ GetCheckpoint: 1, GetServiceInfo: 1 });
    // Below its tip the preferred node still answers.
    expect(await source.getCheckpoint(100n)).toEqual(await reference.getCheckpoint(100n));
    expect(lagging.stats().requests).toEqual({ GetCheckpoint: 2, GetServiceInfo: 1 });
  });

  it('a checkpoint above every node tip stays NotFound, naming the highest tip', async () => {
    reset();
    const source = createSuiSource({ url: [lagging.url, ahead.url], timeoutMs: 5_000, retryBaseMs: 1, retryMaxMs: 5 });
    const error = await caught(source.getCheckpoint(305n));
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toBe('checkpoint 305 is not yet available (tip 299)');
    expect([lagging.stats().requests, ahead.stats().requests]).toEqual([
      { GetCheckpoint: 1, GetServiceInfo: 1 },
      { GetCheckpoint: 1, GetServiceInfo: 1 },
    ]);
  });

  it('a checkpoint the caller knows exists, above the only node tip: retried as unavailable until the node has it', async () => {
    reset();
    const source = createSuiSource({ url: lagging.url, timeoutMs: 5_000, maxRetries: 8, retryBaseMs: 40, retryMaxMs: 200 });
    const catchUp = setTimeout(() => behind.setTip(200), 150);
    try {
      expect(await source.getCheckpoint(195n, { exists: true })).toEqual(await reference.getCheckpoint(195n));
    } finally {
      clearTimeout(catchUp);
    }
    expect(source.stats().retries).toBeGreaterThan(0);
    expect(lagging.stats().requests.GetCheckpoint).toBe(source.stats().retries + 1);

    // Bounded: a node that stays behind ends in a retryable Unavailable, never a NotFound.
    reset();
    const bounded = createSuiSource({ url: lagging.url, timeoutMs: 5_000, maxRetries: 2, retryBaseMs: 1, retryMaxMs: 5 });
    const error = await caught(bounded.getCheckpoint(195n, { exists: true }));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({ retryable: true, message: `${lagging.url} has not reached checkpoint 195 yet (its tip is 190); it is asked again` });
    expect(lagging.stats().requests).toEqual({ GetCheckpoint: 3, GetServiceInfo: 3 });
    // Without saying so, a checkpoint above the node's tip is not there yet.
    expect(await caught(bounded.getCheckpoint(196n))).toBeInstanceOf(NotFoundError);
  });

  it('a checkpoint at or below a tip the source saw is known to exist, even when the node answering now is behind (a replica behind its load balancer)', async () => {
    reset();
    behind.setTip(250);
    const source = createSuiSource({ url: lagging.url, timeoutMs: 5_000, maxRetries: 8, retryBaseMs: 40, retryMaxMs: 200 });
    expect((await source.getServiceInfo()).checkpointHeight).toBe(250n);
    behind.setTip(190);
    const catchUp = setTimeout(() => behind.setTip(250), 150);
    try {
      expect(await source.getCheckpoint(240n)).toEqual(await reference.getCheckpoint(240n));
    } finally {
      clearTimeout(catchUp);
    }
    expect(source.stats().retries).toBeGreaterThan(0);
  });
});
