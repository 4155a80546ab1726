import { fileURLToPath } from 'node:url';
import { applyMigrations } from '@databases/pg-migrations';
import type { ConnectionPool } from './database.ts';

export const migrationsDirectory = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Applies the numbered SQL files in migrations/ that the database has not seen; a no-op when up to date. */
export async function migrate(connection: ConnectionPool): Promise<void> {
  await applyMigrations({ connection, migrationsDirectory });
}
