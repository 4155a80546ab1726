import type { Snowflake } from '../contract/snowflake.ts';
import type { TopicKind } from '../contract/events.ts';
import type { PartitionProgress } from '../ingest/projector.ts';
import type { ReadStateView } from '../projection/readStateOf.ts';
import type { SharedHotTier } from '../store/hotTier.ts';
import type { SharedPartitionStates } from '../ingest/partitionStates.ts';
import type { ClusterMap } from '../ingest/clusterMap.ts';

/**
 * The messages between the HTTP thread and the engine thread (Kafka, projection, RocksDB, PostgreSQL). The engine
 * is the only writer of RocksDB and of the hot tier; the HTTP thread reads the hot tier itself and asks the
 * engine for everything else.
 */
export type EngineRequest =
  | { type: 'lookup'; id: number; userId: Snowflake; channelIds: readonly Snowflake[] }
  | {
      type: 'listChannels';
      id: number;
      userId: Snowflake;
      limit: number;
      after?: Snowflake;
      partitions?: readonly number[];
    }
  | { type: 'groupLag'; id: number }
  | { type: 'startRebuild'; id: number }
  | { type: 'rebuildStatus'; id: number }
  | { type: 'stopProjector'; id: number }
  | { type: 'close'; id: number };

export type EngineReply =
  | { type: 'reply'; id: number; ok: true; value: unknown }
  /** `code`: the error's own, when it has one, so the HTTP thread can tell expected refusals apart. */
  | { type: 'reply'; id: number; ok: false; message: string; code?: string };

/** The hot tier's counters as the writer sees them (the reader counts its own hits). */
export type HotTierWriterStats = {
  readonly entries: { readonly readStates: number; readonly channels: number };
  readonly capacity: { readonly readStates: number; readonly channels: number };
  readonly evictions: { readonly readStates: number; readonly channels: number };
  readonly bytes: number;
};

/** A dependency as the engine last saw it; `problem` says what is wrong when it is not up. */
export type DependencyState = { readonly up: true } | { readonly up: false; readonly problem: string };

export type Dependencies = { readonly postgres: DependencyState; readonly kafka: DependencyState };

/** The engine thread's own health, over the last second. */
export type EngineStats = {
  readonly eventLoopDelayMaxSeconds: number;
  readonly eventLoopDelayP99Seconds: number;
  readonly heapUsedBytes: number;
  /** The V8 heap the engine thread holds from the system, used or not: what its heap weighs in the RSS. */
  readonly heapTotalBytes: number;
  /**
   * Off the V8 heap: the array buffers this thread allocated (the resident channels' typed arrays and the hot
   * tier's shared tables), and RocksDB's memory (memtables, index and filter blocks, block cache) for the state
   * served and for the spill.
   */
  readonly arrayBuffersBytes: number;
  readonly rocksdbBytes: { readonly state: number; readonly spill: number };
  /** The live projector's resident state (CompactStore): ids held, channels evicted so far. */
  readonly residentRecords: number;
  readonly residentEvictions: number;
  /** Blocks of big channels parked in the spill (blockSpill.ts) so far, and read back from it. */
  readonly residentBlocksParked: number;
  readonly residentBlocksReadBack: number;
  /** Bytes of channel snapshots and deltas the projector encoded to write (CompactStore.writtenBytes). */
  readonly channelBytesWritten: number;
};

export type EngineEvent =
  | { type: 'opened'; hotTier: SharedHotTier; partitions: SharedPartitionStates }
  | { type: 'started'; partitionCount: number }
  | { type: 'failed'; message: string }
  | { type: 'fatal'; message: string }
  | {
      type: 'progress';
      progress: PartitionProgress[];
      dependencies: Dependencies;
      hotTier: HotTierWriterStats;
      engine: EngineStats;
    }
  | { type: 'applied'; topic: TopicKind; events: number; deadLetters: number; ms: number }
  | { type: 'deadLetterOutage'; paused: boolean }
  | { type: 'cluster'; map: ClusterMap };

export type EngineMessage = EngineReply | EngineEvent;

export type LookupResult = ReadStateView[];
