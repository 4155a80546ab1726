/**
 * The ceiling for the projector: kafkajs consuming both topics with no processing at all. Same consumer settings
 * as the projector (eachBatch, one partition at a time, kafkajs's default fetch sizes, no auto-commit); each
 * batch is only counted and its offsets resolved. Done when every partition reached the high watermark read
 * before the consumer started.
 */
import type { Batch, ConsumerConfig, Kafka } from 'kafkajs';
import type { Topics } from '../../src/ingest/ensureTopics.ts';
import { createShardAssigner, type Shard } from '../../src/ingest/shardAssigner.ts';

export type RawResult = {
  events: number;
  /** From connect to the last message. */
  seconds: number;
  /** From connect to the first batch: joining the group and the first fetch. */
  firstBatchSeconds: number;
};

export async function consumeRaw(
  kafka: Kafka,
  topics: Topics,
  options: {
    groupId: string;
    sessionTimeoutMs: number;
    signal?: AbortSignal;
    /** Only this share of the partitions, as a rebuild's thread takes it (shardAssigner.ts); all by default. */
    shard?: Shard;
    /** More consumer settings (fetch sizes, say); kafkajs's defaults otherwise. */
    consumer?: Partial<ConsumerConfig>;
    partitionsConsumedConcurrently?: number;
    /** Work done on each batch before it is counted (bench:ceiling's steps); none by default. */
    onBatch?: (batch: Batch) => void;
  },
): Promise<RawResult> {
  const admin = kafka.admin();
  await admin.connect();
  /** `topic:partition` → high watermark, for the partitions still short of it. */
  const remaining = new Map<string, bigint>();
  try {
    for (const topic of [topics.messages, topics.acks]) {
      for (const { partition, low, high } of await admin.fetchTopicOffsets(topic)) {
        if (options.shard !== undefined && !options.shard.partitions.includes(partition)) continue;
        if (BigInt(high) > BigInt(low)) remaining.set(`${topic}:${partition}`, BigInt(high));
      }
    }
  } finally {
    await admin.disconnect();
  }

  const consumer = kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: Math.floor(options.sessionTimeoutMs / 10),
    ...(options.shard === undefined ? {} : { partitionAssigners: [createShardAssigner(options.shard)] }),
    ...options.consumer,
  });
  let events = 0;
  let firstBatchAt: number | undefined;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  /** Rejects when the consumer crashes or the run is interrupted. */
  let fail: (error: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined); // raced below; may reject before the race starts
  consumer.on(consumer.events.CRASH, (event) => {
    fail(event.payload.error);
  });
  options.signal?.addEventListener('abort', () => {
    fail(new Error('interrupted'));
  });

  const started = performance.now();
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topics.messages, topics.acks], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      ...(options.partitionsConsumedConcurrently === undefined
        ? {}
        : { partitionsConsumedConcurrently: options.partitionsConsumedConcurrently }),
      eachBatch: (payload) => {
        const { batch } = payload;
        firstBatchAt ??= performance.now();
        options.onBatch?.(batch);
        const last = batch.messages.at(-1);
        if (last !== undefined) {
          events += batch.messages.length;
          payload.resolveOffset(last.offset);
          const id = `${batch.topic}:${batch.partition}`;
          const high = remaining.get(id);
          if (high !== undefined && BigInt(last.offset) + 1n >= high) remaining.delete(id);
          if (remaining.size === 0) finish();
        }
        return Promise.resolve();
      },
    });
    if (remaining.size === 0) finish();
    await Promise.race([finished, failed]);
    const ended = performance.now();
    return {
      events,
      seconds: (ended - started) / 1000,
      firstBatchSeconds: ((firstBatchAt ?? ended) - started) / 1000,
    };
  } finally {
    await consumer.disconnect();
  }
}
