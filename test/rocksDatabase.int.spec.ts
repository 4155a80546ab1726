/**
 * The thin RocksDB layer writes through one reused native batch: each write holds exactly its own operations,
 * also after a write that failed half-way, and a write after close() is refused, not made on a freed database.
 * Other threads attach to an open database by its handle and write into it side by side (a rebuild's shards).
 * It reports the memory RocksDB holds for it, which no V8 figure shows, and bounds its memtables.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  attachRocksDatabase,
  openRocksDatabase,
  WRITE_BUFFER_BYTES,
  type WriteOperation,
} from '../src/store/rocksDatabase.ts';
import { temporaryRocksDir, withRocksDatabase } from './support/rocks.ts';

const put = (key: string, value: string): WriteOperation => ({
  type: 'put',
  key: Buffer.from(key),
  value: Buffer.from(value),
});

describe('openRocksDatabase', () => {
  it('writes each batch alone, also after one that failed half-way', async () => {
    await withRocksDatabase(async (db) => {
      await db.write([put('a', '1'), put('b', '1')]);
      await db.write([{ type: 'del', key: Buffer.from('a') }]);
      const broken = { type: 'put', key: undefined, value: Buffer.from('x') } as unknown as WriteOperation;
      await expect(db.write([put('c', '1'), broken])).rejects.toThrow();
      await db.write([put('d', '1')], { sync: true });
      const keys = (await db.scan(Buffer.alloc(0))).map(
        ({ key, value }) => `${key.toString()}=${value.toString()}`,
      );
      expect(keys).toEqual(['b=1', 'd=1']);
    });
  });

  it('tells what it holds in memory: its memtable grows with what is written, and nothing once closed', async () => {
    const dir = await temporaryRocksDir();
    const db = await openRocksDatabase(dir.path);
    try {
      const empty = db.memoryBytes();
      const value = Buffer.alloc(1_000, 7);
      const operations = Array.from({ length: 4_000 }, (_, i): WriteOperation => ({
        type: 'put',
        key: Buffer.from(`key-${i}`),
        value,
      }));
      await db.write(operations);
      // 4 MB written sit in the memtable, beside its arena's first blocks.
      expect(db.memoryBytes() - empty).toBeGreaterThan(4_000_000);
      await db.close();
      expect(db.memoryBytes()).toBe(0);
    } finally {
      await dir.remove();
    }
  });

  it('keeps its memtables within their budget however much is written', async () => {
    const dir = await temporaryRocksDir();
    const db = await openRocksDatabase(dir.path);
    try {
      // 128 MiB in writes of 4 MiB, each record its own key. With RocksDB's default write buffers (64 MiB, two)
      // the memtables pass 64 MiB before their first flush; bounded, they flush from 16 MiB and stall writes
      // rather than pass six buffers. The block cache (8 MiB) and table readers come on top.
      const value = Buffer.alloc(1_024, 7);
      let most = 0;
      for (let write = 0; write < 32; write++) {
        const operations = Array.from({ length: 4_096 }, (_, i): WriteOperation => ({
          type: 'put',
          key: Buffer.from(`key-${write}-${i}`),
          value,
        }));
        await db.write(operations);
        most = Math.max(most, db.memoryBytes());
      }
      expect(most).toBeGreaterThan(WRITE_BUFFER_BYTES);
      expect(most).toBeLessThanOrEqual(6 * WRITE_BUFFER_BYTES + 8 * 2 ** 20);
    } finally {
      await db.close();
      await dir.remove();
    }
  });

  it('refuses a write after close, and reads: the native calls would touch a freed database', async () => {
    const dir = await temporaryRocksDir();
    const db = await openRocksDatabase(dir.path);
    await db.close();
    try {
      await expect(db.write([put('a', '1')])).rejects.toThrow(/is closed, not open/);
      expect(() => db.getManySync([Buffer.from('a')])).toThrow(/is closed, not open/);
      await expect(db.get(Buffer.from('a'))).rejects.toThrow(/is closed, not open/);
    } finally {
      await dir.remove();
    }
  });

  it('takes writes from threads attached by its handle, side by side, and stays open when they let go', async () => {
    await withRocksDatabase(async (db, path) => {
      const count = 2_000;
      const threads = ['a:', 'b:'].map(
        (prefix) =>
          new Worker(new URL('./support/rocksWriterThread.ts', import.meta.url), {
            workerData: { handle: db.handle, path: path, prefix, count },
          }),
      );
      // Listened for from the start: a thread may exit before the other's report arrives.
      const exits = threads.map((thread) => once(thread, 'exit'));
      const reports = (await Promise.all(threads.map((thread) => once(thread, 'message')))).map(
        ([report]) => report as { read: (string | undefined)[]; refused: boolean },
      );
      await Promise.all(exits);
      // Each thread read its own writes, and its writes after letting go were refused.
      expect(reports).toEqual([
        { read: ['0', String(count - 1)], refused: true },
        { read: ['0', String(count - 1)], refused: true },
      ]);
      // Every write of both threads is in the database, which is still open here after they let go.
      expect(await db.scan(Buffer.from('a:'))).toHaveLength(count);
      expect(await db.scan(Buffer.from('b:'))).toHaveLength(count);
      await db.write([put('c', '1')]);
      expect((await db.get(Buffer.from('c')))?.toString()).toBe('1');
    });
  });

  it('refuses reads and writes through an attachment let go of, and the database stays open', async () => {
    await withRocksDatabase(async (db, path) => {
      const attached = await attachRocksDatabase(db.handle, path);
      await attached.write([put('a', '1')]);
      await attached.close();
      await expect(attached.write([put('b', '1')])).rejects.toThrow(/let go of/);
      await expect(attached.get(Buffer.from('a'))).rejects.toThrow(/let go of/);
      await expect(attached.scan(Buffer.alloc(0))).rejects.toThrow(/let go of/);
      expect(() => attached.getManySync([Buffer.from('a')])).toThrow(/let go of/);
      expect((await db.get(Buffer.from('a')))?.toString()).toBe('1');
    });
  });
});
