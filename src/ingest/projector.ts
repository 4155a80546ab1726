import { PartitionAssigners, type Admin, type Consumer, type EachBatchPayload, type Kafka } from 'kafkajs';
import { decodeEvent } from '../contract/decode.ts';
import type { ChatEvent, TopicKind } from '../contract/events.ts';
import { DEFAULT_WRITE_BACK_MS } from '../config.ts';
import type { RocksBlockSpill } from '../store/blockSpill.ts';
import type { Logger } from '../logger.ts';
import { MAX_PARTITIONS, type PartitionStates } from './partitionStates.ts';
import { KeyKind, partitionRange } from '../store/keys.ts';
import { createGroupCommit } from '../store/groupCommit.ts';
import { CompactStore, PartitionForgotten } from '../store/compactStore.ts';
import { claimStateFormat } from '../store/stateFormat.ts';
import { readStoredOffset } from '../store/storedOffsets.ts';
import type { HotTierMirror } from '../store/hotTierMirror.ts';
import type { RocksDatabase } from '../store/rocksDatabase.ts';
import type { ClusterMap } from './clusterMap.ts';
import { readGroupLag, type GroupLag } from './groupLag.ts';
import { readClusterMap } from './readClusterMap.ts';
import { createChunkSizer, type ChunkSizer } from './chunkSizer.ts';
import { createCoPartitionedAssigner } from './coPartitionedAssigner.ts';
import { createShardAssigner, type Shard } from './shardAssigner.ts';
import { createHeartbeatWatch } from './heartbeatWatch.ts';
import { createRetainedPartitions } from './retainedPartitions.ts';
import { deadLetterOf, type DeadLetter } from './deadLetter.ts';
import { createDeadLetterKeeper } from './deadLetterKeeper.ts';
import { createLogBoundsCheck, WAIT_FOR_LOG } from './logBounds.ts';
import { ensureTopics, type Topics } from './ensureTopics.ts';
import { createOwnedPartitions, type CatchUpTarget } from './ownedPartitions.ts';
import { createPartitionOf } from '../contract/partitionOf.ts';

async function retrying<T>(attempt: () => Promise<T>, times: number, delayMs: number): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (i >= times) throw error;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/**
 * Records applied per RocksDB write: at most this (it bounds a write's memory), at least the minimum, and as
 * many between as the last chunks' rate fits in a tenth of the session timeout (chunkSizer.ts).
 */
const CHUNK_MAX = 64_000;
const CHUNK_MIN = 2_000;
const CHUNK_FIRST = 16_000;
/** Batches applied at once, each of another topic-partition (kafkajs's partitionsConsumedConcurrently). */
export const MAX_PARTITIONS_AT_ONCE = 16;
/** kafkajs's maxBytesPerPartition: room for a whole chunk of typical events (about 150 bytes each). */
export const FETCH_MAX_BYTES_PER_PARTITION = 12 * 2 ** 20;
/** kafkajs's maxBytes, a whole fetch's: room for two partitions' full batches (decoded, ~3× that in memory). */
export const FETCH_MAX_BYTES = 24 * 2 ** 20;
/**
 * The same, written back lazily (a rebuild): large batches buy nothing, and the
 * first fetch, decoded by code not yet optimised, held back the first chunk by a second or more (1M events:
 * 114,701 -> 129,408 events/s; 5M: within the noise, 146,000-172,000 either way).
 */
export const WRITE_BACK_FETCH_MAX_BYTES_PER_PARTITION = 4 * 2 ** 20;
export const WRITE_BACK_FETCH_MAX_BYTES = 8 * 2 ** 20;
/** How often applied offsets are committed to the group (for lag monitoring; RocksDB holds the truth). */
const COMMIT_EVERY_MS = 200;
/** How long the broker holds a fetch that finds nothing new (kafkajs's maxWaitTimeInMs). */
export const FETCH_MAX_WAIT_MS = 250;
/** How often the time since the last heartbeat is looked at. */
const HEARTBEAT_CHECK_MS = 1_000;
/** Records per write of the bulk writes: dropping a partition owned elsewhere, flushing written-back channels. */
const BULK_WRITE_RECORDS = 10_000;
/**
 * Live, a channel changed this many events of its partition ago, or this long ago (WRITE_BACK_MS), is written back
 * with the partition's next write (CompactStore's `writeBackAfter`): what a restart replays, at most, per partition.
 */
export const WRITE_BACK_AFTER = { events: 300_000, ms: DEFAULT_WRITE_BACK_MS } as const;
/** How often partitions no chunk came to are looked at for channels due to be written back. */
const WRITE_BACK_CHECK_MS = 1_000;
/** Between attempts to reach Kafka at start-up. */
const CONNECT_RETRY_MAX_MS = 10_000;

/** kafkajs's errors for brokers that cannot be reached or did not answer in time (retrying may help). */
const UNREACHABLE = new Set([
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSTimeout',
]);

function kafkaUnreachable(error: unknown): boolean {
  const { name, retriable } = error as { name?: unknown; retriable?: unknown };
  return retriable === true || (typeof name === 'string' && UNREACHABLE.has(name));
}

/** start() gave up because stop() was called first (a shutdown before Kafka answered): not a failure. */
export class StoppedWhileStarting extends Error {
  constructor() {
    super('the projector was stopped while starting');
    this.name = 'StoppedWhileStarting';
  }
}

export interface ProjectorOptions {
  kafka: Kafka;
  groupId: string;
  sessionTimeoutMs: number;
  topics: Topics;
  db: RocksDatabase;
  /** Stores rejected records durably and idempotently; throws when it cannot (the projector retries). */
  storeDeadLetters: (letters: readonly DeadLetter[]) => Promise<unknown>;
  logger: Logger;
  /**
   * Called when projecting cannot go on without an operator (a log that no longer matches the stored offsets, an
   * error Kafka says is not retriable): the process should exit non-zero with the message.
   */
  onFatal: (error: Error) => void;
  /** The consumer stopped (it restarts by itself) or runs again: reads may be older than the log meanwhile. */
  onConsumerDown?: (error: Error | undefined) => void;
  /** Kept up to date with what this instance owns and has caught up on; readers answer only for `serving`. */
  partitionStates?: PartitionStates;
  /** Told after each durable write; for metrics and the hot tier. */
  onApplied?: (applied: {
    partition: number;
    topic: TopicKind;
    events: number;
    deadLetters: number;
    ms: number;
  }) => void;
  onDeadLetterOutage?: (paused: boolean) => void;
  /** Kept in step with every write (and forgotten when partitions move away). */
  hotTier?: HotTierMirror;
  /**
   * Fsync every chunk's write (default). A rebuild turns it off: an interrupted rebuild is discarded anyway,
   * and it fsyncs once before its generation becomes current.
   */
  syncWrites?: boolean;
  /**
   * Write changed channels back only when evicted or by `flush()`, not after WRITE_BACK_AFTER (CompactStore's
   * `writeBackAfter`). For a rebuild: nobody reads its database before it is flushed, and an interrupted rebuild
   * is discarded.
   */
  lazyWriteBack?: boolean;
  /** Live, how long a changed channel may stay unwritten (WRITE_BACK_MS); WRITE_BACK_AFTER.ms when unset. */
  writeBackAfterMs?: number;
  /** Ids (messages and members) kept resident across chunks (see CompactStore); RESIDENT_RECORDS. */
  residentRecords: number;
  /** Where big channels' cold blocks go while out of memory (blockSpill.ts); without, channels stay whole. */
  spill?: RocksBlockSpill;
  /** The ids' epoch (SNOWFLAKE_EPOCH_MS), for joins' floors; Discord's when unset. */
  snowflakeEpochMs?: number;
  /** How other instances reach this one (HTTP_ADVERTISED_URL), told to the group; '' when none may. */
  advertisedUrl?: string;
  /** How long the state of a partition owned elsewhere is kept (PARTITION_RETAIN_MS); for ever when unset. */
  retainMs?: number;
  /** Every member's URL and every partition's owner, after each rebalance (clusterMap.ts). */
  onClusterMap?: (map: ClusterMap) => void;
  /**
   * A fixed share of the partitions instead of what the group hands out (shardAssigner.ts): a rebuild's
   * projectors, one per thread over one database, each in a group of its own.
   */
  shard?: Shard;
}

export interface PartitionProgress {
  topic: string;
  partition: number;
  /** Next offset to apply: where the projector stands (RocksDB's stored offsets may be behind it). */
  stored: bigint;
  /** The high watermark when the projector started. */
  startHigh: bigint;
  /** The high watermark as of the partition's last fetch. */
  high: bigint;
}

export interface Projector {
  start(): Promise<{ partitionCount: number }>;
  /** Stops fetching, finishes the batch in hand, commits, leaves the group. */
  stop(): Promise<void>;
  /**
   * After stop(): writes every channel changed since it was last written; RocksDB then holds the state the stored
   * offsets say, and a restart replays nothing. Throws when the projector failed (its state cannot be trusted).
   */
  flush(): Promise<void>;
  /** Progress of the partitions assigned to this instance. */
  progress(): PartitionProgress[];
  /**
   * Reads the topics' high watermarks now. Progress otherwise learns them from fetched batches only, so a
   * stuck projector's lag would look frozen instead of growing.
   */
  refreshHighWatermarks(): Promise<void>;
  /**
   * Stops applying (fetching pauses; the batch in hand finishes first) without leaving the group, and writes back
   * what changed: RocksDB's offsets are then where the projector stands.
   */
  pause(): Promise<void>;
  /** While paused: apply to `db` from now on (a rebuilt generation), starting at the offsets stored there. */
  useDatabase(db: RocksDatabase): Promise<void>;
  resume(): void;
  /** The resident state's size in ids, and the channels it evicted so far. */
  resident(): {
    records: number;
    evictions: number;
    blocksParked: number;
    blocksReadBack: number;
    writtenBytes: number;
  };
  /** The state it writes, resident and on disk: readers of its partitions answer from it (queryReadStates). */
  readonly state: CompactStore;
  /** Every partition's lag as the group stands: its offsets committed (by whoever owns it) against the log end. */
  groupLag(): Promise<GroupLag[]>;
}

/**
 * Kafka → RocksDB. Each chunk of a batch is decoded, its rejects stored as dead letters, its events folded by
 * the compact projection (CompactStore), which writes back changed channels later, with Kafka as the journal:
 * a chunk's ONE atomic write holds its listing keys and the offsets a restart replays from. Where the resident
 * state stands is the truth (RocksDB's offsets when nothing is resident): on every batch the projector compares
 * it with what Kafka delivered, skips what it already applied and rewinds over what it has not. Kafka commits
 * are only for lag monitoring.
 */
export function createProjector(options: ProjectorOptions): Projector {
  const { kafka, topics, logger } = options;
  let db = options.db;
  let commits = createGroupCommit(db, { sync: options.syncWrites ?? true });
  const resident = new CompactStore(db, options.residentRecords, {
    ...(options.hotTier === undefined ? {} : { heldInHotTier: options.hotTier.held }),
    ...(options.lazyWriteBack === true
      ? {}
      : { writeBackAfter: { ...WRITE_BACK_AFTER, ms: options.writeBackAfterMs ?? WRITE_BACK_AFTER.ms } }),
    ...(options.snowflakeEpochMs === undefined ? {} : { snowflakeEpochMs: options.snowflakeEpochMs }),
    ...(options.spill === undefined ? {} : { spill: options.spill }),
  });
  let paused = false;
  /** The batches being applied: pause() waits for them. */
  const applying = new Set<Promise<void>>();
  /**
   * Per partition number, the batch applied last (settled or not): the messages and acks batches of one partition
   * change the same records, so they take turns; different partitions run side by side.
   */
  const turns = new Map<number, Promise<void>>();
  // A heartbeat goes out between chunks: a chunk takes at most about a heartbeat interval. One sizer per topic:
  // an ack costs less than a message, so one topic's chunks would misjudge the other's.
  const newChunkSizer = () =>
    createChunkSizer({
      budgetMs: options.sessionTimeoutMs / 10,
      min: CHUNK_MIN,
      max: CHUNK_MAX,
      first: CHUNK_FIRST,
    });
  const chunkSizers: Record<TopicKind, ChunkSizer> = { messages: newChunkSizer(), acks: newChunkSizer() };
  const log = logger.child({ part: 'projector' });
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: Math.floor(options.sessionTimeoutMs / 10),
    // A fetch with nothing new waits this long on the broker, and stop() waits for it: kafkajs's 5 s made a
    // caught-up rebuild and every shutdown wait seconds for nothing. New events still return a fetch at once.
    maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
    // Larger batches than kafkajs's 1 MiB, live: sized when a chunk's write held a record per channel it changed
    // (it no longer does; smaller live fetches are not measured yet). Only a backlog fills them; caught up,
    // batches are what just arrived.
    ...(options.lazyWriteBack === true
      ? {
          maxBytesPerPartition: WRITE_BACK_FETCH_MAX_BYTES_PER_PARTITION,
          maxBytes: WRITE_BACK_FETCH_MAX_BYTES,
        }
      : { maxBytesPerPartition: FETCH_MAX_BYTES_PER_PARTITION, maxBytes: FETCH_MAX_BYTES }),
    // Partition p of both topics to one member: its RocksDB then holds p's whole state. Round robin only while an
    // older instance in the group knows no other (a rolling upgrade): a partition it splits is served by no one,
    // and each topic's stored offset lets whoever gets it whole later catch up exactly.
    partitionAssigners:
      options.shard === undefined
        ? [
            createCoPartitionedAssigner(() => ({
              url: options.advertisedUrl ?? '',
              owned: ownedNumbers(),
              held: retained.held(),
            })),
            PartitionAssigners.roundRobin,
          ]
        : [createShardAssigner(options.shard)],
    // kafkajs restarts the consumer after a retriable crash (brokers away, a failed chunk); RocksDB's offsets
    // say where to go on. A non-retriable one (say, authorisation) reaches CRASH with restart false: fatal.
    retry: { retries: 5, restartOnFailure: () => Promise.resolve(!stopping) },
  });
  const admin: Admin = kafka.admin();
  const topicKind = (topic: string): TopicKind => (topic === topics.acks ? 'acks' : 'messages');
  /** Per assigned topic-partition; as many entries as partitions, never more. */
  const progress = new Map<string, PartitionProgress>();
  const startHighs = new Map<string, bigint>();
  /** Assigned topic partitions by `topic:partition`. */
  let assigned = new Map<string, { topic: string; partition: number }>();
  let stopping = false;
  /** Read through a call where TypeScript would narrow `stopping` (or `paused`) across an await. */
  const isStopping = () => stopping;
  const isPaused = () => paused;
  const deadLetters = createDeadLetterKeeper({
    consumer,
    store: options.storeDeadLetters,
    nextOffset: nextToApply,
    isStopping,
    log,
    ...(options.onDeadLetterOutage === undefined ? {} : { onOutage: options.onDeadLetterOutage }),
  });
  /** Assignments received: an older one's work stops when a newer one comes. */
  let joins = 0;
  /** Wakes a start-up wait early when stop() is called. */
  let wake: (() => void) | undefined;
  let partitionOf: ((key: Uint8Array) => number) | undefined;
  const owned =
    options.partitionStates === undefined ? undefined : createOwnedPartitions(options.partitionStates);

  /** Partition numbers owned on both topics. */
  const ownedNumbers = (): number[] => {
    const acks = new Set<number>();
    for (const { topic, partition } of assigned.values()) if (topic === topics.acks) acks.add(partition);
    return [...assigned.values()]
      .filter(({ topic, partition }) => topic === topics.messages && acks.has(partition))
      .map(({ partition }) => partition);
  };
  /** Assigned on either topic: its state is being written here. */
  const ownsPartition = (partition: number): boolean =>
    assigned.has(`${topics.messages}:${partition}`) || assigned.has(`${topics.acks}:${partition}`);
  const retained = createRetainedPartitions({
    retainMs: options.retainMs ?? Number.POSITIVE_INFINITY,
    log,
    owns: (partition) => ownsPartition(partition),
    drop: (partition) => inTurn(partition, () => dropPartition(partition)),
  });

  /**
   * A session timeout without a heartbeat: the group may have moved this instance's partitions (heartbeatWatch.ts).
   * Answers are marked stale, and the instance unready, until it heartbeats or joins again.
   */
  const heartbeats = createHeartbeatWatch({
    sessionTimeoutMs: options.sessionTimeoutMs,
    lost: (silentMs) => {
      if (stopping) return;
      const error = new Error(
        `no heartbeat reached the consumer group for ${silentMs} ms (KAFKA_SESSION_TIMEOUT_MS ` +
          `${options.sessionTimeoutMs}): its partitions may have moved to another instance`,
      );
      log.warn({ err: error }, 'out of touch with the consumer group; answers are marked stale');
      options.onConsumerDown?.(error);
    },
    regained: () => options.onConsumerDown?.(undefined),
  });
  const heartbeatTimer = setInterval(() => {
    heartbeats.check();
  }, HEARTBEAT_CHECK_MS);
  heartbeatTimer.unref();
  // A partition no chunk comes to writes back all the same: the snapshots of channels evicted since its last
  // write (held in memory until then), and, live, its channels changed WRITE_BACK_AFTER ago, whose stored offsets
  // must not stay behind for ever (a restart would replay from there, and the log may not reach so far).
  const writeBackTimer = setInterval(() => {
    for (const partition of new Set([...assigned.values()].map((a) => a.partition))) {
      void inTurn(partition, async () => {
        if (paused || stopping) return;
        await resident.readAheadDue(partition, performance.now());
        if (isPaused() || isStopping()) return;
        const operations = resident.writeBackDue(partition, performance.now());
        if (operations.length === 0) return;
        await commits.write(operations).catch((error: unknown) => {
          writeFailed(error);
        });
      }).catch(() => undefined);
    }
  }, WRITE_BACK_CHECK_MS);
  writeBackTimer.unref();

  let knownPartitionCount = 0;
  /**
   * State on disk of partitions this instance does not own (at start; after a rebuild, which replays them all):
   * claimed as held, and deleted after the retention time unless the group gives them to this instance.
   */
  async function retainWhatIsOnDisk(): Promise<void> {
    for (let partition = 0; partition < knownPartitionCount; partition++) {
      if (ownsPartition(partition)) continue;
      const [first] = await db.scan(partitionRange(partition).start, { limit: 1 });
      if (first === undefined) continue;
      // Every write stores the partition's offsets with its records, and a drop deletes the offsets first (they
      // sort first): records without an offset are a drop that a crash interrupted. Its records must not meet
      // a replay from the log's start, so the drop is finished before anything else uses the partition.
      if (first.key[2] !== KeyKind.offset) {
        log.warn({ partition }, 'finishing the deletion of a partition that a stop interrupted');
        await deletePartitionKeys(partition);
        continue;
      }
      retained.released(partition);
    }
  }

  /** Once no batch is being applied and no partition's turn is taken (paused or stopped: none starts after). */
  async function settled(): Promise<void> {
    await Promise.all(applying);
    await Promise.all(turns.values());
  }

  /** Runs `work` after the batch of `partition` in hand, before any later one (the partition's turn). */
  function inTurn(partition: number, work: () => Promise<void>): Promise<void> {
    const run = (turns.get(partition) ?? Promise.resolve()).then(work);
    turns.set(
      partition,
      run.catch(() => undefined),
    );
    return run;
  }

  /** Deletes a partition owned elsewhere: retired for readers first, then its keys, a slice at a time. */
  async function dropPartition(partition: number): Promise<void> {
    if (!retained.held().includes(partition) || ownsPartition(partition)) return;
    options.partitionStates?.retire(partition);
    // Nothing of it is applied here any more.
    options.partitionStates?.setPosition(partition, 'messages', 0n);
    options.partitionStates?.setPosition(partition, 'acks', 0n);
    resident.forget(partition);
    for (const topic of [topics.messages, topics.acks]) {
      // Or the next high-watermark refresh would report its old position again.
      progress.delete(`${topic}:${partition}`);
    }
    options.hotTier?.forgetAll();
    await deletePartitionKeys(partition);
  }

  /**
   * Deletes a partition's keys a slice at a time, in key order: its offsets first (they sort first), so that a
   * crash part-way leaves records without offsets, which the next start recognises (retainWhatIsOnDisk).
   */
  async function deletePartitionKeys(partition: number): Promise<void> {
    const { start } = partitionRange(partition);
    for (let after: Buffer | undefined; ;) {
      const entries = await db.scan(start, {
        limit: BULK_WRITE_RECORDS,
        ...(after === undefined ? {} : { after }),
      });
      if (entries.length === 0) break;
      await db.write(entries.map(({ key }) => ({ type: 'del', key })));
      after = entries.at(-1)?.key;
      // Between slices, the engine's other work (lookups, other partitions) goes on.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  /**
   * Memory may be ahead of RocksDB, or wrong: nothing resident or mirrored may be trusted, and RocksDB is behind
   * what was answered (changed channels are written back later), so nothing is served here until a restart has
   * replayed it.
   */
  function distrustResident(): void {
    for (const { partition } of assigned.values()) options.partitionStates?.retire(partition);
    options.hotTier?.forgetAll();
    resident.clear();
  }

  /**
   * A write to RocksDB failed. Part of it may have landed: nothing resident may be trusted. And RocksDB refuses
   * every write after one failed (a full disk, an I/O error) until it is opened again: stop, so that a restart
   * reopens it and replays from the offsets it holds (exact, as after a crash).
   */
  function writeFailed(error: unknown): never {
    distrustResident();
    fatal(
      `writing to RocksDB in DATA_DIR failed (${(error as Error).message}); RocksDB accepts no write after ` +
        'that until it is opened again, so the service stops. Free space or fix the disk, then start it ' +
        'again: it resumes exactly where its last write ended',
      error,
    );
    throw error;
  }

  /**
   * Writes back what changed in `partition` (in every partition when undefined), with the offsets it reaches. In
   * the partition's turn, or with nothing applying.
   */
  async function writeBack(partition?: number): Promise<void> {
    let records = 0;
    for (const operations of resident.flush(BULK_WRITE_RECORDS, partition)) {
      await commits.write(operations).catch((error: unknown) => writeFailed(error));
      records += operations.length;
    }
    if (records > 0) log.info({ partition, records }, 'wrote back the changed channels');
  }

  let failed = false;
  function fatal(message: string, cause?: unknown): void {
    if (failed) return;
    failed = true;
    // Nothing more is applied: the process is about to stop, and the next batch would only fail again.
    paused = true;
    const error = new Error(message, cause === undefined ? undefined : { cause });
    log.fatal({ err: error }, message);
    options.onFatal(error);
  }

  /**
   * The next offset to apply: where the resident state stands, for a partition it holds (RocksDB's offsets may be
   * older: CompactStore writes back); else the offsets RocksDB stores, from which a replay starts.
   */
  async function nextToApply(topic: string, partition: number): Promise<bigint | undefined> {
    const kind = topicKind(topic);
    return resident.position(partition)?.[kind] ?? readStoredOffset(db, partition, kind);
  }

  async function lowWatermark(topic: string, partition: number): Promise<bigint> {
    const offsets = await retrying(() => admin.fetchTopicOffsets(topic), 20, 250);
    return BigInt(offsets.find((o) => o.partition === partition)?.low ?? '0');
  }

  function noteProgress(topic: string, partition: number, stored: bigint, high?: bigint): void {
    const id = `${topic}:${partition}`;
    const startHigh = startHighs.get(id) ?? 0n;
    const known = high ?? progress.get(id)?.high ?? startHigh;
    progress.set(id, { topic, partition, stored, startHigh, high: known > stored ? known : stored });
    owned?.applied(partition, topicKind(topic), stored);
  }

  /** A stored offset outside the log is believed after LOG_CHECK_GRACE_MS (see logBounds.ts). */
  const outsideLogFor = createLogBoundsCheck(log);

  /**
   * Tells the group where RocksDB stands. Harmless when it fails: RocksDB holds the truth; the group's offsets
   * only feed lag monitoring and `readstates status` while the service runs.
   */
  async function commitToKafka(topic: string, partition: number, next: bigint): Promise<void> {
    try {
      await consumer.commitOffsets([{ topic, partition, offset: next.toString() }]);
    } catch (error) {
      log.debug({ err: error, topic, partition }, 'offset commit failed');
    }
  }

  /** Offsets applied since the last commit to the group, by `topic:partition`: committed together, now and then. */
  const uncommitted = new Map<string, { topic: string; partition: number; offset: string }>();
  let commitTimer: NodeJS.Timeout | undefined;

  /**
   * commitToKafka for the batches of a steady stream: at most once per COMMIT_EVERY_MS for all partitions, not
   * one round trip per batch (lag is a monitoring figure; a fraction of a second does not matter there).
   */
  function commitSoon(topic: string, partition: number, next: bigint): void {
    uncommitted.set(`${topic}:${partition}`, { topic, partition, offset: next.toString() });
    commitTimer ??= setTimeout(() => {
      commitTimer = undefined;
      void commitNow();
    }, COMMIT_EVERY_MS);
  }

  async function commitNow(): Promise<void> {
    const offsets = [...uncommitted.values()];
    uncommitted.clear();
    if (offsets.length === 0) return;
    try {
      await consumer.commitOffsets(offsets);
    } catch (error) {
      log.debug({ err: error }, 'offset commit failed');
    }
  }

  /**
   * After an assignment: each assigned partition resumes at the offset stored in RocksDB, whatever the group's
   * committed offsets say (a partition that comes from another instance would otherwise wait at that instance's
   * position for a batch that never comes), once the stored offset is checked against the log. Owned partitions
   * learn the log ends they must reach before they are served.
   */
  async function resumeAssigned(token: number | undefined, partitions: readonly number[]): Promise<void> {
    // A partition whose state was being dropped when it came back: its stored offsets are read after that.
    await Promise.all(partitions.map((partition) => turns.get(partition) ?? Promise.resolve()));
    const targets = new Map<number, CatchUpTarget>();
    for (const partition of partitions) targets.set(partition, { messages: 0n, acks: 0n });
    for (const topic of [topics.messages, topics.acks]) {
      const kind = topicKind(topic);
      const offsets = await retrying(() => admin.fetchTopicOffsets(topic), 20, 250);
      for (const partition of partitions) {
        const found = offsets.find((o) => o.partition === partition);
        const target = targets.get(partition);
        if (found === undefined || target === undefined) continue;
        const stored = await nextToApply(topic, partition);
        const problem = outsideLogFor(topic, partition, stored, BigInt(found.low), BigInt(found.high));
        if (problem === WAIT_FOR_LOG) throw new Error(`${topic} partition ${partition}: waiting for the log`);
        if (problem !== undefined) {
          fatal(problem);
          return;
        }
        const from = stored ?? BigInt(found.low);
        if (!assigned.has(`${topic}:${partition}`)) continue;
        // A batch applied meanwhile moved the stored offset on: the wholly-applied check seeks forward again.
        consumer.seek({ topic, partition, offset: from.toString() });
        // A crash between a write and its commit left the group behind RocksDB, and with nothing new to apply
        // no later commit would say so: the lag would show events that are applied.
        if (stored !== undefined) await commitToKafka(topic, partition, stored);
        target[kind] = BigInt(found.high);
        owned?.applied(partition, kind, from);
      }
    }
    if (token !== undefined) owned?.caughtUpAt(token, targets);
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    // Fetched before a pause: dropped unapplied. The next batch after resume() starts past it, and the offset
    // stored in RocksDB brings the consumer back (see applyBatch).
    if (paused) return;
    const { partition } = payload.batch;
    const run = (turns.get(partition) ?? Promise.resolve()).then(() =>
      paused ? undefined : applyBatch(payload),
    );
    const settled = run.catch(() => undefined);
    turns.set(partition, settled);
    applying.add(settled);
    try {
      await run;
    } finally {
      applying.delete(settled);
      if (turns.get(partition) === settled) turns.delete(partition);
    }
  }

  async function applyBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const { topic, partition } = batch;
    const kind = topicKind(topic);
    const stored = await nextToApply(topic, partition);
    const expected = stored ?? (await lowWatermark(topic, partition));
    const first = batch.firstOffset();
    if (first !== null && BigInt(first) > expected) {
      // Kafka is ahead of RocksDB (state lost its last writes, or a new data directory): replay from RocksDB's
      // offset, unless the log no longer has it (the broker would answer with its first offset again, for ever).
      const problem = outsideLogFor(
        topic,
        partition,
        stored,
        await lowWatermark(topic, partition),
        BigInt(batch.highWatermark),
      );
      if (problem === WAIT_FOR_LOG) {
        // Fetched again after a pause, not at once: nothing of this partition is applied meanwhile.
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        return;
      }
      if (problem !== undefined) {
        fatal(problem);
        return;
      }
      log.warn(
        { topic, partition, from: expected.toString(), kafka: first },
        'rewinding to the offset stored in RocksDB',
      );
      consumer.seek({ topic, partition, offset: expected.toString() });
      return;
    }
    // Offsets ascend within a batch: only its head can be applied already (a BigInt per message was 5% of a rebuild).
    let from = 0;
    while (from < batch.messages.length && BigInt(batch.messages[from]?.offset ?? '0') < expected) from++;
    const fresh = from === 0 ? batch.messages : batch.messages.slice(from);
    if (fresh.length === 0 && batch.messages.length > 0) {
      // Wholly applied already (a group whose committed offsets are older than RocksDB's, or none at all):
      // nothing to resolve, so without a seek kafkajs would fetch this same batch for ever.
      const problem = outsideLogFor(topic, partition, stored, 0n, BigInt(batch.highWatermark));
      if (problem === WAIT_FOR_LOG) {
        // Fetched again after a pause, not at once: nothing of this partition is applied meanwhile.
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        return;
      }
      if (problem !== undefined) {
        fatal(problem);
        return;
      }
      consumer.seek({ topic, partition, offset: expected.toString() });
      return;
    }
    if (!resident.knows(partition)) {
      // A partition RocksDB holds nothing of is known whole from here on: every channel it gets is written here.
      const empty = (await db.scan(partitionRange(partition).start, { limit: 1 })).length === 0;
      const startsAt = async (other: string) =>
        (await nextToApply(other, partition)) ?? (await lowWatermark(other, partition));
      const position =
        kind === 'messages'
          ? { messages: expected, acks: await startsAt(topics.acks) }
          : { messages: await startsAt(topics.messages), acks: expected };
      // Whatever an earlier run applied (and wrote listing keys for) lies below the log's end at start.
      const replayUntil = {
        messages: startHighs.get(`${topics.messages}:${partition}`) ?? 0n,
        acks: startHighs.get(`${topics.acks}:${partition}`) ?? 0n,
      };
      resident.startPartition(partition, empty, position, replayUntil);
    }
    let next = expected;
    for (let start = 0; start < fresh.length;) {
      if (!payload.isRunning() || payload.isStale() || paused) break;
      const started = performance.now();
      const chunk = fresh.slice(start, start + chunkSizers[kind].size);
      start += chunk.length;
      const events: ChatEvent[] = [];
      const offsets: string[] = [];
      const letters: DeadLetter[] = [];
      for (const message of chunk) {
        const decoded = decodeEvent(message.value, message.key, kind);
        if (!decoded.ok) {
          letters.push(deadLetterOf(topic, partition, message, decoded.rejection));
        } else if (
          message.key !== null &&
          partitionOf !== undefined &&
          partitionOf(message.key) !== partition
        ) {
          // Reads find a channel on the partition its key hashes to; an event elsewhere would never be seen.
          const home = partitionOf(message.key);
          letters.push(
            deadLetterOf(topic, partition, message, {
              code: 'wrong_partition',
              message:
                `the key "${decoded.event.channel_id}" hashes (murmur2, the default partitioner) to partition ` +
                `${home}, not ${partition}: produce with the default partitioner and no explicit partition`,
            }),
          );
        } else {
          events.push(decoded.event);
          offsets.push(message.offset);
        }
      }
      if (!(await deadLetters.keep(letters, topic, partition))) break;
      let changing = false;
      const last = chunk.at(-1)?.offset ?? next.toString();
      const projected = await resident
        .projectChunk(partition, events, { topic: kind, offsets, next: BigInt(last) + 1n }, () => {
          changing = true;
          options.hotTier?.beforeWrite(partition);
        })
        .catch((error: unknown) => {
          // Moved away while its channels were read: nothing was applied; the next owner applies it.
          if (error instanceof PartitionForgotten && !changing) return undefined;
          if (changing) {
            options.hotTier?.writeFailed(partition);
            distrustResident();
          }
          // The pure core throws only on state it cannot make sense of (or RocksDB could not be read): retrying the
          // same events would fail the same way, for ever. Stop, loudly; a restart retries once more.
          fatal(
            `applying events at ${topic} partition ${partition} offset ${chunk[0]?.offset ?? '?'} failed ` +
              `(${(error as Error).message}); if this repeats after a restart at the same offset, the stored state ` +
              'is inconsistent: rebuild it with the service stopped (readstates rebuild --offline)',
            error,
          );
          throw error;
        });
      if (projected === undefined) {
        log.info(
          { topic, partition },
          'partition moved away while a chunk of it loaded; the chunk is left to its new owner',
        );
        break;
      }
      const { operations, hotChanges } = projected;
      next = BigInt(last) + 1n;
      try {
        await commits.write(operations);
      } catch (error) {
        options.hotTier?.writeFailed(partition);
        writeFailed(error);
      }
      resident.commit(partition);
      options.hotTier?.afterWrite(partition, hotChanges);
      payload.resolveOffset(last);
      noteProgress(topic, partition, next, BigInt(batch.highWatermark));
      const ms = performance.now() - started;
      chunkSizers[kind].observe(chunk.length, ms);
      options.onApplied?.({ partition, topic: kind, events: events.length, deadLetters: letters.length, ms });
      await payload.heartbeat();
    }
    if (next > expected) {
      commitSoon(topic, partition, next);
    } else if (!progress.has(`${topic}:${partition}`)) {
      noteProgress(topic, partition, expected);
    }
  }

  return {
    async start() {
      let partitionCount: number;
      for (let attempt = 0; ; attempt++) {
        if (stopping) throw new StoppedWhileStarting();
        try {
          await admin.connect();
          // A topic is never created again under state projected from it (every write stores offsets): its new
          // events would sit below the stored offsets and be skipped.
          const mayCreate = !(await claimStateFormat(db)).holdsState;
          partitionCount = await ensureTopics(admin, topics, log, { mayCreate });
          options.onConsumerDown?.(undefined);
          break;
        } catch (error) {
          // Only Kafka being away is worth waiting for: a refusal (authorisation, topics not co-partitioned, not
          // created again) would be refused again, and is said once, fatally.
          if (!kafkaUnreachable(error)) throw error;
          const delay = Math.min(500 * 2 ** attempt, CONNECT_RETRY_MAX_MS);
          log.warn({ err: error, retryInMs: delay }, 'cannot reach Kafka; trying again');
          options.onConsumerDown?.(error as Error);
          await admin.disconnect().catch(() => undefined);
          await sleep(delay);
        }
      }
      if (partitionCount > MAX_PARTITIONS) {
        throw new Error(
          `the topics have ${partitionCount} partitions; readstates tracks at most ${MAX_PARTITIONS} per instance`,
        );
      }
      partitionOf = createPartitionOf(partitionCount);
      for (const topic of [topics.messages, topics.acks]) {
        // Leaders of just-created partitions take a moment to be elected: ask again for a while.
        const offsets = await retrying(() => admin.fetchTopicOffsets(topic), 20, 250);
        for (const { partition, high } of offsets) startHighs.set(`${topic}:${partition}`, BigInt(high));
      }
      knownPartitionCount = partitionCount;
      await retainWhatIsOnDisk();
      retained.start();
      consumer.on(consumer.events.HEARTBEAT, () => {
        heartbeats.beat();
      });
      consumer.on(consumer.events.REBALANCING, () => {
        owned?.rebalancing();
      });
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        heartbeats.beat();
        options.onConsumerDown?.(undefined);
        const before = assigned;
        assigned = new Map(
          Object.entries(event.payload.memberAssignment).flatMap(([topic, partitions]) =>
            partitions.map((partition) => [`${topic}:${partition}`, { topic, partition }] as const),
          ),
        );
        // Partitions that moved away are written elsewhere from now on: their changed channels are written back,
        // then their resident channels go, their state on disk stays (answered as handing over, then kept for
        // PARTITION_RETAIN_MS). The hot tier keeps them too: it mirrors this state, which nothing changes meanwhile.
        for (const [id, { partition }] of before) {
          if (assigned.has(id)) continue;
          retained.released(partition);
          void inTurn(partition, async () => {
            // Back meanwhile (on either topic): its resident state is as current as ever. Paused (a rebuild's
            // switch), everything was written back, and the database may be changing under the projector.
            if (ownsPartition(partition) || paused) return;
            await writeBack(partition);
            resident.forget(partition);
          }).catch(() => undefined);
        }
        log.info({ assignment: event.payload.memberAssignment }, 'joined the consumer group');
        const acks = new Set(event.payload.memberAssignment[topics.acks] ?? []);
        const both = (event.payload.memberAssignment[topics.messages] ?? []).filter((p) => acks.has(p));
        for (const partition of both) retained.reclaimed(partition);
        const token = owned?.assigned(both);
        const joined = ++joins;
        const onMap = options.onClusterMap;
        if (onMap !== undefined) {
          void readClusterMap(consumer, { current: () => joined === joins && !stopping, onMap, log });
        }
        void (async () => {
          // Until it works, or a newer assignment takes over: owned partitions stay restoring (503) meanwhile.
          for (let attempt = 0; joined === joins && !stopping; attempt++) {
            try {
              await resumeAssigned(token, both);
              return;
            } catch (error) {
              const delay = Math.min(500 * 2 ** attempt, CONNECT_RETRY_MAX_MS);
              log.warn(
                { err: error, retryInMs: delay },
                'cannot read the offsets of the assigned partitions',
              );
              await new Promise((resolve) => setTimeout(resolve, delay));
            }
          }
        })();
        // Report assigned partitions right away, from RocksDB, before their first batch arrives.
        for (const [id, { topic, partition }] of assigned) {
          void nextToApply(topic, partition).then((stored) => {
            if (!progress.has(id)) noteProgress(topic, partition, stored ?? 0n);
          });
        }
      });
      consumer.on(consumer.events.CRASH, (event) => {
        if (stopping) return;
        if (event.payload.restart) {
          log.error({ err: event.payload.error }, 'the Kafka consumer stopped; kafkajs restarts it');
          options.onConsumerDown?.(event.payload.error);
          return;
        }
        fatal(`the Kafka consumer failed and cannot restart: ${event.payload.error.message}`);
      });
      // stop() may come while this waits: it disconnects what is connected by then, so whatever connects
      // after it is disconnected here, and the start gives up.
      const unlessStopped = async () => {
        if (!isStopping()) return;
        await consumer.disconnect().catch(() => undefined);
        throw new StoppedWhileStarting();
      };
      await unlessStopped();
      await consumer.connect();
      await unlessStopped();
      await consumer.subscribe({ topics: [topics.messages, topics.acks], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        // Partitions side by side: one waiting (its dead letters for PostgreSQL, say) holds up no other.
        partitionsConsumedConcurrently: Math.min(MAX_PARTITIONS_AT_ONCE, 2 * partitionCount),
        eachBatch,
      });
      await unlessStopped();
      log.info({ topics, partitionCount, groupId: options.groupId }, 'projector started');
      return { partitionCount };
    },
    async stop() {
      stopping = true;
      retained.stop();
      clearInterval(heartbeatTimer);
      clearInterval(writeBackTimer);
      wake?.();
      clearTimeout(commitTimer);
      // What is applied so far, for lag monitoring (the next assignment commits RocksDB's offsets anyway): not
      // longer than a moment, with the brokers maybe away.
      await Promise.race([commitNow(), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
      // disconnect() waits for the batch in hand to finish, then leaves the group.
      try {
        await consumer.disconnect();
      } finally {
        // Even when leaving failed: an open admin connection would keep the thread alive.
        await admin.disconnect();
      }
      log.info('projector stopped');
    },
    async flush() {
      if (!stopping) throw new Error('flush() needs the projector stopped');
      // Memory may be ahead of RocksDB after a failure (and was cleared): what it holds is not to be trusted.
      if (failed) throw new Error('the projector failed: its state is not written back');
      // kafkajs may still be applying a batch it fetched before a crash and restart (its runner's stop does not
      // wait for those): nothing more starts once paused, and the store is read only after they end.
      paused = true;
      await settled();
      await writeBack();
    },
    async refreshHighWatermarks() {
      for (const topic of [topics.messages, topics.acks]) {
        for (const { partition, high } of await admin.fetchTopicOffsets(topic)) {
          const known = progress.get(`${topic}:${partition}`);
          if (known !== undefined) noteProgress(topic, partition, known.stored, BigInt(high));
        }
      }
    },
    async pause() {
      paused = true;
      consumer.pause([{ topic: topics.messages }, { topic: topics.acks }]);
      await settled();
      await writeBack();
    },
    async useDatabase(next) {
      if (!paused) throw new Error('useDatabase() needs the projector paused');
      // Built by a rebuild's projector, which claimed it for this layout when it started.
      db = next;
      commits = createGroupCommit(db, { sync: options.syncWrites ?? true });
      resident.useDatabase(db);
      await retainWhatIsOnDisk();
      for (const { topic, partition } of assigned.values()) {
        noteProgress(topic, partition, (await nextToApply(topic, partition)) ?? 0n);
      }
    },
    resident: () => ({
      records: resident.size,
      evictions: resident.evictions,
      blocksParked: options.spill?.parked ?? 0,
      blocksReadBack: options.spill?.loads ?? 0,
      writtenBytes: resident.writtenBytes,
    }),
    state: resident,
    groupLag: () => readGroupLag(admin, options.groupId, topics),
    resume() {
      paused = false;
      consumer.resume([{ topic: topics.messages }, { topic: topics.acks }]);
    },
    progress: () =>
      [...assigned].map(([id, { topic, partition }]) => {
        // Assigned, stored offset not read yet: assume nothing applied, so readiness waits for it.
        const startHigh = startHighs.get(id) ?? 0n;
        return progress.get(id) ?? { topic, partition, stored: 0n, startHigh, high: startHigh };
      }),
  };
}
