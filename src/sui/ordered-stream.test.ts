import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { orderedStream } from './ordered-stream.ts';

describe('orderedStream', () => {
  it('yields every item in order although calls finish out of order', async () => {
    const seen: bigint[] = [];
    for await (const { sequence, value } of orderedStream({
      from: 10n,
      to: 49n,
      concurrency: 8,
      window: 16,
      fetch: async (sequence) => {
        await sleep(Number((sequence * 7919n) % 13n));
        return sequence * 2n;
      },
    })) {
      expect(value).toBe(sequence * 2n);
      seen.push(sequence);
    }
    expect(seen).toEqual(Array.from({ length: 40 }, (_, i) => 10n + BigInt(i)));
  });

  it('never has more than `concurrency` calls in flight, and keeps fetching while the consumer is slow', async () => {
    let inFlight = 0;
    let peak = 0;
    const started: bigint[] = [];
    const stream = orderedStream({
      from: 0n,
      to: 99n,
      concurrency: 4,
      window: 20,
      fetch: async (sequence) => {
        started.push(sequence);
        inFlight++;
        peak = Math.max(peak, inFlight);
        await sleep(2);
        inFlight--;
        return sequence;
      },
    });
    const first = await stream.next();
    expect(first.value).toEqual({ sequence: 0n, value: 0n });
    // The consumer is busy for a while: fetching goes on up to the window, no further.
    await sleep(60);
    expect(started.length).toBe(21);
    for await (const _ of stream);
    expect(peak).toBe(4);
    expect(started.length).toBe(100);
  });

  it('reads concurrency and window as given functions each time, so they can narrow and widen mid-stream', async () => {
    let limit = 8;
    let inFlight = 0;
    const peaks: number[] = [];
    for await (const { sequence } of orderedStream({
      from: 0n,
      to: 59n,
      concurrency: () => limit,
      window: () => limit * 2,
      fetch: async (sequence) => {
        inFlight++;
        peaks[Number(sequence)] = inFlight;
        await sleep(3);
        inFlight--;
        return sequence;
      },
    })) {
      if (sequence === 19n) limit = 1;
      if (sequence === 39n) limit = 4;
    }
    // Calls launched before the narrowing finish; those launched while it holds run alone.
    expect(Math.max(...peaks.slice(0, 20))).toBe(8);
    expect(Math.max(...peaks.slice(30, 40))).toBe(1);
    expect(Math.max(...peaks.slice(45))).toBe(4);
  });

  it('throws the first error in order and aborts what is in flight', async () => {
    const aborted: bigint[] = [];
    const consumed: bigint[] = [];
    await expect(async () => {
      for await (const { sequence } of orderedStream({
        from: 0n,
        to: 50n,
        concurrency: 4,
        window: 8,
        fetch: (sequence, signal) =>
          new Promise<bigint>((resolve, reject) => {
            if (sequence === 5n) return reject(new Error('boom at 5'));
            const timer = setTimeout(() => resolve(sequence), 5);
            signal.addEventListener('abort', () => {
              clearTimeout(timer);
              aborted.push(sequence);
              reject(signal.reason);
            });
          }),
      })) {
        consumed.push(sequence);
      }
    }).rejects.toThrow('boom at 5');
    expect(consumed).toEqual([0n, 1n, 2n, 3n, 4n]);
  });

  it('stops when the outside signal aborts', async () => {
    const controller = new AbortController();
    const consumed: bigint[] = [];
    await expect(async () => {
      for await (const { sequence } of orderedStream({
        from: 0n,
        to: 1_000n,
        concurrency: 2,
        window: 4,
        signal: controller.signal,
        fetch: async (sequence) => {
          await sleep(1);
          return sequence;
        },
      })) {
        consumed.push(sequence);
        if (sequence === 3n) controller.abort(new Error('paused'));
      }
    }).rejects.toThrow('paused');
    expect(consumed).toEqual([0n, 1n, 2n, 3n]);
  });
});
