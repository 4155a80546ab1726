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
  /** write() on the calling thread, done when it returns (throws when it fails): for writes that must not yield. */
  writeSync(operations: readonly WriteOperation[], options?: { sync?: boolean }): void;
  /** Entries whose key starts with `prefix`, in key order, after `after` (exclusive) when given. */
  scan(
    prefix: Buffer,
    options?: { limit?: number; after?: Buffer },
  ): Promise<{ key: Buffer; value: Buffer }[]>;
  /**
   * The native database, for `attachRocksDatabase` in another thread of this process. Valid while this database
   * is open: whoever opened it closes it only after every thread that attached has stopped using it.
   */
  readonly handle: bigint;
  /**
   * Bytes RocksDB holds in memory for this database: its memtables, the index and filter blocks of its files
   * (not in the block cache: the binding's default) and its block cache. Memory no V8 heap figure shows.
   */
  memoryBytes(): number;
  /** Closes the database (opened here), or only lets go of it (attached). */
  close(): Promise<void>;
}

/** The part of the binding used here: the abstract-level 1 API plus the fork's synchronous multi-get. */
interface RocksLevel {
  readonly status: 'opening' | 'open' | 'closing' | 'closed';
  readonly handle: bigint;
  open(options: {
    createIfMissing: boolean;
    walCompression?: boolean;
    compaction?: 'level';
    memtableMemoryBudget?: number;
  }): Promise<void>;
  close(): Promise<void>;
  /** A RocksDB property's value, as a string ('' when unknown). */
  getProperty(name: string): string;
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
    locationOrHandle: string | bigint,
    options: { keyEncoding: 'buffer'; valueEncoding: 'buffer' },
  ) => RocksLevel;
}

/** The native write-batch calls under the binding's ChainedBatch (chained-batch.js), used as it uses them. */
interface NativeBatches {
  batch_init(): object;
  batch_put(batch: object, key: Buffer, value: Buffer, options: object): void;
  batch_del(batch: object, key: Buffer, options: object): void;
  batch_write(db: object, batch: object, options: { sync: boolean }): void;
  batch_clear(batch: object): void;
}

// The binding ships no typings; it is CommonJS, so require() it and describe what is used above.
const require = createRequire(import.meta.url);
const { RocksLevel } = require('@nxtedition/rocksdb') as Binding;
const native = require('@nxtedition/rocksdb/binding.js') as NativeBatches;
const NO_OPTIONS = {};
/**
 * What each database's memtables may take, through the binding's one way to set the write buffers
 * (binding.cc InitOptions: `compaction: 'level'` with `memtableMemoryBudget` B gives write buffers of B/4, two
 * merged at a flush and at most six, level 1 of B, and levels 0 and 1 stored uncompressed). Without it RocksDB's
 * defaults stand: 64 MiB write buffers, two of them, so the state's and the spill's memtables swung by up to
 * 256 MiB together, and the allocator kept each peak (docs/decisions/0003, 2026-12-03, later).
 */
export const MEMTABLE_BUDGET_BYTES = 32 * 2 ** 20;
/**
 * One write buffer under that budget (the binding's B/4). RocksDB also reserves 1.1 of them on disk for each new
 * write-ahead log file, when the filesystem has the room: a full disk fails writes only once that room is used.
 */
export const WRITE_BUFFER_BYTES = MEMTABLE_BUDGET_BYTES / 4;
/** RocksDB's properties for what a database holds in memory (memoryBytes). */
const MEMORY_PROPERTIES = [
  'rocksdb.cur-size-all-mem-tables',
  'rocksdb.estimate-table-readers-mem',
  'rocksdb.block-cache-usage',
];

/** The native database handle the binding keeps under a private symbol (index.js's kContext). */
function nativeContext(db: RocksLevel): object {
  const symbol = Object.getOwnPropertySymbols(db).find((s) => s.description === 'context');
  const context = symbol === undefined ? undefined : (db as unknown as Record<symbol, unknown>)[symbol];
  if (typeof context !== 'object' || context === null) {
    throw new Error('@nxtedition/rocksdb changed: no native context on the database (see rocksDatabase.ts)');
  }
  return context;
}

export async function openRocksDatabase(path: string): Promise<RocksDatabase> {
  const db = new RocksLevel(path, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  try {
    // The binding compresses the write-ahead log with ZSTD by default, on the writing thread (the engine's): the
    // snapshots written back are ids, and compressing them doubled a write's cost (1 MiB: 1.7-2.4 -> 0.8-0.9 ms).
    await db.open({
      createIfMissing: true,
      walCompression: false,
      compaction: 'level',
      memtableMemoryBudget: MEMTABLE_BUDGET_BYTES,
    });
  } catch (error) {
    throw new Error(`Cannot open RocksDB at ${path}: ${(error as Error).message}`, { cause: error });
  }
  return wrap(db, path, () => db.close());
}

/**
 * The database another thread of this process opened (`handle` of its RocksDatabase): RocksDB takes reads and
 * writes from several threads at once. Opening a handle only attaches to the open database (the binding's
 * db_open returns at once), and close() lets go of it without closing it; the opener must outlive this.
 */
export async function attachRocksDatabase(handle: bigint, path: string): Promise<RocksDatabase> {
  const db = new RocksLevel(handle, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open({ createIfMissing: false });
  return wrap(db, path, () => Promise.resolve());
}

/** `release` closes the database (opened here) or does nothing (attached): after it, every call is refused. */
function wrap(db: RocksLevel, path: string, release: () => Promise<void>): RocksDatabase {
  const context = nativeContext(db);
  const batch = native.batch_init();
  let released = false;
  /**
   * Why the database may not be touched any more, if so. The native calls check nothing: after a close they would
   * touch freed memory. abstract-level's own calls refused on this status; an attachment let go of stays "open"
   * to abstract-level, so it is refused on its own flag.
   */
  const refusal = (): Error | undefined => {
    if (db.status !== 'open') {
      return new Error(`RocksDB at ${path} is ${db.status}, not open: nothing was read or written`);
    }
    if (released)
      return new Error(`RocksDB at ${path} was let go of by this thread: nothing was read or written`);
    return undefined;
  };
  const refused = <T>(call: () => Promise<T>): Promise<T> => {
    const error = refusal();
    return error === undefined ? call() : Promise.reject(error);
  };
  // One native WriteBatch, cleared and reused for every write (writes run on this thread, one at a time).
  // batch(array) never releases its native batch (~1.4 KB an event leaked); a chained batch per write releases
  // its buffer only when the garbage collector finalizes it, and V8, not told of that native memory, rarely
  // does: RSS grew ~130 bytes per record written, to 1.1 GiB after 6.4M (decision 0001, addendum 2).
  const writeSync = (operations: readonly WriteOperation[], options: { sync?: boolean } = {}): void => {
    const error = refusal();
    if (error !== undefined) throw error;
    try {
      for (const operation of operations) {
        if (operation.type === 'put') native.batch_put(batch, operation.key, operation.value, NO_OPTIONS);
        else native.batch_del(batch, operation.key, NO_OPTIONS);
      }
      native.batch_write(context, batch, { sync: options.sync ?? false });
    } finally {
      native.batch_clear(batch);
    }
  };

  return {
    path,
    handle: db.handle,
    get: (key) => refused(async () => (await db.getMany([key]))[0]),
    getMany: (keys) => refused(() => (keys.length === 0 ? Promise.resolve([]) : db.getMany(keys))),
    getManySync: (keys) => {
      const error = refusal();
      if (error !== undefined) throw error;
      return keys.length === 0 ? [] : db._getManySync(keys);
    },
    write: (operations, options) => {
      try {
        writeSync(operations, options);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    },
    writeSync,
    memoryBytes: () => {
      if (refusal() !== undefined) return 0;
      let bytes = 0;
      for (const property of MEMORY_PROPERTIES) bytes += Number(db.getProperty(property)) || 0;
      return bytes;
    },
    scan: (prefix, options = {}) =>
      refused(async () => {
        const upper = prefixUpperBound(prefix);
        const entries = await db
          .iterator({
            ...(options.after === undefined ? { gte: prefix } : { gt: options.after }),
            ...(upper === undefined ? {} : { lt: upper }),
            ...(options.limit === undefined ? {} : { limit: options.limit }),
          })
          .all();
        return entries.map(([key, value]) => ({ key, value }));
      }),
    close: () => {
      released = true;
      return release();
    },
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
