import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimChain } from '../src/simnet/chain.ts';
import { createMainnetLedger, MAINNET_CHECKPOINTS } from '../src/simnet/mainnet.ts';
import { createSimnetServer, type SimnetServer } from '../src/simnet/server.ts';
import { extractObjectVersions } from '../src/sui/object-versions.ts';
import type { CheckpointRecord, ObjectVersionRow, OwnerKind } from '../src/sui/records.ts';
import { createSuiSource } from '../src/sui/source.ts';
import { createFamilyMatcher, normalizeObjectId, normalizeObjectType, outerStruct } from '../src/sui/types.ts';
import { hasMainnetFixtures, mainnetFixturesDir, withFixtures } from './helpers/fixtures.ts';

/** An object change as the Sui JSON-RPC rendered it (`checkpoint-<seq>.view.json`). */
type ViewChange = {
  type: 'created' | 'mutated' | 'deleted' | 'wrapped' | 'published';
  objectId: string;
  version: string;
  objectType?: string;
  owner?: 'Immutable' | { AddressOwner: string } | { ObjectOwner: string } | { Shared: { initial_shared_version: number | string } };
  digest?: string;
};
type ViewFile = { checkpoint: { sequenceNumber: string; timestampMs: string }; transactions: { digest: string; objectChanges: ViewChange[] }[] };

const DEEPBOOK = '0xdee9';
const PYTH = '0x8d97f1cd6ac663735be08d1d2b6d02a159e711586461306ce60a2b7a6a565a9e';
const DEEPBOOK_TX = '9paVWgkP3wPsXnM9HcUETRcfzzzeERJoA6ss9Wzkq9tp';
const DEEPBOOK_POOL = '0x4405b50d791fd3346754e8171aaab6bc2ed26c2c46efdd033c14b30ae507ac33';

function readView(sequence: bigint): ViewFile {
  return JSON.parse(readFileSync(path.join(mainnetFixturesDir(), 'mainnet', `checkpoint-${sequence}.view.json`), 'utf8')) as ViewFile;
}

function owner(change: ViewChange): { ownerKind: OwnerKind | null; ownerAddress: string | null } {
  const value = change.owner;
  if (change.type === 'deleted' || change.type === 'wrapped' || value === undefined) return { ownerKind: null, ownerAddress: null };
  if (value === 'Immutable') return { ownerKind: 'immutable', ownerAddress: null };
  if ('AddressOwner' in value) return { ownerKind: 'address', ownerAddress: normalizeObjectId(value.AddressOwner)! };
  if ('ObjectOwner' in value) return { ownerKind: 'object', ownerAddress: normalizeObjectId(value.ObjectOwner)! };
  return { ownerKind: 'shared', ownerAddress: null };
}

/** The rows the fixture's own rendering implies for a family, independently of the source's decoding. */
function expectedRows(view: ViewFile, matches: (type: string) => boolean): ObjectVersionRow[] {
  const rows: ObjectVersionRow[] = [];
  for (const transaction of view.transactions) {
    for (const change of transaction.objectChanges) {
      if (change.type === 'published' || change.objectType === undefined) continue;
      const objectType = normalizeObjectType(change.objectType);
      if (!matches(objectType)) continue;
      const outer = outerStruct(objectType);
      const written = change.type === 'created' || change.type === 'mutated';
      rows.push({
        objectId: normalizeObjectId(change.objectId)!,
        version: BigInt(change.version),
        objectType,
        typePackage: outer.address,
        typeModule: outer.module,
        typeName: outer.name,
        ...owner(change),
        checkpoint: BigInt(view.checkpoint.sequenceNumber),
        txDigest: transaction.digest,
        objectDigest: written ? change.digest! : null,
        change: change.type,
      });
    }
  }
  return rows;
}

const rowKey = (row: ObjectVersionRow) => `${row.txDigest}|${row.objectId}|${row.version}`;
const sortRows = (rows: ObjectVersionRow[]) => [...rows].sort((a, b) => (rowKey(a) < rowKey(b) ? -1 : rowKey(a) > rowKey(b) ? 1 : 0));

describe.skipIf(!hasMainnetFixtures())(withFixtures('real mainnet checkpoints through the source'), () => {
  let server: SimnetServer;
  const records = new Map<bigint, CheckpointRecord>();

  beforeAll(async () => {
    const chain = createSimChain({ checkpoints: 100 });
    server = await createSimnetServer({ chain, ledgers: [createMainnetLedger(mainnetFixturesDir()), chain] });
    const source = createSuiSource({ url: server.url, timeoutMs: 30_000, maxRetries: 0 });
    for (const sequence of MAINNET_CHECKPOINTS) records.set(sequence, await source.getCheckpoint(sequence));
  });

  afterAll(async () => {
    await server?.close();
  });

  it('checkpoint 20958462 carries the DeepBook v2 clob_v2::Pool mutation of the place_limit_order transaction', () => {
    const checkpoint = records.get(20958462n)!;
    expect(checkpoint.timestampMs).toBe(1702658952900n);
    const rows = extractObjectVersions(checkpoint, createFamilyMatcher([DEEPBOOK], 'outer'));
    const pool = rows.filter((row) => row.objectId === DEEPBOOK_POOL);
    expect(pool).toEqual([
      {
        objectId: DEEPBOOK_POOL,
        version: 41621979n,
        objectType: normalizeObjectType('0xdee9::clob_v2::Pool<0x2::sui::SUI, 0x5d4b302506645c37ff133b98c4b50a5ae14841659738d6d733d59d0d217a93bf::coin::COIN>'),
        typePackage: normalizeObjectId(DEEPBOOK),
        typeModule: 'clob_v2',
        typeName: 'Pool',
        ownerKind: 'shared',
        ownerAddress: null,
        checkpoint: 20958462n,
        txDigest: DEEPBOOK_TX,
        objectDigest: '2RehHWCGoNrr2JqgYtGeyPRCtxnbcUrZbCfgr1gNkwPB',
        change: 'mutated',
      },
    ]);
  });

  it.each(['outer', 'anywhere'] as const)('DeepBook (%s): every row equals what view.json holds', (mode) => {
    const view = readView(20958462n);
    const rows = extractObjectVersions(records.get(20958462n)!, createFamilyMatcher([DEEPBOOK], mode));
    const expected = expectedRows(view, createFamilyMatcher([DEEPBOOK], mode));
    expect(expected.length).toBeGreaterThan(mode === 'outer' ? 1 : 5);
    expect(sortRows(rows)).toEqual(sortRows(expected));
  });

  it('Pyth: the PriceInfoObject writes keep the original package ID in their type, with the versions view.json holds', () => {
    const view = readView(20958462n);
    const rows = extractObjectVersions(records.get(20958462n)!, createFamilyMatcher([PYTH], 'outer'));
    const expected = expectedRows(view, createFamilyMatcher([PYTH], 'outer'));
    expect(expected.length).toBe(40);
    expect(rows.every((row) => row.objectType === `${PYTH}::price_info::PriceInfoObject` && row.change === 'mutated' && row.ownerKind === 'shared')).toBe(true);
    expect(sortRows(rows)).toEqual(sortRows(expected));
  });

  it.each([...MAINNET_CHECKPOINTS])('checkpoint %s: every changed object agrees with view.json (which omits unwrapped objects)', (sequence) => {
    const view = readView(sequence);
    const rows = extractObjectVersions(records.get(sequence)!, () => true);
    const expected = expectedRows(view, () => true);
    expect(expected.length).toBeGreaterThan(200);
    expect(sortRows(rows.filter((row) => row.change !== 'unwrapped'))).toEqual(sortRows(expected));
  });
});
