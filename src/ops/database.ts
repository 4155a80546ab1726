import pg, { type ConnectionPool } from '@databases/pg';

const { sql } = pg;

export type { ConnectionPool };

/** One pool per process; BIGINT columns (Kafka offsets) come back as bigint, never a lossy number. */
export function createDatabasePool(databaseUrl: string, options: { poolSize?: number } = {}): ConnectionPool {
  // @databases/pg is CommonJS: under Node's ESM interop its factory is the namespace's `default`.
  return pg.default({
    connectionString: databaseUrl,
    bigIntMode: 'bigint',
    poolSize: options.poolSize ?? 4,
    connectionTimeoutMilliseconds: 5_000,
    // A server that accepts and then stops answering (a network blackhole) must not hang a caller for ever: the
    // projector heartbeats and shutdown waits between attempts only when each attempt ends.
    queryTimeoutMilliseconds: 10_000,
    queueTimeoutMilliseconds: 15_000,
    applicationName: 'readstates',
  });
}

/** Resolves when PostgreSQL answers a query, rejects with why not. */
export async function pingDatabase(db: ConnectionPool): Promise<void> {
  await db.query(sql`SELECT 1`);
}

/**
 * Creates the database DATABASE_URL names when the server has none of that name (SQLSTATE 3D000), so that a first
 * start against a bare PostgreSQL just works. Returns whether it created one. Needs the CREATEDB privilege;
 * without it the error says so and the database must be created by hand.
 */
export async function createDatabaseIfMissing(databaseUrl: string, error: unknown): Promise<boolean> {
  if ((error as { code?: unknown }).code !== '3D000') return false;
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (name === '' || name === 'postgres') return false;
  url.pathname = '/postgres';
  const server = createDatabasePool(url.href, { poolSize: 1 });
  try {
    await server.query(sql`CREATE DATABASE ${sql.ident(name)}`);
    return true;
  } catch (creating) {
    // Another instance created it first.
    if ((creating as { code?: unknown }).code === '42P04') return false;
    throw creating;
  } finally {
    await server.dispose();
  }
}
