/** A least-recently-used cache bounded by entry count and, optionally, by total weight (bytes). */
type Lru<K, V> = {
  get(key: K): V | undefined;
  set(key: K, value: V): void;
  clear(): void;
  readonly size: number;
  readonly weight: number;
};

export function createLru<K, V>(options: { maxEntries: number; maxWeight?: number; weigh?: (value: V) => number }): Lru<K, V> {
  const entries = new Map<K, V>();
  const weigh = options.weigh ?? (() => 0);
  const maxWeight = options.maxWeight ?? Number.POSITIVE_INFINITY;
  let weight = 0;

  const evict = () => {
    while (entries.size > options.maxEntries || (weight > maxWeight && entries.size > 0)) {
      const [oldest, value] = entries.entries().next().value as [K, V];
      entries.delete(oldest);
      weight -= weigh(value);
    }
  };

  return {
    get(key) {
      const value = entries.get(key);
      if (value !== undefined) {
        entries.delete(key);
        entries.set(key, value);
      }
      return value;
    },
    set(key, value) {
      const previous = entries.get(key);
      if (previous !== undefined) {
        entries.delete(key);
        weight -= weigh(previous);
      }
      entries.set(key, value);
      weight += weigh(value);
      evict();
    },
    clear() {
      entries.clear();
      weight = 0;
    },
    get size() {
      return entries.size;
    },
    get weight() {
      return weight;
    },
  };
}
