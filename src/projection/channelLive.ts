import { compareSnowflakes, type Snowflake } from '../contract/snowflake.ts';
import { deleteKey, insertKey } from './rankIndex.ts';
import type { RankIndexId } from './records.ts';
import { rankNodesOf, type ProjectionStore } from './store.ts';

export function liveIndex(channelId: Snowflake): RankIndexId {
  return { kind: 'live', channel_id: channelId };
}

/** Adds a message to LIVE(c); an id below the head is a late message and bumps the epoch. */
export function addLive(store: ProjectionStore, channelId: Snowflake, messageId: Snowflake): void {
  const channel = store.getChannel(channelId) ?? { epoch: 0, live: null };
  const head = channel.live?.max;
  const append = head === undefined || compareSnowflakes(messageId, head) > 0;
  store.putChannel(channelId, {
    epoch: append ? channel.epoch : channel.epoch + 1,
    live: insertKey(rankNodesOf(store, liveIndex(channelId)), channel.live, messageId),
  });
}

/** Removes a live message from LIVE(c); every deletion bumps the epoch. */
export function removeLive(store: ProjectionStore, channelId: Snowflake, messageId: Snowflake): void {
  const channel = store.getChannel(channelId);
  const live = channel?.live ?? null;
  if (channel === undefined || live === null) {
    throw new Error(`channel ${channelId} has no live message ${messageId} to remove`);
  }
  store.putChannel(channelId, {
    epoch: channel.epoch + 1,
    live: deleteKey(rankNodesOf(store, liveIndex(channelId)), live, messageId),
  });
}
