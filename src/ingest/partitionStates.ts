/**
 * What this instance may answer for, shared between the engine thread (the one writer) and the HTTP thread
 * (readers) through a SharedArrayBuffer, so that a lookup checks ownership without a message round trip.
 *
 * A partition is `serving` only while this instance owns it in the consumer group (both topics' partition of that
 * number: see coPartitionedAssigner.ts) and has applied everything that was in Kafka when it got it. Until
 * then it is `restoring`; a partition owned by another instance is `not_owned`. Nothing is answered from the
 * state of a partition that is not `serving`.
 *
 * Revocations bump an epoch. A reader takes the epoch before it checks and reads and compares it after: an answer
 * that a revocation overlapped is refused, so no value read from a partition after it moved away is served.
 */
export type PartitionState = 'not_owned' | 'restoring' | 'serving';

/** Partitions a table can describe; far above what one consumer group is given in practice. */
export const MAX_PARTITIONS = 10_000;

const STATES: readonly PartitionState[] = ['not_owned', 'restoring', 'serving'];
const EPOCH = 0;
const KAFKA_DOWN = 1;
const HEADER = 2;

export interface SharedPartitionStates {
  readonly words: SharedArrayBuffer;
  /** Per partition: the next offset to apply on the messages topic, then on the acks topic. */
  readonly positions: SharedArrayBuffer;
}

export interface Position {
  readonly messages: bigint;
  readonly acks: bigint;
}

export interface PartitionStatesReader {
  /** Take before reading, compare after (`unchanged`). */
  epoch(): number;
  unchanged(epoch: number): boolean;
  state(partition: number): PartitionState;
  /** The offsets applied when asked: what is served afterwards is at least this fresh. */
  position(partition: number): Position;
  /** The consumer lost its brokers: what is served may be older than Kafka's log. */
  kafkaUnreachable(): boolean;
}

export interface PartitionStates extends PartitionStatesReader {
  readonly shared: SharedPartitionStates;
  /** Revokes every partition (a rebalance began, or the group was left): bumps the epoch. */
  revokeAll(): void;
  /** Marks `partition` owned: restoring until `serve` is called. */
  restore(partition: number): void;
  serve(partition: number): void;
  setPosition(partition: number, topic: 'messages' | 'acks', next: bigint): void;
  setKafkaUnreachable(down: boolean): void;
}

export function attachPartitionStates(shared: SharedPartitionStates): PartitionStatesReader {
  const words = new Int32Array(shared.words);
  const positions = new BigInt64Array(shared.positions);
  const check = (partition: number) => {
    if (!Number.isInteger(partition) || partition < 0 || partition >= MAX_PARTITIONS) {
      throw new RangeError(`partition ${partition} is outside 0..${MAX_PARTITIONS - 1}`);
    }
  };
  return {
    epoch: () => Atomics.load(words, EPOCH),
    unchanged: (epoch) => Atomics.load(words, EPOCH) === epoch,
    state(partition) {
      check(partition);
      return STATES[Atomics.load(words, HEADER + partition)] ?? 'not_owned';
    },
    position(partition) {
      check(partition);
      return {
        messages: Atomics.load(positions, partition * 2),
        acks: Atomics.load(positions, partition * 2 + 1),
      };
    },
    kafkaUnreachable: () => Atomics.load(words, KAFKA_DOWN) === 1,
  };
}

export function createPartitionStates(): PartitionStates {
  const shared: SharedPartitionStates = {
    words: new SharedArrayBuffer((HEADER + MAX_PARTITIONS) * Int32Array.BYTES_PER_ELEMENT),
    positions: new SharedArrayBuffer(MAX_PARTITIONS * 2 * BigInt64Array.BYTES_PER_ELEMENT),
  };
  const words = new Int32Array(shared.words);
  const positions = new BigInt64Array(shared.positions);
  const reader = attachPartitionStates(shared);
  const set = (partition: number, state: PartitionState) => {
    reader.state(partition); // range check
    Atomics.store(words, HEADER + partition, STATES.indexOf(state));
  };
  return {
    ...reader,
    shared,
    revokeAll() {
      for (let partition = 0; partition < MAX_PARTITIONS; partition++) {
        Atomics.store(words, HEADER + partition, 0);
      }
      // After the states: a reader that saw `serving` before this line sees the epoch move.
      Atomics.add(words, EPOCH, 1);
    },
    restore: (partition) => {
      set(partition, 'restoring');
    },
    serve: (partition) => {
      set(partition, 'serving');
    },
    setPosition(partition, topic, next) {
      reader.state(partition);
      Atomics.store(positions, partition * 2 + (topic === 'messages' ? 0 : 1), next);
    },
    setKafkaUnreachable(down) {
      Atomics.store(words, KAFKA_DOWN, down ? 1 : 0);
    },
  };
}
