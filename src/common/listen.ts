import type { Server } from 'node:net';
import { SuiBackfillError } from './errors.ts';

/** Where a server was asked to listen, and the settings that chose it ("HOST, PORT", "--host, --port"). */
type ListenTarget = { host: string; port: number; settings?: string };

/** The causes a user can act on, with whether the same command can succeed later unchanged. */
const CAUSES: Record<string, { cause: string; retryable: boolean }> = {
  EADDRINUSE: { cause: 'address already in use (another process listens there)', retryable: true },
  EADDRNOTAVAIL: { cause: 'address not available (no interface of this machine has it)', retryable: false },
  EACCES: { cause: 'permission denied (ports below 1024 need privileges)', retryable: false },
  ENOTFOUND: { cause: 'host name not found', retryable: false },
  EAI_AGAIN: { cause: 'host name lookup failed for now', retryable: true },
};

/**
 * A server could not listen. In use (or a host name lookup failing for now) is retryable, the
 * other causes need another address.
 */
export class ListenError extends SuiBackfillError {
  constructor(message: string, retryable: boolean, cause: unknown) {
    super('listen_failed', message, { retryable, cause });
  }
}

/** The error as a one-line ListenError when it is a listen failure a user can act on, else unchanged. */
export function toListenError(error: unknown, target: ListenTarget): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const known = code === undefined ? undefined : CAUSES[code];
  if (!known) return error;
  const settings = target.settings ? ` (${target.settings})` : '';
  return new ListenError(`cannot listen on ${target.host}:${target.port}${settings}: ${known.cause}`, known.retryable, error);
}

/** Resolves once `server` (already told to listen) listens; rejects with `toListenError` of its error. */
export function whenListening(server: Server, target: ListenTarget): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => {
      server.off('listening', listening);
      reject(toListenError(error, target));
    };
    const listening = () => {
      server.off('error', failed);
      resolve();
    };
    server.once('error', failed);
    server.once('listening', listening);
  });
}
