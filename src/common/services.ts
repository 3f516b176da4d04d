import net from 'node:net';
import { Redis, ReplyError } from 'ioredis';
import postgres from 'postgres';
import { databaseUrl } from '../db/client.ts';
import { withTimeout } from './timeout.ts';

export type ServiceName = 'postgres' | 'redis';

/**
 * Why a service cannot be used, as one line naming the variable that points at it. `cause` is
 * `config` when the URL must change (a refused login), `unavailable` when the service must be
 * started or freed (down, full, not the service it should be).
 */
export type ServiceProblem = { service: ServiceName; cause: 'config' | 'unavailable'; line: string };

export type ServiceTargets = {
  postgres?: {
    url: string;
    /** The variable the URL came from, named in the line; default DATABASE_URL. */
    variable?: string;
    /**
     * The caller creates the database when it is missing (as migrations do, from the server's
     * `postgres` database): a missing one is fine when that login works and the role may create it.
     */
    createsDatabase?: boolean;
  };
  redis?: { url: string; /** Default REDIS_URL. */ variable?: string };
};

type Endpoint = { host: string; port: number; shown: string; local: boolean };

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

function endpoint(url: string, defaultPort: number): Endpoint {
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = Number(parsed.port || defaultPort);
  return { host, port, shown: `${host.includes(':') ? `[${host}]` : host}:${port}`, local: LOCAL_HOSTS.has(host.toLowerCase()) };
}

/** How to start the service on this machine at the configured port. */
function startCommand(service: ServiceName, at: Endpoint): string {
  if (service === 'postgres') {
    const command = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start';
    return at.port === 5432 ? command : `${command} -o "-p ${at.port}"`;
  }
  return `redis-server --daemonize yes --bind ${at.host === '::1' ? '::1' : '127.0.0.1'} --port ${at.port} --save "" --appendonly no`;
}

const LABELS = { postgres: 'PostgreSQL', redis: 'Redis' } as const;

/** A start command only for a service on this machine: one elsewhere is not ours to start. */
function unreachable(service: ServiceName, at: Endpoint, variable: string): ServiceProblem {
  const hint = at.local ? `; start it with: ${startCommand(service, at)}` : '';
  return { service, cause: 'unavailable', line: `${LABELS[service]} is not reachable at ${at.shown} (${variable})${hint}` };
}

/** Socket errors that mean nothing answers at that address. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EADDRNOTAVAIL']);

/** postgres.js' codes for a server that accepted the socket and then did not speak PostgreSQL. */
const NOT_POSTGRES_CODES = new Set(['CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'MESSAGE_NOT_SUPPORTED']);

/**
 * SQLSTATEs a login is refused with that only a change of the URL (or of the server's roles)
 * fixes: invalid_authorization_specification and invalid_password (class 28), invalid_catalog_name
 * (no such database), insufficient_privilege (no CONNECT on the database).
 */
const CONFIG_SQLSTATES = /^(28|3D000$|42501$)/;

function acceptsTcp(at: Endpoint, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: at.host, port: at.port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Logs in to `url` and runs `query` on that one connection, within `timeoutMs`. */
async function login<T>(url: string, timeoutMs: number, query: (sql: postgres.Sql) => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  const sql = postgres(url, { max: 1, connect_timeout: timeoutMs / 1000, onnotice: () => {}, connection: { application_name: 'sui-backfill check' } });
  try {
    const value = await withTimeout(query(sql), timeoutMs, () => Object.assign(new Error('no answer'), { code: 'CONNECT_TIMEOUT' }));
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error };
  } finally {
    await sql.end({ timeout: 0 });
  }
}

/** The server's refusal (its message never holds the password), or what the socket says. */
async function postgresProblem(error: unknown, at: Endpoint, variable: string, timeoutMs: number): Promise<ServiceProblem> {
  const { code = '', message = String(error) } = error as { code?: string; message?: string };
  if (error instanceof postgres.PostgresError) {
    // Anything else the server answers a login with (too many clients, starting up, shutting down) is a wait, not a change.
    const cause = CONFIG_SQLSTATES.test(code) ? 'config' : 'unavailable';
    return { service: 'postgres', cause, line: `PostgreSQL at ${at.shown} refused the connection: ${message} (${variable})` };
  }
  if (NETWORK_CODES.has(code)) return unreachable('postgres', at, variable);
  if (NOT_POSTGRES_CODES.has(code)) {
    if (!(await acceptsTcp(at, timeoutMs))) return unreachable('postgres', at, variable);
    return { service: 'postgres', cause: 'unavailable', line: `PostgreSQL at ${at.shown} did not answer the login (is it PostgreSQL?) (${variable})` };
  }
  // The driver's own refusals (TLS, an authentication method it cannot do): the URL must change.
  return { service: 'postgres', cause: 'config', line: `PostgreSQL at ${at.shown} refused the connection: ${message} (${variable})` };
}

async function checkPostgres(target: NonNullable<ServiceTargets['postgres']>, timeoutMs: number): Promise<ServiceProblem | undefined> {
  const at = endpoint(target.url, 5432);
  const variable = target.variable ?? 'DATABASE_URL';
  const result = await login(target.url, timeoutMs, (sql) => sql`select 1`);
  if (result.ok) return undefined;
  if (!(target.createsDatabase && result.error instanceof postgres.PostgresError && result.error.code === '3D000')) {
    return postgresProblem(result.error, at, variable, timeoutMs);
  }
  const maintenance = await login(databaseUrl(target.url, 'postgres'), timeoutMs, (sql) =>
    sql<{ role: string; allowed: boolean }[]>`select current_user as role, rolcreatedb or rolsuper as allowed from pg_roles where rolname = current_user`,
  );
  if (!maintenance.ok) return postgresProblem(maintenance.error, at, variable, timeoutMs);
  const [{ role, allowed }] = maintenance.value;
  if (allowed) return undefined;
  const name = decodeURIComponent(new URL(target.url).pathname.slice(1));
  return { service: 'postgres', cause: 'config', line: `PostgreSQL at ${at.shown}: database "${name}" does not exist and role "${role}" may not create it (${variable})` };
}

/** `login`: the error is one only a change of the URL gets past. */
type PingOutcome = { kind: 'pong' } | { kind: 'unreachable' } | { kind: 'silent' } | { kind: 'error'; message: string; login: boolean };

/** Redis replies a login cannot get past: a wrong or missing password, a user without rights, protected mode. */
const REDIS_LOGIN_ERRORS = /^(NOAUTH|WRONGPASS|NOPERM|DENIED)\b/;

/**
 * PING (after the AUTH ioredis sends for a URL with a password) on a connection that neither
 * retries nor queues, so what the server said is what is reported.
 */
async function ping(url: string, timeoutMs: number): Promise<PingOutcome> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    disableClientInfo: true,
  });
  let connected = false;
  // A refused AUTH is only emitted: PING may then still answer, as the default user.
  let refused: InstanceType<typeof ReplyError> | undefined;
  redis.on('connect', () => (connected = true));
  redis.on('error', (error: unknown) => {
    if (error instanceof ReplyError) refused ??= error;
  });
  const reply = (error: InstanceType<typeof ReplyError>): PingOutcome => ({ kind: 'error', message: error.message, login: REDIS_LOGIN_ERRORS.test(error.message) });
  try {
    await withTimeout(
      redis.connect().then(() => redis.ping()),
      timeoutMs,
      () => new Error('no answer'),
    );
    return refused ? reply(refused) : { kind: 'pong' };
  } catch (error) {
    if (refused) return reply(refused);
    if (error instanceof ReplyError) return reply(error);
    return connected ? { kind: 'silent' } : { kind: 'unreachable' };
  } finally {
    redis.disconnect();
  }
}

async function checkRedis(target: NonNullable<ServiceTargets['redis']>, timeoutMs: number): Promise<ServiceProblem | undefined> {
  const at = endpoint(target.url, 6379);
  const variable = target.variable ?? 'REDIS_URL';
  const outcome = await ping(target.url, timeoutMs);
  switch (outcome.kind) {
    case 'pong':
      return undefined;
    case 'unreachable':
      return unreachable('redis', at, variable);
    case 'silent':
      return { service: 'redis', cause: 'unavailable', line: `Redis at ${at.shown} did not answer PING (is it Redis?) (${variable})` };
    case 'error':
      // Anything but a refused login (LOADING, MASTERDOWN, BUSY) is a wait, not a change.
      return { service: 'redis', cause: outcome.login ? 'config' : 'unavailable', line: `Redis at ${at.shown} refused the connection: ${outcome.message} (${variable})` };
  }
}

/**
 * Logs in to Postgres (`select 1`) and PINGs Redis, each within `timeoutMs`. Returns one problem
 * per service that cannot be used, naming it, its address and the variable, with how to start it
 * when it is down on this machine; empty when both answer.
 */
export async function findServiceProblems(targets: ServiceTargets, timeoutMs = 2_000): Promise<ServiceProblem[]> {
  const problems = await Promise.all([
    targets.postgres ? checkPostgres(targets.postgres, timeoutMs) : undefined,
    targets.redis ? checkRedis(targets.redis, timeoutMs) : undefined,
  ]);
  return problems.filter((problem) => problem !== undefined);
}

/** The lines of findServiceProblems for both services, by the processes' variable names. */
export async function checkServices(urls: { databaseUrl: string; redisUrl: string }, timeoutMs = 2_000): Promise<string[]> {
  const problems = await findServiceProblems({ postgres: { url: urls.databaseUrl }, redis: { url: urls.redisUrl } }, timeoutMs);
  return problems.map((problem) => problem.line);
}
