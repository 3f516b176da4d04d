import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.ts';
import { loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('takes a silent worker for dead only after at least three missed heartbeats', () => {
    expect(loadConfig({ HEARTBEAT_INTERVAL_MS: '500', STALE_AFTER_MS: '1500' })).toMatchObject({ HEARTBEAT_INTERVAL_MS: 500, STALE_AFTER_MS: 1500 });
    expect(() => loadConfig({ HEARTBEAT_INTERVAL_MS: '500', STALE_AFTER_MS: '1499' })).toThrow(
      new ConfigError(
        'Invalid configuration: STALE_AFTER_MS: must be at least 3 times HEARTBEAT_INTERVAL_MS (500 ms), so that a few late heartbeats are not taken for a dead worker (got "1499")',
      ),
    );
    // Against the default heartbeat (5 s) when only the threshold is set.
    expect(() => loadConfig({ STALE_AFTER_MS: '5000' })).toThrow(
      'STALE_AFTER_MS: must be at least 3 times HEARTBEAT_INTERVAL_MS (5000 ms), so that a few late heartbeats are not taken for a dead worker (got "5000")',
    );
    expect(loadConfig({})).toMatchObject({ HEARTBEAT_INTERVAL_MS: 5000, STALE_AFTER_MS: 30000 });
  });

  it('takes a first checkpoint Postgres can store, and no larger', () => {
    expect(loadConfig({ INDEXER_FIRST_CHECKPOINT: '9223372036854775807' }).INDEXER_FIRST_CHECKPOINT).toBe(2n ** 63n - 1n);
    expect(() => loadConfig({ INDEXER_FIRST_CHECKPOINT: '9223372036854775808' })).toThrow(
      new ConfigError('Invalid configuration: INDEXER_FIRST_CHECKPOINT: expected a checkpoint sequence number of at most 2^63 - 1 (got "9223372036854775808")'),
    );
  });
});

describe('a bad URL in the environment', () => {
  it.each([
    ['DATABASE_URL', 'mysql://app:s3cret@db.internal:3306/main', 'DATABASE_URL: expected a postgres:// or postgresql:// URL (got "mysql://db.internal:3306/…")'],
    ['REDIS_URL', 'http://:s3cret@cache.internal:6379', 'REDIS_URL: expected a redis:// or rediss:// URL (got "http://cache.internal:6379/…")'],
    ['SUI_ARCHIVE_GRPC_URL', 'grpc://archive.provider.example/v1/3f9c2e7a1b', 'SUI_ARCHIVE_GRPC_URL: expected a http:// or https:// URL (got "grpc://archive.provider.example/…")'],
    [
      'SUI_GRPC_URL',
      'https://rpc.provider.example/v1/3f9c2e7a1b,grpc://user:9d8e7f@other.example:443',
      'SUI_GRPC_URL: expected a http:// or https:// URL (got "https://rpc.provider.example/…,grpc://other.example:443/…")',
    ],
    ['DATABASE_URL', 's3cret', 'DATABASE_URL: expected a postgres:// or postgresql:// URL (got "…")'],
  ])('%s is echoed without what may be a key or password', (name, value, problem) => {
    expect(() => loadConfig({ [name]: value })).toThrow(new ConfigError(`Invalid configuration: ${problem}`));
  });

  it('other values are echoed as given, a token never', () => {
    expect(() => loadConfig({ REDIS_PREFIX: 'a b', API_TOKEN: 'short' })).toThrow(
      new ConfigError('Invalid configuration: REDIS_PREFIX: expected letters, digits, _ . : or - (got "a b"); API_TOKEN: expected at least 16 characters (got "***")'),
    );
  });
});
