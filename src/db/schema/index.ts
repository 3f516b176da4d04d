export * from './framework.ts';
export * from './backfill.ts';
