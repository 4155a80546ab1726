/**
 * The hot tier's table against the JS Map it replaces: bytes per read state, nanoseconds per lookup, and what
 * the garbage collector pays for each. Run with `node bench/hotTierLookup.ts` (1M and 8M read states, about two
 * minutes, ~4 GiB of memory) or `--quick` (100k). It re-runs itself with `--expose-gc` so that it can measure the
 * heap after a full collection, and time one.
 *
 * Both stores hold the same keys (user, channel) and a read state per key: the table as 7 uint32 words (what
 * hotTier.ts keeps), the Map as the projection's ReadStateRecord object. Lookups pick present keys at random, in
 * two ways: with the key already in the store's own form (words; the Map's own key strings, whose hash V8 has
 * cached), and from the two decimal ids a request carries (parsed into words; concatenated into a fresh string).
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { ReadStateRecord } from '../src/projection/records.ts';
import { OffHeapTable, slotBytes } from '../src/store/offHeapTable.ts';
import { formatSnowflakeWords, parseSnowflakeInto } from '../src/contract/snowflakeWords.ts';
import { seededRandom } from '../src/ops/seededRandom.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  const child = spawnSync(
    process.execPath,
    ['--expose-gc', '--max-old-space-size=12288', fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  process.exit(child.status ?? 1);
}
const collect: () => void = gc;

const quick = process.argv.includes('--quick');
const GETS = quick ? 1_000_000 : 5_000_000;
/** Queries from decimal ids come from a pool of prepared string pairs, cycled through. */
const QUERY_POOL = quick ? 100_000 : 1_000_000;
const VALUE_WORDS = 7;
const MAX_LOAD = 0.8;

type Row = {
  store: string;
  entries: number;
  load: string;
  bytesPerEntry: number;
  fillSeconds: number;
  getNs: number;
  getFromIdsNs: number;
  missNs: number;
  gcMsDuringGets: number;
  fullGcMs: number;
};

/**
 * Keys shaped like snowflakes: the high word is the timestamp's top bits (2015 to about 2025 since Discord's
 * epoch), the low word is noise. Users and channels are drawn from pools so that users have many channels.
 */
function makeKeys(entries: number): Uint32Array {
  const next = seededRandom(0x5eed + entries);
  const users = Math.max(1, Math.floor(entries / 20));
  const channels = Math.max(1, Math.floor(entries / 50));
  const id = (pool: number, salt: number) => {
    const n = next() % pool;
    return [0x1000000 + ((n * 2654435761) >>> 6), (n * 40503 + salt) >>> 0] as const;
  };
  const keys = new Uint32Array(entries * 4);
  const seen = new OffHeapTable({ capacity: nextPowerOfTwo(entries * 2), valueWords: 0 });
  for (let i = 0; i < entries;) {
    const [uHi, uLo] = id(users, 1);
    const [cHi, cLo] = id(channels, 2);
    if (seen.has(uHi, uLo, cHi, cLo)) continue;
    seen.set(uHi, uLo, cHi, cLo, []);
    keys.set([uHi, uLo, cHi, cLo], i * 4);
    i++;
  }
  return keys;
}

function nextPowerOfTwo(n: number): number {
  let power = 2;
  while (power < n) power *= 2;
  return power;
}

function word(keys: Uint32Array, i: number): number {
  return keys[i] ?? 0;
}

/** Fresh strings for each query, as a request would bring them: no hash or identity cached from the fill. */
function makeQueries(keys: Uint32Array, entries: number): { users: string[]; channels: string[] } {
  const next = seededRandom(99);
  const users: string[] = [];
  const channels: string[] = [];
  for (let q = 0; q < QUERY_POOL; q++) {
    const i = (next() % entries) * 4;
    users.push(formatSnowflakeWords(word(keys, i), word(keys, i + 1)));
    channels.push(formatSnowflakeWords(word(keys, i + 2), word(keys, i + 3)));
  }
  return { users, channels };
}

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
}).observe({ entryTypes: ['gc'] });

/** GC entries reach the observer from the event loop: let it turn. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
}

function heapBytes(): number {
  collect();
  collect();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

function timeFullGc(): number {
  const start = performance.now();
  collect();
  return performance.now() - start;
}

type Timing = { ns: number; gcMs: number };

/** Keeps results alive so no loop is optimised away. */
let sink = 0;

/** Warms the loop up (so the timing is of optimised code), then times GETS lookups and the GC they cause. */
async function timeGets(loop: (count: number) => number): Promise<Timing> {
  sink += loop(Math.min(GETS, 300_000));
  collect();
  await settle();
  const gcBefore = gcMs;
  const start = process.hrtime.bigint();
  sink += loop(GETS);
  const ns = Number(process.hrtime.bigint() - start) / GETS;
  await settle();
  return { ns, gcMs: gcMs - gcBefore };
}

type Lookups = { hit: Timing; fromIds: Timing; miss: Timing };

function row(
  store: string,
  entries: number,
  load: string,
  bytes: number,
  fill: number,
  fullGcMs: number,
  lookups: Lookups,
): Row {
  return {
    store,
    entries,
    load,
    bytesPerEntry: bytes / entries,
    fillSeconds: fill,
    getNs: lookups.hit.ns,
    getFromIdsNs: lookups.fromIds.ns,
    missNs: lookups.miss.ns,
    gcMsDuringGets: lookups.hit.gcMs + lookups.fromIds.gcMs + lookups.miss.gcMs,
    fullGcMs,
  };
}

async function benchTable(entries: number, keys: Uint32Array, capacity: number): Promise<Row> {
  const before = heapBytes();
  const start = performance.now();
  const table = new OffHeapTable({ bytesBudget: capacity * slotBytes(VALUE_WORDS), valueWords: VALUE_WORDS });
  const value = new Uint32Array(VALUE_WORDS);
  for (let i = 0; i < entries; i++) {
    value[0] = i;
    value[3] = i & 7;
    table.set(word(keys, i * 4), word(keys, i * 4 + 1), word(keys, i * 4 + 2), word(keys, i * 4 + 3), value);
  }
  const fill = (performance.now() - start) / 1000;
  if (table.size !== entries || table.stats().evictions !== 0) {
    throw new Error('the table evicted: raise its budget');
  }
  const bytes = heapBytes() - before;
  const fullGcMs = timeFullGc();

  const out = new Uint32Array(VALUE_WORDS);
  const hit = await timeGets((count) => {
    const next = seededRandom(7);
    let sum = 0;
    for (let n = 0; n < count; n++) {
      const i = (next() % entries) * 4;
      if (table.get(word(keys, i), word(keys, i + 1), word(keys, i + 2), word(keys, i + 3), out))
        sum += out[3] ?? 0;
    }
    return sum;
  });
  const miss = await timeGets((count) => {
    const next = seededRandom(8);
    let found = 0;
    // Random channel words: absent but for a 2^-64 chance.
    for (let n = 0; n < count; n++) {
      const i = (next() % entries) * 4;
      if (table.get(word(keys, i), word(keys, i + 1), next(), next(), out)) found++;
    }
    return found;
  });
  const queries = makeQueries(keys, entries);
  const scratch = new Uint32Array(4);
  const fromIds = await timeGets((count) => {
    let sum = 0;
    for (let n = 0; n < count; n++) {
      const q = n % QUERY_POOL;
      parseSnowflakeInto(queries.users[q] ?? '', scratch, 0);
      parseSnowflakeInto(queries.channels[q] ?? '', scratch, 2);
      if (table.get(scratch[0] ?? 0, scratch[1] ?? 0, scratch[2] ?? 0, scratch[3] ?? 0, out))
        sum += out[3] ?? 0;
    }
    return sum;
  });
  return row('OffHeapTable', entries, (entries / table.capacity).toFixed(2), bytes, fill, fullGcMs, {
    hit,
    fromIds,
    miss,
  });
}

async function benchMap(entries: number, keys: Uint32Array): Promise<Row> {
  const before = heapBytes();
  // Fill: build each key string and record, as a cache of read states keyed by "user:channel" would.
  const start = performance.now();
  const map = new Map<string, ReadStateRecord>();
  for (let i = 0; i < entries; i++) {
    const user = formatSnowflakeWords(word(keys, i * 4), word(keys, i * 4 + 1));
    const channel = formatSnowflakeWords(word(keys, i * 4 + 2), word(keys, i * 4 + 3));
    map.set(`${user}:${channel}`, {
      last_acked_message_id: formatSnowflakeWords(word(keys, i * 4), i),
      own_above: i & 7,
      mentions_above: 0,
      live_above: { epoch: 1, live_count: i, count: 0 },
    });
  }
  const fill = (performance.now() - start) / 1000;
  const bytes = heapBytes() - before;
  const fullGcMs = timeFullGc();

  let ownKeys = [...map.keys()];
  const hit = await timeGets((count) => {
    const next = seededRandom(7);
    let sum = 0;
    for (let n = 0; n < count; n++) sum += map.get(ownKeys[next() % entries] ?? '')?.own_above ?? 0;
    return sum;
  });
  // Absent keys: each user with a channel id it has no read state in, prepared as strings like the hits.
  const absent = ownKeys.slice(0, QUERY_POOL).map((key) => `${key}0`);
  ownKeys = [];
  const miss = await timeGets((count) => {
    let found = 0;
    for (let n = 0; n < count; n++) if (map.has(absent[n % absent.length] ?? '')) found++;
    return found;
  });
  const queries = makeQueries(keys, entries);
  const fromIds = await timeGets((count) => {
    let sum = 0;
    for (let n = 0; n < count; n++) {
      const q = n % QUERY_POOL;
      sum += map.get(`${queries.users[q] ?? ''}:${queries.channels[q] ?? ''}`)?.own_above ?? 0;
    }
    return sum;
  });
  sink += map.size;
  return row('Map<string, object>', entries, '-', bytes, fill, fullGcMs, { hit, fromIds, miss });
}

function fmt(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const sizes = quick ? [100_000] : [1_000_000, 8_000_000];
const rows: Row[] = [];
for (const entries of sizes) {
  const keys = makeKeys(entries);
  rows.push(await benchTable(entries, keys, nextPowerOfTwo(Math.ceil(entries / MAX_LOAD))));
  rows.push(await benchMap(entries, keys));
  collect();
}
// The table filled to its maximum load, where probe runs are longest and bytes per entry lowest.
const fullCapacity = quick ? 2 ** 17 : 2 ** 23;
const full = Math.floor(fullCapacity * MAX_LOAD);
rows.push(await benchTable(full, makeKeys(full), fullCapacity));

const header = ['store', 'entries', 'load', 'B/entry', 'fill s', 'get ns', 'get from ids ns', 'miss ns'];
header.push('GC ms in gets', 'full GC ms');
const lines = rows.map((row) => [
  row.store,
  fmt(row.entries),
  row.load,
  fmt(row.bytesPerEntry, 1),
  fmt(row.fillSeconds, 2),
  fmt(row.getNs, 1),
  fmt(row.getFromIdsNs, 1),
  fmt(row.missNs, 1),
  fmt(row.gcMsDuringGets, 1),
  fmt(row.fullGcMs, 1),
]);
const widths = header.map((title, i) =>
  Math.max(title.length, ...lines.map((line) => (line[i] ?? '').length)),
);
const print = (cells: readonly string[]) => {
  console.log(
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  '),
  );
};
console.log(
  `${fmt(GETS)} random lookups per column and row; Node ${process.version}, ${os.cpus().length} CPUs\n`,
);
print(header);
for (const line of lines) print(line);

console.log('\nMap ÷ table, at the same entries:');
for (const entries of sizes) {
  const table = rows.find((row) => row.store === 'OffHeapTable' && row.entries === entries);
  const map = rows.find((row) => row.store !== 'OffHeapTable' && row.entries === entries);
  if (table === undefined || map === undefined) continue;
  const ratio = (a: number, b: number) => `×${fmt(a / b, 2)}`;
  console.log(
    `  ${fmt(entries)}: bytes ${ratio(map.bytesPerEntry, table.bytesPerEntry)}, ` +
      `get ${ratio(map.getNs, table.getNs)}, get from ids ${ratio(map.getFromIdsNs, table.getFromIdsNs)}, ` +
      `miss ${ratio(map.missNs, table.missNs)}, full GC ${ratio(map.fullGcMs, table.fullGcMs)}`,
  );
}
if (sink === -1) console.log(sink);
