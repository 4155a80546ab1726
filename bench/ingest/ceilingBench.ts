/**
 * `npm run bench:ceiling`: what a rebuild could reach on this machine at most, whatever the storage does. The
 * rebuild's threads each consume a share of the partitions (shardAssigner.ts) with the rebuild's fetch settings
 * and young generation;
 * here each does only part of the projector's work, step by step, on 1 to T threads:
 *   raw     kafkajs alone: each batch counted and its offsets resolved
 *   decode  and every record decoded and validated (decodeEvent, as the projector does)
 *   fold    and every event folded by the compact projection in memory: no RocksDB, no chunks, no bookkeeping
 * The rebuild does all of that and writes RocksDB too, so `fold` on the machine's cores bounds it from above.
 * The demo stream is published first into two fresh co-partitioned topics, deleted at the end.
 *
 * Options: --events N (1000000) --partitions P per topic (4) --channels C (events / 100) --users U (10 × channels)
 *          --threads LIST (1 up to the cores) --steps LIST (raw,decode,fold) --seed S (1)
 * Environment: KAFKA_BROKERS and the rest of the service's Kafka settings.
 * Last line: {"events":…,"threads":[…],"raw_events_per_s":[…],"decode_events_per_s":[…],"fold_events_per_s":[…]}
 * (one entry per thread count).
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import pino from 'pino';
import { loadConfig } from '../../src/config.ts';
import { decodeEvent } from '../../src/contract/decode.ts';
import { createKafka } from '../../src/ingest/createKafka.ts';
import { createTopicsAndWait } from '../../src/ingest/createTopicsAndWait.ts';
import {
  FETCH_MAX_WAIT_MS,
  MAX_PARTITIONS_AT_ONCE,
  WRITE_BACK_FETCH_MAX_BYTES,
  WRITE_BACK_FETCH_MAX_BYTES_PER_PARTITION,
} from '../../src/ingest/projector.ts';
import { CompactProjection } from '../../src/projection/compact/compactProjection.ts';
import { SHARD_YOUNG_GENERATION_MB } from '../../src/ops/rebuildShards.ts';
import { planShards } from '../../src/ops/shardPlan.ts';
import { machineLine } from '../machineLine.ts';
import { printTable } from '../markdownTable.ts';
import { wholeNumber } from '../wholeNumberOption.ts';
import { consumeRaw } from './consumeRaw.ts';
import { publishStream, streamSize } from './publishStream.ts';

const STEPS = ['raw', 'decode', 'fold'] as const;
type Step = (typeof STEPS)[number];
type Topics = { messages: string; acks: string };
/** What a thread is given: its step and its share of the partitions. */
type ThreadData = { step: Step; index: number; partitions: number[]; groupId: string; topics: Topics };

const config = loadConfig(process.env);
const logger = pino({ level: 'warn', base: { service: 'readstates-bench' } }, pino.destination(2));
const kafka = createKafka(config, logger);

/** One thread's share, consumed to the log ends doing `step`'s work; resolves with the records it read. */
async function consumeShare(data: ThreadData): Promise<number> {
  const projection = new CompactProjection();
  const { events } = await consumeRaw(kafka, data.topics, {
    groupId: data.groupId,
    sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
    shard: { index: data.index, partitions: data.partitions },
    consumer: {
      maxBytesPerPartition: WRITE_BACK_FETCH_MAX_BYTES_PER_PARTITION,
      maxBytes: WRITE_BACK_FETCH_MAX_BYTES,
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
    },
    partitionsConsumedConcurrently: MAX_PARTITIONS_AT_ONCE,
    onBatch: (batch) => {
      if (data.step === 'raw') return;
      const kind = batch.topic === data.topics.acks ? 'acks' : 'messages';
      for (const message of batch.messages) {
        const decoded = decodeEvent(message.value, message.key, kind);
        if (decoded.ok && data.step === 'fold') projection.apply(decoded.event);
      }
    },
  });
  return events;
}

if (!isMainThread) {
  const data = workerData as ThreadData;
  parentPort?.postMessage(await consumeShare(data));
} else {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '1000000' },
      partitions: { type: 'string', default: '4' },
      channels: { type: 'string' },
      users: { type: 'string' },
      threads: { type: 'string' },
      steps: { type: 'string', default: STEPS.join(',') },
      seed: { type: 'string', default: '1' },
    },
  });
  const events = wholeNumber('events', values.events);
  const partitions = wholeNumber('partitions', values.partitions);
  const { channels, users } = streamSize(events, values);
  const cores = os.availableParallelism();
  const threadCounts = (values.threads ?? Array.from({ length: cores }, (_, i) => i + 1).join(','))
    .split(',')
    .map((count) => wholeNumber('threads', count));
  const steps = values.steps.split(',').map((name) => {
    const step = STEPS.find((known) => known === name);
    if (step === undefined) throw new Error(`--steps takes ${STEPS.join(', ')} (got ${name})`);
    return step;
  });
  const runId = `${Date.now()}`;
  const topics = { messages: `bench.ceiling.messages.${runId}`, acks: `bench.ceiling.acks.${runId}` };
  const loadBefore = os.loadavg()[0] ?? 0;
  const admin = kafka.admin();
  await admin.connect();
  const rows: { step: Step; threads: number; rate: number; cores: number }[] = [];
  try {
    await createTopicsAndWait(admin, [
      { topic: topics.messages, numPartitions: partitions },
      { topic: topics.acks, numPartitions: partitions },
    ]);
    process.stderr.write(`--- publish ${events.toLocaleString('en-US')} events\n`);
    await publishStream(kafka, topics, {
      events,
      partitions,
      shape: { seed: wholeNumber('seed', values.seed), channels, users, activity: 'skewed' },
      batch: 2000,
      publishers: partitions,
      inFlight: 2,
    });
    const sizes = new Array<number>(partitions).fill(0);
    for (const topic of [topics.messages, topics.acks]) {
      for (const { partition, high } of await admin.fetchTopicOffsets(topic)) {
        sizes[partition] = (sizes[partition] ?? 0) + Number(high);
      }
    }
    for (const step of steps) {
      for (const threads of threadCounts) {
        process.stderr.write(`--- ${step} on ${threads} thread(s)\n`);
        // As the rebuild splits them: about equal records a thread.
        const plan = planShards(sizes, Math.min(threads, partitions));
        const cpu = process.cpuUsage();
        const started = performance.now();
        const counts = await Promise.all(
          plan.map(
            (shard, index) =>
              new Promise<number>((resolve, reject) => {
                const data: ThreadData = {
                  step,
                  index,
                  partitions: shard,
                  groupId: `bench.ceiling.${runId}.${step}.${threads}.${index}`,
                  topics,
                };
                // As the rebuild's threads: the same young generation.
                const worker = new Worker(new URL(import.meta.url), {
                  workerData: data,
                  resourceLimits: { maxYoungGenerationSizeMb: SHARD_YOUNG_GENERATION_MB },
                });
                worker.once('message', (count: number) => {
                  resolve(count);
                });
                worker.once('error', reject);
              }),
          ),
        );
        const seconds = (performance.now() - started) / 1000;
        const used = process.cpuUsage(cpu);
        const read = counts.reduce((sum, count) => sum + count, 0);
        if (read !== events)
          throw new Error(`${step} on ${threads} threads read ${read} of ${events} records`);
        rows.push({ step, threads, rate: read / seconds, cores: (used.user + used.system) / 1e6 / seconds });
      }
    }
  } finally {
    const groups = (await admin.listGroups()).groups
      .map(({ groupId }) => groupId)
      .filter((groupId) => groupId.startsWith(`bench.ceiling.${runId}.`));
    await admin.deleteGroups(groups).catch(() => undefined);
    await admin.deleteTopics({ topics: [topics.messages, topics.acks] }).catch(() => undefined);
    await admin.disconnect();
  }

  const int = (value: number) => Math.round(value).toLocaleString('en-US');
  console.log(
    `\nCeiling: ${int(events)} demo-stream events (${int(channels)} channels, ${int(users)} users, skewed) over ` +
      `${partitions} partitions a topic, consumed with the rebuild's fetch settings, each thread its share\n`,
  );
  printTable(
    ['step', 'threads', 'events/s', 'CPU cores (process)'],
    rows.map((row) => [row.step, String(row.threads), int(row.rate), row.cores.toFixed(2)]),
  );
  console.log(`\n${machineLine(loadBefore)}`);
  const rates = (step: Step) =>
    threadCounts.map((threads) =>
      Math.round(rows.find((r) => r.step === step && r.threads === threads)?.rate ?? 0),
    );
  console.log(
    JSON.stringify({
      events,
      threads: threadCounts,
      raw_events_per_s: rates('raw'),
      decode_events_per_s: rates('decode'),
      fold_events_per_s: rates('fold'),
    }),
  );
}
