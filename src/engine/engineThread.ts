/**
 * The engine: everything that writes state, in a worker thread of its own, so that the projector's CPU work and
 * RocksDB's synchronous writes never stall the HTTP thread's event loop. It owns RocksDB, the consumer, the
 * PostgreSQL pool and the hot tier's writing side; the HTTP thread reads the hot tier through shared memory and
 * sends the rest here (engineProtocol.ts).
 */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config.ts';
import { createKafka } from '../ingest/createKafka.ts';
import { createPartitionOf } from '../ingest/partitionOf.ts';
import { createProjector, type Projector } from '../ingest/projector.ts';
import { createLogger } from '../logger.ts';
import { createDatabasePool } from '../ops/database.ts';
import { storeDeadLetters } from '../ops/deadLetters.ts';
import { migrate } from '../ops/migrate.ts';
import { DISK_FANOUT } from '../store/diskFanout.ts';
import { createHotTier, type HotTier } from '../store/hotTier.ts';
import { createHotTierMirror } from '../store/hotTierMirror.ts';
import { listReadStateChannels, queryReadStates, type StateLocation } from '../store/queryReadStates.ts';
import { openRocksDatabase } from '../store/rocksDatabase.ts';
import { currentGeneration, removeOtherGenerations } from '../store/generations.ts';
import { RebuildRunning, runRebuild, type RebuildProgress } from '../ops/rebuild.ts';
import { closeUnfinishedRebuilds, recordRebuildRequested } from '../ops/rebuilds.ts';
import { createServingGeneration, type ServingGeneration } from './liveGeneration.ts';
import type { EngineMessage, EngineRequest, HotTierWriterStats } from './engineProtocol.ts';

const PROGRESS_INTERVAL_MS = 1_000;
const HIGH_WATERMARK_EVERY_TICKS = 10;

const port = parentPort;
if (port === null) throw new Error('engineThread.ts runs as a worker thread; start it with startEngine()');
const config = workerData as Config;
const logger = createLogger(config.LOG_LEVEL).child({ thread: 'engine' });
const post = (message: EngineMessage) => {
  port.postMessage(message);
};

function hotTierStats(hot: HotTier): HotTierWriterStats {
  const { readStates, channels, bytes } = hot.stats();
  return {
    entries: { readStates: readStates.size, channels: channels.size },
    capacity: { readStates: readStates.maxEntries, channels: channels.maxEntries },
    evictions: { readStates: readStates.evictions, channels: channels.evictions },
    bytes,
  };
}

const pool = createDatabasePool(config.DATABASE_URL);
const topics = { messages: config.TOPIC_MESSAGES, acks: config.TOPIC_ACKS };
const instance = hostname();
let serving: ServingGeneration | undefined;
let projector: Projector | undefined;
let progressTimer: NodeJS.Timeout | undefined;
type Rebuild = { running: boolean; progress: RebuildProgress | undefined };
let rebuild: Rebuild | undefined;

async function open(): Promise<void> {
  await migrate(pool);
  logger.info('migrations applied');
  await mkdir(config.DATA_DIR, { recursive: true });
  const generation = await currentGeneration(config.DATA_DIR);
  // A rebuild this instance was running when it stopped is not resumed: its half-built generation goes.
  const abandoned = await closeUnfinishedRebuilds(pool, instance, generation);
  const removed = await removeOtherGenerations(config.DATA_DIR, generation);
  if (abandoned > 0 || removed.length > 0) {
    logger.warn({ abandoned, removed }, 'discarded the generations of rebuilds interrupted by a stop');
  }
  const rocks = await openRocksDatabase(join(config.DATA_DIR, generation));
  const hot = createHotTier({ bytesBudget: config.HOT_TIER_MB * 2 ** 20 });
  const mirror = createHotTierMirror(hot);
  logger.info({ generation, hotTierBytes: hot.stats().bytes }, 'state opened');
  post({ type: 'opened', hotTier: hot.shared });

  const kafka = createKafka(config, logger);
  const started = createProjector({
    kafka,
    groupId: config.KAFKA_GROUP_ID,
    sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
    topics,
    db: rocks,
    storeDeadLetters: (letters) => storeDeadLetters(pool, letters),
    logger,
    fanout: DISK_FANOUT,
    hotTier: mirror,
    onFatal: (error) => {
      post({ type: 'fatal', message: error.message });
    },
    onApplied: ({ topic, events, deadLetters, ms }) => {
      post({ type: 'applied', topic, events, deadLetters, ms });
    },
    onDeadLetterOutage: (paused) => {
      post({ type: 'deadLetterOutage', paused });
    },
  });
  projector = started;
  let partitions = 0;
  const live = createServingGeneration({
    dataDir: config.DATA_DIR,
    db: rocks,
    projector: started,
    hotTier: mirror,
    topics,
    partitionCount: () => partitions,
    logger,
  });
  serving = live;
  // This thread's event loop (the HTTP thread's is in prom-client's default metrics): the projector's chunks and
  // RocksDB's synchronous writes run here, so its delay is how long a lookup miss may wait.
  const eventLoop = monitorEventLoopDelay({ resolution: 10 });
  eventLoop.enable();
  let ticks = 0;
  const sendProgress = () => {
    post({
      type: 'progress',
      progress: started.progress(),
      hotTier: hotTierStats(hot),
      engine: {
        eventLoopDelayMaxSeconds: eventLoop.max / 1e9,
        eventLoopDelayP99Seconds: eventLoop.percentile(99) / 1e9,
        heapUsedBytes: process.memoryUsage().heapUsed,
      },
    });
    eventLoop.reset();
    if (++ticks % HIGH_WATERMARK_EVERY_TICKS === 0) {
      started.refreshHighWatermarks().catch((error: unknown) => {
        logger.debug({ err: error }, 'could not read the high watermarks');
      });
    }
  };
  progressTimer = setInterval(sendProgress, PROGRESS_INTERVAL_MS);
  const { partitionCount } = await started.start();
  partitions = partitionCount;
  const location: StateLocation = {
    fanout: DISK_FANOUT,
    partitionCount,
    partitionOf: createPartitionOf(partitionCount),
  };
  handlers.lookup = (request) =>
    live.read((db) => queryReadStates(db, location, request.userId, request.channelIds, mirror));
  handlers.listChannels = (request) =>
    live.read((db) =>
      listReadStateChannels(db, location, request.userId, {
        limit: request.limit,
        ...(request.after === undefined ? {} : { afterChannelId: request.after }),
      }),
    );
  handlers.startRebuild = async () => {
    if (rebuild?.running === true) {
      throw new RebuildRunning(rebuild.progress?.id);
    }
    // Claimed before the first await, so that a second request cannot start another.
    const current: Rebuild = { running: true, progress: undefined };
    rebuild = current;
    try {
      const id = await recordRebuildRequested(pool, 'online', instance);
      void runRebuild({
        id,
        kafka,
        groupId: config.KAFKA_GROUP_ID,
        sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
        topics,
        dataDir: config.DATA_DIR,
        pool,
        logger,
        fanout: DISK_FANOUT,
        live,
        onProgress: (progress) => {
          current.progress = progress;
        },
      })
        .catch((error: unknown) => {
          logger.error({ err: error, rebuild: id }, 'rebuild could not start');
        })
        .finally(() => {
          current.running = false;
        });
      return { id };
    } catch (error) {
      current.running = false;
      throw error;
    }
  };
  sendProgress();
  post({ type: 'started', partitionCount });
}

type Handler<T extends EngineRequest['type']> = (
  request: Extract<EngineRequest, { type: T }>,
) => Promise<unknown>;
const notStarted = () => Promise.reject(new Error('the engine has not started yet'));
const handlers: { [T in EngineRequest['type']]: Handler<T> } = {
  lookup: notStarted,
  listChannels: notStarted,
  startRebuild: notStarted,
  rebuildStatus: () => Promise.resolve(rebuild?.progress ?? null),
  stopProjector: async () => {
    clearInterval(progressTimer);
    await projector?.stop();
  },
  close: async () => {
    clearInterval(progressTimer);
    // A rebuild in progress is abandoned: the next start deletes its generation.
    await serving?.close();
    await pool.dispose();
    port.close();
  },
};

port.on('message', (request: EngineRequest) => {
  const handler = handlers[request.type] as Handler<typeof request.type>;
  handler(request as never).then(
    (value) => {
      post({ type: 'reply', id: request.id, ok: true, value });
    },
    (error: unknown) => {
      const message = (error as Error).message;
      const code = (error as { code?: unknown }).code;
      if (error instanceof RebuildRunning) logger.info({ request: request.type }, message);
      else logger.error({ err: error, request: request.type }, 'engine request failed');
      post({
        type: 'reply',
        id: request.id,
        ok: false,
        message,
        ...(typeof code === 'string' ? { code } : {}),
      });
    },
  );
});

open().catch((error: unknown) => {
  logger.error({ err: error }, 'engine start-up failed');
  post({ type: 'failed', message: (error as Error).message });
});
