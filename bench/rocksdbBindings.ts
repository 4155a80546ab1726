/**
 * Compares the two candidate RocksDB bindings on the readstates workload: atomic write batches of a few thousand
 * read-state updates plus an offset record, point reads of read states, and prefix scans of one user's read
 * states. Run with `node bench/rocksdbBindings.ts` (three rounds, about 3 minutes on 2 cores), `--quick` (10×
 * smaller, one round) or `--rounds=N`. Both bindings see the same keys, values and read order, each on a fresh
 * temporary directory with the WAL on; the table shows the median of the rounds, which alternate the order.
 *
 * Each binding runs in its own child process: the two cannot share one. Both bundle RocksDB, and C++ function-local
 * statics such as `rocksdb::CompressionDict::GetEmptyDict()::empty_dict` are GNU "unique" symbols, bound once per
 * process whatever library asks. Loaded after rocksdb@5.2.1, @nxtedition/rocksdb gets the old 32-byte object where
 * it expects its own 40-byte one and crashes with SIGSEGV in ZSTD_compress2 at its first memtable flush.
 *
 * The project no longer depends on rocksdb@5.2.1 (docs/decisions/0001-rocksdb-binding.md): it compiles RocksDB from
 * source on every fresh install. Without it the bench runs @nxtedition/rocksdb alone and says how to install the old
 * binding for a comparison (`npm install --no-save rocksdb@5.2.1`).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WriteOperation } from '../src/store/rocksDatabase.ts';
import { seededRandom } from '../src/ops/seededRandom.ts';

const quick = process.argv.includes('--quick');
const scale = quick ? 0.1 : 1;
const roundsArgument = process.argv.find((arg) => arg.startsWith('--rounds='))?.slice('--rounds='.length);
const rounds = roundsArgument === undefined ? (quick ? 1 : 3) : Number(roundsArgument);
if (!Number.isInteger(rounds) || rounds < 1) {
  throw new Error(`--rounds must be a whole number of at least 1, not ${roundsArgument ?? ''}.`);
}

const config = {
  records: Math.round(2_000_000 * scale),
  updatesPerBatch: 4_000,
  syncBatches: Math.round(200 * scale),
  presentGets: Math.round(200_000 * scale),
  absentGets: Math.round(50_000 * scale),
  getsInFlight: 64,
  getManySize: 100,
  scans: Math.round(20_000 * scale),
  partitions: 64,
  minChannelsPerUser: 10,
  maxChannelsPerUser: 50,
  // rocksdb@5.2.1 defaults to a 4 MiB memtable; 64 MiB is RocksDB's own default, which the fork keeps.
  writeBufferSize: 64 * 1024 * 1024,
} as const;

const KIND_OFFSET = 0x00;
const KIND_READ_STATE = 0x01;
const PREFIX_BYTES = 1 + 2 + 8; // kind, partition, user
const KEY_BYTES = PREFIX_BYTES + 8; // … channel
const VALUE_BYTES = 40;

// ---------------------------------------------------------------------------------------------------------------
// The two bindings behind one driver shape, so both pay the same promise overhead.

interface Driver {
  readonly binding: string;
  write(operations: readonly WriteOperation[], sync: boolean): Promise<void>;
  get(key: Buffer): Promise<Buffer | undefined>;
  getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]>;
  /** Only where the binding reads on the calling thread. */
  getManySync?: (keys: readonly Buffer[]) => (Buffer | undefined)[];
  /** Resolves to the number of entries under `prefix`. */
  scan(prefix: Buffer): Promise<number>;
  scanSync?: (prefix: Buffer) => number;
  property(name: string): string;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

/** rocksdb@5.2.1 is not a dependency: it is there only if someone installed it for a comparison. */
function oldBindingInstalled(): boolean {
  try {
    require.resolve('rocksdb');
    return true;
  } catch {
    return false;
  }
}

const INSTALL_OLD_BINDING =
  'To compare, run `npm install --no-save rocksdb@5.2.1` (it compiles RocksDB from source, a few minutes) and ' +
  're-run `npm run bench:rocksdb`.';

/**
 * The part of rocksdb@5.2.1 (abstract-leveldown 7 callback API) used here, declared locally so that the bench needs
 * neither the package nor its typings to type-check.
 */
type LevelCallback<T = undefined> = (error: Error | null | undefined, result: T) => void;
interface LevelRocksDB {
  open(options: { createIfMissing: boolean; writeBufferSize: number }, callback: LevelCallback): void;
  close(callback: LevelCallback): void;
  /** Fails with a `NotFound` message for a missing key. */
  get(key: Buffer, options: { asBuffer: true }, callback: LevelCallback<Buffer>): void;
  getMany(keys: Buffer[], options: { asBuffer: true }, callback: LevelCallback<(Buffer | undefined)[]>): void;
  /** Atomic; `sync` fsyncs the WAL. */
  batch(operations: readonly WriteOperation[], options: { sync: boolean }, callback: LevelCallback): void;
  iterator(options: { gte: Buffer; lt?: Buffer; keyAsBuffer: true; valueAsBuffer: true }): {
    /** `key` is undefined once the range is exhausted. */
    next(callback: (error: Error | null | undefined, key?: Buffer, value?: Buffer) => void): void;
    end(callback: LevelCallback): void;
  };
  getProperty(name: string): string;
}
/** CommonJS: `module.exports = RocksDB`, callable without `new`. */
type LevelRocksDBModule = (location: string) => LevelRocksDB;

async function openLevelRocksdb(location: string): Promise<Driver> {
  if (!oldBindingInstalled())
    throw new Error(`rocksdb@5.2.1 (the old binding) is not installed. ${INSTALL_OLD_BINDING}`);
  // Loaded here, not at the top, so that the other binding's process never loads it (see the file comment).
  const LevelRocksDB = require('rocksdb') as LevelRocksDBModule;
  const db = LevelRocksDB(location);
  await new Promise<void>((resolve, reject) => {
    db.open({ createIfMissing: true, writeBufferSize: config.writeBufferSize }, (error) => {
      if (error) reject(error);
      else resolve();
    });
  });
  return {
    binding: 'rocksdb',
    write: (operations, sync) =>
      new Promise((resolve, reject) => {
        db.batch(operations, { sync }, (error) => {
          if (error) reject(error);
          else resolve();
        });
      }),
    get: (key) =>
      new Promise((resolve, reject) => {
        db.get(key, { asBuffer: true }, (error, value) => {
          if (error) {
            if (/NotFound/i.test(error.message)) resolve(undefined);
            else reject(error);
          } else resolve(value);
        });
      }),
    getMany: (keys) =>
      new Promise((resolve, reject) => {
        db.getMany([...keys], { asBuffer: true }, (error, values) => {
          if (error) reject(error);
          else resolve(values);
        });
      }),
    scan: (prefix) =>
      new Promise((resolve, reject) => {
        const upper = prefixUpperBound(prefix);
        const iterator = db.iterator({
          gte: prefix,
          ...(upper === undefined ? {} : { lt: upper }),
          keyAsBuffer: true,
          valueAsBuffer: true,
        });
        let entries = 0;
        const next = (): void => {
          iterator.next((error, key) => {
            if (error) {
              iterator.end(() => {
                reject(error);
              });
            } else if (key === undefined) {
              iterator.end((endError) => {
                if (endError) reject(endError);
                else resolve(entries);
              });
            } else {
              entries++;
              next();
            }
          });
        };
        next();
      }),
    property: (name) => db.getProperty(name),
    close: () =>
      new Promise((resolve, reject) => {
        db.close((error) => {
          if (error) reject(error);
          else resolve();
        });
      }),
  };
}

/** The part of @nxtedition/rocksdb (abstract-level 1 API plus its own sync methods) used here; it ships no typings. */
interface NxtRange {
  gte?: Buffer;
  lt?: Buffer;
}
interface NxtRocksLevel {
  open(options: { createIfMissing: boolean }): Promise<void>;
  close(): Promise<void>;
  /** Rejects with `code: 'LEVEL_NOT_FOUND'` for a missing key. */
  get(key: Buffer): Promise<Buffer>;
  getMany(keys: readonly Buffer[]): Promise<(Buffer | undefined)[]>;
  /** Atomic; `sync` fsyncs the WAL. Runs on the calling thread, fsync included. */
  batch(operations: readonly WriteOperation[], options: { sync: boolean }): Promise<void>;
  iterator(options: NxtRange): { all(): Promise<[Buffer, Buffer][]> };
  /** Whole range on the calling thread; `rows` alternates key, value. */
  querySync(options: NxtRange & { keyEncoding: 'buffer'; valueEncoding: 'buffer' }): {
    rows: Buffer[];
    finished: boolean;
  };
  /** Underscore-named but the fork's only synchronous point read (RocksDB MultiGet on the calling thread). */
  _getManySync(keys: readonly Buffer[]): (Buffer | undefined)[];
  getProperty(name: string): string | number;
}
interface NxtModule {
  RocksLevel: new (
    location: string,
    options: { keyEncoding: 'buffer'; valueEncoding: 'buffer' },
  ) => NxtRocksLevel;
}

async function openNxteditionRocksdb(location: string): Promise<Driver> {
  const { RocksLevel } = require('@nxtedition/rocksdb') as NxtModule;
  const db = new RocksLevel(location, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open({ createIfMissing: true });
  const range = (prefix: Buffer): NxtRange => {
    const upper = prefixUpperBound(prefix);
    return upper === undefined ? { gte: prefix } : { gte: prefix, lt: upper };
  };
  return {
    binding: '@nxtedition/rocksdb',
    write: (operations, sync) => db.batch(operations, { sync }),
    get: async (key) => {
      try {
        return await db.get(key);
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    },
    getMany: (keys) => db.getMany(keys),
    getManySync: (keys) => db._getManySync(keys),
    scan: async (prefix) => (await db.iterator(range(prefix)).all()).length,
    scanSync: (prefix) =>
      db.querySync({ ...range(prefix), keyEncoding: 'buffer', valueEncoding: 'buffer' }).rows.length / 2,
    property: (name) => String(db.getProperty(name)),
    close: () => db.close(),
  };
}

/**
 * The smallest key greater than every key that starts with `prefix`. A copy of the store's own: importing
 * src/store/rocksDatabase.ts would load @nxtedition/rocksdb into the rocksdb@5.2.1 process.
 */
function prefixUpperBound(prefix: Buffer): Buffer | undefined {
  const upper = Buffer.from(prefix);
  for (let i = upper.length - 1; i >= 0; i--) {
    if (upper[i] !== 0xff) {
      upper[i] = (upper[i] ?? 0) + 1;
      return upper.subarray(0, i + 1);
    }
  }
  return undefined;
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'LEVEL_NOT_FOUND';
}

// ---------------------------------------------------------------------------------------------------------------
// The data set: users with tens of channels each, keys like a (user, channel) read-state key.

interface DataSet {
  keys: Buffer; // records × KEY_BYTES, grouped by user
  values: Buffer; // records × VALUE_BYTES
  userFirstRecord: Uint32Array;
  userRecordCount: Uint8Array;
  users: number;
  writeOrder: Uint32Array; // a shuffle of the records, as events arrive in no key order
}

function buildDataSet(records: number): DataSet {
  const next = seededRandom(1);
  const keys = Buffer.alloc(records * KEY_BYTES);
  const values = Buffer.alloc(records * VALUE_BYTES);
  const span = config.maxChannelsPerUser - config.minChannelsPerUser + 1;
  const maxUsers = Math.ceil(records / config.minChannelsPerUser);
  const userFirstRecord = new Uint32Array(maxUsers);
  const userRecordCount = new Uint8Array(maxUsers);
  let record = 0;
  let users = 0;
  while (record < records) {
    const count = Math.min(config.minChannelsPerUser + (next() % span), records - record);
    const partition = next() % config.partitions;
    // Snowflake-like: a time-ish high word, random low word.
    const userHigh = 0x0100_0000 + (next() & 0x00ff_ffff);
    const userLow = next();
    userFirstRecord[users] = record;
    userRecordCount[users] = count;
    for (let c = 0; c < count; c++, record++) {
      const at = record * KEY_BYTES;
      keys[at] = KIND_READ_STATE;
      keys.writeUInt16BE(partition, at + 1);
      keys.writeUInt32BE(userHigh, at + 3);
      keys.writeUInt32BE(userLow, at + 7);
      keys.writeUInt32BE(0x0100_0000 + (next() & 0x00ff_ffff), at + 11);
      keys.writeUInt32BE(next(), at + 15);
      writeValue(values, record, next);
    }
    users++;
  }
  const writeOrder = new Uint32Array(records);
  for (let i = 0; i < records; i++) writeOrder[i] = i;
  for (let i = records - 1; i > 0; i--) {
    const j = next() % (i + 1);
    const swap = writeOrder[i] ?? 0;
    writeOrder[i] = writeOrder[j] ?? 0;
    writeOrder[j] = swap;
  }
  return { keys, values, userFirstRecord, userRecordCount, users, writeOrder };
}

/** 40 bytes like a read state: last read id, last message id, unread, mentions, version, spare. */
function writeValue(values: Buffer, record: number, next: () => number): void {
  const at = record * VALUE_BYTES;
  values.writeUInt32BE(0x0100_0000 + (next() & 0x00ff_ffff), at);
  values.writeUInt32BE(next(), at + 4);
  values.writeUInt32BE(0x0100_0000 + (next() & 0x00ff_ffff), at + 8);
  values.writeUInt32BE(next(), at + 12);
  values.writeUInt32BE(next() % 500, at + 16);
  values.writeUInt32BE(next() % 20, at + 20);
  values.writeUInt32BE(0, at + 24);
  values.writeUInt32BE(next() % 1000, at + 28);
}

const keyOf = (data: DataSet, record: number): Buffer =>
  data.keys.subarray(record * KEY_BYTES, (record + 1) * KEY_BYTES);
const valueOf = (data: DataSet, record: number): Buffer =>
  data.values.subarray(record * VALUE_BYTES, (record + 1) * VALUE_BYTES);

/** The state changes and the offset that produced them travel in one batch, as the projector writes them. */
function offsetRecord(partition: number, offset: number): WriteOperation {
  const key = Buffer.alloc(3);
  key[0] = KIND_OFFSET;
  key.writeUInt16BE(partition, 1);
  const value = Buffer.alloc(8);
  value.writeBigUInt64BE(BigInt(offset));
  return { type: 'put', key, value };
}

// ---------------------------------------------------------------------------------------------------------------
// Measurement.

interface Row {
  operation: string;
  /** Operations per second in the unit the operation names; undefined when only latency is reported. */
  throughput: number | undefined;
  p50Us: number | undefined;
  p99Us: number | undefined;
}

class Latencies {
  private readonly samples: Float64Array;
  private count = 0;
  constructor(capacity: number) {
    this.samples = new Float64Array(capacity);
  }
  add(ms: number): void {
    this.samples[this.count++] = ms;
  }
  /** Microseconds. */
  percentile(p: number): number {
    const sorted = this.samples.subarray(0, this.count).sort();
    return (sorted[Math.min(this.count - 1, Math.floor((p / 100) * this.count))] ?? Number.NaN) * 1000;
  }
}

async function writePhase(
  driver: Driver,
  data: DataSet,
  batches: number,
  sync: boolean,
  update: boolean,
  pickRecord: (i: number) => number,
): Promise<{ batchesPerS: number; latency: Latencies; heldThread: Latencies }> {
  const latency = new Latencies(batches);
  const heldThread = new Latencies(batches);
  let busyMs = 0;
  const next = seededRandom(3);
  const newValues = Buffer.alloc(config.updatesPerBatch * VALUE_BYTES);
  for (let b = 0; b < batches; b++) {
    const operations: WriteOperation[] = [];
    for (let u = 0; u < config.updatesPerBatch; u++) {
      const record = pickRecord(b * config.updatesPerBatch + u);
      let value = valueOf(data, record);
      if (update) {
        // A new state for an existing key; the data set itself stays as loaded for the read checks.
        writeValue(newValues, u, next);
        value = newValues.subarray(u * VALUE_BYTES, (u + 1) * VALUE_BYTES);
      }
      operations.push({ type: 'put', key: keyOf(data, record), value });
    }
    operations.push(offsetRecord(b % config.partitions, b));
    const start = performance.now();
    const written = driver.write(operations, sync);
    // How long the call keeps the JS thread (and so the HTTP API) from doing anything else.
    heldThread.add(performance.now() - start);
    await written;
    const elapsed = performance.now() - start;
    latency.add(elapsed);
    busyMs += elapsed;
  }
  return { batchesPerS: batches / (busyMs / 1000), latency, heldThread };
}

/** Runs `total` tasks with `inFlight` outstanding at a time; returns tasks per second. */
async function runConcurrently(
  total: number,
  inFlight: number,
  task: (i: number) => Promise<void>,
): Promise<number> {
  let issued = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (issued < total) await task(issued++);
    }),
  );
  return total / ((performance.now() - start) / 1000);
}

async function runSequentially(total: number, task: (i: number) => Promise<void>): Promise<number> {
  return runConcurrently(total, 1, task);
}

function check(condition: boolean, message: string): void {
  if (!condition)
    throw new Error(`${message}: the binding returned wrong data, so its figures mean nothing.`);
}

/** Point reads: `present` picks existing keys, otherwise keys of existing users on channels they never read. */
function readKeys(data: DataSet, count: number, present: boolean, seed: number): Buffer[] {
  const next = seededRandom(seed);
  const keys: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const record = next() % (data.keys.length / KEY_BYTES);
    if (present) keys.push(keyOf(data, record));
    else {
      const key = Buffer.from(keyOf(data, record));
      key.writeUInt32BE(0xfe00_0000 + (next() & 0x00ff_ffff), PREFIX_BYTES);
      keys.push(key);
    }
  }
  return keys;
}

async function readPhases(driver: Driver, data: DataSet): Promise<Row[]> {
  const rows: Row[] = [];
  for (const present of [true, false]) {
    const count = present ? config.presentGets : config.absentGets;
    const which = present ? 'present' : 'absent';
    const keys = readKeys(data, count, present, present ? 11 : 12);

    let latency = new Latencies(count);
    const getsPerS = await runConcurrently(count, config.getsInFlight, async (i) => {
      const start = performance.now();
      const value = await driver.get(keys[i] ?? Buffer.alloc(0));
      latency.add(performance.now() - start);
      check((value !== undefined) === present, `get of a ${which} key`);
    });
    rows.push(row(`get, ${config.getsInFlight} in flight, ${which} (gets/s)`, getsPerS, latency));

    const calls = Math.ceil(count / config.getManySize);
    const slice = (call: number): Buffer[] =>
      keys.slice(call * config.getManySize, (call + 1) * config.getManySize);
    latency = new Latencies(calls);
    const callsPerS = await runSequentially(calls, async (call) => {
      const start = performance.now();
      const values = await driver.getMany(slice(call));
      latency.add(performance.now() - start);
      check(
        values.every((value) => (value !== undefined) === present),
        `getMany of ${which} keys`,
      );
    });
    rows.push(
      row(
        `getMany ×${config.getManySize}, ${which} (gets/s; latency per call)`,
        callsPerS * (count / calls),
        latency,
      ),
    );

    const getManySync = driver.getManySync;
    if (getManySync === undefined) {
      rows.push(row(`sync get, ${which} (gets/s)`, undefined, undefined));
      rows.push(
        row(`sync getMany ×${config.getManySize}, ${which} (gets/s; latency per call)`, undefined, undefined),
      );
      continue;
    }
    latency = new Latencies(count);
    let start = performance.now();
    for (const key of keys) {
      const started = performance.now();
      const [value] = getManySync([key]);
      latency.add(performance.now() - started);
      check((value !== undefined) === present, `sync get of a ${which} key`);
    }
    rows.push(row(`sync get, ${which} (gets/s)`, count / ((performance.now() - start) / 1000), latency));

    latency = new Latencies(calls);
    start = performance.now();
    for (let call = 0; call < calls; call++) {
      const started = performance.now();
      const values = getManySync(slice(call));
      latency.add(performance.now() - started);
      check(
        values.every((value) => (value !== undefined) === present),
        `sync getMany of ${which} keys`,
      );
    }
    rows.push(
      row(
        `sync getMany ×${config.getManySize}, ${which} (gets/s; latency per call)`,
        count / ((performance.now() - start) / 1000),
        latency,
      ),
    );
  }
  return rows;
}

async function scanPhases(driver: Driver, data: DataSet): Promise<Row[]> {
  const next = seededRandom(21);
  const users = Array.from({ length: config.scans }, () => next() % data.users);
  const prefixOf = (user: number): Buffer => {
    const record = data.userFirstRecord[user] ?? 0;
    return data.keys.subarray(record * KEY_BYTES, record * KEY_BYTES + PREFIX_BYTES);
  };
  const expected = users.reduce((sum, user) => sum + (data.userRecordCount[user] ?? 0), 0);
  const rows: Row[] = [];

  let latency = new Latencies(config.scans);
  const scansPerS = await runSequentially(config.scans, async (i) => {
    const user = users[i] ?? 0;
    const start = performance.now();
    const entries = await driver.scan(prefixOf(user));
    latency.add(performance.now() - start);
    check(entries === data.userRecordCount[user], 'prefix scan');
  });
  rows.push(row('prefix scan (scans/s)', scansPerS, latency));
  rows.push(row('prefix scan (entries/s)', (scansPerS * expected) / config.scans, undefined));

  const scanSync = driver.scanSync;
  if (scanSync === undefined) {
    rows.push(row('sync prefix scan (scans/s)', undefined, undefined));
    rows.push(row('sync prefix scan (entries/s)', undefined, undefined));
    return rows;
  }
  latency = new Latencies(config.scans);
  const start = performance.now();
  for (const user of users) {
    const started = performance.now();
    const entries = scanSync(prefixOf(user));
    latency.add(performance.now() - started);
    check(entries === data.userRecordCount[user], 'sync prefix scan');
  }
  const syncScansPerS = config.scans / ((performance.now() - start) / 1000);
  rows.push(row('sync prefix scan (scans/s)', syncScansPerS, latency));
  rows.push(row('sync prefix scan (entries/s)', (syncScansPerS * expected) / config.scans, undefined));
  return rows;
}

function row(operation: string, throughput: number | undefined, latency: Latencies | undefined): Row {
  return { operation, throughput, p50Us: latency?.percentile(50), p99Us: latency?.percentile(99) };
}

/** Compaction left over from the load would otherwise steal one of the two cores from whichever read runs first. */
async function waitForCompactions(driver: Driver): Promise<number> {
  const start = performance.now();
  const busy = [
    'rocksdb.compaction-pending',
    'rocksdb.num-running-compactions',
    'rocksdb.num-running-flushes',
    'rocksdb.mem-table-flush-pending',
  ];
  while (performance.now() - start < 120_000 && busy.some((name) => driver.property(name) !== '0')) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return (performance.now() - start) / 1000;
}

interface BindingResult {
  rows: Row[];
  notes: string[];
}

async function runBinding(
  open: (location: string) => Promise<Driver>,
  data: DataSet,
): Promise<BindingResult> {
  const location = mkdtempSync(path.join(os.tmpdir(), 'readstates-bench-'));
  try {
    const driver = await open(location);
    progress(`${driver.binding}: writing ${config.records.toLocaleString('en-US')} records`);
    const records = data.writeOrder.length;
    const bulkBatches = Math.ceil(records / config.updatesPerBatch);
    const bulk = await writePhase(driver, data, bulkBatches, false, false, (i) => data.writeOrder[i] ?? 0);
    const syncPick = seededRandom(4);
    progress(`${driver.binding}: ${config.syncBatches} fsynced batches`);
    const synced = await writePhase(driver, data, config.syncBatches, true, true, () => syncPick() % records);
    const settleS = await waitForCompactions(driver);
    const sstMiB = Number(driver.property('rocksdb.total-sst-files-size')) / 2 ** 20;

    progress(`${driver.binding}: point reads`);
    const reads = await readPhases(driver, data);
    progress(`${driver.binding}: prefix scans`);
    const scans = await scanPhases(driver, data);
    await driver.close();

    const updates = config.updatesPerBatch;
    return {
      rows: [
        row('write sync:false (batches/s)', bulk.batchesPerS, bulk.latency),
        row('write sync:false (updates/s)', bulk.batchesPerS * updates, undefined),
        row('write sync:false, JS thread held per batch', undefined, bulk.heldThread),
        row('write sync:true (batches/s)', synced.batchesPerS, synced.latency),
        row('write sync:true (updates/s)', synced.batchesPerS * updates, undefined),
        row('write sync:true, JS thread held per batch', undefined, synced.heldThread),
        ...reads,
        ...scans,
      ],
      notes: [
        `${driver.binding}: compactions settled ${settleS.toFixed(1)} s after the writes; SST files ${sstMiB.toFixed(0)} MiB`,
      ],
    };
  } finally {
    rmSync(location, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Report.

function progress(message: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

function packageFacts(name: string): { version: string; rocksdb: string } {
  const directory = path.dirname(require.resolve(`${name}/package.json`));
  const { version } = JSON.parse(readFileSync(path.join(directory, 'package.json'), 'utf8')) as {
    version: string;
  };
  let rocksdb = 'unknown';
  try {
    const header = readFileSync(
      path.join(directory, 'deps/rocksdb/rocksdb/include/rocksdb/version.h'),
      'utf8',
    );
    const part = (which: string): string =>
      new RegExp(`#define ROCKSDB_${which} (\\d+)`).exec(header)?.[1] ?? '?';
    rocksdb = `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
  } catch {
    // The version header is not part of every published package.
  }
  return { version, rocksdb };
}

function fileSystem(directory: string): string {
  const names: Record<number, string> = {
    0xef53: 'ext4',
    0x58465342: 'xfs',
    0x9123683e: 'btrfs',
    0x01021994: 'tmpfs (fsync is a no-op: sync figures are meaningless)',
    0x794c7630: 'overlayfs',
  };
  const type = statfsSync(directory).type;
  return names[type] ?? `type 0x${type.toString(16)}`;
}

function formatNumber(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '—';
  if (value >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(1);
}

function median(values: (number | undefined)[]): number | undefined {
  const known = values.filter((value): value is number => value !== undefined).sort((a, b) => a - b);
  if (known.length === 0) return undefined;
  const middle = Math.floor(known.length / 2);
  return known.length % 2 === 1 ? known[middle] : ((known[middle - 1] ?? 0) + (known[middle] ?? 0)) / 2;
}

/** Each figure is the median of that figure over the rounds. */
function medianResult(results: BindingResult[]): BindingResult {
  const first = results[0];
  if (first === undefined) throw new Error('No rounds ran: pass --rounds=1 or more.');
  return {
    rows: first.rows.map((r, i) => ({
      operation: r.operation,
      throughput: median(results.map((result) => result.rows[i]?.throughput)),
      p50Us: median(results.map((result) => result.rows[i]?.p50Us)),
      p99Us: median(results.map((result) => result.rows[i]?.p99Us)),
    })),
    notes: results.flatMap((result) => result.notes),
  };
}

function spread(results: BindingResult[], i: number): string {
  const values = results
    .map((result) => result.rows[i]?.throughput)
    .filter((value): value is number => value !== undefined);
  if (values.length === 0) return '—';
  return `${formatNumber(Math.min(...values))} – ${formatNumber(Math.max(...values))}`;
}

/** `old` is undefined when rocksdb@5.2.1 is not installed. */
function printSpread(old: BindingResult[] | undefined, fork: BindingResult[]): void {
  const first = fork[0];
  if (first === undefined || rounds < 2) return;
  printMarkdown(
    old === undefined
      ? ['operation', '@nxtedition min – max']
      : ['operation', 'rocksdb min – max', '@nxtedition min – max'],
    first.rows
      .map((r, i) =>
        old === undefined ? [r.operation, spread(fork, i)] : [r.operation, spread(old, i), spread(fork, i)],
      )
      .filter((line) => line.slice(1).some((cell) => cell !== '—')),
  );
}

function printMarkdown(header: string[], lines: string[][]): void {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...lines.map((line) => (line[column] ?? '').length)),
  );
  const format = (cells: string[]): string =>
    `| ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join(' | ')} |`;
  console.log(format(header));
  console.log(
    `| ${widths.map((width, column) => (column === 0 ? '-'.repeat(width) : `${'-'.repeat(width - 1)}:`)).join(' | ')} |`,
  );
  for (const line of lines) console.log(format(line));
}

function printTable(old: BindingResult, fork: BindingResult): void {
  const header = [
    'operation',
    'rocksdb ops/s',
    'p50 µs',
    'p99 µs',
    '@nxtedition ops/s',
    'p50 µs',
    'p99 µs',
    'nxtedition/rocksdb',
  ];
  const lines = fork.rows.map((forkRow, i) => {
    const oldRow = old.rows[i];
    const ratio =
      oldRow?.throughput !== undefined && forkRow.throughput !== undefined
        ? `${(forkRow.throughput / oldRow.throughput).toFixed(2)}×`
        : oldRow?.p50Us !== undefined && forkRow.p50Us !== undefined
          ? `p50 ${(forkRow.p50Us / oldRow.p50Us).toFixed(2)}×`
          : '—';
    return [
      forkRow.operation,
      formatNumber(oldRow?.throughput),
      formatNumber(oldRow?.p50Us),
      formatNumber(oldRow?.p99Us),
      formatNumber(forkRow.throughput),
      formatNumber(forkRow.p50Us),
      formatNumber(forkRow.p99Us),
      ratio,
    ];
  });
  printMarkdown(header, lines);
}

/** Without rocksdb@5.2.1: the fork's figures alone, no comparison columns. */
function printForkTable(fork: BindingResult): void {
  printMarkdown(
    ['operation', '@nxtedition ops/s', 'p50 µs', 'p99 µs'],
    fork.rows.map((r) => [
      r.operation,
      formatNumber(r.throughput),
      formatNumber(r.p50Us),
      formatNumber(r.p99Us),
    ]),
  );
}

function loadAverage(): string {
  return os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(' ');
}

async function main(): Promise<void> {
  const withOld = oldBindingInstalled();
  if (!withOld) progress('rocksdb@5.2.1 is not installed: running @nxtedition/rocksdb alone');
  const oldPackage = withOld ? packageFacts('rocksdb') : undefined;
  const forkPackage = packageFacts('@nxtedition/rocksdb');
  const cpus = os.cpus();
  console.log(
    `# RocksDB bindings on the readstates workload${quick ? ' (--quick: 10× smaller)' : ''}, ` +
      `median of ${rounds} round${rounds === 1 ? '' : 's'}`,
  );
  console.log();
  console.log(
    `- machine: ${os.availableParallelism()} cores (${cpus[0]?.model ?? 'unknown CPU'}), ` +
      `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.type()} ${os.release()} ${os.arch()}`,
  );
  console.log(
    `- Node ${process.version}; temporary directories on ${fileSystem(os.tmpdir())} (${os.tmpdir()})`,
  );
  if (oldPackage === undefined) console.log('- rocksdb@5.2.1: not installed (see the note below)');
  else console.log(`- rocksdb@${oldPackage.version} bundles RocksDB ${oldPackage.rocksdb}`);
  console.log(`- @nxtedition/rocksdb@${forkPackage.version} bundles RocksDB ${forkPackage.rocksdb}`);
  console.log(
    `- ${config.records.toLocaleString('en-US')} records (key ${KEY_BYTES} B, value ${VALUE_BYTES} B) in batches ` +
      `of ${config.updatesPerBatch.toLocaleString('en-US')} updates + 1 offset record, shuffled; ` +
      `${config.syncBatches} fsynced batches of updates; WAL on; writeBufferSize 64 MiB, other options default`,
  );
  console.log(
    `- reads: ${config.presentGets.toLocaleString('en-US')} present + ${config.absentGets.toLocaleString('en-US')} ` +
      `absent keys per mode; scans: ${config.scans.toLocaleString('en-US')} user prefixes ` +
      `(${config.minChannelsPerUser}–${config.maxChannelsPerUser} entries), one at a time; ` +
      `getMany and sync calls one at a time`,
  );

  console.log(
    `- load average before: ${loadAverage()} (1, 5, 15 min; other work on the machine skews figures)`,
  );

  const old: BindingResult[] = [];
  const fork: BindingResult[] = [];
  for (let round = 1; round <= rounds; round++) {
    progress(`round ${round} of ${rounds}`);
    if (!withOld) {
      fork.push(await runChild('@nxtedition/rocksdb'));
      continue;
    }
    // Alternating the order keeps a drift in the machine's load from favouring one binding.
    if (round % 2 === 1) {
      old.push(await runChild('rocksdb'));
      fork.push(await runChild('@nxtedition/rocksdb'));
    } else {
      fork.push(await runChild('@nxtedition/rocksdb'));
      old.push(await runChild('rocksdb'));
    }
  }
  const oldResult = withOld ? medianResult(old) : undefined;
  const forkResult = medianResult(fork);

  console.log(`- load average after: ${loadAverage()}`);
  console.log();
  if (oldResult === undefined) {
    console.log(
      '**Not a comparison.** rocksdb@5.2.1 (the old binding) is not installed, so only @nxtedition/rocksdb ran ' +
        `and there is nothing to compare it with. ${INSTALL_OLD_BINDING}`,
    );
    console.log();
    printForkTable(forkResult);
  } else printTable(oldResult, forkResult);
  console.log();
  printSpread(withOld ? old : undefined, fork);
  console.log();
  for (const note of [...(oldResult?.notes ?? []), ...forkResult.notes]) console.log(`- ${note}`);
  console.log(
    '- "JS thread held" is how long the write call blocks the event loop before returning its promise; ' +
      '"—" means the binding has no such operation.',
  );
}

const openers = {
  rocksdb: openLevelRocksdb,
  '@nxtedition/rocksdb': openNxteditionRocksdb,
} satisfies Record<string, (location: string) => Promise<Driver>>;
type BindingName = keyof typeof openers;

/** Runs one binding in a child process of this same script; see the file comment for why. */
async function runChild(binding: BindingName): Promise<BindingResult> {
  const child = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), `--binding=${binding}`, ...(quick ? ['--quick'] : [])],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  if (code !== 0) {
    throw new Error(`The ${binding} run failed (${signal ?? `exit code ${code}`}); its error is above.`);
  }
  return JSON.parse(output) as BindingResult;
}

async function runOneBinding(binding: BindingName): Promise<void> {
  progress(`${binding}: building the data set`);
  const result = await runBinding(openers[binding], buildDataSet(config.records));
  process.stdout.write(JSON.stringify(result));
}

const bindingArgument = process.argv.find((arg) => arg.startsWith('--binding='))?.slice('--binding='.length);
if (bindingArgument === undefined) await main();
else if (bindingArgument in openers) await runOneBinding(bindingArgument as BindingName);
else throw new Error(`--binding must be one of ${Object.keys(openers).join(', ')}, not ${bindingArgument}.`);
