import type { Snowflake } from '../contract/snowflake.ts';
import type { ChannelRecord, ReadStateRecord } from '../projection/records.ts';
import type { HotWrite } from './batchStore.ts';
import type { HotTier } from './hotTier.ts';

/** What a read of RocksDB found for one (user, channel): enough for the hot tier to answer it next time. */
export type PairRecords = {
  /** Undefined when the channel has no record (nothing was ever sent there). */
  readonly channel: ChannelRecord | undefined;
} & (
  | { readonly readState: ReadStateRecord }
  /** No read state: `ownCount` is how many of the channel's live messages the user wrote (OWN(c, u)'s size). */
  | { readonly readState: undefined; readonly ownCount: number }
);

/**
 * Keeps the hot tier in step with RocksDB, on the thread that writes both. The projector tells it before and
 * after each partition write; a read through RocksDB may fill the tier with what it read, but only if no write
 * to that partition began meanwhile (a fill must never put back a record older than one already put).
 */
export interface HotTierMirror {
  /** Called synchronously just before RocksDB is written for `partition`. */
  beforeWrite(partition: number): void;
  /** Called synchronously right after that write, with the batch's read-state and channel records. */
  afterWrite(partition: number, writes: readonly (readonly HotWrite[])[]): void;
  /** The partition's write version: take it before reading RocksDB, hand it to `fill` after. */
  version(partition: number): number;
  /** Puts what a read found, unless `partition` was written since `version` was taken. */
  fill(partition: number, version: number, userId: Snowflake, channelId: Snowflake, found: PairRecords): void;
  /** This instance lost partitions (a rebalance): their records will change elsewhere, so forget everything. */
  forgetAll(): void;
}

/** readStateOf reads a channel without a record as one without live messages, and so does the hot tier. */
const NO_CHANNEL: ChannelRecord = { epoch: 0, live: null };

export function createHotTierMirror(hot: HotTier): HotTierMirror {
  const versions = new Map<number, number>();
  // Bumped by forgetAll, so that a read that began before it fills nothing after it.
  let generation = 0;
  const bump = (partition: number) => versions.set(partition, (versions.get(partition) ?? 0) + 1);

  return {
    beforeWrite: bump,
    afterWrite(partition, writes) {
      // One update per channel: a reader sees a channel's record and its members' read states change together.
      for (const group of writes) {
        hot.update(() => {
          for (const write of group) {
            switch (write.kind) {
              case 'channel':
                hot.putChannel(write.channelId, write.record);
                break;
              case 'readState':
                hot.putReadState(write.userId, write.channelId, write.record);
                break;
              case 'ownCount':
                hot.updateNoReadState(write.userId, write.channelId, write.count);
            }
          }
        });
      }
      // Again: a read that overlapped the write (were the write asynchronous) may have seen either side of it.
      bump(partition);
    },
    version: (partition) => (versions.get(partition) ?? 0) + generation * 2 ** 32,
    fill(partition, version, userId, channelId, found) {
      if ((versions.get(partition) ?? 0) + generation * 2 ** 32 !== version) return;
      hot.update(() => {
        hot.putChannel(channelId, found.channel ?? NO_CHANNEL);
        if (found.readState === undefined) hot.putNoReadState(userId, channelId, found.ownCount);
        else hot.putReadState(userId, channelId, found.readState);
      });
    },
    forgetAll() {
      generation++;
      hot.clear();
    },
  };
}
