export * from './framework.ts';
export * from './backfill.ts';
export * from './rpc.ts';
