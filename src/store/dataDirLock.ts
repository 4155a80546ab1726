import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openRocksDatabase } from './rocksDatabase.ts';

/** Held for as long as the process uses DATA_DIR; `release` lets another process have it. */
export interface DataDirLock {
  release(): Promise<void>;
}

/**
 * Takes DATA_DIR for this process before anything in it is read, deleted or opened. The lock is a tiny RocksDB
 * of its own: RocksDB locks its LOCK file with fcntl, which the kernel releases when the process dies however it
 * dies, so a SIGKILL leaves no stale lock behind (a pid file would) and a second process is refused at once.
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true });
  const path = join(dataDir, 'lock');
  try {
    const db = await openRocksDatabase(path);
    return { release: () => db.close() };
  } catch (error) {
    if (!heldElsewhere(error)) {
      throw new Error(`cannot take the DATA_DIR lock ${path}: ${(error as Error).message}`, { cause: error });
    }
    throw new Error(
      `DATA_DIR ${dataDir} is in use by another readstates process (its lock ${path} is held). Each instance ` +
        'needs a DATA_DIR of its own; stop the other process, or point DATA_DIR elsewhere.',
      { cause: error },
    );
  }
}

/** abstract-level says LEVEL_LOCKED, somewhere down the causes, when another holder has the LOCK file. */
function heldElsewhere(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if ((cause as { code?: unknown }).code === 'LEVEL_LOCKED') return true;
  }
  return false;
}
