import { Worker } from 'node:worker_threads';
import type { Config } from '../config.ts';
import type { Snowflake } from '../contract/snowflake.ts';
import type { TopicKind } from '../contract/events.ts';
import type { ClusterMap } from '../ingest/clusterMap.ts';
import type { GroupLag } from '../ingest/groupLag.ts';
import type { PartitionProgress } from '../ingest/projector.ts';
import type { Logger } from '../logger.ts';
import type { RebuildProgress } from '../ops/rebuild.ts';
import type { ReadStateView } from '../projection/readStateOf.ts';
import { ApiError } from '../api/apiError.ts';
import type { SharedHotTier } from '../store/hotTier.ts';
import type {
  Dependencies,
  EngineMessage,
  EngineRequest,
  EngineStats,
  HotTierWriterStats,
} from './engineProtocol.ts';
import type { SharedPartitionStates } from '../ingest/partitionStates.ts';

/** Lookups waiting on the engine at once; past it a lookup is refused at once (503) rather than queued. */
export const MAX_LOOKUPS_IN_FLIGHT = 256;
/** How long a lookup waits for the engine (RocksDB reads take milliseconds; a stalled engine must not hang HTTP). */
export const ENGINE_LOOKUP_TIMEOUT_MS = 5_000;
/** How long close() waits for the engine to close RocksDB and end before the thread is terminated. */
const CLOSE_TIMEOUT_MS = 4_000;

export interface EngineListeners {
  onApplied(applied: { topic: TopicKind; events: number; deadLetters: number; ms: number }): void;
  onDeadLetterOutage(paused: boolean): void;
  /** The engine failed for good (consumer crash, thread error): the process should exit non-zero. */
  onFatal(error: Error): void;
  /** The consumer group's map of members and owners, after each rebalance. */
  onClusterMap?(map: ClusterMap): void;
}

/** The HTTP thread's handle on the engine thread (engineThread.ts). */
export interface Engine {
  /** Resolves once RocksDB is open, with the hot tier's and the partition states' buffers to read. */
  readonly opened: Promise<{ hotTier: SharedHotTier; partitions: SharedPartitionStates }>;
  /** Resolves once the projector has started (topics checked, group joined or joining). */
  readonly started: Promise<{ partitionCount: number }>;
  lookup(userId: Snowflake, channelIds: readonly Snowflake[]): Promise<ReadStateView[]>;
  listChannels(
    userId: Snowflake,
    options: { limit: number; after?: Snowflake; partitions?: readonly number[] },
  ): Promise<Snowflake[]>;
  /** As last reported (every second and after every write). */
  progress(): PartitionProgress[];
  hotTierStats(): HotTierWriterStats | undefined;
  /** PostgreSQL and Kafka as last reported; undefined until the first report. */
  dependencies(): Dependencies | undefined;
  /** Lookups refused because MAX_LOOKUPS_IN_FLIGHT were waiting, and lookups that timed out, since start. */
  refusals(): { overloaded: number; timedOut: number };
  engineStats(): EngineStats | undefined;
  /** Every partition's lag by the group's committed offsets (for GET /v1/cluster). */
  groupLag(): Promise<GroupLag[]>;
  /** Starts an online rebuild (ops/rebuild.ts); rejects while one is running. */
  startRebuild(): Promise<{ id: string }>;
  /** The latest rebuild's progress since this process started; null when there was none. */
  rebuildStatus(): Promise<RebuildProgress | null>;
  /** Finishes the batch in hand and leaves the consumer group; lookups still answer. */
  stopProjector(): Promise<void>;
  /** Closes RocksDB and PostgreSQL and ends the thread. */
  close(): Promise<void>;
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

export function startEngine(config: Config, logger: Logger, listeners: EngineListeners): Engine {
  const worker = new Worker(new URL('./engineThread.ts', import.meta.url), { workerData: config });
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let progress: PartitionProgress[] = [];
  let hotTierStats: HotTierWriterStats | undefined;
  let engineStats: EngineStats | undefined;
  let dependencies: Dependencies | undefined;
  let exited = false;
  let closing = false;
  let lookupsInFlight = 0;
  const refusals = { overloaded: 0, timedOut: 0 };

  let opened!: Pending;
  let started!: Pending;
  const openedPromise = new Promise<unknown>((resolve, reject) => (opened = { resolve, reject }));
  const startedPromise = new Promise<unknown>((resolve, reject) => (started = { resolve, reject }));
  // Start-up failures surface through these promises; without a listener yet, they must not crash the process.
  openedPromise.catch(() => undefined);
  startedPromise.catch(() => undefined);

  const failAll = (error: Error) => {
    opened.reject(error);
    started.reject(error);
    for (const { reject } of pending.values()) reject(error);
    pending.clear();
  };

  worker.on('message', (message: EngineMessage) => {
    switch (message.type) {
      case 'reply': {
        const waiting = pending.get(message.id);
        pending.delete(message.id);
        if (message.ok) waiting?.resolve(message.value);
        else waiting?.reject(Object.assign(new Error(message.message), { code: message.code }));
        return;
      }
      case 'opened': {
        opened.resolve({ hotTier: message.hotTier, partitions: message.partitions });
        return;
      }
      case 'started': {
        started.resolve({ partitionCount: message.partitionCount });
        return;
      }
      case 'failed': {
        failAll(new Error(message.message));
        return;
      }
      case 'fatal': {
        listeners.onFatal(new Error(message.message));
        return;
      }
      case 'progress':
        progress = message.progress;
        dependencies = message.dependencies;
        hotTierStats = message.hotTier;
        engineStats = message.engine;
        return;
      case 'applied': {
        listeners.onApplied(message);
        return;
      }
      case 'cluster':
        listeners.onClusterMap?.(message.map);
        return;
      case 'deadLetterOutage': {
        listeners.onDeadLetterOutage(message.paused);
        return;
      }
    }
  });
  worker.on('error', (error: Error) => {
    logger.error({ err: error }, 'engine thread failed');
    failAll(error);
    listeners.onFatal(error);
  });
  worker.on('exit', (code) => {
    exited = true;
    const error = new Error(`the engine thread exited (code ${code})`);
    failAll(error);
    // Never half alive: HTTP would serve a frozen hot tier and say it is ready.
    if (!closing) listeners.onFatal(error);
  });

  function call<T>(request: WithoutId<EngineRequest>): Promise<T> {
    if (exited) return Promise.reject(new Error('the engine thread has exited'));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ ...request, id });
    });
  }

  /** A query for HTTP: refused when too many wait already, and given up on (503) when the engine is slow. */
  async function query<T>(request: WithoutId<EngineRequest>): Promise<T> {
    if (lookupsInFlight >= MAX_LOOKUPS_IN_FLIGHT) {
      refusals.overloaded++;
      throw new ApiError('overloaded', `${MAX_LOOKUPS_IN_FLIGHT} lookups are waiting on storage already`);
    }
    lookupsInFlight++;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        call<T>(request),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            refusals.timedOut++;
            reject(
              new ApiError('engine_timeout', `storage did not answer within ${ENGINE_LOOKUP_TIMEOUT_MS} ms`),
            );
          }, ENGINE_LOOKUP_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      lookupsInFlight--;
    }
  }

  return {
    opened: openedPromise as Promise<{ hotTier: SharedHotTier; partitions: SharedPartitionStates }>,
    started: startedPromise as Promise<{ partitionCount: number }>,
    lookup: (userId, channelIds) => query({ type: 'lookup', userId, channelIds }),
    listChannels: (userId, options) =>
      query({
        type: 'listChannels',
        userId,
        limit: options.limit,
        ...(options.after === undefined ? {} : { after: options.after }),
        ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
      }),
    progress: () => progress,
    hotTierStats: () => hotTierStats,
    dependencies: () => dependencies,
    refusals: () => ({ ...refusals }),
    engineStats: () => engineStats,
    groupLag: () => call({ type: 'groupLag' }),
    startRebuild: () => call({ type: 'startRebuild' }),
    rebuildStatus: () => call({ type: 'rebuildStatus' }),
    // Nothing to stop once the thread is gone (it ended, or died: that is reported as fatal already).
    stopProjector: () => (exited ? Promise.resolve() : call({ type: 'stopProjector' })),
    async close() {
      closing = true;
      if (exited) return;
      const ended = new Promise((resolve) => worker.once('exit', resolve));
      void call({ type: 'close' }).catch(() => undefined);
      const timer = setTimeout(() => {
        // RocksDB's write-ahead log keeps the state consistent even so, as after a crash.
        logger.warn({ timeoutMs: CLOSE_TIMEOUT_MS }, 'the engine did not close in time; terminating it');
        void worker.terminate();
      }, CLOSE_TIMEOUT_MS);
      await ended;
      clearTimeout(timer);
    },
  };
}
