import type { Snowflake } from '../contract/snowflake.ts';
import { liveIndex } from './channelLive.ts';
import { ownIndex } from './memberIndexes.ts';
import { countAbove, keyAt } from './rankIndex.ts';
import type { ChannelRecord } from './records.ts';
import { rankNodesOf, type ProjectionStore } from './store.ts';

/**
 * The smallest live message above the pointer not written by the user, given how many live messages lie above
 * it (`liveAbove`) and how many of those are the user's (`ownAbove`); null when they are all the user's.
 * O(log² n) rank queries: the same search as compact/firstUnread.ts, over LIVE(c) and OWN(c, u).
 */
export function firstUnreadOf(
  store: ProjectionStore,
  channelId: Snowflake,
  channel: ChannelRecord | undefined,
  userId: Snowflake,
  liveAbove: number,
  ownAbove: number,
): Snowflake | null {
  const live = channel?.live ?? null;
  if (live === null || liveAbove <= ownAbove) return null;
  const liveNodes = rankNodesOf(store, liveIndex(channelId));
  const below = live.size - liveAbove;
  /** The k-th live message above the pointer, from 1. */
  const nth = (k: number): Snowflake | undefined => keyAt(liveNodes, live, below + k - 1);
  const index = ownIndex(channelId, userId);
  const own = store.getIndexHeader(index) ?? null;
  const ownNodes = rankNodesOf(store, index);
  // The greatest k whose first k live messages above the pointer are all the user's; the answer is the next.
  let low = 0;
  let high = ownAbove;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    const key = nth(mid);
    if (key === undefined) throw new Error(`LIVE(${channelId}) holds fewer keys than its header counts`);
    if (ownAbove - countAbove(ownNodes, own, key) === mid) low = mid;
    else high = mid - 1;
  }
  return nth(low + 1) ?? null;
}
