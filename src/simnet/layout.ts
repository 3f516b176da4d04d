import { hash, unit } from './prng.ts';

/**
 * Where every transaction of the chain sits: how many transactions each checkpoint holds, the
 * global index of each, its lamport version and its timestamp. Transactions are numbered globally
 * from 0 (the genesis transaction) in checkpoint order.
 */
export type Layout = {
  readonly checkpoints: number;
  readonly totalTransactions: number;
  /** Transactions in checkpoint `s`. */
  count(s: number): number;
  /** Global index of the first transaction of checkpoint `s` (`start(checkpoints)` = total). */
  start(s: number): number;
  checkpointOf(t: number): number;
  indexInCheckpoint(t: number): number;
  /** Lamport version of every object written by transaction `t`: `s * 1000 + i + 1`. */
  version(t: number): number;
  /** The transaction that wrote `version`, or -1 for versions no transaction of the layout has. */
  transactionOfVersion(version: number): number;
  /** Index 0 of every non-empty checkpoint after genesis: a consensus commit prologue, no gas. */
  isPrologue(t: number): boolean;
  /** A transaction sent by a user: pays gas, carries traffic. */
  isUser(t: number): boolean;
  timestampMs(s: number): number;
  epoch(s: number): number;
};

type LayoutOptions = {
  seed: number;
  checkpoints: number;
  txPerCheckpoint: number;
  genesisTimestampMs: number;
  checkpointIntervalMs: number;
  checkpointsPerEpoch: number;
};

const VERSION_STRIDE = 1000;
const MAX_TRANSACTIONS_PER_CHECKPOINT = VERSION_STRIDE - 1;
const SALT_COUNT = 0x7c01;
const SALT_SIZE = 0x7c02;
const SALT_TIME = 0x7c03;

/** The shape of traffic: a few quiet checkpoints, mostly ordinary ones, now and then a burst. */
function transactionCount(seed: number, s: number, scale: number): number {
  if (s === 0) return 1;
  const kind = unit(hash(seed, SALT_COUNT, s));
  const size = unit(hash(seed, SALT_SIZE, s));
  let count: number;
  if (kind < 0.04) count = 0;
  else if (kind < 0.3) count = 1 + Math.floor(size * 3);
  else if (kind < 0.994) count = Math.round((5 + size * size * 21) * scale);
  else count = Math.round((200 + size * 700) * scale);
  return Math.max(0, Math.min(MAX_TRANSACTIONS_PER_CHECKPOINT, count));
}

export function createLayout(options: LayoutOptions): Layout {
  const { seed, checkpoints } = options;
  const scale = options.txPerCheckpoint / 12;
  const starts = new Uint32Array(checkpoints + 1);
  for (let s = 0; s < checkpoints; s++) starts[s + 1] = starts[s] + transactionCount(seed, s, scale);
  const total = starts[checkpoints];
  const checkpointOfTx = new Uint32Array(total);
  for (let s = 0; s < checkpoints; s++) checkpointOfTx.fill(s, starts[s], starts[s + 1]);
  const jitter = Math.floor(options.checkpointIntervalMs / 5);

  const checkpointOf = (t: number) => checkpointOfTx[t];
  const indexInCheckpoint = (t: number) => t - starts[checkpointOfTx[t]];
  return {
    checkpoints,
    totalTransactions: total,
    count: (s) => starts[s + 1] - starts[s],
    start: (s) => starts[s],
    checkpointOf,
    indexInCheckpoint,
    version: (t) => checkpointOfTx[t] * VERSION_STRIDE + indexInCheckpoint(t) + 1,
    transactionOfVersion(version) {
      const s = Math.floor((version - 1) / VERSION_STRIDE);
      const i = (version - 1) % VERSION_STRIDE;
      if (s < 0 || s >= checkpoints || i >= starts[s + 1] - starts[s]) return -1;
      return starts[s] + i;
    },
    isPrologue: (t) => t > 0 && t < total && starts[checkpointOfTx[t]] === t,
    isUser: (t) => t > 0 && t < total && starts[checkpointOfTx[t]] !== t,
    timestampMs: (s) =>
      options.genesisTimestampMs + s * options.checkpointIntervalMs + (s === 0 || jitter === 0 ? 0 : hash(seed, SALT_TIME, s) % jitter),
    epoch: (s) => Math.floor(s / options.checkpointsPerEpoch),
  };
}
