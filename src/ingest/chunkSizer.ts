/**
 * How many records the projector applies in one RocksDB write. A write holds one record per channel the chunk
 * changed, so the larger the chunk, the fewer records per event once a partition has many channels (bench:fold
 * at 5M events, 12,500 channels a partition: 0.95 records an event and 66,935 events/s at chunks of 16,000; 0.39
 * and 86,872 at 64,000). But the consumer heartbeats between chunks only, so a chunk has to end well within the
 * group's session timeout on any machine: the size follows the rate of the chunks before, as many records as
 * fit in `budgetMs`, between `min` and `max`.
 */
export interface ChunkSizer {
  /** Records the next chunk may hold. */
  readonly size: number;
  /** A chunk of `records` took `ms`, from its first decode to its write's end. */
  observe(records: number, ms: number): void;
}

export function createChunkSizer(options: {
  budgetMs: number;
  min: number;
  max: number;
  /** Before any chunk was measured. */
  first: number;
}): ChunkSizer {
  const { budgetMs, min, max } = options;
  if (!(min >= 1 && min <= options.first && options.first <= max && budgetMs > 0)) {
    throw new RangeError(
      `chunk sizes need 1 ≤ min ≤ first ≤ max and a budget above 0 (got ${JSON.stringify(options)})`,
    );
  }
  let size = options.first;
  /** Milliseconds per record, smoothed over the last few chunks. */
  let cost: number | undefined;
  return {
    get size() {
      return size;
    },
    observe(records, ms) {
      if (records <= 0) return;
      const now = Math.max(ms, 1) / records;
      // The time per record is averaged, not the rate: half the weight on the latest chunk, so a slow chunk
      // (reloads of evicted channels, a compaction) at least halves the next one's size at once, while a fast
      // one after slow ones at most doubles it: a run of slow chunks is not forgotten after one cheap chunk.
      cost = cost === undefined ? now : (cost + now) / 2;
      size = Math.min(max, Math.max(min, Math.floor(budgetMs / cost)));
    },
  };
}
