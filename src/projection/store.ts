import type { Snowflake } from '../contract/snowflake.ts';
import type { RankIndexHeader, RankNode, RankNodes } from './rankIndex.ts';
import type { ChannelRecord, MemberIndexId, MessageRecord, RankIndexId, ReadStateRecord } from './records.ts';

/**
 * Where the projection's records live: synchronous, typed by record kind, nothing else. The projection holds no
 * state of its own between calls, so an event is a deterministic function of what it reads here.
 *
 * Contract for implementations:
 * - A read sees every earlier write of the same event (read your writes).
 * - A read may throw to abort the event (say, a record not yet loaded from disk). The caller then discards the
 *   event's writes and runs the event again from the start; it must never keep half of an event.
 * - Records are immutable values: the projection never changes one it read, and never keeps one across calls.
 * - The fanout must stay the same for the life of the stored data.
 */
export interface ProjectionStore {
  /** Rank-index node size; an integer from 4 up. 32 to 64 suit a disk store, 4 exercises splits in tests. */
  readonly fanout: number;

  getChannel(channelId: Snowflake): ChannelRecord | undefined;
  putChannel(channelId: Snowflake, record: ChannelRecord): void;

  getMessage(channelId: Snowflake, messageId: Snowflake): MessageRecord | undefined;
  putMessage(channelId: Snowflake, messageId: Snowflake, record: MessageRecord): void;

  getReadState(userId: Snowflake, channelId: Snowflake): ReadStateRecord | undefined;
  putReadState(userId: Snowflake, channelId: Snowflake, record: ReadStateRecord): void;

  /** Header of OWN(c, u) or MENTIONS(c, u); absent when the index is empty. */
  getIndexHeader(index: MemberIndexId): RankIndexHeader | undefined;
  putIndexHeader(index: MemberIndexId, header: RankIndexHeader): void;
  deleteIndexHeader(index: MemberIndexId): void;

  getIndexNode(index: RankIndexId, node: number): RankNode | undefined;
  putIndexNode(index: RankIndexId, node: number, value: RankNode): void;
  deleteIndexNode(index: RankIndexId, node: number): void;
}

/** The node records of one index, as the rank index wants them. */
export function rankNodesOf(store: ProjectionStore, index: RankIndexId): RankNodes {
  return {
    fanout: store.fanout,
    get: (node) => store.getIndexNode(index, node),
    put: (node, value) => {
      store.putIndexNode(index, node, value);
    },
    delete: (node) => {
      store.deleteIndexNode(index, node);
    },
  };
}
