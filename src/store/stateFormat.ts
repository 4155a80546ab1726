import { metaKey } from './keys.ts';
import type { RocksDatabase } from './rocksDatabase.ts';

/**
 * Which layout of records a database holds, so that a build never reads state it would misread. Databases of
 * the record layout (one RocksDB record per read state, message and rank-index node; before decision 0003) have
 * no format key; those of the channel-state layout (compactStore.ts) have this one.
 *
 * Version 2 adds edits to channel snapshots and deltas, version 3 @everyone, version 4 the offsets a snapshot
 * includes, ahead of the partition's stored offsets (channelCodec.ts, compactStore.ts). This build reads the
 * earlier versions too and claims such a database as version 4 at once, before it writes anything: an older
 * build then refuses it at start, instead of failing on the first snapshot it cannot read (or replaying events a
 * snapshot already includes).
 */
export const STATE_FORMAT = 'channel-states-4';
/** Formats this build reads and upgrades in place. */
const UPGRADABLE = new Set(['channel-states-1', 'channel-states-2', 'channel-states-3']);
const FORMAT_KEY = metaKey('format');
/** The first two bytes of every metadata key (keys.ts): not any partition's state. */
const META_PARTITION = 0xffff;

/**
 * Makes sure `db` holds state of this build's layout, or none, and says which: a database with no state of any
 * partition is claimed for this layout. Throws, with what to do, for any other layout.
 */
export async function claimStateFormat(db: RocksDatabase): Promise<{ holdsState: boolean }> {
  const [first] = await db.scan(Buffer.alloc(0), { limit: 1 });
  const holdsState = first !== undefined && first.key.readUInt16BE(0) !== META_PARTITION;
  const format = (await db.get(FORMAT_KEY))?.toString('utf8');
  if (format === STATE_FORMAT) return { holdsState };
  if ((format === undefined && !holdsState) || (format !== undefined && UPGRADABLE.has(format))) {
    await db.write([{ type: 'put', key: FORMAT_KEY, value: Buffer.from(STATE_FORMAT) }], { sync: true });
    return { holdsState };
  }
  throw new Error(
    `the state in ${db.path} is of the layout "${format ?? 'records'}", and this build reads only ` +
      `"${STATE_FORMAT}" (docs/decisions/0003): rebuild it from the topics with the service stopped ` +
      '(readstates rebuild --offline), or start with an empty DATA_DIR',
  );
}
