/** Marks a key known to have no record: knowing an absence saves a read as much as knowing a record. */
export const ABSENT = Symbol('absent');

/** One channel's records of one partition, by record id (see recordIds.ts): what is evicted together. */
type ChannelRecords = {
  readonly partition: number;
  readonly channel: string;
  readonly records: Map<string, unknown>;
};

class ResidentPartition {
  /**
   * Every record of this partition that RocksDB holds is here, except those of `evicted` channels: a record id
   * found nowhere has no record. True from a partition whose range was empty when first used (a new data
   * directory, a rebuild), since every later write comes through commit().
   */
  complete = false;
  readonly channels = new Map<string, ChannelRecords>();
  /** Channels whose records were dropped for room: their unknown ids must be read from RocksDB again. */
  readonly evicted = new Set<string>();
}

/**
 * The decoded records of the partitions one projector writes, kept across chunks and batches, up to
 * `maxRecords`, whole channels at a time: least recently used channels go first.
 *
 * It stays equal to RocksDB because only the projector that writes these partitions uses it, and it learns every
 * write only once that write is durable (BatchStore.commit). Records are never mutated (the projection builds new
 * ones), so sharing them is safe. Where it knows a partition whole (`complete`), an id it does not hold is known
 * to be absent: a new message, a new read state or a new index node then costs no RocksDB read at all. Evicting a
 * channel makes only that channel's unknown ids go back to RocksDB, so the cost of a cold channel coming back is
 * its own reads, and the rest stays free.
 */
export class ResidentState {
  readonly maxRecords: number;
  readonly #partitions = new Map<number, ResidentPartition>();
  /** Every channel's records, least recently used first (a Set keeps insertion order). */
  readonly #lru = new Set<ChannelRecords>();
  #records = 0;
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(maxRecords: number) {
    if (!(Number.isInteger(maxRecords) && maxRecords > 0)) {
      throw new RangeError(`maxRecords must be a whole number above 0 (got ${maxRecords})`);
    }
    this.maxRecords = maxRecords;
  }

  /** Records held, across partitions. */
  get size(): number {
    return this.#records;
  }

  /** Whether the partition has been seen at all since it was (re)assigned: if not, call `startPartition`. */
  knows(partition: number): boolean {
    return this.#partitions.has(partition);
  }

  /** Starts tracking a partition; `empty`: RocksDB holds nothing of it, so it is known whole from now on. */
  startPartition(partition: number, empty: boolean): void {
    const state = new ResidentPartition();
    state.complete = empty;
    this.forget(partition);
    this.#partitions.set(partition, state);
  }

  /** Whether every record of the partition is known here: then nothing of it needs reading from RocksDB. */
  knowsWhole(partition: number): boolean {
    const state = this.#partitions.get(partition);
    return state !== undefined && state.complete && state.evicted.size === 0;
  }

  /** The record (or ABSENT) for `id` of `channel`, or undefined when only RocksDB can say. */
  get(partition: number, channel: string, id: string): unknown {
    const state = this.#partitions.get(partition);
    if (state === undefined) return undefined;
    const value = state.channels.get(channel)?.records.get(id);
    if (value !== undefined) {
      this.hits++;
      return value;
    }
    if (state.complete && !state.evicted.has(channel)) {
      this.hits++;
      return ABSENT;
    }
    this.misses++;
    return undefined;
  }

  /** Learns `value` (a record or ABSENT) for `id`; touches its channel. */
  set(partition: number, channel: string, id: string, value: unknown): void {
    const state = this.#partitions.get(partition);
    if (state === undefined) return;
    let group = state.channels.get(channel);
    if (group === undefined) {
      group = { partition, channel, records: new Map() };
      state.channels.set(channel, group);
    } else {
      this.#lru.delete(group);
    }
    this.#lru.add(group);
    const { records } = group;
    const before = records.size;
    records.set(id, value);
    this.#records += records.size - before;
  }

  /** Every record (or ABSENT) held for the partition, with its channel: for checks against RocksDB. */
  *records(partition: number): Generator<{ channel: string; id: string; value: unknown }> {
    for (const { channel, records } of this.#partitions.get(partition)?.channels.values() ?? []) {
      for (const [id, value] of records) yield { channel, id, value };
    }
  }

  /** Drops least recently used channels until the records fit the budget. */
  evictToBudget(): void {
    for (const group of this.#lru) {
      if (this.#records <= this.maxRecords) return;
      const { partition, channel, records } = group;
      this.#lru.delete(group);
      this.#records -= records.size;
      this.evictions++;
      const state = this.#partitions.get(partition);
      state?.channels.delete(channel);
      state?.evicted.add(channel);
    }
  }

  /** Forgets a partition (it moved away, or its database changed). */
  forget(partition: number): void {
    const state = this.#partitions.get(partition);
    if (state === undefined) return;
    for (const group of state.channels.values()) {
      this.#lru.delete(group);
      this.#records -= group.records.size;
    }
    this.#partitions.delete(partition);
  }

  clear(): void {
    this.#partitions.clear();
    this.#lru.clear();
    this.#records = 0;
  }
}
