import { Worker } from 'node:worker_threads';
import type { Config } from '../config.ts';
import type { Snowflake } from '../contract/snowflake.ts';
import type { TopicKind } from '../contract/events.ts';
import type { PartitionProgress } from '../ingest/projector.ts';
import type { Logger } from '../logger.ts';
import type { RebuildProgress } from '../ops/rebuild.ts';
import type { ReadStateView } from '../projection/readStateOf.ts';
import type { SharedHotTier } from '../store/hotTier.ts';
import type { EngineMessage, EngineRequest, EngineStats, HotTierWriterStats } from './engineProtocol.ts';

export interface EngineListeners {
  onApplied(applied: { topic: TopicKind; events: number; deadLetters: number; ms: number }): void;
  onDeadLetterOutage(paused: boolean): void;
  /** The engine failed for good (consumer crash, thread error): the process should exit non-zero. */
  onFatal(error: Error): void;
}

/** The HTTP thread's handle on the engine thread (engineThread.ts). */
export interface Engine {
  /** Resolves once RocksDB is open, with the hot tier's buffers to read. */
  readonly opened: Promise<SharedHotTier>;
  /** Resolves once the projector has started (topics checked, group joined or joining). */
  readonly started: Promise<{ partitionCount: number }>;
  lookup(userId: Snowflake, channelIds: readonly Snowflake[]): Promise<ReadStateView[]>;
  listChannels(userId: Snowflake, options: { limit: number; after?: Snowflake }): Promise<Snowflake[]>;
  /** As last reported (every second and after every write). */
  progress(): PartitionProgress[];
  hotTierStats(): HotTierWriterStats | undefined;
  engineStats(): EngineStats | undefined;
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
  let exited = false;

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
        opened.resolve(message.hotTier);
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
        hotTierStats = message.hotTier;
        engineStats = message.engine;
        return;
      case 'applied': {
        listeners.onApplied(message);
        return;
      }
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
    failAll(new Error(`the engine thread exited (code ${code})`));
  });

  function call<T>(request: WithoutId<EngineRequest>): Promise<T> {
    if (exited) return Promise.reject(new Error('the engine thread has exited'));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ ...request, id });
    });
  }

  return {
    opened: openedPromise as Promise<SharedHotTier>,
    started: startedPromise as Promise<{ partitionCount: number }>,
    lookup: (userId, channelIds) => call({ type: 'lookup', userId, channelIds }),
    listChannels: (userId, options) =>
      call({
        type: 'listChannels',
        userId,
        limit: options.limit,
        ...(options.after === undefined ? {} : { after: options.after }),
      }),
    progress: () => progress,
    hotTierStats: () => hotTierStats,
    engineStats: () => engineStats,
    startRebuild: () => call({ type: 'startRebuild' }),
    rebuildStatus: () => call({ type: 'rebuildStatus' }),
    stopProjector: () => call({ type: 'stopProjector' }),
    async close() {
      if (exited) return;
      const ended = new Promise((resolve) => worker.once('exit', resolve));
      await call({ type: 'close' }).catch(() => undefined);
      await ended;
    },
  };
}
