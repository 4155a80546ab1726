import type { TopicKind } from '../contract/events.ts';
import type { Snowflake } from '../contract/snowflake.ts';
import { parseSnowflakeInto } from '../contract/snowflakeWords.ts';

/**
 * RocksDB key layout. Every key starts with the Kafka partition (2 bytes), so one partition's state — channel
 * states and the offsets they reflect — is one contiguous range that can be dropped or rebuilt on its own. Ids
 * are 8-byte big-endian, so key order is numeric order: a prefix scan of (partition, read state, user) lists
 * that user's channels in channel-id order.
 *
 *   partition u16 | 0x00 | topic kind u8             → next offset to consume (u64)
 *   partition u16 | 0x03 | user u64 | channel u64    → nothing: (user, channel) has a read state
 *   partition u16 | 0x06 | channel u64 | seq u32     → channel state: 0 its snapshot, then deltas (channelCodec.ts)
 *   0xffff | 0xff | name (ASCII)                   → metadata of the generation (no partition's)
 *
 * 0x01, 0x02, 0x04 and 0x05 held the record layout's channels, messages and rank indexes (stateFormat.ts).
 */
export const KeyKind = {
  offset: 0x00,
  readState: 0x03,
  channelState: 0x06,
  meta: 0xff,
} as const;

const topicKindByte: Record<TopicKind, number> = { messages: 0, acks: 1 };

function prefix(partition: number, kind: number, length: number): Buffer {
  const key = Buffer.allocUnsafe(length);
  key.writeUInt16BE(partition, 0);
  key.writeUInt8(kind, 2);
  return key;
}

const words = new Uint32Array(2);

/** Big-endian uint64 from the decimal id, without a BigInt (keys are built for every record written). */
function writeId(key: Buffer, id: Snowflake, at: number): void {
  parseSnowflakeInto(id, words);
  key.writeUInt32BE(words[0] ?? 0, at);
  key.writeUInt32BE(words[1] ?? 0, at + 4);
}

/** Metadata about the whole generation, outside every partition's range. */
export function metaKey(name: string): Buffer {
  const key = prefix(0xffff, KeyKind.meta, 3 + name.length);
  key.write(name, 3, 'ascii');
  return key;
}

export function offsetKey(partition: number, topic: TopicKind): Buffer {
  const key = prefix(partition, KeyKind.offset, 4);
  key.writeUInt8(topicKindByte[topic], 3);
  return key;
}

export function readStateKey(partition: number, userId: Snowflake, channelId: Snowflake): Buffer {
  parseSnowflakeInto(userId, words);
  return readStateKeyOfWords(partition, words[0] ?? 0, words[1] ?? 0, channelId);
}

/** readStateKey of a user id given as its words (hi, lo): channel states keep their members' ids so. */
export function readStateKeyOfWords(
  partition: number,
  userHi: number,
  userLo: number,
  channelId: Snowflake,
): Buffer {
  const key = prefix(partition, KeyKind.readState, 19);
  key.writeUInt32BE(userHi, 3);
  key.writeUInt32BE(userLo, 7);
  writeId(key, channelId, 11);
  return key;
}

/** The channel of a read-state key, as a number for ordering across partitions. */
export function channelOfReadStateKey(key: Buffer): bigint {
  return key.readBigUInt64BE(11);
}

/** Every read state of `userId` in `partition`, in channel-id order. */
export function readStatePrefix(partition: number, userId: Snowflake): Buffer {
  const key = prefix(partition, KeyKind.readState, 11);
  writeId(key, userId, 3);
  return key;
}

/** Seq 0: the channel's snapshot; 1, 2, …: the deltas written after it, in order (channelCodec.ts). */
export function channelStateKey(partition: number, channelId: Snowflake, seq: number): Buffer {
  const key = prefix(partition, KeyKind.channelState, 15);
  writeId(key, channelId, 3);
  key.writeUInt32BE(seq, 11);
  return key;
}

/** A channel's snapshot and deltas. */
export function channelStatePrefix(partition: number, channelId: Snowflake): Buffer {
  const key = prefix(partition, KeyKind.channelState, 11);
  writeId(key, channelId, 3);
  return key;
}

/** The whole key range of one partition: [start, end). */
export function partitionRange(partition: number): { start: Buffer; end: Buffer } {
  const start = Buffer.alloc(2);
  start.writeUInt16BE(partition, 0);
  const end = Buffer.alloc(2);
  end.writeUInt16BE(partition + 1, 0);
  return { start, end };
}
