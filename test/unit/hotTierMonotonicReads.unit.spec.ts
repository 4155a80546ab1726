/**
 * Monotonic reads on a real RocksDB: once a pair's value was served, no later lookup serves an older one, in the
 * windows where RocksDB already holds a write that the hot tier does not mirror yet. Each test holds the write
 * (or a read) at the moment that opens the window, so the interleaving is certain, not hoped for.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Snowflake } from '../../src/contract/snowflake.ts';
import type { ReadStateView } from '../../src/projection/readStateOf.ts';
import { openRocksDatabase, type RocksDatabase } from '../../src/store/rocksDatabase.ts';
import { acked, sent } from '../support/eventBuilders.ts';
import { createReadPath, type ReadPath } from '../support/readPath.ts';
import { createReferenceModel } from '../support/referenceModel.ts';
import { temporaryRocksDir } from '../support/rocks.ts';

/** A way to stop a call at a point until the test lets it go, and to know that it got there. */
function hold() {
  const reached = Promise.withResolvers<undefined>();
  const released = Promise.withResolvers<undefined>();
  return {
    reached: reached.promise,
    release: () => {
      released.resolve(undefined);
    },
    async at() {
      reached.resolve(undefined);
      await released.promise;
    },
  };
}

type Hold = ReturnType<typeof hold>;

/**
 * The real database, with the next write's promise (or the next read) held at `hold`: a write held after
 * RocksDB applied it is the moment the projector awaits it while the engine's event loop runs a lookup.
 */
function holding(db: RocksDatabase) {
  let write: { hold: Hold; fails: boolean } | undefined;
  let read: Hold | undefined;
  const held: RocksDatabase = {
    ...db,
    async write(operations, options) {
      const mine = write;
      write = undefined;
      await db.write(operations, options);
      if (mine === undefined) return;
      await mine.hold.at();
      if (mine.fails) throw new Error('injected: the write landed, but reported a failure');
    },
    async getMany(keys) {
      const mine = read;
      read = undefined;
      await mine?.at();
      return db.getMany(keys);
    },
    async scan(prefix, options) {
      const mine = read;
      read = undefined;
      await mine?.at();
      return db.scan(prefix, options);
    },
  };
  return {
    db: held,
    /** The next write lands in RocksDB, then waits; `fails`: then it rejects. */
    holdNextWrite(fails = false): Hold {
      const next = hold();
      write = { hold: next, fails };
      return next;
    },
    /** The next getMany or scan waits before it reads. */
    holdNextRead(): Hold {
      read = hold();
      return read;
    },
  };
}

const CHANNEL = '7';
const [AUTHOR, READER, LURKER] = ['1', '2', '3'];
const FIRST = [
  sent({ channel: CHANNEL, id: '10', author: AUTHOR }),
  acked({ channel: CHANNEL, user: READER, id: '10' }),
];
/** The write the tests hold: a new message, which READER acks in the same batch. */
const SECOND = [
  sent({ channel: CHANNEL, id: '11', author: AUTHOR }),
  acked({ channel: CHANNEL, user: READER, id: '11' }),
];

/** Each user's views as served, in the order served, checked against the states before and after SECOND. */
function servedLog() {
  const [before, after] = [FIRST, [...FIRST, ...SECOND]].map((events) => {
    const model = createReferenceModel();
    for (const event of events) model.apply(event);
    return model;
  });
  const log = new Map<Snowflake, ('before' | 'after')[]>();
  return {
    note(views: readonly ReadStateView[]): void {
      for (const view of views) {
        const older = before?.readState(view.user_id, view.channel_id);
        const newer = after?.readState(view.user_id, view.channel_id);
        // Each answer is a state RocksDB held (not a mix of the two), and READER's and LURKER's differ.
        expect([older, newer]).toContainEqual(view);
        const which = isDeepStrictEqual(view, newer) ? 'after' : 'before';
        log.set(view.user_id, [...(log.get(view.user_id) ?? []), which]);
      }
    },
    of: (userId: Snowflake) => log.get(userId) ?? [],
  };
}

describe('monotonic reads through the hot tier and a real RocksDB', () => {
  let rocks: RocksDatabase;
  let remove: () => Promise<void>;
  let gates: ReturnType<typeof holding>;
  let path: ReadPath;

  beforeEach(async () => {
    const dir = await temporaryRocksDir();
    remove = dir.remove;
    rocks = await openRocksDatabase(dir.path);
    gates = holding(rocks);
    path = createReadPath(gates.db, { hotTier: { bytesBudget: 2 ** 16 } });
    // READER acked the first message; LURKER never acked (no read state: a negative entry once looked up).
    await path.apply(FIRST);
    const served = servedLog();
    served.note(await path.reads.lookup(READER, [CHANNEL]));
    served.note(await path.reads.lookup(LURKER, [CHANNEL]));
    expect([served.of(READER), served.of(LURKER)]).toEqual([['before'], ['before']]);
    // Both are now held by the tier, as of this state.
    expect(path.hot.readView(READER, CHANNEL)).toMatchObject({ has_read_state: true, unread_count: 0 });
    expect(path.hot.readView(LURKER, CHANNEL)).toMatchObject({ has_read_state: false, unread_count: 1 });
    // Nothing resident any more (as after a stop and a start): a lookup the tier misses reads RocksDB, where the
    // windows are; a resident channel is answered without yielding.
    for (const operations of path.store.flush(1_000)) await rocks.write(operations);
    path.store.clear();
  });

  afterEach(async () => {
    await rocks.close();
    await remove();
  });

  it('a lookup that began before a write and read it landed is not followed by an older answer from the tier', async () => {
    // The engine begins a lookup of READER (no write under way), but its RocksDB read is held...
    const read = gates.holdNextRead();
    const served = servedLog();
    const lookups = (async () => {
      served.note(await path.engine.lookup(READER, [CHANNEL]));
      // ...and once it is answered, the HTTP thread looks the pair up again: the tier holds it.
      served.note(await path.reads.lookup(READER, [CHANNEL]));
    })();
    await read.reached;
    // ...while the projector's next write begins and lands in RocksDB; its promise is not resolved yet.
    const write = gates.holdNextWrite();
    const applying = path.apply(SECOND);
    await write.reached;
    read.release();
    // The write's promise resolves a little later, as it would once the engine's event loop gets to it.
    await sleep(50);
    write.release();
    await Promise.all([applying, lookups]);
    expect(served.of(READER)).toEqual(['after', 'after']);
  });

  it('a lookup that reaches RocksDB while a write is awaited answers no state the tier goes back on', async () => {
    const write = gates.holdNextWrite();
    const applying = path.apply(SECOND);
    await write.reached;
    // RocksDB holds the write, the tier does not yet. The engine answers LURKER from RocksDB (the HTTP thread's
    // read of the tier missed: the pair was not held yet when it looked, or the writer held the seqlock); then
    // the HTTP thread looks up LURKER and READER, both held by the tier.
    const served = servedLog();
    const lookups = (async () => {
      served.note(await path.engine.lookup(LURKER, [CHANNEL]));
      served.note(await path.reads.lookup(LURKER, [CHANNEL]));
      served.note(await path.reads.lookup(READER, [CHANNEL]));
    })();
    await sleep(50);
    write.release();
    await Promise.all([applying, lookups]);
    expect([served.of(LURKER), served.of(READER)]).toEqual([['after', 'after'], ['after']]);
  });

  it('a write that fails after landing lets waiting lookups go on, and the tier forgets what it held', async () => {
    const write = gates.holdNextWrite(true);
    const applying = path.apply(SECOND).then(
      () => new Error('the write did not fail'),
      (error: unknown) => error,
    );
    await write.reached;
    const served = servedLog();
    const lookups = (async () => {
      served.note(await path.engine.lookup(LURKER, [CHANNEL]));
      served.note(await path.reads.lookup(READER, [CHANNEL]));
    })();
    await sleep(50);
    // The write reports a failure although it landed: the projector tells the mirror (writeFailed).
    write.release();
    expect(await applying).toMatchObject({ message: /landed, but reported a failure/ });
    await lookups;
    // What landed is the chunk's offsets and listing keys; its channel stays to be written back, and memory was
    // dropped: every answer is RocksDB's, as before the write (which a restart replays), never a mix.
    expect([served.of(LURKER), served.of(READER)]).toEqual([['before'], ['before']]);
    expect(path.mirror.writing(path.location.partitionOf(CHANNEL))).toBeUndefined();
  });
});
