import type { RocksDatabase, WriteOperation } from '../../src/store/rocksDatabase.ts';

/**
 * A RocksDatabase in a Map, for property tests that open a database per run: the same answers as RocksDB
 * (atomic writes, absent keys as undefined, prefix scans in key order), no disk.
 *
 * With `pause`, every asynchronous call waits `pause()` event-loop turns before it reads or writes and again
 * before it resolves, as the real binding's calls finish on a thread of their own: a write is visible before
 * its promise resolves, and a read may see a write that was issued after it. Seeded, runs are repeatable.
 */
export function createMemoryRocksDatabase(options: { pause?: () => number } = {}): RocksDatabase {
  const entries = new Map<string, Buffer>();
  const turns = async () => {
    for (let n = options.pause?.() ?? 0; n > 0; n--) await new Promise((resolve) => setImmediate(resolve));
  };
  const read = (keys: readonly Buffer[]) => keys.map((key) => entries.get(key.toString('latin1')));
  const apply = (operations: readonly WriteOperation[]) => {
    for (const operation of operations) {
      const id = operation.key.toString('latin1');
      if (operation.type === 'put') entries.set(id, Buffer.from(operation.value));
      else entries.delete(id);
    }
  };
  return {
    path: ':memory:',
    get handle(): bigint {
      throw new Error('a database in memory has no native handle for another thread');
    },
    async get(key) {
      await turns();
      const [value] = read([key]);
      await turns();
      return value;
    },
    async getMany(keys) {
      await turns();
      const values = read(keys);
      await turns();
      return values;
    },
    getManySync: read,
    writeSync: apply,
    // Nothing native: its entries are on the V8 heap.
    memoryBytes: () => 0,
    async write(operations) {
      await turns();
      apply(operations);
      await turns();
    },
    async scan(prefix, scanOptions = {}) {
      await turns();
      const found = [...entries]
        .map(([id, value]) => ({ key: Buffer.from(id, 'latin1'), value }))
        .filter(({ key }) => key.subarray(0, prefix.length).equals(prefix))
        .filter(({ key }) => scanOptions.after === undefined || Buffer.compare(key, scanOptions.after) > 0)
        .sort((a, b) => Buffer.compare(a.key, b.key));
      return found.slice(0, scanOptions.limit ?? found.length);
    },
    close: () => Promise.resolve(),
  };
}
