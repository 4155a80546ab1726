/**
 * `npm run bench:query`: HTTP servers side by side under the same open-loop load, one after another in one run,
 * each in its own process, with the load generator in another:
 *   bare ×N     node:http answering a constant body of the same size, on N threads (the floor)
 *   offheap ×1  the service's HTTP serving over the off-heap hot tier on one thread; its writer in a worker thread
 *   offheap ×N  the same on N threads (HTTP_THREADS), one port, one shared hot tier
 *   map ×1      the same read path over a Map of JS objects; its writer on the HTTP thread
 * offheap and map hold the read states while the writer applies updates; lookups ask for 1 and for 50 channels.
 *
 * Two measures per server and lookup: latency at one fixed open-loop rate (--rate), and the held rate: the rate
 * is stepped up by a quarter at a time, and the highest at which p99 stays within the target with every request
 * answered is reported (a step that misses is run twice more before the stepping stops: the VM is noisy; the gap
 * between the last rate held and the first missed is then halved twice). Then the
 * cost of one hot-tier lookup at several sizes and of a whole 50-channel answer, on one thread with no load.
 *
 * Options: --read-states N (8000000) --rate R requests/s (10000) --updates U per second (100000)
 *          --seconds S measured at the fixed rate (10) --step-seconds S measured per step (3)
 *          --threads N (the number of cores) --target-p99-ms T (5) --sizes 1000000,8000000,32000000
 *          --profile (a CPU profile of offheap ×N's main thread at its fixed-rate 50-channel phase)
 *          --servers bare,offheap,map (which to run)
 *          --quick (1M read states, 3 s fixed phases, 2 s steps, sizes 1M)
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CHANNELS_PER_USER, channelId, channelOf, datasetOf, random, userId } from './dataset.ts';
import type { LoadRequest, LoadResult } from './loadGenerator.ts';
import { printTable } from '../markdownTable.ts';
import type { ProfileSummary } from '../ingest/cpuProfile.ts';

const { values } = parseArgs({
  options: {
    'read-states': { type: 'string', default: '8000000' },
    rate: { type: 'string', default: '10000' },
    updates: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '10' },
    'step-seconds': { type: 'string', default: '3' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    'target-p99-ms': { type: 'string', default: '5' },
    sizes: { type: 'string', default: '1000000,8000000,32000000' },
    profile: { type: 'boolean', default: false },
    servers: { type: 'string', default: 'bare,offheap,map' },
    quick: { type: 'boolean', default: false },
  },
});
const quick = values.quick;
const readStates = quick ? 1_000_000 : Number(values['read-states']);
const rate = Number(values.rate);
const updates = Number(values.updates);
const measuredMs = (quick ? 3 : Number(values.seconds)) * 1000;
const stepMs = (quick ? 2 : Number(values['step-seconds'])) * 1000;
const WARMUP_MS = quick ? 1_000 : 3_000;
const STEP_WARMUP_MS = 1_000;
const threads = Number(values.threads);
const targetP99Ms = Number(values['target-p99-ms']);
const sizes = quick ? [1_000_000] : values.sizes.split(',').map(Number);
const CONNECTIONS = 32;
/** Where the stepping starts, per lookup, and where it gives up: far beyond what two cores serve. */
const FIRST_STEP = { '1 channel': 1_000, '50 channels': 500 } as const;
/** Attempts at one rate before the stepping stops: on a shared VM one noisy step must not end it. */
const ATTEMPTS_PER_STEP = 3;
const STEP_FACTOR = 1.25;
/** Halvings of the gap between the last rate held and the first missed, after the stepping. */
const REFINE_STEPS = 2;
const MAX_STEP_RATE = 200_000;
/**
 * Huge pages for the hot tier's SharedArrayBuffers (glibc's malloc asks the kernel for them when THP is in
 * `madvise` mode): at 8M read states each lookup would otherwise walk the page tables twice. docs/operations.md
 * says how the service is run with the same setting.
 */
const HUGE_PAGES = { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' };
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

type ServerKind = 'offheap' | 'map' | 'bare';
type Server = { kind: ServerKind; threads: number; label: string };
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
  cpuMs: number;
  /** Hot-tier reads that slept until the writer ended an update (all HTTP threads). */
  sleeps: number;
  profile?: ProfileSummary;
};
type Phase = { load: LoadResult; stats: PhaseStats; rate: number };
type Row = { server: Server; lookup: LookupName; fixed: Phase; held: Held; ready: Ready };
type Held = { rate: number; at: Phase | undefined; steps: { rate: number; ok: boolean; p99Ms: number }[] };
type LookupName = keyof typeof FIRST_STEP;

const SERVERS: Server[] = (
  [
    { kind: 'bare', threads, label: `bare ×${threads}` },
    { kind: 'offheap', threads: 1, label: 'offheap ×1' },
    ...(threads > 1 ? [{ kind: 'offheap' as const, threads, label: `offheap ×${threads}` }] : []),
    { kind: 'map', threads: 1, label: 'map ×1' },
  ] satisfies Server[]
).filter((server) => values.servers.split(',').includes(server.kind));
const service = SERVERS.find((s) => s.kind === 'offheap' && s.threads === threads);

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
const LOOKUPS: { name: LookupName; paths: string[] }[] = [
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

/** One phase at `phaseRate`: warm-up, the server's counters reset, then measured. */
async function phase(
  child: ReturnType<typeof fork>,
  origin: string,
  lookupPaths: string[],
  phaseRate: number,
  durationMs: number,
  warmupMs: number,
  profile = false,
): Promise<Phase> {
  const generator = fork(here('./loadGenerator.ts'), [], { stdio: 'inherit' });
  const warmed = messageOf(generator, 'warmed');
  generator.send({
    origin,
    paths: lookupPaths,
    rate: phaseRate,
    warmupMs,
    durationMs,
    connections: CONNECTIONS,
  } satisfies LoadRequest);
  await warmed;
  const started = messageOf(child, 'phase-started');
  child.send({ type: 'phase-start', profile });
  await started;
  const result = messageOf<LoadResult>(generator, 'result');
  generator.send('go');
  const load = await result;
  const statsMessage = messageOf<PhaseStats>(child, 'phase-stats');
  child.send({ type: 'phase-end' });
  return { load, stats: await statsMessage, rate: phaseRate };
}

const held = (p: Phase) =>
  p.load.unanswered + p.load.notSent + p.load.failed === 0 && p.load.p99Ms <= targetP99Ms;

async function stepUp(child: ReturnType<typeof fork>, origin: string, lookup: (typeof LOOKUPS)[number]) {
  const result: Held = { rate: 0, at: undefined, steps: [] };
  /** Runs `rate` up to ATTEMPTS_PER_STEP times until it holds; whether it did. */
  async function tryRate(rate: number): Promise<boolean> {
    for (let attempt = 0; attempt < ATTEMPTS_PER_STEP; attempt++) {
      const measured = await phase(child, origin, lookup.paths, rate, stepMs, STEP_WARMUP_MS);
      const ok = held(measured);
      result.steps.push({ rate, ok, p99Ms: measured.load.p99Ms });
      const { unanswered, notSent, failed, maxBehindMs } = measured.load;
      const sleeps = measured.stats.sleeps;
      process.stderr.write(
        `    ${rate} req/s: p99 ${measured.load.p99Ms.toFixed(2)} ms, unanswered ${unanswered}, not sent ` +
          `${notSent}, failed ${failed}, generator lag ${maxBehindMs.toFixed(1)} ms, reader sleeps ${sleeps}: ` +
          `${ok ? 'held' : 'missed'}\n`,
      );
      if (ok) {
        result.rate = rate;
        result.at = measured;
        return true;
      }
    }
    return false;
  }
  let missedRate = 0;
  for (
    let rate: number = FIRST_STEP[lookup.name];
    rate <= MAX_STEP_RATE;
    rate = Math.round(rate * STEP_FACTOR)
  ) {
    if (!(await tryRate(rate))) {
      missedRate = rate;
      break;
    }
  }
  // Between the last rate held and the first missed, halve the gap REFINE_STEPS times: a step of a quarter is
  // coarse (9,093 held and 11,366 missed says nothing of 10,000).
  let heldRate = result.rate;
  for (let refine = 0; refine < REFINE_STEPS && heldRate > 0 && missedRate > 0; refine++) {
    const rate = Math.round((heldRate + missedRate) / 2);
    if (await tryRate(rate)) heldRate = rate;
    else missedRate = rate;
  }
  return result;
}

async function runServer(server: Server): Promise<{ rows: Row[]; updatesPerSecond: number }> {
  process.stderr.write(`--- ${server.label}: loading ${readStates.toLocaleString('en-US')} read states\n`);
  const child = fork(
    here('./queryServer.ts'),
    [server.kind, String(readStates), String(updates), String(server.threads)],
    {
      execArgv: ['--expose-gc', '--max-old-space-size=16384'],
      env: { ...process.env, ...HUGE_PAGES },
      stdio: 'inherit',
    },
  );
  const ready = await messageOf<Ready>(child, 'ready');
  const origin = `http://127.0.0.1:${ready.port}`;
  const rows: Row[] = [];
  const writerStarted = performance.now();
  for (const lookup of LOOKUPS) {
    process.stderr.write(`--- ${server.label}: ${lookup.name}, ${rate} req/s\n`);
    const profile = values.profile && server === service && lookup.name === '50 channels';
    const fixed = await phase(child, origin, lookup.paths, rate, measuredMs, WARMUP_MS, profile);
    process.stderr.write(`--- ${server.label}: ${lookup.name}, stepping up\n`);
    rows.push({ server, lookup: lookup.name, fixed, held: await stepUp(child, origin, lookup), ready });
  }
  child.send({ type: 'exit' });
  const { updates: applied } = await messageOf<{ updates: number }>(child, 'exited');
  await once(child, 'exit');
  return { rows, updatesPerSecond: applied / ((performance.now() - writerStarted) / 1000) };
}

const ms = (value: number) => (value < 10 ? value.toFixed(2) : value.toFixed(0));
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const int = (value: number) => Math.round(value).toLocaleString('en-US');
const gcMax = (gc: Record<string, GcStat>) => Math.max(0, ...Object.values(gc).map((s) => s.maxMs));
const cpuPerRequest = (p: Phase) => (p.load.answered === 0 ? 0 : (p.stats.cpuMs * 1000) / p.load.answered);

function gcSummary(gc: Record<string, GcStat>): { max: string; total: string } {
  const kinds = Object.entries(gc).sort(([a], [b]) => a.localeCompare(b));
  if (kinds.length === 0) return { max: '–', total: '0' };
  return {
    max: kinds.map(([kind, s]) => `${kind} ${ms(s.maxMs)}`).join(', '),
    total: kinds.map(([kind, s]) => `${kind} ${ms(s.totalMs)}×${s.count}`).join(', '),
  };
}

const results: Row[] = [];
const writerRates = new Map<Server, number>();
for (const server of SERVERS) {
  const { rows, updatesPerSecond } = await runServer(server);
  results.push(...rows);
  writerRates.set(server, updatesPerSecond);
}
const bytesPerReadState = (row: Row) =>
  row.server.kind === 'bare' ? undefined : (row.ready.rssLoaded - row.ready.rssBefore) / row.ready.readStates;

console.log(
  `\nHeld rate: the highest open-loop rate at which p99 ≤ ${targetP99Ms} ms with every request answered, stepped ` +
    `×${STEP_FACTOR} from ${FIRST_STEP['1 channel'].toLocaleString('en-US')} (1 channel) and ` +
    `${FIRST_STEP['50 channels'].toLocaleString('en-US')} (50 channels) req/s, then the gap between the last rate ` +
    `held and the first missed halved ${REFINE_STEPS} times; ${stepMs / 1000} s measured per step after ` +
    `${STEP_WARMUP_MS / 1000} s warm-up; ${readStates.toLocaleString('en-US')} read states, writer target ` +
    `${updates.toLocaleString('en-US')} updates/s; ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ` +
    `Node ${process.version}. Loop max, GC max (the main thread's) and server CPU are those of the last step held; ` +
    'server CPU is the whole process (every HTTP thread and the writer) per request answered.\n',
);
printTable(
  [
    'server',
    'lookup',
    'held req/s',
    'p50 ms',
    'p99 ms',
    'loop max ms',
    'GC max ms',
    'server CPU µs/req',
    'steps',
  ],
  results.map((row) => {
    const at = row.held.at;
    return [
      row.server.label,
      row.lookup,
      int(row.held.rate),
      at === undefined ? '–' : ms(at.load.p50Ms),
      at === undefined ? '–' : ms(at.load.p99Ms),
      at === undefined ? '–' : ms(at.stats.eventLoopMaxMs),
      at === undefined ? '–' : ms(gcMax(at.stats.gc)),
      at === undefined ? '–' : cpuPerRequest(at).toFixed(0),
      row.held.steps.map((s) => `${s.rate}${s.ok ? '✓' : '✗'}`).join(' '),
    ];
  }),
);

console.log(
  `\nFixed rate: ${rate.toLocaleString('en-US')} req/s open loop (${CONNECTIONS} connections, ${measuredMs / 1000} s measured ` +
    `after ${WARMUP_MS / 1000} s warm-up). Latency runs from issuing a request to its last byte; "unanswered" = not ` +
    '200, never sent (20,000 already waiting) or still unanswered 5 s after the phase, and those still waiting ' +
    'count in the percentiles with their wait so far.\n',
);
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
    'server CPU µs/req',
    'RSS MiB',
    'B/read state',
    'declined',
    'reader sleeps',
    'writer upd/s',
  ],
  results.map((row) => {
    const { server, lookup, fixed } = row;
    const gc = gcSummary(fixed.stats.gc);
    const perState = bytesPerReadState(row);
    return [
      server.label,
      lookup,
      int(fixed.load.achieved),
      int(fixed.load.unanswered + fixed.load.notSent + fixed.load.failed),
      ms(fixed.load.p50Ms),
      ms(fixed.load.p99Ms),
      ms(fixed.load.p999Ms),
      ms(fixed.load.maxMs),
      ms(fixed.load.maxBehindMs),
      ms(fixed.stats.eventLoopMaxMs),
      gc.max,
      gc.total,
      cpuPerRequest(fixed).toFixed(0),
      mib(fixed.stats.rss),
      perState === undefined ? '–' : perState.toFixed(0),
      server.kind === 'bare' ? '–' : int(fixed.stats.declined),
      server.kind === 'bare' ? '–' : int(fixed.stats.sleeps),
      server.kind === 'bare' ? '–' : int(writerRates.get(server) ?? 0),
    ];
  }),
);

const find = (label: string | undefined, lookup: LookupName) =>
  results.find((r) => r.server.label === label && r.lookup === lookup);
const bare = SERVERS.find((s) => s.kind === 'bare')?.label;
console.log('\nRatios of held rates');
printTable(
  [
    'lookup',
    `${service?.label ?? 'offheap'} / ${bare ?? 'bare'}`,
    `${service?.label ?? '?'} / offheap ×1`,
    'map ×1 / offheap ×1',
  ],
  LOOKUPS.map(({ name }) => {
    const ratio = (x: Row | undefined, y: Row | undefined) =>
      x === undefined || y === undefined || y.held.rate === 0 ? '–' : (x.held.rate / y.held.rate).toFixed(2);
    return [
      name,
      ratio(find(service?.label, name), find(bare, name)),
      ratio(find(service?.label, name), find('offheap ×1', name)),
      ratio(find('map ×1', name), find('offheap ×1', name)),
    ];
  }),
);

const profiled = find(service?.label, '50 channels')?.fixed.stats.profile;
if (profiled !== undefined) {
  const share = (value: number) => `${((value / profiled.totalMs) * 100).toFixed(1)}%`;
  console.log(
    `\nCPU profile of ${service?.label ?? ''}'s main thread, 50 channels at ${int(rate)} req/s, by area`,
  );
  printTable(
    ['area', 'ms', 'share'],
    profiled.byArea.slice(0, 14).map((a) => [a.area, a.ms.toFixed(0), share(a.ms)]),
  );
  console.log('\nBy function (self time)');
  printTable(
    ['function', 'ms', 'share'],
    profiled.byFunction.map((f) => [f.name, f.ms.toFixed(0), share(f.ms)]),
  );
}

process.stderr.write(`--- lookup cost at ${sizes.join(', ')} read states\n`);
const cost = fork(here('./lookupCost.ts'), sizes.map(String), {
  execArgv: ['--expose-gc', '--max-old-space-size=4096'],
  env: { ...process.env, ...HUGE_PAGES },
  stdio: ['inherit', 'pipe', 'inherit', 'ipc'],
});
let output = '';
cost.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
await once(cost, 'exit');
console.log(
  '\nHot-tier lookup cost (readView from decimal ids, random held keys, 2M lookups, best of 5 rounds), and a whole ' +
    '50-channel answer (ids checked, ownership, hot tier, JSON text; no HTTP), on one thread with no load',
);
const costs = output
  .trim()
  .split('\n')
  .filter((l) => l.startsWith('{'))
  .map(
    (l) =>
      JSON.parse(l) as {
        readStates: number;
        ns: number;
        answerUs: number;
        answered: number;
        bytes: number;
        fillSeconds: number;
      },
  );
printTable(
  ['read states', 'ns/lookup', '50-channel answer µs', 'answered', 'hot tier MiB', 'B/read state', 'fill s'],
  costs.map((r) => [
    int(r.readStates),
    r.ns.toFixed(0),
    r.answerUs.toFixed(1),
    (r.answered * 100).toFixed(1) + '%',
    mib(r.bytes),
    (r.bytes / r.readStates).toFixed(0),
    r.fillSeconds.toFixed(1),
  ]),
);

// The headline figures, as the last line, for whoever compares runs.
const serviceOne = find(service?.label ?? 'offheap ×1', '1 channel');
const serviceFifty = find(service?.label ?? 'offheap ×1', '50 channels');
const heldPhases = [serviceOne?.held.at, serviceFifty?.held.at].filter((p) => p !== undefined);
console.log(
  JSON.stringify({
    held_rps_1ch: serviceOne?.held.rate ?? null,
    held_rps_1ch_bare: find(bare, '1 channel')?.held.rate ?? null,
    held_rps_50ch: serviceFifty?.held.rate ?? null,
    loop_max_ms: heldPhases.length === 0 ? null : Math.max(...heldPhases.map((p) => p.stats.eventLoopMaxMs)),
    gc_max_ms: heldPhases.length === 0 ? null : Math.max(...heldPhases.map((p) => gcMax(p.stats.gc))),
    bytes_per_read_state: serviceOne === undefined ? null : (bytesPerReadState(serviceOne) ?? null),
    lookup_ns: costs.map((c) => Math.round(c.ns)),
    answer_us_50ch: costs.map((c) => Number(c.answerUs.toFixed(1))),
    threads,
  }),
);
