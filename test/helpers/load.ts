/**
 * Deadlines of backfill tests on a loaded machine: CI runs the whole suite in parallel on two
 * cores, where a spawned worker takes seconds to start and a walk runs several times slower than
 * alone. They bound how long the system may take to get somewhere, never what the product
 * promises: those bounds stay in the tests, as tight as the promise.
 */

/** A wait for the system to reach a state: a process started, a chunk committed, a claim, a takeover. */
export const REACH_MS = 60_000;

/** A walk to its end. */
export const WALK_MS = 120_000;

/** A test whose walks run in the test's own process. */
export const CASE_MS = 120_000;

/** A test that spawns worker processes, restarts a server or waits out a takeover. */
export const PROCESS_CASE_MS = 180_000;
