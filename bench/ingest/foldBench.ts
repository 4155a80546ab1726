/**
 * `npm run bench:fold`: what the write path costs per event without Kafka, on one thread, so a change to the
 * storage shape can be measured in seconds and with less noise than bench:ingest (issue 11).
 *
 * The demo stream is generated and encoded as Kafka record values up front, split by partition as the default
 * partitioner splits it. Each partition's events are then decoded (decodeEvent, as the projector does) and
 * folded a chunk at a time, partitions in turn:
 *
 *   memory   the reference store (src/projection/memoryStore.ts, records not frozen): plain Maps keyed by built
 *            strings, nothing durable, no bound — the fold over the naive store, with nothing durable (it skips
 *            the stream's joins and leaves: the record projection stops short of membership)
 *   compact  the compact projection alone (src/projection/compact): channel states in typed arrays, in memory
 *   durable  the projector's path: CompactStore (resident budget RESIDENT_RECORDS' default) into RocksDB on
 *            disk, each chunk's writes in one batch through the group commit (fsync on), then commit()
 *   rebuild  a rebuild's path: the same store written back (changed channels kept in memory, written when
 *            evicted and by the flush at the end, which is timed too), no fsync
 *
 * per chunk size (events per partition per chunk; the live projector takes up to 16,000 of a fetched batch).
 * It reports CPU time per event (this process, all threads: RocksDB's flushes included), events per second, and
 * for the durable path the records written per event, by kind, and their size.
 *
 * Options: --events N (200000) --partitions P (4) --chunks LIST (2000,16000) --rounds R (2; the best is kept)
 *          --seed S (1) --fanout F (32, the reference store's rank-index fanout) --paths (memory,compact,durable,rebuild)
 *          --resident N (1000000: the durable path's RESIDENT_RECORDS)
 *          --channels C (events / 100) --users U (events / 10): the stream's shape; many channels (the soak's
 *          200,000 and 2,000,000) outgrow the resident budget, so that the durable path evicts and reloads;
 *          --activity uniform|skewed (uniform: every channel alike; skewed: a few busy channels, a long tail)
 *          --hot-tier MB (0: none; else the durable path also records what each chunk changes for a hot tier of
 *          that many MiB and applies it after the write, as the live service does; nothing looks pairs up here,
 *          so the tier holds nothing and no change is recorded: a lower bound of the live cost, not comparable
 *          with figures before 2026-12-01, night)
 *          --spill on|off (on: the durable path parks big channels' cold blocks in a spill, as the service does;
 *          off: channels resident whole, as before 2026-12-02); --park-above N (the store's PARK_ABOVE unless given:
 *          the weight above which a channel parks its cold blocks)
 * Last line: {"events":…,"memory_events_per_s":[…],"compact_events_per_s":[…],"durable_events_per_s":[…],
 *             "durable_cpu_us_per_event":[…],"records_per_event":[…],"rebuild_events_per_s":[…]} (one entry per
 *             chunk size)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeEvent } from '../../src/contract/decode.ts';
import { eventTopic, type ChatEvent, type TopicKind } from '../../src/contract/events.ts';
import { WRITE_BACK_AFTER } from '../../src/ingest/projector.ts';
import { createPartitionOf } from '../../src/contract/partitionOf.ts';
import { createDemoStream } from '../../src/ops/demoStream.ts';
import { applyEvent } from '../../src/projection/applyEvent.ts';
import { CompactProjection } from '../../src/projection/compact/compactProjection.ts';
import { createMemoryStore } from '../../src/projection/memoryStore.ts';
import { createGroupCommit } from '../../src/store/groupCommit.ts';
import { KeyKind } from '../../src/store/keys.ts';
import { CompactStore, type ChunkSource } from '../../src/store/compactStore.ts';
import { createHotTier } from '../../src/store/hotTier.ts';
import { openRocksDatabase, type WriteOperation } from '../../src/store/rocksDatabase.ts';
import { RocksBlockSpill } from '../../src/store/blockSpill.ts';
import { machineLine } from '../machineLine.ts';
import { printTable } from '../markdownTable.ts';
import { wholeNumber } from '../wholeNumberOption.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '200000' },
    partitions: { type: 'string', default: '4' },
    chunks: { type: 'string', default: '2000,16000' },
    rounds: { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
    fanout: { type: 'string', default: '32' },
    paths: { type: 'string', default: 'memory,compact,durable,rebuild' },
    resident: { type: 'string', default: '1000000' },
    'hot-tier': { type: 'string', default: '0' },
    channels: { type: 'string' },
    users: { type: 'string' },
    activity: { type: 'string', default: 'uniform' },
    spill: { type: 'string', default: 'on' },
    'park-above': { type: 'string' },
  },
});

const events = wholeNumber('events', values.events);
const partitions = wholeNumber('partitions', values.partitions);
const chunkSizes = values.chunks.split(',').map((chunk) => wholeNumber('chunks', chunk));
const rounds = wholeNumber('rounds', values.rounds);
const seed = wholeNumber('seed', values.seed);
const fanout = wholeNumber('fanout', values.fanout);
const ALL_PATHS = ['memory', 'compact', 'durable', 'rebuild'] as const;
const PATHS = values.paths.split(',').map((path) => {
  const known = ALL_PATHS.find((name) => name === path);
  if (known === undefined) throw new Error(`--paths takes ${ALL_PATHS.join(', ')} (got ${path})`);
  return known;
});
/** The durable path's resident budget (RESIDENT_RECORDS' default unless --resident says). */
const RESIDENT_RECORDS = wholeNumber('resident', values.resident);
const HOT_TIER_MB = wholeNumber('hot-tier', values['hot-tier'], 0);
if (values.spill !== 'on' && values.spill !== 'off')
  throw new Error(`--spill takes on or off (got ${values.spill})`);
const SPILL = values.spill === 'on';
const PARK_ABOVE =
  values['park-above'] === undefined ? undefined : wholeNumber('park-above', values['park-above']);

type KafkaRecord = { key: Buffer; value: Buffer; topic: TopicKind; offset: string };
const partitionOf = createPartitionOf(partitions);
const byPartition: KafkaRecord[][] = Array.from({ length: partitions }, () => []);
if (values.activity !== 'skewed' && values.activity !== 'uniform') {
  throw new Error(`--activity takes skewed or uniform (got ${values.activity})`);
}
const activity: 'skewed' | 'uniform' = values.activity;
const shape = {
  activity,
  channels:
    values.channels === undefined ? Math.max(1, events / 100) : wholeNumber('channels', values.channels),
  users: values.users === undefined ? Math.max(1, events / 10) : wholeNumber('users', values.users),
};
const stream = createDemoStream({ seed, ...shape });
const logEnds = Array.from({ length: partitions }, () => ({ messages: 0, acks: 0 }));
for (let i = 0; i < events; i++) {
  const event = stream.next();
  const partition = partitionOf(event.channel_id);
  const topic = eventTopic[event.type];
  const ends = logEnds[partition] ?? { messages: 0, acks: 0 };
  byPartition[partition]?.push({
    key: Buffer.from(event.channel_id),
    value: Buffer.from(JSON.stringify(event)),
    topic,
    offset: String(ends[topic]++),
  });
}

/** Each partition's records decoded a chunk at a time, partitions in turn, as the projector interleaves them. */
function* chunks(size: number): Generator<{ partition: number; events: ChatEvent[]; source: ChunkSource }> {
  for (let start = 0; byPartition.some((records) => records.length > start); start += size) {
    for (let partition = 0; partition < partitions; partition++) {
      // Each topic's records of the slice, as the projector's chunks are of one topic's batch.
      for (const topic of ['messages', 'acks'] as const) {
        const decoded: ChatEvent[] = [];
        const offsets: string[] = [];
        for (const record of byPartition[partition]?.slice(start, start + size) ?? []) {
          if (record.topic !== topic) continue;
          const result = decodeEvent(record.value, record.key, record.topic);
          if (!result.ok) continue;
          decoded.push(result.event);
          offsets.push(record.offset);
        }
        if (decoded.length === 0) continue;
        const next = BigInt(offsets.at(-1) ?? '0') + 1n;
        yield { partition, events: decoded, source: { topic, offsets, next } };
      }
    }
  }
}

type Measured = { seconds: number; cpuMicros: number };
function measure<T>(run: () => Promise<T>): Promise<Measured & { result: T }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  return run().then((result) => {
    const used = process.cpuUsage(cpu);
    return { seconds: (performance.now() - started) / 1000, cpuMicros: used.user + used.system, result };
  });
}

function foldInMemory(size: number): Promise<number> {
  const store = createMemoryStore({ fanout, freeze: false });
  let folded = 0;
  for (const chunk of chunks(size)) {
    for (const event of chunk.events) {
      // The record projection stops short of membership (applyEvent.ts): its 1% of joins and leaves is skipped.
      if (event.type !== 'member_joined' && event.type !== 'member_left') applyEvent(store, event);
    }
    folded += chunk.events.length;
  }
  return Promise.resolve(folded);
}

/** The compact channel states (decision 0003, step 1): the fold alone, in memory, nothing durable yet. */
function foldCompact(size: number): Promise<number> {
  const projections = Array.from({ length: partitions }, () => new CompactProjection());
  let folded = 0;
  for (const chunk of chunks(size)) {
    const projection = projections[chunk.partition] as CompactProjection;
    for (const event of chunk.events) projection.apply(event);
    folded += chunk.events.length;
  }
  return Promise.resolve(folded);
}

const KIND_NAMES = new Map<number, string>([
  [KeyKind.readState, 'read state'],
  [KeyKind.channelState, 'channel state'],
]);
type Written = { records: number; bytes: number; byKind: Map<string, { records: number; bytes: number }> };

/** The last durable run's loads and evictions, and its spill's blocks parked and read back. */
let loads = () => ({ loads: 0, evictions: 0, parked: 0, unparked: 0 });

/**
 * `rebuild`: the rebuild's path (no hot tier, no fsync, changed channels written back only when evicted, and at
 * the end); else the live one, which writes them back after WRITE_BACK_AFTER too.
 */
async function foldDurably(size: number, rebuild: boolean): Promise<{ folded: number; written: Written }> {
  const dir = await mkdtemp(join(os.tmpdir(), 'readstates-bench-fold-'));
  const db = await openRocksDatabase(dir);
  const spill = SPILL && !rebuild ? await RocksBlockSpill.open(`${dir}-spill`) : undefined;
  try {
    const commits = createGroupCommit(db, { sync: !rebuild });
    const hot =
      HOT_TIER_MB > 0 && !rebuild ? createHotTier({ bytesBudget: HOT_TIER_MB * 2 ** 20 }) : undefined;
    const store = new CompactStore(db, RESIDENT_RECORDS, {
      ...(hot === undefined ? {} : { heldInHotTier: hot.held }),
      ...(rebuild ? {} : { writeBackAfter: WRITE_BACK_AFTER }),
      ...(spill === undefined ? {} : { spill }),
      ...(PARK_ABOVE === undefined ? {} : { parkAbove: PARK_ABOVE }),
    });
    loads = () => ({
      loads: store.loads,
      evictions: store.evictions,
      parked: spill?.parked ?? 0,
      unparked: spill?.loads ?? 0,
    });
    for (let partition = 0; partition < partitions; partition++) {
      store.startPartition(partition, true, { messages: 0n, acks: 0n });
    }
    const written: Written = { records: 0, bytes: 0, byKind: new Map() };
    const count = (operations: readonly WriteOperation[]) => {
      for (const operation of operations) {
        const bytes = operation.key.length + (operation.type === 'put' ? operation.value.length : 0);
        const kind = KIND_NAMES.get(operation.key.readUInt8(2)) ?? 'other';
        const seen = written.byKind.get(kind) ?? { records: 0, bytes: 0 };
        seen.records++;
        seen.bytes += bytes;
        written.byKind.set(kind, seen);
        written.records++;
        written.bytes += bytes;
      }
    };
    let folded = 0;
    for (const chunk of chunks(size)) {
      const { operations, hotChanges } = await store.projectChunk(
        chunk.partition,
        chunk.events,
        chunk.source,
      );
      count(operations);
      await commits.write(operations);
      store.commit(chunk.partition);
      hot?.applyChanges(hotChanges);
      folded += chunk.events.length;
    }
    for (const flushed of store.flush(10_000)) {
      count(flushed);
      await commits.write(flushed);
    }
    return { folded, written };
  } finally {
    await db.close();
    await spill?.close();
    await rm(dir, { recursive: true, force: true });
    await rm(`${dir}-spill`, { recursive: true, force: true });
  }
}

const int = (value: number) => Math.round(value).toLocaleString('en-US');
type Row = { path: string; chunk: number; best: Measured; folded: number; written?: Written };
const rows: Row[] = [];
for (const size of chunkSizes) {
  for (const path of PATHS) {
    let best: (Measured & { folded: number; written?: Written }) | undefined;
    for (let round = 0; round < rounds; round++) {
      process.stderr.write(`--- ${path}, chunks of ${size}, round ${round + 1}\n`);
      const measured =
        path === 'memory' || path === 'compact'
          ? await measure(() => (path === 'memory' ? foldInMemory(size) : foldCompact(size))).then((m) => ({
              ...m,
              folded: m.result,
            }))
          : await measure(() => foldDurably(size, path === 'rebuild')).then((m) => ({ ...m, ...m.result }));
      if (best === undefined || measured.cpuMicros < best.cpuMicros) best = measured;
    }
    if (best !== undefined)
      rows.push({ path, chunk: size, best, folded: best.folded, written: best.written });
  }
}

console.log(
  `\nFold: ${int(events)} demo-stream events${HOT_TIER_MB > 0 ? ` (durable path mirrored to a ${HOT_TIER_MB} MiB hot tier)` : ''} (seed ${seed}, ${int(shape.channels)} channels with ${shape.activity} activity, ${int(shape.users)} ` +
    `users) over ${partitions} partitions, decoded and folded on one thread, best of ${rounds} rounds by CPU time\n`,
);
printTable(
  ['path', 'chunk', 'events/s', 'CPU µs/event', 'records/event', 'B/record'],
  rows.map((row) => [
    row.path,
    int(row.chunk),
    int(row.folded / row.best.seconds),
    (row.best.cpuMicros / row.folded).toFixed(1),
    row.written === undefined ? '–' : (row.written.records / row.folded).toFixed(2),
    row.written === undefined ? '–' : int(row.written.bytes / row.written.records),
  ]),
);
console.log(
  '\nRecords written per event by kind (durable and rebuild paths), with their mean size (key and value)\n',
);
const kinds = [...KIND_NAMES.values()];
printTable(
  ['path', 'chunk', ...kinds],
  rows
    .filter((row) => row.written !== undefined)
    .map((row) => [
      row.path,
      int(row.chunk),
      ...kinds.map((kind) => {
        const seen = row.written?.byKind.get(kind);
        return seen === undefined
          ? '0'
          : `${(seen.records / row.folded).toFixed(3)} × ${int(seen.bytes / seen.records)} B`;
      }),
    ]),
);
if (PATHS.includes('durable') || PATHS.includes('rebuild')) {
  const { loads: loaded, evictions, parked, unparked } = loads();
  console.log(
    `\nLast durable or rebuild round: ${int(evictions)} channels evicted, ${int(loaded)} loaded back (budget ${int(RESIDENT_RECORDS)} ids); ` +
      `spill ${SPILL ? 'on' : 'off'}: ${int(parked)} blocks parked, ${int(unparked)} read back`,
  );
}
console.log(`\n${machineLine()}`);
const durable = rows.filter((row) => row.path === 'durable');
const memory = rows.filter((row) => row.path === 'memory');
const compact = rows.filter((row) => row.path === 'compact');
console.log(
  JSON.stringify({
    events,
    memory_events_per_s: memory.map((row) => Math.round(row.folded / row.best.seconds)),
    compact_events_per_s: compact.map((row) => Math.round(row.folded / row.best.seconds)),
    durable_events_per_s: durable.map((row) => Math.round(row.folded / row.best.seconds)),
    durable_cpu_us_per_event: durable.map((row) => Number((row.best.cpuMicros / row.folded).toFixed(1))),
    records_per_event: durable.map((row) => Number(((row.written?.records ?? 0) / row.folded).toFixed(2))),
    rebuild_events_per_s: rows
      .filter((row) => row.path === 'rebuild')
      .map((row) => Math.round(row.folded / row.best.seconds)),
  }),
);
