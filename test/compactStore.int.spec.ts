/**
 * The compact store against the reference model, on real RocksDB: random histories applied in chunks of random
 * sizes through a resident budget small enough that channels are evicted and reloaded all the time, every answer
 * compared after every chunk; then the state reloaded from disk by a new store (a restart) compared with what the
 * first one holds in memory, and the partition continued from there.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../src/contract/events.ts';
import { CompactStore, pairRead, PartitionForgotten } from '../src/store/compactStore.ts';
import { createHotTier } from '../src/store/hotTier.ts';
import { createHotTierMirror } from '../src/store/hotTierMirror.ts';
import { listReadStateChannels, queryReadStates } from '../src/store/queryReadStates.ts';
import { acked, edited, joined, left, sent } from './support/eventBuilders.ts';
import { openRocksDatabase } from '../src/store/rocksDatabase.ts';
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

async function applyChunk(store: CompactStore, partition: number, events: ChatEvent[]) {
  const { operations } = await store.projectChunk(partition, events);
  await store.db.write(operations);
  store.commit(partition);
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
  it('answers as the reference model through evictions, reloads and a restart', async () => {
    const dir = await temporaryRocksDir();
    let round = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          chatHistory(SMALL_UNIVERSE, { maxMessages: 60, maxAcks: 40, everyone: true, membership: true }),
          topicPicks(100),
          fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 10 }),
          fc.boolean(),
          async (history, picks, sizes, startEmpty) => {
            const db = await openRocksDatabase(`${dir.path}/${round++}`);
            try {
              const events = interleave(history, picks);
              // A budget of a few ids: nearly every chunk evicts and reloads channels.
              const store = new CompactStore(db, 8, { blockSize: 4 });
              store.startPartition(0, startEmpty);
              const reference = createReferenceModel();
              await applyComparing(store, reference, events, sizes, { listings: true });
              // A restart: nothing resident, the partition not known whole.
              const restarted = new CompactStore(db, 1_000, { blockSize: 5 });
              restarted.startPartition(0, false);
              expect(await answers(restarted, 0)).toEqual(referenceAnswers(reference));
              // And it goes on from what it loaded.
              const more = interleave(history, picks).reverse();
              await applyChunk(restarted, 0, more);
              for (const event of more) reference.apply(event);
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

  it('written back, answers as the reference model, and holds the same on disk once flushed', async () => {
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
              const store = new CompactStore(db, budget, { blockSize: 4, writeBack: true });
              store.startPartition(0, true);
              const reference = createReferenceModel();
              // Written back, RocksDB lags memory until the flush: listings (read from RocksDB) are checked after.
              await applyComparing(store, reference, events, sizes, { listings: false });
              // In slices of a few records: a channel's snapshot and the deltas it replaces stay in one.
              for (const operations of store.flush(3)) await db.write(operations);
              expect([...store.flush(3)]).toEqual([]);
              const restarted = new CompactStore(db, 1_000, { blockSize: 5 });
              restarted.startPartition(0, false);
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

  it('lists a member who left in a delta and joined again after a restart', async () => {
    const user = users[0] ?? '';
    const location = { partitionCount: 1, partitionOf: () => 0 };
    const listed = (store: CompactStore) => listReadStateChannels(store.db, location, user, { limit: 10 });
    await withRocksDatabase(async (db) => {
      const first = new CompactStore(db, 1_000_000);
      first.startPartition(0, true);
      // A snapshot with the user listed (large enough that what follows is written as a delta), then a delta
      // with their leave, which deletes the listing key.
      const messages = Array.from({ length: 200 }, (_, i) =>
        sent({ channel: '7', id: String(BigInt(i + 1) << 22n), author: '1' }),
      );
      await applyChunk(first, 0, [...messages, acked({ channel: '7', user, id: String(1n << 22n) })]);
      await applyChunk(first, 0, [left({ channel: '7', user, ms: 300 })]);
      expect(await listed(first)).toEqual([]);
      // A restart reads the snapshot and replays the delta; a later join must list the pair again.
      const second = new CompactStore(db, 1_000_000);
      second.startPartition(0, false);
      await applyChunk(second, 0, [joined({ channel: '7', user, ms: 400 })]);
      expect(await listed(second)).toEqual(['7']);
    });
  });

  it('weighs the mentions that edits keep for messages not sent yet, as mentions of sent ones', async () => {
    await withRocksDatabase(async (db) => {
      const store = new CompactStore(db, 1_000_000);
      store.startPartition(0, true);
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
      store.startPartition(0, true);
      const all: ChatEvent[] = [];
      for (let chunk = 0; chunk < 20; chunk++) {
        const events = Array.from({ length: 500 }, () => stream.next());
        all.push(...events);
        await applyChunk(store, 0, events);
        expect(store.size).toBeLessThanOrEqual(2_000);
      }
      expect(store.evictions).toBeGreaterThan(10);
      expect(store.loads).toBeGreaterThan(10);
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
      reloaded.startPartition(0, false);
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

  it('answers a lookup of channels that together outgrow the budget, each load evicting the other', async () => {
    await withRocksDatabase(async (db) => {
      const mirror = createHotTierMirror(createHotTier({ bytesBudget: 2 ** 20 }));
      const store = new CompactStore(db, 30, { heldInHotTier: mirror.held });
      store.startPartition(0, true);
      // Two channels of 20 messages each (and their deltas on disk), over a budget of 30 ids.
      for (const channel of ['10', '20']) {
        for (let write = 0; write < 4; write++) {
          const events = Array.from({ length: 5 }, (_, i) =>
            sent({ channel, id: String(100 + write * 10 + i), author: '1' }),
          );
          const { operations, hotChanges } = await store.projectChunk(0, events, () => {
            mirror.beforeWrite(0);
          });
          await db.write(operations);
          store.commit(0);
          mirror.afterWrite(0, hotChanges);
        }
      }
      expect(store.evictions).toBeGreaterThan(0);
      const location = { partitionCount: 1, partitionOf: () => 0 };
      const views = await queryReadStates(db, store, location, '2', ['10', '20', '10'], mirror);
      expect(views.map((view) => view.unread_count)).toEqual([20, 20, 20]);
      // Each was read once: an answer taken from the copies read, not after loading until both are resident.
      expect(store.loads).toBeLessThanOrEqual(2);
    });
  });

  it('refuses a chunk whose partition was forgotten (moved away) while its channels loaded, and applies none of it', async () => {
    await withRocksDatabase(async (db) => {
      const store = new CompactStore(db, 1_000_000);
      store.startPartition(0, true);
      await applyChunk(store, 0, [sent({ channel: '7', id: '10', author: '1' })]);
      // A restart: channel 7 is on disk, not resident, so the next chunk must read it first.
      const restarted = new CompactStore(db, 1_000_000);
      restarted.startPartition(0, false);
      const projecting = restarted.projectChunk(0, [sent({ channel: '7', id: '11', author: '2' })]);
      restarted.forget(0);
      await expect(projecting).rejects.toBeInstanceOf(PartitionForgotten);
      // What it loaded was not installed: the partition holds nothing resident, as after any forget.
      expect(restarted.knows(0)).toBe(false);
      expect(restarted.size).toBe(0);
    });
  });

  it('written back, writes the snapshots of channels evicted from any partition with the next write', async () => {
    await withRocksDatabase(async (db) => {
      // Room for about one channel: each chunk evicts the other partition's channel.
      const store = new CompactStore(db, 3, { writeBack: true });
      store.startPartition(0, true);
      store.startPartition(1, true);
      await applyChunk(store, 0, [sent({ channel: '7', id: '10', author: '1' })]);
      // Its commit evicts channel 7, dirty: its snapshot waits for a write.
      await applyChunk(store, 1, [sent({ channel: '8', id: '11', author: '1' })]);
      await applyChunk(store, 1, [sent({ channel: '8', id: '12', author: '1' })]);
      // Partition 0 is not written again, but the snapshot its channel left with went with partition 1's write.
      const restarted = new CompactStore(db, 1_000);
      restarted.startPartition(0, false);
      expect((await read(restarted, 0, '2', '7')).view.unread_count).toBe(1);
    });
  });

  it('written back, refuses to flush once a partition was forgotten with changes not written', async () => {
    await withRocksDatabase(async (db) => {
      const store = new CompactStore(db, 1_000_000, { writeBack: true });
      store.startPartition(0, true);
      store.startPartition(1, true);
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
