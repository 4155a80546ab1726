import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The state lives in generations: RocksDB directories under DATA_DIR, one of them current. A rebuild fills a new
 * one while the current one keeps serving; switching is one atomic rename of the pointer file, fsynced, so a
 * crash leaves either the old or the new generation current, never a mix.
 *
 * DATA_DIR/CURRENT names the current generation's directory, relative to DATA_DIR. Without it the current one is
 * `state` (every data directory made before rebuilds existed, and every new one).
 */
const POINTER = 'CURRENT';
const INITIAL = 'state';
const REBUILT = 'generations';

export async function currentGeneration(dataDir: string): Promise<string> {
  let name: string;
  try {
    name = (await readFile(join(dataDir, POINTER), 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return INITIAL;
    throw error;
  }
  if (name === '') throw new Error(`${join(dataDir, POINTER)} is empty; it should name a generation`);
  // Opening a missing generation would create an empty database and serve zeros as if nothing had happened.
  const exists = await stat(join(dataDir, name)).then(
    (found) => found.isDirectory(),
    () => false,
  );
  if (!exists) {
    throw new Error(
      `${join(dataDir, POINTER)} names the generation ${name}, which does not exist: the state was lost or ` +
        `moved. Restore ${join(dataDir, name)}, or rebuild the state from the topics with the service stopped ` +
        `(delete ${join(dataDir, POINTER)}, then run: readstates rebuild --offline)`,
    );
  }
  return name;
}

/** The directory a rebuild with this id fills, relative to DATA_DIR. */
export function rebuildGeneration(rebuildId: string): string {
  return join(REBUILT, `rebuild-${rebuildId}`);
}

/** Makes `name` current: write a temporary pointer, fsync it, rename it over the pointer, fsync the directory. */
export async function switchGeneration(dataDir: string, name: string): Promise<void> {
  const temporary = join(dataDir, `${POINTER}.tmp`);
  const file = await open(temporary, 'w');
  try {
    await file.writeFile(`${name}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, join(dataDir, POINTER));
  const directory = await open(dataDir, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/**
 * Deletes every generation but `keep`: the one replaced by a switch, and any a crashed rebuild left half built
 * (a rebuild is not resumed; it starts again from the earliest offsets). Returns what it deleted.
 */
export async function removeOtherGenerations(dataDir: string, keep: string): Promise<string[]> {
  await mkdir(join(dataDir, REBUILT), { recursive: true });
  const candidates = [INITIAL, ...(await readdir(join(dataDir, REBUILT))).map((name) => join(REBUILT, name))];
  const removed: string[] = [];
  for (const name of candidates) {
    if (name === keep) continue;
    const path = join(dataDir, name);
    try {
      await rm(path, { recursive: true });
      removed.push(name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return removed;
}
