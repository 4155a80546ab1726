import type { TopicKind } from '../contract/events.ts';
import { offsetKey } from './keys.ts';
import type { RocksDatabase, WriteOperation } from './rocksDatabase.ts';

/**
 * The one home of the offsets stored with the state: per partition and topic, the next offset to apply, written in
 * the same atomic batch as the records it reflects (so after any crash it is exactly where the state stands).
 * The projector writes them; the projector, the engine (rebuild switch-over) and `readstates status` read them.
 */

/** The next offset to apply, or undefined when nothing of this partition and topic was ever applied. */
export async function readStoredOffset(
  db: Pick<RocksDatabase, 'get'>,
  partition: number,
  topic: TopicKind,
): Promise<bigint | undefined> {
  const bytes = await db.get(offsetKey(partition, topic));
  return bytes === undefined ? undefined : decodeOffset(bytes);
}

/** The write that stores `next` as the next offset to apply: part of the batch that applies up to it. */
export function storedOffsetWrite(partition: number, topic: TopicKind, next: bigint): WriteOperation {
  return { type: 'put', key: offsetKey(partition, topic), value: encodeOffset(next) };
}

function encodeOffset(offset: bigint): Buffer {
  const bytes = Buffer.allocUnsafe(8);
  bytes.writeBigInt64BE(offset, 0);
  return bytes;
}

function decodeOffset(bytes: Buffer): bigint {
  return bytes.readBigInt64BE(0);
}
