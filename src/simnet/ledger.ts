import type { GrpcTypes } from '@mysten/sui/grpc';

/**
 * What the simulator's gRPC server serves. A ledger answers with whole, unmasked messages; the
 * server applies read masks, limits and faults. Several ledgers compose (the synthetic chain plus
 * the real mainnet checkpoints), the first that knows an item answers.
 *
 * Object IDs and package IDs passed in are normalized (0x + 64 hex).
 */
export interface Ledger {
  getCheckpoint(sequenceNumber: bigint): GrpcTypes.Checkpoint | undefined;
  /** Sequence number of a checkpoint of this ledger, by its digest. */
  checkpointOfDigest(digest: string): bigint | undefined;
  /** Latest version when `version` is omitted. */
  getObject(objectId: string, version?: bigint): GrpcTypes.Object | undefined;
  getTransaction(digest: string): GrpcTypes.ExecutedTransaction | undefined;
  getPackage(packageId: string): GrpcTypes.Package | undefined;
  /** Every version of the family `packageId` belongs to, oldest first. */
  listPackageVersions(packageId: string): GrpcTypes.PackageVersion[] | undefined;
}
