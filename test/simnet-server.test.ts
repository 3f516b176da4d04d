import { setTimeout as sleep } from 'node:timers/promises';
import { GrpcTypes, GrpcWebFetchTransport, RpcError, SuiGrpcClient } from '@mysten/sui/grpc';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSimChain, type SimChain } from '../src/simnet/chain.ts';
import { createMainnetLedger } from '../src/simnet/mainnet.ts';
import { createSimnetServer, type SimnetKnobs, type SimnetServer } from '../src/simnet/server.ts';
import { hasMainnetFixtures, mainnetFixturesDir, withFixtures } from './helpers/fixtures.ts';

const CHECKPOINTS = 2000;
const FIXTURES = mainnetFixturesDir();
const OutputState = GrpcTypes.ChangedObject_OutputObjectState;
const InputState = GrpcTypes.ChangedObject_InputObjectState;

const DEFAULT_KNOBS: SimnetKnobs = {
  tipAdvanceMs: 0,
  lowestAvailableCheckpoint: 0,
  latencyMs: 0,
  rateLimitRps: 0,
  rateLimitStyle: 'grpc',
  unavailableRate: 0,
  hangRate: 0,
  hangMs: 120_000,
  truncateRate: 0,
  maxResponseBytes: 0,
  omitChangedObjectTypes: 0,
  refuseCredentials: false,
};

const CHANGES_AND_OBJECTS = {
  paths: [
    'sequence_number',
    'transactions.digest',
    'transactions.effects.lamport_version',
    'transactions.effects.changed_objects',
    'objects.objects.object_id',
    'objects.objects.version',
    'objects.objects.object_type',
  ],
};

async function rpcError(call: () => PromiseLike<unknown>): Promise<RpcError> {
  const error = await Promise.resolve()
    .then(call)
    .then(
      () => undefined,
      (reason: unknown) => reason,
    );
  expect(error).toBeInstanceOf(RpcError);
  return error as RpcError;
}

const bySequence = (sequenceNumber: bigint) => ({ oneofKind: 'sequenceNumber' as const, sequenceNumber });

describe('simnet server', () => {
  let chain: SimChain;
  let server: SimnetServer;
  let client: SuiGrpcClient;
  let binary: SuiGrpcClient;

  beforeAll(async () => {
    chain = createSimChain({ seed: 3, checkpoints: CHECKPOINTS });
    server = await createSimnetServer({ chain, port: 0 });
    client = new SuiGrpcClient({ network: 'localnet', baseUrl: server.url });
    binary = new SuiGrpcClient({ network: 'localnet', transport: new GrpcWebFetchTransport({ baseUrl: server.url, format: 'binary' }) });
  });

  afterEach(() => {
    server.setKnobs(DEFAULT_KNOBS);
    chain.setTip(CHECKPOINTS - 1);
  });

  afterAll(async () => {
    await server.close();
  });

  it('reports the tip and the lowest available checkpoint', async () => {
    let { response } = await client.ledgerService.getServiceInfo({});
    expect(response.checkpointHeight).toBe(BigInt(CHECKPOINTS - 1));
    expect(response.lowestAvailableCheckpoint).toBe(0n);
    expect(response.chain).toBe('simnet');
    expect(response.chainId).toBe(chain.chainId);
    expect(response.server).toBe('sui-backfill-simnet');
    chain.setTip(1500);
    server.setKnobs({ lowestAvailableCheckpoint: 100 });
    ({ response } = await client.ledgerService.getServiceInfo({}));
    expect(response.checkpointHeight).toBe(1500n);
    expect(response.lowestAvailableCheckpoint).toBe(100n);
    expect(response.lowestAvailableCheckpointObjects).toBe(100n);
    expect(response.timestamp!.seconds * 1000n + BigInt(response.timestamp!.nanos / 1e6)).toBe(chain.timestampMs(1500));
  });

  it('returns only the fields a read mask asks for, with the documented defaults', async () => {
    const full = chain.getCheckpoint(500n)!;
    const bare = (await client.ledgerService.getCheckpoint({ checkpointId: bySequence(500n) })).response.checkpoint!;
    expect(bare.sequenceNumber).toBe(500n);
    expect(bare.digest).toBe(full.digest);
    expect(bare.summary).toBeUndefined();
    expect(bare.transactions).toEqual([]);
    expect(bare.objects).toBeUndefined();

    const masked = (
      await client.ledgerService.getCheckpoint({
        checkpointId: bySequence(500n),
        readMask: { paths: ['summary.timestamp', 'transactions.digest', 'transactions.effects.lamport_version', 'objects.objects.object_id'] },
      })
    ).response.checkpoint!;
    expect(masked.sequenceNumber).toBeUndefined();
    expect(masked.digest).toBeUndefined();
    expect(masked.summary).toEqual({ timestamp: full.summary!.timestamp, commitments: [] });
    expect(masked.transactions.map((tx) => tx.digest)).toEqual(full.transactions.map((tx) => tx.digest));
    for (const [index, tx] of masked.transactions.entries()) {
      expect(tx.checkpoint).toBeUndefined();
      expect(tx.effects!.lamportVersion).toBe(full.transactions[index].effects!.lamportVersion);
      expect(tx.effects!.changedObjects).toEqual([]);
    }
    expect(masked.objects!.objects.map((object) => Object.keys(object).filter((key) => object[key as keyof typeof object] !== undefined))).toEqual(
      full.objects!.objects.map(() => ['objectId']),
    );

    const wildcard = (await client.ledgerService.getCheckpoint({ checkpointId: bySequence(500n), readMask: { paths: ['*'] } })).response.checkpoint!;
    expect(GrpcTypes.Checkpoint.toBinary(wildcard)).toEqual(GrpcTypes.Checkpoint.toBinary(full));

    const dex = chain.package('dex');
    const object = (await client.ledgerService.getObject({ objectId: dex.originalId })).response.object!;
    expect(object).toEqual({ objectId: dex.originalId, version: 1n, digest: chain.getObject(dex.originalId)!.digest });
    const transaction = (await client.ledgerService.getTransaction({ digest: dex.versions[0].publishTxDigest })).response.transaction!;
    expect(transaction.digest).toBe(dex.versions[0].publishTxDigest);
    expect(transaction.effects).toBeUndefined();
    expect(transaction.checkpoint).toBeUndefined();

    const bad = await rpcError(() => client.ledgerService.getCheckpoint({ checkpointId: bySequence(1n), readMask: { paths: ['transactions.effect'] } }));
    expect(bad.code).toBe('INVALID_ARGUMENT');
    expect(bad.message).toContain('sui.rpc.v2.ExecutedTransaction has no field "effect"');
  });

  it('answers the same messages in text and binary formats', async () => {
    for (const sequence of [0n, 7n, 1234n]) {
      const request = { checkpointId: bySequence(sequence), readMask: { paths: ['*'] } };
      const [text, bin] = await Promise.all([client.ledgerService.getCheckpoint(request), binary.ledgerService.getCheckpoint(request)]);
      expect(GrpcTypes.GetCheckpointResponse.toBinary(bin.response)).toEqual(GrpcTypes.GetCheckpointResponse.toBinary(text.response));
      expect(GrpcTypes.Checkpoint.toBinary(text.response.checkpoint!)).toEqual(GrpcTypes.Checkpoint.toBinary(chain.getCheckpoint(sequence)!));
    }
    const missing = await rpcError(() => binary.ledgerService.getCheckpoint({ checkpointId: bySequence(BigInt(CHECKPOINTS + 5)) }));
    expect(missing.code).toBe('NOT_FOUND');
    // Each answers in the content type it was asked in (the client does not show it: read the raw answer).
    const message = GrpcTypes.GetCheckpointRequest.toBinary({ checkpointId: bySequence(7n), readMask: { paths: ['sequence_number'] } });
    const dataFrame = (bytes: Uint8Array) => {
      const header = Buffer.alloc(5);
      header.writeUInt32BE(bytes.length, 1);
      return Buffer.concat([header, bytes]);
    };
    const frame = dataFrame(message);
    const expected = dataFrame(GrpcTypes.GetCheckpointResponse.toBinary({ checkpoint: { sequenceNumber: 7n, transactions: [] } }));
    for (const [contentType, body] of [
      ['application/grpc-web-text', frame.toString('base64')],
      ['application/grpc-web', frame],
    ] as const) {
      const answer = await fetch(`${server.url}/sui.rpc.v2.LedgerService/GetCheckpoint`, { method: 'POST', headers: { 'content-type': contentType, 'x-grpc-web': '1' }, body });
      expect(answer.headers.get('content-type')).toBe(contentType);
      const raw = Buffer.from(await answer.arrayBuffer());
      const bytes = contentType === 'application/grpc-web-text' ? Buffer.from(raw.toString('latin1'), 'base64') : raw;
      expect(bytes.subarray(0, expected.length)).toEqual(expected);
    }
  });

  it('answers CORS preflights, allowing the headers asked for, and exposes the gRPC headers', async () => {
    const preflight = (requestHeaders?: string) =>
      fetch(`${server.url}/sui.rpc.v2.LedgerService/GetCheckpoint`, {
        method: 'OPTIONS',
        headers: { origin: 'http://example.test', 'access-control-request-method': 'POST', ...(requestHeaders ? { 'access-control-request-headers': requestHeaders } : {}) },
      });
    const asked = await preflight('content-type,x-grpc-web,x-custom-trace-id');
    expect(asked.status).toBe(204);
    expect(asked.headers.get('access-control-allow-origin')).toBe('*');
    expect(asked.headers.get('access-control-allow-methods')).toBe('POST, GET, OPTIONS');
    expect(asked.headers.get('access-control-allow-headers')).toBe('content-type,x-grpc-web,x-custom-trace-id');
    const unasked = await preflight();
    expect(unasked.headers.get('access-control-allow-headers')).toBe('content-type, x-grpc-web, x-user-agent, grpc-timeout, x-sui-client-protocol-version, authorization');
    const headers = await client.ledgerService.getServiceInfo({}).headers;
    expect(headers['access-control-allow-origin']).toBe('*');
    expect(headers['access-control-expose-headers']).toBe('grpc-status, grpc-message, retry-after');
  });

  it('serves objects and transactions, one at a time and in batches', async () => {
    const rows = chain.groundTruth({ packageId: chain.package('dex').originalId, fromCheckpoint: 0, toCheckpoint: CHECKPOINTS - 1 });
    const pool = rows.find((row) => row.typeName === 'Pool')!;
    const poolVersions = rows.filter((row) => row.objectId === pool.objectId);
    const latest = poolVersions[poolVersions.length - 1];
    const mask = { paths: ['object_id', 'version', 'digest', 'owner', 'object_type', 'previous_transaction'] };
    const { object } = (await client.ledgerService.getObject({ objectId: pool.objectId, readMask: mask })).response;
    expect(object).toEqual({
      objectId: pool.objectId,
      version: latest.version,
      digest: latest.objectDigest,
      owner: { kind: GrpcTypes.Owner_OwnerKind.SHARED, version: pool.version },
      objectType: pool.objectType,
      previousTransaction: latest.txDigest,
    });
    const older = (await client.ledgerService.getObject({ objectId: pool.objectId, version: pool.version, readMask: mask })).response.object!;
    expect(older.digest).toBe(pool.objectDigest);
    expect(older.previousTransaction).toBe(pool.txDigest);

    const unknown = `0x${'ab'.repeat(32)}`;
    const batch = (
      await client.ledgerService.batchGetObjects({
        requests: [{ objectId: pool.objectId }, { objectId: unknown }, { objectId: 'not-an-id' }, { objectId: pool.objectId, version: pool.version + 1n }],
        readMask: { paths: ['object_id', 'version'] },
      })
    ).response.objects.map((item) => item.result);
    expect(batch[0]).toEqual({ oneofKind: 'object', object: { objectId: pool.objectId, version: latest.version } });
    expect(batch[1]).toMatchObject({ oneofKind: 'error', error: { code: 5, message: `object ${unknown} not found` } });
    expect(batch[2]).toMatchObject({ oneofKind: 'error', error: { code: 3 } });
    expect(batch[3]).toMatchObject({ oneofKind: 'error', error: { code: 5 } });

    const { transaction } = (
      await client.ledgerService.getTransaction({ digest: pool.txDigest, readMask: { paths: ['digest', 'checkpoint', 'effects.changed_objects', 'objects'] } })
    ).response;
    expect(transaction!.checkpoint).toBe(pool.checkpoint);
    expect(transaction!.effects!.changedObjects.some((change) => change.objectId === pool.objectId && change.objectType === pool.objectType)).toBe(true);
    expect(transaction!.objects!.objects.some((o) => o.objectId === pool.objectId && o.version === pool.version)).toBe(true);

    const unknownDigest = chain.getCheckpoint(5n)!.digest!; // a checkpoint digest names no transaction
    const notFound = await rpcError(() => client.ledgerService.getTransaction({ digest: unknownDigest }));
    expect(notFound.code).toBe('NOT_FOUND');
    expect(notFound.message).toBe(`transaction ${unknownDigest} not found`);
    const transactions = (
      await client.ledgerService.batchGetTransactions({ digests: [pool.txDigest, unknownDigest, 'xyz'], readMask: { paths: ['digest', 'checkpoint'] } })
    ).response.transactions.map((item) => item.result);
    expect(transactions[0]).toMatchObject({ oneofKind: 'transaction', transaction: { digest: pool.txDigest, checkpoint: pool.checkpoint } });
    expect(transactions[1]).toMatchObject({ oneofKind: 'error', error: { code: 5 } });
    expect(transactions[2]).toMatchObject({ oneofKind: 'error', error: { code: 3 } });
  });

  it('serves checkpoints by digest and the latest one', async () => {
    const digest = chain.getCheckpoint(321n)!.digest!;
    const byDigest = (await client.ledgerService.getCheckpoint({ checkpointId: { oneofKind: 'digest', digest } })).response.checkpoint!;
    expect(byDigest.sequenceNumber).toBe(321n);
    const unborn = chain.getCheckpoint(950n)!.digest!;
    chain.setTip(900);
    const latest = (await client.ledgerService.getCheckpoint({ checkpointId: { oneofKind: undefined } })).response.checkpoint!;
    expect(latest.sequenceNumber).toBe(900n);
    expect((await rpcError(() => client.ledgerService.getCheckpoint({ checkpointId: { oneofKind: 'digest', digest: unborn } }))).code).toBe('NOT_FOUND');
    const notADigest = await rpcError(() => client.ledgerService.getCheckpoint({ checkpointId: { oneofKind: 'digest', digest: '0OIl' } }));
    expect(notADigest.code).toBe('INVALID_ARGUMENT');
  });

  it('describes the upgraded dex package from its newest and its original ID', async () => {
    const dex = chain.package('dex');
    for (const id of [dex.versions[2].id, dex.originalId]) {
      const versions = (await client.movePackageService.listPackageVersions({ packageId: id })).response.versions;
      expect(versions).toEqual(dex.versions.map((v) => ({ packageId: v.id, version: v.version })));
    }
    const newest = (await client.movePackageService.getPackage({ packageId: dex.versions[2].id })).response.package!;
    expect(newest.storageId).toBe(dex.versions[2].id);
    expect(newest.originalId).toBe(dex.originalId);
    expect(newest.version).toBe(3n);
    expect(newest.modules.map((m) => m.name)).toEqual(['pool']);
    expect(newest.typeOrigins).toContainEqual({ moduleName: 'pool', datatypeName: 'Position', packageId: dex.versions[2].id });
    expect(newest.typeOrigins).toContainEqual({ moduleName: 'pool', datatypeName: 'Pool', packageId: dex.originalId });
    expect(newest.linkage).toContainEqual({ originalId: chain.package('token').originalId, upgradedId: chain.package('token').originalId, upgradedVersion: 1n });
    const original = (await client.movePackageService.getPackage({ packageId: dex.originalId })).response.package!;
    expect(original.version).toBe(1n);
    expect(original.typeOrigins.some((o) => o.datatypeName === 'Position')).toBe(false);

    const first = (await client.movePackageService.listPackageVersions({ packageId: dex.originalId, pageSize: 2 })).response;
    expect(first.versions.map((v) => v.version)).toEqual([1n, 2n]);
    const rest = (await client.movePackageService.listPackageVersions({ packageId: dex.originalId, pageSize: 2, pageToken: first.nextPageToken })).response;
    expect(rest.versions.map((v) => v.version)).toEqual([3n]);
    expect(rest.nextPageToken).toBeUndefined();

    const notPackage = await rpcError(() => client.movePackageService.getPackage({ packageId: `0x${'cd'.repeat(32)}` }));
    expect(notPackage.code).toBe('NOT_FOUND');
  });

  it('answers NOT_FOUND above the tip and for pruned checkpoints', async () => {
    chain.setTip(1000);
    const above = await rpcError(() => client.ledgerService.getCheckpoint({ checkpointId: bySequence(1500n) }));
    expect(above.code).toBe('NOT_FOUND');
    expect(above.message).toBe('checkpoint 1500 not found; the latest checkpoint is 1000');
    server.setKnobs({ lowestAvailableCheckpoint: 1000 });
    const pruned = await rpcError(() => client.ledgerService.getCheckpoint({ checkpointId: bySequence(12n) }));
    expect(pruned.code).toBe('NOT_FOUND');
    expect(pruned.message).toBe('checkpoint 12 has been pruned; lowest available checkpoint is 1000');
    expect((await client.ledgerService.getCheckpoint({ checkpointId: bySequence(1000n) })).response.checkpoint!.sequenceNumber).toBe(1000n);
    const late = chain.package('late');
    expect((await rpcError(() => client.movePackageService.getPackage({ packageId: late.originalId }))).code).toBe('NOT_FOUND');
    expect((await rpcError(() => client.ledgerService.getObject({ objectId: late.originalId }))).code).toBe('NOT_FOUND');
  });

  it('answers INVALID_ARGUMENT for malformed and missing arguments', async () => {
    const malformed = await rpcError(() => client.ledgerService.getObject({ objectId: '0xnothex' }));
    expect(malformed.code).toBe('INVALID_ARGUMENT');
    expect(malformed.message).toContain('invalid object_id "0xnothex"');
    expect((await rpcError(() => client.ledgerService.getObject({}))).message).toBe('missing object_id');
    expect((await rpcError(() => client.ledgerService.getTransaction({ digest: 'abc' }))).code).toBe('INVALID_ARGUMENT');
    expect((await rpcError(() => client.movePackageService.getPackage({}))).code).toBe('INVALID_ARGUMENT');
    expect((await rpcError(() => client.ledgerService.getObject({ objectId: '0x2', readMask: { paths: ['owner.nope'] } }))).code).toBe('INVALID_ARGUMENT');
  });

  it('throttles with RESOURCE_EXHAUSTED and retry-after, in gRPC and HTTP styles', async () => {
    server.setKnobs({ rateLimitRps: 1 });
    await client.ledgerService.getServiceInfo({});
    const grpc = await rpcError(() => client.ledgerService.getServiceInfo({}));
    expect(grpc.code).toBe('RESOURCE_EXHAUSTED');
    expect(grpc.meta['retry-after']).toBe('1');
    server.setKnobs({ rateLimitRps: 0 });
    server.setKnobs({ rateLimitRps: 1, rateLimitStyle: 'http' });
    await client.ledgerService.getServiceInfo({});
    const http = await rpcError(() => client.ledgerService.getServiceInfo({}));
    expect(http.code).toBe('RESOURCE_EXHAUSTED');
    expect(http.meta['retry-after']).toBe('1');
    expect(http.message).toBe('Too Many Requests');
  });

  it('injects UNAVAILABLE, deadlines, truncated bodies and oversized responses', async () => {
    server.setKnobs({ unavailableRate: 1 });
    expect((await rpcError(() => client.ledgerService.getServiceInfo({}))).code).toBe('UNAVAILABLE');

    server.setKnobs({ unavailableRate: 0, hangRate: 1, hangMs: 30_000 });
    const started = Date.now();
    const aborted = await rpcError(() => client.ledgerService.getServiceInfo({}, { abort: AbortSignal.timeout(200) }));
    expect(aborted.code).toBe('DEADLINE_EXCEEDED');
    const deadline = await rpcError(() => client.ledgerService.getServiceInfo({}, { timeout: 200 }));
    expect(deadline.code).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - started).toBeLessThan(5_000);
    server.setKnobs({ hangMs: 50 });
    expect((await client.ledgerService.getServiceInfo({})).response.chain).toBe('simnet');

    server.setKnobs({ hangRate: 0, truncateRate: 1 });
    expect((await rpcError(() => client.ledgerService.getCheckpoint({ checkpointId: bySequence(10n), readMask: CHANGES_AND_OBJECTS }))).code).toBe('DATA_LOSS');
    expect((await rpcError(() => binary.ledgerService.getCheckpoint({ checkpointId: bySequence(10n) }))).code).toBe('DATA_LOSS');

    server.setKnobs({ truncateRate: 0, maxResponseBytes: 1000 });
    const size = GrpcTypes.GetCheckpointResponse.toBinary({ checkpoint: chain.getCheckpoint(1234n)! }).length;
    const tooLarge = await rpcError(() => client.ledgerService.getCheckpoint({ checkpointId: bySequence(1234n), readMask: { paths: ['*'] } }));
    // Status and text as a Sui full node's tonic server answers them.
    expect(tooLarge.code).toBe('OUT_OF_RANGE');
    expect(tooLarge.message).toBe(`Error, encoded message length too large: found ${size} bytes, the limit is: 1000 bytes`);
  });

  it('answers UNIMPLEMENTED for methods it does not serve', async () => {
    expect((await rpcError(() => client.ledgerService.getEpoch({}))).code).toBe('UNIMPLEMENTED');
    expect((await rpcError(() => client.stateService.getBalance({ owner: '0x2', coinType: '0x2::sui::SUI' }))).code).toBe('UNIMPLEMENTED');
    const otherVersion = await fetch(`${server.url}/sui.rpc.v2beta2.LedgerService/GetCheckpoint`, {
      method: 'POST',
      headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1' },
      body: new Uint8Array([0, 0, 0, 0, 0]),
    });
    expect(otherVersion.status).toBe(200);
    expect(otherVersion.headers.get('grpc-status')).toBe('12');
    expect(otherVersion.headers.get('content-type')).toBe('application/grpc-web+proto');
  });

  it('counts requests, statuses, throttling and faults, readable and resettable over HTTP', async () => {
    server.resetStats();
    await client.ledgerService.getCheckpoint({ checkpointId: bySequence(1n) });
    await client.ledgerService.getCheckpoint({ checkpointId: bySequence(2n) });
    await rpcError(() => client.ledgerService.getCheckpoint({ checkpointId: bySequence(BigInt(CHECKPOINTS)) }));
    server.setKnobs({ unavailableRate: 1 });
    await rpcError(() => client.ledgerService.getObject({ objectId: '0x2' }));
    server.setKnobs({ unavailableRate: 0, rateLimitRps: 1 });
    await client.ledgerService.getServiceInfo({});
    await rpcError(() => client.ledgerService.getServiceInfo({}));

    const stats = await (await fetch(`${server.url}/simnet/stats`)).json();
    expect(stats.requests).toEqual({ GetCheckpoint: 3, GetObject: 1, GetServiceInfo: 2 });
    expect(stats.responses).toEqual({ OK: 3, NOT_FOUND: 1, UNAVAILABLE: 1, RESOURCE_EXHAUSTED: 1 });
    expect(stats.throttled).toBe(1);
    expect(stats.faults).toEqual({ unavailable: 1, hang: 0, truncate: 0 });
    expect(stats.tip).toBe(CHECKPOINTS - 1);
    expect(stats.knobs.rateLimitRps).toBe(1);

    const reset = await fetch(`${server.url}/simnet/stats/reset`, { method: 'POST' });
    expect(reset.status).toBe(200);
    expect(server.stats().requests).toEqual({});

    const knobs = await fetch(`${server.url}/simnet/knobs`, { method: 'POST', body: JSON.stringify({ latencyMs: 5, rateLimitRps: 0 }) });
    expect((await knobs.json()).latencyMs).toBe(5);
    expect(server.knobs().latencyMs).toBe(5);
    const invalid = await fetch(`${server.url}/simnet/knobs`, { method: 'POST', body: JSON.stringify({ hangRate: 2 }) });
    expect(invalid.status).toBe(400);
    expect((await invalid.json()).error).toContain('hangRate');
    expect(await (await fetch(`${server.url}/simnet/health`)).json()).toEqual({ ok: true, tip: CHECKPOINTS - 1 });
  });

  it('refuses knob values it cannot honour with a 400 naming the knob, applying none of the request', async () => {
    const post = async (body: string) => {
      const response = await fetch(`${server.url}/simnet/knobs`, { method: 'POST', body });
      return [response.status, await response.json()];
    };
    server.setKnobs({ latencyMs: 7, hangRate: 0.25 });
    const before = server.knobs();
    const tip = CHECKPOINTS - 1;
    const timer = 'expected an integer from 0 to 2147483647 (ms, the longest timer Node runs)';
    const refusals: [Record<string, unknown> | null, string][] = [
      [{ lowestAvailableCheckpoint: tip + 1, latencyMs: 1 }, `lowestAvailableCheckpoint: ${tip + 1} is above the tip, ${tip}; nothing would be served`],
      [{ lowestAvailableCheckpoint: 50_000 }, `lowestAvailableCheckpoint: 50000 is above the tip, ${tip}; nothing would be served`],
      [{ lowestAvailableCheckpoint: -1 }, 'lowestAvailableCheckpoint: expected an integer of at least 0'],
      [{ lowestAvailableCheckpoint: 2.5 }, 'lowestAvailableCheckpoint: expected an integer of at least 0'],
      [{ latencyMs: -5 }, 'latencyMs: expected an integer of at least 0'],
      [{ latencyMs: '5' }, 'latencyMs: expected an integer of at least 0'],
      [{ hangMs: 3_000_000_000 }, `hangMs: ${timer}`],
      [{ tipAdvanceMs: 2_147_483_648 }, `tipAdvanceMs: ${timer}`],
      [{ hangRate: 2 }, 'hangRate: expected a fraction from 0 to 1'],
      [{ unavailableRate: -0.1 }, 'unavailableRate: expected a fraction from 0 to 1'],
      [{ truncateRate: 1.5 }, 'truncateRate: expected a fraction from 0 to 1'],
      [{ omitChangedObjectTypes: 3 }, 'omitChangedObjectTypes: expected a fraction from 0 to 1'],
      [{ unavailableRate: 0.8 }, 'unavailableRate + hangRate + truncateRate: 0.8 + 0.25 + 0 is above 1; each RPC gets at most one fault'],
      [{ rateLimitRps: -1 }, 'rateLimitRps: expected a number of at least 0'],
      [{ rateLimitStyle: 'smtp' }, 'rateLimitStyle: expected "grpc" or "http"'],
      [{ maxResponseBytes: -1 }, 'maxResponseBytes: expected an integer of at least 0'],
      [{ refuseCredentials: 'yes' }, 'refuseCredentials: expected true or false'],
      [{ latencyMs: 1, hangMS: 5 }, 'body: unknown field(s) "hangMS"'],
      [null, 'body: Invalid input: expected object, received null'],
    ];
    for (const [body, error] of refusals) {
      expect([body, ...(await post(JSON.stringify(body)))]).toEqual([body, 400, { error }]);
    }
    expect(await post('{"latencyMs": 1')).toEqual([400, { error: expect.stringMatching(/^body: not JSON \(.+\)$/) }]);
    expect(server.knobs()).toEqual(before);
    expect(server.stats()).toMatchObject({ tip, lowestAvailableCheckpoint: 0 });

    // The bounds themselves are accepted.
    const [status, applied] = await post(JSON.stringify({ lowestAvailableCheckpoint: tip, hangMs: 2_147_483_647, unavailableRate: 0.75 }));
    expect([status, applied.lowestAvailableCheckpoint, applied.hangMs, applied.unavailableRate]).toEqual([200, tip, 2_147_483_647, 0.75]);
    expect(server.stats()).toMatchObject({ tip, lowestAvailableCheckpoint: tip });
  });

  it('advances the tip on a timer, never past the generated end', async () => {
    chain.setTip(CHECKPOINTS - 4);
    server.setKnobs({ tipAdvanceMs: 5 });
    await sleep(150);
    const { response } = await client.ledgerService.getServiceInfo({});
    expect(response.checkpointHeight).toBe(BigInt(CHECKPOINTS - 1));
  });

  it('omits changed object types only where the object set can supply them', async () => {
    server.setKnobs({ omitChangedObjectTypes: 0.5 });
    let omitted = 0;
    let kept = 0;
    for (let sequence = 1000n; sequence < 1040n; sequence++) {
      const checkpoint = (await client.ledgerService.getCheckpoint({ checkpointId: bySequence(sequence), readMask: CHANGES_AND_OBJECTS })).response.checkpoint!;
      const types = new Map(checkpoint.objects!.objects.map((o) => [`${o.objectId}@${o.version}`, o.objectType]));
      const full = chain.getCheckpoint(sequence)!;
      checkpoint.transactions.forEach((tx, i) => {
        tx.effects!.changedObjects.forEach((change, j) => {
          const original = full.transactions[i].effects!.changedObjects[j];
          if (change.objectType !== undefined) {
            expect(change.objectType).toBe(original.objectType);
            kept++;
            return;
          }
          omitted++;
          const written = change.outputState === OutputState.OBJECT_WRITE || change.outputState === OutputState.PACKAGE_WRITE;
          const version = written ? change.outputVersion : change.inputState === InputState.EXISTS ? change.inputVersion : undefined;
          expect(types.get(`${change.objectId}@${version}`)).toBe(original.objectType);
        });
      });
    }
    expect(omitted).toBeGreaterThan(kept * 0.4);
    expect(kept).toBeGreaterThan(omitted * 0.4);
  });
});

describe.skipIf(!hasMainnetFixtures())(withFixtures('simnet server with mainnet checkpoints'), () => {
  it('serves the real mainnet checkpoints in front of the synthetic chain', async () => {
    const chain = createSimChain({ checkpoints: 500 });
    const server = await createSimnetServer({ chain, ledgers: [createMainnetLedger(FIXTURES), chain] });
    try {
      const client = new SuiGrpcClient({ network: 'localnet', baseUrl: server.url });
      const real = (await client.ledgerService.getCheckpoint({ checkpointId: bySequence(20958462n), readMask: { paths: ['sequence_number', 'transactions.digest'] } }))
        .response.checkpoint!;
      expect(real.sequenceNumber).toBe(20958462n);
      expect(real.transactions.length).toBe(125);
      const synthetic = (await client.ledgerService.getCheckpoint({ checkpointId: bySequence(42n) })).response.checkpoint!;
      expect(synthetic.digest).toBe(chain.getCheckpoint(42n)!.digest);
    } finally {
      await server.close();
    }
  });
});
