/** Marks a key known to have no record: a cached absence saves a read as much as a cached record. */
export const ABSENT = Symbol('absent');

/**
 * Decoded records of the partitions one projector writes, kept from one chunk to the next: a channel's record,
 * its members' read states, index headers and the nodes near the tail are read by nearly every chunk, and
 * reading and decoding them again from RocksDB was most of a chunk's time.
 *
 * It stays equal to RocksDB because only the projector that writes these partitions uses it, and it learns
 * every write only once that write is durable (BatchStore.commit). Least recently used entries go first.
 * Records are never mutated (the projection builds new ones), so sharing them is safe.
 */
export class RecordCache {
  readonly maxEntries: number;
  readonly #entries = new Map<string, unknown>();
  hits = 0;
  misses = 0;

  constructor(maxEntries: number) {
    if (!(Number.isInteger(maxEntries) && maxEntries > 0)) {
      throw new RangeError(`maxEntries must be a whole number above 0 (got ${maxEntries})`);
    }
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The record, ABSENT when the key is known to have none, undefined when not cached. */
  get(id: string): unknown {
    const value = this.#entries.get(id);
    if (value === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Map keeps insertion order: moving the entry to the end makes the first entry the least recently used.
    this.#entries.delete(id);
    this.#entries.set(id, value);
    return value;
  }

  set(id: string, value: unknown): void {
    this.#entries.delete(id);
    this.#entries.set(id, value);
    if (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
  }

  clear(): void {
    this.#entries.clear();
  }
}
