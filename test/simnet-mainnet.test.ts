import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { bcs } from '@mysten/sui/bcs';
import { GrpcTypes, RpcError, SuiGrpcClient } from '@mysten/sui/grpc';
import {
  fromBase58,
  fromBase64,
  normalizeStructTag,
  normalizeSuiAddress,
  parseStructTag,
  toBase58,
  toBase64,
} from '@mysten/sui/utils';
import { blake2b } from '@noble/hashes/blake2.js';
import { describe, expect, it } from 'vitest';
import { createSimChain } from '../src/simnet/chain.ts';
import {
  createMainnetLedger,
  MAINNET_CHECKPOINTS,
  MainnetFixtureError,
  transactionEffectsToProto,
  type TransactionObjects,
} from '../src/simnet/mainnet.ts';
import { createSimnetServer } from '../src/simnet/server.ts';
import { hasMainnetFixtures, mainnetFixturesDir, withFixtures } from './helpers/fixtures.ts';

const { ChangedObject_InputObjectState: InputState, ChangedObject_OutputObjectState: OutputState } = GrpcTypes;
const { ChangedObject_IdOperation: IdOperation, Owner_OwnerKind: OwnerKind } = GrpcTypes;

type ViewOwner =
  | 'Immutable'
  | { AddressOwner: string }
  | { ObjectOwner: string }
  | { Shared: { initial_shared_version: number | string } };

interface ViewChange {
  type: 'created' | 'mutated' | 'deleted' | 'wrapped' | 'published';
  objectId: string;
  version: string;
  previousVersion?: string;
  objectType: string;
  owner?: ViewOwner;
  digest?: string;
}

interface ViewFile {
  checkpoint: {
    epoch: string;
    sequenceNumber: string;
    digest: string;
    previousDigest: string | null;
    networkTotalTransactions: string;
    timestampMs: string;
    endOfEpochData: boolean;
    validatorSignature: string;
    epochRollingGasCostSummary: Record<string, string>;
    transactions: string[];
  };
  transactions: {
    digest: string;
    checkpoint: string;
    timestampMs: string;
    effects: { effectsVersion: string; status: { status: string }; executedEpoch: string };
    objectChanges: ViewChange[];
  }[];
}

interface PartsFile {
  transactions: {
    digest: string;
    rawEffects: string;
    objects: { set: 'input_objects' | 'output_objects'; objectId: string; version: string; objectType: string }[];
  }[];
}

const DEEPBOOK_TX = '9paVWgkP3wPsXnM9HcUETRcfzzzeERJoA6ss9Wzkq9tp';
const DEEPBOOK_POOL = '0x4405b50d791fd3346754e8171aaab6bc2ed26c2c46efdd033c14b30ae507ac33';
const PYTH_PACKAGE = '0x8d97f1cd6ac663735be08d1d2b6d02a159e711586461306ce60a2b7a6a565a9e';

function fixturePath(file: string): string {
  return path.join(mainnetFixturesDir(), 'mainnet', file);
}

function readView(seq: bigint): ViewFile {
  return JSON.parse(readFileSync(fixturePath(`checkpoint-${seq}.view.json`), 'utf8')) as ViewFile;
}

function readParts(seq: bigint): PartsFile {
  return JSON.parse(gunzipSync(readFileSync(fixturePath(`checkpoint-${seq}.bcs-parts.json.gz`))).toString('utf8'));
}

function objectDigest(bytes: Uint8Array): string {
  const prefix = new TextEncoder().encode('Object::');
  return toBase58(blake2b(new Uint8Array([...prefix, ...bytes]), { dkLen: 32 }));
}

function viewOwner(owner: ViewOwner): GrpcTypes.Owner {
  if (owner === 'Immutable') return { kind: OwnerKind.IMMUTABLE };
  if ('AddressOwner' in owner) return { kind: OwnerKind.ADDRESS, address: normalizeSuiAddress(owner.AddressOwner) };
  if ('ObjectOwner' in owner) return { kind: OwnerKind.OBJECT, address: normalizeSuiAddress(owner.ObjectOwner) };
  return { kind: OwnerKind.SHARED, version: BigInt(owner.Shared.initial_shared_version) };
}

/** One object change in a shape both JSON-RPC `objectChanges` and gRPC `changed_objects` reduce to. */
interface Change {
  kind: 'created' | 'mutated' | 'removed';
  objectId: string;
  version: bigint;
  previousVersion?: bigint;
  objectType: string;
  owner?: GrpcTypes.Owner;
  digest?: string;
}

// JSON-RPC names a removal `deleted` or `wrapped`; V1 effects rendered over gRPC call both
// DELETED (the wrap is not recoverable from the proto), so both sides become `removed`, with no
// owner or digest (JSON-RPC gives none for removals).
function fromView(change: ViewChange): Change {
  const base = {
    objectId: normalizeSuiAddress(change.objectId),
    version: BigInt(change.version),
    objectType: normalizeStructTag(change.objectType),
  };
  if (change.type === 'deleted' || change.type === 'wrapped') return { kind: 'removed', ...base };
  if (change.type !== 'created' && change.type !== 'mutated') throw new Error(`unexpected view change ${change.type}`);
  return {
    kind: change.type,
    ...base,
    ...(change.type === 'mutated' ? { previousVersion: BigInt(change.previousVersion!) } : {}),
    owner: viewOwner(change.owner!),
    digest: change.digest,
  };
}

// JSON-RPC does not list unwrapped objects (input DOES_NOT_EXIST, id NONE): they are dropped here.
function fromGrpc(change: GrpcTypes.ChangedObject): Change | undefined {
  const base = { objectId: change.objectId!, version: change.outputVersion!, objectType: change.objectType! };
  if (change.idOperation === IdOperation.DELETED) return { kind: 'removed', ...base };
  if (change.idOperation === IdOperation.CREATED) {
    return { kind: 'created', ...base, owner: change.outputOwner, digest: change.outputDigest };
  }
  if (change.inputState === InputState.DOES_NOT_EXIST) return undefined;
  return {
    kind: 'mutated',
    ...base,
    previousVersion: change.inputVersion,
    owner: change.outputOwner,
    digest: change.outputDigest,
  };
}

function byIdAndVersion(a: { objectId: string; version: bigint }, b: { objectId: string; version: bigint }): number {
  if (a.objectId !== b.objectId) return a.objectId < b.objectId ? -1 : 1;
  return a.version < b.version ? -1 : a.version > b.version ? 1 : 0;
}

function isPythPriceInfo(objectType: string): boolean {
  const tag = parseStructTag(objectType);
  return tag.address === PYTH_PACKAGE && tag.module === 'price_info' && tag.name === 'PriceInfoObject';
}

describe('createMainnetLedger', () => {
  it('loads lazily and fails clearly when the fixtures are missing', () => {
    const ledger = createMainnetLedger('/nonexistent/fixtures/sui');
    expect(() => ledger.getCheckpoint(MAINNET_CHECKPOINTS[0])).toThrow(MainnetFixtureError);
  });
});

describe.skipIf(!hasMainnetFixtures())(
  withFixtures('mainnet ledger against the real checkpoints'),
  () => {
    const ledger = createMainnetLedger(mainnetFixturesDir());

    it.each(MAINNET_CHECKPOINTS)('checkpoint %s summary and transactions match view.json', (seq) => {
      const view = readView(seq);
      const checkpoint = ledger.getCheckpoint(seq)!;
      const timestampMs = BigInt(view.checkpoint.timestampMs);
      const timestamp = { seconds: timestampMs / 1000n, nanos: Number(timestampMs % 1000n) * 1_000_000 };

      expect(checkpoint.sequenceNumber).toBe(seq);
      expect(checkpoint.digest).toBe(view.checkpoint.digest);
      expect(checkpoint.summary).toMatchObject({
        digest: view.checkpoint.digest,
        epoch: BigInt(view.checkpoint.epoch),
        sequenceNumber: BigInt(view.checkpoint.sequenceNumber),
        previousDigest: view.checkpoint.previousDigest ?? undefined,
        totalNetworkTransactions: BigInt(view.checkpoint.networkTotalTransactions),
        timestamp,
        epochRollingGasCostSummary: Object.fromEntries(
          Object.entries(view.checkpoint.epochRollingGasCostSummary).map(([k, v]) => [k, BigInt(v)]),
        ),
      });
      expect(checkpoint.summary!.endOfEpochData !== undefined).toBe(view.checkpoint.endOfEpochData);
      expect(toBase64(checkpoint.signature!.signature!)).toBe(view.checkpoint.validatorSignature);
      expect(checkpoint.transactions.map((tx) => tx.digest)).toEqual(view.checkpoint.transactions);
      for (const [i, tx] of checkpoint.transactions.entries()) {
        const viewTx = view.transactions[i];
        expect(tx.digest).toBe(viewTx.digest);
        expect(tx.checkpoint).toBe(seq);
        expect(tx.timestamp).toEqual(timestamp);
        expect(tx.effects).toMatchObject({
          version: 1,
          transactionDigest: viewTx.digest,
          epoch: BigInt(viewTx.effects.executedEpoch),
          status: { success: true },
        });
        expect(viewTx.effects).toMatchObject({ effectsVersion: 'V1', status: { status: 'success' } });
      }
    });

    it.each(MAINNET_CHECKPOINTS)('checkpoint %s: every changed object agrees with view.json objectChanges', (seq) => {
      const view = readView(seq);
      const checkpoint = ledger.getCheckpoint(seq)!;
      let compared = 0;
      for (const [i, tx] of checkpoint.transactions.entries()) {
        const fromEffects = tx.effects!.changedObjects.map(fromGrpc).filter((c) => c !== undefined);
        const fromJsonRpc = view.transactions[i].objectChanges.map(fromView);
        expect(fromEffects.sort(byIdAndVersion)).toEqual(fromJsonRpc.sort(byIdAndVersion));
        compared += fromJsonRpc.length;
      }
      expect(compared).toBe(view.transactions.reduce((n, tx) => n + tx.objectChanges.length, 0));
      expect(compared).toBeGreaterThan(0);
    });

    it.each(MAINNET_CHECKPOINTS)('checkpoint %s: V1 lamport version is the version of every write', (seq) => {
      for (const tx of ledger.getCheckpoint(seq)!.transactions) {
        const effects = tx.effects!;
        const outputs = effects.changedObjects.map((c) => c.outputVersion!);
        expect(effects.lamportVersion).toBe(outputs.reduce((a, b) => (a > b ? a : b)));
        for (const version of outputs) expect(version).toBe(effects.lamportVersion);
      }
    });

    it('renders the DeepBook v2 place_limit_order as the Pool mutation view.json holds', () => {
      const seq = 20958462n;
      const viewChange = readView(seq)
        .transactions.find((tx) => tx.digest === DEEPBOOK_TX)!
        .objectChanges.find((c) => normalizeSuiAddress(c.objectId) === DEEPBOOK_POOL)!;
      expect(viewChange.type).toBe('mutated');

      const tx = ledger.getCheckpoint(seq)!.transactions.find((t) => t.digest === DEEPBOOK_TX)!;
      const change = tx.effects!.changedObjects.find((c) => c.objectId === DEEPBOOK_POOL)!;
      const poolType = parseStructTag(change.objectType!);
      expect(poolType).toMatchObject({ address: normalizeSuiAddress('0xdee9'), module: 'clob_v2', name: 'Pool' });
      expect(poolType.typeParams).toMatchObject([
        { address: normalizeSuiAddress('0x2'), module: 'sui', name: 'SUI' },
        { address: expect.stringMatching(/^0x5d4b/), module: 'coin', name: 'COIN' },
      ]);
      expect(change).toEqual({
        objectId: DEEPBOOK_POOL,
        inputState: InputState.EXISTS,
        inputVersion: BigInt(viewChange.previousVersion!),
        inputDigest: change.inputDigest,
        inputOwner: viewOwner(viewChange.owner!),
        outputState: OutputState.OBJECT_WRITE,
        outputVersion: BigInt(viewChange.version),
        outputDigest: viewChange.digest,
        outputOwner: viewOwner(viewChange.owner!),
        idOperation: IdOperation.NONE,
        objectType: normalizeStructTag(viewChange.objectType),
      });

      // Both versions are in the checkpoint's object set; only the output was written by this tx.
      const input = ledger.getObject(DEEPBOOK_POOL, change.inputVersion)!;
      const output = ledger.getObject(DEEPBOOK_POOL)!;
      expect(input).toMatchObject({ version: change.inputVersion, digest: change.inputDigest });
      expect(input.previousTransaction).not.toBe(DEEPBOOK_TX);
      expect(output).toMatchObject({
        version: change.outputVersion,
        digest: viewChange.digest,
        previousTransaction: DEEPBOOK_TX,
        objectType: change.objectType,
      });
      const setKeys = ledger.getCheckpoint(seq)!.objects!.objects.map((o) => `${o.objectId}@${o.version}`);
      expect(setKeys).toContain(`${DEEPBOOK_POOL}@${change.inputVersion}`);
      expect(setKeys).toContain(`${DEEPBOOK_POOL}@${change.outputVersion}`);
    });

    it('renders the Pyth PriceInfoObject writes with the types and versions view.json holds', () => {
      const seq = 20958462n;
      const view = readView(seq);
      const expected = view.transactions.flatMap((tx) =>
        tx.objectChanges
          .filter((c) => isPythPriceInfo(c.objectType))
          .map((c) => ({
            tx: tx.digest,
            objectId: normalizeSuiAddress(c.objectId),
            type: c.type,
            objectType: normalizeStructTag(c.objectType),
            inputVersion: c.previousVersion === undefined ? undefined : BigInt(c.previousVersion),
            outputVersion: BigInt(c.version),
          })),
      );
      const actual = ledger.getCheckpoint(seq)!.transactions.flatMap((tx) =>
        tx.effects!.changedObjects
          .filter((c) => isPythPriceInfo(c.objectType!))
          .map((c) => ({
            tx: tx.digest,
            objectId: c.objectId,
            type: c.idOperation === IdOperation.CREATED ? 'created' : 'mutated',
            objectType: c.objectType,
            inputVersion: c.inputVersion,
            outputVersion: c.outputVersion,
          })),
      );
      expect(expected.length).toBeGreaterThan(0);
      expect(actual).toEqual(expected);
    });

    it.each(MAINNET_CHECKPOINTS)('checkpoint %s round-trips through protobuf binary', (seq) => {
      const checkpoint = ledger.getCheckpoint(seq)!;
      const decoded = GrpcTypes.Checkpoint.fromBinary(GrpcTypes.Checkpoint.toBinary(checkpoint));
      expect(GrpcTypes.Checkpoint.equals(decoded, checkpoint)).toBe(true);
      expect(decoded).toEqual(checkpoint);
      const tx = ledger.getTransaction(checkpoint.transactions[0].digest!)!;
      expect(GrpcTypes.ExecutedTransaction.fromBinary(GrpcTypes.ExecutedTransaction.toBinary(tx))).toEqual(tx);
    });

    it.each(MAINNET_CHECKPOINTS)('checkpoint %s object set holds exactly the inputs and outputs, sorted', (seq) => {
      const parts = readParts(seq);
      const expected = new Map<string, { objectId: string; version: bigint; objectType: string }>();
      for (const tx of parts.transactions) {
        for (const o of tx.objects) {
          const objectId = normalizeSuiAddress(o.objectId);
          const objectType = o.objectType === 'package' ? 'package' : normalizeStructTag(o.objectType);
          expected.set(`${objectId}@${o.version}`, { objectId, version: BigInt(o.version), objectType });
        }
      }
      const objects = ledger.getCheckpoint(seq)!.objects!.objects;
      expect(objects.map((o) => ({ objectId: o.objectId, version: o.version, objectType: o.objectType }))).toEqual(
        [...expected.values()].sort(byIdAndVersion),
      );
      for (const object of objects) {
        expect(ledger.getObject(object.objectId!, object.version)).toEqual(object);
      }

      for (const tx of parts.transactions) {
        const txObjects = ledger.getTransaction(tx.digest)!.objects!.objects;
        expect(txObjects.map((o) => `${o.objectId}@${o.version}`)).toEqual(
          tx.objects
            .map((o) => ({ objectId: normalizeSuiAddress(o.objectId), version: BigInt(o.version) }))
            .sort(byIdAndVersion)
            .map((o) => `${o.objectId}@${o.version}`),
        );
      }
    });

    it.each(MAINNET_CHECKPOINTS)('checkpoint %s: object digests recomputed from BCS equal the effects', (seq) => {
      const checkpoint = ledger.getCheckpoint(seq)!;
      const byKey = new Map(checkpoint.objects!.objects.map((o) => [`${o.objectId}@${o.version}`, o]));
      let certified = 0;
      for (const object of byKey.values()) expect(objectDigest(object.bcs!.value!)).toBe(object.digest);
      for (const tx of checkpoint.transactions) {
        for (const change of tx.effects!.changedObjects) {
          const output = byKey.get(`${change.objectId}@${change.outputVersion}`)!;
          expect(objectDigest(output.bcs!.value!)).toBe(change.outputDigest);
          certified++;
          const input = byKey.get(`${change.objectId}@${change.inputVersion}`);
          if (input) expect(objectDigest(input.bcs!.value!)).toBe(change.inputDigest);
        }
        for (const unchanged of tx.effects!.unchangedConsensusObjects) {
          const input = byKey.get(`${unchanged.objectId}@${unchanged.version}`)!;
          expect(objectDigest(input.bcs!.value!)).toBe(unchanged.digest);
          expect(unchanged.objectType).toBe(input.objectType);
        }
      }
      expect(certified).toBeGreaterThan(0);
    });

    it.each(MAINNET_CHECKPOINTS)('checkpoint %s: effects digests are the ones the archived contents list', (seq) => {
      const archive = readFileSync(fixturePath(`${seq}.chk`));
      for (const tx of ledger.getCheckpoint(seq)!.transactions) {
        // CheckpointContents holds (transaction, effects) digest pairs, each a 32-byte BCS vector.
        const pair = Buffer.from([32, ...fromBase58(tx.digest!), 32, ...fromBase58(tx.effects!.digest!)]);
        expect(archive.indexOf(pair)).toBeGreaterThan(0);
      }
    });

    it('renders the same changes from equivalent V2 effects', () => {
      const seq = 20958462n;
      const parts = readParts(seq);
      let checked = 0;
      for (const tx of parts.transactions) {
        const v1 = bcs.TransactionEffects.parse(fromBase64(tx.rawEffects)).V1!;
        const rendered = ledger.getTransaction(tx.digest)!;
        const objects: TransactionObjects = { inputs: new Map(), outputs: new Map() };
        for (const o of tx.objects) {
          const object = ledger.getObject(normalizeSuiAddress(o.objectId), BigInt(o.version))!;
          (o.set === 'input_objects' ? objects.inputs : objects.outputs).set(object.objectId!, object);
        }
        const inputOf = (objectId: string) => {
          const input = objects.inputs.get(objectId)!;
          const owner = bcs.Object.parse(input.bcs!.value!).owner;
          return { Exist: [[input.version!, input.digest!], owner] } as const;
        };
        const changes = [
          ...v1.created.map(
            ([ref, owner]) =>
              [
                ref.objectId,
                {
                  inputState: { NotExist: true },
                  outputState: { ObjectWrite: [ref.digest, owner] },
                  idOperation: { Created: true },
                },
              ] as const,
          ),
          ...v1.mutated.map(
            ([ref, owner]) =>
              [
                ref.objectId,
                {
                  inputState: inputOf(ref.objectId),
                  outputState: { ObjectWrite: [ref.digest, owner] },
                  idOperation: { None: true },
                },
              ] as const,
          ),
        ].sort(([a], [b]) => (a < b ? -1 : 1));
        const changed = new Set(changes.map(([id]) => id));
        const v2 = bcs.TransactionEffects.serialize({
          V2: {
            status: { Success: true },
            executedEpoch: v1.executedEpoch,
            gasUsed: v1.gasUsed,
            transactionDigest: v1.transactionDigest,
            // System transactions (the consensus commit prologue) pay no gas: their gas object is 0x0.
            gasObjectIndex: changed.has(v1.gasObject[0].objectId)
              ? changes.findIndex(([id]) => id === v1.gasObject[0].objectId)
              : null,
            eventsDigest: v1.eventsDigest,
            dependencies: v1.dependencies,
            lamportVersion: rendered.effects!.lamportVersion!,
            changedObjects: changes,
            unchangedConsensusObjects: v1.sharedObjects
              .filter((ref) => !changed.has(ref.objectId))
              .map((ref) => [ref.objectId, { ReadOnlyRoot: [ref.version, ref.digest] }] as const),
            auxDataDigest: null,
          },
        }).toBytes();

        const fromV2 = transactionEffectsToProto(v2, objects);
        const fromV1 = rendered.effects!;
        const sorted = <T extends { objectId?: string }>(list: T[]) =>
          [...list].sort((a, b) => (a.objectId! < b.objectId! ? -1 : 1));
        expect(fromV2.version).toBe(2);
        expect(sorted(fromV2.changedObjects)).toEqual(sorted(fromV1.changedObjects));
        expect(sorted(fromV2.unchangedConsensusObjects)).toEqual(sorted(fromV1.unchangedConsensusObjects));
        expect(fromV2.gasObject).toEqual(fromV1.gasObject);
        expect(fromV2.lamportVersion).toBe(fromV1.lamportVersion);
        checked++;
      }
      expect(checked).toBe(parts.transactions.length);
    });

    it('knows nothing beyond the fixtures', () => {
      const [first] = MAINNET_CHECKPOINTS;
      expect(ledger.getCheckpoint(first + 1n)).toBeUndefined();
      expect(ledger.checkpointOfDigest(readView(first).checkpoint.previousDigest!)).toBeUndefined();
      expect(ledger.getObject(normalizeSuiAddress('0xdead'))).toBeUndefined();
      expect(ledger.getObject(DEEPBOOK_POOL, 1n)).toBeUndefined();
      expect(ledger.getTransaction('11111111111111111111111111111111')).toBeUndefined();
      expect(ledger.getPackage(normalizeSuiAddress('0xdee9'))).toBeUndefined();
      expect(ledger.listPackageVersions(normalizeSuiAddress('0xdee9'))).toBeUndefined();
    });

    it('serves each checkpoint by its digest as by its sequence number, over gRPC-web', async () => {
      const chain = createSimChain({ checkpoints: 500 });
      const server = await createSimnetServer({ chain, ledgers: [ledger, chain] });
      try {
        const client = new SuiGrpcClient({ network: 'localnet', baseUrl: server.url });
        const readMask = { paths: ['sequence_number', 'digest', 'transactions.digest'] };
        const byDigest = (digest: string) => client.ledgerService.getCheckpoint({ checkpointId: { oneofKind: 'digest', digest }, readMask });
        for (const seq of MAINNET_CHECKPOINTS) {
          const { digest, transactions } = readView(seq).checkpoint;
          expect(ledger.checkpointOfDigest(digest)).toBe(seq);
          const served = (await byDigest(digest)).response.checkpoint!;
          expect([served.sequenceNumber, served.digest, served.transactions.map((tx) => tx.digest)]).toEqual([seq, digest, transactions]);
        }
        expect((await byDigest('38ytBcJi4VmGvTzjcYMCqGfZMzn4GjX7Gurxc6goRvRc')).response.checkpoint!.sequenceNumber).toBe(20958462n);
        // The synthetic chain behind the fixtures still answers for its own digests.
        const synthetic = chain.getCheckpoint(42n)!.digest!;
        expect((await byDigest(synthetic)).response.checkpoint!.sequenceNumber).toBe(42n);
        const previous = readView(MAINNET_CHECKPOINTS[0]).checkpoint.previousDigest!;
        const missing = await byDigest(previous).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(missing).toBeInstanceOf(RpcError);
        expect([(missing as RpcError).code, (missing as RpcError).message]).toEqual(['NOT_FOUND', `checkpoint ${previous} not found`]);
      } finally {
        await server.close();
      }
    });

    it('hands out copies, so a caller cannot corrupt the ledger', () => {
      const seq = 20958462n;
      const first = ledger.getCheckpoint(seq)!;
      first.transactions.length = 0;
      first.objects!.objects[0].version = 0n;
      const again = ledger.getCheckpoint(seq)!;
      expect(again.transactions.length).toBe(readView(seq).checkpoint.transactions.length);
      expect(again.objects!.objects[0].version).not.toBe(0n);
    });
  },
);
