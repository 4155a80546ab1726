import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src/contract/events.ts';
import { applyEvent } from '../../src/projection/applyEvent.ts';
import { channelHeadOf } from '../../src/projection/channelHeadOf.ts';
import { createMemoryStore } from '../../src/projection/memoryStore.ts';
import { readStateOf } from '../../src/projection/readStateOf.ts';
import { CompactProjection } from '../../src/projection/compact/compactProjection.ts';
import { acked, deleted, edited, sent } from '../support/eventBuilders.ts';
import { projectionSpec } from '../support/projectionSpec.ts';
import { createReferenceModel } from '../support/referenceModel.ts';

/** One rule of docs/semantics.md per spec. Ids cross a digit boundary (9 < 10) on purpose. */
const { given } = projectionSpec({ fanout: 4 });
const C = '10';
const ALICE = '1';
const BOB = '2';
const CAROL = '3';
const DAVE = '4';

describe('projection rules', () => {
  it('counts live messages by others above the pointer, and those that mention the user', () => {
    given([
      sent({ channel: C, id: '8', author: ALICE }),
      sent({ channel: C, id: '9', author: ALICE }),
      sent({ channel: C, id: '10', author: BOB }),
      sent({ channel: C, id: '11', author: ALICE, mentions: [BOB] }),
    ])
      .when([acked({ channel: C, user: BOB, id: '9' })])
      .then({
        readStates: [
          {
            user: BOB,
            channel: C,
            has_read_state: true,
            last_acked_message_id: '9',
            last_message_id: '11',
            unread_count: 1,
            mention_count: 1,
          },
          { user: ALICE, channel: C, has_read_state: false, last_acked_message_id: null, unread_count: 1 },
          { user: CAROL, channel: C, has_read_state: false, unread_count: 4, mention_count: 0 },
        ],
        heads: [{ channel: C, last_message_id: '11', live_message_count: 4 }],
      });
  });

  it("never counts the user's own messages", () => {
    given([sent({ channel: C, id: '5', author: ALICE }), sent({ channel: C, id: '6', author: ALICE })])
      .when([acked({ channel: C, user: ALICE, id: '4' })])
      .then({
        readStates: [
          { user: ALICE, channel: C, has_read_state: true, unread_count: 0 },
          { user: BOB, channel: C, has_read_state: false, unread_count: 2 },
        ],
      });
  });

  it('counts a repeated message_sent once, the first one winning', () => {
    given([sent({ channel: C, id: '5', author: ALICE, mentions: [BOB] })])
      .when([sent({ channel: C, id: '5', author: CAROL, mentions: [BOB, ALICE] })])
      .then({
        readStates: [
          { user: BOB, channel: C, has_read_state: true, unread_count: 1, mention_count: 1 },
          { user: ALICE, channel: C, has_read_state: false, unread_count: 0, mention_count: 0 },
          { user: CAROL, channel: C, has_read_state: false, unread_count: 1 },
        ],
        heads: [{ channel: C, last_message_id: '5', live_message_count: 1 }],
      });
  });

  it('ignores a message_sent that arrives after its message_deleted', () => {
    given([deleted({ channel: C, id: '7' })])
      .when([sent({ channel: C, id: '7', author: ALICE, mentions: [BOB] })])
      .then({
        readStates: [{ user: BOB, channel: C, has_read_state: false, unread_count: 0, mention_count: 0 }],
        heads: [{ channel: C, last_message_id: null, live_message_count: 0 }],
      });
  });

  it('keeps the tombstone: a message deleted after it was sent cannot be sent again', () => {
    given([sent({ channel: C, id: '7', author: ALICE }), deleted({ channel: C, id: '7' })])
      .when([sent({ channel: C, id: '7', author: ALICE })])
      .then({ heads: [{ channel: C, last_message_id: null, live_message_count: 0 }] });
  });

  it('falls back to the greatest remaining live message when the head is deleted', () => {
    given([
      sent({ channel: C, id: '8', author: ALICE }),
      sent({ channel: C, id: '9', author: ALICE }),
      sent({ channel: C, id: '10', author: ALICE }),
    ])
      .when([deleted({ channel: C, id: '10' })])
      .then({
        readStates: [{ user: BOB, channel: C, last_message_id: '9', unread_count: 2 }],
        heads: [{ channel: C, last_message_id: '9', live_message_count: 2 }],
      });
  });

  it('has no last message once every message is deleted', () => {
    given([sent({ channel: C, id: '8', author: ALICE }), sent({ channel: C, id: '9', author: BOB })])
      .when([deleted({ channel: C, id: '9' }), deleted({ channel: C, id: '8' })])
      .then({
        readStates: [{ user: CAROL, channel: C, last_message_id: null, unread_count: 0 }],
        heads: [{ channel: C, last_message_id: null, live_message_count: 0 }],
      });
  });

  it('leaves a tombstone but changes nothing live when an unknown id is deleted', () => {
    given([sent({ channel: C, id: '8', author: ALICE })])
      .when([deleted({ channel: C, id: '9' })])
      .then({ heads: [{ channel: C, last_message_id: '8', live_message_count: 1 }] });
  });

  it('changes no count when a message below the pointer is deleted', () => {
    given([
      sent({ channel: C, id: '8', author: ALICE }),
      sent({ channel: C, id: '9', author: ALICE, mentions: [BOB] }),
      sent({ channel: C, id: '10', author: ALICE }),
      sent({ channel: C, id: '11', author: ALICE }),
      acked({ channel: C, user: BOB, id: '10' }),
    ])
      .when([deleted({ channel: C, id: '9' })])
      .then({
        readStates: [
          { user: BOB, channel: C, last_acked_message_id: '10', unread_count: 1, mention_count: 0 },
        ],
      });
  });

  it('stops counting a message above the pointer, and its mention, once it is deleted', () => {
    given([
      sent({ channel: C, id: '8', author: ALICE }),
      sent({ channel: C, id: '9', author: ALICE, mentions: [BOB] }),
      sent({ channel: C, id: '10', author: CAROL }),
      acked({ channel: C, user: BOB, id: '8' }),
    ])
      .when([deleted({ channel: C, id: '9' })])
      .then({
        readStates: [
          { user: BOB, channel: C, has_read_state: true, unread_count: 1, mention_count: 0 },
          { user: CAROL, channel: C, has_read_state: false, unread_count: 1 },
        ],
      });
  });

  it('ignores a late message below the pointer', () => {
    given([
      sent({ channel: C, id: '10', author: ALICE }),
      sent({ channel: C, id: '14', author: ALICE }),
      acked({ channel: C, user: BOB, id: '11' }),
    ])
      .when([sent({ channel: C, id: '9', author: ALICE, mentions: [BOB] })])
      .then({
        readStates: [{ user: BOB, channel: C, unread_count: 1, mention_count: 0, last_message_id: '14' }],
        heads: [{ channel: C, live_message_count: 3 }],
      });
  });

  it('counts a late message above the pointer (but below the head)', () => {
    given([
      sent({ channel: C, id: '10', author: ALICE }),
      sent({ channel: C, id: '14', author: ALICE }),
      acked({ channel: C, user: BOB, id: '11' }),
    ])
      .when([sent({ channel: C, id: '12', author: CAROL, mentions: [BOB] })])
      .then({
        readStates: [{ user: BOB, channel: C, unread_count: 2, mention_count: 1, last_message_id: '14' }],
      });
  });

  it('moves the pointer forward only on a normal ack', () => {
    given([
      sent({ channel: C, id: '8', author: ALICE }),
      sent({ channel: C, id: '9', author: ALICE }),
      sent({ channel: C, id: '10', author: ALICE }),
      acked({ channel: C, user: BOB, id: '10' }),
    ])
      .when([acked({ channel: C, user: BOB, id: '8' })])
      .then({ readStates: [{ user: BOB, channel: C, last_acked_message_id: '10', unread_count: 0 }] });
  });

  it('moves the pointer backwards on a manual ack (mark unread)', () => {
    given([
      sent({ channel: C, id: '8', author: ALICE }),
      sent({ channel: C, id: '9', author: ALICE, mentions: [BOB] }),
      sent({ channel: C, id: '10', author: ALICE }),
      acked({ channel: C, user: BOB, id: '10' }),
    ])
      .when([acked({ channel: C, user: BOB, id: '8', manual: true })])
      .then({
        readStates: [
          { user: BOB, channel: C, last_acked_message_id: '8', unread_count: 2, mention_count: 1 },
        ],
      });
  });

  it('moves the pointer forwards on a manual ack too', () => {
    given([
      sent({ channel: C, id: '8', author: ALICE }),
      sent({ channel: C, id: '9', author: ALICE }),
      sent({ channel: C, id: '10', author: ALICE }),
      acked({ channel: C, user: BOB, id: '8' }),
    ])
      .when([acked({ channel: C, user: BOB, id: '9', manual: true })])
      .then({ readStates: [{ user: BOB, channel: C, last_acked_message_id: '9', unread_count: 1 }] });
  });

  it('moves forward again from a manual pointer on the next normal ack', () => {
    given([
      sent({ channel: C, id: '8', author: ALICE }),
      sent({ channel: C, id: '9', author: ALICE }),
      sent({ channel: C, id: '10', author: ALICE }),
      acked({ channel: C, user: BOB, id: '10' }),
      acked({ channel: C, user: BOB, id: '8', manual: true }),
    ])
      .when([acked({ channel: C, user: BOB, id: '9' })])
      .then({ readStates: [{ user: BOB, channel: C, last_acked_message_id: '9', unread_count: 1 }] });
  });

  it('accepts an ack of an id above the head, and counts only messages above it when they arrive', () => {
    given([sent({ channel: C, id: '8', author: ALICE }), acked({ channel: C, user: BOB, id: '12' })])
      .when([
        sent({ channel: C, id: '10', author: ALICE }),
        sent({ channel: C, id: '12', author: ALICE }),
        sent({ channel: C, id: '13', author: ALICE, mentions: [BOB] }),
      ])
      .then({
        readStates: [
          {
            user: BOB,
            channel: C,
            last_acked_message_id: '12',
            last_message_id: '13',
            unread_count: 1,
            mention_count: 1,
          },
        ],
      });
  });

  it('gives a read state on an ack in a channel with no messages', () => {
    given([])
      .when([acked({ channel: C, user: BOB, id: '0' })])
      .then({
        readStates: [
          {
            user: BOB,
            channel: C,
            has_read_state: true,
            last_acked_message_id: '0',
            last_message_id: null,
            unread_count: 0,
          },
        ],
      });
  });

  it('gives no read state and no mention for a self-mention', () => {
    given([])
      .when([sent({ channel: C, id: '8', author: ALICE, mentions: [ALICE] })])
      .then({
        readStates: [{ user: ALICE, channel: C, has_read_state: false, unread_count: 0, mention_count: 0 }],
      });
  });

  it('does not count a self-mention for a user who has a read state', () => {
    given([acked({ channel: C, user: ALICE, id: '5' })])
      .when([sent({ channel: C, id: '8', author: ALICE, mentions: [ALICE, ALICE] })])
      .then({
        readStates: [{ user: ALICE, channel: C, has_read_state: true, unread_count: 0, mention_count: 0 }],
      });
  });

  it('counts a user mentioned several times in one message once', () => {
    given([])
      .when([sent({ channel: C, id: '8', author: ALICE, mentions: [BOB, BOB, BOB] })])
      .then({
        readStates: [{ user: BOB, channel: C, has_read_state: true, unread_count: 1, mention_count: 1 }],
      });
  });

  it('gives a mentioned user a read state with no pointer, counting every live message by others', () => {
    given([sent({ channel: C, id: '8', author: ALICE }), sent({ channel: C, id: '9', author: BOB })])
      .when([sent({ channel: C, id: '10', author: ALICE, mentions: [CAROL, BOB] })])
      .then({
        readStates: [
          {
            user: CAROL,
            channel: C,
            has_read_state: true,
            last_acked_message_id: null,
            unread_count: 3,
            mention_count: 1,
          },
          { user: BOB, channel: C, has_read_state: true, unread_count: 2, mention_count: 1 },
        ],
      });
  });

  it('keeps the read state a mention gave after the message is deleted', () => {
    given([sent({ channel: C, id: '8', author: ALICE, mentions: [BOB] })])
      .when([deleted({ channel: C, id: '8' })])
      .then({
        readStates: [
          {
            user: BOB,
            channel: C,
            has_read_state: true,
            last_acked_message_id: null,
            last_message_id: null,
            unread_count: 0,
            mention_count: 0,
          },
        ],
      });
  });

  it('keeps channels apart, and user ids apart from channel ids', () => {
    given([
      sent({ channel: '7', id: '8', author: ALICE, mentions: ['10'] }),
      sent({ channel: '10', id: '8', author: ALICE }),
      sent({ channel: '10', id: '9', author: '7' }),
    ])
      .when([acked({ channel: '10', user: '10', id: '9' }), deleted({ channel: '7', id: '9' })])
      .then({
        readStates: [
          { user: '10', channel: '10', has_read_state: true, unread_count: 0 },
          { user: '10', channel: '7', has_read_state: true, unread_count: 1, mention_count: 1 },
          { user: '7', channel: '10', has_read_state: false, unread_count: 1 },
          { user: '7', channel: '7', has_read_state: false, unread_count: 1 },
        ],
        heads: [
          { channel: '7', last_message_id: '8', live_message_count: 1 },
          { channel: '10', last_message_id: '9', live_message_count: 2 },
        ],
      });
  });

  it('compares ids as 64-bit numbers, not as text', () => {
    given([
      sent({ channel: C, id: '18446744073709551615', author: ALICE }),
      sent({ channel: C, id: '9223372036854775808', author: ALICE }),
      sent({ channel: C, id: '99', author: ALICE }),
    ])
      .when([acked({ channel: C, user: BOB, id: '100' })])
      .then({
        readStates: [{ user: BOB, channel: C, unread_count: 2, last_message_id: '18446744073709551615' }],
      });
  });

  it('answers zeros and nulls for a channel never seen', () => {
    const store = createMemoryStore({ fanout: 4 });
    expect(readStateOf(store, BOB, '999')).toEqual({
      user_id: BOB,
      channel_id: '999',
      has_read_state: false,
      last_acked_message_id: null,
      last_message_id: null,
      unread_count: 0,
      mention_count: 0,
      first_unread_message_id: null,
    });
    expect(channelHeadOf(store, '999')).toEqual({
      channel_id: '999',
      last_message_id: null,
      live_message_count: 0,
    });
  });

  it('walks through the worked example of docs/semantics.md step by step', () => {
    // [event, Bob's has_read_state, last_acked_message_id, unread_count, mention_count, channel's last_message_id,
    //  first_unread_message_id]
    const steps: [ChatEvent, boolean, string | null, number, number, string | null, string | null][] = [
      [sent({ channel: C, id: '8', author: ALICE }), false, null, 1, 0, '8', '8'],
      [sent({ channel: C, id: '9', author: ALICE, mentions: [BOB, BOB] }), true, null, 2, 1, '9', '8'],
      [acked({ channel: C, user: BOB, id: '9' }), true, '9', 0, 0, '9', null],
      [sent({ channel: C, id: '10', author: BOB }), true, '9', 0, 0, '10', null],
      [sent({ channel: C, id: '11', author: CAROL, mentions: [BOB] }), true, '9', 1, 1, '11', '11'],
      [acked({ channel: C, user: BOB, id: '8' }), true, '9', 1, 1, '11', '11'],
      [acked({ channel: C, user: BOB, id: '8', manual: true }), true, '8', 2, 2, '11', '9'],
      [deleted({ channel: C, id: '11' }), true, '8', 1, 1, '10', '9'],
      [deleted({ channel: C, id: '12' }), true, '8', 1, 1, '10', '9'],
      [sent({ channel: C, id: '12', author: ALICE }), true, '8', 1, 1, '10', '9'],
      [sent({ channel: C, id: '9', author: CAROL }), true, '8', 1, 1, '10', '9'],
      [sent({ channel: C, id: '7', author: CAROL, mentions: [BOB] }), true, '8', 1, 1, '10', '9'],
      [acked({ channel: C, user: BOB, id: '13' }), true, '13', 0, 0, '10', null],
      [sent({ channel: C, id: '14', author: ALICE }), true, '13', 1, 0, '14', '14'],
    ];
    const store = createMemoryStore({ fanout: 4 });
    const reference = createReferenceModel();
    steps.forEach(([event, has, pointer, unread, mentions, last, first], step) => {
      applyEvent(store, event);
      reference.apply(event);
      const expected = {
        user_id: BOB,
        channel_id: C,
        has_read_state: has,
        last_acked_message_id: pointer,
        last_message_id: last,
        unread_count: unread,
        mention_count: mentions,
        first_unread_message_id: first,
      };
      expect(readStateOf(store, BOB, C), `step ${step + 1}`).toEqual(expected);
      expect(reference.readState(BOB, C), `step ${step + 1} (reference model)`).toEqual(expected);
    });
  });

  it('walks through the edits of docs/semantics.md, after the worked example', () => {
    const before: ChatEvent[] = [
      sent({ channel: C, id: '8', author: ALICE }),
      sent({ channel: C, id: '9', author: ALICE, mentions: [BOB, BOB] }),
      acked({ channel: C, user: BOB, id: '9' }),
      sent({ channel: C, id: '10', author: BOB }),
      sent({ channel: C, id: '11', author: CAROL, mentions: [BOB] }),
      acked({ channel: C, user: BOB, id: '8' }),
      acked({ channel: C, user: BOB, id: '8', manual: true }),
      deleted({ channel: C, id: '11' }),
      deleted({ channel: C, id: '12' }),
      sent({ channel: C, id: '12', author: ALICE }),
      sent({ channel: C, id: '9', author: CAROL }),
      sent({ channel: C, id: '7', author: CAROL, mentions: [BOB] }),
      acked({ channel: C, user: BOB, id: '13' }),
      sent({ channel: C, id: '14', author: ALICE }),
    ];
    // [event, Bob's unread_count, mention_count, channel's last_message_id, Dave has a read state]
    const steps: [ChatEvent, number, number, string, boolean][] = [
      [edited({ channel: C, id: '14', mentions: [BOB], second: 5 }), 1, 1, '14', false],
      [edited({ channel: C, id: '14', mentions: [], second: 3 }), 1, 1, '14', false],
      [edited({ channel: C, id: '14', mentions: [DAVE], second: 9 }), 1, 0, '14', true],
      [edited({ channel: C, id: '15', mentions: [BOB], second: 10 }), 1, 0, '14', true],
      [sent({ channel: C, id: '15', author: ALICE }), 2, 1, '15', true],
      [edited({ channel: C, id: '11', mentions: [BOB] }), 2, 1, '15', true],
    ];
    const store = createMemoryStore({ fanout: 4 });
    const reference = createReferenceModel();
    const compact = new CompactProjection({ blockSize: 4 });
    const apply = (event: ChatEvent) => {
      applyEvent(store, event);
      reference.apply(event);
      compact.apply(event);
    };
    before.forEach(apply);
    steps.forEach(([event, unread, mentions, last, daveHas], step) => {
      apply(event);
      const expected = {
        user_id: BOB,
        channel_id: C,
        has_read_state: true,
        last_acked_message_id: '13',
        last_message_id: last,
        unread_count: unread,
        mention_count: mentions,
        first_unread_message_id: '14',
      };
      const row = `row ${step + 15}`;
      expect(readStateOf(store, BOB, C), row).toEqual(expected);
      expect(reference.readState(BOB, C), `${row} (reference model)`).toEqual(expected);
      expect(compact.readState(BOB, C), `${row} (compact)`).toEqual(expected);
      expect(reference.readState(DAVE, C).has_read_state, `${row}: Dave`).toBe(daveHas);
      expect(readStateOf(store, DAVE, C).has_read_state, `${row}: Dave`).toBe(daveHas);
      expect(compact.readState(DAVE, C).has_read_state, `${row}: Dave (compact)`).toBe(daveHas);
    });
  });

  it('gives the same read state for each of the ten interleavings in docs/semantics.md', () => {
    const messages = ['8', '9', '10'].map((id) => sent({ channel: C, id, author: ALICE }));
    const acks = [
      acked({ channel: C, user: BOB, id: '10' }),
      acked({ channel: C, user: BOB, id: '8', manual: true }),
    ];
    const interleavings: ChatEvent[][] = [];
    const weave = (m: number, a: number, sequence: ChatEvent[]): void => {
      if (m === messages.length && a === acks.length) interleavings.push(sequence);
      const message = messages[m];
      const ack = acks[a];
      if (message !== undefined) weave(m + 1, a, [...sequence, message]);
      if (ack !== undefined) weave(m, a + 1, [...sequence, ack]);
    };
    weave(0, 0, []);
    expect(interleavings).toHaveLength(10);
    for (const events of interleavings) {
      const store = createMemoryStore({ fanout: 4 });
      for (const event of events) applyEvent(store, event);
      expect(readStateOf(store, BOB, C)).toMatchObject({ last_acked_message_id: '8', unread_count: 2 });
    }
  });
});
