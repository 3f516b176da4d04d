import { describe, expect, it } from 'vitest';
import { redactPassword, redactUrl } from './redact-url.ts';

describe('redactUrl', () => {
  it.each([
    ['a key in the path', 'https://sui-mainnet.provider.example/v1/3f9c2e7a1b', 'https://sui-mainnet.provider.example/…'],
    ['a key in the query', 'https://rpc.provider.example:443/?apikey=3f9c2e7a1b', 'https://rpc.provider.example:443/…'],
    ['a key in the userinfo', 'https://user:3f9c2e7a1b@rpc.provider.example:8443', 'https://rpc.provider.example:8443/…'],
    ['a key everywhere', 'http://u:p%40ss@10.0.0.7:9000/sui/k?token=t#frag', 'http://10.0.0.7:9000/…'],
    ['a fragment only', 'http://127.0.0.1:9000#x', 'http://127.0.0.1:9000/…'],
    ['an IPv6 host', 'http://[::1]:9000/secret', 'http://[::1]:9000/…'],
    ['a password with no host after it (a cut URL)', 'https://user:3f9c2e7a1b', 'https://…'],
  ])('hides %s, keeping scheme, host and port as written', (_, url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });

  it('shows a URL with nothing beyond its host unchanged', () => {
    expect(redactUrl('https://fullnode.mainnet.sui.io:443')).toBe('https://fullnode.mainnet.sui.io:443');
    expect(redactUrl('http://127.0.0.1:9000/')).toBe('http://127.0.0.1:9000/');
  });

  it('hides all of what is not a URL', () => {
    expect(redactUrl('3f9c2e7a1b')).toBe('…');
  });
});

describe('redactPassword', () => {
  it.each([
    ['postgres://app:s3cret@db.internal:5432/main', 'postgres://app:…@db.internal:5432/main'],
    ['redis://:s3cret@127.0.0.1:6379/2', 'redis://:…@127.0.0.1:6379/2'],
    ['postgres://app:p@ss:w0rd@db/main', 'postgres://app:…@db/main'],
    ['postgres://app@db:5432/main?sslmode=require&password=s3cret', 'postgres://app@db:5432/main?…'],
    ['postgres://postgres@127.0.0.1:5432/sui_backfill_dev', 'postgres://postgres@127.0.0.1:5432/sui_backfill_dev'],
    ['rediss://cache.internal:6380', 'rediss://cache.internal:6380'],
    ['postgres://app:s3cret', 'postgres://…'],
    ['s3cret', '…'],
  ])('%s → %s', (url, shown) => {
    expect(redactPassword(url)).toBe(shown);
  });
});
