import type { TopicKind } from '../contract/events.ts';
import type { PartitionStates } from './partitionStates.ts';

/** The offsets a partition must reach on each topic before it is served: the log ends when it was assigned. */
export type CatchUpTarget = Record<TopicKind, bigint>;

/**
 * Turns the consumer group's assignments and the projector's progress into partition states (partitionStates.ts):
 * a partition assigned to this instance is restoring until its stored offsets reach the log ends it had when
 * it was assigned, then serving until it is revoked.
 */
export interface OwnedPartitions {
  /** A rebalance began: this instance may lose any partition, so none is served until the new assignment. */
  rebalancing(): void;
  /** The new assignment: partition numbers owned on both topics. Returns a token for `caughtUpAt`. */
  assigned(partitions: readonly number[]): number;
  /** The targets for an assignment; ignored when a newer assignment has come since (`token`). */
  caughtUpAt(token: number, targets: ReadonlyMap<number, CatchUpTarget>): void;
  /** `partition`'s stored offset on `topic` is (at least) `next`. */
  applied(partition: number, topic: TopicKind, next: bigint): void;
  owned(): readonly number[];
}

export function createOwnedPartitions(states: PartitionStates): OwnedPartitions {
  let owned = new Set<number>();
  let assignment = 0;
  const targets = new Map<number, CatchUpTarget>();

  function serveIfCaughtUp(partition: number): void {
    const target = targets.get(partition);
    if (target === undefined || states.state(partition) !== 'restoring') return;
    const at = states.position(partition);
    if (at.messages >= target.messages && at.acks >= target.acks) states.serve(partition);
  }

  return {
    rebalancing() {
      assignment++;
      targets.clear();
      states.revokeAll();
    },
    assigned(partitions) {
      assignment++;
      targets.clear();
      const next = new Set(partitions);
      if ([...owned].some((partition) => !next.has(partition))) states.revokeAll();
      owned = next;
      // Restoring, also when kept: the log ends are read again before any partition is served.
      for (const partition of owned) states.restore(partition);
      return assignment;
    },
    caughtUpAt(token, reached) {
      if (token !== assignment) return;
      for (const [partition, target] of reached) {
        if (!owned.has(partition)) continue;
        targets.set(partition, target);
        serveIfCaughtUp(partition);
      }
    },
    applied(partition, topic, next) {
      // Never backwards: a reading of RocksDB taken before a write may be reported after it.
      if (next > states.position(partition)[topic]) states.setPosition(partition, topic, next);
      serveIfCaughtUp(partition);
    },
    owned: () => [...owned],
  };
}
