/**
 * What this instance may answer for, shared between the engine thread (the one writer) and the HTTP threads
 * (readers) through a SharedArrayBuffer, so that a lookup checks a partition's state without a message round trip.
 *
 * - `serving`: this instance owns the partition in the consumer group (both topics' partition of that number: see
 *   coPartitionedAssigner.ts) and had applied everything that was in Kafka when it got it.
 * - `restoring`: owned, still catching up; not answered here (a lookup goes to the previous owner, if any).
 * - `handing_over`: it was serving here until a rebalance began or took it away. Its state is kept, frozen at the
 *   positions it reached, and answered as such (marked stale) until the new owner has caught up.
 * - `not_owned`: nothing here is answered for it.
 *
 * Any local state is exact as of the positions it reports; what may never be answered is state that is being
 * deleted (`retire`). Retiring bumps an epoch: a reader takes the epoch before it checks and reads and compares
 * it after, so an answer that a deletion overlapped is refused.
 */
export type PartitionState = 'not_owned' | 'restoring' | 'serving' | 'handing_over';

/** Partitions a table can describe; far above what one consumer group is given in practice. */
export const MAX_PARTITIONS = 10_000;

const STATES: readonly PartitionState[] = ['not_owned', 'restoring', 'serving', 'handing_over'];
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
  set(partition: number, state: Exclude<PartitionState, 'not_owned'>): void;
  /** Nothing is answered for `partition` from now on, nor by a read that began before: bumps the epoch. */
  retire(partition: number): void;
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
    set,
    retire(partition) {
      reader.state(partition); // range check
      Atomics.store(words, HEADER + partition, 0);
      // After the state: a reader that saw it answerable before this line sees the epoch move.
      Atomics.add(words, EPOCH, 1);
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
