/**
 * Read masks: every call names exactly the fields the code reads, so nodes send (and we decode)
 * nothing else. A checkpoint without a mask carries full transactions, events and BCS.
 */
export type ReadMask = { paths: string[] };

const mask = (...paths: string[]): ReadMask => ({ paths });

const CHANGED_OBJECT_FIELDS = [
  'object_id',
  'input_state',
  'input_version',
  'output_state',
  'output_version',
  'output_digest',
  'output_owner',
  'id_operation',
  'object_type',
].map((field) => `transactions.effects.changed_objects.${field}`);

/**
 * What a checkpoint walk reads: per transaction its digest, lamport version and changed objects.
 * Nodes fill `object_type` on changed objects, so the checkpoint's object set (more than half of
 * a response) is only asked for when one came back without it.
 */
export const CHECKPOINT_MASK = mask(
  'sequence_number',
  'summary.timestamp',
  'summary.epoch',
  'summary.total_network_transactions',
  'transactions.digest',
  'transactions.effects.lamport_version',
  ...CHANGED_OBJECT_FIELDS,
);

/** The same plus the checkpoint's object set: the route to types a node left off changed objects. */
export const CHECKPOINT_WITH_OBJECTS_MASK = mask(
  ...CHECKPOINT_MASK.paths,
  'objects.objects.object_id',
  'objects.objects.version',
  'objects.objects.digest',
  'objects.objects.owner',
  'objects.objects.object_type',
);

/** Enough to tell a package from another object, and to name the other object's type. */
export const OBJECT_TYPE_MASK = mask('object_id', 'version', 'object_type');

/** A package object with its Move package: the fallback route when `getPackage` leaves fields empty. */
export const OBJECT_PACKAGE_MASK = mask('object_id', 'version', 'object_type', 'package');

/** The transaction that wrote an object: for a package, its publish or upgrade. */
export const OBJECT_PREVIOUS_TRANSACTION_MASK = mask('object_id', 'version', 'previous_transaction');

export const TRANSACTION_CHECKPOINT_MASK = mask('digest', 'checkpoint', 'timestamp');

/*
 * The route for a checkpoint whose response is larger than a node answers: its transaction
 * digests, then the transactions in small batches with the same fields. Derived from the masks
 * above so both routes read the same fields.
 */
const TRANSACTIONS_PREFIX = 'transactions.';

/** A checkpoint's summary fields and its transaction digests only. */
export const CHECKPOINT_DIGESTS_MASK = mask(...CHECKPOINT_MASK.paths.filter((path) => !path.startsWith(TRANSACTIONS_PREFIX)), 'transactions.digest');

/** A transaction (batchGetTransactions) with what CHECKPOINT_MASK asks of each of a checkpoint's transactions. */
export const TRANSACTION_EFFECTS_MASK = mask(
  ...CHECKPOINT_MASK.paths.filter((path) => path.startsWith(TRANSACTIONS_PREFIX)).map((path) => path.slice(TRANSACTIONS_PREFIX.length)),
);

/** The same plus the transaction's object set (input and output objects), for types left off changes. */
export const TRANSACTION_EFFECTS_WITH_OBJECTS_MASK = mask(
  ...TRANSACTION_EFFECTS_MASK.paths,
  ...CHECKPOINT_WITH_OBJECTS_MASK.paths.filter((path) => path.startsWith('objects.')),
);
