import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import type { Config } from '../config.ts';
import type { Topics } from '../ingest/ensureTopics.ts';
import type { PartitionProgress } from '../ingest/projector.ts';
import type { Logger } from '../logger.ts';
import {
  currentGeneration,
  rebuildGeneration,
  removeOtherGenerations,
  switchGeneration,
} from '../store/generations.ts';
import { metaKey } from '../store/keys.ts';
import { openRocksDatabase, type RocksDatabase } from '../store/rocksDatabase.ts';
import type { ConnectionPool } from './database.ts';
import { startRebuildShards, type RebuildShards } from './rebuildShards.ts';
import {
  type Offsets,
  recordRebuildFinished,
  recordRebuildProgress,
  recordRebuildStarted,
} from './rebuilds.ts';

export type RebuildProgress = {
  readonly id: string;
  readonly mode: 'online' | 'offline';
  readonly status: 'running' | 'switching' | 'succeeded' | 'failed';
  readonly generation: string;
  readonly eventsApplied: number;
  /** Over the last few seconds. */
  readonly eventsPerSecond: number;
  /** Events the new generation still has to apply to catch up (with the live generation, or with `to`). */
  readonly lag: number;
  readonly etaSeconds: number | null;
  readonly startedAt: string;
  readonly error?: string;
};

/** The generation serving while an online rebuild runs: the engine's side of the switch. */
export interface LiveGeneration {
  /** Its next offset per `topic:partition` (absent: nothing applied). */
  offsets(): Promise<Map<string, bigint>>;
  /** Stops applying (the batch in hand finishes) and returns the offsets it stopped at. */
  pause(): Promise<Map<string, bigint>>;
  /** Serves and applies from `db` from now on, makes `generation` current on disk, resumes, drops the old one. */
  switchTo(db: RocksDatabase, generation: string): Promise<void>;
  /** Resumes after a pause when the rebuild failed instead. */
  resume(): void;
}

export type RebuildOptions = {
  id: string;
  kafka: Kafka;
  /** How the rebuild's threads reach Kafka and PostgreSQL (KAFKA_*, DATABASE_URL) and log (LOG_LEVEL). */
  config: Config;
  /** Threads that split the partitions between them (REBUILD_THREADS); at most one per partition number. */
  threads: number;
  /** The live group; the rebuild consumes in a group of its own derived from it, and never commits to this one. */
  groupId: string;
  sessionTimeoutMs: number;
  topics: Topics;
  dataDir: string;
  pool: ConnectionPool;
  logger: Logger;
  /** Ids the rebuild's projectors keep resident in memory, all together (RESIDENT_RECORDS). */
  residentRecords: number;
  /** The ids' epoch (SNOWFLAKE_EPOCH_MS). */
  snowflakeEpochMs?: number;
  /** Online: catch up with this generation, then switch to the new one. Offline (absent): catch up with `to`. */
  live?: LiveGeneration;
  onProgress?: (progress: RebuildProgress) => void;
  /** For benchmarks: each of the rebuild's threads writes a V8 CPU profile there (rebuildShards.ts). */
  cpuProfileDir?: string;
};

/** A second rebuild asked for while one runs: the caller's mistake (the API answers 409), not a failure. */
export class RebuildRunning extends Error {
  readonly code = 'rebuild_running';
  constructor(id: string | undefined) {
    super(`a rebuild is already running (id ${id ?? 'starting'})`);
  }
}

const TICK_MS = 500;
const RECORD_EVERY_MS = 5_000;
const RATE_WINDOW_MS = 5_000;

const key = (topic: string, partition: number) => `${topic}:${partition}`;

/** Events between `progress` and `target`; a partition not reported yet counts whole. */
function lagBehind(progress: readonly PartitionProgress[], target: ReadonlyMap<string, bigint>): number {
  const stored = new Map(progress.map((p) => [key(p.topic, p.partition), p.stored]));
  let lag = 0n;
  for (const [id, wanted] of target) {
    const at = stored.get(id) ?? 0n;
    if (wanted > at) lag += wanted - at;
  }
  return Number(lag);
}

/**
 * Rebuilds the state from the topics into a new generation with the live projector's own code, from the earliest
 * offsets, on `threads` threads that split the partitions (rebuildShards.ts), in consumer groups of their own (so
 * the live group's offsets are untouched). Dead letters met again
 * are stored idempotently (once per Kafka position). When the new generation has caught up, an online rebuild
 * pauses the live projector, lets the new one reach the exact offsets it stopped at and switches; an offline one
 * makes the new generation current. On failure the new generation is deleted and the live one is untouched.
 */
export async function runRebuild(options: RebuildOptions): Promise<RebuildProgress> {
  const { id, kafka, topics, dataDir, pool, live } = options;
  const log = options.logger.child({ part: 'rebuild', rebuild: id });
  const mode = live === undefined ? 'offline' : 'online';
  const generation = rebuildGeneration(id);
  const path = join(dataDir, generation);
  const startedAt = new Date().toISOString();
  let eventsApplied = 0;
  const samples: { at: number; events: number }[] = [];
  let failure: Error | undefined;
  let pausedLive = false;

  const snapshot = (status: RebuildProgress['status'], lag: number, error?: string): RebuildProgress => {
    const now = performance.now();
    samples.push({ at: now, events: eventsApplied });
    while (samples.length > 2 && (samples[0]?.at ?? now) < now - RATE_WINDOW_MS) samples.shift();
    const first = samples[0] ?? { at: now, events: eventsApplied };
    const eventsPerSecond = now > first.at ? ((eventsApplied - first.events) * 1000) / (now - first.at) : 0;
    return {
      id,
      mode,
      status,
      generation,
      eventsApplied,
      eventsPerSecond,
      lag,
      etaSeconds: eventsPerSecond > 0 ? lag / eventsPerSecond : null,
      startedAt,
      ...(error === undefined ? {} : { error }),
    };
  };

  const groupId = `${options.groupId}.rebuild-${id}`;
  let db: RocksDatabase | undefined;
  let shards: RebuildShards | undefined;
  try {
    const { from, to } = await replayRange(kafka, topics);
    const toOffsets = Object.fromEntries([...to].map(([k, v]) => [k, v.toString()]));
    await rm(path, { recursive: true, force: true });
    const opened = await openRocksDatabase(path);
    db = opened;
    await recordRebuildStarted(pool, id, { generation, fromOffsets: from, toOffsets });
    log.info({ mode, generation, to: toOffsets }, 'rebuild started');

    const partitions = to.size;
    const started = startRebuildShards({
      config: options.config,
      logLevel: options.logger.level,
      rebuildId: id,
      threads: options.threads,
      sizes: recordsByPartition(to, topics),
      handle: opened.handle,
      path,
      groupId,
      sessionTimeoutMs: options.sessionTimeoutMs,
      topics,
      residentRecords: options.residentRecords,
      snowflakeEpochMs: options.snowflakeEpochMs,
      ...(options.cpuProfileDir === undefined ? {} : { cpuProfileDir: options.cpuProfileDir }),
      // The first failure says why; what failed after it may only be its consequence.
      onFatal: (error) => (failure ??= error),
      onApplied: (events) => (eventsApplied += events),
    });
    shards = started;
    await started.started();
    let lastRecorded = performance.now();
    /** Waits until the new generation has reached `target` on every partition of both topics. */
    const catchUp = async (
      target: () => Promise<ReadonlyMap<string, bigint>>,
      status: 'running' | 'switching',
    ) => {
      for (;;) {
        if (failure !== undefined) throw failure;
        const progress = started.progress();
        const lag = lagBehind(progress, await target());
        options.onProgress?.(snapshot(status, lag));
        if (performance.now() - lastRecorded > RECORD_EVERY_MS) {
          lastRecorded = performance.now();
          await recordRebuildProgress(pool, id, { status, eventsApplied });
        }
        if (progress.length === partitions && lag === 0) return;
        await new Promise((resolve) => setTimeout(resolve, TICK_MS));
      }
    };

    if (live === undefined) {
      await catchUp(() => Promise.resolve(to), 'running');
      await started.finish();
      await makeDurable(opened);
      await opened.close();
      await switchGeneration(dataDir, generation);
      const removed = await removeOtherGenerations(dataDir, generation);
      log.info({ generation, removed }, 'rebuilt generation is current');
    } else {
      await catchUp(() => live.offsets(), 'running');
      // Close enough to switch: stop the live projector, so the target stands still, and reach it exactly.
      await recordRebuildProgress(pool, id, { status: 'switching', eventsApplied });
      // Before: a pause that fails part-way (writing back) must still be undone.
      pausedLive = true;
      const final = await live.pause();
      await catchUp(() => Promise.resolve(final), 'switching');
      await started.finish();
      await makeDurable(opened);
      await live.switchTo(opened, generation);
      pausedLive = false;
      log.info({ generation }, 'switched to the rebuilt generation');
    }
    const done = snapshot('succeeded', 0);
    await recordRebuildFinished(pool, id, { status: 'succeeded', eventsApplied });
    options.onProgress?.(done);
    return done;
  } catch (error) {
    const message = (error as Error).message;
    if ((await currentGeneration(dataDir).catch(() => undefined)) === generation) {
      // Past the switch of CURRENT: the new generation is the live one (and the engine may be serving it);
      // only what came after failed, e.g. deleting the old generation, which the next start retries.
      log.warn(
        { err: error, generation },
        'switched to the rebuilt generation, but cleaning up after it failed',
      );
      if (pausedLive) live?.resume();
      await recordRebuildFinished(pool, id, { status: 'succeeded', eventsApplied, error: message }).catch(
        () => undefined,
      );
      const done = snapshot('succeeded', 0, `switched; cleanup failed: ${message}`);
      options.onProgress?.(done);
      return done;
    }
    log.error({ err: error }, 'rebuild failed; the live generation is untouched');
    // Before the database closes: no shard may write into it after.
    await shards?.stop().catch(() => undefined);
    if (pausedLive) live?.resume();
    await db?.close().catch(() => undefined);
    await rm(path, { recursive: true, force: true }).catch(() => undefined);
    await recordRebuildFinished(pool, id, { status: 'failed', eventsApplied, error: message }).catch(
      () => undefined,
    );
    const failed = snapshot('failed', 0, message);
    options.onProgress?.(failed);
    return failed;
  } finally {
    // The rebuild's groups served their purpose; leave no empty group behind in the broker.
    if (shards !== undefined) await deleteGroups(kafka, shards.groupIds, log);
  }
}

/**
 * Where the replay starts and what it must reach at least: every partition's low and high watermarks. Refuses
 * when a log no longer starts at offset 0: the broker deleted events (retention), so the replay cannot reproduce
 * the state, and the live generation, built while they existed, is the better one.
 */
async function replayRange(
  kafka: Kafka,
  topics: Topics,
): Promise<{ from: Offsets; to: Map<string, bigint> }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const from: Offsets = {};
    const to = new Map<string, bigint>();
    for (const topic of [topics.messages, topics.acks]) {
      for (const { partition, low, high } of await admin.fetchTopicOffsets(topic)) {
        if (BigInt(low) > 0n) {
          throw new Error(
            `${topic} partition ${partition} starts at offset ${low}: the broker has deleted its earlier events ` +
              '(retention), so a rebuild cannot reproduce the state. Keep the live generation; set ' +
              'retention.ms=-1 and retention.bytes=-1 on both topics so that this cannot happen again.',
          );
        }
        from[key(topic, partition)] = low;
        to.set(key(topic, partition), BigInt(high));
      }
    }
    return { from, to };
  } finally {
    await admin.disconnect();
  }
}

/**
 * Records per partition number on both topics, from their high watermarks (the logs start at 0: replayRange).
 * Topics that are not co-partitioned are refused by the shards' projectors (ensureTopics); the smaller count is
 * used meanwhile.
 */
function recordsByPartition(to: ReadonlyMap<string, bigint>, topics: Topics): number[] {
  const count = (topic: string) => [...to.keys()].filter((k) => k.startsWith(`${topic}:`)).length;
  const partitions = Math.min(count(topics.messages), count(topics.acks));
  return Array.from({ length: partitions }, (_, p) =>
    Number((to.get(key(topics.messages, p)) ?? 0n) + (to.get(key(topics.acks, p)) ?? 0n)),
  );
}

/**
 * The rebuild wrote without fsync; one fsynced write makes everything before it durable too (RocksDB syncs every
 * write-ahead log not yet synced, and flushed tables are synced as they are written).
 */
async function makeDurable(db: RocksDatabase): Promise<void> {
  const rebuiltAt = {
    type: 'put' as const,
    key: metaKey('rebuilt_at'),
    value: Buffer.from(new Date().toISOString()),
  };
  await db.write([rebuiltAt], { sync: true });
}

async function deleteGroups(kafka: Kafka, groupIds: readonly string[], log: Logger): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteGroups([...groupIds]);
  } catch (error) {
    log.debug({ err: error, groupIds }, 'could not delete the rebuild consumer groups');
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
