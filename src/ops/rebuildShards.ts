import { Worker } from 'node:worker_threads';
import { MIN_RESIDENT_RECORDS, type Config } from '../config.ts';
import type { Topics } from '../ingest/ensureTopics.ts';
import type { PartitionProgress } from '../ingest/projector.ts';
import type { Shard } from '../ingest/shardAssigner.ts';
import { planShards } from './shardPlan.ts';

/** `flush`: write the shard's state back (its projector's `flush`) once stopped; not when the rebuild is given up. */
export type ToShard = { type: 'stop'; flush: boolean };
export type FromShard =
  | { type: 'started' }
  /** Every partition of the shard as stored, and the events applied since the last report. */
  | { type: 'progress'; progress: PartitionProgress[]; applied: number }
  | { type: 'fatal'; message: string }
  /** Stopped, and writing its state back: bounded by the state's size, not by Kafka, so no longer timed out. */
  | { type: 'flushing' }
  /** `error`: why its state was not written back, when asked to. */
  | { type: 'stopped'; error?: string };

export interface RebuildShardsOptions {
  /** How to reach Kafka and PostgreSQL. */
  readonly config: Config;
  /** The rebuild's own (the offline command's is quieter than LOG_LEVEL: its progress display shares stdout). */
  readonly logLevel: string;
  readonly rebuildId: string;
  /** Threads that split the partitions: as many shards, at most one per partition number. */
  readonly threads: number;
  /** Records per partition number, both topics together: the shards take about equal shares of them. */
  readonly sizes: readonly number[];
  /** The rebuild's database, opened by the thread that runs the rebuild (RocksDatabase.handle). */
  readonly handle: bigint;
  readonly path: string;
  /** Shard i consumes in the group `${groupId}.${i}`. */
  readonly groupId: string;
  readonly sessionTimeoutMs: number;
  readonly topics: Topics;
  /** The whole rebuild's budget (RESIDENT_RECORDS), split in proportion to the shards' records. */
  readonly residentRecords: number;
  readonly snowflakeEpochMs: number | undefined;
  /** For benchmarks: each shard's thread writes a V8 CPU profile of its run there, `rebuild-<shard>.cpuprofile`. */
  readonly cpuProfileDir?: string;
  /** A shard cannot go on (its projector's onFatal, or its start failed). */
  readonly onFatal: (error: Error) => void;
  readonly onApplied: (events: number) => void;
}

/** What a shard's thread starts from (its workerData): the rebuild's settings, and its own share of them. */
export type ShardData = Pick<
  RebuildShardsOptions,
  | 'config'
  | 'logLevel'
  | 'rebuildId'
  | 'handle'
  | 'path'
  | 'sessionTimeoutMs'
  | 'topics'
  | 'snowflakeEpochMs'
  | 'cpuProfileDir'
> & {
  readonly shard: Shard;
  /** Its consumer group. */
  readonly groupId: string;
  /** Its share of the budget. */
  readonly residentRecords: number;
};

export interface RebuildShards {
  /** The consumer groups the shards use, to delete when the rebuild ends. */
  readonly groupIds: readonly string[];
  /** Resolves when every shard's projector has started; rejects when one could not. */
  started(): Promise<void>;
  /** Every shard's partitions, as last reported (at most PROGRESS_EVERY_MS old; only ever behind). */
  progress(): PartitionProgress[];
  /**
   * Stops every shard (each finishes its batch in hand), has each write its state back, and waits until their
   * threads are gone. Rejects unless every shard wrote its state back: the database is complete only then.
   */
  finish(): Promise<void>;
  /** Stops every shard without writing anything back (the rebuild is given up) and waits for their threads. */
  stop(): Promise<void>;
}

/**
 * A shard's young generation, above V8's default (48 MiB): a fetched batch keeps its messages and events alive
 * across many scavenges, which then copy them. A rebuild answers no one, so longer pauses cost nothing; 128 MiB
 * gained about 7% of a 5M-event rebuild (256 no more), at up to that much more memory a thread. Measured with
 * batches of up to 12 MiB, before a written-back projector's fetches became 4 MiB.
 */
export const SHARD_YOUNG_GENERATION_MB = 128;
/** How long a shard may take to finish its batch and leave its group before its thread is ended. */
const STOP_TIMEOUT_MS = 30_000;

/**
 * A rebuild's projectors, one thread each, over one database: each takes a share of the partitions (planShards),
 * in a consumer group of its own (shardAssigner.ts), so the shards never share a partition and the fold,
 * which takes one core, runs on as many as there are shards. The database stays open in the calling thread
 * until every shard's thread has exited: closing it under a thread still writing would touch freed memory.
 */
export function startRebuildShards(options: RebuildShardsOptions): RebuildShards {
  const { sizes } = options;
  const plan = planShards(sizes, Math.max(1, Math.min(options.threads, sizes.length)));
  const total = sizes.reduce((sum, size) => sum + size, 0);
  const groupIdOf = (index: number) => `${options.groupId}.${index}`;
  const shards: ShardThread[] = [];
  let failure: Error | undefined;
  try {
    plan.forEach((partitions, index) => {
      const records = partitions.reduce((sum, partition) => sum + (sizes[partition] ?? 0), 0);
      const share = total === 0 ? 1 / plan.length : records / total;
      shards.push(
        startShardThread(options, {
          config: options.config,
          logLevel: options.logLevel,
          rebuildId: options.rebuildId,
          shard: { index, partitions },
          handle: options.handle,
          path: options.path,
          groupId: groupIdOf(index),
          sessionTimeoutMs: options.sessionTimeoutMs,
          topics: options.topics,
          residentRecords: Math.max(MIN_RESIDENT_RECORDS, Math.floor(options.residentRecords * share)),
          snowflakeEpochMs: options.snowflakeEpochMs,
          ...(options.cpuProfileDir === undefined ? {} : { cpuProfileDir: options.cpuProfileDir }),
        }),
      );
    });
  } catch (error) {
    // A thread that could not be made (out of memory, say) fails the rebuild like a shard that failed. The
    // threads made before it are stopped by stop(), as any: the caller must not close the database before.
    failure = error instanceof Error ? error : new Error(String(error));
    options.onFatal(failure);
  }

  return {
    groupIds: plan.map((_, index) => groupIdOf(index)),
    started: async () => {
      if (failure !== undefined) throw failure;
      await Promise.all(shards.map((shard) => shard.started));
    },
    progress: () => shards.flatMap((shard) => shard.progress()),
    finish: async () => {
      if (failure !== undefined) throw failure;
      const stopped = await Promise.allSettled(shards.map((shard) => shard.stop(true)));
      const failed = stopped.find((result) => result.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    },
    stop: async () => {
      await Promise.allSettled(shards.map((shard) => shard.stop(false)));
    },
  };
}

interface ShardThread {
  readonly started: Promise<void>;
  progress(): PartitionProgress[];
  /** Resolves once the thread is gone; with `flush`, rejects unless it wrote its state back. */
  stop(flush: boolean): Promise<void>;
}

/** One shard's thread: its reports kept, its failure told once, its stop bounded by STOP_TIMEOUT_MS. */
function startShardThread(options: RebuildShardsOptions, data: ShardData): ShardThread {
  const worker = new Worker(new URL('./rebuildShardThread.ts', import.meta.url), {
    workerData: data,
    resourceLimits: { maxYoungGenerationSizeMb: SHARD_YOUNG_GENERATION_MB },
  });
  let progress: PartitionProgress[] = [];
  let stopping = false;
  let failed = false;
  let flushing = false;
  /** Ends the wait for the thread to exit (stop() then terminates it). */
  let giveUp: (() => void) | undefined;
  /** How the thread's stop ended, once it said so. */
  let stopped: { error?: string } | undefined;
  let starting!: { resolve: () => void; reject: (error: Error) => void };
  const started = new Promise<void>((resolve, reject) => (starting = { resolve, reject }));
  // Awaited by started(); a failure after the start is told through onFatal.
  started.catch(() => undefined);
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', () => {
      resolve();
    });
  });
  /** The first failure only: a thread that throws also exits, and the exit says less. */
  const fail = (message: string) => {
    if (stopping || failed) return;
    failed = true;
    const error = new Error(`rebuild shard ${data.shard.index}: ${message}`);
    starting.reject(error);
    options.onFatal(error);
  };
  worker.on('message', (message: FromShard) => {
    switch (message.type) {
      case 'started':
        starting.resolve();
        break;
      case 'progress':
        progress = message.progress;
        if (message.applied > 0) options.onApplied(message.applied);
        break;
      case 'fatal':
        fail(message.message);
        break;
      case 'flushing':
        flushing = true;
        break;
      case 'stopped':
        stopped = message.error === undefined ? {} : { error: message.error };
        // Said it is done: its thread ends by itself, but is given no longer than a stop to do so.
        giveUp?.();
        break;
    }
  });
  worker.on('error', (error: Error) => {
    fail(error.message);
  });
  void exited.then(() => {
    fail('its thread exited');
  });
  return {
    started,
    progress: () => progress,
    async stop(flush) {
      stopping = true;
      worker.postMessage({ type: 'stop', flush } satisfies ToShard);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        // Flushing is bounded by the state's size, not by Kafka: not timed out. Once the thread said it stopped,
        // it has a stop's time to exit (an open connection could keep it alive).
        timer = setTimeout(() => {
          if (!flushing || stopped !== undefined) resolve();
        }, STOP_TIMEOUT_MS);
        giveUp = () => {
          clearTimeout(timer);
          timer = setTimeout(resolve, STOP_TIMEOUT_MS);
        };
        if (stopped !== undefined) giveUp();
      });
      await Promise.race([exited, late]);
      clearTimeout(timer);
      // A shard that did not stop in time is ended: the database must outlive every thread using it.
      await worker.terminate();
      await exited;
      if (!flush) return;
      if (stopped === undefined) {
        throw new Error(`rebuild shard ${data.shard.index} did not stop within ${STOP_TIMEOUT_MS} ms`);
      }
      if (stopped.error !== undefined) {
        throw new Error(`rebuild shard ${data.shard.index} did not write its state: ${stopped.error}`);
      }
    },
  };
}
