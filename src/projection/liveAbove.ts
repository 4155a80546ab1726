import { compareSnowflakes, type Snowflake } from '../contract/snowflake.ts';
import { liveIndex } from './channelLive.ts';
import { countAbove } from './rankIndex.ts';
import type { ChannelRecord, LiveAboveSnapshot } from './records.ts';
import { rankNodesOf, type ProjectionStore } from './store.ts';

/**
 * L(c, > pointer): the live messages of the channel above the pointer, all of them when it is null. O(1) record
 * reads when the pointer is null or at or above the head, or when the snapshot is still current; otherwise a
 * rank query on LIVE(c), O(log n).
 */
export function liveAbove(
  store: ProjectionStore,
  channelId: Snowflake,
  channel: ChannelRecord | undefined,
  pointer: Snowflake | null,
  snapshot: LiveAboveSnapshot | null,
): number {
  const live = channel?.live ?? null;
  if (live === null) return 0;
  if (pointer === null) return live.size;
  if (compareSnowflakes(pointer, live.max) >= 0) return 0;
  // Same epoch: every change since the snapshot was an append above the head of the time, so above the pointer.
  if (snapshot !== null && snapshot.epoch === channel?.epoch) {
    return snapshot.count + live.size - snapshot.live_count;
  }
  return countAbove(rankNodesOf(store, liveIndex(channelId)), live, pointer);
}

/**
 * The snapshot to keep with a new pointer. Null when the pointer is null or above the head (or there is no
 * head): appends may then land below the pointer, so the count could not be carried forward.
 */
export function snapshotLiveAbove(
  store: ProjectionStore,
  channelId: Snowflake,
  pointer: Snowflake | null,
): LiveAboveSnapshot | null {
  if (pointer === null) return null;
  const channel = store.getChannel(channelId);
  const live = channel?.live ?? null;
  if (channel === undefined || live === null) return null;
  if (compareSnowflakes(pointer, live.max) > 0) return null;
  const count = countAbove(rankNodesOf(store, liveIndex(channelId)), live, pointer);
  return { epoch: channel.epoch, live_count: live.size, count };
}
