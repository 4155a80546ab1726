import type { TopicKind } from '../contract/events.ts';
import type { PartitionStates } from './partitionStates.ts';

/** The offsets a partition must reach on each topic before it is served: the log ends when it was assigned. */
export type CatchUpTarget = Record<TopicKind, bigint>;

/**
 * Turns the consumer group's assignments and the projector's progress into partition states (partitionStates.ts).
 *
 * A rebalance stops nothing that stays: when it begins, every serving partition is `handing_over` (its state still
 * answered, frozen or nearly, marked stale); a partition the new assignment keeps is serving again at once, one it
 * gains is restoring until its stored offsets reach the log ends it had when it was assigned, and one it lost stays
 * `handing_over` until the projector retires it (its state deleted after PARTITION_RETAIN_MS) or gets it back.
 */
export interface OwnedPartitions {
  /** A rebalance began: this instance may lose any partition; what it serves is answered as handing over. */
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
    if (at.messages >= target.messages && at.acks >= target.acks) states.set(partition, 'serving');
  }

  return {
    rebalancing() {
      assignment++;
      targets.clear();
      for (const partition of owned) {
        const state = states.state(partition);
        if (state === 'serving') states.set(partition, 'handing_over');
        // Never answered while restoring: nothing to keep answering.
        else if (state === 'restoring') states.retire(partition);
      }
    },
    assigned(partitions) {
      assignment++;
      targets.clear();
      const next = new Set(partitions);
      for (const partition of next) {
        // Kept through the rebalance (or a restart of the consumer), serving until then: its state never stopped
        // being this instance's, and is as fresh as a moment's pause leaves it.
        const state = states.state(partition);
        const kept = owned.has(partition) && (state === 'handing_over' || state === 'serving');
        states.set(partition, kept ? 'serving' : 'restoring');
      }
      for (const partition of owned) {
        if (next.has(partition)) continue;
        // Lost without `rebalancing` first (a consumer restarted after a crash joins again without it): as
        // `rebalancing` would have, what was served is answered as handing over, never as served any more.
        const state = states.state(partition);
        if (state === 'restoring') states.retire(partition);
        else if (state === 'serving') states.set(partition, 'handing_over');
      }
      owned = next;
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
