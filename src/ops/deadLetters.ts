import pg from '@databases/pg';
import { printableText, type DeadLetter, type DeadLetterHeader } from '../ingest/deadLetter.ts';
import type { ConnectionPool } from './database.ts';

const { sql } = pg;

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
  header_names: Buffer[];
  header_values: (Buffer | null)[];
  error_code: string;
  error_message: string;
  received_at: Date;
}

/**
 * Stores dead letters idempotently: a record already stored (same topic, partition, offset) is left as it is,
 * so a batch retried after a crash never stores one twice. Returns how many rows were new.
 *
 * Throws only when PostgreSQL itself is in the way (isTransientPostgresError); the projector then pauses and
 * retries. A row PostgreSQL refuses for what it holds would be refused forever, and pausing on it would stop
 * the partition for good, so a permanent error on the batch falls back to one insert per row, and a row
 * refused again is stored in its minimal form (minimalFormOf). If even that is refused, the fault is not the
 * row's (a missing table, a read-only server): thrown, so the projector pauses and says so.
 */
export async function storeDeadLetters(db: ConnectionPool, letters: readonly DeadLetter[]): Promise<number> {
  let stored = 0;
  for (let start = 0; start < letters.length; start += ROWS_PER_INSERT) {
    stored += await storeSlice(db, letters.slice(start, start + ROWS_PER_INSERT));
  }
  return stored;
}

/**
 * A statement may carry at most 65,535 parameters (the protocol counts them in 16 bits) and a row takes 9.
 * More is refused as a protocol violation (SQLSTATE 08P01), which reads as a connection error: retried for ever.
 */
const ROWS_PER_INSERT = 1_000;

async function storeSlice(db: ConnectionPool, rows: readonly DeadLetter[]): Promise<number> {
  try {
    return await insertRows(db, rows);
  } catch (error) {
    if (isTransientPostgresError(error)) throw error;
  }
  // Refused for what some row holds: one row at a time, so only that row is stored in its minimal form.
  let stored = 0;
  for (const row of rows) {
    try {
      stored += await insertRows(db, [row]);
    } catch (error) {
      if (isTransientPostgresError(error)) throw error;
      stored += await insertMinimalForm(db, row, error);
    }
  }
  return stored;
}

async function insertRows(db: ConnectionPool, letters: readonly DeadLetter[]): Promise<number> {
  const rows = letters.map(
    (l) =>
      sql`(${l.topic}, ${l.partition}, ${l.offset}::bigint, ${l.key}, ${l.value},
           ${l.headers.map((h) => h.name)}::bytea[], ${l.headers.map((h) => h.value)}::bytea[],
           ${l.code}, ${l.message})`,
  );
  const inserted = await db.query(sql`
    INSERT INTO dead_letters
      (topic, partition, "offset", key, value, header_names, header_values, error_code, error_message)
    VALUES ${sql.join(rows, ',')}
    ON CONFLICT (topic, partition, "offset") DO NOTHING
    RETURNING id`);
  return inserted.length;
}

async function insertMinimalForm(db: ConnectionPool, letter: DeadLetter, refusal: unknown): Promise<number> {
  try {
    return await insertRows(db, [minimalFormOf(letter, refusal)]);
  } catch (error) {
    throw new Error(
      `PostgreSQL refused dead letter ${letter.topic}/${letter.partition}@${letter.offset} ` +
        `(SQLSTATE ${sqlStateOf(refusal) ?? 'none'}) and then even its minimal form ` +
        `(SQLSTATE ${sqlStateOf(error) ?? 'none'}): the database is at fault, not the record. ` +
        'Check that the migrations ran and the dead_letters table accepts inserts; the projector retries.',
      { cause: error },
    );
  }
}

/** A rejection code as the decoder writes them; anything else is not trusted into the minimal form. */
const PLAIN_CODE = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * What a refused row still gets: its position and raw bytes (bytea takes any bytes), its code when it is a
 * plain snake_case word (else `unstorable`), and an ASCII message naming the SQLSTATE and showing the original
 * message with everything outside printable ASCII escaped. ASCII fits every server encoding, so nothing in
 * this row can be refused for its content.
 */
function minimalFormOf(letter: DeadLetter, refusal: unknown): DeadLetter {
  const original = printableText(letter.message, { asciiOnly: true, maxChars: 800 });
  return {
    ...letter,
    // Kafka topic names are ASCII already; this only guards callers that are not Kafka.
    topic: printableText(letter.topic, { asciiOnly: true, maxChars: 249 }),
    code: PLAIN_CODE.test(letter.code) ? letter.code : 'unstorable',
    message:
      `the original message could not be stored (PostgreSQL refused the row, SQLSTATE ` +
      `${sqlStateOf(refusal) ?? 'none'}); in ASCII: ${original}`,
  };
}

/** The SQLSTATE of an error PostgreSQL answered with; errors from the network or the pool have none. */
function sqlStateOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  // A server's error carries a severity; Node's own errors (EPIPE, ECONNRESET) have a code but none.
  return typeof severity === 'string' && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)
    ? code
    : undefined;
}

/**
 * Transient: PostgreSQL could not be asked or could not answer now, and the same insert may work later.
 * Without a SQLSTATE the server gave no verdict (connection refused or reset, a timeout, the pool waiting too
 * long). With one: classes 08 (connection), 53 (out of disk, memory or connections), 57P (the server shutting
 * down or starting), 58 (the server's own I/O), 57014 (a statement timeout) and 40001/40P01 (serialization
 * failure, deadlock: retry by definition). Any other SQLSTATE is a verdict on the statement, which the same
 * rows would get again.
 */
export function isTransientPostgresError(error: unknown): boolean {
  const sqlState = sqlStateOf(error);
  if (sqlState === undefined) return true;
  return (
    ['08', '53', '58'].includes(sqlState.slice(0, 2)) ||
    sqlState.startsWith('57P') ||
    ['57014', '40001', '40P01'].includes(sqlState)
  );
}

/** Newest first. */
export async function listDeadLetters(
  db: ConnectionPool,
  options: { limit: number },
): Promise<StoredDeadLetter[]> {
  const rows = (await db.query(sql`
    SELECT id, topic, partition, "offset", key, value, header_names, header_values, error_code, error_message,
           received_at
    FROM dead_letters ORDER BY received_at DESC, id DESC LIMIT ${options.limit}`)) as DbDeadLetter[];
  return rows.map((row) => ({
    id: row.id.toString(),
    topic: row.topic,
    partition: row.partition,
    offset: row.offset.toString(),
    key: row.key,
    value: row.value,
    // The migration keeps both arrays the same length (a CHECK), so names and values pair up by index.
    headers: row.header_names.map((name, i) => ({ name, value: row.header_values[i] ?? null })),
    code: row.error_code,
    message: row.error_message,
    receivedAt: row.received_at,
  }));
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Bytes as a person reads them: `"text"` when they are valid UTF-8 (escaped as printableText does, quotes
 * escaped), otherwise `hex:` and the bytes; `null` for none. Long ones are cut, with the full length given.
 */
export function readableBytes(bytes: Uint8Array | null, maxChars = 200): string {
  if (bytes === null) return 'null';
  let text: string | undefined;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    text = undefined;
  }
  if (text !== undefined) return `"${printableText(text, { maxChars }).replaceAll('"', '\\"')}"`;
  const shown = Math.floor(maxChars / 2);
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, shown)).toString('hex');
  return bytes.byteLength > shown ? `hex:${hex}… (${bytes.byteLength} bytes)` : `hex:${hex}`;
}

/** `"name"="value", …` in stored order (see readableBytes for how each side is shown). */
export function readableHeaders(headers: readonly DeadLetterHeader[]): string {
  return headers.map((h) => `${readableBytes(h.name)}=${readableBytes(h.value)}`).join(', ');
}
