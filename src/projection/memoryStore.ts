import { compareSnowflakes, type Snowflake } from '../contract/snowflake.ts';
import type { RankIndexHeader, RankNode } from './rankIndex.ts';
import type { ChannelRecord, MemberIndexId, MessageRecord, RankIndexId, ReadStateRecord } from './records.ts';
import type { ProjectionStore } from './store.ts';

export const DEFAULT_FANOUT = 32;

export type MemoryStore = ProjectionStore & {
  /** Channels where the user has a read state, ascending: the prefix scan of the (user, channel) key. */
  channelsWithReadState(userId: Snowflake): Snowflake[];
  /** Records held, by kind: lets tests see that emptied indexes leave nothing behind. */
  recordCounts(): { channels: number; messages: number; readStates: number; headers: number; nodes: number };
};

/**
 * The projection store in plain Maps, for tests and tools. Records are frozen on the way in, so a projection
 * that mutated a record it read would fail loudly instead of corrupting the (serialising) real store silently.
 * `freeze: false` skips that check (about a quarter of a fold's time): for benchmarks, never for tests.
 */
export function createMemoryStore(options: { fanout?: number; freeze?: boolean } = {}): MemoryStore {
  const fanout = options.fanout ?? DEFAULT_FANOUT;
  const deepFreeze = options.freeze === false ? <T>(value: T): T => value : deepFreezeValue;
  if (!Number.isInteger(fanout) || fanout < 4) {
    throw new Error(
      `fanout must be an integer of at least 4 (got ${fanout}); ${DEFAULT_FANOUT} is the default`,
    );
  }
  const channels = new Map<Snowflake, ChannelRecord>();
  const messages = new Map<string, MessageRecord>();
  const readStates = new Map<Snowflake, Map<Snowflake, ReadStateRecord>>();
  const headers = new Map<string, RankIndexHeader>();
  const nodes = new Map<string, RankNode>();

  return {
    fanout,
    getChannel: (channelId) => channels.get(channelId),
    putChannel: (channelId, record) => {
      channels.set(channelId, deepFreeze(record));
    },
    getMessage: (channelId, messageId) => messages.get(`${channelId}/${messageId}`),
    putMessage: (channelId, messageId, record) => {
      messages.set(`${channelId}/${messageId}`, deepFreeze(record));
    },
    getReadState: (userId, channelId) => readStates.get(userId)?.get(channelId),
    putReadState: (userId, channelId, record) => {
      let ofUser = readStates.get(userId);
      if (ofUser === undefined) {
        ofUser = new Map();
        readStates.set(userId, ofUser);
      }
      ofUser.set(channelId, deepFreeze(record));
    },
    getIndexHeader: (index) => headers.get(indexKey(index)),
    putIndexHeader: (index, header) => {
      headers.set(indexKey(index), deepFreeze(header));
    },
    deleteIndexHeader: (index) => {
      headers.delete(indexKey(index));
    },
    getIndexNode: (index, node) => nodes.get(`${indexKey(index)}/${node}`),
    putIndexNode: (index, node, value) => {
      nodes.set(`${indexKey(index)}/${node}`, deepFreeze(value));
    },
    deleteIndexNode: (index, node) => {
      nodes.delete(`${indexKey(index)}/${node}`);
    },
    channelsWithReadState: (userId) => [...(readStates.get(userId)?.keys() ?? [])].sort(compareSnowflakes),
    recordCounts: () => ({
      channels: channels.size,
      messages: messages.size,
      readStates: [...readStates.values()].reduce((sum, ofUser) => sum + ofUser.size, 0),
      headers: headers.size,
      nodes: nodes.size,
    }),
  };
}

function indexKey(index: RankIndexId | MemberIndexId): string {
  return index.kind === 'live'
    ? `live/${index.channel_id}`
    : `${index.kind}/${index.channel_id}/${index.user_id}`;
}

function deepFreezeValue<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreezeValue(inner);
  }
  return value;
}
