import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createRpcDeadline } from './rpc-deadline.ts';

describe('rpc deadline', () => {
  it('aborts with its error once the running time is spent, not counting the time paused', async () => {
    const expired = new Error('spent');
    const deadline = createRpcDeadline(300, () => expired);
    const began = performance.now();
    await sleep(150);
    await deadline.paused(() => sleep(400));
    expect(deadline.signal.aborted).toBe(false);
    await new Promise((resolve) => deadline.signal.addEventListener('abort', resolve, { once: true }));
    // 150 ms before the pause, 400 ms paused, the 150 ms left after it.
    expect(performance.now() - began).toBeGreaterThanOrEqual(680);
    expect(deadline.signal.reason).toBe(expired);
  });

  it('does not abort once disposed', async () => {
    const deadline = createRpcDeadline(50, () => new Error('spent'));
    deadline.dispose();
    await sleep(120);
    expect(deadline.signal.aborted).toBe(false);
  });
});
