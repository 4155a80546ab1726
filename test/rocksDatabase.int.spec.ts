/**
 * The thin RocksDB layer writes through one reused native batch: each write holds exactly its own operations,
 * also after a write that failed half-way, and a write after close() is refused, not made on a freed database.
 */
import { describe, expect, it } from 'vitest';
import { openRocksDatabase, type WriteOperation } from '../src/store/rocksDatabase.ts';
import { temporaryRocksDir } from './support/rocks.ts';

const put = (key: string, value: string): WriteOperation => ({
  type: 'put',
  key: Buffer.from(key),
  value: Buffer.from(value),
});

describe('openRocksDatabase', () => {
  it('writes each batch alone, also after one that failed half-way', async () => {
    const dir = await temporaryRocksDir();
    const db = await openRocksDatabase(dir.path);
    try {
      await db.write([put('a', '1'), put('b', '1')]);
      await db.write([{ type: 'del', key: Buffer.from('a') }]);
      const broken = { type: 'put', key: undefined, value: Buffer.from('x') } as unknown as WriteOperation;
      await expect(db.write([put('c', '1'), broken])).rejects.toThrow();
      await db.write([put('d', '1')], { sync: true });
      const keys = (await db.scan(Buffer.alloc(0))).map(
        ({ key, value }) => `${key.toString()}=${value.toString()}`,
      );
      expect(keys).toEqual(['b=1', 'd=1']);
    } finally {
      await db.close();
      await dir.remove();
    }
  });

  it('refuses a write after close', async () => {
    const dir = await temporaryRocksDir();
    const db = await openRocksDatabase(dir.path);
    await db.close();
    try {
      await expect(db.write([put('a', '1')])).rejects.toThrow(/is closed, not open/);
    } finally {
      await dir.remove();
    }
  });
});
