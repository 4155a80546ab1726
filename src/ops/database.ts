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
