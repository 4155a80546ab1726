import pg, { type ConnectionPool } from '@databases/pg';

export type { ConnectionPool };

/** One pool per process; BIGINT columns (Kafka offsets) come back as bigint, never a lossy number. */
export function createDatabasePool(databaseUrl: string, options: { poolSize?: number } = {}): ConnectionPool {
  // @databases/pg is CommonJS: under Node's ESM interop its factory is the namespace's `default`.
  return pg.default({
    connectionString: databaseUrl,
    bigIntMode: 'bigint',
    poolSize: options.poolSize ?? 4,
    connectionTimeoutMilliseconds: 5_000,
    applicationName: 'readstates',
  });
}
