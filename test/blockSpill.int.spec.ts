import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENTRY_WORDS } from '../src/projection/compact/countedIds.ts';
import { RocksBlockSpill } from '../src/store/blockSpill.ts';
import type { RocksDatabase } from '../src/store/rocksDatabase.ts';
import { createMemoryRocksDatabase } from './support/memoryRocksDatabase.ts';
import { temporaryRocksDir } from './support/rocks.ts';

/** `count` entries whose words are `seed`, `seed + 1`, …: each block's own. */
function entries(count: number, seed: number): Uint32Array {
  return Uint32Array.from({ length: count * ENTRY_WORDS }, (_, i) => seed + i);
}

describe('block spill on RocksDB', () => {
  it('reads blocks ahead off the calling thread, at most 4,096 at a time, and never a discarded one', async () => {
    const dir = await temporaryRocksDir();
    try {
      const spill = await RocksBlockSpill.open(join(dir.path, 'spill'));
      const serials = Array.from({ length: 4_100 }, (_, i) => spill.park(entries(1, i * 10), 1));
      spill.flush();
      await spill.readAhead(serials);
      const into = new Uint32Array(ENTRY_WORDS);
      // Discarded after it was read ahead: gone from there too.
      spill.discard(serials[7] ?? 0);
      spill.flush();
      expect(() => {
        spill.read(serials[7] ?? 0, into);
      }).toThrow(/not in the spill/);
      serials.forEach((serial, i) => {
        if (i === 7) return;
        spill.read(serial, into);
        expect([...into]).toEqual([...entries(1, i * 10)]);
      });
      // The discarded one's failed read went to RocksDB, and so did the 4 past the limit.
      expect({ readAhead: spill.readAheadBlocks, syncReads: spill.syncReads }).toEqual({
        readAhead: 4_096,
        syncReads: 5,
      });
      // Read once: a second read goes to RocksDB again.
      spill.read(serials[0] ?? 0, into);
      expect(spill.syncReads).toBe(6);
      await spill.close();
    } finally {
      await dir.remove();
    }
  });

  it('reads back what it parked, before and after its write, and forgets what it discarded', async () => {
    const dir = await temporaryRocksDir();
    const path = join(dir.path, 'spill');
    try {
      let spill = await RocksBlockSpill.open(path);
      // Parked with room to spare: only the first `size` entries are kept.
      const first = spill.park(entries(8, 1), 5);
      const second = spill.park(entries(3, 1_000), 3);
      const into = new Uint32Array(8 * ENTRY_WORDS);
      spill.read(first, into);
      expect([...into.subarray(0, 5 * ENTRY_WORDS)]).toEqual([...entries(5, 1)]);
      spill.flush();
      into.fill(0);
      spill.read(second, into);
      expect([...into.subarray(0, 3 * ENTRY_WORDS)]).toEqual([...entries(3, 1_000)]);
      spill.discard(second);
      // Discarded before its write too.
      const third = spill.park(entries(2, 7), 2);
      spill.discard(third);
      spill.flush();
      expect(() => {
        spill.read(second, into);
      }).toThrow(/not in the spill/);
      expect(() => {
        spill.read(third, into);
      }).toThrow(/not in the spill/);
      spill.read(first, into);
      expect([...into.subarray(0, 5 * ENTRY_WORDS)]).toEqual([...entries(5, 1)]);
      expect({ parked: spill.parked, loads: spill.loads }).toEqual({ parked: 3, loads: 5 });
      await spill.close();

      // A new run starts empty: nothing of the last one is read as its own.
      spill = await RocksBlockSpill.open(path);
      expect(() => {
        spill.read(first, into);
      }).toThrow(/not in the spill/);
      const again = spill.park(entries(1, 9), 1);
      expect(again).toBe(first);
      spill.flush();
      spill.read(again, into);
      expect([...into.subarray(0, ENTRY_WORDS)]).toEqual([...entries(1, 9)]);
      await spill.close();
    } finally {
      await dir.remove();
    }
  });

  it('keeps what it parked in memory while its writes fail, and writes it once they succeed', () => {
    const db = createMemoryRocksDatabase();
    let failing = true;
    // The memory database with its writes failing while `failing` (its own members reached through the prototype:
    // spreading it would read its `handle`, which throws).
    const failingDb: RocksDatabase = Object.create(db) as RocksDatabase;
    failingDb.writeSync = (operations) => {
      if (failing) throw new Error('injected: no space left on device');
      db.writeSync(operations);
    };
    const spill = new RocksBlockSpill(failingDb);
    const serial = spill.park(entries(4, 3), 4);
    spill.flush();
    expect(spill.lastFailure?.message).toMatch(/no space/);
    const into = new Uint32Array(4 * ENTRY_WORDS);
    spill.read(serial, into);
    expect([...into]).toEqual([...entries(4, 3)]);
    failing = false;
    spill.flush();
    expect(spill.lastFailure).toBeUndefined();
    expect(db.getManySync([Buffer.from([0, 0, 0, 0, 0, serial])])[0]?.length).toBe(4 * ENTRY_WORDS * 4);
  });
});
