/**
 * Read masks: every call names exactly the fields the code reads, so nodes send (and we decode)
 * nothing else. A checkpoint without a mask carries full transactions, events and BCS.
 */
type ReadMask = { paths: string[] };

const mask = (...paths: string[]): ReadMask => ({ paths });

export const CHECKPOINT_MASK = mask(
  'sequence_number',
  'summary.timestamp',
  'transactions.digest',
  'transactions.effects.lamport_version',
  'transactions.effects.changed_objects',
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
