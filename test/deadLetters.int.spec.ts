import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDeadLetters, storeDeadLetters, type DeadLetter } from '../src/ops/deadLetters.ts';
import { migrate } from '../src/ops/migrate.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';

const letter = (offset: string): DeadLetter => ({
  topic: 'chat.messages',
  partition: 3,
  offset,
  key: Buffer.from('42'),
  value: Buffer.from('{not json'),
  headers: { source: 'test' },
  code: 'invalid_json',
  message: 'value is not JSON',
});

describe('dead letters in PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await migrate(db.pool);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('stores each Kafka position once, however often a batch is retried', async () => {
    expect(await storeDeadLetters(db.pool, [letter('10'), letter('9223372036854775807')])).toBe(2);
    expect(await storeDeadLetters(db.pool, [letter('10'), letter('11')])).toBe(1);

    const stored = await listDeadLetters(db.pool, { limit: 10 });
    expect(stored.map((l) => l.offset).sort()).toEqual(['10', '11', '9223372036854775807']);
    const first = stored.find((l) => l.offset === '10');
    expect(first).toMatchObject({
      topic: 'chat.messages',
      partition: 3,
      code: 'invalid_json',
      headers: { source: 'test' },
    });
    expect(first?.value?.toString()).toBe('{not json');
    expect(first?.key?.toString()).toBe('42');
  });

  it('honours the limit', async () => {
    expect(await listDeadLetters(db.pool, { limit: 1 })).toHaveLength(1);
  });
});
