import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** `host:pid:random`: names one process among every replica, and a restarted one anew. */
export function createProcessId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}
