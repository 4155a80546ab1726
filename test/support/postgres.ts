import pg from '@databases/pg';
import { inject } from 'vitest';
import { createDatabasePool, type ConnectionPool } from '../../src/ops/database.ts';
import { uniqueName } from './names.ts';
import { trackResource } from './resources.ts';

export interface TestDatabase {
  url: string;
  /** A pool on the database, on the leak ledger; disposed by drop(). */
  pool: ConnectionPool;
  drop: () => Promise<void>;
}

/** Creates an empty database for one test file on the run's real PostgreSQL server. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = new URL(inject('postgresUrl'));
  const name = uniqueName('readstates_test');
  const admin = pg.default({ connectionString: serverUrl.href, poolSize: 1, bigIntMode: 'bigint' });
  try {
    await admin.query(pg.sql`CREATE DATABASE ${pg.sql.ident(name)}`);
  } finally {
    await admin.dispose();
  }
  const url = new URL(serverUrl.href);
  url.pathname = `/${name}`;
  const pool = createDatabasePool(url.href, { poolSize: 2 });
  const release = trackResource('database pool', name);
  return {
    url: url.href,
    pool,
    async drop() {
      await pool.dispose();
      release();
      const dropper = pg.default({ connectionString: serverUrl.href, poolSize: 1, bigIntMode: 'bigint' });
      try {
        await dropper.query(pg.sql`DROP DATABASE IF EXISTS ${pg.sql.ident(name)} WITH (FORCE)`);
      } finally {
        await dropper.dispose();
      }
    },
  };
}
