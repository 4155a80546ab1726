import { sql } from '@databases/pg';
import type { ConnectionPool } from './database.ts';

/** The `rebuilds` table (migrations/00002-rebuilds.sql): one row per rebuild, for operators and `status`. */
export type RebuildStatus = 'requested' | 'running' | 'switching' | 'succeeded' | 'failed' | 'abandoned';
export type Offsets = Record<string, string>;

export type RebuildRow = {
  id: string;
  mode: 'online' | 'offline';
  instance: string;
  generation: string | null;
  requestedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  status: RebuildStatus;
  eventsApplied: number;
  fromOffsets: Offsets | null;
  toOffsets: Offsets | null;
  error: string | null;
};

type DbRebuild = {
  id: bigint;
  mode: 'online' | 'offline';
  instance: string;
  generation: string | null;
  requested_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  status: RebuildStatus;
  events_applied: bigint;
  from_offsets: Offsets | null;
  to_offsets: Offsets | null;
  error: string | null;
};

export async function recordRebuildRequested(
  db: ConnectionPool,
  mode: 'online' | 'offline',
  instance: string,
): Promise<string> {
  const [row] = (await db.query(
    sql`INSERT INTO rebuilds (mode, instance) VALUES (${mode}, ${instance}) RETURNING id`,
  )) as { id: bigint }[];
  if (row === undefined) throw new Error('INSERT INTO rebuilds returned no id');
  return row.id.toString();
}

export async function recordRebuildStarted(
  db: ConnectionPool,
  id: string,
  start: { generation: string; fromOffsets: Offsets; toOffsets: Offsets },
): Promise<void> {
  await db.query(sql`
    UPDATE rebuilds SET status = 'running', started_at = now(), generation = ${start.generation},
      from_offsets = ${JSON.stringify(start.fromOffsets)}::jsonb, to_offsets = ${JSON.stringify(start.toOffsets)}::jsonb
    WHERE id = ${id}::bigint`);
}

export async function recordRebuildProgress(
  db: ConnectionPool,
  id: string,
  progress: { status?: 'running' | 'switching'; eventsApplied: number },
): Promise<void> {
  await db.query(sql`
    UPDATE rebuilds SET events_applied = ${progress.eventsApplied}, status = COALESCE(${progress.status ?? null}, status)
    WHERE id = ${id}::bigint`);
}

export async function recordRebuildFinished(
  db: ConnectionPool,
  id: string,
  end: { status: 'succeeded' | 'failed'; eventsApplied: number; error?: string },
): Promise<void> {
  await db.query(sql`
    UPDATE rebuilds SET status = ${end.status}, finished_at = now(), events_applied = ${end.eventsApplied},
      error = ${end.error ?? null}
    WHERE id = ${id}::bigint`);
}

/**
 * At start-up: rebuilds this instance was running when it stopped are over. One whose generation is `current`
 * had switched (the process stopped while cleaning up): it succeeded. Any other was abandoned, and its
 * half-built generation gets deleted. Returns how many were abandoned.
 */
export async function closeUnfinishedRebuilds(
  db: ConnectionPool,
  instance: string,
  current: string,
): Promise<number> {
  const rows = (await db.query(sql`
    UPDATE rebuilds SET finished_at = now(),
      status = CASE WHEN generation = ${current} THEN 'succeeded' ELSE 'abandoned' END,
      error = CASE WHEN generation = ${current} THEN NULL
        ELSE 'the process stopped during the rebuild; its half-built generation was deleted at the next start' END
    WHERE instance = ${instance} AND status IN ('requested', 'running', 'switching')
    RETURNING status`)) as { status: string }[];
  return rows.filter((row) => row.status === 'abandoned').length;
}

export async function listRebuilds(db: ConnectionPool, options: { limit: number }): Promise<RebuildRow[]> {
  const rows = (await db.query(
    sql`SELECT * FROM rebuilds ORDER BY requested_at DESC, id DESC LIMIT ${options.limit}`,
  )) as DbRebuild[];
  return rows.map((row) => ({
    id: row.id.toString(),
    mode: row.mode,
    instance: row.instance,
    generation: row.generation,
    requestedAt: row.requested_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    status: row.status,
    eventsApplied: Number(row.events_applied),
    fromOffsets: row.from_offsets,
    toOffsets: row.to_offsets,
    error: row.error,
  }));
}
