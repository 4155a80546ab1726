/**
 * The composition root: load config, build the parts with their dependencies, start them in order, stop them in
 * reverse on SIGTERM/SIGINT.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from './api/apiError.ts';
import { buildApp, type ReadStateSource } from './api/app.ts';
import { notReadyReason } from './api/readiness.ts';
import type { Config } from './config.ts';
import { createKafka } from './ingest/createKafka.ts';
import { createPartitionOf } from './ingest/partitionOf.ts';
import { createProjector } from './ingest/projector.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { createDatabasePool } from './ops/database.ts';
import { storeDeadLetters } from './ops/deadLetters.ts';
import { migrate } from './ops/migrate.ts';
import { DISK_FANOUT } from './store/diskFanout.ts';
import { listReadStateChannels, queryReadStates, type StateLocation } from './store/queryReadStates.ts';
import { openRocksDatabase } from './store/rocksDatabase.ts';

/** How long shutdown may take before the process exits anyway; Kubernetes' grace period must be longer. */
export const SHUTDOWN_TIMEOUT_MS = 25_000;

export async function serve(config: Config): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL);
  const service = startService(config, logger);
  try {
    await service.started;
  } catch (error) {
    logger.fatal({ err: error }, 'start-up failed');
    await service.shutdown('start-up failed', 1);
  }
}

function startService(config: Config, logger: Logger) {
  const stops: { name: string; stop: () => Promise<void> }[] = [];
  let shuttingDown = false;

  const shutdown = async (reason: string, exitCode: number): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    timer.unref();
    for (const { name, stop } of stops.reverse()) {
      try {
        await stop();
      } catch (error) {
        logger.error({ err: error, part: name }, 'error while stopping');
      }
    }
    logger.info({ exitCode }, 'stopped');
    process.exit(exitCode);
  };
  process.once('SIGTERM', (signal) => void shutdown(signal, 0));
  process.once('SIGINT', (signal) => void shutdown(signal, 0));
  return { started: start(), shutdown };

  async function start(): Promise<void> {
    const pool = createDatabasePool(config.DATABASE_URL);
    stops.push({ name: 'postgres', stop: () => pool.dispose() });
    await migrate(pool);
    logger.info('migrations applied');

    await mkdir(config.DATA_DIR, { recursive: true });
    const db = await openRocksDatabase(join(config.DATA_DIR, 'state'));
    stops.push({ name: 'rocksdb', stop: () => db.close() });

    // HTTP first, so liveness answers while the projector joins its group; lookups answer 503 until it has.
    const metrics = createMetrics({
      // Read at scrape time, once the projector below exists.
      consumerLag: () =>
        projector
          .progress()
          .map((p) => ({ topic: p.topic, partition: p.partition, lag: Number(p.high - p.stored) })),
    });
    const kafka = createKafka(config, logger);
    const projector = createProjector({
      kafka,
      groupId: config.KAFKA_GROUP_ID,
      sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
      topics: { messages: config.TOPIC_MESSAGES, acks: config.TOPIC_ACKS },
      db,
      storeDeadLetters: (letters) => storeDeadLetters(pool, letters),
      logger,
      fanout: DISK_FANOUT,
      onFatal: (error) => void shutdown(`fatal: ${error.message}`, 1),
      onApplied: ({ topic, events, deadLetters, ms }) => {
        metrics.eventsApplied.inc({ topic }, events);
        if (deadLetters > 0) metrics.deadLetters.inc({ topic }, deadLetters);
        metrics.batchApplySeconds.observe(ms / 1000);
      },
      onDeadLetterOutage: (paused) => {
        metrics.deadLetterStorePaused.set(paused ? 1 : 0);
      },
    });
    // Set once the projector knows the partition count; until then lookups answer 503.
    let readStates: ReadStateSource | undefined = undefined;
    const whenStarted = (): ReadStateSource => {
      if (readStates === undefined) throw new ApiError('not_ready', 'the service is starting; retry shortly');
      return readStates;
    };
    const app = buildApp({
      logger,
      readStates: {
        lookup: (userId, channelIds) => whenStarted().lookup(userId, channelIds),
        listChannels: (userId, options) => whenStarted().listChannels(userId, options),
      },
      notReadyReason: () => notReadyReason(readStates !== undefined, projector.progress()),
      ...(config.API_TOKENS === undefined ? {} : { apiTokens: config.API_TOKENS }),
      metrics,
    });
    stops.push({ name: 'http', stop: () => app.close() });
    await app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });

    // Stopped first: it finishes its batch while HTTP still answers.
    stops.push({ name: 'projector', stop: () => projector.stop() });
    const { partitionCount } = await projector.start();

    const location: StateLocation = {
      fanout: DISK_FANOUT,
      partitionCount,
      partitionOf: createPartitionOf(partitionCount),
    };
    readStates = {
      lookup: (userId, channelIds) => queryReadStates(db, location, userId, channelIds),
      listChannels: (userId, options) =>
        listReadStateChannels(db, location, userId, {
          limit: options.limit,
          ...(options.after === undefined ? {} : { afterChannelId: options.after }),
        }),
    };
  }
}
