import { describe, expect, it } from 'vitest';
import { createSimChain } from '../src/simnet/chain.ts';

describe('simnet at scale', () => {
  it('generates 100,000 checkpoints in seconds and modest memory', () => {
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const chain = createSimChain({ seed: 11, checkpoints: 100_000 });
    const generatedMs = performance.now() - started;
    expect(chain.totalTransactions).toBeGreaterThan(1_000_000);
    expect(generatedMs).toBeLessThan(10_000);

    for (let s = 0; s < 100_000; s += 250) expect(chain.getCheckpoint(BigInt(s))!.sequenceNumber).toBe(BigInt(s));
    const rss = process.memoryUsage().rss;
    expect(rss).toBeLessThan(400 * 1024 * 1024);
    expect(rss - rssBefore).toBeLessThan(250 * 1024 * 1024);

    const late = chain.package('late');
    const rows = chain.groundTruth({ packageId: late.versions[1].id, match: 'anywhere', fromCheckpoint: 0, toCheckpoint: 99_999 });
    expect(rows.length).toBeGreaterThan(100);
    expect(rows[0].checkpoint).toBeGreaterThanOrEqual(late.versions[0].publishCheckpoint);
    expect(chain.getCheckpoint(99_999n)!.summary!.totalNetworkTransactions).toBe(BigInt(chain.totalTransactions));
  });
});
