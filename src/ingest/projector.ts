import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { decodeEvent } from '../contract/decode.ts';
import type { ChatEvent, TopicKind } from '../contract/events.ts';
import type { Logger } from '../logger.ts';
import type { DeadLetter } from '../ops/deadLetters.ts';
import { offsetKey } from '../store/keys.ts';
import { projectEvents } from '../store/projectEvents.ts';
import { RecordCache } from '../store/recordCache.ts';
import { decodeOffset, encodeOffset } from '../store/recordCodec.ts';
import type { HotTierMirror } from '../store/hotTierMirror.ts';
import type { RocksDatabase } from '../store/rocksDatabase.ts';
import { ensureTopics, type Topics } from './ensureTopics.ts';

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

/** Records applied per RocksDB write: bounds the memory of one write and lets us heartbeat between writes. */
const CHUNK_SIZE = 4_000;
/**
 * Decoded records kept across chunks (RecordCache): at a few hundred bytes each, ~100 MB of the engine's heap
 * at most, enough for the hot channels' records, their members' read states and index headers and tails.
 */
const RECORD_CACHE_ENTRIES = 250_000;
const DEAD_LETTER_RETRY_MAX_MS = 5_000;

export interface ProjectorOptions {
  kafka: Kafka;
  groupId: string;
  sessionTimeoutMs: number;
  topics: Topics;
  db: RocksDatabase;
  /** Stores rejected records durably and idempotently; throws when it cannot (the projector retries). */
  storeDeadLetters: (letters: readonly DeadLetter[]) => Promise<unknown>;
  logger: Logger;
  fanout: number;
  /** Called when the consumer fails for good; the process should exit non-zero so a supervisor restarts it. */
  onFatal: (error: Error) => void;
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
}

export interface PartitionProgress {
  topic: string;
  partition: number;
  /** Next offset to apply, as stored in RocksDB. */
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
  /** Progress of the partitions assigned to this instance. */
  progress(): PartitionProgress[];
  /**
   * Reads the topics' high watermarks now. Progress otherwise learns them from fetched batches only, so a
   * stuck projector's lag would look frozen instead of growing.
   */
  refreshHighWatermarks(): Promise<void>;
  /** Stops applying (fetching pauses; the batch in hand finishes first) without leaving the group. */
  pause(): Promise<void>;
  /** While paused: apply to `db` from now on (a rebuilt generation), starting at the offsets stored there. */
  useDatabase(db: RocksDatabase): Promise<void>;
  resume(): void;
}

/**
 * Kafka → RocksDB. Each chunk of a batch is decoded, its rejects stored as dead letters, its events folded by
 * the pure core, and the resulting records written to RocksDB in ONE atomic batch together with the partition's
 * next offset. RocksDB's offsets are the truth: on every batch the projector compares them with what Kafka
 * delivered, skips what it already applied and rewinds over what it has not. Kafka commits are only for
 * lag monitoring.
 */
export function createProjector(options: ProjectorOptions): Projector {
  const { kafka, topics, logger } = options;
  let db = options.db;
  const cache = new RecordCache(RECORD_CACHE_ENTRIES);
  let paused = false;
  /** The batch being applied, if any: pause() waits for it. */
  let applying: Promise<void> | undefined;
  const log = logger.child({ part: 'projector' });
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: Math.floor(options.sessionTimeoutMs / 10),
    // A crash is final: the supervisor restarts the process, which re-reads its offsets from RocksDB.
    retry: { retries: 5, restartOnFailure: () => Promise.resolve(false) },
  });
  const admin: Admin = kafka.admin();
  const topicKind = (topic: string): TopicKind => (topic === topics.acks ? 'acks' : 'messages');
  /** Per assigned topic-partition; as many entries as partitions, never more. */
  const progress = new Map<string, PartitionProgress>();
  const startHighs = new Map<string, bigint>();
  /** Assigned topic partitions by `topic:partition`. */
  let assigned = new Map<string, { topic: string; partition: number }>();
  let stopping = false;

  async function storedOffset(topic: string, partition: number): Promise<bigint | undefined> {
    const bytes = await db.get(offsetKey(partition, topicKind(topic)));
    return bytes === undefined ? undefined : decodeOffset(bytes);
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
  }

  /** Blocks (heartbeating) until the dead letters are stored: no offset may pass a record that is neither applied nor kept. */
  async function keepDeadLetters(letters: DeadLetter[], payload: EachBatchPayload): Promise<boolean> {
    if (letters.length === 0) return true;
    for (let attempt = 0; ; attempt++) {
      try {
        await options.storeDeadLetters(letters);
        if (attempt > 0) {
          log.warn({ attempts: attempt + 1 }, 'dead-letter store reachable again; consumption resumes');
          options.onDeadLetterOutage?.(false);
        }
        return true;
      } catch (error) {
        if (attempt === 0) {
          log.error(
            { err: error, topic: payload.batch.topic, partition: payload.batch.partition },
            'cannot store dead letters in PostgreSQL; consumption is paused until it is back',
          );
          options.onDeadLetterOutage?.(true);
        }
        if (!payload.isRunning() || payload.isStale()) {
          // No longer waiting (a rebalance or shutdown); the next batch waits again if PostgreSQL is still away.
          options.onDeadLetterOutage?.(false);
          return false;
        }
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(250 * 2 ** attempt, DEAD_LETTER_RETRY_MAX_MS)),
        );
        await payload.heartbeat();
      }
    }
  }

  function deadLetterOf(
    topic: string,
    partition: number,
    message: KafkaMessage,
    code: string,
    text: string,
  ): DeadLetter {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(message.headers ?? {})) {
      if (value !== undefined)
        headers[name] = Array.isArray(value) ? value.map(String).join(',') : String(value);
    }
    return {
      topic,
      partition,
      offset: message.offset,
      key: message.key,
      value: message.value,
      headers,
      code,
      message: text,
    };
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    // Fetched before a pause: dropped unapplied. The next batch after resume() starts past it, and the offset
    // stored in RocksDB brings the consumer back (see applyBatch).
    if (paused) return;
    applying = applyBatch(payload);
    try {
      await applying;
    } finally {
      applying = undefined;
    }
  }

  async function applyBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const { topic, partition } = batch;
    const kind = topicKind(topic);
    const expected = (await storedOffset(topic, partition)) ?? (await lowWatermark(topic, partition));
    const first = batch.firstOffset();
    if (first !== null && BigInt(first) > expected) {
      // Kafka is ahead of RocksDB (state lost its last writes, or a new data directory): replay from RocksDB's offset.
      log.warn(
        { topic, partition, from: expected.toString(), kafka: first },
        'rewinding to the offset stored in RocksDB',
      );
      consumer.seek({ topic, partition, offset: expected.toString() });
      return;
    }
    const fresh = batch.messages.filter((message) => BigInt(message.offset) >= expected);
    let next = expected;
    for (let start = 0; start < fresh.length; start += CHUNK_SIZE) {
      if (!payload.isRunning() || payload.isStale() || paused) break;
      const started = performance.now();
      const chunk = fresh.slice(start, start + CHUNK_SIZE);
      const events: ChatEvent[] = [];
      const letters: DeadLetter[] = [];
      for (const message of chunk) {
        const decoded = decodeEvent(message.value, message.key, kind);
        if (decoded.ok) events.push(decoded.event);
        else
          letters.push(
            deadLetterOf(topic, partition, message, decoded.rejection.code, decoded.rejection.message),
          );
      }
      if (!(await keepDeadLetters(letters, payload))) break;
      const { store, operations, hotWrites } = await projectEvents(
        db,
        partition,
        options.fanout,
        events,
        cache,
      ).catch((error: unknown) => {
        // The pure core throws only on state it cannot make sense of; kafkajs retries, then the process exits.
        log.error(
          { err: error, topic, partition, offset: chunk[0]?.offset },
          'applying events failed; if this repeats at the same offset the stored state is inconsistent: ' +
            'rebuild it (readstates rebuild --offline, docs/operations.md)',
        );
        throw error;
      });
      const last = chunk.at(-1)?.offset ?? next.toString();
      next = BigInt(last) + 1n;
      operations.push({ type: 'put', key: offsetKey(partition, kind), value: encodeOffset(next) });
      options.hotTier?.beforeWrite(partition);
      await db.write(operations, { sync: options.syncWrites ?? true });
      store.commit();
      options.hotTier?.afterWrite(partition, hotWrites);
      payload.resolveOffset(last);
      noteProgress(topic, partition, next, BigInt(batch.highWatermark));
      options.onApplied?.({
        partition,
        topic: kind,
        events: events.length,
        deadLetters: letters.length,
        ms: performance.now() - started,
      });
      await payload.heartbeat();
    }
    if (next > expected) {
      try {
        await consumer.commitOffsets([{ topic, partition, offset: next.toString() }]);
      } catch (error) {
        // Harmless: RocksDB holds the truth; the commit only feeds lag monitoring.
        log.debug({ err: error, topic, partition }, 'offset commit failed');
      }
    } else if (!progress.has(`${topic}:${partition}`)) {
      noteProgress(topic, partition, expected);
    }
  }

  return {
    async start() {
      await admin.connect();
      const partitionCount = await ensureTopics(admin, topics, log);
      for (const topic of [topics.messages, topics.acks]) {
        // Leaders of just-created partitions take a moment to be elected: ask again for a while.
        const offsets = await retrying(() => admin.fetchTopicOffsets(topic), 20, 250);
        for (const { partition, high } of offsets) startHighs.set(`${topic}:${partition}`, BigInt(high));
      }
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        const before = assigned;
        assigned = new Map(
          Object.entries(event.payload.memberAssignment).flatMap(([topic, partitions]) =>
            partitions.map((partition) => [`${topic}:${partition}`, { topic, partition }] as const),
          ),
        );
        if ([...before.keys()].some((id) => !assigned.has(id))) {
          // Partitions that moved away will be written elsewhere: forget what was known of them.
          cache.clear();
          options.hotTier?.forgetAll();
        }
        log.info({ assignment: event.payload.memberAssignment }, 'joined the consumer group');
        // Report assigned partitions right away, from RocksDB, before their first batch arrives.
        for (const [id, { topic, partition }] of assigned) {
          void storedOffset(topic, partition).then((stored) => {
            if (!progress.has(id)) noteProgress(topic, partition, stored ?? 0n);
          });
        }
      });
      consumer.on(consumer.events.CRASH, (event) => {
        if (stopping) return;
        log.fatal({ err: event.payload.error }, 'Kafka consumer crashed');
        options.onFatal(event.payload.error);
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [topics.messages, topics.acks], fromBeginning: true });
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch });
      log.info({ topics, partitionCount, groupId: options.groupId }, 'projector started');
      return { partitionCount };
    },
    async stop() {
      stopping = true;
      // disconnect() waits for the batch in hand to finish, then leaves the group.
      await consumer.disconnect();
      await admin.disconnect();
      log.info('projector stopped');
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
      await applying;
    },
    async useDatabase(next) {
      if (!paused) throw new Error('useDatabase() needs the projector paused');
      db = next;
      cache.clear();
      for (const { topic, partition } of assigned.values()) {
        noteProgress(topic, partition, (await storedOffset(topic, partition)) ?? 0n);
      }
    },
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
