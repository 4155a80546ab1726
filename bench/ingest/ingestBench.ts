/**
 * `npm run bench:ingest`: how fast the projector applies events live and rebuilds state from Kafka, against
 * kafkajs's own ceiling on the same records, and how fresh answers are under load, in one run:
 *   1. publish  N events of the seeded demo stream (src/ops/demoStream.ts: about 58% message_sent, 17% of them
 *               with mentions, 1% of all events @everyone; 2% message_edited; 6% message_deleted; 33%
 *               message_acked; 1% member_joined and member_left; 2% duplicate deliveries; the run prints the exact mix) through the publisher SDK into two fresh co-partitioned topics, with several publishers
 *               and large batches in flight (its rate is reported too; it is not part of the measured phases)
 *   2. raw      a kafkajs consumer in a group of its own reads both topics from the beginning to the high
 *               watermarks read before it started; each batch is counted and its offsets resolved, nothing else
 *   3. rebuild  `runRebuild` offline, the code path of `readstates rebuild --offline` (the live projector's code
 *               on REBUILD_THREADS threads, written back: changed channels written when evicted and when each
 *               thread finishes), into a temporary DATA_DIR, recorded in PostgreSQL; from the call until the
 *               rebuilt generation is current
 *   4. live     the service as users start it (`node src/cli.ts serve`, fsync on, hot tier mirrored, dead letters
 *               to PostgreSQL) on the same topics, fresh DATA_DIR: from its first event handled to its last (its
 *               /metrics), its RSS then, and each thread's GC pauses (the service runs with --trace-gc)
 *   5. fresh    with that service still running, a steady load (--fresh-rate) published beside a probe that acks
 *               ever higher ids for one user and times each from the broker's acknowledgement to the value over
 *               HTTP (bench/ingest/freshness.ts)
 *   6. long     one channel of messages with deletions and manual acks far back (longChannelStream.ts), through
 *               a second service
 * Raw consumption and the rebuild run from connect to the last event, so both include joining the group. Then the rebuilt
 * generation: its size on disk (du, before it is reopened), its read states (a prefix scan of each partition) and
 * disk bytes per read state (everything in the generation — channels, messages, indexes — over read states).
 * Topics, consumer groups, the data directory and the run's dead letters are deleted at the end, also on failure.
 *
 * Options: --events N (5000000) --quick (200000) --partitions P per topic (4)
 *          --channels C (events / 100: the same events per channel at every N) --users U (10 × channels)
 *          --activity skewed|uniform (skewed: a few busy channels and a long tail, as issue 11's backlog;
 *          uniform: every channel alike, the worst case for the resident state and the figures before 2026-12-01)
 *          --seed S (1) --batch B events per publishBatch (2000; a partition's share must stay under the
 *          broker's message.max.bytes, 1 MiB by default)
 *          --publishers K (one per partition) --in-flight F batches per publisher (2)
 *          --database NAME (readstates_bench, on DATABASE_URL's server; created when missing)
 *          --cpu-prof-rebuild DIR (each of the rebuild's threads writes its CPU profile in DIR; prints where time went)
 *          --cpu-prof-live DIR (the live service runs with --cpu-prof: one profile per thread in DIR)
 *          --fresh-rate R events/s (50000) --fresh-seconds S (30; 10 with --quick)
 *          --long-events N (120000, about 100,000 of them messages; 30000 with --quick)
 * Environment: KAFKA_BROKERS and the rest of the service's Kafka settings, DATABASE_URL (its server only).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import type { Profiler } from 'node:inspector';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { sql } from '@databases/pg';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.ts';
import { createKafka } from '../../src/ingest/createKafka.ts';
import { createTopicsAndWait } from '../../src/ingest/createTopicsAndWait.ts';
import { runRebuild } from '../../src/ops/rebuild.ts';
import { progressDisplay } from '../../src/ops/rebuildCommand.ts';
import { recordRebuildRequested } from '../../src/ops/rebuilds.ts';
import { databaseUrlOf, openBenchDatabase } from './benchDatabase.ts';
import { consumeRaw } from './consumeRaw.ts';
import { countReadStates } from './countReadStates.ts';
import { summariseCpuProfile, type ProfileSummary } from './cpuProfile.ts';
import { measureFreshness } from './freshness.ts';
import { projectLive, startLiveService, type GcPauses, type LiveService } from './liveProjection.ts';
import { createLongChannelStream } from './longChannelStream.ts';
import { publishStream, streamSize, type PublishResult } from './publishStream.ts';
import { printTable } from '../markdownTable.ts';
import { wholeNumber } from '../wholeNumberOption.ts';

/** Issue 11, on a 2-core machine with the broker on it. */
const TARGET_LIVE_EVENTS_PER_SECOND = 100_000;
const TARGET_LONG_CHANNEL_EVENTS_PER_SECOND = 50_000;
const TARGET_REBUILD_EVENTS_PER_SECOND = 200_000;
const TARGET_REBUILD_OVER_RAW = 0.5;
const TARGET_FRESHNESS_P99_MS = 250;
const TARGET_FRESHNESS_MAX_MS = 1_000;

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '5000000' },
    quick: { type: 'boolean', default: false },
    partitions: { type: 'string', default: '4' },
    channels: { type: 'string' },
    users: { type: 'string' },
    seed: { type: 'string', default: '1' },
    batch: { type: 'string', default: '2000' },
    publishers: { type: 'string' },
    'in-flight': { type: 'string', default: '2' },
    database: { type: 'string', default: 'readstates_bench' },
    'cpu-prof-rebuild': { type: 'string' },
    'cpu-prof-live': { type: 'string' },
    'fresh-rate': { type: 'string', default: '50000' },
    'fresh-seconds': { type: 'string' },
    'long-events': { type: 'string' },
    activity: { type: 'string', default: 'skewed' },
  },
});
const events = values.quick ? 200_000 : wholeNumber('events', values.events);
const partitions = wholeNumber('partitions', values.partitions);
const { channels, users } = streamSize(events, values);
const seed = wholeNumber('seed', values.seed);
if (values.activity !== 'skewed' && values.activity !== 'uniform') {
  throw new Error(`--activity must be skewed or uniform; got "${values.activity}"`);
}
const activity: 'skewed' | 'uniform' = values.activity;
const batch = wholeNumber('batch', values.batch);
const publishers =
  values.publishers === undefined ? partitions : wholeNumber('publishers', values.publishers);
const inFlight = wholeNumber('in-flight', values['in-flight']);
const profileDir = values['cpu-prof-rebuild'];
const freshRate = wholeNumber('fresh-rate', values['fresh-rate']);
const freshSeconds = wholeNumber('fresh-seconds', values['fresh-seconds'] ?? (values.quick ? '10' : '30'));
const longEvents = wholeNumber('long-events', values['long-events'] ?? (values.quick ? '30000' : '120000'));

const config = loadConfig(process.env);
// Warnings and errors only, on stderr: stdout is the report.
const logger = pino({ level: 'warn', base: { service: 'readstates-bench' } }, pino.destination(2));
const kafka = createKafka(config, logger);
const runId = `${Date.now()}`;
const topics = { messages: `bench.messages.${runId}`, acks: `bench.acks.${runId}` };
const rawGroup = `bench.ingest.${runId}.raw`;

type Phase = { name: string; events: number; seconds: number; cpuSeconds: number; loopUtilisation: number };
const phases: Phase[] = [];
/** Wall time, this process's CPU time (all its threads) and the main thread's event-loop utilisation. */
async function phase<T>(name: string, run: () => Promise<T>, eventsOf: (result: T) => number): Promise<T> {
  process.stderr.write(`--- ${name}\n`);
  const cpu = process.cpuUsage();
  const loop = performance.eventLoopUtilization();
  const started = performance.now();
  const result = await run();
  const seconds = (performance.now() - started) / 1000;
  const { user, system } = process.cpuUsage(cpu);
  const { utilization } = performance.eventLoopUtilization(loop);
  phases.push({
    name,
    events: eventsOf(result),
    seconds,
    cpuSeconds: (user + system) / 1e6,
    loopUtilisation: utilization,
  });
  return result;
}

const cleanups: { name: string; run: () => Promise<unknown> }[] = [];
let cleaned: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  cleaned ??= (async () => {
    for (const { name, run } of cleanups.reverse()) {
      try {
        await run();
      } catch (error) {
        process.stderr.write(`could not clean up ${name}: ${(error as Error).message}\n`);
      }
    }
  })();
  return cleaned;
}
/**
 * Ctrl-C stops the publish and raw phases, whose clean-up then runs as on any failure. The rebuild cannot be
 * cancelled: interrupted there, the run cleans up and exits, and the rebuild's consumer group may be left behind.
 */
const interrupt = new AbortController();
/** The rebuild's consumer group while it runs. */
let rebuilding: string | undefined;
process.once('SIGINT', () => {
  process.stderr.write('interrupted: stopping and cleaning up\n');
  interrupt.abort(new Error('interrupted'));
  if (rebuilding === undefined) return;
  process.stderr.write(`consumer group ${rebuilding} may be left behind: delete it once it is empty\n`);
  void cleanUp().finally(() => process.exit(130));
});

async function diskUsage(path: string): Promise<{ bytes: number; byKind: Map<string, number> }> {
  const { stdout } = await promisify(execFile)('du', ['-sk', path]);
  const byKind = new Map<string, number>();
  for (const name of await readdir(path)) {
    const kind = name.endsWith('.sst') ? 'sst' : name.endsWith('.log') ? 'wal' : 'other';
    byKind.set(kind, (byKind.get(kind) ?? 0) + (await stat(join(path, name))).size);
  }
  return { bytes: Number(stdout.split('\t')[0]) * 1024, byKind };
}

const int = (value: number) => Math.round(value).toLocaleString('en-US');
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)}%`;

function printProfile(file: string, summary: ProfileSummary): void {
  const rows = (items: { name?: string; area?: string; ms: number }[]) =>
    items.map(({ name, area, ms }) => [name ?? area ?? '', int(ms), pct(ms, summary.totalMs)]);
  console.log(
    `\nRebuild phase, ${file} (one of its threads; ${int(summary.totalMs)} ms sampled): self time by area`,
  );
  printTable(['area', 'ms', 'share'], rows(summary.byArea.filter(({ ms }) => ms >= summary.totalMs / 1000)));
  console.log('\nTop functions by self time');
  printTable(['function', 'ms', 'share'], rows(summary.byFunction));
  console.log('\nOur functions by inclusive time (synchronous callees included; awaited work is not)');
  printTable(['function', 'ms', 'share'], rows(summary.ourInclusive));
}

const wallStarted = performance.now();
const loadBefore = os.loadavg();
const admin = kafka.admin();
try {
  await admin.connect();
  cleanups.push({ name: 'the admin client', run: () => admin.disconnect() });
  await createTopicsAndWait(admin, [
    { topic: topics.messages, numPartitions: partitions },
    { topic: topics.acks, numPartitions: partitions },
  ]);
  cleanups.push({
    name: `topics ${topics.messages}, ${topics.acks}`,
    run: () => admin.deleteTopics({ topics: [topics.messages, topics.acks] }),
  });
  const dataDir = await mkdtemp(join(os.tmpdir(), 'readstates-bench-ingest-'));
  cleanups.push({ name: dataDir, run: () => rm(dataDir, { recursive: true, force: true }) });
  const benchPool = await openBenchDatabase(config.DATABASE_URL, values.database);
  cleanups.push({ name: 'the PostgreSQL pool', run: () => benchPool.dispose() });
  cleanups.push({
    name: 'dead letters of the bench topics',
    run: () =>
      benchPool.query(sql`DELETE FROM dead_letters WHERE topic IN (${topics.messages}, ${topics.acks})`),
  });

  let lastLine = 0;
  const published: PublishResult = await phase(
    'publish',
    () =>
      publishStream(kafka, topics, {
        events,
        partitions,
        shape: { seed, channels, users, activity },
        batch,
        publishers,
        inFlight,
        signal: interrupt.signal,
        onProgress: (done) => {
          if (performance.now() - lastLine < 5_000 && done < events) return;
          lastLine = performance.now();
          process.stderr.write(`published ${int(done)}/${int(events)} events\n`);
        },
      }),
    (result) => result.events,
  );

  cleanups.push({ name: `consumer group ${rawGroup}`, run: () => admin.deleteGroups([rawGroup]) });
  const raw = await phase(
    'raw kafkajs consumption',
    () =>
      consumeRaw(kafka, topics, {
        groupId: rawGroup,
        sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
        signal: interrupt.signal,
      }),
    (result) => result.events,
  );
  if (raw.events !== published.events) {
    throw new Error(`raw consumption read ${raw.events} events; ${published.events} were published`);
  }

  interrupt.signal.throwIfAborted();
  const id = await recordRebuildRequested(benchPool, 'offline', os.hostname());
  const groupId = `bench.ingest.${runId}`;
  rebuilding = `${groupId}.rebuild-${id}`;
  const display = progressDisplay();
  if (profileDir !== undefined) await mkdir(profileDir, { recursive: true });
  const rebuilt = await phase(
    'offline rebuild',
    () =>
      runRebuild({
        id,
        kafka,
        groupId,
        sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
        topics,
        dataDir,
        pool: benchPool,
        logger,
        residentRecords: config.RESIDENT_RECORDS,
        // The rebuild's threads reach the bench's database, and say only what goes wrong.
        config: {
          ...config,
          DATABASE_URL: databaseUrlOf(config.DATABASE_URL, values.database),
          LOG_LEVEL: 'warn',
        },
        threads: config.REBUILD_THREADS,
        onProgress: (progress) => {
          display.show(progress);
        },
        ...(profileDir === undefined ? {} : { cpuProfileDir: profileDir }),
      }),
    () => published.events,
  ).finally(() => {
    display.stop();
    rebuilding = undefined;
  });
  if (rebuilt.status !== 'succeeded') throw new Error(`rebuild ${id} failed: ${rebuilt.error ?? '?'}`);
  const [deadLetters] = (await benchPool.query(
    sql`SELECT count(*)::int AS count FROM dead_letters WHERE topic IN (${topics.messages}, ${topics.acks})`,
  )) as { count: number }[];

  /** The service as users start it, on topics that hold `count` events; stopped (and its group deleted) after. */
  async function runLive<T>(
    name: string,
    on: { messages: string; acks: string },
    count: number,
    afterBacklog: (service: LiveService) => Promise<T>,
  ): Promise<{
    seconds: number;
    projectingSeconds: number;
    projectingEvents: number;
    rssMiB: number;
    memory: { engineHeap: number; mainHeap: number; hotTier: number };
    after: T;
  }> {
    const liveDir = await mkdtemp(join(os.tmpdir(), 'readstates-bench-live-'));
    cleanups.push({ name: liveDir, run: () => rm(liveDir, { recursive: true, force: true }) });
    const groupId = `bench.ingest.${runId}.${name.replaceAll(' ', '-')}`;
    const service = startLiveService(
      {
        KAFKA_BROKERS: config.KAFKA_BROKERS.join(','),
        KAFKA_GROUP_ID: groupId,
        TOPIC_MESSAGES: on.messages,
        TOPIC_ACKS: on.acks,
        DATA_DIR: liveDir,
        DATABASE_URL: databaseUrlOf(config.DATABASE_URL, values.database),
        LOG_LEVEL: 'warn',
      },
      18_000 + (process.pid % 2_000),
      {
        traceGc: true,
        ...(name === 'live projection' && values['cpu-prof-live'] !== undefined
          ? { cpuProfileDir: values['cpu-prof-live'] }
          : {}),
      },
    );
    cleanups.push({ name: `consumer group ${groupId}`, run: () => admin.deleteGroups([groupId]) });
    cleanups.push({ name: `the ${name} service`, run: () => service.stop() });
    let lastShown = 0;
    const live = await phase(
      name,
      () =>
        projectLive(service, count, {
          signal: interrupt.signal,
          onProgress: (handled) => {
            if (performance.now() - lastShown < 5_000) return;
            lastShown = performance.now();
            process.stderr.write(`${name}: ${int(handled)}/${int(count)} events\n`);
          },
        }),
      (result) => result.events,
    );
    const rssMiB = await service.rssMiB();
    const memory = await service.memoryMiB();
    const after = await afterBacklog(service);
    await service.stop();
    return { ...live, rssMiB, memory, after };
  }

  const live = await runLive('live projection', topics, published.events, async (service) => {
    const backlogGc = service.takeGcPauses();
    const result = await phase(
      'freshness',
      () =>
        measureFreshness(kafka, topics, service.url, {
          rate: freshRate,
          seconds: freshSeconds,
          partitions,
          // Live traffic after the backlog: new messages above its ids, not late ones deep in its history.
          shape: { seed: seed + 1, channels, users, activity, after: published.events },
          publishers,
          signal: interrupt.signal,
        }),
      (fresh) => Math.round(fresh.publishedPerSecond * freshSeconds),
    );
    return { result, backlogGc, freshnessGc: service.takeGcPauses() };
  });
  const freshness = live.after.result;

  const longTopics = { messages: `bench.long.messages.${runId}`, acks: `bench.long.acks.${runId}` };
  await createTopicsAndWait(admin, [
    { topic: longTopics.messages, numPartitions: partitions },
    { topic: longTopics.acks, numPartitions: partitions },
  ]);
  cleanups.push({
    name: `topics ${longTopics.messages}, ${longTopics.acks}`,
    run: () => admin.deleteTopics({ topics: [longTopics.messages, longTopics.acks] }),
  });
  cleanups.push({
    name: 'dead letters of the long-channel topics',
    run: () =>
      benchPool.query(
        sql`DELETE FROM dead_letters WHERE topic IN (${longTopics.messages}, ${longTopics.acks})`,
      ),
  });
  await phase(
    'publish long channel',
    () =>
      publishStream(kafka, longTopics, {
        events: longEvents,
        partitions,
        shape: { seed, channels: 1, users: 20 },
        stream: createLongChannelStream(seed),
        batch,
        publishers,
        inFlight,
        signal: interrupt.signal,
      }),
    (result) => result.events,
  );
  const long = await runLive('long channel', longTopics, longEvents, () => Promise.resolve(undefined));

  const generationPath = join(dataDir, rebuilt.generation);
  const disk = await diskUsage(generationPath);
  const readStates = await countReadStates(generationPath, partitions);
  const rebuildPhase = phases.find((p) => p.name === 'offline rebuild');
  const rawRate = raw.events / raw.seconds;
  const rebuildRate = published.events / (rebuildPhase?.seconds ?? Number.NaN);
  const cpus = os.cpus();
  const { mix } = published;

  console.log(
    `\nIngest: ${int(events)} demo-stream events (seed ${seed}, ${int(channels)} channels with ${activity} ` +
      `activity, ${int(users)} users; ` +
      `${pct(mix.sent, events)} sent, ${pct(mix.sentWithMentions, mix.sent)} of them with mentions, ` +
      `${pct(mix.sentToEveryone, events)} @everyone, ` +
      `${pct(mix.edited, events)} edited, ${pct(mix.deleted, events)} deleted, ${pct(mix.acked, events)} acked (${pct(mix.manualAcks, mix.acked)} manual), ` +
      `${pct(mix.joined, events)} joins, ${pct(mix.left, events)} leaves, ` +
      `${pct(mix.duplicates, events)} duplicates; ${int(mix.channels)} channels and ${int(mix.users)} users seen) ` +
      `into 2 topics × ${partitions} partitions on ${config.KAFKA_BROKERS.join(',')}; ` +
      `${publishers} publishers × ${inFlight} batches of ${int(batch)} in flight\n`,
  );
  printTable(
    [
      'events',
      'publish events/s',
      'raw consume events/s',
      'rebuild events/s',
      'rebuild / raw',
      'RocksDB MiB (du)',
      'read states',
      'B/read state',
    ],
    [
      [
        int(events),
        int(published.events / published.seconds),
        int(rawRate),
        int(rebuildRate),
        (rebuildRate / rawRate).toFixed(2),
        mib(disk.bytes),
        int(readStates),
        readStates === 0 ? '–' : int(disk.bytes / readStates),
      ],
    ],
  );

  // Over the time from the first events seen handled to the last: the events handled in it, per second.
  const liveRate = live.projectingEvents / live.projectingSeconds;
  const longRate = long.projectingEvents / long.projectingSeconds;
  printTable(
    [
      'live (the service: fsync, hot tier, dead letters)',
      'events',
      's from start',
      's projecting',
      'events in it',
      'events/s',
      'RSS MiB after',
    ],
    [
      [
        'demo-stream backlog',
        int(published.events),
        live.seconds.toFixed(1),
        live.projectingSeconds.toFixed(1),
        int(live.projectingEvents),
        int(liveRate),
        int(live.rssMiB),
      ],
      [
        'one long channel',
        int(longEvents),
        long.seconds.toFixed(1),
        long.projectingSeconds.toFixed(1),
        int(long.projectingEvents),
        int(longRate),
        int(long.rssMiB),
      ],
    ],
  );
  console.log(
    `\nLive service's memory after the backlog: RSS ${int(live.rssMiB)} MiB, of which the engine's V8 heap ` +
      `${int(live.memory.engineHeap)} MiB (resident ids: RESIDENT_RECORDS ${int(config.RESIDENT_RECORDS)}), ` +
      `the main thread's heap ${int(live.memory.mainHeap)} MiB, the hot tier's tables ${int(live.memory.hotTier)} MiB`,
  );
  const gcRows = (when: string, pauses: GcPauses[]) =>
    pauses
      .slice(0, 3)
      .map((p) => [
        when,
        p.isolate,
        int(p.pauses),
        p.totalMs.toFixed(0),
        `${p.maxMs.toFixed(1)} (${p.maxKind})`,
      ]);
  console.log(
    "\nGarbage collection in the live service (V8's --trace-gc, per thread; the three that paused longest)",
  );
  printTable(
    ['phase', 'isolate', 'pauses', 'total ms', 'longest ms'],
    [...gcRows('backlog', live.after.backlogGc), ...gcRows('freshness', live.after.freshnessGc)],
  );
  console.log(
    `\nFreshness: ${int(freshness.publishedPerSecond)} events/s published (asked: ${int(freshRate)}) for ${freshSeconds} s; ` +
      `${freshness.probes} probes from the broker's acknowledgement to the value over HTTP: ` +
      `p50 ${freshness.p50Ms.toFixed(1)} ms, p99 ${freshness.p99Ms.toFixed(1)} ms, max ${freshness.maxMs.toFixed(1)} ms` +
      (freshness.givenUp > 0 ? `; ${freshness.givenUp} given up after 30 s (counted at 30 s)` : ''),
  );

  console.log('\nAgainst the targets of issue 11 (2-core machine, broker on the same machine)');
  const row = (measure: string, target: number, measured: number, digits = 0, atMost = false) => [
    measure,
    `${atMost ? '≤' : '≥'} ${digits === 0 ? int(target) : target.toFixed(digits)}`,
    digits === 0 ? int(measured) : measured.toFixed(digits),
    (atMost ? measured <= target : measured >= target) ? 'yes' : 'no',
  ];
  printTable(
    ['measure', 'target', 'measured', 'met'],
    [
      row('live events/s', TARGET_LIVE_EVENTS_PER_SECOND, liveRate),
      row('long-channel events/s', TARGET_LONG_CHANNEL_EVENTS_PER_SECOND, longRate),
      row('rebuild events/s', TARGET_REBUILD_EVENTS_PER_SECOND, rebuildRate),
      row('rebuild / raw consumption', TARGET_REBUILD_OVER_RAW, rebuildRate / rawRate, 2),
      row('freshness p99 ms', TARGET_FRESHNESS_P99_MS, freshness.p99Ms, 1, true),
      row('freshness max ms', TARGET_FRESHNESS_MAX_MS, freshness.maxMs, 1, true),
      row(`freshness load events/s`, freshRate, freshness.publishedPerSecond),
    ],
  );

  console.log(
    '\nPhases (CPU: this process, all threads, in cores; the broker and PostgreSQL are other processes)',
  );
  printTable(
    ['phase', 'events', 's', 'events/s', 'CPU cores', 'event-loop utilisation'],
    phases.map((p) => [
      p.name,
      int(p.events),
      p.seconds.toFixed(1),
      int(p.events / p.seconds),
      (p.cpuSeconds / p.seconds).toFixed(2),
      p.loopUtilisation.toFixed(2),
    ]),
  );
  console.log(
    `\nRaw consumption: first batch after ${raw.firstBatchSeconds.toFixed(2)} s (group join and first fetch), ` +
      `${int(raw.events / (raw.seconds - raw.firstBatchSeconds))} events/s from there. ` +
      `Rebuild: ${int(rebuilt.eventsApplied)} events applied, ${deadLetters?.count ?? 0} dead letters; ` +
      `generation ${mib(disk.byKind.get('sst') ?? 0)} MiB SST, ${mib(disk.byKind.get('wal') ?? 0)} MiB WAL, ` +
      `${mib(disk.byKind.get('other') ?? 0)} MiB other (apparent sizes).`,
  );
  const loadAfter = os.loadavg();
  console.log(
    `Machine: ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
      `${os.type()} ${os.release()}, Node ${process.version}; load average ${(loadBefore[0] ?? 0).toFixed(2)} at start, ` +
      `${(loadAfter[0] ?? 0).toFixed(2)} at end; wall time ${((performance.now() - wallStarted) / 1000).toFixed(0)} s`,
  );

  if (profileDir !== undefined) {
    for (const file of (await readdir(profileDir)).filter((name) => name.startsWith('rebuild-')).sort()) {
      const profile = JSON.parse(await readFile(join(profileDir, file), 'utf8')) as Profiler.Profile;
      printProfile(file, summariseCpuProfile(profile));
    }
    console.log(`\nProfiles written to ${profileDir} (open them in Chrome DevTools or speedscope)`);
  }
  // The headline figures, as the last line, for whoever compares runs.
  console.log(
    JSON.stringify({
      raw_events_per_s: Math.round(rawRate),
      live_events_per_s: Math.round(liveRate),
      rebuild_events_per_s: Math.round(rebuildRate),
      long_channel_events_per_s: Math.round(longRate),
      freshness_p99_ms: Number(freshness.p99Ms.toFixed(1)),
      rss_mib: Math.round(live.rssMiB),
    }),
  );
} catch (error) {
  process.exitCode = interrupt.signal.aborted ? 130 : 1;
  process.stderr.write(
    interrupt.signal.aborted
      ? 'interrupted\n'
      : `ingest bench failed: ${(error as Error).stack ?? String(error)}\n`,
  );
} finally {
  await cleanUp();
}
