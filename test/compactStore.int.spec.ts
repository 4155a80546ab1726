/**
 * The compact store against the reference model, on real RocksDB: random histories applied in chunks of random
 * sizes through a resident budget small enough that channels are evicted and reloaded all the time, every answer
 * compared after every chunk; then a crash at any write, a new store on what RocksDB holds replaying the log from
 * its stored offsets, and every answer and listing compared again.
 */
import { rm } from 'node:fs/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChatEvent, TopicKind } from '../src/contract/events.ts';
import { CompactStore, pairRead, PartitionForgotten } from '../src/store/compactStore.ts';
import { createHotTier } from '../src/store/hotTier.ts';
import { createHotTierMirror } from '../src/store/hotTierMirror.ts';
import { listReadStateChannels, queryReadStates } from '../src/store/queryReadStates.ts';
import { acked, edited, joined, left, sent } from './support/eventBuilders.ts';
import { openRocksDatabase, type RocksDatabase } from '../src/store/rocksDatabase.ts';
import { RocksBlockSpill } from '../src/store/blockSpill.ts';
import { createMemoryRocksDatabase } from './support/memoryRocksDatabase.ts';
import { channelStateKey, channelStatePrefix, readStateKey } from '../src/store/keys.ts';
import { ByteWriter, encodeDeltaEvent } from '../src/store/channelCodec.ts';
import { readStoredOffset, storedOffsetWrite } from '../src/store/storedOffsets.ts';
import { LogOffsets } from './support/logOffsets.ts';
import { createDemoStream } from '../src/ops/demoStream.ts';
import { chatHistory, interleave, SMALL_UNIVERSE, topicPicks } from './support/chatHistory.ts';
import { createReferenceModel, type ReferenceModel } from './support/referenceModel.ts';
import { temporaryRocksDir, withRocksDatabase } from './support/rocks.ts';

const { channels, users } = SMALL_UNIVERSE;

/** What a reader finds: the resident state, else what it loads (made resident). */
async function read(store: CompactStore, partition: number, user: string, channel: string) {
  const found = store.lookup(partition, channel);
  const state = found.known ? found.channel : await store.load(store.db, partition, channel);
  return pairRead(state, user, channel);
}

async function answers(store: CompactStore, partition: number) {
  const views = [];
  for (const channel of channels) {
    for (const user of users) views.push((await read(store, partition, user, channel)).view);
  }
  return views;
}

function referenceAnswers(reference: ReferenceModel) {
  return channels.flatMap((channel) => users.map((user) => reference.readState(user, channel)));
}

/** Each user's listed read states (the keys RocksDB holds), as the listing endpoint reads them. */
async function listings(store: CompactStore) {
  const location = { partitionCount: 1, partitionOf: () => 0 };
  return Promise.all(
    users.map(async (user) =>
      [...(await listReadStateChannels(store.db, location, user, { limit: 100 }))].sort(),
    ),
  );
}

function referenceListings(reference: ReferenceModel) {
  return users.map((user) =>
    reference
      .readStatesOf(user)
      .map((view) => view.channel_id)
      .sort(),
  );
}

/** Each database's log: offsets go on across the stores that write it (a restart). */
const logs = new WeakMap<RocksDatabase, LogOffsets>();
function logOf(db: RocksDatabase): LogOffsets {
  const log = logs.get(db) ?? new LogOffsets();
  logs.set(db, log);
  return log;
}

/** Appends `events` to the partition's log and applies them, a chunk per run of one topic, each written. */
async function applyChunk(store: CompactStore, partition: number, events: ChatEvent[]) {
  for (const { events: run, source } of logOf(store.db).append(partition, events)) {
    const { operations } = await store.projectChunk(partition, run, source);
    await store.db.write(operations);
    store.commit(partition);
  }
}

/** Where RocksDB's stored offsets say the partition stands (a topic it stores none of: the log's start). */
async function storedPosition(db: RocksDatabase, partition: number) {
  return {
    messages: (await readStoredOffset(db, partition, 'messages')) ?? 0n,
    acks: (await readStoredOffset(db, partition, 'acks')) ?? 0n,
  };
}

/** Starts a partition where RocksDB's offsets say; `empty`: RocksDB holds nothing of it. */
async function start(store: CompactStore, partition: number, empty: boolean) {
  store.startPartition(partition, empty, await storedPosition(store.db, partition));
}

/** Writes back everything: RocksDB then holds what memory does. */
async function flushAll(store: CompactStore) {
  for (const operations of store.flush(1_000)) await store.db.write(operations);
}

/**
 * Applies `events` to partition 0 in chunks of `sizes` (taken in turn), and to the reference model; after every
 * chunk the store's answers (and, with `listings`, RocksDB's listings) must be the model's.
 */
async function applyComparing(
  store: CompactStore,
  reference: ReferenceModel,
  events: readonly ChatEvent[],
  sizes: readonly number[],
  check: { listings: boolean },
) {
  for (let at = 0, i = 0; at < events.length; i++) {
    const chunk = events.slice(at, at + (sizes[i % sizes.length] ?? 1));
    at += chunk.length;
    await applyChunk(store, 0, chunk);
    for (const event of chunk) reference.apply(event);
    expect(await answers(store, 0)).toEqual(referenceAnswers(reference));
    if (check.listings) expect(await listings(store)).toEqual(referenceListings(reference));
  }
}

describe('compact store on RocksDB', () => {
  it('after a crash at any write, replays from its stored offsets to the reference model, each event once', async () => {
    const dir = await temporaryRocksDir();
    let round = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          chatHistory(SMALL_UNIVERSE, { maxMessages: 60, maxAcks: 40, everyone: true, membership: true }),
          topicPicks(100),
          fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 10 }),
          fc.integer({ min: 1, max: 40 }),
          fc.integer({ min: 0, max: 30 }),
          fc.nat(),
          fc.nat({ max: 4 }),
          topicPicks(40),
          fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 10 }),
          fc.option(fc.nat(12), { freq: 5 }),
          fc.option(fc.integer({ min: 1, max: 400 }), { freq: 4 }),
          async (
            history,
            picks,
            sizes,
            budget,
            lagEvents,
            crashAt,
            flushSlices,
            replayPicks,
            replaySizes,
            coldEvents,
            deltaAbove,
          ) => {
            const db = await openRocksDatabase(`${dir.path}/${round++}`);
            // Most runs park every channel's blocks untouched for `coldEvents` events, and load them back.
            const parking =
              coldEvents === null
                ? {}
                : { spill: new RocksBlockSpill(createMemoryRocksDatabase()), parkAbove: 1, coldEvents };
            // Most runs write channels whose snapshots take `deltaAbove` bytes back as deltas, then whole again.
            const deltas = deltaAbove === null ? {} : { deltaAbove };
            try {
              const events = interleave(history, picks);
              const log = new LogOffsets();
              const runs: ReturnType<LogOffsets['append']> = [];
              for (let at = 0, i = 0; at < events.length; i++) {
                const chunk = events.slice(at, at + (sizes[i % sizes.length] ?? 1));
                at += chunk.length;
                runs.push(...log.append(0, chunk));
              }
              // Channels dirty longer than a few events are written back; small budgets evict changed channels
              // (written as they leave) and load them back, some before the snapshot they left with was written.
              const writeBackAfter = { events: lagEvents, ms: 1e9 };
              const first = new CompactStore(db, budget, {
                blockSize: 4,
                writeBackAfter,
                ...parking,
                ...deltas,
              });
              first.startPartition(0, true, { messages: 0n, acks: 0n });
              const reference = createReferenceModel();
              const crash = runs.length === 0 ? 0 : crashAt % (runs.length + 1);
              for (const { events: run, source } of runs.slice(0, crash)) {
                const { operations } = await first.projectChunk(0, run, source);
                await db.write(operations);
                first.commit(0);
                for (const event of run) reference.apply(event);
                expect(await answers(first, 0)).toEqual(referenceAnswers(reference));
                expect(await listings(first)).toEqual(referenceListings(reference));
              }
              // Killed part-way through writing everything back, or before.
              let slices = 0;
              for (const operations of first.flush(3)) {
                if (slices++ === flushSlices) break;
                await db.write(operations);
              }
              // A new store on what RocksDB holds: the log again from its stored offsets, the rest after.
              const from = await storedPosition(db, 0);
              const second = new CompactStore(db, budget, {
                blockSize: 5,
                writeBackAfter,
                ...parking,
                ...deltas,
              });
              // Up to the log's end, listing keys may be ahead of the snapshots.
              second.startPartition(0, false, from, log.position(0));
              // Each topic from the stored offsets on, in its order, the two interleaved otherwise than before the
              // crash and in chunks of other sizes: a chunk may now hold changes that were written apart.
              const rest = (topic: TopicKind) =>
                runs
                  .filter((run) => run.source.topic === topic)
                  .flatMap((run) =>
                    run.events.map((event, i) => ({ event, offset: run.source.offsets[i] ?? '' })),
                  )
                  .filter(({ offset }) => BigInt(offset) >= from[topic]);
              const queues = { messages: rest('messages'), acks: rest('acks') };
              for (let i = 0; queues.messages.length + queues.acks.length > 0; i++) {
                const preferred: TopicKind =
                  (replayPicks[i % replayPicks.length] ?? true) ? 'messages' : 'acks';
                const other: TopicKind = preferred === 'messages' ? 'acks' : 'messages';
                const topic = queues[preferred].length > 0 ? preferred : other;
                const taken = queues[topic].splice(0, replaySizes[i % replaySizes.length] ?? 1);
                const offsets = taken.map(({ offset }) => offset);
                const next = BigInt(offsets.at(-1) ?? '0') + 1n;
                const events = taken.map(({ event }) => event);
                const { operations } = await second.projectChunk(0, events, { topic, offsets, next });
                await db.write(operations);
                second.commit(0);
              }
              for (const { events: run } of runs.slice(crash))
                for (const event of run) reference.apply(event);
              expect(await answers(second, 0)).toEqual(referenceAnswers(reference));
              expect(await listings(second)).toEqual(referenceListings(reference));
              // Written back whole, RocksDB alone holds it: a third store replays nothing.
              await flushAll(second);
              const third = new CompactStore(db, 1_000, { blockSize: 5 });
              await start(third, 0, false);
              const { messages, acks } = third.position(0) ?? {};
              expect({ messages, acks }).toEqual(log.position(0));
              expect(await answers(third, 0)).toEqual(referenceAnswers(reference));
            } finally {
              await db.close();
            }
          },
        ),
        { numRuns: 200 },
      );
    } finally {
      await dir.remove();
    }
  }, 180_000);

  it('writes back the channels dirty longer than writeBackAfter, oldest first, and moves its offsets up', async () => {
    await withRocksDatabase(async (db) => {
      const store = new CompactStore(db, 1_000_000, { writeBackAfter: { events: 2, ms: 60_000 } });
      store.startPartition(0, true, { messages: 0n, acks: 0n });
      const message = (id: number, channel: string) => sent({ channel, id: String(100 + id), author: '1' });
      await applyChunk(store, 0, [message(0, '7')]);
      await applyChunk(store, 0, [message(1, '8')]);
      // Nothing is due: RocksDB holds no channel, and a restart would replay from the start.
      expect(await storedPosition(db, 0)).toEqual({ messages: 0n, acks: 0n });
      await applyChunk(store, 0, [message(2, '8')]);
      // Channel 7, changed 3 events ago, went out: a replay starts where channel 8 was first changed.
      expect(await storedPosition(db, 0)).toEqual({ messages: 1n, acks: 0n });
      expect(store.writeBackDue(0, performance.now())).toEqual([]);
      // A minute on, with no event meanwhile, channel 8 is due too.
      const counted = store.writtenBytes;
      const due = store.writeBackDue(0, performance.now() + 60_001);
      await db.write(due);
      expect(await storedPosition(db, 0)).toEqual({ messages: 3n, acks: 0n });
      // Counted as written: channel 8's snapshot, whole.
      const snapshot = due.find((op) => op.type === 'put' && op.key.equals(channelStateKey(0, '8', 0)));
      expect(snapshot?.type === 'put' ? snapshot.value.length : 0).toBeGreaterThan(0);
      expect(store.writtenBytes - counted).toBe(snapshot?.type === 'put' ? snapshot.value.length : -1);
      const restarted = new CompactStore(db, 1_000_000);
      await start(restarted, 0, false);
      expect((await read(restarted, 0, '2', '7')).view.unread_count).toBe(1);
      expect((await read(restarted, 0, '2', '8')).view.unread_count).toBe(2);
    });
  });

  it('writes a big channel back as its events since its last write, and whole again once they add up to its snapshot', async () => {
    await withRocksDatabase(async (db) => {
      const writeBackAfter = { events: 1, ms: 60_000 };
      const store = new CompactStore(db, 1_000_000, { writeBackAfter, deltaAbove: 1_000 });
      store.startPartition(0, true, { messages: 0n, acks: 0n });
      /** Channel 7's records in RocksDB: seq 0 its snapshot, then deltas, with their sizes. */
      const onDisk = async () =>
        (await db.scan(channelStatePrefix(0, '7'))).map(({ key, value }) => [
          key.readUInt32BE(key.length - 4),
          value.length,
        ]);
      const message = (id: number) => sent({ channel: '7', id: String(1_000 + id), author: '1' });
      // Another channel's event moves the partition on, so that channel 7 is due for its write-back.
      const elsewhere = (id: number) => sent({ channel: '8', id: String(1_000 + id), author: '1' });
      // 100 messages: a snapshot of 1,300 bytes and more.
      await applyChunk(
        store,
        0,
        Array.from({ length: 100 }, (_, i) => message(i)),
      );
      await applyChunk(store, 0, [elsewhere(100)]);
      const [[seq, snapshotBytes] = []] = await onDisk();
      expect(seq).toBe(0);
      expect(snapshotBytes).toBeGreaterThan(1_000);
      // Each next write-back of it is a delta: its events since, far smaller than its snapshot.
      let written = 0;
      let at = 101;
      for (let delta = 1; ; delta++) {
        await applyChunk(store, 0, [
          message(at++),
          acked({ channel: '7', user: '2', id: String(1_000 + at - 2) }),
        ]);
        await applyChunk(store, 0, [elsewhere(at++)]);
        const records = await onDisk();
        if (records.length === 1) {
          // Whole again, the deltas deleted: once they would have added up to its snapshot's size.
          expect(written + 60).toBeGreaterThanOrEqual(snapshotBytes ?? 0);
          expect(records[0]?.[0]).toBe(0);
          break;
        }
        expect(records.length).toBe(delta + 1);
        const [deltaSeq, deltaBytes = 0] = records.at(-1) ?? [];
        expect(deltaSeq).toBe(delta);
        expect(deltaBytes).toBeLessThan(100);
        written += deltaBytes;
        // A store started on what RocksDB holds reads its snapshot and deltas: the same answers as memory.
        const restarted = new CompactStore(db, 1_000_000);
        await start(restarted, 0, false);
        for (const user of ['1', '2']) {
          expect((await read(restarted, 0, user, '7')).view).toEqual((await read(store, 0, user, '7')).view);
        }
      }
    });
  });

  it("writes a partition's evicted snapshots with its own writes, so none runs ahead of its listing keys", async () => {
    const location = { partitionCount: 2, partitionOf: (channel: string) => Number(channel) % 2 };
    const listed = (db: RocksDatabase) => listReadStateChannels(db, location, '2', { limit: 10 });
    await withRocksDatabase(async (db) => {
      const log = logOf(db);
      // Room for about one channel.
      const store = new CompactStore(db, 4);
      store.startPartition(0, true, { messages: 0n, acks: 0n });
      store.startPartition(1, true, { messages: 0n, acks: 0n });
      await applyChunk(store, 1, [
        sent({ channel: '7', id: '10', author: '1' }),
        acked({ channel: '7', user: '2', id: '10' }),
      ]);
      await flushAll(store);
      expect(await listed(db)).toEqual(['7']);
      // User 2 leaves channel 7: projected, its write (which deletes the listing key) not landed yet...
      const [leave] = log.append(1, [left({ channel: '7', user: '2', ms: 500 })]);
      if (leave === undefined) throw new Error('no run');
      await store.projectChunk(1, leave.events, leave.source);
      // ...when partition 0's chunks push channel 7 out: its snapshot must not go out with their writes.
      await applyChunk(store, 0, [
        sent({ channel: '8', id: '11', author: '1' }),
        sent({ channel: '8', id: '12', author: '1' }),
      ]);
      await applyChunk(store, 0, [sent({ channel: '8', id: '13', author: '1' })]);
      // A crash: partition 1's write never landed. Replayed from its stored offsets, the leave deletes the key.
      const restarted = new CompactStore(db, 1_000);
      await start(restarted, 1, false);
      const { operations } = await restarted.projectChunk(1, leave.events, leave.source);
      await db.write(operations);
      restarted.commit(1);
      expect(await listed(db)).toEqual([]);
    });
  });

  it('replaying, writes again the listing keys of the members a chunk changes, as earlier chunks may have left them', async () => {
    const user = users[0] ?? '';
    const location = { partitionCount: 1, partitionOf: () => 0 };
    await withRocksDatabase(async (db) => {
      const listed = () => listReadStateChannels(db, location, user, { limit: 10 });
      const log = new LogOffsets();
      const first = new CompactStore(db, 1_000_000, { writeBackAfter: { events: 1_000, ms: 1e9 } });
      first.startPartition(0, true, { messages: 0n, acks: 0n });
      const [message] = log.append(0, [sent({ channel: '7', id: '10', author: '1' })]);
      const [ack] = log.append(0, [acked({ channel: '7', user, id: '10' })]);
      if (message === undefined || ack === undefined) throw new Error('no run');
      for (const { events, source } of [message, ack]) {
        const { operations } = await first.projectChunk(0, events, source);
        await db.write(operations);
        first.commit(0);
      }
      // The ack's chunk wrote the pair's listing key; channel 7 is still dirty when the process dies.
      expect(await listed()).toEqual(['7']);
      const [leave] = log.append(0, [left({ channel: '7', user, ms: 500 })]);
      if (leave === undefined) throw new Error('no run');
      // Replayed from the stored offsets, the ack and the leave come in one chunk: the pair is never listed in
      // between, and its key must go all the same.
      const second = new CompactStore(db, 1_000_000);
      second.startPartition(0, false, await storedPosition(db, 0), log.position(0));
      for (const { events, source } of [
        message,
        {
          events: [...ack.events, ...leave.events],
          source: { ...leave.source, offsets: [...ack.source.offsets, ...leave.source.offsets] },
        },
      ]) {
        const { operations } = await second.projectChunk(0, events, source);
        await db.write(operations);
        second.commit(0);
      }
      expect(await listed()).toEqual([]);
    });
  });

  it('skips on a replay what a snapshot ahead of the stored offsets includes, through a second crash too', async () => {
    await withRocksDatabase(async (db) => {
      const at = (id: number, channel: string) => sent({ channel, id: String(100 + id), author: '1' });
      const log = new LogOffsets();
      // Offsets 0-4 of the messages topic: channel 8 changes first, channel 7 after it.
      const runs = [[at(0, '8')], [at(1, '7'), at(2, '7')], [at(3, '8')], [at(4, '8')]].map((events) => {
        const [run] = log.append(0, events);
        if (run === undefined) throw new Error('no run');
        return run;
      });
      const writeBackAfter = { events: 1_000, ms: 1e9 };
      // Room for about one channel: channel 7, used less recently, leaves after the third chunk.
      const first = new CompactStore(db, 5, { writeBackAfter });
      first.startPartition(0, true, { messages: 0n, acks: 0n });
      for (const { events, source } of runs) {
        const { operations } = await first.projectChunk(0, events, source);
        await db.write(operations);
        first.commit(0);
      }
      // Channel 7's snapshot (offsets below 5) went out with the last write; channel 8, dirty since 0, did not.
      expect(await storedPosition(db, 0)).toEqual({ messages: 0n, acks: 0n });
      const replay = async (store: CompactStore, from: bigint) => {
        const outcomes: string[] = [];
        for (const { events, source } of runs) {
          if (BigInt(source.offsets.at(-1) ?? '0') < from) continue;
          const projected = await store.projectChunk(0, events, source);
          outcomes.push(...[...projected.outcomes].flatMap(([outcome, n]) => Array<string>(n).fill(outcome)));
          await db.write(projected.operations);
          store.commit(0);
        }
        return outcomes;
      };
      // A crash. The acks topic goes first this time: an ack in channel 7 changes it before the messages topic
      // has replayed what its snapshot includes, and the snapshot written then must still include those.
      const second = new CompactStore(db, 1_000, { writeBackAfter });
      await start(second, 0, false);
      const [ack] = log.append(0, [acked({ channel: '7', user: '2', id: '101' })]);
      if (ack === undefined) throw new Error('no run');
      const { operations } = await second.projectChunk(0, ack.events, ack.source);
      await db.write(operations);
      second.commit(0);
      await flushAll(second);
      expect(await storedPosition(db, 0)).toEqual({ messages: 0n, acks: 1n });
      // A second crash: the messages topic replayed from 0 counts channel 8's events, and none of channel 7's.
      const third = new CompactStore(db, 1_000, { writeBackAfter });
      await start(third, 0, false);
      expect(await replay(third, 0n)).toEqual(['applied', 'applied', 'applied']);
      expect((await read(third, 0, '2', '7')).view.unread_count).toBe(1);
      expect((await read(third, 0, '2', '8')).view.unread_count).toBe(3);
    });
  });

  it('written back only when evicted, answers as the reference model, and holds the same on disk once flushed', async () => {
    const dir = await temporaryRocksDir();
    let round = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          chatHistory(SMALL_UNIVERSE, { maxMessages: 60, maxAcks: 40, everyone: true, membership: true }),
          topicPicks(100),
          fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 10 }),
          fc.integer({ min: 1, max: 40 }),
          async (history, picks, sizes, budget) => {
            const db = await openRocksDatabase(`${dir.path}/${round++}`);
            try {
              const events = interleave(history, picks);
              // Small budgets evict changed channels (written as they leave) and load them back, some before
              // the snapshot they left with was written.
              const store = new CompactStore(db, budget, { blockSize: 4 });
              store.startPartition(0, true, { messages: 0n, acks: 0n });
              const reference = createReferenceModel();
              // Listing keys are written with each chunk, the channels only when evicted or flushed.
              await applyComparing(store, reference, events, sizes, { listings: true });
              // In slices of a few records: a channel's snapshot and the deltas it replaces stay in one.
              for (const operations of store.flush(3)) await db.write(operations);
              // Nothing left but the offsets, where they stand.
              expect([...store.flush(3)].flat().map((operation) => operation.key[2])).toEqual([0, 0]);
              const restarted = new CompactStore(db, 1_000, { blockSize: 5 });
              await start(restarted, 0, false);
              expect(await answers(restarted, 0)).toEqual(referenceAnswers(reference));
              expect(await listings(restarted)).toEqual(referenceListings(reference));
            } finally {
              await db.close();
            }
          },
        ),
        { numRuns: 200 },
      );
    } finally {
      await dir.remove();
    }
  }, 120_000);

  it('lists a member who left in a delta (as earlier builds wrote them) and joined again after a restart', async () => {
    const user = users[0] ?? '';
    const location = { partitionCount: 1, partitionOf: () => 0 };
    const listed = (store: CompactStore) => listReadStateChannels(store.db, location, user, { limit: 10 });
    await withRocksDatabase(async (db) => {
      const first = new CompactStore(db, 1_000_000);
      first.startPartition(0, true, { messages: 0n, acks: 0n });
      // A snapshot with the user listed, then a delta with their leave, which deleted the listing key.
      const messages = Array.from({ length: 200 }, (_, i) =>
        sent({ channel: '7', id: String(BigInt(i + 1) << 22n), author: '1' }),
      );
      await applyChunk(first, 0, [...messages, acked({ channel: '7', user, id: String(1n << 22n) })]);
      await flushAll(first);
      const leave = left({ channel: '7', user, ms: 300 });
      const writer = new ByteWriter();
      encodeDeltaEvent(leave, writer);
      logOf(db).append(0, [leave]);
      const { messages: nextMessage, acks: nextAck } = logOf(db).position(0);
      await db.write([
        { type: 'put', key: channelStateKey(0, '7', 1), value: writer.take() },
        { type: 'del', key: readStateKey(0, user, '7') },
        storedOffsetWrite(0, 'messages', nextMessage),
        storedOffsetWrite(0, 'acks', nextAck),
      ]);
      expect(await listed(first)).toEqual([]);
      // A restart reads the snapshot and replays the delta; a later join must list the pair again.
      const second = new CompactStore(db, 1_000_000);
      await start(second, 0, false);
      await applyChunk(second, 0, [joined({ channel: '7', user, ms: 400 })]);
      expect(await listed(second)).toEqual(['7']);
    });
  });

  it('weighs the mentions that edits keep for messages not sent yet, as mentions of sent ones', async () => {
    await withRocksDatabase(async (db) => {
      const store = new CompactStore(db, 1_000_000);
      store.startPartition(0, true, { messages: 0n, acks: 0n });
      const named = Array.from({ length: 100 }, (_, i) => String(1_000 + i));
      // 50 edits of ids never sent, each naming the same 100 users: 5,000 member numbers held.
      const edits = Array.from({ length: 50 }, (_, i) =>
        edited({ channel: '7', id: String(10 + i), mentions: named }),
      );
      await applyChunk(store, 0, edits);
      expect(store.size).toBeGreaterThanOrEqual(5_000);
      // The messages come: the mentions move to them, and weigh the same.
      await applyChunk(
        store,
        0,
        edits.map((edit) => sent({ channel: '7', id: edit.message_id, author: '1' })),
      );
      expect(store.size).toBeGreaterThanOrEqual(5_000);
      expect(store.size).toBeLessThan(5_300);
    });
  });

  it('holds in memory what a reload from RocksDB gives, for a busy stream, and keeps to its budget', async () => {
    await withRocksDatabase(async (db) => {
      const stream = createDemoStream({ seed: 5, channels: 40, users: 200 });
      const store = new CompactStore(db, 2_000);
      store.startPartition(0, true, { messages: 0n, acks: 0n });
      const all: ChatEvent[] = [];
      for (let chunk = 0; chunk < 20; chunk++) {
        const events = Array.from({ length: 500 }, () => stream.next());
        all.push(...events);
        await applyChunk(store, 0, events);
        expect(store.size).toBeLessThanOrEqual(2_000);
      }
      expect(store.evictions).toBeGreaterThan(10);
      expect(store.loads).toBeGreaterThan(10);
      await flushAll(store);
      const channelIds = [...new Set(all.map((event) => event.channel_id))];
      const userIds = [
        ...new Set(
          all.flatMap((e) =>
            e.type === 'message_sent'
              ? [e.author_id, ...e.mention_user_ids]
              : e.type === 'message_acked'
                ? [e.user_id]
                : [],
          ),
        ),
      ].slice(0, 60);
      const reloaded = new CompactStore(db, 1_000_000);
      await start(reloaded, 0, false);
      const reference = createReferenceModel();
      for (const event of all) reference.apply(event);
      for (const channel of channelIds) {
        for (const user of userIds) {
          const memory = await read(store, 0, user, channel);
          const disk = await read(reloaded, 0, user, channel);
          expect(disk).toEqual(memory);
          expect(memory.view).toEqual(reference.readState(user, channel));
        }
      }
    });
  }, 120_000);

  it("parks busy channels' cold blocks and loads them back, answering as the reference model after every chunk", async () => {
    await withRocksDatabase(async (db) => {
      const stream = createDemoStream({ seed: 11, channels: 6, users: 40 });
      const spill = new RocksBlockSpill(createMemoryRocksDatabase());
      const reference = createReferenceModel();
      // Blocks of 4, parked once a few events passed without touching them, in channels of any size; the budget
      // evicts too, and channels dirty for 40 events are written back, their parked blocks read ahead.
      const store = new CompactStore(db, 1_500, {
        blockSize: 4,
        spill,
        parkAbove: 8,
        coldEvents: 10,
        writeBackAfter: { events: 40, ms: 1e9 },
      });
      store.startPartition(0, true, { messages: 0n, acks: 0n });
      const all: ChatEvent[] = [];
      for (let chunk = 0; chunk < 120; chunk++) {
        const events = Array.from({ length: 1 + (chunk % 7) * 6 }, () => stream.next());
        all.push(...events);
        await applyChunk(store, 0, events);
        for (const event of events) reference.apply(event);
        const channelIds = [...new Set(all.map((event) => event.channel_id))];
        const userIds = [...new Set(all.flatMap((e) => (e.type === 'message_acked' ? [e.user_id] : [])))];
        for (const channel of channelIds) {
          for (const user of userIds) {
            expect((await read(store, 0, user, channel)).view).toEqual(reference.readState(user, channel));
          }
        }
      }
      // What a spill must have done for this to say anything.
      expect(spill.parked).toBeGreaterThan(200);
      expect(spill.loads).toBeGreaterThan(200);
      expect(spill.readAheadBlocks).toBeGreaterThan(20);
      await flushAll(store);
      const reloaded = new CompactStore(db, 1_000_000);
      await start(reloaded, 0, false);
      for (const channel of new Set(all.map((event) => event.channel_id))) {
        for (const user of new Set(all.flatMap((e) => (e.type === 'message_acked' ? [e.user_id] : [])))) {
          expect((await read(reloaded, 0, user, channel)).view).toEqual(reference.readState(user, channel));
        }
      }
    });
  }, 120_000);

  it("reads a due snapshot's parked blocks ahead, so that writing it back reads none on the calling thread", async () => {
    // The same history written back without and with reading ahead: the same snapshot, and only the read-ahead
    // run leaves the spill untouched on this thread (`syncReads`: RocksDB reads made by read()).
    const written: Buffer[] = [];
    for (const readAhead of [false, true]) {
      await withRocksDatabase(async (db, path) => {
        const spill = await RocksBlockSpill.open(`${path}-spill`);
        try {
          const store = new CompactStore(db, 1_000_000, {
            blockSize: 4,
            spill,
            parkAbove: 8,
            coldEvents: 0,
            writeBackAfter: { events: 1_000_000, ms: 60_000 },
          });
          store.startPartition(0, true, { messages: 0n, acks: 0n });
          const message = (id: number) =>
            sent({ channel: '7', id: String(1_000 + id), author: String(1 + (id % 3)) });
          // 200 messages in blocks of 4; the next chunk parks the blocks it did not touch.
          await applyChunk(
            store,
            0,
            Array.from({ length: 200 }, (_, i) => message(i)),
          );
          await applyChunk(store, 0, [message(200)]);
          expect(spill.parked).toBeGreaterThan(40);
          const now = performance.now() + 60_001;
          const before = spill.syncReads;
          if (readAhead) await store.readAheadDue(0, now);
          const due = store.writeBackDue(0, now);
          const snapshot = due.find((op) => op.type === 'put' && op.key.equals(channelStateKey(0, '7', 0)));
          if (snapshot?.type !== 'put') throw new Error('channel 7 was not written back whole');
          written.push(snapshot.value);
          if (readAhead) expect(spill.syncReads).toBe(before);
          else expect(spill.syncReads - before).toBeGreaterThan(40);
          await db.write(due);
          const restarted = new CompactStore(db, 1_000_000);
          await start(restarted, 0, false);
          expect((await read(restarted, 0, '1', '7')).view.unread_count).toBe(134);
        } finally {
          await spill.close();
          await rm(`${path}-spill`, { recursive: true, force: true });
        }
      });
    }
    expect(written[1]?.equals(written[0] ?? Buffer.alloc(0))).toBe(true);
  });

  it('passes over a mostly parked channel while others can leave, so a busy one is not read back whole', async () => {
    await withRocksDatabase(async (db) => {
      const spill = new RocksBlockSpill(createMemoryRocksDatabase());
      // Ids in memory: 40 messages weigh 42 until parked (then 6: the last block, a member, the channel).
      const store = new CompactStore(db, 12, { blockSize: 4, spill, parkAbove: 4 });
      store.startPartition(0, true, { messages: 0n, acks: 0n });
      const messages = (channel: string, count: number) =>
        Array.from({ length: count }, (_, i) => sent({ channel, id: String(1_000 + i), author: '1' }));
      await applyChunk(store, 0, messages('1', 40));
      // Over the budget: the big one parks and stays (the newest again), the next leaves.
      await applyChunk(store, 0, messages('2', 3));
      await applyChunk(store, 0, messages('3', 3));
      // Now the big one is the oldest, with nothing left to park and more parked than resident: the next one
      // leaves instead. (A lookup counts as a use, so none comes before this.)
      await applyChunk(store, 0, messages('4', 3));
      expect(spill.parked).toBeGreaterThan(0);
      expect(store.size).toBeLessThanOrEqual(12);
      expect(['1', '2', '3', '4'].map((channel) => store.lookup(0, channel).known)).toEqual([
        true,
        false,
        false,
        true,
      ]);
      const loads = spill.loads;
      expect((await read(store, 0, '2', '1')).view.unread_count).toBe(40);
      expect(spill.loads).toBeGreaterThan(loads);
    });
  });

  it.each([
    ['whole', {}],
    // Resident with blocks parked (a budget below even what is left then): the one the lookup holds is evicted by
    // its own load, and still read.
    ['with blocks parked', { blockSize: 4, parkAbove: 1, coldEvents: 0 }],
  ])(
    'answers a lookup of channels that together outgrow the budget, each load evicting the other (%s)',
    async (_, parking) => {
      await withRocksDatabase(async (db) => {
        const mirror = createHotTierMirror(createHotTier({ bytesBudget: 2 ** 20 }));
        const spill =
          'parkAbove' in parking ? { spill: new RocksBlockSpill(createMemoryRocksDatabase()) } : {};
        const store = new CompactStore(db, 'parkAbove' in parking ? 5 : 30, {
          heldInHotTier: mirror.held,
          ...parking,
          ...spill,
        });
        store.startPartition(0, true, { messages: 0n, acks: 0n });
        // Two channels of 20 messages each, over a budget of 30 ids.
        for (const channel of ['10', '20']) {
          for (let write = 0; write < 4; write++) {
            const events = Array.from({ length: 5 }, (_, i) =>
              sent({ channel, id: String(100 + write * 10 + i), author: '1' }),
            );
            const [run] = logOf(db).append(0, events);
            if (run === undefined) throw new Error('no run');
            const { operations, hotChanges } = await store.projectChunk(0, run.events, run.source, () => {
              mirror.beforeWrite(0);
            });
            await db.write(operations);
            store.commit(0);
            mirror.afterWrite(0, hotChanges);
          }
        }
        expect(store.evictions).toBeGreaterThan(0);
        const location = { partitionCount: 1, partitionOf: () => 0 };
        const evictions = store.evictions;
        const views = await queryReadStates(db, store, location, '2', ['10', '20', '10'], mirror);
        expect(views.map((view) => view.unread_count)).toEqual([20, 20, 20]);
        // Each was read once: an answer taken from the copies read, not after loading until both are resident.
        expect(store.loads).toBeLessThanOrEqual(2);
        expect(store.evictions).toBeGreaterThan(evictions);
        if (spill.spill !== undefined) {
          expect(spill.spill.parked).toBeGreaterThan(0);
          // Held, evicted by the next load, and read after the spill's next write (another partition's commit may
          // come between a lookup's loads): its parked blocks are still there.
          const held = store.lookup(0, '10');
          const other = store.lookup(0, '20');
          const channel = held.known ? held.channel : await store.load(db, 0, '10');
          if (!other.known) await store.load(db, 0, '20');
          expect(store.lookup(0, '10').known).toBe(false);
          spill.spill.flush();
          expect(pairRead(channel, '2', '10').view.unread_count).toBe(20);
        }
      });
    },
  );

  it('refuses a chunk whose partition was forgotten (moved away) while its channels loaded, and applies none of it', async () => {
    await withRocksDatabase(async (db) => {
      const store = new CompactStore(db, 1_000_000);
      store.startPartition(0, true, { messages: 0n, acks: 0n });
      await applyChunk(store, 0, [sent({ channel: '7', id: '10', author: '1' })]);
      await flushAll(store);
      // A restart: channel 7 is on disk, not resident, so the next chunk must read it first.
      const restarted = new CompactStore(db, 1_000_000);
      await start(restarted, 0, false);
      const [run] = logOf(db).append(0, [sent({ channel: '7', id: '11', author: '2' })]);
      if (run === undefined) throw new Error('no run');
      const projecting = restarted.projectChunk(0, run.events, run.source);
      restarted.forget(0);
      await expect(projecting).rejects.toBeInstanceOf(PartitionForgotten);
      // What it loaded was not installed: the partition holds nothing resident, as after any forget.
      expect(restarted.knows(0)).toBe(false);
      expect(restarted.size).toBe(0);
    });
  });

  it("writes the snapshots of channels evicted with their partition's next write, or when it is due", async () => {
    await withRocksDatabase(async (db) => {
      // Room for about one channel: each chunk evicts the other partition's channel.
      const store = new CompactStore(db, 3);
      store.startPartition(0, true, { messages: 0n, acks: 0n });
      store.startPartition(1, true, { messages: 0n, acks: 0n });
      await applyChunk(store, 0, [sent({ channel: '7', id: '10', author: '1' })]);
      // Its commit evicts channel 7, dirty: its snapshot waits for partition 0's next write.
      await applyChunk(store, 1, [sent({ channel: '8', id: '11', author: '1' })]);
      await applyChunk(store, 1, [sent({ channel: '8', id: '12', author: '1' })]);
      const unreadAfterRestart = async () => {
        const restarted = new CompactStore(db, 1_000);
        restarted.startPartition(0, false, logOf(db).position(0));
        return (await read(restarted, 0, '2', '7')).view.unread_count;
      };
      expect(await unreadAfterRestart()).toBe(0);
      // No chunk of partition 0 comes: the projector's timer writes it.
      await db.write(store.writeBackDue(0, performance.now()));
      expect(await unreadAfterRestart()).toBe(1);
      expect(await storedPosition(db, 0)).toEqual({ messages: 1n, acks: 0n });
    });
  });

  it('flushes a channel evicted while a slice of the flush was written, from the snapshot it left with', async () => {
    await withRocksDatabase(async (db) => {
      const message = (channel: string, id: string) => sent({ channel, id, author: '1' });
      const store = new CompactStore(db, 7);
      store.startPartition(0, true, { messages: 0n, acks: 0n });
      await applyChunk(store, 0, [message('9', '10')]);
      await flushAll(store);
      await applyChunk(store, 0, [message('7', '11')]);
      await applyChunk(store, 0, [message('8', '12')]);
      // Channel 7 was used last: 8 is the one a load pushes out.
      store.lookup(0, '7');
      const slices = store.flush(1);
      const first = slices.next();
      if (first.done === true) throw new Error('nothing to flush');
      await db.write(first.value);
      // While that slice was written, a reader loads channel 9: the dirty channel 8 leaves.
      const evictions = store.evictions;
      await store.load(db, 0, '9');
      expect(store.evictions).toBeGreaterThan(evictions);
      for (let slice = slices.next(); slice.done !== true; slice = slices.next()) await db.write(slice.value);
      const restarted = new CompactStore(db, 1_000);
      await start(restarted, 0, false);
      for (const channel of ['7', '8', '9']) {
        expect((await read(restarted, 0, '2', channel)).view.unread_count).toBe(1);
      }
    });
  });

  it('refuses to flush once a partition was forgotten with changes not written', async () => {
    await withRocksDatabase(async (db) => {
      const store = new CompactStore(db, 1_000_000);
      store.startPartition(0, true, { messages: 0n, acks: 0n });
      store.startPartition(1, true, { messages: 0n, acks: 0n });
      await applyChunk(store, 0, [sent({ channel: '7', id: '10', author: '1' })]);
      store.forget(1); // nothing changed there: nothing lost
      expect([...store.flush(10)].flat().length).toBeGreaterThan(0);
      await applyChunk(store, 0, [sent({ channel: '7', id: '12', author: '1' })]);
      store.forget(0);
      expect(() => [...store.flush(10)]).toThrow(
        /partition 0 was forgotten with changes not yet written back/,
      );
    });
  });
});
