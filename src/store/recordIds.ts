import type { Snowflake } from '../contract/snowflake.ts';
import type { MemberIndexId, RankIndexId } from '../projection/records.ts';
import { channelKey, indexHeaderKey, indexNodeKey, KeyKind, messageKey, readStateKey } from './keys.ts';

/**
 * In-memory names of records within one partition: strings made of the decimal ids, so that finding a record in
 * the resident state or in a batch builds no RocksDB key (a key takes a BigInt per id). Snowflakes have no leading
 * zeros, so one id names one record. The RocksDB key is built from the name only when a record is written or
 * read from disk.
 *
 *   c:channel            m:channel:message     r:channel:user
 *   ho:channel:user      hm:channel:user       (OWN / MENTIONS index headers)
 *   nl:channel:0:node    no:channel:user:node  nm:channel:user:node   (rank-index nodes)
 */
const indexLetter = { live: 'l', own: 'o', mentions: 'm' } as const;
const indexKindOfLetter = { l: 'live', o: 'own', m: 'mentions' } as const;

export const channelRecordId = (channelId: Snowflake): string => `c:${channelId}`;
export const messageRecordId = (channelId: Snowflake, messageId: Snowflake): string =>
  `m:${channelId}:${messageId}`;
export const readStateRecordId = (userId: Snowflake, channelId: Snowflake): string =>
  `r:${channelId}:${userId}`;
export const indexHeaderRecordId = (index: MemberIndexId): string =>
  `h${indexLetter[index.kind]}:${index.channel_id}:${index.user_id}`;
export const indexNodeRecordId = (index: RankIndexId, node: number): string =>
  `n${indexLetter[index.kind]}:${index.channel_id}:${index.kind === 'live' ? '0' : index.user_id}:${node}`;

function indexOf(letter: string, channelId: string, userId: string): RankIndexId {
  if (!Object.hasOwn(indexKindOfLetter, letter)) throw new Error(`not an index kind: ${letter}`);
  const kind = indexKindOfLetter[letter as keyof typeof indexKindOfLetter];
  return kind === 'live' ? { kind, channel_id: channelId } : { kind, channel_id: channelId, user_id: userId };
}

/** The RocksDB key of a record named by one of the ids above. */
export function keyOfRecordId(partition: number, id: string): Buffer {
  const [head = '', channel = '', second = '', node = ''] = id.split(':');
  switch (head) {
    case 'c':
      return channelKey(partition, channel);
    case 'm':
      return messageKey(partition, channel, second);
    case 'r':
      return readStateKey(partition, second, channel);
    case 'ho':
    case 'hm':
      return indexHeaderKey(partition, indexOf(head.slice(1), channel, second) as MemberIndexId);
    default:
      return indexNodeKey(partition, indexOf(head.slice(1), channel, second), Number(node));
  }
}

const id64 = (key: Buffer, at: number): string => key.readBigUInt64BE(at).toString();

/** The id of the record a RocksDB key holds, and its channel (the inverse of keyOfRecordId). */
export function recordIdOfKey(key: Buffer): { id: string; channel: string } {
  const kind = key.readUInt8(2);
  switch (kind) {
    case KeyKind.channel: {
      const channel = id64(key, 3);
      return { id: channelRecordId(channel), channel };
    }
    case KeyKind.message: {
      const channel = id64(key, 3);
      return { id: messageRecordId(channel, id64(key, 11)), channel };
    }
    case KeyKind.readState: {
      const channel = id64(key, 11);
      return { id: readStateRecordId(id64(key, 3), channel), channel };
    }
    case KeyKind.indexHeader:
    case KeyKind.indexNode: {
      const letter = 'lom'[key.readUInt8(3)] ?? '?';
      const channel = id64(key, 4);
      const user = id64(key, 12);
      return kind === KeyKind.indexHeader
        ? { id: `h${letter}:${channel}:${user}`, channel }
        : { id: `n${letter}:${channel}:${user}:${key.readUInt32BE(20)}`, channel };
    }
    default:
      throw new Error(`not a record key: ${key.toString('hex')}`);
  }
}
