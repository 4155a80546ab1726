import type { Snowflake } from '../contract/snowflake.ts';
import { countAbove, deleteKey, insertKey } from './rankIndex.ts';
import type { MemberIndexId } from './records.ts';
import { rankNodesOf, type ProjectionStore } from './store.ts';

/** OWN(c, u): the live messages u authored in c. */
export function ownIndex(channelId: Snowflake, userId: Snowflake): MemberIndexId {
  return { kind: 'own', channel_id: channelId, user_id: userId };
}

/** MENTIONS(c, u): the live messages in c by others that mention u. */
export function mentionsIndex(channelId: Snowflake, userId: Snowflake): MemberIndexId {
  return { kind: 'mentions', channel_id: channelId, user_id: userId };
}

export function addMember(store: ProjectionStore, index: MemberIndexId, messageId: Snowflake): void {
  const header = store.getIndexHeader(index) ?? null;
  store.putIndexHeader(index, insertKey(rankNodesOf(store, index), header, messageId));
}

export function removeMember(store: ProjectionStore, index: MemberIndexId, messageId: Snowflake): void {
  const header = store.getIndexHeader(index);
  if (header === undefined) throw new Error(`${index.kind} index of ${index.user_id} is empty`);
  const next = deleteKey(rankNodesOf(store, index), header, messageId);
  if (next === null) store.deleteIndexHeader(index);
  else store.putIndexHeader(index, next);
}

/** Members above the pointer; all of them when it is null. O(1) when the pointer is at or above the newest. */
export function membersAbove(
  store: ProjectionStore,
  index: MemberIndexId,
  pointer: Snowflake | null,
): number {
  const header = store.getIndexHeader(index) ?? null;
  if (pointer === null) return header?.size ?? 0;
  return countAbove(rankNodesOf(store, index), header, pointer);
}
