import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRocksDatabase, type RocksDatabase } from '../../src/store/rocksDatabase.ts';

/** A fresh directory for a RocksDB database, removed by `remove()`. */
export async function temporaryRocksDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'readstates-rocks-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Runs `run` on a database opened in a fresh directory; closes it and removes the directory after, also on failure. */
export async function withRocksDatabase<T>(run: (db: RocksDatabase, path: string) => Promise<T>): Promise<T> {
  const dir = await temporaryRocksDir();
  const db = await openRocksDatabase(dir.path);
  try {
    return await run(db, dir.path);
  } finally {
    await db.close();
    await dir.remove();
  }
}
