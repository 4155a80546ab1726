/**
 * The composition root: load config, build the parts with their dependencies, start them in order, stop them in
 * reverse on SIGTERM/SIGINT.
 */
import { notReadyReason } from './api/readiness.ts';
import { advertisedUrl, authWarning, checkServeConfig, resolveAdvertisedUrl, type Config } from './config.ts';
import { clusterAnswer } from './engine/clusterAnswer.ts';
import type { ClusterMap } from './ingest/clusterMap.ts';
import type { GroupLag } from './ingest/groupLag.ts';
import type { DependencyState } from './engine/engineProtocol.ts';
import { attachPartitionStates } from './ingest/partitionStates.ts';
import { serveHttp, type HttpServing } from './engine/httpThreads.ts';
import { startEngine } from './engine/startEngine.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics } from './metrics.ts';

/**
 * How long shutdown may take before the process exits anyway; Kubernetes' grace period must be longer. Each
 * step below is bounded on its own so that this is a last resort, not the usual way out.
 */
export const SHUTDOWN_TIMEOUT_MS = 14_000;
/** GET /v1/cluster reads the group's lag from Kafka at most this often. */
const GROUP_LAG_REUSE_MS = 1_000;
/** The projector finishes its batch in hand and leaves the group within this, or is left behind. */
const PROJECTOR_STOP_TIMEOUT_MS = 7_000;

export async function serve(config: Config): Promise<void> {
  checkServeConfig(config);
  const logger = createLogger(config.LOG_LEVEL);
  const warning = authWarning(config);
  if (warning !== undefined) logger.warn(warning);
  // Resolved once, here: the engine thread and every HTTP thread then advertise the same URL.
  const advertised = await resolveAdvertisedUrl(config);
  if (advertised.warning !== undefined) logger.warn(advertised.warning);
  logger.info({ url: advertised.url }, 'other instances reach this one at this URL (HTTP_ADVERTISED_URL)');
  const service = startService({ ...config, HTTP_ADVERTISED_URL: advertised.url }, logger);
  try {
    await service.started;
  } catch (error) {
    // A stop asked for during start-up ends start-up too: that is the shutdown going as asked.
    if (service.shuttingDown()) return;
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
  // These replace the CLI's early handlers (for the time the modules took to load). Added before those are
  // removed: with no listener left for a moment, Node would drop a signal that arrived meanwhile.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const earlier = process.listeners(signal);
    process.once(signal, (received) => void shutdown(received, 0));
    for (const listener of earlier) process.removeListener(signal, listener);
  }
  return { started: start(), shutdown, shuttingDown: () => shuttingDown };

  async function start(): Promise<void> {
    // The engine thread migrates PostgreSQL, opens RocksDB, then starts the projector; this thread serves HTTP.
    const engine = startEngine(config, logger, {
      onApplied: ({ topic, events, deadLetters, ms }) => {
        metrics.eventsApplied.inc({ topic }, events);
        if (deadLetters > 0) metrics.deadLetters.inc({ topic }, deadLetters);
        metrics.batchApplySeconds.observe(ms / 1000);
      },
      onDeadLetterOutage: (paused) => {
        metrics.deadLetterStorePaused.set(paused ? 1 : 0);
      },
      onFatal: (error) => {
        logger.fatal({ err: error }, `stopping: ${error.message}`);
        void shutdown(`fatal: ${error.message}`, 1);
      },
      onClusterMap: (map) => {
        clusterMap = map;
        http?.clusterChanged(map);
      },
    });
    stops.push({ name: 'engine', stop: () => engine.close() });
    // The group's latest map: it may come before HTTP listens, and is handed over then.
    let clusterMap: ClusterMap | undefined;
    let http: HttpServing | undefined = undefined;
    const opened = await engine.opened;
    const partitions = attachPartitionStates(opened.partitions);

    const metrics = createMetrics({
      consumerLag: () =>
        engine
          .progress()
          .map((p) => ({ topic: p.topic, partition: p.partition, lag: Number(p.high - p.stored) })),
      engine: () => engine.engineStats(),
      lookupsRefused: () => engine.refusals(),
      dependenciesUp: (): Record<string, boolean> => {
        const known = engine.dependencies();
        return known === undefined ? {} : { kafka: known.kafka.up, postgres: known.postgres.up };
      },
      partitionStates: () => {
        const counts = { serving: 0, restoring: 0, handing_over: 0, not_owned: 0 };
        for (let partition = 0; partition < partitionCountKnown; partition++) {
          counts[partitions.state(partition)]++;
        }
        return counts;
      },
      restoreRemaining: () => {
        const remaining = new Map<number, number>();
        for (const { partition, stored, high } of engine.progress()) {
          if (partitions.state(partition) !== 'restoring') continue;
          remaining.set(
            partition,
            (remaining.get(partition) ?? 0) + Number(high > stored ? high - stored : 0n),
          );
        }
        return [...remaining].map(([partition, events]) => ({ partition, events }));
      },
      hotTier: () => {
        // Every HTTP thread's reads (the others' as collected for this scrape).
        const { answered, declined } = http?.hotTierLookups() ?? { answered: 0, declined: 0 };
        const written = engine.hotTierStats();
        if (written === undefined) return { answered, declined };
        return {
          answered,
          declined,
          bytes: written.bytes,
          tables: (['readStates', 'channels'] as const).map((table) => ({
            name: table === 'readStates' ? 'read_states' : 'channels',
            entries: written.entries[table],
            capacity: written.capacity[table],
            evictions: written.evictions[table],
          })),
        };
      },
    });
    const dependencies = () => {
      const known = engine.dependencies();
      if (known === undefined) return { kafka: 'starting', postgres: 'starting' };
      const say = (state: DependencyState) => (state.up ? 'up' : `down: ${state.problem}`);
      return { kafka: say(known.kafka), postgres: say(known.postgres) };
    };
    let projectorStarted = false;
    /** Ready once: partitions gained later are answered through their previous owners meanwhile. */
    let caughtUpOnce = false;
    let partitionCountKnown = 0;
    // HTTP before the projector, so liveness answers while it joins its group; on HTTP_THREADS threads.
    const self = advertisedUrl(config);
    // Two Kafka admin requests per GET /v1/cluster: shared by the requests of one second, however many come.
    let lag: { at: number; value: Promise<GroupLag[] | undefined> } | undefined;
    const groupLag = () => {
      if (lag === undefined || performance.now() - lag.at > GROUP_LAG_REUSE_MS) {
        lag = { at: performance.now(), value: engine.groupLag().catch(() => undefined) };
      }
      return lag.value;
    };
    http = await serveHttp({
      threads: config.HTTP_THREADS,
      host: config.HTTP_HOST,
      port: config.HTTP_PORT,
      logLevel: config.LOG_LEVEL,
      apiTokens: config.API_TOKENS,
      authDisabled: config.AUTH_DISABLED,
      shared: opened,
      self,
      control: {
        lookup: (userId, channelIds) => engine.lookup(userId, channelIds),
        listChannels: (userId, options) => engine.listChannels(userId, options),
        readiness: () => {
          const reason = notReadyReason(
            projectorStarted,
            engine.progress(),
            engine.dependencies(),
            caughtUpOnce,
          );
          caughtUpOnce ||= reason === undefined;
          return { reason, dependencies: dependencies() };
        },
        startRebuild: () => engine.startRebuild(),
        rebuildStatus: () => engine.rebuildStatus(),
        cluster: async () =>
          clusterAnswer({
            self,
            map: clusterMap,
            partitionCount: partitionCountKnown,
            partitions,
            lag: await groupLag(),
          }),
      },
      metrics,
      rebuilds: true,
      logger,
      onFatal: (error) => {
        logger.fatal({ err: error }, `stopping: ${error.message}`);
        void shutdown(`fatal: ${error.message}`, 1);
      },
    });
    const serving = http;
    if (clusterMap !== undefined) serving.clusterChanged(clusterMap);
    stops.push({ name: 'http', stop: () => serving.close() });

    // Stopped first: it finishes its batch while HTTP still answers.
    stops.push({
      name: 'projector',
      stop: () => withTimeout(engine.stopProjector(), PROJECTOR_STOP_TIMEOUT_MS, 'stopping the projector'),
    });
    const { partitionCount } = await engine.started;
    partitionCountKnown = partitionCount;
    projectorStarted = true;
    serving.started(partitionCount);
  }
}

/** Rejects after `ms` (the work goes on unawaited): shutdown moves on to the next step rather than hang. */
function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} took longer than ${ms} ms; going on without it`));
    }, ms);
  });
  return Promise.race([work, late]).finally(() => {
    clearTimeout(timer);
  });
}
