/**
 * One server of the query benchmark, in its own process, driven by queryBench.ts over IPC:
 *   offheap  the service's HTTP serving (serveHttp: the app on `threads` threads on one port, each reading the
 *            off-heap hot tier through readThrough), its writer in a worker thread as the engine is
 *   map      the same read path over MapHotTier (JS objects), its writer on the HTTP thread (a Map cannot be
 *            shared, so one thread)
 *   bare     node:http answering a constant body of the same size on `threads` threads: the floor
 * Usage: node queryServer.ts <kind> <read states> <updates per second> <threads>
 */
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import type { Profiler } from 'node:inspector';
import { buildApp, type ReadStateSource } from '../../src/api/app.ts';
import { serveHttp } from '../../src/engine/httpThreads.ts';
import { createPartitionStates } from '../../src/ingest/partitionStates.ts';
import { readThrough } from '../../src/engine/readThrough.ts';
import { createPartitionOf } from '../../src/contract/partitionOf.ts';
import type { HotTierReader, SharedHotTier } from '../../src/store/hotTier.ts';
import {
  channelId,
  channelRecord,
  datasetOf,
  fill,
  firstUnreadOf,
  readStateRecord,
  userId,
} from './dataset.ts';
import { MapHotTier } from './mapHotTier.ts';
import { startBareServer } from './bareServer.ts';
import { startCpuProfile, summariseCpuProfile, type ProfileSummary } from '../ingest/cpuProfile.ts';
import { writeUpdates } from './writeUpdates.ts';

const [kind = 'bare', readStatesArg = '1000000', rateArg = '100000', threadsArg = '1'] =
  process.argv.slice(2);
const threads = Number(threadsArg);
const dataset = datasetOf(Number(readStatesArg));
const updatesPerSecond = Number(rateArg);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const send = (message: unknown) => process.send?.(message);

gc();
const rssBefore = process.memoryUsage().rss;

// GC pauses on this (the HTTP) thread, by kind; reset at each phase.
const GC_KINDS: Record<number, string> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };
let gcPauses: Record<string, { count: number; totalMs: number; maxMs: number }> = {};
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const name = GC_KINDS[(entry as unknown as { detail: { kind: number } }).detail.kind] ?? 'other';
    const stat = (gcPauses[name] ??= { count: 0, totalMs: 0, maxMs: 0 });
    stat.count++;
    stat.totalMs += entry.duration;
    stat.maxMs = Math.max(stat.maxMs, entry.duration);
  }
}).observe({ entryTypes: ['gc'] });

let tier: HotTierReader | undefined;
let shared: SharedHotTier | undefined;
let startWriter: () => void = () => undefined;
let stopWriter: () => Promise<number> = () => Promise.resolve(0);
let fillSeconds = 0;
let hotTierBytes = 0;

if (kind === 'offheap') {
  const worker = new Worker(new URL('./writerThread.ts', import.meta.url), {
    workerData: { readStates: dataset.readStates, updatesPerSecond },
  });
  const filled = await new Promise<{ shared: SharedHotTier; fillSeconds: number; hotTierBytes: number }>(
    (resolve) => worker.once('message', resolve),
  );
  shared = filled.shared;
  fillSeconds = filled.fillSeconds;
  hotTierBytes = filled.hotTierBytes;
  startWriter = () => {
    worker.postMessage('start');
  };
  stopWriter = () =>
    new Promise((resolve) => {
      worker.once('message', (m: { updates: number }) => {
        resolve(m.updates);
      });
      worker.postMessage('stop');
    });
} else if (kind === 'map') {
  const map = new MapHotTier();
  const started = performance.now();
  fill(dataset, map);
  fillSeconds = (performance.now() - started) / 1000;
  tier = map;
  let writer: { stop: () => number } | undefined;
  startWriter = () => {
    writer = writeUpdates(dataset, updatesPerSecond, (user, channel, version, withChannel) => {
      // The Map's writer is given what a Map holds: decimal ids and record objects.
      if (withChannel) map.putChannel(channelId(channel), channelRecord(version));
      map.putReadState(userId(user), channelId(channel), readStateRecord(version), firstUnreadOf(version));
    });
  };
  stopWriter = () => Promise.resolve(writer?.stop() ?? 0);
}

gc();
const rssLoaded = process.memoryUsage().rss;

/** Lookups the tier declined; with every read state resident this stays 0 (a RocksDB read in the service). */
let declinedToFallback = 0;
const fallback: ReadStateSource = {
  lookup: (user, channels) => {
    declinedToFallback += channels.length;
    return Promise.resolve(
      channels.map((channel) => ({
        user_id: user,
        channel_id: channel,
        has_read_state: false,
        last_acked_message_id: null,
        last_message_id: null,
        unread_count: 0,
        mention_count: 0,
        first_unread_message_id: null,
      })),
    );
  },
  listChannels: () => Promise.resolve([]),
};

// The service's own read path, ownership check included: this instance serves every partition.
const partitionCount = 4;
const partitions = createPartitionStates();
for (let partition = 0; partition < partitionCount; partition++) {
  partitions.set(partition, 'restoring');
  partitions.set(partition, 'serving');
}
let listen: () => Promise<number>;
/** Reads of the hot tier that slept until the writer ended an update, every HTTP thread's, since start. */
let readerSleeps: () => Promise<number> = () => Promise.resolve(0);
if (shared !== undefined) {
  const hotTier = shared;
  listen = async () => {
    const http = await serveHttp({
      threads,
      host: '127.0.0.1',
      port: 0,
      logLevel: 'silent',
      apiTokens: undefined,
      authDisabled: true,
      shared: { hotTier, partitions: partitions.shared },
      self: '',
      control: {
        ...fallback,
        readiness: () => ({ reason: undefined, dependencies: undefined }),
        startRebuild: () => Promise.reject(new Error('no rebuilds in the benchmark')),
        rebuildStatus: () => Promise.resolve(null),
        cluster: () => Promise.resolve({}),
      },
      rebuilds: false,
      logger: pino({ level: 'silent' }),
      onFatal: (error) => {
        console.error(error);
        process.exit(1);
      },
    });
    http.started(partitionCount);
    readerSleeps = async () => (await http.collectHotTierLookups()).sleeps;
    return http.port;
  };
} else if (tier !== undefined) {
  const app = buildApp({
    logger: pino({ level: 'silent' }),
    readStates: readThrough(tier, fallback, partitions, {
      partitionCount,
      partitionOf: createPartitionOf(partitionCount),
    }),
    notReadyReason: () => undefined,
  });
  listen = async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    return (app.server.address() as { port: number }).port;
  };
} else {
  listen = () => startBareServer(threads);
}

const eventLoop = monitorEventLoopDelay({ resolution: 1 });
eventLoop.enable();
const port = await listen();
startWriter();
send({
  type: 'ready',
  port,
  fillSeconds,
  hotTierBytes,
  rssBefore,
  rssLoaded,
  readStates: dataset.readStates,
});

let cpuAtStart = process.cpuUsage();
let sleepsAtStart = 0;
let stopProfile: (() => Promise<Profiler.Profile>) | undefined;
process.on('message', (message: { type: 'phase-start' | 'phase-end' | 'exit'; profile?: boolean }) => {
  if (message.type === 'phase-start') {
    void (async () => {
      if (message.profile === true) stopProfile = await startCpuProfile();
      eventLoop.reset();
      gcPauses = {};
      declinedToFallback = 0;
      sleepsAtStart = await readerSleeps();
      cpuAtStart = process.cpuUsage();
      send({ type: 'phase-started' });
    })();
  } else if (message.type === 'phase-end') {
    void (async () => {
      const cpu = process.cpuUsage(cpuAtStart);
      const sleeps = (await readerSleeps()) - sleepsAtStart;
      const eventLoopMaxMs = eventLoop.max / 1e6;
      const eventLoopP99Ms = eventLoop.percentile(99) / 1e6;
      let profile: ProfileSummary | undefined;
      if (stopProfile !== undefined) {
        profile = summariseCpuProfile(await stopProfile(), 25);
        stopProfile = undefined;
      }
      send({
        type: 'phase-stats',
        eventLoopMaxMs,
        eventLoopP99Ms,
        gc: gcPauses,
        rss: process.memoryUsage().rss,
        heapUsed: process.memoryUsage().heapUsed,
        declined: declinedToFallback,
        cpuMs: (cpu.user + cpu.system) / 1000,
        sleeps,
        profile,
      });
    })();
  } else {
    void stopWriter().then((updates) => {
      send({ type: 'exited', updates });
      process.exit(0);
    });
  }
});
