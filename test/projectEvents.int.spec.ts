/**
 * The projector's record cache changes no byte of the state: the same stream, in chunks, through a small cache
 * that evicts all the time and through none, into two real RocksDB databases, leaves them identical.
 */
import { describe, expect, it } from 'vitest';
import { createDemoStream } from '../src/ops/demoStream.ts';
import { DISK_FANOUT } from '../src/store/diskFanout.ts';
import { projectEvents } from '../src/store/projectEvents.ts';
import { RecordCache } from '../src/store/recordCache.ts';
import { openRocksDatabase, type RocksDatabase } from '../src/store/rocksDatabase.ts';
import { temporaryRocksDir } from './support/rocks.ts';

async function everything(db: RocksDatabase): Promise<string[]> {
  const entries = await db.scan(Buffer.alloc(0));
  return entries.map(({ key, value }) => `${key.toString('hex')}=${value.toString('hex')}`);
}

describe('projectEvents with a record cache', () => {
  it('writes exactly what it writes without one', async () => {
    const dirs = [await temporaryRocksDir(), await temporaryRocksDir()];
    const [cached, uncached] = await Promise.all(dirs.map((dir) => openRocksDatabase(dir.path)));
    if (cached === undefined || uncached === undefined) throw new Error('unreachable');
    try {
      const stream = createDemoStream({ seed: 5, channels: 40, users: 200 });
      const cache = new RecordCache(300);
      for (let chunk = 0; chunk < 20; chunk++) {
        const events = Array.from({ length: 500 }, () => stream.next());
        for (const [db, withCache] of [
          [cached, cache],
          [uncached, undefined],
        ] as const) {
          const { store, operations } = await projectEvents(db, 0, DISK_FANOUT, events, withCache);
          await db.write(operations);
          store.commit();
        }
      }
      expect(cache.hits).toBeGreaterThan(1_000);
      expect(cache.size).toBe(300);
      const [a, b] = [await everything(cached), await everything(uncached)];
      expect(a.length).toBeGreaterThan(1_000);
      expect(a).toEqual(b);
    } finally {
      await cached.close();
      await uncached.close();
      await Promise.all(dirs.map((dir) => dir.remove()));
    }
  }, 60_000);
});
