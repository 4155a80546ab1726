import type { ChannelState } from './channelState.ts';

/**
 * The first unread message of a member (or of a user who is none, `member` -1) above a pointer: the smallest live
 * message above it not written by the member. The pointer is given by what every caller has counted already:
 * `liveAbove`, the live messages above it (all of them for a null pointer), and `ownAbove`, the member's own
 * among them. Writes its hi, lo to out[0], out[1] (out[2] is scratch); false when every live message above the
 * pointer is the member's.
 *
 * O(log² n) at worst. The live messages above the pointer, in order, are L1, L2, …; the member's own live
 * messages there are a subset. If the first k of the L are all the member's, so are the first j < k, so the
 * greatest such k is found by binary search (counting own messages up to L_k by rank), and the answer is L_k+1.
 * Usually L1 is someone else's: one select.
 */
export function firstUnread(
  channel: ChannelState,
  member: number,
  liveAbove: number,
  ownAbove: number,
  out: Uint32Array,
): boolean {
  const { messages, own } = channel;
  const below = messages.liveCount - liveAbove;
  if (liveAbove <= ownAbove) return false;
  messages.liveKeyAt(below, out);
  if (out[2] !== member) return true;
  // L1 is the member's: the greatest k ≤ ownAbove whose first k are all the member's (k = 1 holds).
  let low = 1;
  let high = ownAbove;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    messages.liveKeyAt(below + mid - 1, out);
    const ownUpToIt = ownAbove - own.liveAboveIn(member, out[0] as number, out[1] as number);
    if (ownUpToIt === mid) low = mid;
    else high = mid - 1;
  }
  messages.liveKeyAt(below + low, out);
  return true;
}
