/**
 * `npm run bench:query`: three HTTP servers side by side under the same open-loop load, one after another in
 * one run, each in its own process, with the load generator in another:
 *   (a) offheap  the service's read path over the off-heap hot tier; its writer in a worker thread
 *   (b) map      the same read path over a Map of JS objects; its writer on the HTTP thread
 *   (c) bare     node:http answering a constant body of the same size (the floor)
 * (a) and (b) hold the read states while the writer applies updates; lookups ask for 1 and for 50 channels.
 * Then the cost of one hot-tier lookup at several sizes.
 *
 * Options: --read-states N (8000000) --rate R requests/s (10000) --updates U per second (100000)
 *          --seconds S measured per phase (10) --sizes 1000000,8000000,32000000 --quick (1M, 3 s, sizes 1M)
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CHANNELS_PER_USER, channelId, channelOf, datasetOf, random, userId } from './dataset.ts';
import type { LoadRequest, LoadResult } from './loadGenerator.ts';
import { printTable } from '../markdownTable.ts';

const { values } = parseArgs({
  options: {
    'read-states': { type: 'string', default: '8000000' },
    rate: { type: 'string', default: '10000' },
    updates: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '10' },
    sizes: { type: 'string', default: '1000000,8000000,32000000' },
    quick: { type: 'boolean', default: false },
  },
});
const quick = values.quick;
const readStates = quick ? 1_000_000 : Number(values['read-states']);
const rate = Number(values.rate);
const updates = Number(values.updates);
const measuredMs = (quick ? 3 : Number(values.seconds)) * 1000;
const WARMUP_MS = quick ? 1_000 : 3_000;
const sizes = quick ? [1_000_000] : values.sizes.split(',').map(Number);
const CONNECTIONS = 32;
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

type ServerKind = 'offheap' | 'map' | 'bare';
type Ready = {
  port: number;
  fillSeconds: number;
  hotTierBytes: number;
  rssBefore: number;
  rssLoaded: number;
  readStates: number;
};
type GcStat = { count: number; totalMs: number; maxMs: number };
type PhaseStats = {
  eventLoopMaxMs: number;
  eventLoopP99Ms: number;
  gc: Record<string, GcStat>;
  rss: number;
  heapUsed: number;
  declined: number;
};
type Row = { server: ServerKind; lookup: string; load: LoadResult; stats: PhaseStats; ready: Ready };

const dataset = datasetOf(readStates);
function paths(channelsPerLookup: number): string[] {
  const next = random(99);
  return Array.from({ length: 20_000 }, () => {
    const user = next() % dataset.users;
    const first = next() % CHANNELS_PER_USER;
    const ids = Array.from({ length: channelsPerLookup }, (_, i) =>
      channelId(channelOf(dataset, user, (first + i) % CHANNELS_PER_USER)),
    );
    return `/v1/users/${userId(user)}/read-states?channel_ids=${ids.join(',')}`;
  });
}
const LOOKUPS = [
  { name: '1 channel', paths: paths(1) },
  { name: '50 channels', paths: paths(50) },
];

function messageOf<T>(child: ReturnType<typeof fork>, type?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type?: string }) => {
      if (type !== undefined && message.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message as T);
    };
    const onExit = (code: number | null) => {
      reject(new Error(`child exited (${code}) before sending ${type ?? 'its result'}`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Warms up, then lets `beforeMeasuring` reset the server's counters, then measures. */
async function load(
  origin: string,
  lookupPaths: string[],
  beforeMeasuring: () => Promise<unknown>,
): Promise<LoadResult> {
  const generator = fork(here('./loadGenerator.ts'), [], { stdio: 'inherit' });
  const warmed = messageOf(generator, 'warmed');
  generator.send({
    origin,
    paths: lookupPaths,
    rate,
    warmupMs: WARMUP_MS,
    durationMs: measuredMs,
    connections: CONNECTIONS,
  } satisfies LoadRequest);
  await warmed;
  await beforeMeasuring();
  const result = messageOf<LoadResult>(generator, 'result');
  generator.send('go');
  return result;
}

async function runServer(server: ServerKind): Promise<{ rows: Row[]; updatesPerSecond: number }> {
  process.stderr.write(`--- ${server}: loading ${readStates.toLocaleString('en-US')} read states\n`);
  const child = fork(here('./queryServer.ts'), [server, String(readStates), String(updates)], {
    execArgv: ['--expose-gc', '--max-old-space-size=16384'],
    stdio: 'inherit',
  });
  const ready = await messageOf<Ready>(child, 'ready');
  const origin = `http://127.0.0.1:${ready.port}`;
  const rows: Row[] = [];
  const writerStarted = performance.now();
  for (const lookup of LOOKUPS) {
    process.stderr.write(`--- ${server}: ${lookup.name}, ${rate} req/s\n`);
    const result = await load(origin, lookup.paths, () => {
      const started = messageOf(child, 'phase-started');
      child.send({ type: 'phase-start' });
      return started;
    });
    child.send({ type: 'phase-end' });
    const stats = await messageOf<PhaseStats>(child, 'phase-stats');
    rows.push({ server, lookup: lookup.name, load: result, stats, ready });
  }
  child.send({ type: 'exit' });
  const { updates: applied } = await messageOf<{ updates: number }>(child, 'exited');
  await once(child, 'exit');
  return { rows, updatesPerSecond: applied / ((performance.now() - writerStarted) / 1000) };
}

const ms = (value: number) => (value < 10 ? value.toFixed(2) : value.toFixed(0));
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const int = (value: number) => Math.round(value).toLocaleString('en-US');

function gcSummary(gc: Record<string, GcStat>): { max: string; total: string } {
  const kinds = Object.entries(gc).sort(([a], [b]) => a.localeCompare(b));
  if (kinds.length === 0) return { max: '–', total: '0' };
  return {
    max: kinds.map(([kind, s]) => `${kind} ${ms(s.maxMs)}`).join(', '),
    total: kinds.map(([kind, s]) => `${kind} ${ms(s.totalMs)}×${s.count}`).join(', '),
  };
}

const results: Row[] = [];
const writerRates: Partial<Record<ServerKind, number>> = {};
for (const server of ['bare', 'offheap', 'map'] as const) {
  const { rows, updatesPerSecond } = await runServer(server);
  results.push(...rows);
  writerRates[server] = updatesPerSecond;
}

console.log(
  `\nQuery latency: ${readStates.toLocaleString('en-US')} read states, ${rate.toLocaleString('en-US')} req/s open loop ` +
    `(${CONNECTIONS} connections, ${measuredMs / 1000} s measured after ${WARMUP_MS / 1000} s warm-up), writer target ` +
    `${updates.toLocaleString('en-US')} updates/s; ${os.cpus().length} CPUs, Node ${process.version}. Latency runs from ` +
    'issuing a request to its last byte; "unanswered" = not 200, never sent (20,000 already waiting) or still ' +
    'unanswered 5 s after the phase, and those still waiting count in the percentiles with their wait so far.\n',
);
const bytesPerReadState = (row: Row) =>
  row.server === 'bare' ? undefined : (row.ready.rssLoaded - row.ready.rssBefore) / row.ready.readStates;
printTable(
  [
    'server',
    'lookup',
    'req/s',
    'unanswered',
    'p50 ms',
    'p99 ms',
    'p99.9 ms',
    'max ms',
    'generator lag ms',
    'loop max ms',
    'GC max ms',
    'GC total ms',
    'RSS MiB',
    'B/read state',
    'declined',
    'writer upd/s',
  ],
  results.map((row) => {
    const gc = gcSummary(row.stats.gc);
    const perState = bytesPerReadState(row);
    return [
      row.server,
      row.lookup,
      int(row.load.achieved),
      int(row.load.unanswered + row.load.notSent + row.load.failed),
      ms(row.load.p50Ms),
      ms(row.load.p99Ms),
      ms(row.load.p999Ms),
      ms(row.load.maxMs),
      ms(row.load.maxBehindMs),
      ms(row.stats.eventLoopMaxMs),
      gc.max,
      gc.total,
      mib(row.stats.rss),
      perState === undefined ? '–' : perState.toFixed(0),
      row.server === 'bare' ? '–' : int(row.stats.declined),
      row.server === 'bare' ? '–' : int(writerRates[row.server] ?? 0),
    ];
  }),
);

const find = (server: ServerKind, lookup: string) =>
  results.find((r) => r.server === server && r.lookup === lookup);
console.log('\nRatios');
printTable(
  [
    'lookup',
    'p99 offheap / bare',
    'p99 map / offheap',
    'loop max map / offheap',
    'B/read state map / offheap',
  ],
  LOOKUPS.map(({ name }) => {
    const [a, b, c] = [find('offheap', name), find('map', name), find('bare', name)];
    const ratio = (x: number | undefined, y: number | undefined) =>
      x === undefined || y === undefined ? '–' : (x / y).toFixed(2);
    return [
      name,
      ratio(a?.load.p99Ms, c?.load.p99Ms),
      ratio(b?.load.p99Ms, a?.load.p99Ms),
      ratio(b?.stats.eventLoopMaxMs, a?.stats.eventLoopMaxMs),
      ratio(b && bytesPerReadState(b), a && bytesPerReadState(a)),
    ];
  }),
);

process.stderr.write(`--- lookup cost at ${sizes.join(', ')} read states\n`);
const cost = fork(here('./lookupCost.ts'), sizes.map(String), {
  execArgv: ['--expose-gc', '--max-old-space-size=4096'],
  stdio: ['inherit', 'pipe', 'inherit', 'ipc'],
});
let output = '';
cost.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
await once(cost, 'exit');
console.log('\nHot-tier lookup cost (readView from decimal ids, random held keys, 2M lookups)');
const costs = output
  .trim()
  .split('\n')
  .filter((l) => l.startsWith('{'))
  .map(
    (l) =>
      JSON.parse(l) as {
        readStates: number;
        ns: number;
        answered: number;
        bytes: number;
        fillSeconds: number;
      },
  );
printTable(
  ['read states', 'ns/lookup', 'answered', 'hot tier MiB', 'B/read state', 'fill s'],
  costs.map((r) => [
    int(r.readStates),
    r.ns.toFixed(0),
    (r.answered * 100).toFixed(1) + '%',
    mib(r.bytes),
    (r.bytes / r.readStates).toFixed(0),
    r.fillSeconds.toFixed(1),
  ]),
);

// The headline figures, as the last line, for whoever compares runs.
const offheapOne = find('offheap', LOOKUPS[0]?.name ?? '');
const offheap = results.filter((r) => r.server === 'offheap');
console.log(
  JSON.stringify({
    p99_ms_1ch: offheapOne?.load.p99Ms ?? null,
    p99_ms_1ch_bare: find('bare', LOOKUPS[0]?.name ?? '')?.load.p99Ms ?? null,
    p99_ms_50ch: find('offheap', LOOKUPS[1]?.name ?? '')?.load.p99Ms ?? null,
    loop_max_ms: Math.max(...offheap.map((r) => r.stats.eventLoopMaxMs)),
    bytes_per_read_state: offheapOne === undefined ? null : (bytesPerReadState(offheapOne) ?? null),
    lookup_ns: costs.map((c) => Math.round(c.ns)),
  }),
);
