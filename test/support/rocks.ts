import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory for a RocksDB database, removed by `remove()`. */
export async function temporaryRocksDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'readstates-rocks-'));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
