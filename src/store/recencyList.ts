/** The links an entry of a RecencyList carries: the list threads through its entries, so it allocates nothing. */
export type RecencyLinks<T> = { older: T | undefined; newer: T | undefined; listed: boolean };

/**
 * Entries from least to most recently used, each moved to the newest end in O(1) by its own links. A Set kept in
 * insertion order (delete, then add) does the same, but each move hashes the entry and leaves a hole that
 * iteration from the oldest end walks over until the table is rebuilt: at 200,000 resident channels, a chunk's
 * moves and the evictions after it were 10% of the write path's time (bench:fold, eviction regime).
 */
export class RecencyList<T extends RecencyLinks<T>> {
  #oldest: T | undefined;
  #newest: T | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** The least recently used entry, or undefined when the list is empty. */
  get oldest(): T | undefined {
    return this.#oldest;
  }

  /** Makes `entry` the most recently used, adding it if it is not listed. */
  touch(entry: T): void {
    if (entry.listed) {
      if (this.#newest === entry) return;
      this.#unlink(entry);
    }
    entry.older = this.#newest;
    entry.newer = undefined;
    if (this.#newest === undefined) this.#oldest = entry;
    else this.#newest.newer = entry;
    this.#newest = entry;
    entry.listed = true;
    this.#size++;
  }

  /** Removes `entry`; false when it was not listed. */
  delete(entry: T): boolean {
    if (!entry.listed) return false;
    this.#unlink(entry);
    return true;
  }

  #unlink(entry: T): void {
    const { older, newer } = entry;
    if (older === undefined) this.#oldest = newer;
    else older.newer = newer;
    if (newer === undefined) this.#newest = older;
    else newer.older = older;
    entry.older = undefined;
    entry.newer = undefined;
    entry.listed = false;
    this.#size--;
  }
}
