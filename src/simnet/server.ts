import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { GrpcStatusCode } from '@mysten/sui/grpc';
import { z } from 'zod';
import type { Logger } from '../common/logger.ts';
import { SuiBackfillError, errorMessage } from '../common/errors.ts';
import { describeZodError } from '../common/zod-issues.ts';
import type { SimChain } from './chain.ts';
import { encodeGrpcMessage, negotiate, parseGrpcTimeout, readUnaryRequest, truncatedResponseBody, unaryResponseBody } from './grpc-web.ts';
import type { Ledger } from './ledger.ts';
import { createRandom, hash } from './prng.ts';
import { RpcStatusError, createRpcMethods } from './rpc-methods.ts';

/**
 * The simulator's gRPC-web server: `POST /sui.rpc.v2.<Service>/<Method>` as a Sui full node (behind
 * its usual gRPC-web proxy) answers it, plus the knobs that make it behave like a real provider on
 * a bad day, and counters of what it served. Control routes: `GET /simnet/health`,
 * `GET /simnet/stats`, `POST /simnet/stats/reset`, `GET|POST /simnet/knobs` (a value it cannot honour
 * is a 400 naming the knob, and nothing of that request is applied).
 */

type RateLimitStyle = 'grpc' | 'http';

export type SimnetKnobs = {
  /** Advance the tip by one checkpoint every N ms, up to the last generated one; 0 = static. */
  tipAdvanceMs: number;
  /** Checkpoints below it are pruned (NOT_FOUND naming the lowest available one); at most the tip. */
  lowestAvailableCheckpoint: number;
  /** Added to every RPC. */
  latencyMs: number;
  /** Requests per second (token bucket, about a second of burst); 0 = unlimited. */
  rateLimitRps: number;
  /** `grpc`: RESOURCE_EXHAUSTED with `retry-after`; `http`: HTTP 429 with Retry-After, as a proxy answers. */
  rateLimitStyle: RateLimitStyle;
  /** Fraction of RPCs answered UNAVAILABLE. */
  unavailableRate: number;
  /** Fraction of RPCs held for `hangMs` (or until the client's deadline or disconnect). */
  hangRate: number;
  hangMs: number;
  /** Fraction of RPCs whose body stops inside the data frame. */
  truncateRate: number;
  /** Responses larger than this many bytes are refused with OUT_OF_RANGE, as tonic words it; 0 = no limit. */
  maxResponseBytes: number;
  /** Fraction of changed objects served without `object_type` (recoverable from the object set). */
  omitChangedObjectTypes: number;
  /** Every RPC answered UNAUTHENTICATED, as a provider answers an expired or wrong API key. */
  refuseCredentials: boolean;
};

type SimnetStats = {
  /** RPCs received, by method name. */
  requests: Record<string, number>;
  /** RPC answers, by gRPC status name (what the client sees: DATA_LOSS for truncated bodies). */
  responses: Record<string, number>;
  throttled: number;
  faults: { unavailable: number; hang: number; truncate: number };
  tip: number;
  lowestAvailableCheckpoint: number;
  knobs: SimnetKnobs;
};

type SimnetServerOptions = Partial<SimnetKnobs> & {
  chain: SimChain;
  /** Ledgers asked in order; default `[chain]`. */
  ledgers?: Ledger[];
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Seed of the fault draws; default the chain's seed. */
  seed?: number;
  /** Bytes of encoded checkpoint responses cached; default 32 MiB. */
  responseCacheBytes?: number;
  logger?: Logger;
};

export type SimnetServer = {
  readonly url: string;
  readonly port: number;
  stats(): SimnetStats;
  resetStats(): void;
  knobs(): SimnetKnobs;
  setKnobs(knobs: Partial<SimnetKnobs>): SimnetKnobs;
  close(): Promise<void>;
};

/** Node fires a longer timer after 1 ms (TimeoutOverflowWarning): a knob past it would do the opposite of what it says. */
const MAX_TIMER_MS = 2_147_483_647;
const number = (message: string) => z.number({ error: message });
const FRACTION = 'expected a fraction from 0 to 1';
const NON_NEGATIVE_INT = 'expected an integer of at least 0';
const fraction = number(FRACTION).min(0, FRACTION).max(1, FRACTION);
const nonNegativeInt = number(NON_NEGATIVE_INT).int(NON_NEGATIVE_INT).min(0, NON_NEGATIVE_INT);
const timerMs = nonNegativeInt.max(MAX_TIMER_MS, `expected an integer from 0 to ${MAX_TIMER_MS} (ms, the longest timer Node runs)`);
const knobsSchema = z
  .object({
    tipAdvanceMs: timerMs,
    lowestAvailableCheckpoint: nonNegativeInt,
    latencyMs: timerMs,
    rateLimitRps: number('expected a number of at least 0').min(0, 'expected a number of at least 0'),
    rateLimitStyle: z.enum(['grpc', 'http'], { error: 'expected "grpc" or "http"' }),
    unavailableRate: fraction,
    hangRate: fraction,
    hangMs: timerMs,
    truncateRate: fraction,
    maxResponseBytes: nonNegativeInt,
    omitChangedObjectTypes: fraction,
    refuseCredentials: z.boolean({ error: 'expected true or false' }),
  })
  .partial()
  .strict();
const KNOB_NAMES = Object.keys(knobsSchema.shape) as (keyof SimnetKnobs)[];

const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'grpc-status, grpc-message, retry-after',
};
const PREFLIGHT_HEADERS = {
  ...CORS_HEADERS,
  'access-control-allow-methods': 'POST, GET, OPTIONS',
  'access-control-max-age': '86400',
};
/** Allowed when a preflight names no headers: what gRPC-web clients send. */
const DEFAULT_ALLOWED_HEADERS = 'content-type, x-grpc-web, x-user-agent, grpc-timeout, x-sui-client-protocol-version, authorization';
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;
const RPC_PATH = /^\/([A-Za-z0-9_.]+)\/([A-Za-z0-9_]+)$/;

type HoldResult = 'elapsed' | 'deadline' | 'closed';

/** Knob values the simulator cannot honour; nothing of the request is applied, and the same values fail again. */
export class SimnetKnobError extends SuiBackfillError {
  constructor(message: string) {
    super('simnet_knob_invalid', message, { retryable: false });
  }
}

function createTokenBucket() {
  let rate = 0;
  let tokens = 0;
  let last = performance.now();
  return {
    setRate(requestsPerSecond: number) {
      rate = requestsPerSecond;
      tokens = Math.max(1, requestsPerSecond);
      last = performance.now();
    },
    /** 0 when a request may go, else the milliseconds until one may. */
    take(): number {
      if (rate <= 0) return 0;
      const now = performance.now();
      tokens = Math.min(Math.max(1, rate), tokens + ((now - last) / 1000) * rate);
      last = now;
      if (tokens >= 1) {
        tokens -= 1;
        return 0;
      }
      return ((1 - tokens) / rate) * 1000;
    },
  };
}

function emptyStats(): Omit<SimnetStats, 'tip' | 'lowestAvailableCheckpoint' | 'knobs'> {
  return { requests: {}, responses: {}, throttled: 0, faults: { unavailable: 0, hang: 0, truncate: 0 } };
}

function readBody(req: http.IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...CORS_HEADERS, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function createSimnetServer(options: SimnetServerOptions): Promise<SimnetServer> {
  const { chain } = options;
  const ledgers = options.ledgers ?? [chain];
  const seed = options.seed ?? chain.seed;
  const logger = options.logger;

  let knobs: SimnetKnobs = {
    tipAdvanceMs: 0,
    lowestAvailableCheckpoint: Number(chain.lowestAvailableCheckpoint()),
    latencyMs: 0,
    rateLimitRps: 0,
    rateLimitStyle: 'grpc',
    unavailableRate: 0,
    hangRate: 0,
    hangMs: 120_000,
    truncateRate: 0,
    maxResponseBytes: 0,
    omitChangedObjectTypes: 0,
    refuseCredentials: false,
  };
  let counters = emptyStats();
  const bucket = createTokenBucket();
  const faults = createRandom(hash(seed, 0xfa017));
  const holds = new Set<() => void>();
  let tipTimer: NodeJS.Timeout | undefined;

  const methods = createRpcMethods({
    chain,
    ledgers,
    seed,
    omitChangedObjectTypes: () => knobs.omitChangedObjectTypes,
    cacheBytes: options.responseCacheBytes ?? 32 * 1024 * 1024,
  });

  /** The chain's own lowest available checkpoint wins: it can be set directly too. */
  const currentKnobs = (): SimnetKnobs => ({ ...knobs, lowestAvailableCheckpoint: Number(chain.lowestAvailableCheckpoint()) });

  /** The knobs `partial` asks for, checked against each other and the chain before any is applied. */
  function checkKnobs(partial: unknown): Partial<SimnetKnobs> {
    const result = knobsSchema.safeParse(partial);
    if (!result.success) throw new SimnetKnobError(describeZodError(result.error));
    const parsed = Object.fromEntries(Object.entries(result.data).filter(([, value]) => value !== undefined)) as Partial<SimnetKnobs>;
    const tip = Number(chain.tip());
    // As `--lowest-available` is refused above the initial tip: a node that serves nothing is no provider.
    if (parsed.lowestAvailableCheckpoint !== undefined && parsed.lowestAvailableCheckpoint > tip) {
      throw new SimnetKnobError(`lowestAvailableCheckpoint: ${parsed.lowestAvailableCheckpoint} is above the tip, ${tip}; nothing would be served`);
    }
    // One draw picks at most one fault: rates summing past 1 would serve less of the later ones than asked.
    const { unavailableRate, hangRate, truncateRate } = { ...knobs, ...parsed };
    if (unavailableRate + hangRate + truncateRate > 1 + 1e-9) {
      throw new SimnetKnobError(
        `unavailableRate + hangRate + truncateRate: ${unavailableRate} + ${hangRate} + ${truncateRate} is above 1; each RPC gets at most one fault`,
      );
    }
    return parsed;
  }

  function applyKnobs(partial: Partial<SimnetKnobs>): SimnetKnobs {
    const parsed = checkKnobs(partial);
    const previous = knobs;
    knobs = { ...knobs, ...parsed };
    if (parsed.lowestAvailableCheckpoint !== undefined) chain.setLowestAvailableCheckpoint(knobs.lowestAvailableCheckpoint);
    if (parsed.rateLimitRps !== undefined && parsed.rateLimitRps !== previous.rateLimitRps) bucket.setRate(knobs.rateLimitRps);
    if (parsed.tipAdvanceMs !== undefined && parsed.tipAdvanceMs !== previous.tipAdvanceMs) {
      clearInterval(tipTimer);
      tipTimer = undefined;
      if (knobs.tipAdvanceMs > 0) {
        tipTimer = setInterval(() => {
          if (chain.tip() < BigInt(chain.checkpointCount - 1)) chain.advanceTip(1);
        }, knobs.tipAdvanceMs);
        tipTimer.unref();
      }
    }
    return currentKnobs();
  }

  applyKnobs(Object.fromEntries(KNOB_NAMES.map((name) => [name, options[name]])));

  const count = (record: Record<string, number>, key: string) => {
    record[key] = (record[key] ?? 0) + 1;
  };

  function sendStatus(res: http.ServerResponse, contentType: string, status: GrpcStatusCode, message: string, metadata: Record<string, string> = {}): void {
    count(counters.responses, GrpcStatusCode[status]);
    if (res.destroyed) return;
    res.writeHead(200, {
      ...CORS_HEADERS,
      ...metadata,
      'content-type': contentType,
      'grpc-status': String(status),
      'grpc-message': encodeGrpcMessage(message),
      'content-length': 0,
    });
    res.end();
  }

  function sendBody(res: http.ServerResponse, contentType: string, body: Buffer, status: GrpcStatusCode): void {
    count(counters.responses, GrpcStatusCode[status]);
    if (res.destroyed) return;
    res.writeHead(200, { ...CORS_HEADERS, 'content-type': contentType, 'content-length': body.length });
    res.end(body);
  }

  /** Waits `ms`, or until the client's deadline passes or it hangs up, whichever is first. */
  function hold(ms: number, deadlineMs: number | undefined, res: http.ServerResponse): Promise<HoldResult> {
    return new Promise((resolve) => {
      const byDeadline = deadlineMs !== undefined && deadlineMs < ms;
      const finish = (result: HoldResult) => {
        clearTimeout(timer);
        res.off('close', onClose);
        holds.delete(onClose);
        resolve(result);
      };
      const onClose = () => finish('closed');
      const timer = setTimeout(() => finish(byDeadline ? 'deadline' : 'elapsed'), Math.max(0, byDeadline ? deadlineMs : ms));
      res.once('close', onClose);
      holds.add(onClose);
    });
  }

  async function handleRpc(req: http.IncomingMessage, res: http.ServerResponse, service: string, method: string): Promise<void> {
    const arrival = performance.now();
    count(counters.requests, method);
    const negotiated = negotiate(req.headers['content-type']);
    if (!negotiated) {
      res.writeHead(415, { ...CORS_HEADERS, 'content-type': 'text/plain' });
      res.end('expected a gRPC-web content type (application/grpc-web, application/grpc-web-text)');
      return;
    }
    const { format, contentType } = negotiated;
    const body = await readBody(req);
    if (body === undefined) {
      sendStatus(res, contentType, GrpcStatusCode.RESOURCE_EXHAUSTED, `request larger than ${MAX_REQUEST_BYTES} bytes`);
      return;
    }

    if (knobs.refuseCredentials) {
      sendStatus(res, contentType, GrpcStatusCode.UNAUTHENTICATED, 'simnet: invalid API key');
      return;
    }
    const waitMs = bucket.take();
    if (waitMs > 0) {
      counters.throttled += 1;
      const retryAfter = String(Math.max(1, Math.ceil(waitMs / 1000)));
      if (knobs.rateLimitStyle === 'http') {
        count(counters.responses, GrpcStatusCode[GrpcStatusCode.RESOURCE_EXHAUSTED]);
        res.writeHead(429, 'Too Many Requests', { ...CORS_HEADERS, 'retry-after': retryAfter, 'content-type': 'text/plain' });
        res.end('rate limit exceeded');
      } else {
        sendStatus(res, contentType, GrpcStatusCode.RESOURCE_EXHAUSTED, `rate limit of ${knobs.rateLimitRps} requests per second exceeded`, {
          'retry-after': retryAfter,
        });
      }
      return;
    }

    const timeoutMs = parseGrpcTimeout(req.headers['grpc-timeout'] as string | undefined);
    const remaining = () => (timeoutMs === undefined ? undefined : timeoutMs - (performance.now() - arrival));
    const held = async (ms: number): Promise<boolean> => {
      const result = await hold(ms, remaining(), res);
      if (result === 'deadline') sendStatus(res, contentType, GrpcStatusCode.DEADLINE_EXCEEDED, 'deadline exceeded');
      if (result === 'closed') count(counters.responses, GrpcStatusCode[GrpcStatusCode.CANCELLED]);
      return result === 'elapsed';
    };
    if (knobs.latencyMs > 0 && !(await held(knobs.latencyMs))) return;

    const draw = faults.next();
    let truncate = false;
    if (draw < knobs.unavailableRate) {
      counters.faults.unavailable += 1;
      sendStatus(res, contentType, GrpcStatusCode.UNAVAILABLE, 'simnet: injected UNAVAILABLE fault');
      return;
    }
    if (draw < knobs.unavailableRate + knobs.hangRate) {
      counters.faults.hang += 1;
      if (!(await held(knobs.hangMs))) return;
    } else if (draw < knobs.unavailableRate + knobs.hangRate + knobs.truncateRate) {
      truncate = true;
    }

    const handler = methods.get(`${service}/${method}`);
    if (!handler) {
      sendStatus(res, contentType, GrpcStatusCode.UNIMPLEMENTED, `method ${service}/${method} is not implemented by the simulator`);
      return;
    }
    const request = readUnaryRequest(body, format);
    if (typeof request === 'string') {
      sendStatus(res, contentType, GrpcStatusCode.INVALID_ARGUMENT, request);
      return;
    }
    let response: Uint8Array;
    try {
      response = handler(request);
    } catch (error) {
      if (error instanceof RpcStatusError) {
        sendStatus(res, contentType, error.status, error.message, error.metadata);
      } else {
        logger?.error({ err: error, method }, 'simnet RPC failed');
        sendStatus(res, contentType, GrpcStatusCode.INTERNAL, error instanceof Error ? error.message : String(error));
      }
      return;
    }
    if (knobs.maxResponseBytes > 0 && response.length > knobs.maxResponseBytes) {
      // What a Sui full node's gRPC server (tonic) answers for a response over its encoding limit.
      sendStatus(
        res,
        contentType,
        GrpcStatusCode.OUT_OF_RANGE,
        `Error, encoded message length too large: found ${response.length} bytes, the limit is: ${knobs.maxResponseBytes} bytes`,
      );
      return;
    }
    if (truncate) {
      counters.faults.truncate += 1;
      sendBody(res, contentType, truncatedResponseBody(response, format), GrpcStatusCode.DATA_LOSS);
      return;
    }
    sendBody(res, contentType, unaryResponseBody(response, format), GrpcStatusCode.OK);
  }

  const stats = (): SimnetStats => ({
    ...structuredClone(counters),
    tip: Number(chain.tip()),
    lowestAvailableCheckpoint: Number(chain.lowestAvailableCheckpoint()),
    knobs: currentKnobs(),
  });

  async function handleControl(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    if (req.method === 'GET' && path === '/simnet/health') return sendJson(res, 200, { ok: true, tip: Number(chain.tip()) });
    if (req.method === 'GET' && path === '/simnet/stats') return sendJson(res, 200, stats());
    if (req.method === 'POST' && path === '/simnet/stats/reset') {
      counters = emptyStats();
      return sendJson(res, 200, stats());
    }
    if (req.method === 'GET' && path === '/simnet/knobs') return sendJson(res, 200, currentKnobs());
    if (req.method === 'POST' && path === '/simnet/knobs') {
      const body = await readBody(req);
      // readBody hung up on a body past MAX_REQUEST_BYTES: there is no one left to answer.
      if (body === undefined) return;
      let requested: unknown;
      try {
        requested = JSON.parse(body.toString('utf8') || '{}');
      } catch (error) {
        return sendJson(res, 400, { error: `body: not JSON (${errorMessage(error)})` });
      }
      try {
        return sendJson(res, 200, applyKnobs(requested as Partial<SimnetKnobs>));
      } catch (error) {
        if (error instanceof SimnetKnobError) return sendJson(res, 400, { error: error.message });
        throw error;
      }
    }
    sendJson(res, 404, { error: `no route ${req.method} ${path}` });
  }

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'OPTIONS') {
      // Whatever headers the browser asks to send are allowed, as a public full node's proxy does.
      const requested = req.headers['access-control-request-headers'];
      res.writeHead(204, { ...PREFLIGHT_HEADERS, 'access-control-allow-headers': requested || DEFAULT_ALLOWED_HEADERS, vary: 'Access-Control-Request-Headers' });
      res.end();
      return;
    }
    const rpc = path.startsWith('/simnet/') || req.method !== 'POST' ? null : RPC_PATH.exec(path);
    const handling = rpc ? handleRpc(req, res, rpc[1], rpc[2]) : handleControl(req, res, path);
    handling.catch((error: unknown) => {
      logger?.error({ err: error, path }, 'simnet request failed');
      if (!res.headersSent) sendJson(res, 500, { error: String(error) });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    stats,
    resetStats() {
      counters = emptyStats();
    },
    knobs: currentKnobs,
    setKnobs: applyKnobs,
    async close() {
      clearInterval(tipTimer);
      for (const release of [...holds]) release();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
