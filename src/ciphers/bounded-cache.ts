// Log text is attacker-controlled, so every cache keyed by it must have a size limit. Evicting the oldest entry
// (Map keeps insertion order) is enough: real logs repeat a few dozen spellings, and those stay hot.

export class BoundedCache<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** `undefined` means "not cached"; store `null`, not `undefined`, for a cached miss. */
  get(key: K): V | undefined {
    return this.#entries.get(key);
  }

  /** Stores and returns `value`, evicting the oldest entry when full. */
  set(key: K, value: V): V {
    if (this.#entries.size >= this.#capacity && !this.#entries.has(key)) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, value);
    return value;
  }
}
