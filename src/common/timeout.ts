/**
 * Settles as `operation` does, or rejects with `onTimeout()` once `ms` have passed without an
 * answer. The operation itself goes on (a promise cannot be cancelled); callers only stop waiting.
 */
export async function withTimeout<T>(operation: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      operation,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(onTimeout()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
