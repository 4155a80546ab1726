import type { Logger } from '../logger.ts';

/**
 * The state of partitions this instance holds on disk but no longer owns: a partition that moved to another
 * instance (its state still answers, as handing over, until the new owner has caught up) and those found on disk
 * at start. Kept PARTITION_RETAIN_MS, as Kafka Streams keeps a moved task's state (`state.cleanup.delay.ms`):
 * partitions often come back (a restart, a member leaving again), and then restore from here instead of
 * replaying the log from its start. Then deleted, so that disk use follows what this instance owns.
 *
 * The held partitions go into the instance's claim when it joins the group, so that the assignment prefers
 * giving a partition back to an instance that holds its state.
 */
export interface RetainedPartitions {
  /** `partition` is no longer owned here (or was found on disk at start): keep it for the retention time. */
  released(partition: number): void;
  /** `partition` is owned here again: not to be deleted. */
  reclaimed(partition: number): void;
  held(): number[];
  /** Deletes what has been held longer than the retention time and is still not owned. */
  sweep(): Promise<void>;
  start(): void;
  stop(): void;
}

export function createRetainedPartitions(options: {
  retainMs: number;
  log: Logger;
  /** Whether this instance owns `partition` now. */
  owns(partition: number): boolean;
  /** Retires `partition` for readers and deletes its state, in its turn with the partition's batches. */
  drop(partition: number): Promise<void>;
  now?: () => number;
}): RetainedPartitions {
  const now = options.now ?? Date.now;
  const since = new Map<number, number>();
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> | undefined;

  async function sweep(): Promise<void> {
    const at = now();
    for (const [partition, releasedAt] of [...since]) {
      if (at - releasedAt < options.retainMs) continue;
      if (options.owns(partition)) {
        since.delete(partition);
        continue;
      }
      try {
        await options.drop(partition);
        since.delete(partition);
        options.log.info(
          { partition, heldMs: at - releasedAt },
          'deleted the state of a partition owned elsewhere',
        );
      } catch (error) {
        options.log.warn(
          { err: error, partition },
          'could not delete the state of a partition; trying later',
        );
      }
    }
  }

  const runSweep = () => (sweeping ??= sweep().finally(() => (sweeping = undefined)));

  return {
    released(partition) {
      if (!since.has(partition)) since.set(partition, now());
    },
    reclaimed(partition) {
      since.delete(partition);
    },
    held: () => [...since.keys()].sort((a, b) => a - b),
    sweep: runSweep,
    start() {
      // Often enough that the retention time holds within a few percent, at most once a second.
      const every = Math.min(60_000, Math.max(1_000, Math.floor(options.retainMs / 10)));
      timer = setInterval(() => void runSweep(), every);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
    },
  };
}
