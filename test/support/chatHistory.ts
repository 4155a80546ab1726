import fc from 'fast-check';
import type { AckEvent, ChatEvent, MessageEvent } from '../../src/contract/events.ts';
import type { Snowflake } from '../../src/contract/snowflake.ts';
import { acked, deleted, edited, joined, left, sent } from './eventBuilders.ts';

/** The ids a generated history draws from: few of each, so messages, mentions and acks collide often. */
export type Universe = {
  readonly channels: readonly Snowflake[];
  readonly users: readonly Snowflake[];
  /** Where each channel's message ids start climbing; below 10 so ids cross a digit boundary. */
  readonly firstMessageId: number;
};

/** Channel and user ids overlap ('10') and sort differently as text and as numbers ('7' < '10' < '300'). */
export const SMALL_UNIVERSE: Universe = {
  channels: ['7', '10', '300'],
  users: ['1', '2', '10'],
  firstMessageId: 5,
};

/** The two topics' sequences, each in its own order. */
export type ChatHistory = {
  readonly messages: readonly MessageEvent[];
  readonly acks: readonly AckEvent[];
};

type IdMode = 'next' | 'recent' | 'any';
type IdChoice = { mode: IdMode; n: number };

function idChoice(weights: Record<IdMode, number>): fc.Arbitrary<IdChoice> {
  return fc.record({
    mode: fc.oneof(
      ...(Object.entries(weights) as [IdMode, number][])
        .filter(([, weight]) => weight > 0)
        .map(([mode, weight]) => ({ arbitrary: fc.constant(mode), weight })),
    ),
    n: fc.nat(99),
  });
}

/**
 * Histories as the topics would carry them: message ids mostly climbing per channel, with late and repeated
 * sends, deletions and edits of recent, unknown and not-yet-sent ids, self-mentions and repeated mentions, edits
 * of one message that tie or come out of time order; acks mostly
 * climbing, some far above or below, some manual.
 */
export function chatHistory(
  universe: Universe = SMALL_UNIVERSE,
  sizes: { maxMessages?: number; maxAcks?: number; everyone?: boolean; membership?: boolean } = {},
): fc.Arbitrary<ChatHistory> {
  /** @everyone on one message or edit in six, when asked for (the record projection does not implement it). */
  const everyone = sizes.everyone === true ? fc.nat(5).map((n) => n === 0) : fc.constant(false);
  const channel = fc.constantFrom(...universe.channels);
  const user = fc.constantFrom(...universe.users);
  const sentOp = fc.record({
    kind: fc.constant('sent' as const),
    channel,
    id: idChoice({ next: 7, recent: 2, any: 1 }),
    author: user,
    mentions: fc.array(user, { maxLength: 4, size: 'max' }),
    everyone,
  });
  const deletedOp = fc.record({
    kind: fc.constant('deleted' as const),
    channel,
    id: idChoice({ next: 1, recent: 5, any: 2 }),
  });
  const editedOp = fc.record({
    kind: fc.constant('edited' as const),
    channel,
    id: idChoice({ next: 1, recent: 6, any: 2 }),
    mentions: fc.array(user, { maxLength: 3 }),
    everyone,
    // Few distinct times: edits of one message tie, and come later or earlier than the one held.
    second: fc.nat(3),
  });
  const ackOp = fc.record({
    channel,
    user,
    id: idChoice({ next: 5, recent: 0, any: 3 }),
    manual: fc.nat(4).map((n) => n === 0),
  });
  const span = universe.firstMessageId + 40;
  /** Joins and leaves at a few times (ties happen), from before the first message to past the last. */
  const memberOp = fc.record({
    channel,
    user,
    left: fc.nat(2).map((n) => n === 0),
    ms: fc.constantFrom(0, universe.firstMessageId + 2, universe.firstMessageId + 6, span),
  });

  return fc
    .record({
      messageOps: fc.array(
        fc.oneof(
          { arbitrary: sentOp, weight: 4 },
          { arbitrary: deletedOp, weight: 1 },
          { arbitrary: editedOp, weight: 1 },
        ),
        {
          maxLength: sizes.maxMessages ?? 30,
          size: 'max',
        },
      ),
      ackOps: fc.array(
        sizes.membership === true
          ? fc.oneof({ arbitrary: ackOp, weight: 3 }, { arbitrary: memberOp, weight: 1 })
          : ackOp,
        { maxLength: sizes.maxAcks ?? 20, size: 'max' },
      ),
    })
    .map(({ messageOps, ackOps }) => {
      const head = new Map<Snowflake, number>();
      const messages = messageOps.map((op): MessageEvent => {
        const top = head.get(op.channel) ?? universe.firstMessageId;
        const recent = Math.max(0, top - (op.id.n % 4));
        if (op.kind === 'deleted' || op.kind === 'edited') {
          const id = op.id.mode === 'next' ? top + 1 : op.id.mode === 'recent' ? recent : op.id.n % span;
          return op.kind === 'deleted'
            ? deleted({ channel: op.channel, id: String(id) })
            : edited({
                channel: op.channel,
                id: String(id),
                mentions: op.mentions,
                everyone: op.everyone,
                second: op.second,
              });
        }
        let id: number;
        if (op.id.mode === 'next') {
          id = top + 1 + (op.id.n % 5 === 0 ? 1 : 0);
          head.set(op.channel, id);
        } else {
          id = op.id.mode === 'recent' ? recent : op.id.n % span;
        }
        return sent({
          channel: op.channel,
          id: String(id),
          author: op.author,
          mentions: op.mentions,
          everyone: op.everyone,
        });
      });
      const climb = new Map<Snowflake, number>();
      const acks = ackOps.map((op): AckEvent => {
        if ('left' in op) {
          const member = { channel: op.channel, user: op.user, ms: op.ms };
          return op.left ? left(member) : joined(member);
        }
        let id = op.id.n % (span + 4);
        if (op.id.mode === 'next') {
          id = (climb.get(op.channel) ?? universe.firstMessageId) + (op.id.n % 3);
          climb.set(op.channel, id);
        }
        return acked({ channel: op.channel, user: op.user, id: String(id), manual: op.manual });
      });
      if (sizes.membership !== true) return { messages, acks };
      // With membership: id n becomes n << 22, the first id of millisecond n after the epoch, so that a join at
      // millisecond k (its floor k << 22) falls between the messages.
      const scaled = (id: Snowflake) => (BigInt(id) << 22n).toString();
      return {
        messages: messages.map((event) => ({ ...event, message_id: scaled(event.message_id) })),
        acks: acks.map((event) =>
          event.type === 'message_acked' ? { ...event, message_id: scaled(event.message_id) } : event,
        ),
      };
    });
}

/** Enough picks to place every event of a history from `chatHistory` with default sizes. */
export const PICKS = 50;

/** Choices of which topic the consumer reads next; with `interleave`, any interleaving of a history. */
export function topicPicks(length = PICKS): fc.Arbitrary<boolean[]> {
  return fc.array(fc.boolean(), { minLength: length, maxLength: length });
}

/**
 * One interleaving of the two topics, each kept in its own order: pick true reads the messages topic next,
 * false the acks topic; when a topic runs dry the other continues.
 */
export function interleave(history: ChatHistory, picks: readonly boolean[]): ChatEvent[] {
  const { messages, acks } = history;
  const events: ChatEvent[] = [];
  let m = 0;
  let a = 0;
  for (const pick of picks) {
    const fromMessages = pick ? m < messages.length : a >= acks.length;
    const event = fromMessages ? messages[m++] : acks[a++];
    if (event !== undefined) events.push(event);
  }
  events.push(...messages.slice(m), ...acks.slice(a));
  return events;
}
