import { GrpcTypes } from '@mysten/sui/grpc';
import { normalizeStructTag } from '@mysten/sui/utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSimChain, type SimChain } from '../src/simnet/chain.ts';
import type { ObjectVersionRow } from '../src/sui/records.ts';

const CHECKPOINTS = 3000;
const InputState = GrpcTypes.ChangedObject_InputObjectState;
const OutputState = GrpcTypes.ChangedObject_OutputObjectState;
const IdOperation = GrpcTypes.ChangedObject_IdOperation;
const SIMNET_PACKAGES = ['token', 'dex', 'book', 'nft', 'late'] as const;

/** Struct addresses inside a normalized type string, found textually (independent of the generator). */
function addressesIn(type: string): string[] {
  return type.match(/0x[0-9a-f]{64}(?=::)/g) ?? [];
}

const rowKey = (row: { objectId: string; version: bigint }) => `${row.objectId}@${row.version}`;

describe('simnet chain', () => {
  let chain: SimChain;
  let checkpoints: GrpcTypes.Checkpoint[];

  beforeAll(() => {
    chain = createSimChain({ seed: 7, checkpoints: CHECKPOINTS });
    checkpoints = Array.from({ length: CHECKPOINTS }, (_, s) => chain.getCheckpoint(BigInt(s))!);
  });

  it('is deterministic: the same seed gives the same bytes, another seed does not', () => {
    const again = createSimChain({ seed: 7, checkpoints: CHECKPOINTS });
    const other = createSimChain({ seed: 8, checkpoints: CHECKPOINTS });
    for (const s of [0, 1, 77, 1500, 2999]) {
      const bytes = GrpcTypes.Checkpoint.toBinary(checkpoints[s]);
      expect(Buffer.from(GrpcTypes.Checkpoint.toBinary(again.getCheckpoint(BigInt(s))!)).equals(Buffer.from(bytes))).toBe(true);
      expect(Buffer.from(GrpcTypes.Checkpoint.toBinary(other.getCheckpoint(BigInt(s))!)).equals(Buffer.from(bytes))).toBe(false);
    }
    expect(again.packages.map((pkg) => pkg.versions.map((v) => v.id))).toEqual(chain.packages.map((pkg) => pkg.versions.map((v) => v.id)));
  });

  it('has a realistic spread of transactions and object changes', () => {
    const counts = checkpoints.map((checkpoint) => checkpoint.transactions.length);
    const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
    expect(mean).toBeGreaterThan(8);
    expect(mean).toBeLessThan(16);
    expect(counts.filter((n) => n === 0).length).toBeGreaterThan(CHECKPOINTS * 0.02);
    expect(counts.filter((n) => n >= 1 && n <= 3).length).toBeGreaterThan(CHECKPOINTS * 0.15);
    expect(counts.filter((n) => n >= 5 && n <= 30).length).toBeGreaterThan(CHECKPOINTS * 0.5);
    expect(Math.max(...counts)).toBeGreaterThanOrEqual(200);
    expect(Math.max(...counts)).toBeLessThan(1000);
    const perTx = checkpoints.slice(1).flatMap((c) => c.transactions.map((tx) => tx.effects!.changedObjects.length));
    expect(Math.max(...perTx)).toBeGreaterThanOrEqual(24);
    const gasType = normalizeStructTag('0x2::coin::Coin<0x2::sui::SUI>');
    for (const checkpoint of checkpoints.slice(1)) {
      checkpoint.transactions.forEach((tx, index) => {
        if (index === 0) return;
        const gas = tx.effects!.gasObject!;
        expect(gas.objectType).toBe(gasType);
        expect(gas.inputState).toBe(InputState.EXISTS);
        expect(gas.outputOwner!.kind).toBe(GrpcTypes.Owner_OwnerKind.ADDRESS);
      });
    }
  });

  it('follows Sui versioning: lamport versions, increasing versions, inputs equal previous writes', () => {
    const lastWrite = new Map<string, bigint>();
    const deleted = new Set<string>();
    const problems: string[] = [];
    const upgradedInPlace: string[] = [];
    let checked = 0;
    for (const checkpoint of checkpoints) {
      const s = checkpoint.sequenceNumber!;
      checkpoint.transactions.forEach((tx, i) => {
        const effects = tx.effects!;
        const where = `checkpoint ${s} tx ${i}`;
        if (effects.lamportVersion !== s * 1000n + BigInt(i) + 1n) problems.push(`${where}: lamport ${effects.lamportVersion}`);
        if (tx.transactionIndex !== BigInt(i) || tx.checkpoint !== s) problems.push(`${where}: position`);
        for (const change of effects.changedObjects) {
          const id = change.objectId!;
          if (change.inputState === InputState.EXISTS) {
            if (change.inputVersion !== lastWrite.get(id)) problems.push(`${where}: ${id} input ${change.inputVersion} != ${lastWrite.get(id)}`);
            checked++;
          }
          if (change.outputState === OutputState.OBJECT_WRITE) {
            const previous = lastWrite.get(id);
            if (change.outputVersion !== effects.lamportVersion) problems.push(`${where}: ${id} output version`);
            if (deleted.has(id)) problems.push(`${where}: ${id} written after deletion`);
            if (previous !== undefined && change.outputVersion! <= previous) problems.push(`${where}: ${id} version did not increase`);
            lastWrite.set(id, change.outputVersion!);
          } else if (change.outputState === OutputState.PACKAGE_WRITE) {
            // A publish creates the package; a system package's upgrade in place writes its next version.
            const publish = change.inputState === InputState.DOES_NOT_EXIST && change.idOperation === IdOperation.CREATED;
            const inPlace = change.inputState === InputState.EXISTS && change.idOperation === IdOperation.NONE && change.outputVersion === change.inputVersion! + 1n;
            if (change.objectType !== 'package' || !(publish || inPlace) || change.outputOwner) problems.push(`${where}: ${id} package write`);
            if (inPlace) upgradedInPlace.push(id);
            lastWrite.set(id, change.outputVersion!);
          } else if (change.outputVersion !== undefined || change.outputDigest !== undefined || change.outputOwner !== undefined) {
            problems.push(`${where}: ${id} output fields set without an object write`);
          }
          if (change.idOperation === IdOperation.DELETED) deleted.add(id);
          if (change.idOperation === IdOperation.CREATED && change.inputState !== InputState.DOES_NOT_EXIST) problems.push(`${where}: ${id} created from an existing input`);
        }
      });
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(20_000);
    expect(upgradedInPlace).toEqual([chain.package('sui').originalId]);
  });

  it('holds exactly the input and output versions in each checkpoint object set, sorted', () => {
    const problems: string[] = [];
    for (const checkpoint of checkpoints) {
      const expected = new Set<string>();
      const outputs = new Map<string, string>();
      for (const tx of checkpoint.transactions) {
        for (const change of tx.effects!.changedObjects) {
          if (change.inputState === InputState.EXISTS) expected.add(`${change.objectId}@${change.inputVersion}`);
          if (change.outputState === OutputState.OBJECT_WRITE || change.outputState === OutputState.PACKAGE_WRITE) {
            const key = `${change.objectId}@${change.outputVersion}`;
            expected.add(key);
            outputs.set(key, tx.digest!);
          }
        }
      }
      const objects = checkpoint.objects!.objects;
      const keys = objects.map((object) => `${object.objectId}@${object.version}`);
      const where = `checkpoint ${checkpoint.sequenceNumber}`;
      if (keys.length !== expected.size || keys.some((key) => !expected.has(key))) problems.push(`${where}: object set differs`);
      for (let i = 1; i < objects.length; i++) {
        const a = objects[i - 1];
        const b = objects[i];
        if (a.objectId! > b.objectId! || (a.objectId === b.objectId && a.version! >= b.version!)) problems.push(`${where}: not sorted at ${i}`);
      }
      const digests = new Set(checkpoint.transactions.map((tx) => tx.digest));
      const firstLamport = checkpoint.sequenceNumber! * 1000n + 1n;
      for (const object of objects) {
        const key = `${object.objectId}@${object.version}`;
        // Written in this checkpoint: by the transaction it names. Otherwise an older input.
        if (digests.has(object.previousTransaction)) {
          if (outputs.get(key) !== object.previousTransaction) problems.push(`${where}: ${key} attributed to the wrong transaction`);
        } else if (outputs.has(key) || (object.objectType !== 'package' && object.version! >= firstLamport)) {
          problems.push(`${where}: input ${key} looks written here`);
        }
        if (!object.digest || !object.objectType || !(object.owner?.kind && object.owner.kind > 0)) problems.push(`${where}: ${key} incomplete`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('publishes and upgrades the packages it describes', () => {
    const dex = chain.package('dex');
    expect(dex.versions.map((v) => v.version)).toEqual([1n, 2n, 3n]);
    expect(Number(dex.versions[0].publishCheckpoint)).toBeGreaterThanOrEqual(CHECKPOINTS * 0.02);
    expect(Number(dex.versions[0].publishCheckpoint)).toBeLessThan(CHECKPOINTS * 0.02 + 10);
    expect(chain.family(dex.versions[2].id)).toEqual(dex.versions.map((v) => v.id));
    expect(chain.publishCheckpoint(dex.versions[1].id)).toBe(dex.versions[0].publishCheckpoint);
    const position = dex.versions[2].typeOrigins.find((o) => o.datatype === 'Position')!;
    expect(position.packageId).toBe(dex.versions[2].id);
    expect(dex.versions[1].typeOrigins.some((o) => o.datatype === 'Position')).toBe(false);
    const late = chain.package('late');
    expect(late.versions[0].publishCheckpoint).toBeGreaterThanOrEqual(BigInt(CHECKPOINTS * 0.8));
    expect(late.versions.map((v) => v.version)).toEqual([1n, 2n, 3n]);
    expect(late.versions[2].typeOrigins.find((o) => o.datatype === 'Extra')!.packageId).toBe(late.versions[2].id);
    expect(late.versions[1].typeOrigins.some((o) => o.datatype === 'Extra')).toBe(false);
    expect(chain.package('sui').originalId).toBe(normalizeStructTag('0x2::a::B').split('::')[0]);

    for (const pkg of chain.packages.filter((p) => (SIMNET_PACKAGES as readonly string[]).includes(p.name))) {
      for (const version of pkg.versions) {
        const object = chain.getObject(version.id)!;
        expect(object.objectType).toBe('package');
        expect(object.previousTransaction).toBe(version.publishTxDigest);
        expect(object.package!.storageId).toBe(version.id);
        expect(object.package!.originalId).toBe(pkg.originalId);
        expect(chain.getTransaction(version.publishTxDigest)!.checkpoint).toBe(version.publishCheckpoint);
        const publish = checkpoints[Number(version.publishCheckpoint)].transactions.find((tx) => tx.digest === version.publishTxDigest)!;
        const packageWrite = publish.effects!.changedObjects.find((c) => c.objectId === version.id)!;
        expect(packageWrite.outputState).toBe(OutputState.PACKAGE_WRITE);
        expect(packageWrite.outputVersion).toBe(version.version);
        const cap = publish.effects!.changedObjects.find((c) => c.objectType === normalizeStructTag('0x2::package::UpgradeCap'))!;
        expect(cap.idOperation).toBe(version.version === 1n ? IdOperation.CREATED : IdOperation.NONE);
      }
    }
  });

  it('writes objects of a struct an upgrade added only after that upgrade, under the upgrade\'s ID', () => {
    const late = chain.package('late');
    const v3 = late.versions[2];
    const extraType = `${v3.id}::late::Extra`;
    const rows = chain.groundTruth({ packageId: late.originalId, match: 'outer', fromCheckpoint: 0, toCheckpoint: CHECKPOINTS - 1 });
    const extras = rows.filter((row) => row.objectType === extraType);
    expect(extras.length).toBeGreaterThan(10);
    expect(extras.every((row) => row.checkpoint >= v3.publishCheckpoint && row.typePackage === v3.id)).toBe(true);
    expect(new Set(extras.map((row) => row.change))).toEqual(new Set(['created', 'mutated', 'deleted']));
    // Served checkpoints carry the type as the ground truth says.
    const first = extras[0];
    const served = checkpoints[Number(first.checkpoint)].transactions
      .flatMap((tx) => tx.effects!.changedObjects)
      .find((change) => change.objectId === first.objectId)!;
    expect(served.objectType).toBe(extraType);
  });

  it('publishes and upgrades at chosen checkpoints, and refuses a placement it cannot build', () => {
    const placed = createSimChain({ seed: 7, checkpoints: 600, publishAt: { token: [5], dex: [10, 200, 210], late: [20, 21, 400] } });
    const at = (name: 'token' | 'dex' | 'late' | 'book') => placed.package(name).versions.map((v) => Number(v.publishCheckpoint));
    expect(at('token')).toEqual([5]);
    expect(at('dex')).toEqual([10, 200, 210]);
    expect(at('late')).toEqual([20, 21, 400]);
    expect(at('book')).toEqual([Math.floor(600 * 0.03)]);
    const late = placed.package('late');
    expect(placed.groundTruth({ packageId: late.originalId, fromCheckpoint: 20, toCheckpoint: 599 }).some((row) => row.typePackage === late.versions[2].id)).toBe(true);

    expect(() => createSimChain({ checkpoints: 600, publishAt: { dex: [10] } })).toThrow('publishAt.dex needs 3 checkpoints (one per version), got 1');
    expect(() => createSimChain({ checkpoints: 600, publishAt: { dex: [10, 5, 20] } })).toThrow('publishAt.dex must be in version order, got 10, 5, 20');
    expect(() => createSimChain({ checkpoints: 600, publishAt: { token: [50], dex: [10, 60, 70] } })).toThrow('token must be published first');
    expect(() => createSimChain({ checkpoints: 600, publishAt: { nft: [600] } })).toThrow('the chain is too short to publish every package (600 checkpoints)');
  });

  it('scales the objects each unrelated transaction creates', () => {
    const created = (objectsPerTransaction: number) => {
      const scaled = createSimChain({ seed: 7, checkpoints: 400, objectsPerTransaction, packageTrafficFraction: 0 });
      let count = 0;
      for (let s = 1; s < 400; s++) {
        for (const tx of scaled.getCheckpoint(BigInt(s))!.transactions) {
          count += tx.effects!.changedObjects.filter((change) => change.idOperation === IdOperation.CREATED).length;
        }
      }
      return count;
    };
    // With no unrelated objects only the publishes create anything (packages, upgrade caps, treasury...).
    const publishes = created(0);
    expect(publishes).toBeLessThan(40);
    const base = created(1) - publishes;
    expect(base).toBeGreaterThan(1_000);
    const tripled = (created(3) - publishes) / base;
    expect(tripled).toBeGreaterThan(2.8);
    expect(tripled).toBeLessThan(3.2);
    expect(() => createSimChain({ checkpoints: 400, objectsPerTransaction: -1 })).toThrow('objectsPerTransaction must be between 0 and 100, got -1');
  });

  it('ground truth matches what the served checkpoints hold, by an independent reading of types', () => {
    for (const name of SIMNET_PACKAGES) {
      const pkg = chain.package(name);
      const family = new Set(pkg.versions.map((v) => v.id));
      for (const match of ['outer', 'anywhere'] as const) {
        const expected: ObjectVersionRow[] = [];
        for (const checkpoint of checkpoints) {
          for (const tx of checkpoint.transactions) {
            const lamport = tx.effects!.lamportVersion!;
            for (const change of tx.effects!.changedObjects) {
              if (change.outputState === OutputState.PACKAGE_WRITE || change.outputState === OutputState.ACCUMULATOR_WRITE) continue;
              const type = change.objectType!;
              const addresses = addressesIn(type);
              if (!(match === 'outer' ? family.has(addresses[0]) : addresses.some((a) => family.has(a)))) continue;
              const written = change.outputState === OutputState.OBJECT_WRITE;
              const [typePackage, typeModule, rest] = type.split('::');
              const kind =
                change.idOperation === IdOperation.DELETED
                  ? 'deleted'
                  : change.inputState === InputState.DOES_NOT_EXIST
                    ? change.idOperation === IdOperation.CREATED
                      ? 'created'
                      : 'unwrapped'
                    : written
                      ? 'mutated'
                      : 'wrapped';
              const owner = written ? change.outputOwner! : undefined;
              const ownerKinds = ['unknown', 'address', 'object', 'shared', 'immutable', 'consensus_address'] as const;
              expected.push({
                objectId: change.objectId!,
                version: change.outputVersion ?? lamport,
                objectType: type,
                typePackage,
                typeModule,
                typeName: rest.split('<')[0],
                ownerKind: owner ? ownerKinds[owner.kind!] : null,
                ownerAddress: owner?.address ?? null,
                checkpoint: checkpoint.sequenceNumber!,
                txDigest: tx.digest!,
                objectDigest: written ? change.outputDigest! : null,
                change: kind,
              });
            }
          }
        }
        const truth = chain.groundTruth({ packageId: pkg.originalId, match, fromCheckpoint: 0, toCheckpoint: CHECKPOINTS - 1 });
        expect(truth.length).toBeGreaterThan(50);
        expect(truth).toEqual(expected);
        for (const row of truth) expect(normalizeStructTag(row.objectType)).toBe(row.objectType);
      }
    }
  });

  it('gives the same ground truth from any ID of a family; anywhere contains outer', () => {
    const dex = chain.package('dex');
    const range = { fromCheckpoint: 0, toCheckpoint: CHECKPOINTS - 1 };
    const byOriginal = chain.groundTruth({ packageId: dex.originalId, ...range });
    const byNewest = chain.groundTruth({ packageId: dex.versions[2].id, ...range });
    expect(byNewest).toEqual(byOriginal);
    expect(byOriginal.some((row) => row.typePackage === dex.versions[2].id && row.typeName === 'Position' && row.change === 'created')).toBe(true);
    expect(byOriginal.some((row) => row.typePackage === dex.versions[2].id && row.change === 'mutated')).toBe(true);
    expect(byOriginal.some((row) => row.typeName === 'Pool' && row.ownerKind === 'shared')).toBe(true);

    const shortRange = chain.groundTruth({ packageId: dex.originalId, fromCheckpoint: 1000, toCheckpoint: 1200 });
    expect(shortRange).toEqual(byOriginal.filter((row) => row.checkpoint >= 1000n && row.checkpoint <= 1200n));

    for (const name of SIMNET_PACKAGES) {
      const id = chain.package(name).originalId;
      const outer = chain.groundTruth({ packageId: id, match: 'outer', ...range });
      const anywhere = new Set(chain.groundTruth({ packageId: id, match: 'anywhere', ...range }).map(rowKey));
      for (const row of outer) expect(anywhere.has(rowKey(row))).toBe(true);
    }
    const book = chain.groundTruth({ packageId: chain.package('book').originalId, match: 'anywhere', ...range });
    expect(book.some((row) => row.typePackage.endsWith('2') && row.typeName === 'Field' && row.ownerKind === 'object')).toBe(true);
    expect(new Set(book.filter((row) => row.typeName === 'Field').map((row) => row.change))).toEqual(new Set(['created', 'mutated', 'deleted']));
    const nftAnywhere = chain.groundTruth({ packageId: chain.package('nft').originalId, match: 'anywhere', ...range });
    expect(nftAnywhere.some((row) => row.objectType.includes('vector<'))).toBe(true);
  });

  it('counts the dex pools and LP coins in the token family when matching anywhere', () => {
    const token = chain.package('token').originalId;
    const dex = chain.package('dex').originalId;
    const range = { fromCheckpoint: 0, toCheckpoint: CHECKPOINTS - 1 };
    const anywhere = chain.groundTruth({ packageId: token, match: 'anywhere', ...range });
    const outer = chain.groundTruth({ packageId: token, match: 'outer', ...range });
    expect(anywhere.some((row) => row.typePackage === dex && row.typeName === 'Pool')).toBe(true);
    expect(anywhere.some((row) => row.objectType === normalizeStructTag(`0x2::coin::Coin<${dex}::pool::LP<0x2::sui::SUI, ${token}::token::TOKEN>>`))).toBe(true);
    expect(anywhere.some((row) => row.objectType.startsWith(normalizeStructTag('0x2::coin::CoinMetadata<0x2::a::B>').split('<')[0]) && row.ownerKind === 'immutable')).toBe(true);
    expect(outer.length).toBeGreaterThan(0);
    for (const row of outer) {
      expect(row.typePackage).toBe(token);
      expect(row.typeName).toBe('Vault');
      expect(['shared', 'consensus_address']).toContain(row.ownerKind);
    }
  });

  it('exercises every change kind on nft objects', () => {
    const rows = chain.groundTruth({ packageId: chain.package('nft').originalId, match: 'outer', fromCheckpoint: 0, toCheckpoint: CHECKPOINTS - 1 });
    const cards = rows.filter((row) => row.typeName === 'Card');
    expect(new Set(cards.map((row) => row.change))).toEqual(new Set(['created', 'mutated', 'wrapped', 'unwrapped', 'deleted']));
    for (const row of cards) {
      const written = row.change === 'created' || row.change === 'mutated' || row.change === 'unwrapped';
      expect(row.objectDigest !== null).toBe(written);
      expect(row.ownerKind).toBe(written ? 'address' : null);
    }
    // Unwrapped then deleted in one transaction: neither input nor output exists.
    const unwrapDeleted = checkpoints.flatMap((c) =>
      c.transactions.flatMap((tx) =>
        tx.effects!.changedObjects.filter(
          (change) => change.inputState === InputState.DOES_NOT_EXIST && change.outputState === OutputState.DOES_NOT_EXIST && change.idOperation === IdOperation.DELETED,
        ),
      ),
    );
    expect(unwrapDeleted.length).toBeGreaterThan(0);
    const cardKeys = new Set(cards.filter((row) => row.change === 'deleted').map(rowKey));
    expect(unwrapDeleted.every((change) => change.objectType!.endsWith('::nft::Card'))).toBe(true);
    expect(cardKeys.size).toBeGreaterThan(unwrapDeleted.length);
  });

  it('keeps unrelated traffic free of the simulated packages', () => {
    const range = { fromCheckpoint: 0, toCheckpoint: CHECKPOINTS - 1 };
    const addresses = new Set(chain.packages.filter((p) => (SIMNET_PACKAGES as readonly string[]).includes(p.name)).flatMap((p) => p.versions.map((v) => v.id)));
    const packageRows = new Set(
      SIMNET_PACKAGES.flatMap((name) => chain.groundTruth({ packageId: chain.package(name).originalId, match: 'anywhere', ...range }).map(rowKey)),
    );
    let unrelated = 0;
    let accumulatorWrites = 0;
    for (const checkpoint of checkpoints) {
      for (const tx of checkpoint.transactions) {
        for (const change of tx.effects!.changedObjects) {
          if (change.outputState === OutputState.PACKAGE_WRITE) continue;
          const mentions = addressesIn(change.objectType!).some((a) => addresses.has(a));
          if (change.outputState === OutputState.ACCUMULATOR_WRITE) {
            accumulatorWrites++;
            continue;
          }
          const key = `${change.objectId}@${change.outputVersion ?? tx.effects!.lamportVersion}`;
          expect(mentions).toBe(packageRows.has(key));
          if (!mentions) unrelated++;
        }
      }
    }
    expect(unrelated).toBeGreaterThan(packageRows.size * 3);
    expect(accumulatorWrites).toBeGreaterThan(0);
  });

  it('upgrades 0x2 in place: one ID, two versions, each served with the transaction that wrote it', () => {
    const sui = chain.package('sui');
    expect(sui.versions.map((v) => [v.id, v.version])).toEqual([
      [sui.originalId, 1n],
      [sui.originalId, 2n],
    ]);
    const [v1, v2] = sui.versions;
    expect(v1.publishCheckpoint).toBe(0n);
    expect(v2.publishCheckpoint).toBeGreaterThanOrEqual(BigInt(CHECKPOINTS / 2));
    expect(chain.family(sui.originalId)).toEqual([sui.originalId]);
    expect(chain.publishCheckpoint(sui.originalId)).toBe(0n);
    expect(chain.getObject(sui.originalId)).toMatchObject({ version: 2n, previousTransaction: v2.publishTxDigest, package: { version: 2n } });
    expect(chain.getObject(sui.originalId, 1n)).toMatchObject({ version: 1n, previousTransaction: v1.publishTxDigest, package: { version: 1n } });
    expect(chain.listPackageVersions(sui.originalId)).toEqual([
      { packageId: sui.originalId, version: 1n },
      { packageId: sui.originalId, version: 2n },
    ]);
    expect(chain.getPackage(sui.originalId)!.version).toBe(2n);

    const before = createSimChain({ seed: 7, checkpoints: CHECKPOINTS, initialTip: Number(v2.publishCheckpoint) - 1 });
    expect(before.getPackage(sui.originalId)!.version).toBe(1n);
    expect(before.getObject(sui.originalId)!.version).toBe(1n);
    expect(before.listPackageVersions(sui.originalId)).toEqual([{ packageId: sui.originalId, version: 1n }]);
  });

  it('hides what lies above the tip and below the lowest available checkpoint', () => {
    const local = createSimChain({ seed: 7, checkpoints: CHECKPOINTS, initialTip: 100, lowestAvailableCheckpoint: 10 });
    expect(local.tip()).toBe(100n);
    expect(local.getCheckpoint(101n)).toBeUndefined();
    expect(local.getCheckpoint(9n)).toBeUndefined();
    expect(local.getCheckpoint(10n)!.sequenceNumber).toBe(10n);
    const late = local.package('late');
    expect(local.getPackage(late.originalId)).toBeUndefined();
    expect(local.getObject(late.originalId)).toBeUndefined();
    expect(local.getTransaction(late.versions[0].publishTxDigest)).toBeUndefined();
    const dex = local.package('dex');
    expect(local.listPackageVersions(dex.originalId)!.map((v) => v.version)).toEqual([1n]);
    local.setTip(CHECKPOINTS * 10);
    expect(local.tip()).toBe(BigInt(CHECKPOINTS - 1));
    local.setTip(5);
    expect(local.advanceTip(3)).toBe(8n);
    expect(local.listPackageVersions(dex.originalId)).toBeUndefined();
  });

  it('serves objects at their latest and earlier versions', () => {
    const rows = chain.groundTruth({ packageId: chain.package('book').originalId, match: 'outer', fromCheckpoint: 0, toCheckpoint: CHECKPOINTS - 1 });
    const bookId = rows[0].objectId;
    const versions = rows.filter((row) => row.objectId === bookId);
    const latest = chain.getObject(bookId)!;
    expect(latest.version).toBe(versions[versions.length - 1].version);
    expect(latest.digest).toBe(versions[versions.length - 1].objectDigest);
    expect(latest.owner).toEqual({ kind: GrpcTypes.Owner_OwnerKind.SHARED, version: versions[0].version });
    const middle = versions[Math.floor(versions.length / 2)];
    const old = chain.getObject(bookId, middle.version)!;
    expect(old.previousTransaction).toBe(middle.txDigest);
    expect(chain.getObject(bookId, middle.version + 1n)).toBeUndefined();

    // Unrelated objects too: a gas coin written by the last user transaction of a checkpoint.
    const checkpoint = checkpoints[2000];
    const gas = checkpoint.transactions[checkpoint.transactions.length - 1].effects!.gasObject!;
    const atVersion = chain.getObject(gas.objectId!, gas.outputVersion)!;
    expect(atVersion.digest).toBe(gas.outputDigest);
    expect(atVersion.owner).toEqual(gas.outputOwner);
    expect(chain.getObject(gas.objectId!)!.version! >= gas.outputVersion!).toBe(true);
    for (const change of checkpoint.transactions.flatMap((tx) => tx.effects!.changedObjects)) {
      if (change.outputState !== OutputState.OBJECT_WRITE) continue;
      const object = chain.getObject(change.objectId!, change.outputVersion)!;
      expect(object.digest).toBe(change.outputDigest);
      expect(object.objectType).toBe(change.objectType);
    }
    const deletion = checkpoint.transactions.flatMap((tx) => tx.effects!.changedObjects).find((change) => change.idOperation === IdOperation.DELETED);
    if (deletion) expect(chain.getObject(deletion.objectId!)).toBeUndefined();
  });
});
