import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { Snowflake } from '../contract/snowflake.ts';
import type { ClusterMap } from '../ingest/clusterMap.ts';
import type { SharedPartitionStates } from '../ingest/partitionStates.ts';
import type { RebuildProgress } from '../ops/rebuild.ts';
import type { ReadStateView } from '../projection/readStateOf.ts';
import type { SharedHotTier } from '../store/hotTier.ts';

/**
 * The messages between the main thread and the extra HTTP threads (httpThreads.ts, httpThread.ts). An HTTP thread
 * reads the hot tier and the partition states itself, from the same shared buffers as the main thread; it asks
 * the main thread for everything else, as the main thread's own routes do: the engine (lookups the hot tier
 * declined, listings), readiness, rebuilds, and every thread's metrics.
 */

/** /readyz's answer: why not ready (undefined when ready) and each dependency's state. */
export type Readiness = { reason: string | undefined; dependencies: Record<string, string> | undefined };

/** What the main thread answers for every HTTP thread: one call per request type, one reply type each. */
export interface HttpControl {
  /** Read through the engine: its MAX_LOOKUPS_IN_FLIGHT and timeout hold for all threads together. */
  lookup(userId: Snowflake, channelIds: readonly Snowflake[]): Promise<ReadStateView[]>;
  listChannels(
    userId: Snowflake,
    options: { limit: number; after?: Snowflake; partitions?: readonly number[] },
  ): Promise<Snowflake[]>;
  readiness(): Readiness | Promise<Readiness>;
  startRebuild(): Promise<{ id: string }>;
  rebuildStatus(): Promise<RebuildProgress | null>;
  /** Prometheus text of every thread's metrics, added up. */
  metricsText(): Promise<string>;
  /** GET /v1/cluster's answer (main.ts). */
  cluster(): Promise<unknown>;
}

export type ControlRequest =
  | { type: 'lookup'; userId: Snowflake; channelIds: readonly Snowflake[] }
  | {
      type: 'listChannels';
      userId: Snowflake;
      limit: number;
      after?: Snowflake;
      partitions?: readonly number[];
    }
  | { type: 'readiness' }
  | { type: 'startRebuild' }
  | { type: 'rebuildStatus' }
  | { type: 'metricsText' }
  | { type: 'cluster' };

/** The reply type of each request type. */
export type ControlReplies = {
  lookup: ReadStateView[];
  listChannels: Snowflake[];
  readiness: Readiness;
  startRebuild: { id: string };
  rebuildStatus: RebuildProgress | null;
  metricsText: string;
  cluster: unknown;
};

/**
 * An error crossing threads: its message and `code`; `api` when it was an ApiError (rebuilt as one, with its
 * Retry-After, so that a 503 from the engine reads the same on every thread).
 */
export type CrossedError = { message: string; code?: string; api?: boolean; retryAfterSeconds?: number };

export type Reply<T> =
  | { type: 'reply'; id: number; ok: true; value: T }
  | { type: 'reply'; id: number; ok: false; error: CrossedError };

/** Per-thread metrics for the main thread to add up. */
export type ThreadMetrics = {
  metrics: MetricObjectWithValues<MetricValue<string>>[];
  hotTier: { answered: number; declined: number; sleeps: number };
};

export type ToHttpThread =
  | Reply<unknown>
  /** The projector started: lookups may be answered from now on. */
  | { type: 'started'; partitionCount: number }
  /** The consumer group's latest map of members and owners: lookups go where their partitions are. */
  | { type: 'cluster'; map: ClusterMap }
  | { type: 'metrics'; id: number }
  | { type: 'close' };

export type FromHttpThread =
  | { type: 'listening' }
  | { type: 'call'; id: number; request: ControlRequest }
  | Reply<ThreadMetrics>
  | { type: 'closed' };

/** What an HTTP thread is started with (structured-cloneable). */
export type HttpThreadData = {
  readonly thread: number;
  readonly host: string;
  readonly port: number;
  readonly logLevel: string;
  readonly apiTokens: readonly string[] | undefined;
  readonly authDisabled: boolean;
  readonly hotTier: SharedHotTier;
  readonly partitions: SharedPartitionStates;
  readonly rebuilds: boolean;
  /** This instance's advertised URL (HTTP_ADVERTISED_URL), to tell itself apart in the cluster map. */
  readonly self: string;
};
