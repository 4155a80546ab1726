/**
 * Splits partition numbers 0..sizes.length-1 into `count` shards of about equal work, `sizes[p]` being
 * partition p's records (on both topics): the largest first, each to the shard with the least so far (LPT).
 * A skewed log leaves partitions far apart in size, and a shard that finishes early leaves its core idle.
 * Every number goes to exactly one shard; ties go to the lower shard index, so the plan is deterministic.
 */
export function planShards(sizes: readonly number[], count: number): number[][] {
  const shards = Array.from({ length: count }, () => ({ partitions: [] as number[], load: 0 }));
  const bySize = sizes.map((size, partition) => ({ size, partition }));
  bySize.sort((a, b) => b.size - a.size || a.partition - b.partition);
  for (const { size, partition } of bySize) {
    let least = shards[0];
    for (const shard of shards) if (least === undefined || shard.load < least.load) least = shard;
    if (least === undefined) break;
    least.partitions.push(partition);
    least.load += size;
  }
  return shards.map(({ partitions }) => partitions.sort((a, b) => a - b));
}
