/**
 * One server of the query benchmark, in its own process, driven by queryBench.ts over IPC:
 *   offheap  the service's read path (buildApp → readThrough → off-heap hot tier), its writer in a worker thread
 *   map      the same read path over MapHotTier (JS objects), its writer on the HTTP thread (a Map cannot be shared)
 *   bare     node:http answering a constant body of the same size: the floor
 * Usage: node queryServer.ts <kind> <read states> <updates per second>
 */
import { createServer } from 'node:http';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { buildApp, type ReadStateSource } from '../../src/api/app.ts';
import { createPartitionStates } from '../../src/ingest/partitionStates.ts';
import { readThrough } from '../../src/engine/readThrough.ts';
import { createPartitionOf } from '../../src/ingest/partitionOf.ts';
import { attachHotTier, type HotTierReader, type SharedHotTier } from '../../src/store/hotTier.ts';
import { channelId, channelRecord, datasetOf, fill, readStateRecord, userId } from './dataset.ts';
import { MapHotTier } from './mapHotTier.ts';
import { writeUpdates } from './writeUpdates.ts';

const [kind = 'bare', readStatesArg = '1000000', rateArg = '100000'] = process.argv.slice(2);
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
  tier = attachHotTier(filled.shared);
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
      if (withChannel) map.putChannel(channel, channelRecord(version));
      map.putReadState(user, channel, readStateRecord(version));
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
      })),
    );
  },
  listChannels: () => Promise.resolve([]),
};

let listen: () => Promise<number>;
if (tier === undefined) {
  // The floor: answers like the API, from constant bodies of the sizes the two lookups return.
  const entry = (i: number) =>
    `{"channel_id":"${channelId(i)}","last_acked_message_id":"300000000000000001","last_message_id":"300000000000000011","unread_count":9,"mention_count":1}`;
  const body = (n: number) =>
    Buffer.from(
      `{"user_id":"${userId(1)}","read_states":[${Array.from({ length: n }, (_, i) => entry(i)).join(',')}]}`,
    );
  const one = body(1);
  const fifty = body(50);
  const server = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    response.end((request.url ?? '').includes('%2C') || (request.url ?? '').includes(',') ? fifty : one);
  });
  server.keepAliveTimeout = 60_000;
  listen = () =>
    new Promise((resolve) =>
      server.listen(0, '127.0.0.1', () => {
        resolve((server.address() as { port: number }).port);
      }),
    );
} else {
  // The service's own read path, ownership check included: this instance serves every partition.
  const partitionCount = 4;
  const partitions = createPartitionStates();
  for (let partition = 0; partition < partitionCount; partition++) {
    partitions.restore(partition);
    partitions.serve(partition);
  }
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

process.on('message', (message: { type: 'phase-start' | 'phase-end' | 'exit' }) => {
  if (message.type === 'phase-start') {
    eventLoop.reset();
    gcPauses = {};
    declinedToFallback = 0;
    send({ type: 'phase-started' });
  } else if (message.type === 'phase-end') {
    send({
      type: 'phase-stats',
      eventLoopMaxMs: eventLoop.max / 1e6,
      eventLoopP99Ms: eventLoop.percentile(99) / 1e6,
      gc: gcPauses,
      rss: process.memoryUsage().rss,
      heapUsed: process.memoryUsage().heapUsed,
      declined: declinedToFallback,
    });
  } else {
    void stopWriter().then((updates) => {
      send({ type: 'exited', updates });
      process.exit(0);
    });
  }
});
