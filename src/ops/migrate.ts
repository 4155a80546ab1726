import { fileURLToPath } from 'node:url';
import pg from '@databases/pg';
import { applyMigrations } from '@databases/pg-migrations';
import type { ConnectionPool } from './database.ts';

const { sql } = pg;

export const migrationsDirectory = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Any constant of our own: the advisory lock that lets one process migrate at a time. */
const MIGRATION_LOCK = 0x7265_6164; // "read"

/**
 * Applies the numbered SQL files in migrations/ that the database has not seen; a no-op when up to date.
 * Instances starting together take turns (a session advisory lock held on a connection of its own), rather than
 * race to create the same tables and fail. The pool needs two connections: the lock holds one.
 */
export async function migrate(connection: ConnectionPool): Promise<void> {
  await connection.task(async (locked) => {
    await locked.query(sql`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
    try {
      await applyMigrations({ connection, migrationsDirectory });
    } finally {
      await locked.query(sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`);
    }
  });
}
