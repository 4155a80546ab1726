import type { Snowflake } from '../contract/snowflake.ts';
import type { ChannelRecord, ReadStateRecord } from '../projection/records.ts';
import type { HotWrite } from './batchStore.ts';
import type { HotTier } from './hotTier.ts';

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
  fill(
    partition: number,
    version: number,
    userId: Snowflake,
    channelId: Snowflake,
    readState: ReadStateRecord,
    channel: ChannelRecord,
  ): void;
  /** This instance lost partitions (a rebalance): their records will change elsewhere, so forget everything. */
  forgetAll(): void;
}

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
            if (write.kind === 'channel') hot.putChannel(write.channelId, write.record);
            else hot.putReadState(write.userId, write.channelId, write.record);
          }
        });
      }
      // Again: a read that overlapped the write (were the write asynchronous) may have seen either side of it.
      bump(partition);
    },
    version: (partition) => (versions.get(partition) ?? 0) + generation * 2 ** 32,
    fill(partition, version, userId, channelId, readState, channel) {
      if ((versions.get(partition) ?? 0) + generation * 2 ** 32 !== version) return;
      hot.update(() => {
        hot.putChannel(channelId, channel);
        hot.putReadState(userId, channelId, readState);
      });
    },
    forgetAll() {
      generation++;
      hot.clear();
    },
  };
}
