import { metaKey } from './keys.ts';
import type { RocksDatabase, WriteOperation } from './rocksDatabase.ts';

/** The one record every fsync writes: its value is irrelevant, its synced write is the point. */
const SYNC_MARK: WriteOperation = { type: 'put', key: metaKey('synced'), value: Buffer.alloc(0) };

export interface GroupCommit {
  /** Resolves once `operations` (one atomic batch) are durable: with `sync`, after an fsync that covers them. */
  write(operations: readonly WriteOperation[]): Promise<void>;
}

/**
 * Group commit. The binding writes on the calling thread, fsync included, so an fsynced write per batch stalled
 * the engine once for every partition's batch (most of its time under a steady trickle of events). Here each
 * batch is written at once without fsync, atomic as before, and the writes of the same turn of the event loop
 * share one small fsynced write after them: RocksDB syncs every write-ahead log written before a synced write,
 * so that one fsync makes them all durable. A caller still learns "durable" only after its fsync; a crash before
 * it loses only writes nobody was told about (kill -9 loses none: they are in the OS already).
 */
export function createGroupCommit(db: RocksDatabase, options: { sync: boolean }): GroupCommit {
  let pending: Promise<void> | undefined;
  return {
    async write(operations) {
      await db.write(operations, { sync: false });
      if (!options.sync) return;
      pending ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        // Writes from here on are not covered by this fsync: they start the next group.
        pending = undefined;
        return db.write([SYNC_MARK], { sync: true });
      });
      await pending;
    },
  };
}
