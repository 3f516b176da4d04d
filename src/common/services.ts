import net from 'node:net';

/** How to start each local service, shown when it cannot be reached. */
const START_HINTS = {
  postgres: "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
  redis: 'start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
} as const;

function probe(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function endpoint(url: string, defaultPort: number): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || defaultPort) };
}

/**
 * Checks that Postgres and Redis accept TCP connections. Returns one line per unreachable
 * service, naming it and how to start it; empty when both answer.
 */
export async function checkServices(urls: { databaseUrl: string; redisUrl: string }, timeoutMs = 2_000): Promise<string[]> {
  const pg = endpoint(urls.databaseUrl, 5432);
  const redis = endpoint(urls.redisUrl, 6379);
  const [pgOk, redisOk] = await Promise.all([probe(pg.host, pg.port, timeoutMs), probe(redis.host, redis.port, timeoutMs)]);
  const problems: string[] = [];
  if (!pgOk) problems.push(`PostgreSQL is not reachable at ${pg.host}:${pg.port}; ${START_HINTS.postgres}`);
  if (!redisOk) problems.push(`Redis is not reachable at ${redis.host}:${redis.port}; ${START_HINTS.redis}`);
  return problems;
}
