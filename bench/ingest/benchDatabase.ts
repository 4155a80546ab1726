/**
 * The PostgreSQL database the bench's rebuild records itself and its dead letters in: a database of its own
 * beside the service's (same server, name `readstates_bench` unless told), created when missing and migrated.
 */
import { sql } from '@databases/pg';
import { createDatabasePool, type ConnectionPool } from '../../src/ops/database.ts';
import { migrate } from '../../src/ops/migrate.ts';

/** The URL of database `name` on the server of `serviceUrl`. */
export function databaseUrlOf(serviceUrl: string, name: string): string {
  const url = new URL(serviceUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function openBenchDatabase(serviceUrl: string, name: string): Promise<ConnectionPool> {
  const server = createDatabasePool(databaseUrlOf(serviceUrl, 'postgres'), { poolSize: 1 });
  try {
    const exists = await server.query(sql`SELECT 1 FROM pg_database WHERE datname = ${name}`);
    if (exists.length === 0) {
      await server.query(sql`CREATE DATABASE ${sql.ident(name)}`).catch((error: unknown) => {
        // Another run created it between the check and here.
        if ((error as { code?: string }).code !== '42P04') throw error;
      });
    }
  } catch (error) {
    throw new Error(
      `cannot create database ${name} on ${databaseUrlOf(serviceUrl, '')}: ${(error as Error).message}. ` +
        'Point DATABASE_URL at a PostgreSQL server where this user may CREATE DATABASE, or create it yourself.',
      { cause: error },
    );
  } finally {
    await server.dispose();
  }
  const pool = createDatabasePool(databaseUrlOf(serviceUrl, name));
  await migrate(pool);
  return pool;
}
