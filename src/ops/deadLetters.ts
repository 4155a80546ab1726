import pg from '@databases/pg';
import type { ConnectionPool } from './database.ts';

const { sql } = pg;

/** A record the projector could not apply, kept with everything needed to inspect or replay it. */
export interface DeadLetter {
  topic: string;
  partition: number;
  /** Kafka offsets are 64-bit: a decimal string, as kafkajs gives them. */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  code: string;
  message: string;
}

export interface StoredDeadLetter extends DeadLetter {
  id: string;
  receivedAt: Date;
}

interface DbDeadLetter {
  id: bigint;
  topic: string;
  partition: number;
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  error_code: string;
  error_message: string;
  received_at: Date;
}

/**
 * Stores dead letters idempotently: a record already stored (same topic, partition, offset) is left as it is,
 * so a batch retried after a crash never stores one twice. Returns how many rows were new.
 */
export async function storeDeadLetters(db: ConnectionPool, letters: readonly DeadLetter[]): Promise<number> {
  if (letters.length === 0) return 0;
  const rows = letters.map(
    (l) =>
      sql`(${l.topic}, ${l.partition}, ${l.offset}::bigint, ${l.key}, ${l.value}, ${JSON.stringify(l.headers)}::jsonb, ${l.code}, ${l.message})`,
  );
  const inserted = await db.query(sql`
    INSERT INTO dead_letters (topic, partition, "offset", key, value, headers, error_code, error_message)
    VALUES ${sql.join(rows, ',')}
    ON CONFLICT (topic, partition, "offset") DO NOTHING
    RETURNING id`);
  return inserted.length;
}

/** Newest first. */
export async function listDeadLetters(
  db: ConnectionPool,
  options: { limit: number },
): Promise<StoredDeadLetter[]> {
  const rows = (await db.query(sql`
    SELECT id, topic, partition, "offset", key, value, headers, error_code, error_message, received_at
    FROM dead_letters ORDER BY received_at DESC, id DESC LIMIT ${options.limit}`)) as DbDeadLetter[];
  return rows.map((row) => ({
    id: row.id.toString(),
    topic: row.topic,
    partition: row.partition,
    offset: row.offset.toString(),
    key: row.key,
    value: row.value,
    headers: row.headers,
    code: row.error_code,
    message: row.error_message,
    receivedAt: row.received_at,
  }));
}
