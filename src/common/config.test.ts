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
});
