import { createRequire } from 'node:module';

/**
 * @nxtedition/rocksdb behind the few calls the store makes, keys and values as Buffers. Kept thin: the store
 * layer owns key layout and encoding. docs/decisions/0001-rocksdb-binding.md says why this binding.
 */
export type WriteOperation = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

export interface RocksDatabase {
  readonly path: string;
  get(key: Buffer): Promise<Buffer | undefined>;
  /** One round trip for many keys; `undefined` where a key is absent. */
  getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]>;
  /** RocksDB MultiGet on the calling thread: for reads that must not yield (block-cache hits take microseconds). */
  getManySync(keys: readonly Buffer[]): (Buffer | undefined)[];
  /** Atomic; with `sync` the write-ahead log is fsynced before it resolves. */
  write(operations: readonly WriteOperation[], options?: { sync?: boolean }): Promise<void>;
  /** Entries whose key starts with `prefix`, in key order, after `after` (exclusive) when given. */
  scan(
    prefix: Buffer,
    options?: { limit?: number; after?: Buffer },
  ): Promise<{ key: Buffer; value: Buffer }[]>;
  close(): Promise<void>;
}

/** The part of the binding used here: the abstract-level 1 API plus the fork's synchronous multi-get. */
interface RocksLevel {
  open(options: { createIfMissing: boolean }): Promise<void>;
  close(): Promise<void>;
  getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]>;
  _getManySync(keys: readonly Buffer[]): (Buffer | undefined)[];
  batch(): {
    put(key: Buffer, value: Buffer): void;
    del(key: Buffer): void;
    write(options: { sync: boolean }): Promise<void>;
  };
  iterator(options: { gte?: Buffer; gt?: Buffer; lt?: Buffer; limit?: number }): {
    all(): Promise<[Buffer, Buffer][]>;
  };
}

interface Binding {
  RocksLevel: new (
    location: string,
    options: { keyEncoding: 'buffer'; valueEncoding: 'buffer' },
  ) => RocksLevel;
}

// The binding ships no typings; it is CommonJS, so require() it and describe what is used above.
const { RocksLevel } = createRequire(import.meta.url)('@nxtedition/rocksdb') as Binding;

export async function openRocksDatabase(path: string): Promise<RocksDatabase> {
  const db = new RocksLevel(path, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  try {
    await db.open({ createIfMissing: true });
  } catch (error) {
    throw new Error(`Cannot open RocksDB at ${path}: ${(error as Error).message}`, { cause: error });
  }

  return {
    path,
    get: async (key) => (await db.getMany([key]))[0],
    getMany: (keys) => (keys.length === 0 ? Promise.resolve([]) : db.getMany(keys)),
    getManySync: (keys) => (keys.length === 0 ? [] : db._getManySync(keys)),
    // The chained form, not batch(array): the binding's array form never releases its native WriteBatch (it
    // skips the close that abstract-level needs), so every write leaked its keys and values, ~1.4 KB an event.
    write: async (operations, options = {}) => {
      const batch = db.batch();
      for (const operation of operations) {
        if (operation.type === 'put') batch.put(operation.key, operation.value);
        else batch.del(operation.key);
      }
      await batch.write({ sync: options.sync ?? false });
    },
    scan: async (prefix, options = {}) => {
      const upper = prefixUpperBound(prefix);
      const entries = await db
        .iterator({
          ...(options.after === undefined ? { gte: prefix } : { gt: options.after }),
          ...(upper === undefined ? {} : { lt: upper }),
          ...(options.limit === undefined ? {} : { limit: options.limit }),
        })
        .all();
      return entries.map(([key, value]) => ({ key, value }));
    },
    close: () => db.close(),
  };
}

/** The smallest key greater than every key that starts with `prefix`, or undefined when there is none. */
export function prefixUpperBound(prefix: Buffer): Buffer | undefined {
  const upper = Buffer.from(prefix);
  for (let i = upper.length - 1; i >= 0; i--) {
    if (upper[i] !== 0xff) {
      upper[i] = (upper[i] ?? 0) + 1;
      return upper.subarray(0, i + 1);
    }
  }
  return undefined;
}
