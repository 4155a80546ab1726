/** The real parts every later test relies on: a Kafka round trip, migrations, RocksDB on disk. */
import pg from '@databases/pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/ops/migrate.ts';
import { openRocksDatabase } from '../src/store/rocksDatabase.ts';
import { testKafka } from './support/kafka.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { temporaryRocksDir } from './support/rocks.ts';
import { waitFor } from './support/waitFor.ts';

describe('Kafka', () => {
  const kafka = testKafka('smoke');

  it('produces a batch and consumes it back in order', async () => {
    const topic = kafka.topic('roundtrip');
    await kafka.createTopics([topic], 1);
    const sent = Array.from({ length: 100 }, (_, i) => ({ key: `k${i % 7}`, value: `message ${i}` }));

    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({ topic, messages: sent });
    await producer.disconnect();

    const received: { key: string; value: string }[] = [];
    const consumer = kafka.consumer({ groupId: kafka.group('roundtrip') });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: ({ message }) => {
          received.push({ key: String(message.key), value: String(message.value) });
          return Promise.resolve();
        },
      });
      await waitFor(() => received.length >= sent.length, 30_000, 'all 100 messages');
    } finally {
      await consumer.disconnect();
    }
    expect(received).toEqual(sent);
  });
});

describe('PostgreSQL migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('apply to an empty database, and applying them again changes nothing', async () => {
    await migrate(db.pool);
    await migrate(db.pool);
    const tables = await db.pool.query(
      pg.sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    expect(tables.map((row: { table_name: string }) => row.table_name)).toContain('dead_letters');
    const [applied] = (await db.pool.query(
      pg.sql`SELECT count(*)::int AS n FROM atdatabases_migrations_applied`,
    )) as { n: number }[];
    expect(applied?.n).toBeGreaterThan(0);
  });
});

describe('RocksDB', () => {
  it('writes a batch to disk, reads it back after reopening, and scans a prefix in key order', async () => {
    const dir = await temporaryRocksDir();
    try {
      const key = (i: number) => Buffer.from(`key-${String(i).padStart(4, '0')}`);
      const db = await openRocksDatabase(dir.path);
      await db.write(
        Array.from({ length: 1000 }, (_, i) => ({
          type: 'put' as const,
          key: key(i),
          value: Buffer.from(`value ${i}`),
        })),
        { sync: true },
      );
      await db.close();

      const reopened = await openRocksDatabase(dir.path);
      try {
        expect(String(await reopened.get(key(0)))).toBe('value 0');
        expect(String(await reopened.get(key(999)))).toBe('value 999');
        expect(await reopened.get(Buffer.from('absent'))).toBeUndefined();
        const scanned = await reopened.scan(Buffer.from('key-099'));
        expect(scanned.map((entry) => String(entry.value))).toEqual(
          Array.from({ length: 10 }, (_, i) => `value ${990 + i}`),
        );
      } finally {
        await reopened.close();
      }
    } finally {
      await dir.remove();
    }
  });
});
