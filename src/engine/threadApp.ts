import { ApiError } from '../api/apiError.ts';
import { buildApp, type App, type Reads, type ReadStateSource } from '../api/app.ts';
import type { ClusterMap } from '../ingest/clusterMap.ts';
import { clusterReads } from './clusterReads.ts';
import { createPartitionOf } from '../contract/partitionOf.ts';
import { attachPartitionStates } from '../ingest/partitionStates.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics.ts';
import { attachHotTier, type HotTierReader } from '../store/hotTier.ts';
import type { HttpControl, HttpThreadData } from './httpThreadProtocol.ts';
import { freshnessOf, partitionsOfChannels, readThrough } from './readThrough.ts';

/**
 * The HTTP API as one thread serves it, the main thread and every extra HTTP thread alike: lookups from the
 * shared hot tier, gated by the shared partition states (ownership, restoring, the revocation epoch), misses and
 * everything else through `control` (the engine and the service's state, on the main thread; a message to the
 * main thread, on the others). Until `started`, lookups answer 503 `not_ready`.
 */
export function createThreadApp(options: {
  logger: Logger;
  shared: Pick<HttpThreadData, 'hotTier' | 'partitions'>;
  control: HttpControl;
  apiTokens: readonly string[] | undefined;
  authDisabled: boolean;
  metrics?: Pick<Metrics, 'registry' | 'httpRequestSeconds'>;
  rebuilds: boolean;
  /** This instance's advertised URL. */
  self: string;
}): {
  app: App;
  hotTier: HotTierReader;
  started(partitionCount: number): void;
  clusterChanged(map: ClusterMap): void;
} {
  const { control } = options;
  const hotTier = attachHotTier(options.shared.hotTier);
  const partitions = attachPartitionStates(options.shared.partitions);
  let readStates: ReadStateSource | undefined;
  let reads: Reads | undefined;
  let cluster: ClusterMap | undefined;
  const whenStarted = <T>(part: T | undefined): T => {
    if (part === undefined) throw new ApiError('not_ready', 'the service is starting; retry shortly');
    return part;
  };
  const app = buildApp({
    logger: options.logger,
    readStates: {
      lookup: (userId, channelIds) => whenStarted(readStates).lookup(userId, channelIds),
      listChannels: (userId, listing) => whenStarted(readStates).listChannels(userId, listing),
    },
    notReadyReason: async () => (await control.readiness()).reason,
    dependencies: async () => (await control.readiness()).dependencies ?? {},
    reads: {
      lookup: (userId, channelIds, context) => whenStarted(reads).lookup(userId, channelIds, context),
      list: (userId, page, context) => whenStarted(reads).list(userId, page, context),
    },
    cluster: () => control.cluster(),
    ...(options.apiTokens === undefined ? {} : { apiTokens: options.apiTokens }),
    authDisabled: options.authDisabled,
    ...(options.metrics === undefined
      ? {}
      : { metrics: options.metrics, metricsText: () => control.metricsText() }),
    ...(options.rebuilds
      ? { rebuilds: { start: () => control.startRebuild(), status: () => control.rebuildStatus() } }
      : {}),
  });
  return {
    app,
    hotTier,
    started(partitionCount) {
      const partitionOf = createPartitionOf(partitionCount);
      const partitionsOf = partitionsOfChannels(partitionOf);
      readStates = readThrough(hotTier, control, partitions, { partitionCount, partitionOf, partitionsOf });
      reads = clusterReads({
        self: options.self,
        map: () => cluster,
        partitions,
        partitionCount,
        partitionsOf,
        local: readStates,
        freshness: freshnessOf(partitions, partitionsOf),
      });
    },
    clusterChanged(map) {
      cluster = map;
    },
  };
}
