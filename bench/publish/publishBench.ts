/**
 * `npm run bench:publish`: the publisher SDK against the raw kafkajs producer, in one run (issue 11, item 5).
 *
 * Both publish the same pre-generated demo stream (so generating it costs neither side) from the same number of
 * lanes, each owning the partitions `p % lanes === i`, with the same batch size and batches in flight, acks from
 * all in-sync replicas. What differs is only what a publisher pays for using the SDK: validation of every event
 * (the fast path of decodeValid.ts, zod only to word an error), encoding, the idempotent producer with one request
 * in flight that the SDK fixes, and the positions it returns. The raw side sends `JSON.stringify(event)` keyed by
 * channel with kafkajs's defaults (not idempotent, no in-flight limit): what a team would write without the SDK.
 *
 * Rounds alternate raw and SDK (ABAB…) into fresh topics, so drift in the machine's speed falls on both; the
 * figure per side is its median round.
 *
 * Options: --events N per round (400000; --quick 100000) --rounds R (3) --partitions P (4) --publishers K (4)
 *          --batch B events per call (2000) --in-flight F calls per lane (2) --seed S (1)
 * Environment: KAFKA_BROKERS and the rest of the service's Kafka settings.
 * Last line: {"raw_events_per_s":…,"sdk_events_per_s":…,"sdk_over_raw":…}
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { Kafka } from 'kafkajs';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.ts';
import { createKafka } from '../../src/ingest/createKafka.ts';
import { createTopicsAndWait } from '../../src/ingest/createTopicsAndWait.ts';
import { createPartitionOf } from '../../src/contract/partitionOf.ts';
import { createDemoStream, type DemoEvent } from '../../src/ops/demoStream.ts';
import { createPublisher } from '../../src/publisher/createPublisher.ts';
import { machineLine } from '../machineLine.ts';
import { printTable } from '../markdownTable.ts';
import { wholeNumber } from '../wholeNumberOption.ts';

/** Issue 11: the SDK holds at least this share of the raw producer's rate. */
const TARGET_SDK_OVER_RAW = 0.8;

const { values } = parseArgs({
  options: {
    events: { type: 'string' },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    partitions: { type: 'string', default: '4' },
    publishers: { type: 'string', default: '4' },
    batch: { type: 'string', default: '2000' },
    'in-flight': { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
  },
});

const events = wholeNumber('events', values.events ?? (values.quick ? '100000' : '400000'));
const rounds = wholeNumber('rounds', values.rounds);
const partitions = wholeNumber('partitions', values.partitions);
const publishers = wholeNumber('publishers', values.publishers);
const batchSize = wholeNumber('batch', values.batch);
const inFlight = wholeNumber('in-flight', values['in-flight']);
const seed = wholeNumber('seed', values.seed);

type Topics = { messages: string; acks: string };
/** Sends one lane's batch of events; resolves once the broker acknowledged it. */
type SendBatch = (batch: readonly DemoEvent[]) => Promise<unknown>;
type Side = { name: 'raw kafkajs' | 'SDK'; open: (kafka: Kafka, topics: Topics) => Promise<Lane> };
type Lane = { send: SendBatch; close: () => Promise<void> };

const raw: Side = {
  name: 'raw kafkajs',
  async open(kafka, topics) {
    const producer = kafka.producer();
    await producer.connect();
    return {
      send: (batch) => {
        type Message = { key: string; value: string };
        const messages: Record<'messages' | 'acks', Message[]> = { messages: [], acks: [] };
        for (const event of batch) {
          const kind = event.type === 'message_acked' ? 'acks' : 'messages';
          messages[kind].push({ key: event.channel_id, value: JSON.stringify(event) });
        }
        const topicMessages = (['messages', 'acks'] as const)
          .filter((kind) => messages[kind].length > 0)
          .map((kind) => ({ topic: topics[kind], messages: messages[kind] }));
        return producer.sendBatch({ acks: -1, topicMessages });
      },
      close: () => producer.disconnect(),
    };
  },
};

const sdk: Side = {
  name: 'SDK',
  async open(kafka, topics) {
    const publisher = createPublisher({ kafka, topics });
    await publisher.connect();
    return { send: (batch) => publisher.publishBatch(batch), close: () => publisher.disconnect() };
  },
};

/** Publishes `stream` through `lanes` of `side`; returns seconds from the first send to the last acknowledgement. */
async function publishRound(side: Side, kafka: Kafka, topics: Topics, stream: readonly DemoEvent[]) {
  const partitionOf = createPartitionOf(partitions);
  const batches: DemoEvent[][][] = Array.from({ length: publishers }, () => []);
  const pending: DemoEvent[][] = Array.from({ length: publishers }, () => []);
  for (const event of stream) {
    const lane = partitionOf(event.channel_id) % publishers;
    const open = pending[lane] ?? [];
    open.push(event);
    if (open.length >= batchSize) {
      batches[lane]?.push(open);
      pending[lane] = [];
    } else pending[lane] = open;
  }
  pending.forEach((open, lane) => {
    if (open.length > 0) batches[lane]?.push(open);
  });
  const lanes = await Promise.all(batches.map(() => side.open(kafka, topics)));
  const started = performance.now();
  try {
    await Promise.all(
      lanes.map(async (lane, index) => {
        const flights = new Set<Promise<unknown>>();
        for (const batch of batches[index] ?? []) {
          while (flights.size >= inFlight) await Promise.race(flights);
          const flight = lane.send(batch).finally(() => flights.delete(flight));
          flights.add(flight);
        }
        await Promise.all(flights);
      }),
    );
    return (performance.now() - started) / 1000;
  } finally {
    await Promise.all(lanes.map((lane) => lane.close()));
  }
}

const config = loadConfig(process.env);
const logger = pino({ level: 'warn', base: { service: 'readstates-bench' } }, pino.destination(2));
const kafka = createKafka(config, logger);
const admin = kafka.admin();
const runId = Date.now();
const created: string[] = [];
const loadBefore = os.loadavg();

const stream: DemoEvent[] = [];
const demo = createDemoStream({ seed, channels: Math.max(1, events / 100), users: Math.max(1, events / 10) });
for (let i = 0; i < events; i++) stream.push(demo.next());

const results: { side: Side['name']; round: number; seconds: number }[] = [];
try {
  await admin.connect();
  for (let round = 1; round <= rounds; round++) {
    for (const side of [raw, sdk]) {
      const topics = {
        messages: `bench.publish.${runId}.${round}.${side === raw ? 'raw' : 'sdk'}.messages`,
        acks: `bench.publish.${runId}.${round}.${side === raw ? 'raw' : 'sdk'}.acks`,
      };
      await createTopicsAndWait(admin, [
        { topic: topics.messages, numPartitions: partitions },
        { topic: topics.acks, numPartitions: partitions },
      ]);
      created.push(topics.messages, topics.acks);
      process.stderr.write(`--- round ${round}: ${side.name}\n`);
      results.push({ side: side.name, round, seconds: await publishRound(side, kafka, topics, stream) });
    }
  }
} finally {
  if (created.length > 0) await admin.deleteTopics({ topics: created }).catch(() => undefined);
  await admin.disconnect();
}

const median = (numbers: number[]): number => {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};
const rateOf = (side: Side['name']) =>
  median(results.filter((r) => r.side === side).map((r) => events / r.seconds));
const rawRate = rateOf('raw kafkajs');
const sdkRate = rateOf('SDK');
const format = (n: number) => Math.round(n).toLocaleString('en-US');

console.log(
  `\nPublish: ${format(events)} demo-stream events per round (seed ${seed}), ${rounds} rounds alternating, into ` +
    `2 fresh topics × ${partitions} partitions on ${config.KAFKA_BROKERS.join(',')}; ${publishers} lanes × ` +
    `${inFlight} batches of ${batchSize} in flight, acks from all in-sync replicas\n`,
);
printTable(
  ['round', ...results.filter((r) => r.round === 1).map((r) => `${r.side} events/s`)],
  Array.from({ length: rounds }, (_, i) => [
    String(i + 1),
    ...results.filter((r) => r.round === i + 1).map((r) => format(events / r.seconds)),
  ]),
);
console.log('');
printTable(
  ['publisher', 'events/s (median round)', 'of raw', 'target', 'met'],
  [
    ['raw kafkajs producer', format(rawRate), '1.00', '–', '–'],
    [
      'publisher SDK',
      format(sdkRate),
      (sdkRate / rawRate).toFixed(2),
      `≥ ${TARGET_SDK_OVER_RAW.toFixed(2)}`,
      sdkRate / rawRate >= TARGET_SDK_OVER_RAW ? 'yes' : 'no',
    ],
  ],
);
console.log(`\n${machineLine(loadBefore[0])}`);
console.log(
  JSON.stringify({
    raw_events_per_s: Math.round(rawRate),
    sdk_events_per_s: Math.round(sdkRate),
    sdk_over_raw: Number((sdkRate / rawRate).toFixed(3)),
  }),
);
