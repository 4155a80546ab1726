/**
 * `npm run soak:ingest`: the live service under a steady published load for a long time, to show its memory is
 * bounded (issue 11, item 3). It starts `readstates serve` as users do (fsync on, hot tier mirrored, dead letters
 * to PostgreSQL, a fresh DATA_DIR) on fresh topics, publishes the demo stream at --rate through the publisher SDK
 * for --minutes beside freshness probes (freshness.ts), and every --sample-seconds notes the service's RSS, its
 * engine's V8 heap (used and held) and array buffers (the hot tier's tables among them), the main thread's heap, the
 * RSS by mapping (memoryMap.ts: the C allocator's heaps and the rest), RocksDB's memory (state and spill), the
 * hot tier's tables, the resident records, the channel state written back, the events it applied, the lag behind
 * the broker and the engine thread's garbage collection (V8's --trace-gc: its pauses' share of the interval, by
 * kind). The channels and users are many (default 200,000 and 2,000,000), so the resident state's budget
 * (RESIDENT_RECORDS) is outgrown and cold channels are evicted and reloaded throughout. --activity skewed (the
 * default: a few busy channels and a long tail, as issue 11's backlog and chat traffic) or uniform (every
 * channel alike: the working set is every channel, the worst case for a budget; most events then reload one).
 *
 * The verdict is the RSS over the second half: flat when (max − min) / min stays within 10%.
 *
 * Options: --minutes M (30) --rate R events/s (50000) --channels C (200000) --users U (2000000)
 *          --activity skewed|uniform (skewed) --partitions P (4) --publishers K (4) --sample-seconds S (10) --seed N (1)
 *          --database NAME (readstates_bench, on DATABASE_URL's server)
 *          --cpu-prof-live DIR (the service runs with --cpu-prof: one profile per thread in DIR, written at its exit)
 * Environment: KAFKA_BROKERS and the rest of the service's settings (RESIDENT_RECORDS among them), DATABASE_URL.
 * Last line: {"minutes":…,"published_events_per_s":…,"applied_events_per_s":…,"rss_second_half_min_mib":…,
 *             "rss_second_half_max_mib":…,"rss_flat_pct":…,"lag_end":…,"freshness_p99_ms":…}
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.ts';
import { createKafka } from '../../src/ingest/createKafka.ts';
import { createTopicsAndWait } from '../../src/ingest/createTopicsAndWait.ts';
import { machineLine } from '../machineLine.ts';
import { printTable } from '../markdownTable.ts';
import { databaseUrlOf, openBenchDatabase } from './benchDatabase.ts';
import { measureFreshness } from './freshness.ts';
import { metric, startLiveService, type GcPauses } from './liveProjection.ts';
import { memoryMapOf, type MemoryMap } from './memoryMap.ts';

/** Issue 11: RSS over the second half within this share of its lowest value. */
const TARGET_FLAT_PCT = 10;

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    rate: { type: 'string', default: '50000' },
    channels: { type: 'string', default: '200000' },
    users: { type: 'string', default: '2000000' },
    activity: { type: 'string', default: 'skewed' },
    partitions: { type: 'string', default: '4' },
    publishers: { type: 'string', default: '4' },
    'sample-seconds': { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    database: { type: 'string', default: 'readstates_bench' },
    'cpu-prof-live': { type: 'string' },
  },
});

function positive(name: keyof typeof values): number {
  const number = Number(values[name]);
  if (!(Number.isFinite(number) && number > 0)) {
    console.error(`--${name} must be a number above 0; got ${JSON.stringify(values[name])}`);
    process.exit(2);
  }
  return number;
}

const minutes = positive('minutes');
const rate = positive('rate');
const channels = Math.round(positive('channels'));
const users = Math.round(positive('users'));
const partitions = Math.round(positive('partitions'));
const publishers = Math.round(positive('publishers'));
const sampleSeconds = positive('sample-seconds');
const seed = Math.round(positive('seed'));
if (values.activity !== 'skewed' && values.activity !== 'uniform') {
  console.error(`--activity must be skewed or uniform; got ${JSON.stringify(values.activity)}`);
  process.exit(2);
}
const activity: 'skewed' | 'uniform' = values.activity;

const config = loadConfig(process.env);
const logger = pino({ level: 'warn', base: { service: 'readstates-bench' } }, pino.destination(2));
const kafka = createKafka(config, logger);
const runId = `${Date.now()}`;
const topics = { messages: `soak.messages.${runId}`, acks: `soak.acks.${runId}` };
const groupId = `soak.ingest.${runId}`;

type Sample = {
  second: number;
  rssMiB: number;
  engineHeapMiB: number;
  /** The V8 heap the engine thread and the main (HTTP) thread hold from the system, used or not. */
  engineHeapHeldMiB: number;
  mainHeapHeldMiB: number;
  /** The main thread's memory outside its heap (the Kafka client runs on the engine thread, not here). */
  mainExternalMiB: number;
  /** The RSS by where it is mapped (memoryMap.ts): the C allocator's heaps, other anonymous memory, files. */
  map: MemoryMap;
  /** Off the V8 heap: the engine's array buffers, and RocksDB's memory for the state and for the spill. */
  arrayBuffersMiB: number;
  rocksdbStateMiB: number;
  rocksdbSpillMiB: number;
  hotTierMiB: number;
  residentRecords: number;
  /** Blocks of big channels parked in the spill so far, and read back. */
  blocksParked: number;
  blocksReadBack: number;
  /** Channel snapshots and deltas written back so far, MiB. */
  channelWritesMiB: number;
  applied: number;
  lag: number;
  /** The engine thread's garbage collection since the last sample (the isolate that paused most in all). */
  gc: GcPauses | undefined;
};

const cleanups: (() => Promise<unknown>)[] = [];
const interrupt = new AbortController();
process.once('SIGINT', () => {
  process.stderr.write('interrupted: stopping and cleaning up\n');
  interrupt.abort(new Error('interrupted'));
});

const int = (value: number) => Math.round(value).toLocaleString('en-US');
/** A thread's collector over an interval: its share of the time, and by kind. */
function gcShare(gc: GcPauses | undefined, seconds: number): string {
  if (gc === undefined) return 'none';
  const kinds = Object.entries(gc.msByKind)
    .sort(([, a], [, b]) => b - a)
    .map(([kind, ms]) => `${kind} ${int(ms)} ms`)
    .join(', ');
  return `${((100 * gc.totalMs) / (seconds * 1000)).toFixed(0)}% (${kinds}; longest ${gc.maxMs.toFixed(0)} ms)`;
}
const loadBefore = os.loadavg();
const samples: Sample[] = [];
const admin = kafka.admin();
let freshness: Awaited<ReturnType<typeof measureFreshness>> | undefined;
try {
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  await createTopicsAndWait(admin, [
    { topic: topics.messages, numPartitions: partitions },
    { topic: topics.acks, numPartitions: partitions },
  ]);
  cleanups.push(() => admin.deleteTopics({ topics: [topics.messages, topics.acks] }));
  const pool = await openBenchDatabase(config.DATABASE_URL, values.database);
  await pool.dispose();
  const dataDir = await mkdtemp(join(os.tmpdir(), 'readstates-soak-ingest-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const service = startLiveService(
    {
      KAFKA_BROKERS: config.KAFKA_BROKERS.join(','),
      KAFKA_GROUP_ID: groupId,
      TOPIC_MESSAGES: topics.messages,
      TOPIC_ACKS: topics.acks,
      DATA_DIR: dataDir,
      DATABASE_URL: databaseUrlOf(config.DATABASE_URL, values.database),
      LOG_LEVEL: 'warn',
    },
    19_000 + (process.pid % 1_000),
    {
      traceGc: true,
      ...(values['cpu-prof-live'] === undefined ? {} : { cpuProfileDir: values['cpu-prof-live'] }),
    },
  );
  cleanups.push(() => admin.deleteGroups([groupId]));
  cleanups.push(() => service.stop());
  for (let waited = 0; (await service.handled()) === undefined; waited++) {
    if (service.child.exitCode !== null) throw new Error(`the service exited with ${service.child.exitCode}`);
    if (waited > 600) throw new Error('the service did not answer /metrics within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const started = performance.now();
  const sampler = (async () => {
    for (let n = 1; !interrupt.signal.aborted; n++) {
      const due = started + n * sampleSeconds * 1000;
      if (due > started + minutes * 60_000 + 1) return;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
      if (service.child.exitCode !== null)
        throw new Error(`the service exited with ${service.child.exitCode}`);
      const text = await (await fetch(`${service.url}/metrics`)).text();
      const applied =
        metric(text, 'readstates_events_applied_total') + metric(text, 'readstates_dead_letters_total');
      let published = 0;
      for (const topic of [topics.messages, topics.acks]) {
        for (const { high } of await admin.fetchTopicOffsets(topic)) published += Number(high);
      }
      const sample: Sample = {
        second: (performance.now() - started) / 1000,
        rssMiB: await service.rssMiB(),
        engineHeapMiB: metric(text, 'readstates_engine_heap_used_bytes') / 2 ** 20,
        engineHeapHeldMiB: metric(text, 'readstates_engine_heap_total_bytes') / 2 ** 20,
        mainHeapHeldMiB: metric(text, 'nodejs_heap_size_total_bytes') / 2 ** 20,
        mainExternalMiB: metric(text, 'nodejs_external_memory_bytes') / 2 ** 20,
        map: await memoryMapOf(service.child.pid ?? 0),
        arrayBuffersMiB: metric(text, 'readstates_engine_array_buffers_bytes') / 2 ** 20,
        rocksdbStateMiB: metric(text, 'readstates_rocksdb_memory_bytes{database="state"}') / 2 ** 20,
        rocksdbSpillMiB: metric(text, 'readstates_rocksdb_memory_bytes{database="spill"}') / 2 ** 20,
        hotTierMiB: metric(text, 'readstates_hot_tier_bytes') / 2 ** 20,
        residentRecords: metric(text, 'readstates_resident_records'),
        blocksParked: metric(text, 'readstates_resident_blocks_parked_total'),
        blocksReadBack: metric(text, 'readstates_resident_blocks_read_back_total'),
        channelWritesMiB: metric(text, 'readstates_channel_bytes_written_total') / 2 ** 20,
        applied,
        lag: Math.max(0, published - applied),
        gc: service.takeGcPauses().sort((a, b) => b.totalMs - a.totalMs)[0],
      };
      samples.push(sample);
      process.stderr.write(
        `${Math.round(sample.second)} s: RSS ${int(sample.rssMiB)} MiB, engine heap ${int(sample.engineHeapMiB)} ` +
          `MiB (held ${int(sample.engineHeapHeldMiB)}; main thread ${int(sample.mainHeapHeldMiB)}, external ${int(sample.mainExternalMiB)}), malloc ` +
          `${int(sample.map.mallocMiB)} MiB, other anonymous ${int(sample.map.otherAnonymousMiB)} MiB, array buffers ${int(sample.arrayBuffersMiB)} MiB, RocksDB ${int(sample.rocksdbStateMiB)} + ` +
          `${int(sample.rocksdbSpillMiB)} MiB, hot tier ${int(sample.hotTierMiB)} MiB, resident ` +
          `${int(sample.residentRecords)} (blocks parked ${int(sample.blocksParked)}, read back ` +
          `${int(sample.blocksReadBack)}), channel writes ${int(sample.channelWritesMiB)} MiB, applied ` +
          `${int(applied)}, lag ${int(sample.lag)}, engine GC ${gcShare(sample.gc, sampleSeconds)}\n`,
      );
    }
  })();
  // A failed sample (the service exited) ends the load too, so the run cleans up and says why at once.
  sampler.catch((error: unknown) => {
    interrupt.abort(error);
  });
  freshness = await measureFreshness(kafka, topics, service.url, {
    rate,
    seconds: minutes * 60,
    partitions,
    shape: { seed, channels, users, activity },
    publishers,
    signal: interrupt.signal,
  });
  await sampler;
} finally {
  for (const cleanUp of cleanups.reverse()) {
    await cleanUp().catch((error: unknown) => {
      process.stderr.write(`could not clean up: ${(error as Error).message}\n`);
    });
  }
}

const secondHalf = samples.filter((s) => s.second >= (minutes * 60) / 2);
const rssOf = (list: Sample[]) => list.map((s) => s.rssMiB);
const low = Math.min(...rssOf(secondHalf));
const high = Math.max(...rssOf(secondHalf));
const flatPct = (100 * (high - low)) / low;
const first = samples[0];
const last = samples.at(-1);
const appliedPerSecond =
  first === undefined || last === undefined || last.second === first.second
    ? 0
    : (last.applied - first.applied) / (last.second - first.second);

console.log(
  `\nSoak: ${minutes} min of the demo stream (seed ${seed}, ${int(channels)} channels with ${activity} activity, ${int(users)} users) ` +
    `published at up to ${int(rate)} events/s by ${publishers} SDK publishers into 2 topics × ${partitions} ` +
    `partitions, beside freshness probes; the service as users start it (RESIDENT_RECORDS ` +
    `${process.env.RESIDENT_RECORDS ?? 'default'}). One row a minute, and the last sample:\n`,
);
/** Channel MiB written back per second over the minute (or the samples) before `sample`. */
function channelWriteRate(sample: Sample): string {
  const before = samples.findLast((s) => s.second <= sample.second - 59) ?? samples[0];
  if (before === undefined || before.second === sample.second) return '–';
  return ((sample.channelWritesMiB - before.channelWritesMiB) / (sample.second - before.second)).toFixed(1);
}
/** The samples at each whole minute (they are taken on a fixed schedule from the start), and the last one. */
const perMinute = samples.filter(
  (s, i) =>
    i === samples.length - 1 || Math.round(s.second / sampleSeconds) % Math.round(60 / sampleSeconds) === 0,
);
printTable(
  [
    's',
    'RSS MiB',
    'engine heap used / held MiB',
    'main heap held / external MiB',
    'malloc / other anonymous MiB',
    'array buffers MiB',
    'RocksDB state / spill MiB',
    'hot tier MiB',
    'resident records',
    'blocks parked / read back',
    'channel writes MiB/s',
    'applied',
    'lag',
    'engine GC',
  ],
  perMinute.map((s) => [
    int(s.second),
    int(s.rssMiB),
    `${int(s.engineHeapMiB)} / ${int(s.engineHeapHeldMiB)}`,
    `${int(s.mainHeapHeldMiB)} / ${int(s.mainExternalMiB)}`,
    `${int(s.map.mallocMiB)} / ${int(s.map.otherAnonymousMiB)}`,
    int(s.arrayBuffersMiB),
    `${int(s.rocksdbStateMiB)} / ${int(s.rocksdbSpillMiB)}`,
    int(s.hotTierMiB),
    int(s.residentRecords),
    `${int(s.blocksParked)} / ${int(s.blocksReadBack)}`,
    channelWriteRate(s),
    int(s.applied),
    int(s.lag),
    gcShare(s.gc, sampleSeconds),
  ]),
);
console.log('');
printTable(
  ['measure', 'value'],
  [
    ['published events/s (acknowledged by the broker)', int(freshness.publishedPerSecond)],
    ['applied events/s (from the first sample to the last)', int(appliedPerSecond)],
    ['lag at the end, events', int(last?.lag ?? 0)],
    ['RSS over the second half, MiB', `${int(low)} – ${int(high)}`],
    [
      `RSS flat within ${TARGET_FLAT_PCT}% over the second half`,
      `${flatPct.toFixed(1)}%: ${flatPct <= TARGET_FLAT_PCT ? 'yes' : 'no'}`,
    ],
    [
      'freshness (acknowledged send → visible over HTTP)',
      `${int(freshness.probes)} probes: p50 ${freshness.p50Ms.toFixed(1)} ms, p99 ${freshness.p99Ms.toFixed(1)} ms, ` +
        `max ${freshness.maxMs.toFixed(1)} ms` +
        (freshness.givenUp > 0 ? `; ${int(freshness.givenUp)} given up after 30 s (counted at 30 s)` : ''),
    ],
  ],
);
console.log(`\n${machineLine(loadBefore[0])}`);
console.log(
  JSON.stringify({
    minutes,
    published_events_per_s: Math.round(freshness.publishedPerSecond),
    applied_events_per_s: Math.round(appliedPerSecond),
    rss_second_half_min_mib: Math.round(low),
    rss_second_half_max_mib: Math.round(high),
    rss_flat_pct: Number(flatPct.toFixed(1)),
    lag_end: last?.lag ?? 0,
    freshness_p99_ms: Number(freshness.p99Ms.toFixed(1)),
  }),
);
