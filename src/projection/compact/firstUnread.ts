import type { ChannelState } from './channelState.ts';

/**
 * The first unread message of a member (or of a user who is none, `member` -1) above a pointer: the smallest live
 * message above it not written by the member. The pointer is given by what every caller has counted already:
 * `liveAbove`, the live messages above it (all of them for a null pointer), and `ownAbove`, the member's own
 * among them. Writes its hi, lo to out[0], out[1] (out[2] is scratch); false when every live message above the
 * pointer is the member's.
 *
 * O(log n) at worst: the messages' sole-author tree skips any run of the member's own messages in one descent
 * (CountedIds.liveKeyNotOf), however long.
 */
export function firstUnread(
  channel: ChannelState,
  member: number,
  liveAbove: number,
  ownAbove: number,
  out: Uint32Array,
): boolean {
  if (liveAbove <= ownAbove) return false;
  const { messages } = channel;
  return messages.liveKeyNotOf(messages.liveCount - liveAbove, member, out);
}
