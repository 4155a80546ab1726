import type { Snowflake } from '../contract/snowflake.ts';
import type { ReadStateView } from '../projection/readStateOf.ts';
import type { ChannelRecord, ReadStateRecord } from '../projection/records.ts';
import {
  capacityForBudget,
  HEADER_BYTES,
  type KeyHash,
  OffHeapTable,
  type OffHeapTableStats,
} from './offHeapTable.ts';
import { compareWords, formatSnowflakeWords, parseSnowflakeInto } from '../contract/snowflakeWords.ts';
import type { HeldEntries, HotChanges, HotChangeVisitor } from './hotChanges.ts';
import {
  createSeqlockBuffer,
  MOVES,
  SeqlockWriter,
  sleepWhileWriting,
  STRIPE_MASK,
} from './stripedSeqlock.ts';

/**
 * The hot tier of the read path: copies of the read-state and channel records in two off-heap tables, enough to
 * answer `readStateOf` in O(1) with no RocksDB read in the common cases. It answers only when the answer is
 * exactly what `readStateOf` would compute from the same records (the rules of `liveAbove`); otherwise it
 * declines (undefined) and the caller reads through RocksDB. A pair without a read state is held too (a
 * negative entry: `putNoReadState`), in a read-state slot of its own, so repeated lookups of it stay here.
 *
 * Staying exact is the caller's part: apply every write's changes (`applyChanges`, which updates the entries
 * held), in write order, and all of one batch's in one synchronous run (a read then never sees half a batch).
 * An entry may go missing (evicted, never put) but must never be older than RocksDB: filling it from a RocksDB
 * read must not overwrite a newer put, and a partition handed to another instance must be dropped (`clear`),
 * since its records will change elsewhere.
 *
 * One thread writes (the engine, which also writes RocksDB); the HTTP threads read the same shared buffers
 * through `attachHotTier`. A seqlock striped by channel keeps readers exact (stripedSeqlock.ts): the writer makes
 * a channel's stripe odd while it writes the channel's entries and even again after; a reader retries a lookup
 * during which its channel's stripe changed. `update` groups one channel's puts that must be seen together (its
 * record and a member's read state filled from one RocksDB read).
 */
export interface HotTier extends HotTierReader {
  /** The buffers to hand to `attachHotTier` in another thread. */
  readonly shared: SharedHotTier;
  /** Runs `write` (puts and deletes of this channel's entries) as one step for readers: none sees part of it. */
  update(channelId: Snowflake, write: () => void): void;
  /**
   * Applies a write's changes to the entries the tier holds, one channel (its record and its members' entries)
   * per `update`. It adds none: an entry comes in when a lookup fills it, and from then on every write keeps it
   * current. Adding every entry a backlog wrote cost the engine a tenth of its time (5M events), for pairs
   * mostly never looked up, and pushed out the ones that were.
   */
  applyChanges(changes: HotChanges): void;
  /** The entries the tier holds. */
  readonly held: HeldEntries;
  /** `firstUnread`: the pair's first unread message as of a channel epoch; without it the tier answers the pair
   * only while nothing is unread. */
  putReadState(
    userId: Snowflake,
    channelId: Snowflake,
    record: ReadStateRecord,
    firstUnread?: FirstUnreadAt,
  ): void;
  /**
   * The user has no read state in the channel and wrote `ownCount` of its live messages (the size of OWN(c, u)):
   * all `readStateOf` needs besides the channel. A later `putReadState` of the pair replaces it.
   */
  putNoReadState(
    userId: Snowflake,
    channelId: Snowflake,
    ownCount: number,
    firstUnread?: FirstUnreadAt,
  ): void;
  /** The user's OWN(c, u) changed size: a held negative entry follows; a read state or no entry is left alone. */
  updateNoReadState(userId: Snowflake, channelId: Snowflake, ownCount: number): void;
  deleteReadState(userId: Snowflake, channelId: Snowflake): void;
  /**
   * Keeps the epoch, the live count, the head and `everyoneCount`, the live @everyone messages (which the record
   * projection does not keep: 0); the read states put with it count their mentions less them.
   */
  putChannel(channelId: Snowflake, record: ChannelRecord, everyoneCount?: number): void;
  deleteChannel(channelId: Snowflake): void;
  clear(): void;
}

/** What another thread may do: read. */
export interface HotTierReader {
  /**
   * The view `readStateOf` gives, when both records are held and the live messages above the pointer follow
   * from them: the pointer is null, at or above the head, or its snapshot is of the channel's current epoch.
   * For a pair held as having no read state, the view of one with `has_read_state` false. Otherwise undefined.
   */
  readView(userId: Snowflake, channelId: Snowflake): ReadStateView | undefined;
  /** `readView` of each channel, in order: one user's many channels, faster than one by one. */
  readViews(userId: Snowflake, channelIds: readonly Snowflake[]): (ReadStateView | undefined)[];
  stats(): HotTierStats;
}

/** A pair's first unread message (null: none) when the channel was at `epoch`. */
export type FirstUnreadAt = { readonly epoch: number; readonly id: Snowflake | null };

/** Structured-cloneable: post it to a worker. */
export type SharedHotTier = {
  readonly readStates: SharedArrayBuffer;
  readonly channels: SharedArrayBuffer;
  /** The striped seqlock's words (stripedSeqlock.ts). */
  readonly sequence: SharedArrayBuffer;
};

export type HotTierStats = {
  /** Bytes held by both tables. */
  readonly bytes: number;
  readonly readStates: OffHeapTableStats;
  readonly channels: OffHeapTableStats;
  /** readView calls answered here, and declined (left to RocksDB), by this thread. */
  readonly answered: number;
  readonly declined: number;
  /** answered / (answered + declined); 0 before the first read. */
  readonly hitRatio: number;
  /** Times a read of this thread slept until the writer ended an update. */
  readonly sleeps: number;
};

export type HotTierOptions = {
  /** All the tier may take, e.g. HOT_TIER_MB · 2^20. */
  readonly bytesBudget: number;
  /** The share of the budget for read states, above 0, below 1; the channels get what the read states leave. */
  readonly readStateShare?: number;
  /** For tests: a weak hash crowds both tables. */
  readonly hash?: KeyHash;
};

/**
 * Three quarters for read states: a channel has one entry, read by every member's reads, where each member who
 * acked or was mentioned has a read state, so read states are the many. At 56 against 44 bytes a slot, a quarter
 * still holds a channel for every ~2.4 read states, which covers the channels of the read states held unless
 * most channels have a single active member. With the default 256 MiB: 3,595,116 read-state slots (192 MiB,
 * 2.88M entries at the 0.8 load) and 1,525,200 channel slots (64 MiB, 1.22M entries).
 */
const DEFAULT_READ_STATE_SHARE = 0.75;

// Read-state values. The snapshot is kept as `below` = live_count − count (the live messages at or below the
// pointer then): live above now = live count now − below, the same sum as liveAbove's, in one word fewer.
// RS_EPOCH is the channel's epoch the slot's snapshot and first unread message were taken in.
// A negative entry (no read state) is answered as readStateOf answers it: as a read state with a null pointer
// (every live message is above it), own_above = the size of OWN(c, u) and no mentions, flagged NO_READ_STATE.
const RS_POINTER_HI = 0;
const RS_POINTER_LO = 1;
const RS_FLAGS = 2;
const RS_OWN_ABOVE = 3;
// The mention count less the channel's live @everyone messages, as an int32 (negative when @everyone messages
// lie below the pointer): the channel's @everyone count added back gives the count, also after @everyone
// messages that touched no member were appended (hotChanges.ts).
const RS_MENTIONS_ABOVE = 4;
const RS_EPOCH = 5;
const RS_SNAPSHOT_BELOW = 6;
// The first unread message as of RS_EPOCH, when there was one (HAS_FIRST_UNREAD). While the epoch stands,
// every change was an append above the head, which never moves a first unread that exists. One that did not
// exist then (nothing was unread) would be an append the slot cannot name: the tier declines when it finds
// messages unread and no first unread of the current epoch.
const RS_FIRST_HI = 7;
const RS_FIRST_LO = 8;
const RS_WORDS = 9;
/** Value words of a read-state slot and of a channel slot (for sizing a tier to a data set). */
export const READ_STATE_VALUE_WORDS = RS_WORDS;
const HAS_POINTER = 1;
const HAS_SNAPSHOT = 2;
const NO_READ_STATE = 4;
const HAS_FIRST_UNREAD = 8;

// Channel values.
const CH_EPOCH = 0;
const CH_LIVE_COUNT = 1;
const CH_HEAD_HI = 2;
const CH_HEAD_LO = 3;
const CH_FLAGS = 4;
const CH_EVERYONE = 5;
const CH_WORDS = 6;
export const CHANNEL_VALUE_WORDS = CH_WORDS;
const HAS_HEAD = 1;

/** Writes a known first unread and its epoch into a slot's words; returns the flag to set. */
function firstUnreadInto(words: Uint32Array, firstUnread: FirstUnreadAt | undefined): number {
  if (firstUnread === undefined || firstUnread.id === null || !isWord(firstUnread.epoch)) return 0;
  words[RS_EPOCH] = firstUnread.epoch;
  parseSnowflakeInto(firstUnread.id, words, RS_FIRST_HI);
  return HAS_FIRST_UNREAD;
}

/** Numbers that do not fit a word are not cached: a missing entry is safe, a truncated one is not. */
function isWord(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

function isInt32(value: number): boolean {
  return Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff;
}

/**
 * How long a read keeps retrying while the writer is mid-update before it declines (RocksDB answers). Updates
 * take microseconds (a batch's, more), but the writer's thread can be descheduled inside one for a scheduler
 * time slice (a few ms on a busy machine): waiting that out is cheaper than a trip to the engine.
 */
const MAX_READ_WAIT_MS = 5;
/**
 * Retries spent spinning before a reader sleeps until the writer is done (Atomics.wait on the sequence). Spinning
 * only pays while the writer runs on another core; with more busy threads than cores (HTTP threads, the engine)
 * a spinning reader takes the core the writer needs to finish, and a 50-channel request could spin for 50 × 5 ms.
 */
const SPINS_BEFORE_SLEEPING = 64;
/** Torn reads (the sequence moved during a read) retried between two looks at the clock. */
const ATTEMPTS_BETWEEN_CLOCK_READS = 256;

export function createHotTier(options: HotTierOptions): HotTier {
  const { bytesBudget, readStateShare = DEFAULT_READ_STATE_SHARE, hash } = options;
  if (!(readStateShare > 0 && readStateShare < 1)) {
    throw new RangeError(
      `readStateShare must lie between 0 and 1, exclusive (got ${readStateShare}); ${DEFAULT_READ_STATE_SHARE} is the default`,
    );
  }
  // Each table's header comes on top of its slots: take it from the budget, which is all the tier may use.
  const readStateBudget = Math.floor(bytesBudget * readStateShare) - HEADER_BYTES;
  if (capacityForBudget(readStateBudget, RS_WORDS) === 0) {
    throw new RangeError(
      `a hot tier of ${bytesBudget} bytes leaves read states fewer than 2 slots; give it more (HOT_TIER_MB)`,
    );
  }
  const sequence = createSeqlockBuffer();
  const lock = new SeqlockWriter(sequence);
  // A removal rewrites slots of any channel: readers check MOVES too.
  const removals = {
    removing: () => {
      lock.begin(MOVES);
    },
    removed: () => {
      lock.end(MOVES);
    },
  };
  const readStates = new OffHeapTable({
    valueWords: RS_WORDS,
    bytesBudget: readStateBudget,
    hash,
    guard: removals,
  });
  const channelBudget = bytesBudget - readStates.buffer.byteLength - HEADER_BYTES;
  if (capacityForBudget(channelBudget, CH_WORDS) === 0) {
    throw new RangeError(
      `readStateShare ${readStateShare} leaves the channels too little of ${bytesBudget} bytes; lower it`,
    );
  }
  const channels = new OffHeapTable({
    valueWords: CH_WORDS,
    bytesBudget: channelBudget,
    hash,
    guard: removals,
  });
  const reader = createReader(readStates, channels, new Int32Array(sequence));
  /** A channel's stripe: the low bits of its hash in the channel table, which readers compute anyway. */
  function stripeOf(cHi: number, cLo: number): number {
    return channels.hashOf(cHi, cLo, 0, 0) & STRIPE_MASK;
  }

  // Scratch words, reused by every call.
  const keys = new Uint32Array(4);
  const readState = new Uint32Array(RS_WORDS);
  const channel = new Uint32Array(CH_WORDS);

  /** Runs `write` with the stripe odd: readers of its channels retry. */
  function writing(stripe: number, write: () => void): void {
    lock.begin(stripe);
    try {
      write();
    } finally {
      lock.end(stripe);
    }
  }

  // Applies recorded changes as puts do, from words: the channel's keys stay for its members' entries, and its
  // stripe is odd from its entry (always the first of a channel's) to the last of its members'.
  let changedHi = 0;
  let changedLo = 0;
  let changedStripe = -1;
  const applier: HotChangeVisitor = {
    channel(cHi, cLo, epoch, liveCount, hasHead, hi, lo, everyoneCount) {
      changedHi = cHi;
      changedLo = cLo;
      changedStripe = stripeOf(cHi, cLo);
      lock.begin(changedStripe);
      channel.fill(0);
      channel[CH_EPOCH] = epoch;
      if (hasHead) {
        channel[CH_LIVE_COUNT] = liveCount;
        channel[CH_HEAD_HI] = hi;
        channel[CH_HEAD_LO] = lo;
        channel[CH_FLAGS] = HAS_HEAD;
      }
      channel[CH_EVERYONE] = everyoneCount;
      channels.replace(cHi, cLo, 0, 0, channel);
    },
    readState(
      uHi,
      uLo,
      hasPointer,
      pointerHi,
      pointerLo,
      ownAbove,
      mentionsAbove,
      hasSnapshot,
      epoch,
      liveCount,
      liveAbove,
      hasFirstUnread,
      firstHi,
      firstLo,
    ) {
      readState.fill(0);
      let flags = 0;
      readState[RS_EPOCH] = epoch;
      if (hasFirstUnread) {
        readState[RS_FIRST_HI] = firstHi;
        readState[RS_FIRST_LO] = firstLo;
        flags |= HAS_FIRST_UNREAD;
      }
      if (hasPointer) {
        readState[RS_POINTER_HI] = pointerHi;
        readState[RS_POINTER_LO] = pointerLo;
        flags |= HAS_POINTER;
      }
      if (hasSnapshot && liveAbove <= liveCount) {
        readState[RS_SNAPSHOT_BELOW] = liveCount - liveAbove;
        flags |= HAS_SNAPSHOT;
      }
      readState[RS_FLAGS] = flags;
      readState[RS_OWN_ABOVE] = ownAbove;
      readState[RS_MENTIONS_ABOVE] = mentionsAbove;
      readStates.replace(uHi, uLo, changedHi, changedLo, readState);
    },
    forget(uHi, uLo) {
      readStates.delete(uHi, uLo, changedHi, changedLo);
    },
    ownCount(uHi, uLo, ownCount) {
      if (readStates.peek(uHi, uLo, changedHi, changedLo, readState) < 0) return;
      if (((readState[RS_FLAGS] ?? 0) & NO_READ_STATE) === 0) return;
      readState[RS_OWN_ABOVE] = ownCount;
      readStates.replace(uHi, uLo, changedHi, changedLo, readState);
    },
  };

  return {
    shared: {
      readStates: readStates.buffer,
      channels: channels.buffer,
      sequence,
    },
    update(channelId, write) {
      parseSnowflakeInto(channelId, keys, 2);
      writing(stripeOf(keys[2] ?? 0, keys[3] ?? 0), write);
    },
    readView: (userId, channelId) => reader.readView(userId, channelId),
    readViews: (userId, channelIds) => reader.readViews(userId, channelIds),
    stats: () => reader.stats(),

    applyChanges(changes) {
      for (let index = 0; index < changes.channelCount; index++) {
        changedStripe = -1;
        try {
          changes.replayChannel(index, applier);
        } finally {
          if (changedStripe >= 0) lock.end(changedStripe);
        }
      }
    },

    held: {
      channel: (cHi, cLo) => channels.has(cHi, cLo, 0, 0),
      readState: (uHi, uLo, cHi, cLo) => readStates.has(uHi, uLo, cHi, cLo),
    },

    putReadState(userId, channelId, record, firstUnread) {
      parseSnowflakeInto(userId, keys, 0);
      parseSnowflakeInto(channelId, keys, 2);
      const uHi = keys[0] ?? 0;
      const uLo = keys[1] ?? 0;
      const cHi = keys[2] ?? 0;
      const cLo = keys[3] ?? 0;
      const stripe = stripeOf(cHi, cLo);
      if (!isWord(record.own_above) || !isInt32(record.mentions_above)) {
        writing(stripe, () => readStates.delete(uHi, uLo, cHi, cLo));
        return;
      }
      readState.fill(0);
      let flags = 0;
      if (record.last_acked_message_id !== null) {
        parseSnowflakeInto(record.last_acked_message_id, readState, RS_POINTER_HI);
        flags |= HAS_POINTER;
      }
      const snapshot = record.live_above;
      if (
        snapshot !== null &&
        isWord(snapshot.epoch) &&
        isWord(snapshot.live_count) &&
        isWord(snapshot.count) &&
        snapshot.count <= snapshot.live_count
      ) {
        readState[RS_EPOCH] = snapshot.epoch;
        readState[RS_SNAPSHOT_BELOW] = snapshot.live_count - snapshot.count;
        flags |= HAS_SNAPSHOT;
      }
      // One epoch word serves both: a first unread of another epoch than the snapshot's is left out.
      if ((flags & HAS_SNAPSHOT) === 0 || firstUnread?.epoch === snapshot?.epoch) {
        flags |= firstUnreadInto(readState, firstUnread);
      }
      readState[RS_FLAGS] = flags;
      readState[RS_OWN_ABOVE] = record.own_above;
      readState[RS_MENTIONS_ABOVE] = record.mentions_above;
      writing(stripe, () => {
        readStates.set(uHi, uLo, cHi, cLo, readState);
      });
    },

    putNoReadState(userId, channelId, ownCount, firstUnread) {
      parseSnowflakeInto(userId, keys, 0);
      parseSnowflakeInto(channelId, keys, 2);
      const uHi = keys[0] ?? 0;
      const uLo = keys[1] ?? 0;
      const cHi = keys[2] ?? 0;
      const cLo = keys[3] ?? 0;
      writing(stripeOf(cHi, cLo), () => {
        if (!isWord(ownCount)) {
          readStates.delete(uHi, uLo, cHi, cLo);
          return;
        }
        readState.fill(0);
        readState[RS_FLAGS] = NO_READ_STATE | firstUnreadInto(readState, firstUnread);
        readState[RS_OWN_ABOVE] = ownCount;
        readStates.set(uHi, uLo, cHi, cLo, readState);
      });
    },

    updateNoReadState(userId, channelId, ownCount) {
      parseSnowflakeInto(userId, keys, 0);
      parseSnowflakeInto(channelId, keys, 2);
      const uHi = keys[0] ?? 0;
      const uLo = keys[1] ?? 0;
      const cHi = keys[2] ?? 0;
      const cLo = keys[3] ?? 0;
      if (readStates.peek(uHi, uLo, cHi, cLo, readState) < 0) return;
      if (((readState[RS_FLAGS] ?? 0) & NO_READ_STATE) === 0) return;
      writing(stripeOf(cHi, cLo), () => {
        if (!isWord(ownCount)) {
          readStates.delete(uHi, uLo, cHi, cLo);
          return;
        }
        readState[RS_OWN_ABOVE] = ownCount;
        readStates.set(uHi, uLo, cHi, cLo, readState);
      });
    },

    deleteReadState(userId, channelId) {
      parseSnowflakeInto(userId, keys, 0);
      parseSnowflakeInto(channelId, keys, 2);
      const cHi = keys[2] ?? 0;
      const cLo = keys[3] ?? 0;
      writing(stripeOf(cHi, cLo), () => readStates.delete(keys[0] ?? 0, keys[1] ?? 0, cHi, cLo));
    },

    putChannel(channelId, record, everyoneCount = 0) {
      parseSnowflakeInto(channelId, keys, 2);
      const cHi = keys[2] ?? 0;
      const cLo = keys[3] ?? 0;
      const live = record.live;
      const stripe = stripeOf(cHi, cLo);
      if (!isWord(record.epoch) || (live !== null && !isWord(live.size)) || !isWord(everyoneCount)) {
        writing(stripe, () => channels.delete(cHi, cLo, 0, 0));
        return;
      }
      channel.fill(0);
      channel[CH_EPOCH] = record.epoch;
      if (live !== null) {
        channel[CH_LIVE_COUNT] = live.size;
        parseSnowflakeInto(live.max, channel, CH_HEAD_HI);
        channel[CH_FLAGS] = HAS_HEAD;
      }
      channel[CH_EVERYONE] = everyoneCount;
      writing(stripe, () => {
        channels.set(cHi, cLo, 0, 0, channel);
      });
    },

    deleteChannel(channelId) {
      parseSnowflakeInto(channelId, keys, 2);
      const cHi = keys[2] ?? 0;
      const cLo = keys[3] ?? 0;
      writing(stripeOf(cHi, cLo), () => channels.delete(cHi, cLo, 0, 0));
    },

    clear() {
      lock.beginAll();
      try {
        readStates.clear();
        channels.clear();
      } finally {
        lock.endAll();
      }
    },
  };
}

/** The reading side of a hot tier written by another thread; `hash` must be the writer's. */
export function attachHotTier(
  shared: SharedHotTier,
  options: { hash?: KeyHash; maxReadWaitMs?: number } = {},
): HotTierReader {
  return createReader(
    OffHeapTable.attach(shared.readStates, options),
    OffHeapTable.attach(shared.channels, options),
    new Int32Array(shared.sequence),
    options.maxReadWaitMs,
  );
}

function createReader(
  readStates: OffHeapTable,
  channels: OffHeapTable,
  sequences: Int32Array,
  maxReadWaitMs = MAX_READ_WAIT_MS,
): HotTierReader {
  // Scratch words, reused by every call: a read allocates only the view it returns and its two id strings. All
  // words here are int32 (the tables' `ints`): small integers in V8, never boxed.
  const keys = new Int32Array(4);
  const readStateWords = readStates.ints;
  const channelWords = channels.ints;
  let answered = 0;
  let declined = 0;
  let sleeps = 0;
  /** Where the home-slot reads go, so that the compiler keeps them (see homeMeta). */
  let _primed = 0;
  // The user of the previous lookup, parsed: a request asks for many channels of one user.
  let lastUser = '';
  let lastUserHi = 0;
  let lastUserLo = 0;

  // A batch's channels, parsed and hashed in the first pass of `readViews`: cHi, cLo and both hashes each.
  let batch = new Int32Array(4 * 64);

  function parseUser(userId: Snowflake): void {
    if (userId === lastUser) return;
    parseSnowflakeInto(userId, keys, 0);
    lastUser = userId;
    lastUserHi = keys[0] ?? 0;
    lastUserLo = keys[1] ?? 0;
  }

  function lookup(userId: Snowflake, channelId: Snowflake): ReadStateView | undefined {
    parseUser(userId);
    parseSnowflakeInto(channelId, keys, 2);
    const cHi = keys[2] ?? 0;
    const cLo = keys[3] ?? 0;
    return lookupHashed(
      userId,
      channelId,
      cHi,
      cLo,
      readStates.hashOf(lastUserHi, lastUserLo, cHi, cLo),
      channels.hashOf(cHi, cLo, 0, 0),
    );
  }

  /** The lookup of (user last parsed, channel) with its words and hashes known. */
  function lookupHashed(
    userId: Snowflake,
    channelId: Snowflake,
    cHi: number,
    cLo: number,
    readStateHash: number,
    channelHash: number,
  ): ReadStateView | undefined {
    const uHi = lastUserHi;
    const uLo = lastUserLo;
    // Both entries' words, copied under the seqlock.
    let rs: number;
    let ch: number;
    let flags = 0;
    let pointerHi = 0;
    let pointerLo = 0;
    let ownAbove = 0;
    let mentionsAbove = 0;
    let slotEpoch = 0;
    let snapshotBelow = 0;
    let firstHi = 0;
    let firstLo = 0;
    let epoch = 0;
    let liveCount = 0;
    let headHi = 0;
    let headLo = 0;
    let channelFlags = 0;
    let everyoneCount = 0;
    let deadline = 0;
    const stripe = channelHash & STRIPE_MASK;
    for (let attempt = 1; ; attempt++) {
      const before = Atomics.load(sequences, stripe);
      const movesBefore = Atomics.load(sequences, MOVES);
      if (((before | movesBefore) & 1) !== 0) {
        if (attempt < SPINS_BEFORE_SLEEPING) continue;
        const now = performance.now();
        if (deadline === 0) deadline = now + maxReadWaitMs;
        else if (now >= deadline) return undefined;
        sleeps++;
        if ((before & 1) !== 0) sleepWhileWriting(sequences, stripe, before, deadline - now);
        else sleepWhileWriting(sequences, MOVES, movesBefore, deadline - now);
        continue;
      }
      if (attempt % ATTEMPTS_BETWEEN_CLOCK_READS === 0) {
        // Torn reads over and over (the writer keeps writing): give up in time as well.
        const now = performance.now();
        if (deadline === 0) deadline = now + maxReadWaitMs;
        else if (now >= deadline) return undefined;
      }
      // Both home slots first, so that the two cache misses overlap.
      _primed = readStates.homeMeta(readStateHash) ^ channels.homeMeta(channelHash);
      rs = readStates.valueIndexOf(readStateHash, uHi, uLo, cHi, cLo);
      ch = rs < 0 ? -1 : channels.valueIndexOf(channelHash, cHi, cLo, 0, 0);
      if (ch >= 0) {
        pointerHi = readStateWords[rs + RS_POINTER_HI] ?? 0;
        pointerLo = readStateWords[rs + RS_POINTER_LO] ?? 0;
        flags = readStateWords[rs + RS_FLAGS] ?? 0;
        ownAbove = readStateWords[rs + RS_OWN_ABOVE] ?? 0;
        mentionsAbove = readStateWords[rs + RS_MENTIONS_ABOVE] ?? 0;
        slotEpoch = readStateWords[rs + RS_EPOCH] ?? 0;
        snapshotBelow = readStateWords[rs + RS_SNAPSHOT_BELOW] ?? 0;
        firstHi = readStateWords[rs + RS_FIRST_HI] ?? 0;
        firstLo = readStateWords[rs + RS_FIRST_LO] ?? 0;
        epoch = channelWords[ch + CH_EPOCH] ?? 0;
        liveCount = channelWords[ch + CH_LIVE_COUNT] ?? 0;
        headHi = channelWords[ch + CH_HEAD_HI] ?? 0;
        headLo = channelWords[ch + CH_HEAD_LO] ?? 0;
        channelFlags = channelWords[ch + CH_FLAGS] ?? 0;
        everyoneCount = channelWords[ch + CH_EVERYONE] ?? 0;
      }
      if (Atomics.load(sequences, stripe) === before && Atomics.load(sequences, MOVES) === movesBefore) break;
    }
    if (ch < 0) return undefined;
    readStates.touchAt(rs);
    channels.touchAt(ch);
    const hasHead = (channelFlags & HAS_HEAD) !== 0;
    // The cases of liveAbove, in its order; its rank query is the one case left to RocksDB. A negative entry has
    // no pointer, so it takes the second. Counts were stored as uint32 words: `>>> 0` reads them back so.
    let above: number;
    if (!hasHead) above = 0;
    else if ((flags & HAS_POINTER) === 0) above = liveCount >>> 0;
    else if (compareWords(pointerHi >>> 0, pointerLo >>> 0, headHi >>> 0, headLo >>> 0) >= 0) above = 0;
    else if ((flags & HAS_SNAPSHOT) !== 0 && slotEpoch === epoch) {
      above = (liveCount >>> 0) - (snapshotBelow >>> 0);
    } else {
      return undefined;
    }
    const unread = above - (ownAbove >>> 0);
    let firstUnread: Snowflake | null = null;
    if (unread > 0) {
      if ((flags & HAS_FIRST_UNREAD) === 0 || slotEpoch !== epoch) return undefined;
      firstUnread = formatSnowflakeWords(firstHi, firstLo);
    }
    return {
      user_id: userId,
      channel_id: channelId,
      has_read_state: (flags & NO_READ_STATE) === 0,
      last_acked_message_id: (flags & HAS_POINTER) === 0 ? null : formatSnowflakeWords(pointerHi, pointerLo),
      last_message_id: hasHead ? formatSnowflakeWords(headHi, headLo) : null,
      unread_count: unread,
      // Nothing above the pointer mentions anyone; a pair without a read state is mentioned by nothing.
      mention_count: above === 0 || (flags & NO_READ_STATE) !== 0 ? 0 : mentionsAbove + (everyoneCount >>> 0),
      first_unread_message_id: firstUnread,
    };
  }

  return {
    readView(userId, channelId) {
      const view = lookup(userId, channelId);
      if (view === undefined) declined++;
      else answered++;
      return view;
    },

    readViews(userId, channelIds) {
      parseUser(userId);
      const count = channelIds.length;
      if (batch.length < 4 * count) batch = new Int32Array(4 * count);
      // Every pair's keys and hashes first, then every pair's two home slots in a loop of loads alone: the pairs
      // are independent, so their cache misses can overlap (a core keeps ten or more in flight) with no parsing
      // or hashing between them. The lookups then find the slots in cache. bench:query's 50-channel answer at 1M
      // read states: 38.9–39.9 µs with parsing and hashing between the loads, 33.9 µs without (one run each).
      for (let i = 0; i < count; i++) {
        parseSnowflakeInto(channelIds[i] ?? '', keys, 2);
        const cHi = keys[2] ?? 0;
        const cLo = keys[3] ?? 0;
        batch[4 * i] = cHi;
        batch[4 * i + 1] = cLo;
        batch[4 * i + 2] = readStates.hashOf(lastUserHi, lastUserLo, cHi, cLo);
        batch[4 * i + 3] = channels.hashOf(cHi, cLo, 0, 0);
      }
      let primed = 0;
      for (let i = 0; i < count; i++) {
        primed ^= readStates.homeMeta(batch[4 * i + 2] ?? 0) ^ channels.homeMeta(batch[4 * i + 3] ?? 0);
      }
      _primed = primed;
      const views: (ReadStateView | undefined)[] = [];
      for (let i = 0; i < count; i++) {
        const view = lookupHashed(
          userId,
          channelIds[i] ?? '',
          batch[4 * i] ?? 0,
          batch[4 * i + 1] ?? 0,
          batch[4 * i + 2] ?? 0,
          batch[4 * i + 3] ?? 0,
        );
        if (view === undefined) declined++;
        else answered++;
        views.push(view);
      }
      return views;
    },

    stats() {
      const reads = answered + declined;
      return {
        bytes: readStates.buffer.byteLength + channels.buffer.byteLength,
        readStates: readStates.stats(),
        channels: channels.stats(),
        answered,
        declined,
        hitRatio: reads === 0 ? 0 : answered / reads,
        sleeps,
      };
    },
  };
}
