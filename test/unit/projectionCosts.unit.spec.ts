import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src/contract/events.ts';
import type { ApplyOutcome } from '../../src/projection/applyOutcome.ts';
import { applyEvent } from '../../src/projection/applyEvent.ts';
import { CompactProjection } from '../../src/projection/compact/compactProjection.ts';
import { createMemoryStore } from '../../src/projection/memoryStore.ts';
import { countedReadStateOf, readStateOf } from '../../src/projection/readStateOf.ts';
import { createCountingStore, type AccessCounts } from '../support/countingStore.ts';
import { acked, deleted, edited, joined, left, sent } from '../support/eventBuilders.ts';

/**
 * Record accesses per operation, counted at the store: the costs docs/semantics.md promises. Each O(1) case is
 * measured on a short and a long channel and must cost the same on both.
 */
const C = '500';
const AUTHOR = '1';
const READER = '2';
const FANOUT = 8;

function channelOf(messages: number) {
  const counting = createCountingStore(createMemoryStore({ fanout: FANOUT }));
  const apply = (event: ChatEvent): void => {
    applyEvent(counting.store, event);
  };
  for (let id = 1; id <= messages; id++) apply(sent({ channel: C, id: String(id), author: AUTHOR }));
  const cost = (operation: () => unknown): AccessCounts => {
    counting.reset();
    operation();
    return counting.counts();
  };
  const height = counting.store.getChannel(C)?.live?.height ?? 0;
  return { store: counting.store, apply, cost, height, head: messages };
}

describe('projection costs (record accesses)', () => {
  const sizes = [100, 20_000];

  it('acks the newest message in O(1)', () => {
    const costs = sizes.map((size) => {
      const channel = channelOf(size);
      return channel.cost(() => {
        channel.apply(acked({ channel: C, user: READER, id: String(channel.head) }));
      });
    });
    expect(costs[0]).toEqual(costs[1]);
    expect(costs[0]).toEqual({ reads: 4, writes: 1 });
  });

  it('reads a read state in O(1) while only new messages arrived since the ack', () => {
    const costs = sizes.map((size) => {
      const channel = channelOf(size);
      channel.apply(acked({ channel: C, user: READER, id: String(channel.head - 10) }));
      for (let id = channel.head + 1; id <= channel.head + 50; id++) {
        channel.apply(sent({ channel: C, id: String(id), author: AUTHOR }));
      }
      let view;
      const cost = channel.cost(() => (view = countedReadStateOf(channel.store, READER, C).view));
      expect(view).toMatchObject({ unread_count: 60 });
      // The first unread message: one descent of LIVE(c) when it is not the reader's own (O(log n)).
      const withFirst = channel.cost(() => (view = readStateOf(channel.store, READER, C)));
      expect(view).toMatchObject({ first_unread_message_id: String(channel.head - 9) });
      expect(withFirst.reads).toBeLessThanOrEqual(cost.reads + 3 + channel.height);
      return cost;
    });
    expect(costs[0]).toEqual(costs[1]);
    expect(costs[0]).toEqual({ reads: 2, writes: 0 });
  });

  it('reads a pair with no read state in O(1), its first unread message in O(log n)', () => {
    const costs = sizes.map((size) => {
      const channel = channelOf(size);
      const cost = channel.cost(() => countedReadStateOf(channel.store, '3', C));
      const withFirst = channel.cost(() => readStateOf(channel.store, '3', C));
      expect(withFirst.reads).toBeLessThanOrEqual(cost.reads + 3 + channel.height);
      return cost;
    });
    expect(costs[0]).toEqual(costs[1]);
    expect(costs[0]).toEqual({ reads: 3, writes: 0 });
  });

  it('appends a message at the head in amortized O(1), touching no other member', () => {
    const costs = sizes.map((size) => {
      const channel = channelOf(size);
      for (let member = 100; member < 600; member++) {
        channel.apply(acked({ channel: C, user: String(member), id: String(channel.head) }));
      }
      const appends = 10 * FANOUT;
      const cost = channel.cost(() => {
        for (let id = channel.head + 1; id <= channel.head + appends; id++) {
          channel.apply(sent({ channel: C, id: String(id), author: AUTHOR, mentions: ['100'] }));
        }
      });
      return { reads: cost.reads / appends, writes: cost.writes / appends };
    });
    for (const cost of costs) {
      expect(cost.reads).toBeLessThan(9);
      expect(cost.writes).toBeLessThan(7);
    }
  });

  it('pays O(log n) for a late message, a deletion and a stale read', () => {
    for (const size of sizes) {
      const channel = channelOf(size);
      channel.apply(acked({ channel: C, user: READER, id: String(channel.head - 3) }));
      const bound = 4 * channel.height + 12;
      const late = channel.cost(() => {
        channel.apply(deleted({ channel: C, id: String(Math.floor(size / 2)) }));
        channel.apply(sent({ channel: C, id: String(Math.floor(size / 2)), author: '7' }));
      });
      const deletion = channel.cost(() => {
        channel.apply(deleted({ channel: C, id: String(Math.floor(size / 3)) }));
      });
      const read = channel.cost(() => readStateOf(channel.store, READER, C));
      const manual = channel.cost(() => {
        channel.apply(acked({ channel: C, user: READER, id: '50', manual: true }));
      });
      for (const cost of [late, deletion, read, manual]) expect(cost.reads + cost.writes).toBeLessThan(bound);
      expect(read.reads).toBeLessThanOrEqual(2 + channel.height);
    }
  });

  it("edits a message's mentions in O(log n) per user entering or leaving them, touching no other member", () => {
    const costs = sizes.map((size) => {
      const channel = channelOf(size);
      for (let member = 100; member < 600; member++) {
        channel.apply(acked({ channel: C, user: String(member), id: String(channel.head - 5) }));
      }
      const message = String(Math.floor(size / 2));
      channel.apply(edited({ channel: C, id: message, mentions: ['100', '101'], second: 1 }));
      // One user leaves the mentions, one enters, one stays.
      const edit = channel.cost(() => {
        channel.apply(edited({ channel: C, id: message, mentions: ['101', '102'], second: 2 }));
      });
      const stale = channel.cost(() => {
        channel.apply(edited({ channel: C, id: message, mentions: ['103'], second: 2 }));
      });
      expect(stale).toEqual({ reads: 1, writes: 0 });
      expect(edit.reads + edit.writes).toBeLessThan(2 * (4 * channel.height + 12));
      return { edit, height: channel.height };
    });
    // The channel of 20,000 messages and 500 members pays for its taller indexes only.
    const [short, long] = costs;
    if (short === undefined || long === undefined) throw new Error('two sizes');
    expect(long.edit.reads + long.edit.writes - (short.edit.reads + short.edit.writes)).toBeLessThanOrEqual(
      8 * (long.height - short.height),
    );
  });
});

/**
 * The compact projection (the service's) keeps no records: what an event costs there is the members it touches
 * (each one's listing key and hot-tier entry is written after it) and the ids it adds to the channel's sets. The
 * record projection above does not know @everyone or membership, so these are measured here, on a channel of
 * few and of many members and messages, and must cost the same on both.
 */
describe('compact projection costs (members touched, ids added)', () => {
  function channelOf(members: number, messages: number) {
    const projection = new CompactProjection();
    const apply = (event: ChatEvent): ApplyOutcome => projection.applyIn(projection.channelFor(C), event);
    for (let id = 1; id <= messages; id++) apply(sent({ channel: C, id: String(id), author: AUTHOR }));
    for (let member = 100; member < 100 + members; member++) {
      apply(acked({ channel: C, user: String(member), id: String(messages - 5) }));
    }
    const channel = projection.channelFor(C);
    const ids = (): number =>
      channel.messages.size +
      channel.own.size +
      channel.mentioned.size +
      (channel.everyone?.size ?? 0) +
      (channel.ownEveryone?.size ?? 0);
    /** The event's outcome, the members it touched and the ids it added. */
    const cost = (event: ChatEvent) => {
      const before = ids();
      const outcome = apply(event);
      return { outcome, touched: new Set(projection.touched).size, ids: ids() - before };
    };
    return { cost, head: messages };
  }

  it('sends an @everyone message, joins and leaves touching one member, however many there are', () => {
    const costs = [
      [10, 100],
      [2_000, 20_000],
    ].map(([members = 0, messages = 0]) => {
      const channel = channelOf(members, messages);
      const head = channel.head;
      return {
        everyone: channel.cost(sent({ channel: C, id: String(head + 1), author: '101', everyone: true })),
        named: channel.cost(
          sent({ channel: C, id: String(head + 2), author: '101', everyone: true, mentions: ['102', '103'] }),
        ),
        unsaid: channel.cost(edited({ channel: C, id: String(head + 2), mentions: ['102'], second: 1 })),
        join: channel.cost(joined({ channel: C, user: '104', ms: 1_000 })),
        leave: channel.cost(left({ channel: C, user: '104', ms: 2_000 })),
        newcomer: channel.cost(joined({ channel: C, user: '9999', ms: 3_000 })),
      };
    });
    const [few, many] = costs;
    expect(few?.everyone).toEqual({ outcome: 'applied', touched: 1, ids: 4 });
    // Named and @everyone'd: counted through the @everyone set, and given a read state (touched), once.
    expect(few?.named).toEqual({ outcome: 'applied', touched: 3, ids: 4 });
    // The edit takes @everyone away: the two it named are touched (102 now counted by name, 103 not at all).
    expect(few?.unsaid).toEqual({ outcome: 'applied', touched: 2, ids: 1 });
    expect(few?.join).toEqual({ outcome: 'applied', touched: 1, ids: 0 });
    expect(few?.leave).toEqual({ outcome: 'applied', touched: 1, ids: 0 });
    expect(few?.newcomer).toEqual({ outcome: 'applied', touched: 1, ids: 0 });
    expect(many).toEqual(few);
  });
});
