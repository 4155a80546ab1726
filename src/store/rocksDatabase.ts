import type { AbstractBatch } from 'abstract-leveldown';
import rocksdbModule from 'rocksdb';

/**
 * The `rocksdb` binding's callbacks behind promises, keys and values as Buffers. Kept thin: the store layer
 * owns key layout and encoding.
 */
// The binding is CommonJS (`module.exports = RocksDB`); its typings claim a `default` export it lacks.
const RocksDB = rocksdbModule as unknown as typeof rocksdbModule.default;

export type WriteOperation = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

export interface RocksDatabase {
  readonly path: string;
  get(key: Buffer): Promise<Buffer | undefined>;
  /** Atomic; with `sync` the write-ahead log is fsynced before it resolves. */
  write(operations: readonly WriteOperation[], options?: { sync?: boolean }): Promise<void>;
  /** Entries whose key starts with `prefix`, in key order. */
  scan(
    prefix: Buffer,
    options?: { limit?: number; after?: Buffer },
  ): Promise<{ key: Buffer; value: Buffer }[]>;
  close(): Promise<void>;
}

export async function openRocksDatabase(path: string): Promise<RocksDatabase> {
  const db = RocksDB(path);
  await new Promise<void>((resolve, reject) => {
    db.open({ createIfMissing: true }, (error) => {
      if (error) reject(new Error(`Cannot open RocksDB at ${path}: ${error.message}`, { cause: error }));
      else resolve();
    });
  });

  return {
    path,
    get: (key) =>
      new Promise((resolve, reject) => {
        db.get(key, { asBuffer: true }, (error, value) => {
          if (error) {
            // abstract-leveldown signals a missing key with an error, not a value.
            if (/NotFound/i.test(error.message)) resolve(undefined);
            else reject(error);
          } else resolve(value as Buffer);
        });
      }),
    write: (operations, options = {}) =>
      new Promise((resolve, reject) => {
        db.batch(operations as AbstractBatch[], { sync: options.sync ?? false }, (error) => {
          if (error) reject(error);
          else resolve();
        });
      }),
    scan: (prefix, options = {}) =>
      new Promise((resolve, reject) => {
        const upper = prefixUpperBound(prefix);
        const iterator = db.iterator({
          ...(options.after === undefined ? { gte: prefix } : { gt: options.after }),
          ...(upper === undefined ? {} : { lt: upper }),
          limit: options.limit ?? -1,
          keyAsBuffer: true,
          valueAsBuffer: true,
        });
        const entries: { key: Buffer; value: Buffer }[] = [];
        const next = (): void => {
          iterator.next((error, key, value) => {
            if (error) {
              iterator.end(() => {
                reject(error);
              });
            } else if ((key as Buffer | undefined) === undefined) {
              // The typings omit it, but the end of the range is a callback with no key.
              iterator.end((endError) => {
                if (endError) reject(endError);
                else resolve(entries);
              });
            } else {
              entries.push({ key: key as Buffer, value: value as Buffer });
              next();
            }
          });
        };
        next();
      }),
    close: () =>
      new Promise((resolve, reject) => {
        db.close((error) => {
          if (error) reject(error);
          else resolve();
        });
      }),
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
