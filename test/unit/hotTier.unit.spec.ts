import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src/contract/events.ts';
import type { Snowflake } from '../../src/contract/snowflake.ts';
import { applyEvent } from '../../src/projection/applyEvent.ts';
import { membersAbove, ownIndex } from '../../src/projection/memberIndexes.ts';
import { createMemoryStore, type MemoryStore } from '../../src/projection/memoryStore.ts';
import { readStateOf } from '../../src/projection/readStateOf.ts';
import type { ProjectionStore } from '../../src/projection/store.ts';
import {
  createHotTier,
  type FirstUnreadAt,
  type HotTier,
  type HotTierOptions,
} from '../../src/store/hotTier.ts';
import { createHotTierMirror, type HotTierMirror } from '../../src/store/hotTierMirror.ts';
import { chatHistory, interleave, SMALL_UNIVERSE, topicPicks } from '../support/chatHistory.ts';
import { acked, deleted, sent } from '../support/eventBuilders.ts';

/**
 * The memory store, with every read-state, channel and OWN-size write also put into the hot tier, as the
 * projector's mirror does (HotWrites). A read state put during an event is put again once the event is applied
 * (`applyMirrored`), with its first unread message as of then, as the compact store records it after a chunk.
 */
function mirrored(store: MemoryStore, hot: HotTier): MirroredStore {
  const put: [Snowflake, Snowflake][] = [];
  return {
    ...store,
    putChannel: (channelId, record) => {
      store.putChannel(channelId, record);
      hot.putChannel(channelId, record);
    },
    putReadState: (userId, channelId, record) => {
      store.putReadState(userId, channelId, record);
      hot.putReadState(userId, channelId, record);
      put.push([userId, channelId]);
    },
    settle: () => {
      for (const [userId, channelId] of put.splice(0)) {
        const record = store.getReadState(userId, channelId);
        if (record !== undefined)
          hot.putReadState(userId, channelId, record, firstUnreadAt(store, userId, channelId));
      }
    },
    putIndexHeader: (index, header) => {
      store.putIndexHeader(index, header);
      if (index.kind === 'own') hot.updateNoReadState(index.user_id, index.channel_id, header.size);
    },
    deleteIndexHeader: (index) => {
      store.deleteIndexHeader(index);
      if (index.kind === 'own') hot.updateNoReadState(index.user_id, index.channel_id, 0);
    },
  };
}

type MirroredStore = ProjectionStore & { settle(): void };

function applyMirrored(projection: MirroredStore, event: ChatEvent): void {
  applyEvent(projection, event);
  projection.settle();
}

/** The pair's first unread message as the engine reads it, in the channel's epoch now. */
function firstUnreadAt(store: MemoryStore, userId: Snowflake, channelId: Snowflake): FirstUnreadAt {
  return {
    epoch: store.getChannel(channelId)?.epoch ?? 0,
    id: readStateOf(store, userId, channelId).first_unread_message_id,
  };
}

/** What a read through RocksDB would put into the tier for the pair, by the mirror's own fill. */
function fillFrom(store: MemoryStore, mirror: HotTierMirror, userId: Snowflake, channelId: Snowflake): void {
  const channel = store.getChannel(channelId);
  const readState = store.getReadState(userId, channelId);
  const ownCount = membersAbove(store, ownIndex(channelId, userId), null);
  mirror.fill(
    0,
    mirror.version(0),
    userId,
    channelId,
    readState === undefined
      ? { channel, readState, ownCount, firstUnread: firstUnreadAt(store, userId, channelId) }
      : { channel, readState, firstUnread: firstUnreadAt(store, userId, channelId) },
  );
}

/**
 * Adds `offset` to every id. Order is kept, so the projection's answers are the same up to the shift, while the
 * ids cross the word boundary (2^32), leave exact doubles (2^53) or sit at the top of the range.
 */
function shiftIds(event: ChatEvent, offset: bigint): ChatEvent {
  const shift = (id: Snowflake) => (BigInt(id) + offset).toString();
  switch (event.type) {
    case 'message_sent':
      return {
        ...event,
        channel_id: shift(event.channel_id),
        message_id: shift(event.message_id),
        author_id: shift(event.author_id),
        mention_user_ids: event.mention_user_ids.map(shift),
      };
    case 'message_edited':
      return {
        ...event,
        channel_id: shift(event.channel_id),
        message_id: shift(event.message_id),
        mention_user_ids: event.mention_user_ids.map(shift),
      };
    case 'message_deleted':
      return { ...event, channel_id: shift(event.channel_id), message_id: shift(event.message_id) };
    case 'message_acked':
      return {
        ...event,
        channel_id: shift(event.channel_id),
        user_id: shift(event.user_id),
        message_id: shift(event.message_id),
      };
    case 'member_joined':
    case 'member_left':
      return { ...event, channel_id: shift(event.channel_id), user_id: shift(event.user_id) };
  }
}

const OFFSETS = [0n, 2n ** 32n - 20n, 2n ** 53n - 20n, 2n ** 64n - 2n ** 10n];

/** Tiny budgets make both tables evict all the time; 400 bytes leaves the channels 2 slots, 1 entry. */
const BUDGETS: readonly HotTierOptions[] = [
  { bytesBudget: 400, readStateShare: 0.6 },
  { bytesBudget: 1000, readStateShare: 0.5 },
  { bytesBudget: 2 ** 20 },
];

describe('the hot tier never answers anything RocksDB would not', () => {
  it('equals readStateOf whenever it answers, over random histories', () => {
    // Per budget: reads answered, of them of pairs without a read state, reads of a pair with one, evictions.
    const tally = BUDGETS.map(() => ({ answered: 0, negative: 0, withReadState: 0, evictions: 0 }));
    fc.assert(
      fc.property(
        chatHistory(SMALL_UNIVERSE, { maxMessages: 40, maxAcks: 30 }),
        topicPicks(),
        fc.constantFrom(...OFFSETS),
        fc.constantFrom(...BUDGETS),
        fc.boolean(),
        fc.nat(3),
        (history, picks, offset, budget, weakHash, fillEvery) => {
          const counts = tally[BUDGETS.indexOf(budget)] ?? {
            answered: 0,
            negative: 0,
            withReadState: 0,
            evictions: 0,
          };
          const store = createMemoryStore({ fanout: 4 });
          const hot = createHotTier({ ...budget, ...(weakHash ? { hash: () => 0 } : {}) });
          const mirror = createHotTierMirror(hot);
          const projection = mirrored(store, hot);
          let reads = 0;
          const shift = (id: Snowflake) => (BigInt(id) + offset).toString();
          const users = SMALL_UNIVERSE.users.map(shift);
          const channels = SMALL_UNIVERSE.channels.map(shift);
          for (const event of interleave(history, picks)) {
            applyMirrored(projection, shiftIds(event, offset));
            for (const user of users) {
              // A request's batch answers what each lookup alone answers (channels twice: a repeat is served).
              const asked = [...channels, ...channels].reverse();
              expect(hot.readViews(user, asked)).toEqual(asked.map((channel) => hot.readView(user, channel)));
            }
            for (const user of users) {
              for (const channel of channels) {
                const view = hot.readView(user, channel);
                if (view !== undefined) {
                  expect(view).toEqual(readStateOf(store, user, channel));
                  counts.answered++;
                  if (!view.has_read_state) counts.negative++;
                } else if (fillEvery === 0 || reads % fillEvery === 0) {
                  // Declined: RocksDB answers, and fills the tier (also with "no read state here").
                  fillFrom(store, mirror, user, channel);
                }
                reads++;
                if (store.getReadState(user, channel) !== undefined) counts.withReadState++;
              }
            }
          }
          const { readStates, channels: channelTable } = hot.stats();
          counts.evictions += readStates.evictions + channelTable.evictions;
        },
      ),
      { numRuns: 300 },
    );
    // Not vacuous: the small budgets evict and still answer; with room, random histories (which delete and send
    // late often) still have most reads of read states answered, and pairs without one are answered too.
    const [tiny, small, roomy] = tally;
    expect(tiny?.evictions).toBeGreaterThan(100);
    expect(small?.evictions).toBeGreaterThan(100);
    expect(tiny?.answered).toBeGreaterThan(100);
    expect(tiny?.negative).toBeGreaterThan(10);
    expect(roomy?.evictions).toBe(0);
    expect(roomy?.answered).toBeGreaterThan((roomy?.withReadState ?? 0) / 2);
    expect(roomy?.negative).toBeGreaterThan(1_000);
  });

  it('walks through the worked example of docs/semantics.md, answering where the records suffice', () => {
    const C = '10';
    const [ALICE, BOB, CAROL] = ['1', '2', '3'];
    const steps: [ChatEvent, boolean][] = [
      [sent({ channel: C, id: '8', author: ALICE }), false], // no read state: the OWN header is needed
      [sent({ channel: C, id: '9', author: ALICE, mentions: [BOB, BOB] }), true], // pointer null
      [acked({ channel: C, user: BOB, id: '9' }), true], // pointer at the head
      [sent({ channel: C, id: '10', author: BOB }), true], // appends since the snapshot
      [sent({ channel: C, id: '11', author: CAROL, mentions: [BOB] }), true],
      [acked({ channel: C, user: BOB, id: '8' }), true],
      [acked({ channel: C, user: BOB, id: '8', manual: true }), true], // a new snapshot, at 8
      [deleted({ channel: C, id: '11' }), false], // the epoch moved: the snapshot is stale
      [deleted({ channel: C, id: '12' }), false],
      [sent({ channel: C, id: '12', author: ALICE }), false],
      [sent({ channel: C, id: '9', author: CAROL }), false],
      [sent({ channel: C, id: '7', author: CAROL, mentions: [BOB] }), false],
      [acked({ channel: C, user: BOB, id: '13' }), true], // pointer above the head
      [sent({ channel: C, id: '14', author: ALICE }), false], // no snapshot was taken above the head
    ];
    const store = createMemoryStore({ fanout: 4 });
    const hot = createHotTier({ bytesBudget: 2 ** 16 });
    const projection = mirrored(store, hot);
    const answers = steps.map(([event]) => {
      applyMirrored(projection, event);
      const view = hot.readView(BOB, C);
      if (view !== undefined) expect(view).toEqual(readStateOf(store, BOB, C));
      return view !== undefined;
    });
    expect(answers).toEqual(steps.map(([, answers]) => answers));
  });

  it('answers every read of a read state while messages are appended and acked at the head, once it knows the first unread', () => {
    // A small deterministic generator: the scenario is fixed, its shape is what matters.
    let seed = 12345;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const channels = ['1300000000000000001', '1300000000000000002', '1300000000000000003'];
    const users = ['900000000000000001', '900000000000000002', '900000000000000003', '900000000000000004'];
    const store = createMemoryStore();
    const hot = createHotTier({ bytesBudget: 2 ** 20 });
    const mirror = createHotTierMirror(hot);
    const projection = mirrored(store, hot);
    let id = 1_400_000_000_000_000_000n;
    let reads = 0;
    let filled = 0;
    for (let step = 0; step < 600; step++) {
      const channel = channels[next(channels.length)] ?? '';
      const user = users[next(users.length)] ?? '';
      if (next(3) === 0) {
        const newest = store.getChannel(channel)?.live?.max;
        if (newest !== undefined) applyMirrored(projection, acked({ channel, user, id: newest }));
      } else {
        id += BigInt(1 + next(1000));
        const mentions = next(4) === 0 ? [users[next(users.length)] ?? ''] : [];
        applyMirrored(projection, sent({ channel, id: id.toString(), author: user, mentions }));
      }
      for (const reader of users) {
        if (store.getReadState(reader, channel) === undefined) continue;
        reads++;
        const expected = readStateOf(store, reader, channel);
        let view = hot.readView(reader, channel);
        if (view === undefined) {
          // Only a first unread message that came after the slot was written (the reader was caught up then)
          // is left to the engine, whose read fills it in.
          expect(expected.unread_count).toBeGreaterThan(0);
          fillFrom(store, mirror, reader, channel);
          filled++;
          view = hot.readView(reader, channel);
        }
        expect(view).toEqual(expected);
      }
    }
    expect(reads).toBeGreaterThan(1000);
    expect(hot.stats()).toMatchObject({ answered: reads, declined: filled });
    expect(filled).toBeLessThan(reads / 4);
  });

  it('declines after a deletion until the pointer moves, then answers again', () => {
    const store = createMemoryStore();
    const hot = createHotTier({ bytesBudget: 2 ** 16 });
    const projection = mirrored(store, hot);
    for (const event of [
      sent({ channel: '5', id: '100', author: '1' }),
      acked({ channel: '5', user: '2', id: '100' }),
      sent({ channel: '5', id: '101', author: '1' }),
      sent({ channel: '5', id: '102', author: '1' }),
    ]) {
      applyMirrored(projection, event);
    }
    // Caught up when its slot was written: the first unread came later, and a read through the engine tells it.
    expect(hot.readView('2', '5')).toBeUndefined();
    fillFrom(store, createHotTierMirror(hot), '2', '5');
    expect(hot.readView('2', '5')).toMatchObject({ unread_count: 2, first_unread_message_id: '101' });
    applyMirrored(projection, deleted({ channel: '5', id: '101' }));
    expect(hot.readView('2', '5')).toBeUndefined();
    expect(readStateOf(store, '2', '5')).toMatchObject({ unread_count: 1 });
    // An ack that leaves the pointer where it is writes nothing: the snapshot stays stale.
    applyMirrored(projection, acked({ channel: '5', user: '2', id: '100' }));
    expect(hot.readView('2', '5')).toBeUndefined();
    applyMirrored(projection, acked({ channel: '5', user: '2', id: '101', manual: true }));
    expect(hot.readView('2', '5')).toEqual(readStateOf(store, '2', '5'));
    expect(hot.readView('2', '5')).toMatchObject({ last_acked_message_id: '101', unread_count: 1 });
  });
});

describe('HotTier', () => {
  const record = {
    last_acked_message_id: '5',
    own_above: 1,
    mentions_above: 1,
    live_above: { epoch: 3, live_count: 10, count: 4 },
  };
  const channel = {
    epoch: 3,
    live: { size: 12, max: '20', tail: ['20'], root: null, height: 0, next_node: 0 },
  };
  /** The first unread message above the pointer, in the channel's epoch. */
  const first = { epoch: 3, id: '15' };

  it('answers from both entries only', () => {
    const hot = createHotTier({ bytesBudget: 2 ** 16 });
    hot.putReadState('1', '2', record, first);
    expect(hot.readView('1', '2')).toBeUndefined();
    hot.putChannel('2', channel);
    // live above = 4 + 12 − 10 = 6, minus 1 own.
    expect(hot.readView('1', '2')).toEqual({
      user_id: '1',
      channel_id: '2',
      has_read_state: true,
      last_acked_message_id: '5',
      last_message_id: '20',
      unread_count: 5,
      mention_count: 1,
      first_unread_message_id: '15',
    });
    hot.deleteReadState('1', '2');
    expect(hot.readView('1', '2')).toBeUndefined();
    hot.putReadState('1', '2', record);
    hot.deleteChannel('2');
    expect(hot.readView('1', '2')).toBeUndefined();
  });

  it('holds that a pair has no read state, until a read state replaces it', () => {
    const hot = createHotTier({ bytesBudget: 2 ** 16 });
    hot.putNoReadState('1', '2', 3, { epoch: 3, id: '9' });
    expect(hot.readView('1', '2')).toBeUndefined();
    hot.putChannel('2', channel);
    // All 12 live messages are above a missing pointer; 3 of them are the user's own.
    const none = {
      user_id: '1',
      channel_id: '2',
      has_read_state: false,
      last_acked_message_id: null,
      last_message_id: '20',
      unread_count: 9,
      mention_count: 0,
      first_unread_message_id: '9',
    };
    expect(hot.readView('1', '2')).toEqual(none);
    // The user wrote another message (the channel moved too), then deleted all of theirs.
    hot.putChannel('2', { ...channel, live: { ...channel.live, size: 13, max: '21' } });
    hot.updateNoReadState('1', '2', 4);
    expect(hot.readView('1', '2')).toMatchObject({ has_read_state: false, unread_count: 9 });
    hot.putChannel('2', { ...channel, live: { ...channel.live, size: 9, max: '21' } });
    hot.updateNoReadState('1', '2', 0);
    expect(hot.readView('1', '2')).toMatchObject({ has_read_state: false, unread_count: 9 });
    // An OWN size that does not fit a word drops the entry rather than keep a wrong one.
    hot.updateNoReadState('1', '2', 2 ** 32);
    expect(hot.readView('1', '2')).toBeUndefined();
    hot.putNoReadState('1', '2', 2 ** 32);
    expect(hot.readView('1', '2')).toBeUndefined();

    hot.putNoReadState('1', '2', 0);
    hot.putChannel('2', channel);
    hot.putReadState('1', '2', record, first);
    expect(hot.readView('1', '2')).toMatchObject({ has_read_state: true, last_acked_message_id: '5' });
    // A read state is never touched by OWN's size: its own_above already counts what it must.
    hot.updateNoReadState('1', '2', 7);
    expect(hot.readView('1', '2')).toMatchObject({ has_read_state: true, unread_count: 5 });
    // Nor is a pair the tier does not hold: it stays missing.
    hot.updateNoReadState('3', '2', 7);
    expect(hot.readView('3', '2')).toBeUndefined();
    expect(hot.stats().readStates.size).toBe(1);
  });

  it('drops an entry whose numbers do not fit a word, instead of keeping the older one', () => {
    const hot = createHotTier({ bytesBudget: 2 ** 16 });
    hot.putReadState('1', '2', record, first);
    hot.putChannel('2', channel);
    expect(hot.readView('1', '2')).toBeDefined();
    hot.putChannel('2', { ...channel, epoch: 2 ** 32 });
    expect(hot.readView('1', '2')).toBeUndefined();
    hot.putChannel('2', channel);
    hot.putReadState('1', '2', { ...record, own_above: 2 ** 32 }, first);
    expect(hot.readView('1', '2')).toBeUndefined();
    // A snapshot that does not fit is left out: reads that need it decline, others still answer.
    hot.putReadState('1', '2', { ...record, live_above: { epoch: 2 ** 32 + 3, live_count: 10, count: 4 } });
    expect(hot.readView('1', '2')).toBeUndefined();
    hot.putReadState('1', '2', { ...record, live_above: { epoch: 3, live_count: 4, count: 10 } });
    expect(hot.readView('1', '2')).toBeUndefined();
    hot.putReadState(
      '1',
      '2',
      {
        ...record,
        last_acked_message_id: null,
        live_above: { epoch: 2 ** 32 + 3, live_count: 10, count: 4 },
      },
      first,
    );
    expect(hot.readView('1', '2')).toMatchObject({ unread_count: 11, first_unread_message_id: '15' });
  });

  it('splits its budget three to one and reports entries, hit ratio and evictions', () => {
    const hot = createHotTier({ bytesBudget: 16 * 2 ** 20 });
    const stats = hot.stats();
    // 12 MiB of 56-byte slots, then what is left in 44-byte slots; each table's 64-byte header counts.
    expect(stats.readStates.capacity).toBe(Math.floor((12 * 2 ** 20 - 64) / 56));
    expect(stats.channels.capacity).toBe(Math.floor((16 * 2 ** 20 - 64 - 224_693 * 56 - 64) / 44));
    expect(stats.bytes).toBeLessThanOrEqual(16 * 2 ** 20);

    const small = createHotTier({ bytesBudget: 1000, readStateShare: 0.5 });
    small.putChannel('2', channel);
    for (let user = 1; user <= 10; user++) small.putReadState(String(user), '2', record, first);
    small.readView('10', '2');
    small.readView('99', '2');
    expect(small.stats()).toMatchObject({
      readStates: { capacity: 7, size: 5, evictions: 5 },
      channels: { size: 1 },
      answered: 1,
      declined: 1,
      hitRatio: 0.5,
    });
  });

  it('rejects a budget too small to hold both tables', () => {
    expect(() => createHotTier({ bytesBudget: 100 })).toThrow(/leaves read states fewer than 2 slots/);
    expect(() => createHotTier({ bytesBudget: 300, readStateShare: 0.9 })).toThrow(/lower it/);
    expect(() => createHotTier({ bytesBudget: 2 ** 20, readStateShare: 1 })).toThrow(/readStateShare/);
  });
});
