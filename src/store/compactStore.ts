import type { ChatEvent, TopicKind } from '../contract/events.ts';
import type { Snowflake } from '../contract/snowflake.ts';
import { formatSnowflakeWords, parseSnowflakeInto } from '../contract/snowflakeWords.ts';
import type { ApplyOutcome } from '../projection/applyOutcome.ts';
import { ChannelState } from '../projection/compact/channelState.ts';
import { nextUseTick } from '../projection/compact/countedIds.ts';
import { CompactProjection, readStateView } from '../projection/compact/compactProjection.ts';
import { firstUnread } from '../projection/compact/firstUnread.ts';
import type { ReadStateView } from '../projection/readStateOf.ts';
import type { ChannelRecord, ReadStateRecord } from '../projection/records.ts';
import {
  ByteWriter,
  decodeSnapshot,
  deltaIncludes,
  encodeDelta,
  encodeDeltaEvent,
  encodeSnapshot,
  replayDelta,
  snapshotIncludes,
  type Includes,
} from './channelCodec.ts';
import type { RocksBlockSpill } from './blockSpill.ts';
import { HotChanges, type HeldEntries, type HotChangeVisitor } from './hotChanges.ts';
import type { FirstUnreadAt } from './hotTier.ts';
import type { PairRecords } from './hotTierMirror.ts';
import { channelStateKey, channelStatePrefix, readStateKeyOfWords } from './keys.ts';
import { RecencyList, type RecencyLinks } from './recencyList.ts';
import type { RocksDatabase, WriteOperation } from './rocksDatabase.ts';
import { storedOffsetWrite } from './storedOffsets.ts';

/**
 * Bytes of snapshots of channels changed long enough ago that one write takes (at least one snapshot): a burst of
 * them (say, every channel a backlog's last seconds changed) is spread over the next writes instead of stalling
 * one. At 5M events, 1,024 snapshots a write made writes of 11 MB, and freshness p99 was 0.5-1 s.
 */
const WRITE_BACK_BYTES_PER_WRITE = 2 ** 20;
/**
 * With a spill, a channel weighing more than this (more than two blocks of messages) parks its cold blocks (those nothing touched during the last
 * COLD_EVENTS events applied) when a chunk used it, at most once every COLD_EVENTS (a pass over its blocks): a
 * channel of a million messages keeps the blocks its events reach, not its history, and the budget holds the
 * many small channels instead. Counted in events, not chunks or time, so that it means the same however the
 * consumer cuts its chunks and however fast they come.
 */
const PARK_ABOVE = 256;
const COLD_EVENTS = 500_000;
/**
 * A channel whose last snapshot took at least this many bytes (about 75 messages) is written back as deltas (its
 * events since its last write) until they add up to that snapshot's size, then whole again: a busy channel's
 * write-back costs what changed, not what it holds (a channel of a million messages was 13 MB to encode, and to
 * read back from the spill, every WRITE_BACK_MS), and a load replays at most about its snapshot's size again.
 * Below it, a delta of a few events with its key is not much smaller than the snapshot.
 */
const DELTA_ABOVE = 1024;
/** What a store without a hot tier returns for every chunk: nothing is ever recorded in it. */
const NO_HOT_CHANGES = new HotChanges();
/** The value of a key that lists a read state under its user (its key says everything). */
const EMPTY = Buffer.alloc(0);

/**
 * An evicted channel: where it stands on disk, and, when it left changed (or with deltas of an earlier build),
 * its snapshot as it left, written with its partition's next write; loaded back before that, from this copy.
 */
type Evicted = { nextSeq: number; snapshot?: Buffer };

/** Where a partition stands: the next offset to apply on each topic, and when it got there (performance.now()). */
type Position = Includes & { readonly at: number };

/**
 * A chunk's place in the log: its topic, each event's offset (as kafkajs gives them), and the next offset to apply
 * after it (past its dead letters too).
 */
export type ChunkSource = {
  readonly topic: TopicKind;
  readonly offsets: readonly string[];
  readonly next: bigint;
};

/** A resident channel: where it stands on disk, and its place in the least-recently-used order. */
interface Resident extends RecencyLinks<Resident> {
  readonly partition: number;
  readonly channel: Snowflake;
  /** 0: RocksDB holds nothing of it; 1: its snapshot; above: deltas after it too. */
  nextSeq: number;
  /**
   * Its applied events since RocksDB last held all of it (its snapshot and deltas), while it is written back as
   * deltas (DELTA_ABOVE); undefined otherwise.
   */
  recording: ByteWriter | undefined;
  /** The size of its last snapshot written, and of the deltas written after it. */
  snapshotBytes: number;
  deltaBytes: number;
  /** Ids it held in memory when last counted. */
  weight: number;
  /** The use tick (nextUseTick) of the chunk it last parked blocks after (0: never). */
  parkedIn: number;
  /** The chunk that used it last (`CompactStore.#chunks`). */
  chunk: number;
  /** The chunk that changed it last. */
  changedIn: number;
  /** Members whose answers that chunk changed; repeats allowed. */
  readonly touched: number[];
  /** Its state in the partition's projection, once an event or a load made one (saves a lookup an event). */
  channelState: ChannelState | undefined;
  /**
   * Loaded from a snapshot ahead of its partition (a replay after a restart): what the snapshot includes, whose
   * events are skipped, until the partition has passed it.
   */
  replayFrom: Includes | undefined;
}

function resident(partition: number, channel: Snowflake, nextSeq: number, weight: number): Resident {
  return {
    partition,
    channel,
    nextSeq,
    recording: undefined,
    snapshotBytes: 0,
    deltaBytes: 0,
    weight,
    parkedIn: 0,
    chunk: 0,
    changedIn: 0,
    touched: [],
    channelState: undefined,
    replayFrom: undefined,
    older: undefined,
    newer: undefined,
    listed: false,
  };
}

class PartitionState {
  readonly projection: CompactProjection;
  /**
   * Every channel of the partition that RocksDB holds is resident, except the `evicted` ones: a channel found in
   * neither is new. True from a partition whose range was empty when first used (a new data directory, a
   * rebuild), since every later write comes through this store.
   */
  complete = false;
  readonly evicted = new Map<Snowflake, Evicted>();
  /** Evicted channels whose snapshot, taken as they left, is still to be written. */
  readonly compactions = new Set<Snowflake>();
  readonly onDisk = new Map<Snowflake, Resident>();
  /** Where the partition stands in memory: what its chunks applied. */
  position: Position;
  /**
   * Channels changed since RocksDB last got their state (resident, or evicted with a snapshot not yet written), in
   * the order they were first changed, each with the partition's position then: RocksDB holds every event of it
   * below that position. The first one's is therefore where a replay must start (the stored offsets).
   */
  readonly dirty = new Map<Snowflake, Position>();
  /**
   * Until the partition reaches it: where a replay after a restart ends, at most (what an earlier run may have
   * applied, and written listing keys for).
   */
  replayUntil: Includes | undefined;
  constructor(options: ProjectionOptions, position: Position) {
    this.projection = new CompactProjection(options);
    this.position = position;
  }
}

/**
 * What applying a chunk gives the projector: the writes to make, and what the hot tier mirrors after (empty
 * when the store was made without `heldInHotTier`).
 */
export type ProjectedChunk = {
  operations: WriteOperation[];
  hotChanges: HotChanges;
  outcomes: Map<ApplyOutcome, number>;
};

/**
 * projectChunk's refusal when the partition was forgotten while the chunk's channels were read (a rebalance moved
 * it away): nothing of the chunk was applied, and whoever owns the partition next applies it from its stored
 * offsets.
 */
export class PartitionForgotten extends Error {
  readonly partition: number;
  constructor(partition: number) {
    super(`partition ${partition} was forgotten (moved away) while a chunk of it was loading`);
    this.name = 'PartitionForgotten';
    this.partition = partition;
  }
}

/**
 * The authoritative state of the partitions one projector writes (decision 0003): each channel a ChannelState
 * resident in memory, mutated in place by the compact projection, and on disk its snapshot (channelCodec.ts).
 *
 * Written back, with Kafka as the journal: a chunk's write holds its listing keys and the partition's offsets,
 * not the channels it changed. Those stay dirty in memory and are written, one snapshot each, when they leave
 * memory, when they have been dirty longer than `writeBackAfter`, or by `flush`. Each snapshot says which offsets
 * it includes; the offsets stored with a write are where the partition's oldest dirty channel was first changed.
 * A restart replays from there and skips, per channel, the events its snapshot includes: so whatever a crash
 * interrupts, every event counts exactly once, and a steady trickle of events costs no record per channel.
 *
 * Channels come back from disk when an event or a read needs them, and least recently used ones leave when the
 * resident ids (messages, mentions and members, across partitions) exceed `budget`. Memory and RocksDB never
 * disagree on a channel that is not dirty, because only this projector writes these partitions, a chunk's changes
 * are applied and handed to the write without yielding, and a channel loaded by a reader is kept only if no write
 * to its partition happened meanwhile. Readers of a partition this store writes therefore read through it (a
 * dirty channel is resident, or its snapshot is); RocksDB alone holds a partition as of one position only once
 * `flush` wrote it.
 */
export class CompactStore {
  readonly budget: number;
  readonly #projection: ProjectionOptions;
  readonly #partitions = new Map<number, PartitionState>();
  /** Resident channels, least recently used first. */
  readonly #lru = new RecencyList<Resident>();
  #weight = 0;
  /** Writes per partition: a reader's load is kept only if none happened while it read. */
  readonly #writes = new Map<number, number>();
  readonly #writer = new ByteWriter();
  /** Per partition, the channels of the chunk projected last, until its commit. */
  readonly #used = new Map<number, Resident[]>();
  /** Chunks projected: marks the channels each uses. */
  #chunks = 0;
  /** The use tick (nextUseTick: events applied in this thread) of the chunk projected last, stamped on its blocks. */
  #tick = 0;
  readonly #held: HeldEntries | undefined;
  readonly #writeBackAfter: { readonly events: number; readonly ms: number } | undefined;
  readonly #spill: RocksBlockSpill | undefined;
  readonly #parkAbove: number;
  readonly #coldEvents: number;
  readonly #deltaAbove: number;
  /** A partition forgotten with changes not written: a flush cannot complete the database any more. */
  #lostChanges: number | undefined;
  /** Scratch: a changed channel's members, each once. */
  readonly #members = new Set<number>();
  /** Scratch: the resident channel of each event of the chunk being projected. */
  readonly #found: (Resident | undefined)[] = [];
  #db: RocksDatabase;
  loads = 0;
  evictions = 0;
  /**
   * Bytes of channel snapshots and deltas encoded to be written (written back, evicted changed, flushed): what
   * the write-back costs, which deltas keep to what changed rather than what the busy channels hold.
   */
  writtenBytes = 0;

  /**
   * `heldInHotTier`: record what each chunk changes in the entries the hot tier holds (a rebuild has no tier).
   * `writeBackAfter`: a channel dirty since more events of its partition than `events` (both topics), or for
   * longer than `ms`, goes out with the partition's next write: bounds what a restart replays, and how far back
   * the log must reach. Unset (a rebuild, replayed whole after a crash anyway): only when evicted or flushed.
   * `spill`: where big channels' cold blocks go (blockSpill.ts); without, channels are resident whole.
   * `parkAbove`, `coldEvents`: PARK_ABOVE's and COLD_EVENTS' (for tests, which park all the time).
   * `deltaAbove`: DELTA_ABOVE's (for tests, which write deltas all the time).
   * `blockSize` and `snowflakeEpochMs`: the projection's (CompactProjection).
   */
  constructor(
    db: RocksDatabase,
    budget: number,
    options: {
      blockSize?: number;
      snowflakeEpochMs?: number;
      heldInHotTier?: HeldEntries;
      writeBackAfter?: { events: number; ms: number };
      spill?: RocksBlockSpill;
      parkAbove?: number;
      coldEvents?: number;
      deltaAbove?: number;
    } = {},
  ) {
    if (!(Number.isInteger(budget) && budget > 0)) {
      throw new RangeError(`budget must be a whole number above 0 (got ${budget})`);
    }
    this.#db = db;
    this.budget = budget;
    this.#projection = {
      ...(options.blockSize === undefined ? {} : { blockSize: options.blockSize }),
      ...(options.snowflakeEpochMs === undefined ? {} : { snowflakeEpochMs: options.snowflakeEpochMs }),
    };
    this.#held = options.heldInHotTier;
    this.#writeBackAfter = options.writeBackAfter;
    this.#spill = options.spill;
    this.#parkAbove = options.parkAbove ?? PARK_ABOVE;
    this.#coldEvents = options.coldEvents ?? COLD_EVENTS;
    this.#deltaAbove = options.deltaAbove ?? DELTA_ABOVE;
  }

  /** The database this store mirrors and writes to. */
  get db(): RocksDatabase {
    return this.#db;
  }

  /** Mirrors another database from now on (a rebuilt generation): nothing resident any more. */
  useDatabase(db: RocksDatabase): void {
    this.clear();
    this.#db = db;
  }

  /** Resident ids (messages, mentions and members), across partitions. */
  get size(): number {
    return this.#weight;
  }

  /** Whether the partition has been started since it was (re)assigned: if not, call `startPartition`. */
  knows(partition: number): boolean {
    return this.#partitions.has(partition);
  }

  /**
   * Starts tracking a partition at `position`, the offsets RocksDB stores for it (or, for a topic it stores none
   * of, where the log begins); `empty`: RocksDB holds nothing of it, so it is known whole from now on.
   * `replayUntil`: the log's end when this process started, or any offsets beyond all an earlier run may have
   * applied; until the partition reaches them, every listing key a chunk touches is written again.
   */
  startPartition(partition: number, empty: boolean, position: Includes, replayUntil?: Includes): void {
    this.forget(partition);
    const state = new PartitionState(this.#projection, { ...position, at: performance.now() });
    state.complete = empty;
    // Empty, RocksDB holds no listing key to put right.
    if (
      !empty &&
      replayUntil !== undefined &&
      (replayUntil.messages > position.messages || replayUntil.acks > position.acks)
    ) {
      state.replayUntil = replayUntil;
    }
    this.#partitions.set(partition, state);
  }

  /** Where a partition stands in memory (undefined when not started): the next offset to apply on each topic. */
  position(partition: number): Includes | undefined {
    return this.#partitions.get(partition)?.position;
  }

  /** Forgets a partition (it moved away, or its database changed). */
  forget(partition: number): void {
    const state = this.#partitions.get(partition);
    if (state === undefined) return;
    // Its changes not yet on disk go with it: its stored offsets still replay them after a restart, but a flush
    // can no longer complete the database, and says so instead of writing a state that misses them.
    if (state.dirty.size > 0) this.#lostChanges ??= partition;
    for (const resident of state.onDisk.values()) {
      this.#untrack(resident);
      if (resident.channelState !== undefined) this.#spill?.releaseWhenUnreachable(resident.channelState);
    }
    this.#partitions.delete(partition);
    this.#used.delete(partition);
    this.#writes.set(partition, (this.#writes.get(partition) ?? 0) + 1);
  }

  clear(): void {
    for (const partition of [...this.#partitions.keys()]) this.forget(partition);
  }

  /**
   * Applies a chunk of one partition's events and returns the writes that make it durable; call `commit` once
   * they are written. Channels the events need are loaded first; the chunk is then applied without yielding, so
   * nothing (an eviction, a reader) comes between the loads and the changes.
   */
  async projectChunk(
    partition: number,
    events: readonly ChatEvent[],
    source: ChunkSource,
    beforeChanges?: () => void,
  ): Promise<ProjectedChunk> {
    const db = this.#db;
    let readAhead = false;
    for (;;) {
      const state = this.#started(partition);
      if (!readAhead) {
        // Once: what changes meanwhile is read synchronously at the write, as before. Due once the chunk's
        // events are applied: most channels fall due in the chunk that takes them over.
        readAhead = true;
        const serials = this.#dueParkedSerials(state, performance.now(), events.length);
        if (serials.length > 0) {
          await this.#spill?.readAhead(serials);
          if (!this.#partitions.has(partition)) throw new PartitionForgotten(partition);
          // Meanwhile the partition may have been started again, or channels evicted: look again.
          continue;
        }
      }
      const missing = new Set<Snowflake>();
      // Each event's resident channel, found once: #project uses it without looking it up again.
      const found = this.#found;
      found.length = events.length;
      for (let i = 0; i < events.length; i++) {
        const channel = (events[i] as ChatEvent).channel_id;
        const entry = state.onDisk.get(channel);
        found[i] = entry;
        if (entry === undefined && this.#mayBeOnDisk(state, channel)) missing.add(channel);
      }
      if (missing.size === 0) {
        // Synchronously before the first change: from here the memory is ahead of RocksDB until the write ends.
        beforeChanges?.();
        try {
          return this.#project(partition, events, source, found);
        } finally {
          found.length = 0;
        }
      }
      const channels = [...missing];
      const loaded = await this.#fetch(db, partition, state, channels);
      // Meanwhile the partition may have been forgotten or started again: then its loads mean nothing. Forgotten,
      // it moved away (or its state is being dropped): the chunk is not this instance's to apply any more.
      if (!this.#partitions.has(partition)) throw new PartitionForgotten(partition);
      if (this.#partitions.get(partition) !== state || this.#db !== db) continue;
      channels.forEach((channel, i) => {
        // Loaded by a reader meanwhile: that copy is as current (no write happened; this is the writer).
        if (!state.onDisk.has(channel)) this.#install(partition, state, channel, loaded[i]);
      });
    }
  }

  /** `found`: each event's resident channel, as projectChunk found it (undefined: not resident then). */
  #project(
    partition: number,
    events: readonly ChatEvent[],
    source: ChunkSource,
    found: readonly (Resident | undefined)[],
  ): ProjectedChunk {
    const state = this.#started(partition);
    const { projection, onDisk } = state;
    const { topic, offsets } = source;
    if (offsets.length !== events.length) {
      throw new Error(`a chunk of ${events.length} events came with ${offsets.length} offsets`);
    }
    const before = state.position;
    const chunk = ++this.#chunks;
    this.#tick = nextUseTick(events.length);
    const outcomes = new Map<ApplyOutcome, number>();
    const used: Resident[] = [];
    const changed: Resident[] = [];
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as ChatEvent;
      const channelId = event.channel_id;
      // A channel new to the partition became resident with an earlier event of the chunk.
      let entry = found[i] ?? onDisk.get(channelId);
      if (entry === undefined) {
        if (this.#mayBeOnDisk(state, channelId)) {
          throw new Error(`channel ${channelId} of partition ${partition} was not loaded before its events`);
        }
        entry = resident(partition, channelId, 0, 1);
        this.#track(state, entry);
      }
      if (entry.chunk !== chunk) {
        entry.chunk = chunk;
        entry.touched.length = 0;
        used.push(entry);
      }
      const replayFrom = entry.replayFrom;
      if (replayFrom !== undefined) {
        // Replayed from the stored offsets after a restart: the channel's snapshot has this event already.
        if (BigInt(offsets[i] ?? '') < replayFrom[topic]) continue;
        if (before.messages >= replayFrom.messages && before.acks >= replayFrom.acks)
          entry.replayFrom = undefined;
      }
      entry.channelState ??= projection.channelFor(channelId);
      const outcome = projection.applyIn(entry.channelState, event);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      if (outcome !== 'applied') continue;
      if (entry.recording !== undefined) encodeDeltaEvent(event, entry.recording);
      if (entry.changedIn !== chunk) {
        entry.changedIn = chunk;
        changed.push(entry);
      }
      for (const member of projection.touched) entry.touched.push(member);
    }
    const now = performance.now();
    state.position =
      topic === 'messages'
        ? { messages: source.next, acks: before.acks, at: now }
        : { messages: before.messages, acks: source.next, at: now };
    // Where the partition stood before the chunk, as of now: changed now, however long it was idle before.
    const dirtied: Position = { messages: before.messages, acks: before.acks, at: now };

    const operations: WriteOperation[] = [];
    const held = this.#held;
    const hotChanges = held === undefined ? NO_HOT_CHANGES : new HotChanges();
    // This partition's only: its loads (a chunk's, a reader's) wait for its write, another's do not.
    compact(partition, state, operations);
    const members = this.#members;
    const replaying = state.replayUntil;
    for (const disk of changed) {
      const channelId = disk.channel;
      const channel = disk.channelState;
      if (channel === undefined) throw new Error(`channel ${channelId} vanished`);
      // RocksDB has every event of it below where the chunk began (or nothing of it, when it is new).
      if (!state.dirty.has(channelId)) state.dirty.set(channelId, dirtied);
      members.clear();
      for (const member of disk.touched) members.add(member);
      disk.touched.length = 0;
      for (const member of members) {
        // Left: no longer listed (and answered by the engine: hot-tier slots hold no membership).
        const listing = channel.hasReadState(member) && !channel.isLeft(member);
        // Replaying, RocksDB may hold the listing key as a later state left it (keys are written with each
        // chunk, the snapshot later), which `isListed`, taken from the snapshot, does not know: say it anew.
        if (listing === channel.isListed(member) && replaying === undefined) continue;
        const key = readStateKeyOfWords(partition, channel.userHi(member), channel.userLo(member), channelId);
        if (listing) {
          operations.push({ type: 'put', key, value: EMPTY });
          channel.markListed(member);
        } else {
          operations.push({ type: 'del', key });
          channel.unmarkListed(member);
        }
      }
      if (held !== undefined) recordHeld(hotChanges, held, channelId, channel, members);
    }
    if (
      replaying !== undefined &&
      state.position.messages >= replaying.messages &&
      state.position.acks >= replaying.acks
    ) {
      state.replayUntil = undefined;
    }
    this.#writeDue(partition, state, operations, now);
    pushStoredOffsets(partition, state, operations);
    this.#used.set(partition, used);
    return { operations, hotChanges, outcomes };
  }

  /**
   * The writes that put a partition's channels dirty longer than `writeBackAfter` in RocksDB, and the snapshots
   * of those evicted since its last write, with its offsets; none when there are none. `now`: performance.now().
   * For a partition no chunk came to for a while.
   */
  writeBackDue(partition: number, now: number): WriteOperation[] {
    const state = this.#partitions.get(partition);
    if (state === undefined) return [];
    const operations: WriteOperation[] = [];
    compact(partition, state, operations);
    this.#writeDue(partition, state, operations, now);
    if (operations.length > 0) pushStoredOffsets(partition, state, operations);
    return operations;
  }

  /** Snapshots of the channels dirty longer than `writeBackAfter`, oldest first, about WRITE_BACK_BYTES_PER_WRITE. */
  #writeDue(partition: number, state: PartitionState, operations: WriteOperation[], now: number): void {
    let bytes = 0;
    for (const channelId of this.#due(state, now)) {
      if (bytes >= WRITE_BACK_BYTES_PER_WRITE) return;
      bytes += this.#putDirty(partition, state, channelId, operations);
    }
  }

  /**
   * The channels dirty longer than `writeBackAfter` at `now`, oldest first (none without `writeBackAfter`), once
   * `ahead` more events are applied.
   */
  *#due(state: PartitionState, now: number, ahead = 0): Generator<Snowflake> {
    const after = this.#writeBackAfter;
    if (after === undefined) return;
    const { position } = state;
    for (const [channelId, since] of state.dirty) {
      const events = Number(position.messages - since.messages + (position.acks - since.acks)) + ahead;
      if (events <= after.events && now - since.at <= after.ms) return;
      yield channelId;
    }
  }

  /**
   * Reads ahead, off this thread, the parked blocks of the channels whose write-back is due at `now` and will be a
   * whole snapshot (about WRITE_BACK_BYTES_PER_WRITE of them, as #writeDue takes them). Encoding such a snapshot
   * reads every parked block back, synchronously otherwise: for the busiest channel of bench:ingest (182,000
   * messages) two-thirds of a 495 ms stall in which the engine applied nothing. A guess: what changes before the write
   * is read synchronously then, as before.
   */
  async readAheadDue(partition: number, now: number): Promise<void> {
    const state = this.#partitions.get(partition);
    if (state === undefined) return;
    const serials = this.#dueParkedSerials(state, now);
    if (serials.length > 0) await this.#spill?.readAhead(serials);
  }

  /** The parked blocks readAheadDue reads (once `ahead` more events are applied): none without a spill. */
  #dueParkedSerials(state: PartitionState, now: number, ahead = 0): number[] {
    const serials: number[] = [];
    if (this.#spill === undefined) return serials;
    let bytes = 0;
    for (const channelId of this.#due(state, now, ahead)) {
      if (bytes >= WRITE_BACK_BYTES_PER_WRITE) break;
      const entry = state.onDisk.get(channelId);
      if (entry?.channelState === undefined) continue;
      if (writesDelta(entry)) {
        bytes += entry.recording?.length ?? 0;
      } else {
        bytes += entry.snapshotBytes;
        entry.channelState.collectParkedSerials(serials);
      }
    }
    return serials;
  }

  /**
   * A dirty resident channel's write: a delta of its events since its last write while it records them and they
   * add up to less than its snapshot, else its snapshot. It is clean after. Returns the bytes written.
   */
  #putDirty(
    partition: number,
    state: PartitionState,
    channelId: Snowflake,
    operations: WriteOperation[],
  ): number {
    const entry = state.onDisk.get(channelId);
    // Evicted ones were written by compact(), which runs first.
    if (entry?.channelState === undefined) throw new Error(`dirty channel ${channelId} is not resident`);
    const { recording } = entry;
    if (recording !== undefined && writesDelta(entry)) {
      const delta = encodeDelta(recording, includesOf(entry, state));
      state.dirty.delete(channelId);
      operations.push({
        type: 'put',
        key: channelStateKey(partition, channelId, entry.nextSeq),
        value: delta,
      });
      entry.nextSeq++;
      entry.deltaBytes += delta.length;
      // A new one, which allocates at its first event: an idle channel holds no buffer.
      entry.recording = new ByteWriter();
      this.writtenBytes += delta.length;
      return delta.length;
    }
    const snapshot = encodeSnapshot(entry.channelState, this.#writer, includesOf(entry, state));
    this.writtenBytes += snapshot.length;
    putSnapshot(operations, partition, channelId, entry.nextSeq, snapshot);
    state.dirty.delete(channelId);
    entry.nextSeq = 1;
    entry.snapshotBytes = snapshot.length;
    entry.deltaBytes = 0;
    // RocksDB holds all of it now: from here its events are what the next write needs.
    entry.recording = snapshot.length >= this.#deltaAbove ? new ByteWriter() : undefined;
    return snapshot.length;
  }

  /**
   * The writes that put every changed channel's state in RocksDB, one snapshot each (and the snapshots of
   * channels evicted since the last write), with the offsets they reach, in slices of about `records` records, so
   * that they are never all in memory at once; only `partition`'s when given. Once every slice is written,
   * RocksDB holds what memory does, as of the offsets it stores. No chunk of a partition it writes may be
   * projected meanwhile (readers and other partitions may go on).
   */
  *flush(records: number, partition?: number): Generator<WriteOperation[]> {
    if (this.#lostChanges !== undefined && partition === undefined) {
      throw new Error(
        `partition ${this.#lostChanges} was forgotten with changes not yet written back: the database cannot be ` +
          'completed',
      );
    }
    let operations: WriteOperation[] = [];
    for (const [number, state] of this.#partitions) {
      if (partition !== undefined && number !== partition) continue;
      compact(number, state, operations);
      for (const channelId of [...state.dirty.keys()]) {
        // Evicted while a slice was written (by a reader's load, by another partition's commit): its snapshot
        // waits in `compactions`, written below.
        if (state.onDisk.get(channelId)?.channelState === undefined) continue;
        this.#putDirty(number, state, channelId, operations);
        if (operations.length >= records) {
          yield operations;
          operations = [];
        }
      }
      compact(number, state, operations);
      // After its last snapshot: a crash between slices leaves the older offsets, and the replay skips what the
      // slices wrote.
      pushStoredOffsets(number, state, operations);
    }
    if (operations.length > 0) yield operations;
  }

  /** After a chunk's writes are durable: they count as written, and least recently used channels may go. */
  commit(partition: number): void {
    this.#writes.set(partition, (this.#writes.get(partition) ?? 0) + 1);
    const state = this.#partitions.get(partition);
    const used = this.#used.get(partition);
    this.#used.delete(partition);
    if (state !== undefined && used !== undefined) {
      for (const entry of used) {
        // The chunk's channels become the most recently used, weighed again as they grew.
        if (state.onDisk.get(entry.channel) !== entry) continue;
        this.#lru.touch(entry);
        const now = entry.channelState;
        if (now === undefined) continue;
        let weight = weightOf(now);
        const spill = this.#spill;
        const cold = this.#tick - this.#coldEvents;
        if (spill !== undefined && weight > this.#parkAbove && entry.parkedIn <= cold) {
          now.parkColdBlocks(cold, spill);
          weight = weightOf(now);
          entry.parkedIn = this.#tick;
        }
        this.#weight += weight - entry.weight;
        entry.weight = weight;
      }
    }
    this.#evictToBudget();
    this.#spill?.flush();
  }

  /**
   * A channel as far as memory knows it: `known` when it is resident (`channel` undefined: resident as new, never
   * written) or known not to exist; otherwise only RocksDB can say (`load`).
   */
  lookup(
    partition: number,
    channelId: Snowflake,
  ): { known: true; channel: ChannelState | undefined } | { known: false } {
    const state = this.#partitions.get(partition);
    if (state === undefined) return { known: false };
    const resident = state.onDisk.get(channelId);
    if (resident !== undefined) {
      this.#lru.touch(resident);
      return { known: true, channel: state.projection.channel(channelId) };
    }
    return this.#mayBeOnDisk(state, channelId) ? { known: false } : { known: true, channel: undefined };
  }

  /**
   * Reads a channel from `db` for a reader. It becomes resident when `db` is this store's, its partition is one
   * this store writes, and nothing was written to that partition meanwhile (a write could have changed it after
   * the read). The caller makes sure no write to the partition is under way when it starts.
   */
  async load(db: RocksDatabase, partition: number, channelId: Snowflake): Promise<ChannelState | undefined> {
    const state = this.#partitions.get(partition);
    const writes = this.#writes.get(partition) ?? 0;
    const [loaded] =
      state === undefined || this.#db !== db
        ? [await readChannel(db, partition, channelId, this.#projection)]
        : await this.#fetch(db, partition, state, [channelId]);
    const kept =
      state !== undefined &&
      this.#partitions.get(partition) === state &&
      this.#db === db &&
      (this.#writes.get(partition) ?? 0) === writes;
    if (kept && !state.onDisk.has(channelId)) {
      this.#install(partition, state, channelId, loaded);
      this.#evictToBudget();
    }
    return loaded?.channel;
  }

  /**
   * Reads channels of a partition this store writes: an evicted one from the snapshot it left with, if still
   * unwritten; one evicted without deltas with one multi-get for all; anything else with a scan of its keys.
   */
  async #fetch(
    db: RocksDatabase,
    partition: number,
    state: PartitionState,
    channels: readonly Snowflake[],
  ): Promise<(LoadedChannel | undefined)[]> {
    const found: (LoadedChannel | undefined)[] = new Array<LoadedChannel | undefined>(channels.length);
    const single: number[] = [];
    const scans: Promise<void>[] = [];
    channels.forEach((channelId, i) => {
      const evicted = state.evicted.get(channelId);
      if (evicted?.snapshot !== undefined) {
        found[i] = loadedChannel(channelId, evicted.snapshot, [], evicted.nextSeq, this.#projection);
      } else if (evicted?.nextSeq === 1) {
        single.push(i);
      } else {
        scans.push(
          readChannel(db, partition, channelId, this.#projection).then((loaded) => {
            found[i] = loaded;
          }),
        );
      }
    });
    if (single.length > 0) {
      const keys = single.map((i) => channelStateKey(partition, channels[i] ?? '', 0));
      const values = await db.getMany(keys);
      single.forEach((i, n) => {
        const value = values[n];
        const channelId = channels[i] ?? '';
        if (value === undefined) {
          throw new Error(
            `channel ${channelId} of partition ${partition} left a snapshot that is not on disk`,
          );
        }
        found[i] = loadedChannel(channelId, value, [], 1, this.#projection);
      });
    }
    await Promise.all(scans);
    return found;
  }

  #started(partition: number): PartitionState {
    const state = this.#partitions.get(partition);
    if (state === undefined) throw new Error(`partition ${partition} was not started`);
    return state;
  }

  #mayBeOnDisk(state: PartitionState, channel: Snowflake): boolean {
    return !state.complete || state.evicted.has(channel);
  }

  /** Makes a channel read from disk resident; `undefined`: RocksDB holds nothing of it, so it is new. */
  #install(
    partition: number,
    state: PartitionState,
    channelId: Snowflake,
    loaded: LoadedChannel | undefined,
  ): void {
    if (loaded !== undefined) state.projection.setChannel(channelId, loaded.channel);
    const entry = resident(
      partition,
      channelId,
      loaded?.nextSeq ?? 0,
      // A channel RocksDB does not hold still takes an entry: counted, so that lookups of any number of
      // unknown channels cannot grow memory past the budget.
      loaded === undefined ? 1 : weightOf(loaded.channel),
    );
    entry.channelState = loaded?.channel;
    const includes = loaded?.includes;
    const { position } = state;
    if (includes !== undefined && (includes.messages > position.messages || includes.acks > position.acks)) {
      entry.replayFrom = includes;
    }
    // Back before the snapshot it left with was written, it stays dirty (state.dirty): RocksDB is behind it.
    this.#track(state, entry);
    state.evicted.delete(channelId);
    state.compactions.delete(channelId);
    this.loads++;
  }

  #track(state: PartitionState, resident: Resident): void {
    state.onDisk.set(resident.channel, resident);
    this.#lru.touch(resident);
    this.#weight += resident.weight;
  }

  #untrack(resident: Resident): void {
    if (!this.#lru.delete(resident)) return;
    this.#weight -= resident.weight;
  }

  /**
   * Least recently used channels go until the rest fit; the newest stays, so the one just needed is there. A
   * changed one leaves its snapshot, written with its partition's next write: after the write of any chunk that
   * changed it, with the offsets and listing keys of that chunk.
   *
   * Channels with more parked than resident are passed over while others can go, and leave only when that is not
   * enough: leaving frees just their resident part, but the snapshot reads every parked block back from the spill
   * and the next event reads the whole channel back from RocksDB. With the budget full, a busy channel did both
   * every few chunks (bench:fold, skewed activity, a budget of 300,000: chunks of 2-3.5 s, every fourth).
   */
  #evictToBudget(): void {
    this.#evictOldest(true);
    this.#evictOldest(false);
  }

  /**
   * The first pass parks big channels and passes over mostly parked ones; the second runs only when the first
   * walked every channel without making room, so there is nothing left to park, and takes the oldest.
   */
  #evictOldest(firstPass: boolean): void {
    let entry = this.#lru.oldest;
    while (entry !== undefined) {
      if (this.#weight <= this.budget || this.#lru.size === 1) return;
      // Read before the entry moves or leaves: a moved one comes round again at the newest end.
      const next = entry.newer;
      const spill = this.#spill;
      const channel = entry.channelState;
      if (firstPass && spill !== undefined && channel !== undefined && entry.weight > this.#parkAbove) {
        // A big channel parks all but its last blocks and stays, the newest again, rather than leave whole: its
        // snapshot would be megabytes to write now and to read back at its next event (the soak's busiest
        // channels were evicted between two chunks of their partition and loaded back whole). Only when that
        // made room: the next time round, with nothing left to park, it may leave.
        channel.parkColdBlocks(Number.MAX_SAFE_INTEGER, spill);
        const weight = weightOf(channel);
        if (weight < entry.weight) {
          this.#weight += weight - entry.weight;
          entry.weight = weight;
          this.#lru.touch(entry);
          entry = next;
          continue;
        }
      }
      if (firstPass && spill !== undefined && channel !== undefined && channel.parkedSize > entry.weight) {
        entry = next;
        continue;
      }
      this.#evict(entry);
      entry = next;
    }
  }

  #evict(entry: Resident): void {
    const channel = entry.channelState;
    this.#lru.delete(entry);
    this.#weight -= entry.weight;
    this.evictions++;
    const state = this.#partitions.get(entry.partition);
    if (state === undefined) return;
    state.projection.deleteChannel(entry.channel);
    state.onDisk.delete(entry.channel);
    const dirty = state.dirty.has(entry.channel);
    // Never written: RocksDB holds nothing of it, which is what a channel not tracked at all means.
    if (entry.nextSeq === 0 && !dirty) return;
    if (channel !== undefined && (entry.nextSeq > 1 || dirty)) {
      // Dirty, it stays so (state.dirty) until this snapshot is written.
      const snapshot = encodeSnapshot(channel, this.#writer, includesOf(entry, state));
      this.writtenBytes += snapshot.length;
      state.evicted.set(entry.channel, { nextSeq: entry.nextSeq, snapshot });
      state.compactions.add(entry.channel);
    } else {
      state.evicted.set(entry.channel, { nextSeq: entry.nextSeq });
    }
    if (channel !== undefined) this.#spill?.releaseWhenUnreachable(channel);
  }
}

/** Puts a channel's snapshot and deletes the deltas it replaces (those below `nextSeq`). */
function putSnapshot(
  operations: WriteOperation[],
  partition: number,
  channelId: Snowflake,
  nextSeq: number,
  snapshot: Buffer,
): void {
  for (let seq = 1; seq < nextSeq; seq++) {
    operations.push({ type: 'del', key: channelStateKey(partition, channelId, seq) });
  }
  operations.push({ type: 'put', key: channelStateKey(partition, channelId, 0), value: snapshot });
}

/** The snapshots evicted channels left with, to write with the next write: they are clean then. */
function compact(partition: number, state: PartitionState, operations: WriteOperation[]): void {
  for (const channelId of state.compactions) {
    const evicted = state.evicted.get(channelId);
    if (evicted?.snapshot === undefined) continue;
    putSnapshot(operations, partition, channelId, evicted.nextSeq, evicted.snapshot);
    state.evicted.set(channelId, { nextSeq: 1 });
    state.dirty.delete(channelId);
  }
  state.compactions.clear();
}

/**
 * The partition's stored offsets: where its oldest dirty channel was first changed, or, with none dirty, where it
 * stands. A restart replays from there; RocksDB holds every event below them, and each snapshot says what it
 * holds above.
 */
function pushStoredOffsets(partition: number, state: PartitionState, operations: WriteOperation[]): void {
  const from = state.dirty.values().next().value ?? state.position;
  operations.push(
    storedOffsetWrite(partition, 'messages', from.messages),
    storedOffsetWrite(partition, 'acks', from.acks),
  );
}

/** Whether a dirty channel's next write is a delta: it records its events, and they add up to less than its snapshot. */
function writesDelta(entry: Resident): boolean {
  const { recording } = entry;
  return recording !== undefined && entry.deltaBytes + recording.length < entry.snapshotBytes;
}

/**
 * What a snapshot of a resident channel taken now includes: every event of it below the partition's position,
 * and, while it replays, below where its loaded snapshot stood.
 */
function includesOf(entry: Resident, state: PartitionState): Includes {
  const { position } = state;
  const from = entry.replayFrom;
  if (from === undefined) return position;
  return {
    messages: from.messages > position.messages ? from.messages : position.messages,
    acks: from.acks > position.acks ? from.acks : position.acks,
  };
}

/**
 * Resident ids a channel holds: its messages (tombstones included), its mentions (a message may name 1,000
 * users: counted, or such messages would hold far more than the budget says; once, though the index by message
 * holds them again, as the lists it replaced were not counted), its members and what edits left; at least 1, so
 * that channels known to be empty count too. Ids in parked blocks are not resident, and do not count.
 */
function weightOf(channel: ChannelState): number {
  return (
    channel.messages.residentSize +
    channel.mentioned.residentSize +
    2 * (channel.everyone?.residentSize ?? 0) +
    channel.memberCount +
    channel.editedAt.size +
    channel.pendingMentions.size +
    channel.pendingMembers +
    1
  );
}

/** `includes`: what its snapshot includes (undefined when written by a build that wrote no such thing). */
type LoadedChannel = { channel: ChannelState; nextSeq: number; includes: Includes | undefined };
/** What every CompactProjection of a store is made with. */
type ProjectionOptions = { readonly blockSize?: number; readonly snowflakeEpochMs?: number };

/** A channel as RocksDB holds it, or undefined when it holds nothing of it. */
async function readChannel(
  db: RocksDatabase,
  partition: number,
  channelId: Snowflake,
  options: ProjectionOptions,
): Promise<LoadedChannel | undefined> {
  const [snapshot, ...deltas] = await db.scan(channelStatePrefix(partition, channelId));
  if (snapshot === undefined) return undefined;
  if (snapshot.key.readUInt32BE(snapshot.key.length - 4) !== 0) {
    throw new Error(`channel ${channelId} of partition ${partition} has deltas but no snapshot`);
  }
  const last = deltas.at(-1) ?? snapshot;
  return loadedChannel(
    channelId,
    snapshot.value,
    deltas.map((delta) => delta.value),
    last.key.readUInt32BE(last.key.length - 4) + 1,
    options,
  );
}

/** A channel from its snapshot and the deltas written after it. */
function loadedChannel(
  channelId: Snowflake,
  snapshot: Buffer,
  deltas: readonly Buffer[],
  nextSeq: number,
  options: ProjectionOptions,
): LoadedChannel {
  const channel = decodeSnapshot(snapshot, new ChannelState(options.blockSize));
  if (deltas.length > 0) {
    const projection = new CompactProjection(options);
    projection.setChannel(channelId, channel);
    for (const delta of deltas) replayDelta(delta, channelId, projection);
  }
  // Every read state on disk had its listing key written with it, but a left member's was deleted. Set both
  // ways: a member listed in the snapshot may have left in a delta since (its key deleted), and a later join must
  // write the key again.
  for (let member = 0; member < channel.memberCount; member++) {
    if (channel.hasReadState(member) && !channel.isLeft(member)) channel.markListed(member);
    else channel.unmarkListed(member);
  }
  // The last delta takes it furthest; one of an earlier build includes what its offsets say.
  const lastDelta = deltas.at(-1);
  const includes = lastDelta === undefined ? snapshotIncludes(snapshot) : deltaIncludes(lastDelta);
  return { channel, nextSeq, includes };
}

/** The greatest live id's words, for the entries below. */
const head = new Uint32Array(2);
const channelWords = new Uint32Array(2);
/** A first unread message's words (and firstUnread's scratch). */
const first = new Uint32Array(3);

/**
 * What a chunk changed in the entries of `channel` the hot tier holds: its record, then its touched members'
 * entries (one who left is forgotten: slots hold no membership). A channel none of whose entries is held is left
 * out whole, so that applying the changes does not even take its stripe.
 */
function recordHeld(
  sink: HotChanges,
  held: HeldEntries,
  channelId: Snowflake,
  channel: ChannelState,
  members: Iterable<number>,
): void {
  parseSnowflakeInto(channelId, channelWords);
  const cHi = channelWords[0] as number;
  const cLo = channelWords[1] as number;
  // The channel's record comes first (it opens the channel in the changes), once anything of it is held.
  let opened = held.channel(cHi, cLo);
  if (opened) recordChannel(sink, cHi, cLo, channel);
  for (const member of members) {
    const uHi = channel.userHi(member);
    const uLo = channel.userLo(member);
    if (!held.readState(uHi, uLo, cHi, cLo)) continue;
    if (!opened) {
      recordChannel(sink, cHi, cLo, channel);
      opened = true;
    }
    if (channel.isLeft(member)) sink.forget(uHi, uLo);
    else if (channel.hasReadState(member)) recordReadState(sink, channel, member);
    else sink.ownCount(uHi, uLo, channel.own.liveIn(member));
  }
}

/** The channel as the hot tier keeps it: its epoch, live count and head. */
function recordChannel(sink: HotChangeVisitor, cHi: number, cLo: number, channel: ChannelState): void {
  const hasHead = channel.messages.maxLive(head);
  sink.channel(
    cHi,
    cLo,
    channel.epoch,
    channel.messages.liveCount,
    hasHead,
    head[0] as number,
    head[1] as number,
    channel.everyone?.liveCount ?? 0,
  );
}

/**
 * A member's read state as the hot tier keeps it: the pointer, the counts above it of the member's own and
 * mentioning live messages, and a snapshot of the live messages above it, valid while the epoch stands.
 */
function recordReadState(sink: HotChangeVisitor, channel: ChannelState, member: number): void {
  const { own, mentioned, messages } = channel;
  const uHi = channel.userHi(member);
  const uLo = channel.userLo(member);
  const hasPointer = channel.hasPointer(member);
  const hi = hasPointer ? channel.pointerHi(member) : 0;
  const lo = hasPointer ? channel.pointerLo(member) : 0;
  // A join's floor above the pointer: counted above another pointer than the one answered, which a slot does
  // not hold. The engine answers such a pair.
  const counted = channel.countingPointer(member, first);
  if (counted !== hasPointer || (hasPointer && (first[0] !== hi || first[1] !== lo))) {
    sink.forget(uHi, uLo);
    return;
  }
  // With no pointer everything is above it; a pointer above the head has nothing live above it.
  const atOrBelowHead =
    hasPointer &&
    messages.maxLive(head) &&
    (hi < (head[0] as number) || (hi === head[0] && lo <= (head[1] as number)));
  const liveAbove = !hasPointer ? messages.liveCount : atOrBelowHead ? messages.liveAbove(0, hi, lo) : 0;
  const ownAbove = hasPointer ? own.liveAboveIn(member, hi, lo) : own.liveIn(member);
  const hasFirstUnread = firstUnread(channel, member, liveAbove, ownAbove, first);
  // The mention count less every live @everyone message (hotChanges.ts): @everyone messages appended later,
  // which touch no member, then add to it in the tier.
  const mentions = hasPointer
    ? mentioned.liveAboveIn(member, hi, lo) + channel.everyoneAbove(member, true, hi, lo)
    : mentioned.liveIn(member) + channel.everyoneAbove(member, false, 0, 0);
  sink.readState(
    uHi,
    uLo,
    hasPointer,
    hi,
    lo,
    ownAbove,
    mentions - (channel.everyone?.liveCount ?? 0),
    atOrBelowHead,
    channel.epoch,
    atOrBelowHead ? messages.liveCount : 0,
    atOrBelowHead ? liveAbove : 0,
    hasFirstUnread,
    first[0] as number,
    first[1] as number,
  );
}

/** The same entries as records (records.ts), for a reader's `fill` of the hot tier. */
function recordsOf(
  channelId: Snowflake,
  channel: ChannelState,
  member: number,
): {
  channel: ChannelRecord;
  everyoneCount: number;
  readState: ReadStateRecord | undefined;
  /** False for a pair a hot-tier slot cannot hold (left, or counted above a join's floor). */
  cacheable: boolean;
} {
  let channelRecord: ChannelRecord = { epoch: 0, live: null };
  let everyone = 0;
  let readState: ReadStateRecord | undefined;
  let cacheable = true;
  const sink: HotChangeVisitor = {
    channel(_cHi, _cLo, epoch, liveCount, hasHead, hi, lo, everyoneCount) {
      everyone = everyoneCount;
      const live = hasHead
        ? {
            size: liveCount,
            max: formatSnowflakeWords(hi, lo),
            tail: [],
            root: null,
            height: 0,
            next_node: 0,
          }
        : null;
      channelRecord = { epoch, live };
    },
    readState(
      _uHi,
      _uLo,
      hasPointer,
      hi,
      lo,
      ownAbove,
      mentionsAbove,
      hasSnapshot,
      epoch,
      liveCount,
      liveAbove,
    ) {
      readState = {
        last_acked_message_id: hasPointer ? formatSnowflakeWords(hi, lo) : null,
        own_above: ownAbove,
        mentions_above: mentionsAbove,
        live_above: hasSnapshot ? { epoch, live_count: liveCount, count: liveAbove } : null,
      };
    },
    ownCount() {},
    forget() {
      cacheable = false;
    },
  };
  parseSnowflakeInto(channelId, channelWords);
  recordChannel(sink, channelWords[0] as number, channelWords[1] as number, channel);
  if (member !== -1 && channel.isLeft(member)) cacheable = false;
  else if (member !== -1 && channel.hasReadState(member)) recordReadState(sink, channel, member);
  return { channel: channelRecord, everyoneCount: everyone, readState, cacheable };
}

/** A channel where nothing happened: epoch 0, nothing unread. */
const NO_MESSAGES: FirstUnreadAt = { epoch: 0, id: null };

/** The answer for (user, channel), and what the hot tier keeps of it (hotTierMirror.ts's `fill`). */
export function pairRead(
  channel: ChannelState | undefined,
  userId: Snowflake,
  channelId: Snowflake,
): { view: ReadStateView; found: PairRecords } {
  const view = readStateView(channel, userId, channelId);
  if (channel === undefined) {
    return {
      view,
      found: { channel: undefined, readState: undefined, ownCount: 0, firstUnread: NO_MESSAGES },
    };
  }
  const member = channel.memberOf(userId);
  const records = recordsOf(channelId, channel, member);
  const firstUnreadAt = { epoch: channel.epoch, id: view.first_unread_message_id };
  if (records.readState === undefined) {
    return {
      view,
      found: {
        channel: records.channel,
        readState: undefined,
        ownCount: member === -1 ? 0 : channel.own.liveIn(member),
        firstUnread: firstUnreadAt,
        everyoneCount: records.everyoneCount,
        cacheable: records.cacheable,
      },
    };
  }
  return {
    view,
    found: {
      channel: records.channel,
      readState: records.readState,
      firstUnread: firstUnreadAt,
      everyoneCount: records.everyoneCount,
      cacheable: records.cacheable,
    },
  };
}
