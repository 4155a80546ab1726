import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from '@databases/pg';
import { applyMigrations } from '@databases/pg-migrations';
import fc from 'fast-check';
import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent } from '../src/contract/decode.ts';
import type { TopicKind } from '../src/contract/events.ts';
import { deadLetterOf, MAX_MESSAGE_CHARS, printableText, type DeadLetter } from '../src/ingest/deadLetter.ts';
import { createDatabasePool } from '../src/ops/database.ts';
import {
  isTransientPostgresError,
  listDeadLetters,
  storeDeadLetters,
  type StoredDeadLetter,
} from '../src/ops/deadLetters.ts';
import { migrate, migrationsDirectory } from '../src/ops/migrate.ts';
import { createTestDatabase, type TestDatabase } from './support/postgres.ts';
import { expectedHeaderPairs, hostileRecordArb, nulGarbage } from './unit/deadLetterArbitraries.ts';

const { sql } = pg;

const letter = (offset: string, overrides: Partial<DeadLetter> = {}): DeadLetter => ({
  topic: 'chat.messages',
  partition: 3,
  offset,
  key: Buffer.from('42'),
  value: Buffer.from('{not json'),
  headers: [{ name: Buffer.from('source'), value: Buffer.from('test') }],
  code: 'invalid_json',
  message: 'value is not JSON',
  ...overrides,
});

function sameBytes(actual: Buffer | null, expected: Buffer | null): boolean {
  return actual === null || expected === null ? actual === expected : actual.equals(expected);
}

function assertPrintable(text: string): void {
  expect(text.isWellFormed()).toBe(true);
  expect(text).not.toMatch(/[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u);
  expect(text.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
}

async function storedAt(db: TestDatabase, offset: string): Promise<StoredDeadLetter | undefined> {
  return (await listDeadLetters(db.pool, { limit: 1_000 })).find((l) => l.offset === offset);
}

/** The error a statement gets, for classifying real ones. */
async function refusal(attempt: Promise<unknown>): Promise<unknown> {
  try {
    await attempt;
  } catch (error) {
    return error;
  }
  throw new Error('expected the statement to fail');
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

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
      headers: [{ name: Buffer.from('source'), value: Buffer.from('test') }],
    });
    expect(first?.value?.toString()).toBe('{not json');
    expect(first?.key?.toString()).toBe('42');
  });

  it('stores a chunk larger than one statement may carry (65,535 parameters)', async () => {
    const chunk = Array.from({ length: 8_000 }, (_, i) => letter(String(100_000 + i)));
    expect(await storeDeadLetters(db.pool, chunk)).toBe(8_000);
    expect(await storeDeadLetters(db.pool, chunk)).toBe(0);
  });

  it('honours the limit', async () => {
    expect(await listDeadLetters(db.pool, { limit: 1 })).toHaveLength(1);
  });

  it('keeps whatever bytes a rejected record holds, each record once, with a printable message', async () => {
    let nextOffset = 1_000_000n;
    let lettersStored = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<[string, TopicKind]>(['chat.acks', 'acks'], ['chat.messages', 'messages']),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.array(hostileRecordArb, { minLength: 1, maxLength: 8 }),
        async ([topic, kind], partition, records) => {
          const letters: DeadLetter[] = [];
          const sent = new Map<string, { message: KafkaMessage; rejection: string }>();
          for (const record of records) {
            const message = { ...record, offset: String(nextOffset++) } as KafkaMessage;
            const decoded = decodeEvent(message.value, message.key, kind);
            if (decoded.ok) continue; // becomes state: not this test's business
            letters.push(deadLetterOf(topic, partition, message, decoded.rejection));
            sent.set(message.offset, { message, rejection: decoded.rejection.message });
          }
          if (letters.length === 0) return;

          expect(await storeDeadLetters(db.pool, letters)).toBe(letters.length);
          expect(await storeDeadLetters(db.pool, letters), 'the same batch again').toBe(0);
          lettersStored += letters.length;

          const stored = await listDeadLetters(db.pool, { limit: letters.length });
          expect(stored.map((l) => `${l.topic}/${l.partition}@${l.offset}`).sort()).toEqual(
            letters.map((l) => `${l.topic}/${l.partition}@${l.offset}`).sort(),
          );
          for (const row of stored) {
            const { message, rejection } = sent.get(row.offset) ?? expect.unreachable();
            expect(sameBytes(row.key, message.key), 'key').toBe(true);
            expect(sameBytes(row.value, message.value), 'value').toBe(true);
            const pairs = expectedHeaderPairs(message.headers ?? {});
            expect(row.headers).toHaveLength(pairs.length);
            pairs.forEach((pair, i) => {
              expect(sameBytes(row.headers[i]?.name ?? null, pair.name), `header ${i} name`).toBe(true);
              expect(sameBytes(row.headers[i]?.value ?? null, pair.value), `header ${i} value`).toBe(true);
            });
            expect(row.message).toBe(printableText(rejection));
            assertPrintable(row.message);
          }
        },
      ),
      { numRuns: 100 },
    );
    // The generators aim at rejections; a run that stored next to nothing would prove next to nothing.
    expect(lettersStored).toBeGreaterThan(100);
  });

  it('stores the record that stopped projection for good: 00 01 garbage on the acks topic (issue 10)', async () => {
    const message = { key: Buffer.from('7'), value: nulGarbage, offset: '5', headers: {} } as KafkaMessage;
    const decoded = decodeEvent(message.value, message.key, 'acks');
    if (decoded.ok) throw new Error('00 01 garbage decoded as an event');
    expect(decoded.rejection.message).toContain('\u0000');

    const deadLetter = deadLetterOf('chat.acks', 0, message, decoded.rejection);
    expect(await storeDeadLetters(db.pool, [deadLetter])).toBe(1);
    const stored = (await listDeadLetters(db.pool, { limit: 1 }))[0];
    expect(stored).toMatchObject({ topic: 'chat.acks', offset: '5', code: 'invalid_json' });
    expect(stored?.message).toContain('\\u0000\\u0001garbage');
    expect(sameBytes(stored?.value ?? null, nulGarbage)).toBe(true);
  });

  describe('when PostgreSQL refuses a row for what it holds', () => {
    it('the refusal is permanent: NUL in text (SQLSTATE 22021)', async () => {
      const error = await refusal(db.pool.query(sql`SELECT ${'a\u0000b'}::text`));
      expect(error).toMatchObject({ code: '22021' });
      expect(isTransientPostgresError(error)).toBe(false);
    });

    it('stores the others in full and the refused one in its minimal form, each once', async () => {
      // A caller that did not build its letters with deadLetterOf: the message still holds a NUL.
      const unprintable = letter('31', {
        key: Buffer.from([0x00, 0xff]),
        value: nulGarbage,
        headers: [{ name: Buffer.from('h'), value: Buffer.from([0x00]) }],
        message: 'quoted: \u0000é',
      });
      const oddCode = letter('33', { code: 'Bad\u0000Code', message: '\u0000' });
      const batch = [letter('30'), unprintable, letter('32'), oddCode];
      expect(await storeDeadLetters(db.pool, batch)).toBe(4);
      expect(await storeDeadLetters(db.pool, batch)).toBe(0);

      for (const offset of ['30', '32']) {
        expect((await storedAt(db, offset))?.message).toBe('value is not JSON');
      }
      const minimal = await storedAt(db, '31');
      expect(minimal).toMatchObject({ code: 'invalid_json', headers: unprintable.headers });
      expect(sameBytes(minimal?.key ?? null, unprintable.key)).toBe(true);
      expect(sameBytes(minimal?.value ?? null, unprintable.value)).toBe(true);
      expect(minimal?.message).toBe(
        'the original message could not be stored (PostgreSQL refused the row, SQLSTATE 22021); ' +
          'in ASCII: quoted: \\u0000\\u00e9',
      );
      expect((await storedAt(db, '33'))?.code).toBe('unstorable');
    });

    it('throws when even the minimal form is refused: the fault is the database (no table)', async () => {
      const unmigrated = await createTestDatabase();
      try {
        const error = await refusal(storeDeadLetters(unmigrated.pool, [letter('1')]));
        expect(String(error)).toMatch(/SQLSTATE 42P01\) and then even its minimal form \(SQLSTATE 42P01\)/);
        expect(isTransientPostgresError(error)).toBe(true);
      } finally {
        await unmigrated.drop();
      }
    });
  });

  it('throws a transient error when PostgreSQL cannot be reached, so the projector pauses and retries', async () => {
    const pool = createDatabasePool(`postgres://postgres@127.0.0.1:${await closedPort()}/nowhere`, {
      poolSize: 1,
    });
    try {
      const error = await refusal(storeDeadLetters(pool, [letter('40')]));
      expect(error).toMatchObject({ code: 'ECONNREFUSED' });
      expect(isTransientPostgresError(error)).toBe(true);
    } finally {
      await pool.dispose();
    }
    expect(await storedAt(db, '40')).toBeUndefined();
  });
});

describe('migration 00003 (headers as bytes)', () => {
  it('converts the headers of rows stored before it, losing nothing they held', async () => {
    const db = await createTestDatabase();
    const before = await mkdtemp(join(tmpdir(), 'readstates-migrations-'));
    try {
      for (const file of ['00001-dead-letters.sql', '00002-rebuilds.sql']) {
        await copyFile(join(migrationsDirectory, file), join(before, file));
      }
      await applyMigrations({ connection: db.pool, migrationsDirectory: before });
      await db.pool.query(sql`
        INSERT INTO dead_letters (topic, partition, "offset", headers, error_code, error_message) VALUES
          ('t', 0, 1, '{"source": "test", "multi": "a,b", "ünï": "çødé", "": ""}', 'invalid_json', 'm'),
          ('t', 0, 2, DEFAULT, 'invalid_json', 'm'),
          ('t', 0, 3, '["not", "an object"]', 'invalid_json', 'm')`);

      await migrate(db.pool);

      const headersAt = async (offset: string) =>
        (await listDeadLetters(db.pool, { limit: 10 }))
          .find((l) => l.offset === offset)
          ?.headers.map((h) => [h.name.toString('utf8'), h.value?.toString('utf8')]);
      // jsonb had sorted the names (fewest bytes first, then bytewise): that is the order they come back in.
      expect(await headersAt('1')).toEqual([
        ['', ''],
        ['multi', 'a,b'],
        ['ünï', 'çødé'],
        ['source', 'test'],
      ]);
      expect(await headersAt('2')).toEqual([]);
      expect(await headersAt('3')).toEqual([['', '["not", "an object"]']]);
    } finally {
      await rm(before, { recursive: true, force: true });
      await db.drop();
    }
  });
});
