/**
 * The engine: everything that writes state, in a worker thread of its own, so that the projector's CPU work and
 * RocksDB's synchronous writes never stall the HTTP thread's event loop. It owns RocksDB, the consumer, the
 * PostgreSQL pool and the hot tier's writing side; the HTTP thread reads the hot tier through shared memory and
 * sends the rest here (engineProtocol.ts).
 */
import { hostname } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { advertisedUrl, type Config } from '../config.ts';
import { createKafka } from '../ingest/createKafka.ts';
import { createPartitionOf } from '../contract/partitionOf.ts';
import { createProjector, StoppedWhileStarting, type Projector } from '../ingest/projector.ts';
import { createLogger } from '../logger.ts';
import { createDatabaseIfMissing, createDatabasePool, pingDatabase } from '../ops/database.ts';
import { storeDeadLetters } from '../ops/deadLetters.ts';
import { migrate } from '../ops/migrate.ts';
import { createHotTier, type HotTier } from '../store/hotTier.ts';
import { createHotTierMirror } from '../store/hotTierMirror.ts';
import { listReadStateChannels, queryReadStates, type StateLocation } from '../store/queryReadStates.ts';
import { openRocksDatabase } from '../store/rocksDatabase.ts';
import { RocksBlockSpill, SPILL_DIRECTORY } from '../store/blockSpill.ts';
import { lockDataDir, type DataDirLock } from '../store/dataDirLock.ts';
import { currentGeneration, removeOtherGenerations } from '../store/generations.ts';
import { RebuildRunning, runRebuild, type RebuildProgress } from '../ops/rebuild.ts';
import { closeUnfinishedRebuilds, recordRebuildRequested } from '../ops/rebuilds.ts';
import { createServingGeneration, type ServingGeneration } from './liveGeneration.ts';
import type {
  Dependencies,
  EngineMessage,
  EngineRequest,
  EngineStats,
  HotTierWriterStats,
} from './engineProtocol.ts';
import { createPartitionStates } from '../ingest/partitionStates.ts';

const PROGRESS_INTERVAL_MS = 1_000;
const HIGH_WATERMARK_EVERY_TICKS = 10;
/** Between attempts to migrate PostgreSQL, and between checks that it still answers. */
const POSTGRES_RETRY_MAX_MS = 10_000;
const POSTGRES_CHECK_EVERY_TICKS = 5;

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

/** This thread's memory as EngineStats reports it: the V8 heap, typed arrays, RocksDB's two databases. */
function memoryOf(
  generation: ServingGeneration,
): Pick<EngineStats, 'heapUsedBytes' | 'heapTotalBytes' | 'arrayBuffersBytes' | 'rocksdbBytes'> {
  const { heapUsed, heapTotal, arrayBuffers } = process.memoryUsage();
  return {
    heapUsedBytes: heapUsed,
    heapTotalBytes: heapTotal,
    arrayBuffersBytes: arrayBuffers,
    rocksdbBytes: { state: generation.memoryBytes(), spill: spill?.memoryBytes() ?? 0 },
  };
}

const pool = createDatabasePool(config.DATABASE_URL);
const topics = { messages: config.TOPIC_MESSAGES, acks: config.TOPIC_ACKS };
const instance = hostname();
let lock: DataDirLock | undefined;
let serving: ServingGeneration | undefined;
let spill: RocksBlockSpill | undefined;
let projector: Projector | undefined;
let progressTimer: NodeJS.Timeout | undefined;
let closing = false;
const partitionStates = createPartitionStates();
/**
 * What the engine depends on, as last seen. Lookups need neither once started: PostgreSQL only keeps dead
 * letters (the projector pauses while it is away), and owned partitions are answered from RocksDB while Kafka is.
 */
const dependencies: { postgres: Dependencies['postgres']; kafka: Dependencies['kafka'] } = {
  postgres: { up: false, problem: 'migrations not applied yet' },
  kafka: { up: false, problem: 'not connected yet' },
};
let migrated = false;

/** Applies the migrations, retrying until PostgreSQL answers; then closes the rebuilds a stop interrupted. */
async function preparePostgres(generation: string): Promise<void> {
  for (let attempt = 0; !closing; attempt++) {
    try {
      await migrate(pool);
      // A rebuild this instance was running when it stopped is not resumed (its generation is gone already).
      const abandoned = await closeUnfinishedRebuilds(pool, instance, generation);
      if (abandoned > 0) logger.warn({ abandoned }, 'marked the rebuilds interrupted by a stop as abandoned');
      migrated = true;
      dependencies.postgres = { up: true };
      logger.info('migrations applied');
      return;
    } catch (error) {
      const created = await createDatabaseIfMissing(config.DATABASE_URL, error).catch((creating: unknown) => {
        logger.warn(
          { err: creating },
          'the database DATABASE_URL names does not exist and cannot be created',
        );
        return false;
      });
      if (created) {
        logger.info('created the database DATABASE_URL names');
        continue;
      }
      const delay = Math.min(500 * 2 ** attempt, POSTGRES_RETRY_MAX_MS);
      dependencies.postgres = { up: false, problem: (error as Error).message };
      logger.warn(
        { err: error, retryInMs: delay },
        'cannot migrate PostgreSQL; lookups are answered, dead letters wait until it is back',
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

async function checkPostgres(): Promise<void> {
  if (!migrated) return;
  try {
    await pingDatabase(pool);
    dependencies.postgres = { up: true };
  } catch (error) {
    dependencies.postgres = { up: false, problem: (error as Error).message };
  }
}
type Rebuild = { running: boolean; progress: RebuildProgress | undefined };
let rebuild: Rebuild | undefined;

async function open(): Promise<void> {
  // Before anything in DATA_DIR is read or deleted: a second process on it is refused here.
  lock = await lockDataDir(config.DATA_DIR);
  const generation = await currentGeneration(config.DATA_DIR);
  // A rebuild this instance was running when it stopped is not resumed: its half-built generation goes.
  const removed = await removeOtherGenerations(config.DATA_DIR, generation);
  if (removed.length > 0) {
    logger.warn({ removed }, 'discarded the generations of rebuilds interrupted by a stop');
  }
  if (closing) return;
  const rocks = await openRocksDatabase(join(config.DATA_DIR, generation));
  // Emptied as it opens: nothing durable is in it (blockSpill.ts).
  spill = await RocksBlockSpill.open(join(config.DATA_DIR, SPILL_DIRECTORY));
  const hot = createHotTier({ bytesBudget: config.HOT_TIER_MB * 2 ** 20 });
  const mirror = createHotTierMirror(hot);
  logger.info({ generation, hotTierBytes: hot.stats().bytes }, 'state opened');
  post({ type: 'opened', hotTier: hot.shared, partitions: partitionStates.shared });
  void preparePostgres(generation);

  const kafka = createKafka(config, logger);
  const started = createProjector({
    kafka,
    groupId: config.KAFKA_GROUP_ID,
    sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
    topics,
    db: rocks,
    storeDeadLetters: (letters) => {
      if (!migrated) return Promise.reject(new Error('PostgreSQL is not migrated yet'));
      return storeDeadLetters(pool, letters);
    },
    logger,
    residentRecords: config.RESIDENT_RECORDS,
    spill,
    writeBackAfterMs: config.WRITE_BACK_MS,
    snowflakeEpochMs: config.SNOWFLAKE_EPOCH_MS,
    hotTier: mirror,
    partitionStates,
    advertisedUrl: advertisedUrl(config),
    retainMs: config.PARTITION_RETAIN_MS,
    onClusterMap: (map) => {
      post({ type: 'cluster', map });
    },
    onFatal: (error) => {
      post({ type: 'fatal', message: error.message });
    },
    onConsumerDown: (error) => {
      dependencies.kafka = error === undefined ? { up: true } : { up: false, problem: error.message };
      partitionStates.setKafkaUnreachable(error !== undefined);
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
  let spillFailure: Error | undefined;
  const sendProgress = () => {
    // A failed spill write loses nothing (its blocks stay in memory, retried), but memory grows until it succeeds.
    if (spill?.lastFailure !== spillFailure) {
      spillFailure = spill?.lastFailure;
      if (spillFailure === undefined) logger.info('writing to the block spill in DATA_DIR works again');
      else
        logger.error(
          { err: spillFailure },
          'writing to the block spill in DATA_DIR failed; parked blocks stay in memory',
        );
    }
    post({
      type: 'progress',
      progress: started.progress(),
      dependencies: { postgres: dependencies.postgres, kafka: dependencies.kafka },
      hotTier: hotTierStats(hot),
      engine: {
        eventLoopDelayMaxSeconds: eventLoop.max / 1e9,
        eventLoopDelayP99Seconds: eventLoop.percentile(99) / 1e9,
        ...memoryOf(live),
        residentRecords: started.resident().records,
        residentEvictions: started.resident().evictions,
        residentBlocksParked: started.resident().blocksParked,
        residentBlocksReadBack: started.resident().blocksReadBack,
        channelBytesWritten: started.resident().writtenBytes,
      },
    });
    eventLoop.reset();
    if (ticks % POSTGRES_CHECK_EVERY_TICKS === 0) void checkPostgres();
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
    partitionCount,
    partitionOf: createPartitionOf(partitionCount),
  };
  handlers.lookup = (request) =>
    live.read((db) =>
      queryReadStates(db, started.state, location, request.userId, request.channelIds, mirror),
    );
  handlers.listChannels = (request) =>
    live.read((db) =>
      listReadStateChannels(db, location, request.userId, {
        limit: request.limit,
        ...(request.after === undefined ? {} : { afterChannelId: request.after }),
        ...(request.partitions === undefined ? {} : { partitions: request.partitions }),
      }),
    );
  handlers.startRebuild = async () => {
    if (rebuild?.running === true) {
      throw new RebuildRunning(rebuild.progress?.id);
    }
    if (!migrated) {
      throw Object.assign(
        new Error('a rebuild is recorded in PostgreSQL, which is not reachable now; try again when it is'),
        { code: 'dependency_unavailable' },
      );
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
        residentRecords: config.RESIDENT_RECORDS,
        snowflakeEpochMs: config.SNOWFLAKE_EPOCH_MS,
        config,
        threads: config.REBUILD_THREADS,
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

/** Within the engine's close (CLOSE_TIMEOUT_MS in startEngine.ts): the rest of it needs a moment too. */
const CLOSE_PROJECTOR_MS = 2_500;
let projectorStopped: Promise<void> | undefined;

/** Stops the projector and writes back what it changed, once: a restart then replays nothing. */
function stopProjector(): Promise<void> {
  const stopping = projector;
  if (stopping === undefined) return Promise.resolve();
  projectorStopped ??= (async () => {
    // Even when leaving the group failed (brokers away): what changed is still written back.
    await stopping.stop().catch((error: unknown) => {
      logger.warn({ err: error }, 'the projector did not stop cleanly');
    });
    // Without it (a crash, a kill, a failure) the next start replays from the stored offsets, as exactly.
    await stopping.flush().catch((error: unknown) => {
      logger.warn(
        { err: error },
        'changed channels not written back; the next start replays them from the log',
      );
    });
  })();
  return projectorStopped;
}

type Handler<T extends EngineRequest['type']> = (
  request: Extract<EngineRequest, { type: T }>,
) => Promise<unknown>;
const notStarted = () => Promise.reject(new Error('the engine has not started yet'));
const handlers: { [T in EngineRequest['type']]: Handler<T> } = {
  lookup: notStarted,
  listChannels: notStarted,
  groupLag: async () => (projector === undefined ? [] : projector.groupLag()),
  startRebuild: notStarted,
  rebuildStatus: () => Promise.resolve(rebuild?.progress ?? null),
  stopProjector: () => stopProjector(),
  close: async () => {
    closing = true;
    clearInterval(progressTimer);
    // Each step on its own: one that fails (RocksDB after a write error refuses to flush) must not keep the
    // others from running, nor the thread from ending.
    const steps: [string, () => Promise<unknown>][] = [
      // Stopped already, unless the stop came while it started (the service's stop step did not exist yet).
      [
        'the projector',
        () =>
          Promise.race([
            stopProjector(),
            new Promise((resolve) => setTimeout(resolve, CLOSE_PROJECTOR_MS).unref()),
          ]),
      ],
      // A rebuild in progress is abandoned: the next start deletes its generation.
      ['RocksDB', async () => serving?.close()],
      ['the block spill', async () => spill?.close()],
      ['PostgreSQL', () => pool.dispose()],
      ['the DATA_DIR lock', async () => lock?.release()],
    ];
    for (const [name, step] of steps) {
      await step().catch((error: unknown) => {
        logger.error({ err: error }, `closing ${name} failed`);
      });
    }
    // Whatever start-up still waits for (Kafka, PostgreSQL) ends with the thread.
    setImmediate(() => process.exit(0));
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

// Tests only (FAILPOINTS): the engine thread ends as if it had died, to show the process does not live on half.
const exitAfterMs = config.FAILPOINTS?.engineExitAfterMs;
if (exitAfterMs !== undefined) {
  setTimeout(() => {
    logger.warn({ failpoint: 'engine_exit_after_ms' }, 'failpoint: the engine thread exits now');
    process.exit(3);
  }, exitAfterMs);
}

open().catch((error: unknown) => {
  // Stopped while starting (a SIGTERM before Kafka answered) is no failure.
  if (closing || error instanceof StoppedWhileStarting) logger.info('engine start-up abandoned: stopping');
  else logger.error({ err: error }, 'engine start-up failed');
  post({ type: 'failed', message: (error as Error).message });
});
