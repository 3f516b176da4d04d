import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Common } from './context.ts';
import { whenListening } from './listen.ts';

/**
 * Serves this process's Prometheus metrics at /metrics on METRICS_PORT, for processes without an
 * HTTP API of their own (workers, the indexer). Off when METRICS_PORT is unset.
 */
export async function startMetricsServer(common: Common): Promise<{ url: string; close: () => Promise<void> } | undefined> {
  const { config, metrics } = common;
  if (config.METRICS_PORT === undefined) return undefined;
  const server = createServer(async (request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('see /metrics\n');
      return;
    }
    response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(await metrics.registry.metrics());
  });
  server.listen(config.METRICS_PORT, config.HOST);
  await whenListening(server, { host: config.HOST, port: config.METRICS_PORT, settings: 'HOST, METRICS_PORT' });
  const url = `http://${config.HOST}:${(server.address() as AddressInfo).port}/metrics`;
  common.logger.info({ url }, 'metrics served');
  return { url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
