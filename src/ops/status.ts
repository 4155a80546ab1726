import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Admin } from 'kafkajs';
import type { ClusterAnswer } from '../engine/clusterAnswer.ts';
import type { TopicKind } from '../contract/events.ts';
import type { Topics } from '../ingest/ensureTopics.ts';
import { currentGeneration } from '../store/generations.ts';
import type { RebuildRow } from './rebuilds.ts';
import { readStoredOffset } from '../store/storedOffsets.ts';
import { openRocksDatabase } from '../store/rocksDatabase.ts';

export interface PartitionStatus {
  topic: string;
  partition: number;
  /** Next offset to apply; null when nothing was applied yet. */
  stored: string | null;
  high: string;
  lag: string;
}

export interface Status {
  /**
   * `rocksdb`: offsets read from the state itself (the service is stopped). `kafka`: the group's committed
   * offsets, which the service commits right after each durable write (RocksDB is locked while it runs).
   */
  source: 'rocksdb' | 'kafka';
  partitions: PartitionStatus[];
}

/** Per partition of both topics: what is applied, what Kafka holds, and the difference. */
export async function readStatus(
  admin: Admin,
  topics: Topics,
  groupId: string,
  dataDir: string,
): Promise<Status> {
  const kinds: [TopicKind, string][] = [
    ['messages', topics.messages],
    ['acks', topics.acks],
  ];
  const stored = await storedFromRocks(dataDir, kinds, admin);
  const partitions: PartitionStatus[] = [];
  for (const [kind, topic] of kinds) {
    const highs = await admin.fetchTopicOffsets(topic);
    const committed = stored === undefined ? await admin.fetchOffsets({ groupId, topics: [topic] }) : [];
    for (const { partition, high } of highs.sort((a, b) => a.partition - b.partition)) {
      const fromRocks = stored?.get(`${kind}:${partition}`);
      const fromKafka = committed[0]?.partitions.find((p) => p.partition === partition)?.offset;
      const at =
        stored === undefined ? (fromKafka === undefined || fromKafka === '-1' ? null : fromKafka) : fromRocks;
      partitions.push({
        topic,
        partition,
        stored: at ?? null,
        high,
        lag: (BigInt(high) - BigInt(at ?? '0')).toString(),
      });
    }
  }
  return { source: stored === undefined ? 'kafka' : 'rocksdb', partitions };
}

/**
 * The offsets in RocksDB; undefined when a running service holds it locked, or when it is not on this machine
 * (status run from elsewhere): the group's commits then stand in.
 */
async function storedFromRocks(
  dataDir: string,
  kinds: [TopicKind, string][],
  admin: Admin,
): Promise<Map<string, string> | undefined> {
  // A CURRENT naming a missing generation stops `serve`; status still says what Kafka knows.
  const generation = await currentGeneration(dataDir).catch(() => undefined);
  if (generation === undefined) return undefined;
  const path = join(dataDir, generation);
  if (!existsSync(path)) return undefined;
  let db;
  try {
    db = await openRocksDatabase(path);
  } catch {
    return undefined;
  }
  try {
    const stored = new Map<string, string>();
    for (const [kind, topic] of kinds) {
      for (const { partition } of await admin.fetchTopicOffsets(topic)) {
        const offset = await readStoredOffset(db, partition, kind);
        if (offset !== undefined) stored.set(`${kind}:${partition}`, offset.toString());
      }
    }
    return stored;
  } finally {
    await db.close();
  }
}

export function formatStatus(status: Status): string {
  const rows = status.partitions.map((p) => [p.topic, String(p.partition), p.stored ?? '-', p.high, p.lag]);
  const header = ['topic', 'partition', 'stored', 'high watermark', 'lag'];
  const note =
    status.source === 'rocksdb'
      ? 'stored offsets read from RocksDB: where the next start resumes (after a crash, up to WRITE_BACK_MS (30 s unless set) or 300,000 events a partition behind what was applied; the start replays from there)'
      : 'stored = offsets the group committed after each durable write (the service is running and holds RocksDB, or its DATA_DIR is not on this machine)';
  return [formatColumns(header, rows), '', note].join('\n');
}

/** GET /v1/cluster of the service at `url`; undefined when it does not answer (stopped, elsewhere, refusing). */
export async function readCluster(
  url: string,
  token: string | undefined,
): Promise<ClusterAnswer | undefined> {
  try {
    const response = await fetch(`${url}/v1/cluster`, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(3_000),
    });
    return response.ok ? ((await response.json()) as ClusterAnswer) : undefined;
  } catch {
    return undefined;
  }
}

/** Per partition: who owns it, where it moves from, this instance's state of it and the group's lag. */
export function formatCluster(cluster: ClusterAnswer): string {
  const rows = cluster.partitions.map((p) => [
    String(p.partition),
    p.owner ?? '-',
    p.previous_owner ?? '-',
    p.here,
    p.lag === null ? '-' : `${p.lag.messages ?? '-'} / ${p.lag.acks ?? '-'}`,
  ]);
  const header = ['partition', 'owner', 'moved from', `state here (${cluster.self})`, 'lag messages / acks'];
  return `cluster: ${cluster.members.length} member(s), map made ${cluster.assigned_at ?? 'never'}\n${formatColumns(header, rows)}`;
}

export function formatRebuilds(rebuilds: readonly RebuildRow[] | Error): string {
  if (rebuilds instanceof Error) return `rebuilds: unknown (cannot read PostgreSQL: ${rebuilds.message})`;
  if (rebuilds.length === 0) return 'rebuilds: none yet';
  const rows = rebuilds.map((r) => [
    r.id,
    r.mode,
    r.status,
    r.requestedAt.toISOString(),
    r.finishedAt?.toISOString() ?? '-',
    String(r.eventsApplied),
    r.error ?? '',
  ]);
  const header = ['rebuild', 'mode', 'status', 'requested', 'finished', 'events', 'error'];
  return formatColumns(header, rows);
}

/** Plain aligned columns for a terminal. */
function formatColumns(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
