import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src/contract/events.ts';
import { applyEvent } from '../../src/projection/applyEvent.ts';
import { CompactProjection } from '../../src/projection/compact/compactProjection.ts';
import { createMemoryStore } from '../../src/projection/memoryStore.ts';
import { readStateOf } from '../../src/projection/readStateOf.ts';
import {
  chatHistory,
  interleave,
  SMALL_UNIVERSE,
  topicPicks,
  type Universe,
} from '../support/chatHistory.ts';
import { acked, deleted, edited, joined, left, sent } from '../support/eventBuilders.ts';
import { createReferenceModel, type ReferenceModel } from '../support/referenceModel.ts';

/** Small blocks, so that a channel of a few dozen ids already has several; 128 is the default. */
const blockSize = fc.constantFrom(4, 5, 128);

function answers(projection: CompactProjection, universe: Universe) {
  return {
    readStates: universe.channels.flatMap((channel) =>
      universe.users.map((user) => projection.readState(user, channel)),
    ),
    heads: universe.channels.map((channel) => projection.channelHead(channel)),
  };
}

function referenceAnswers(reference: ReferenceModel, universe: Universe) {
  return {
    readStates: universe.channels.flatMap((channel) =>
      universe.users.map((user) => reference.readState(user, channel)),
    ),
    heads: universe.channels.map((channel) => reference.channelHead(channel)),
  };
}

describe('compact projection against the reference model', () => {
  it('answers as the reference after every event, with the outcomes of applyEvent', () => {
    fc.assert(
      fc.property(
        chatHistory(SMALL_UNIVERSE, { everyone: true, membership: true }),
        topicPicks(),
        blockSize,
        (history, picks, size) => {
          const projection = new CompactProjection({ blockSize: size });
          const reference = createReferenceModel();
          const records = createMemoryStore();
          for (const event of interleave(history, picks)) {
            // The record projection stops short of membership (its fold throws): compared on the rest.
            const outcome = projection.apply(event);
            if (event.type !== 'member_joined' && event.type !== 'member_left') {
              expect(outcome).toBe(applyEvent(records, event));
            }
            reference.apply(event);
            expect(answers(projection, SMALL_UNIVERSE)).toEqual(referenceAnswers(reference, SMALL_UNIVERSE));
          }
        },
      ),
      { numRuns: 5000 },
    );
  }, 120_000);

  it('agrees on long channels, with late messages, deletions and manual acks far back', () => {
    const universe = { channels: ['10'], users: ['1', '2', '3'], firstMessageId: 5 };
    fc.assert(
      fc.property(
        chatHistory(universe, { maxMessages: 150, maxAcks: 60, everyone: true, membership: true }),
        topicPicks(210),
        (history, picks) => {
          const projection = new CompactProjection({ blockSize: 4 });
          const reference = createReferenceModel();
          for (const event of interleave(history, picks)) {
            projection.apply(event);
            reference.apply(event);
            expect(answers(projection, universe)).toEqual(referenceAnswers(reference, universe));
          }
        },
      ),
      { numRuns: 300 },
    );
  }, 120_000);

  it('ends in the same answers for every interleaving of the two topics, every event kind included', () => {
    fc.assert(
      fc.property(
        chatHistory(SMALL_UNIVERSE, { everyone: true, membership: true }),
        topicPicks(),
        topicPicks(),
        (history, picks, otherPicks) => {
          const project = (events: readonly ChatEvent[]) => {
            const projection = new CompactProjection({ blockSize: 4 });
            for (const event of events) projection.apply(event);
            return answers(projection, SMALL_UNIVERSE);
          };
          const events = interleave(history, picks);
          const once = project(events);
          expect(project(interleave(history, otherPicks))).toEqual(once);
          // A replay of the other order after the first (a rebalance's redelivery) changes nothing either.
          expect(project([...events, ...interleave(history, otherPicks)])).toEqual(once);
        },
      ),
      { numRuns: 5000 },
    );
  }, 120_000);

  it('changes nothing when the whole history is delivered again', () => {
    fc.assert(
      fc.property(
        chatHistory(SMALL_UNIVERSE, { everyone: true, membership: true }),
        topicPicks(),
        (history, picks) => {
          const events = interleave(history, picks);
          const projection = new CompactProjection({ blockSize: 4 });
          for (const event of events) projection.apply(event);
          const once = answers(projection, SMALL_UNIVERSE);
          for (const event of events) projection.apply(event);
          expect(answers(projection, SMALL_UNIVERSE)).toEqual(once);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('handles ids across the whole uint64 range', () => {
    const projection = new CompactProjection();
    const reference = createReferenceModel();
    const ids = [
      '0',
      '4294967295',
      '4294967296',
      '9007199254740993',
      '18446744073709551615',
      '18446744073709551614',
    ];
    const events = [
      ...ids.map((id) => sent({ channel: '1', id, author: '2', mentions: ['3'] })),
      acked({ channel: '1', user: '3', id: '9007199254740993' }),
      deleted({ channel: '1', id: '18446744073709551615' }),
    ];
    for (const event of events) {
      projection.apply(event);
      reference.apply(event);
    }
    for (const user of ['2', '3', '4'])
      expect(projection.readState(user, '1')).toEqual(reference.readState(user, '1'));
    expect(projection.channelHead('1')).toEqual(reference.channelHead('1'));
  });
  it("finds the first unread message past a long run of the reader's own, some deleted, in every projection", () => {
    fc.assert(
      fc.property(
        // Runs of messages by the reader (user 2) or someone else (3), ids 1, 2, … in order.
        fc.array(fc.record({ reader: fc.boolean(), length: fc.integer({ min: 1, max: 150 }) }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.array(fc.nat(600), { maxLength: 30 }),
        fc.option(fc.nat(620), { nil: undefined }),
        blockSize,
        (runs, deletions, pointer, size) => {
          const projection = new CompactProjection({ blockSize: size });
          const store = createMemoryStore({ fanout: 4 });
          const reference = createReferenceModel();
          const authors = runs.flatMap(({ reader, length }) =>
            Array<string>(length).fill(reader ? '2' : '3'),
          );
          const events = [
            ...authors.map((author, i) => sent({ channel: '1', id: String(i + 1), author })),
            ...deletions.map((id) => deleted({ channel: '1', id: String(id + 1) })),
            ...(pointer === undefined
              ? []
              : [acked({ channel: '1', user: '2', id: String(pointer), manual: true })]),
          ];
          for (const event of events) {
            projection.apply(event);
            applyEvent(store, event);
            reference.apply(event);
          }
          const expected = reference.readState('2', '1');
          expect(projection.readState('2', '1')).toEqual(expected);
          expect(readStateOf(store, '2', '1')).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
  it('walks through the @everyone example of docs/semantics.md', () => {
    const C = '10';
    const [ALICE, BOB, CAROL, DAVE] = ['1', '2', '3', '4'];
    // [event, Bob's unread and mentions, Carol's, Dave's has_read_state, unread and mentions]
    const steps: [ChatEvent, [number, number], [number, number], [boolean, number, number]][] = [
      [sent({ channel: C, id: '6', author: ALICE, everyone: true }), [1, 1], [1, 1], [false, 1, 0]],
      [
        sent({ channel: C, id: '7', author: BOB, mentions: [CAROL], everyone: true }),
        [1, 1],
        [2, 2],
        [false, 2, 0],
      ],
      [edited({ channel: C, id: '6', mentions: [], second: 5 }), [1, 0], [2, 1], [false, 2, 0]],
      [edited({ channel: C, id: '7', mentions: [CAROL], second: 5 }), [1, 0], [2, 1], [false, 2, 0]],
      [deleted({ channel: C, id: '7' }), [1, 0], [1, 0], [false, 1, 0]],
      [sent({ channel: C, id: '8', author: DAVE, everyone: true }), [2, 1], [2, 1], [false, 1, 0]],
      [acked({ channel: C, user: DAVE, id: '6' }), [2, 1], [2, 1], [true, 0, 0]],
      [
        edited({ channel: C, id: '6', mentions: [DAVE], everyone: true, second: 9 }),
        [2, 2],
        [2, 2],
        [true, 0, 0],
      ],
    ];
    const projection = new CompactProjection({ blockSize: 4 });
    const reference = createReferenceModel();
    for (const event of [
      acked({ channel: C, user: BOB, id: '5' }),
      acked({ channel: C, user: CAROL, id: '5' }),
    ]) {
      projection.apply(event);
      reference.apply(event);
    }
    steps.forEach(([event, bob, carol, dave], step) => {
      projection.apply(event);
      reference.apply(event);
      const row = `row ${step + 1}`;
      for (const user of [BOB, CAROL, DAVE]) {
        expect(projection.readState(user, C), `${row}, user ${user}`).toEqual(reference.readState(user, C));
      }
      const counts = (user: string) => {
        const view = reference.readState(user, C);
        return [view.unread_count, view.mention_count];
      };
      expect(counts(BOB), `${row}: Bob`).toEqual(bob);
      expect(counts(CAROL), `${row}: Carol`).toEqual(carol);
      expect([reference.readState(DAVE, C).has_read_state, ...counts(DAVE)], `${row}: Dave`).toEqual(dave);
    });
  });
  it('walks through the membership example of docs/semantics.md', () => {
    const C = '10';
    const [ALICE, BOB] = ['1', '2'];
    /** The first id of millisecond `ms` after the epoch: what a message made then is numbered from. */
    const at = (ms: number) => (BigInt(ms) << 22n).toString();
    // [event, Bob's has_read_state, pointer, unread, first unread (as the ms of its id)]
    const steps: [ChatEvent, boolean, number | null, number, number | null][] = [
      [sent({ channel: C, id: at(5), author: ALICE }), false, null, 1, 5],
      [sent({ channel: C, id: at(6), author: ALICE }), false, null, 2, 5],
      [joined({ channel: C, user: BOB, ms: 6 }), true, null, 1, 6],
      [sent({ channel: C, id: at(8), author: ALICE }), true, null, 2, 6],
      [acked({ channel: C, user: BOB, id: at(5) }), true, 5, 2, 6],
      [left({ channel: C, user: BOB, ms: 9 }), false, null, 0, null],
      [joined({ channel: C, user: BOB, ms: 7 }), false, null, 0, null],
      [joined({ channel: C, user: BOB, ms: 10 }), true, 5, 0, null],
      [sent({ channel: C, id: at(11), author: ALICE }), true, 5, 1, 11],
    ];
    const projection = new CompactProjection({ blockSize: 4 });
    const reference = createReferenceModel();
    steps.forEach(([event, has, pointer, unread, first], step) => {
      projection.apply(event);
      reference.apply(event);
      const expected = {
        has_read_state: has,
        last_acked_message_id: pointer === null ? null : at(pointer),
        unread_count: unread,
        first_unread_message_id: first === null ? null : at(first),
      };
      expect(reference.readState(BOB, C), `row ${step + 1}`).toMatchObject(expected);
      expect(projection.readState(BOB, C), `row ${step + 1} (compact)`).toEqual(reference.readState(BOB, C));
    });
  });
});
