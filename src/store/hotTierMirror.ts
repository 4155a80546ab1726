import type { Snowflake } from '../contract/snowflake.ts';
import type { ChannelRecord, ReadStateRecord } from '../projection/records.ts';
import type { HeldEntries, HotChanges } from './hotChanges.ts';
import type { FirstUnreadAt, HotTier } from './hotTier.ts';

/** What a read of RocksDB found for one (user, channel): enough for the hot tier to answer it next time. */
export type PairRecords = {
  /** Undefined when the channel has no record (nothing was ever sent there). */
  readonly channel: ChannelRecord | undefined;
  /** The pair's first unread message; without it, the tier answers the pair only while nothing is unread. */
  readonly firstUnread?: FirstUnreadAt;
  /** The channel's live @everyone messages (0 when left out); `readState.mentions_above` is then less them. */
  readonly everyoneCount?: number;
  /** False: the pair's answer depends on a membership a slot does not hold; nothing is filled. */
  readonly cacheable?: boolean;
} & (
  | { readonly readState: ReadStateRecord }
  /** No read state: `ownCount` is how many of the channel's live messages the user wrote (OWN(c, u)'s size). */
  | { readonly readState: undefined; readonly ownCount: number }
);

/**
 * Keeps the hot tier in step with RocksDB, on the thread that writes both. The projector tells it before and
 * after each partition write; a read through RocksDB may fill the tier with what it read, but only if no write
 * to that partition began meanwhile (a fill must never put back a record older than one already put).
 *
 * While a write is under way, RocksDB may hold its records before the tier does: a read of RocksDB then could
 * serve a value that the next read, answered by the tier, goes back on. So readers of RocksDB wait for the write
 * under way (`writing`) and check that none began while they read (queryReadStates).
 */
export interface HotTierMirror {
  /** Called synchronously just before RocksDB is written for `partition`. */
  beforeWrite(partition: number): void;
  /** Called synchronously right after that write, with what it changed (recorded as the chunk was applied). */
  afterWrite(partition: number, changes: HotChanges): void;
  /**
   * Called instead of `afterWrite` when the write failed. Whether any of it landed is unknown, so the tier forgets
   * everything (it must not stay older than RocksDB), and reads waiting for the write go on.
   */
  writeFailed(partition: number): void;
  /** The write to `partition` under way, settled once it is mirrored (or failed); undefined when none is. */
  writing(partition: number): Promise<void> | undefined;
  /** The partition's write version: take it before reading RocksDB, hand it to `fill` after. */
  version(partition: number): number;
  /** Puts what a read found, unless `partition` was written since `version` was taken. */
  fill(partition: number, version: number, userId: Snowflake, channelId: Snowflake, found: PairRecords): void;
  /** This instance lost partitions (a rebalance): their records will change elsewhere, so forget everything. */
  forgetAll(): void;
  /** The entries the tier holds: only those are updated, so only their changes need recording. */
  readonly held: HeldEntries;
}

/** readStateOf reads a channel without a record as one without live messages, and so does the hot tier. */
const NO_CHANNEL: ChannelRecord = { epoch: 0, live: null };

export function createHotTierMirror(hot: HotTier): HotTierMirror {
  const versions = new Map<number, number>();
  const underWay = new Map<number, PromiseWithResolvers<void>>();
  // Bumped by forgetAll, so that a read that began before it fills nothing after it.
  let generation = 0;
  const bump = (partition: number) => versions.set(partition, (versions.get(partition) ?? 0) + 1);
  const settle = (partition: number) => {
    underWay.get(partition)?.resolve();
    underWay.delete(partition);
  };
  const forgetAll = () => {
    generation++;
    hot.clear();
  };

  return {
    beforeWrite(partition) {
      bump(partition);
      // A write that failed unreported is still under way: the next one to finish settles both.
      if (!underWay.has(partition)) underWay.set(partition, Promise.withResolvers());
    },
    afterWrite(partition, changes) {
      // One update per channel: a reader sees a channel's record and its members' read states change together.
      hot.applyChanges(changes);
      // Again: a read that overlapped the write may have seen either side of it.
      bump(partition);
      settle(partition);
    },
    writeFailed(partition) {
      forgetAll();
      bump(partition);
      settle(partition);
    },
    writing: (partition) => underWay.get(partition)?.promise,
    version: (partition) => (versions.get(partition) ?? 0) + generation * 2 ** 32,
    fill(partition, version, userId, channelId, found) {
      if ((versions.get(partition) ?? 0) + generation * 2 ** 32 !== version) return;
      if (found.cacheable === false) return;
      hot.update(channelId, () => {
        hot.putChannel(channelId, found.channel ?? NO_CHANNEL, found.everyoneCount);
        if (found.readState === undefined) {
          hot.putNoReadState(userId, channelId, found.ownCount, found.firstUnread);
        } else {
          hot.putReadState(userId, channelId, found.readState, found.firstUnread);
        }
      });
    },
    forgetAll,
    held: hot.held,
  };
}
