import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { RpcError } from '@mysten/sui/grpc';
import { describe, expect, it } from 'vitest';
import {
  EndpointRefusedError,
  InvalidRequestError,
  MalformedResponseError,
  NotFoundError,
  RateLimitedError,
  ResponseTooLargeError,
  UnavailableError,
  UnimplementedError,
} from './errors.ts';
import { callDeadline, createGrpcClient, MAX_RETRY_AFTER_MS, toSuiError } from './grpc.ts';

const CONTEXT = 'getCheckpoint(42) at http://127.0.0.1:9000';

describe('toSuiError', () => {
  const cases: [string, RpcError, new (...args: never[]) => Error, boolean][] = [
    ['NOT_FOUND', new RpcError('checkpoint 42 not found', 'NOT_FOUND'), NotFoundError, false],
    ['RESOURCE_EXHAUSTED', new RpcError('rate limit exceeded', 'RESOURCE_EXHAUSTED'), RateLimitedError, true],
    // A Sui full node (tonic) refusing to send a response over its limit.
    ['OUT_OF_RANGE from tonic encoding', new RpcError('Error, encoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes', 'OUT_OF_RANGE'), ResponseTooLargeError, false],
    // A receiving side (a tonic proxy or client) refusing a response over its decoding limit.
    ['OUT_OF_RANGE from tonic decoding', new RpcError('Error, decoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes', 'OUT_OF_RANGE'), ResponseTooLargeError, false],
    ['OUT_OF_RANGE for anything else', new RpcError('checkpoint 99 is past the end of epoch 3', 'OUT_OF_RANGE'), InvalidRequestError, false],
    ['RESOURCE_EXHAUSTED from grpc-go / grpc-js', new RpcError('grpc: received message larger than max (5000000 vs. 4194304)', 'RESOURCE_EXHAUSTED'), ResponseTooLargeError, false],
    ['RESOURCE_EXHAUSTED from grpc-java', new RpcError('gRPC message exceeds maximum size 4194304: 5000000', 'RESOURCE_EXHAUSTED'), ResponseTooLargeError, false],
    ['UNAVAILABLE', new RpcError('upstream connect error', 'UNAVAILABLE'), UnavailableError, true],
    ['DEADLINE_EXCEEDED', new RpcError('The operation was aborted due to timeout', 'DEADLINE_EXCEEDED'), UnavailableError, true],
    ['CANCELLED', new RpcError('This operation was aborted', 'CANCELLED'), UnavailableError, true],
    ['INTERNAL from a failed fetch', new RpcError('fetch failed', 'INTERNAL'), UnavailableError, true],
    ['INTERNAL from a reset body', new RpcError('terminated', 'INTERNAL'), UnavailableError, true],
    ['INTERNAL from a decode failure', new RpcError('premature EOF', 'INTERNAL'), MalformedResponseError, true],
    ['INTERNAL', new RpcError('invalid wire type 7 at offset 12', 'INTERNAL'), MalformedResponseError, true],
    ['DATA_LOSS', new RpcError('missing trailers', 'DATA_LOSS'), MalformedResponseError, true],
    ['UNKNOWN (HTTP 500/502)', new RpcError('Bad Gateway', 'UNKNOWN'), MalformedResponseError, true],
    ['INVALID_ARGUMENT', new RpcError('invalid object id', 'INVALID_ARGUMENT'), InvalidRequestError, false],
    ['UNIMPLEMENTED', new RpcError('unknown service', 'UNIMPLEMENTED'), UnimplementedError, false],
  ];

  it.each(cases)('maps %s to a typed error (retryable: %3$s)', (_, error, type, retryable) => {
    const mapped = toSuiError(error, CONTEXT);
    expect(mapped).toBeInstanceOf(type);
    expect((mapped as { retryable: boolean }).retryable).toBe(retryable);
    expect((mapped as Error).message).toBe(`${CONTEXT}: ${error.code}: ${error.message}`);
    expect((mapped as Error).cause).toBe(error);
  });

  it.each(['UNAUTHENTICATED', 'PERMISSION_DENIED'])('maps %s to EndpointRefused, saying the endpoint refused our credentials', (code) => {
    const error = new RpcError('invalid api key', code);
    const mapped = toSuiError(error, CONTEXT);
    expect(mapped).toBeInstanceOf(EndpointRefusedError);
    expect(mapped).toMatchObject({ code: 'rpc_refused', retryable: false, cause: error });
    expect((mapped as Error).message).toBe(`${CONTEXT}: the endpoint refused our credentials (${code}: invalid api key); check the API key in its URL`);
  });

  it('reads the retry-after hint (seconds) of a rate limit, from headers or trailers', () => {
    expect((toSuiError(new RpcError('Too Many Requests', 'RESOURCE_EXHAUSTED', { 'retry-after': '2' }), CONTEXT) as RateLimitedError).retryAfterMs).toBe(2_000);
    expect((toSuiError(new RpcError('slow down', 'RESOURCE_EXHAUSTED', { 'retry-after': ['0.5'] }), CONTEXT) as RateLimitedError).retryAfterMs).toBe(500);
    expect((toSuiError(new RpcError('slow down', 'RESOURCE_EXHAUSTED', { 'retry-after': 'soon' }), CONTEXT) as RateLimitedError).retryAfterMs).toBeUndefined();
    expect((toSuiError(new RpcError('slow down', 'RESOURCE_EXHAUSTED'), CONTEXT) as RateLimitedError).retryAfterMs).toBeUndefined();
  });

  it('reads a retry-after hint given as an HTTP date: the time until then, none once it is past', () => {
    const hint = (value: string) => (toSuiError(new RpcError('Too Many Requests', 'RESOURCE_EXHAUSTED', { 'retry-after': value }), CONTEXT) as RateLimitedError).retryAfterMs;
    // An HTTP date has whole seconds: 7 s ahead, rounded down, is 6 to 7 s from now.
    const ahead = hint(new Date(Date.now() + 7_000).toUTCString());
    expect(ahead).toBeGreaterThan(6_000);
    expect(ahead).toBeLessThanOrEqual(7_000);
    expect(hint('Wed, 21 Oct 2015 07:28:00 GMT')).toBe(0);
    expect(hint('-1')).toBeUndefined();
  });

  it('honours a retry-after hint for at most a minute, in seconds or as a date', () => {
    const hint = (value: string) => (toSuiError(new RpcError('Too Many Requests', 'RESOURCE_EXHAUSTED', { 'retry-after': value }), CONTEXT) as RateLimitedError).retryAfterMs;
    expect(MAX_RETRY_AFTER_MS).toBe(60_000);
    expect(hint('3600')).toBe(60_000);
    expect(hint('60')).toBe(60_000);
    expect(hint('59.5')).toBe(59_500);
    expect(hint(new Date(Date.now() + 3_600_000).toUTCString())).toBe(60_000);
  });

  it('tells a deadline from a network failure', () => {
    expect((toSuiError(new RpcError('timeout', 'DEADLINE_EXCEEDED'), CONTEXT) as UnavailableError).reason).toBe('deadline');
    expect((toSuiError(new RpcError('fetch failed', 'INTERNAL'), CONTEXT) as UnavailableError).reason).toBe('network');
    expect((toSuiError(new RpcError('no healthy upstream', 'UNAVAILABLE'), CONTEXT) as UnavailableError).reason).toBe('unavailable');
  });

  it('maps errors thrown outside the transport: network, timeouts, protobuf decoding', () => {
    expect(toSuiError(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }), CONTEXT)).toBeInstanceOf(UnavailableError);
    expect(toSuiError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), CONTEXT)).toBeInstanceOf(UnavailableError);
    expect(toSuiError(new DOMException('The operation timed out.', 'TimeoutError'), CONTEXT)).toBeInstanceOf(UnavailableError);
    expect(toSuiError(new RangeError('premature EOF'), CONTEXT)).toBeInstanceOf(MalformedResponseError);
    expect(toSuiError(new Error('invalid wire type 6'), CONTEXT)).toBeInstanceOf(MalformedResponseError);
  });

  it('passes typed errors and unrelated bugs through unchanged', () => {
    const typed = new NotFoundError('already typed');
    expect(toSuiError(typed, CONTEXT)).toBe(typed);
    const bug = new TypeError("Cannot read properties of undefined (reading 'objects')");
    expect(toSuiError(bug, CONTEXT)).toBe(bug);
  });
});

describe('callDeadline', () => {
  it('aborts the call at its deadline with a TimeoutError, read as a deadline', async () => {
    const { options, done } = callDeadline(30);
    expect(options.timeout).toBe(30);
    await sleep(60);
    expect(options.abort.aborted).toBe(true);
    expect((toSuiError(options.abort.reason, CONTEXT) as UnavailableError).reason).toBe('deadline');
    done();
  });

  it("aborts the call with the caller's reason, at once when the caller already gave up", () => {
    const caller = new AbortController();
    const { options, done } = callDeadline(10_000, caller.signal);
    expect(options.abort.aborted).toBe(false);
    caller.abort(new Error('walk cancelled'));
    expect(options.abort.reason).toEqual(new Error('walk cancelled'));
    done();
    const late = callDeadline(10_000, caller.signal);
    expect(late.options.abort.reason).toEqual(new Error('walk cancelled'));
    late.done();
  });

  it('once done, neither the deadline nor the caller aborts the finished call', async () => {
    const caller = new AbortController();
    const { options, done } = callDeadline(20, caller.signal);
    done();
    caller.abort();
    await sleep(40);
    expect(options.abort.aborted).toBe(false);
  });
});

describe('createGrpcClient', () => {
  it("reads a proxy's HTTP 401 and 403 as the endpoint refusing our credentials", async () => {
    const statuses = [401, 403];
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(statuses.shift()!, { 'content-type': 'text/plain' });
      res.end('no such key');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const client = createGrpcClient(url);
      for (const said of ['UNAUTHENTICATED: Unauthorized', 'PERMISSION_DENIED: Forbidden']) {
        const error = await client.ledgerService.getServiceInfo({}).response.then(() => undefined, (caught: unknown) => toSuiError(caught, CONTEXT));
        expect(error).toBeInstanceOf(EndpointRefusedError);
        expect((error as Error).message).toBe(`${CONTEXT}: the endpoint refused our credentials (${said}); check the API key in its URL`);
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('sends a key in the path, the query or the userinfo where the provider expects it', async () => {
    const seen: { url?: string; authorization?: string }[] = [];
    const server = http.createServer((req, res) => {
      seen.push({ url: req.url, authorization: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/grpc-web+proto', 'grpc-status': '5', 'grpc-message': 'nothing here' });
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const at = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      for (const url of [`http://${at}/v1/PATHKEY`, `http://${at}/v1/?apikey=QUERYKEY&x=1`, `http://user:p%40ss@${at}`, `http://${at}`]) {
        await expect(createGrpcClient(url).ledgerService.getServiceInfo({}).response).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'nothing here' });
      }
      const method = 'sui.rpc.v2.LedgerService/GetServiceInfo';
      expect(seen).toEqual([
        { url: `/v1/PATHKEY/${method}` },
        { url: `/v1/${method}?apikey=QUERYKEY&x=1` },
        { url: `/${method}`, authorization: `Basic ${Buffer.from('user:p@ss').toString('base64')}` },
        { url: `/${method}` },
      ]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('names why the network failed: a refused connection says so', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const at = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    await new Promise((resolve) => server.close(resolve));
    const error = await createGrpcClient(`http://${at}`)
      .ledgerService.getServiceInfo({})
      .response.then(() => undefined, (caught: unknown) => toSuiError(caught, CONTEXT));
    expect(error).toBeInstanceOf(UnavailableError);
    expect([(error as UnavailableError).reason, (error as Error).message]).toEqual(['network', `${CONTEXT}: INTERNAL: fetch failed (connect ECONNREFUSED ${at})`]);
  });
});
