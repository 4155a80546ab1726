import type {
  MembershipEvent,
  MessageAcked,
  MessageDeleted,
  MessageEdited,
  MessageSent,
} from '../contract/events.ts';
import { snowflakeTimeMs } from '../contract/snowflake.ts';
import { seededRandom } from './seededRandom.ts';

/**
 * A realistic, reproducible chat stream for demos, benchmarks and end-to-end tests: mostly increasing message
 * ids with some late ones, mentions (some of the author, some repeated, 1% of all events @everyone), edits of
 * recent messages' mentions (a tenth of them @everyone),
 * deletions (some before the message), acks of recent messages (some manual, backwards), members and newcomers
 * joining and leaving (1% of all events), and duplicates. Same seed, same stream.
 */
export interface DemoStreamOptions {
  seed: number;
  channels: number;
  users: number;
  /** Users who read and write in each channel. */
  membersPerChannel?: number;
  /** Whether members join and leave (default true); without, those draws are acks. */
  membership?: boolean;
  /**
   * How events spread over the channels: `uniform` (the default: every channel alike, the worst case for what
   * the projector keeps resident) or `skewed` (channel c, counted from 0, in proportion to about 1/(c + 1): a few
   * busy channels and a long tail, as chat traffic and issue 11's backlog).
   */
  activity?: 'uniform' | 'skewed';
  /**
   * Events of an earlier stream over the same channels that this one goes on from (0): its message ids start
   * above every id that one made (at most 3 apart per event), as live traffic after a backlog does. Without it a
   * second stream's messages land deep in the first's history, every one a late message.
   */
  after?: number;
}

export type DemoEvent = MessageSent | MessageDeleted | MessageEdited | MessageAcked | MembershipEvent;

/** Snowflake-like ids: large, 64-bit, decimal strings. */
const ID_BASE = 1_300_000_000_000_000_000n;
/**
 * Message n's id is ID_BASE + n << MESSAGE_SHIFT: ids 2^20 apart, four to a millisecond of snowflake time, so a
 * channel's messages span many milliseconds and a join's floor (the start of its millisecond) falls among them.
 * Packed closer, a whole stream's ids shared a millisecond or two and no join ever cut a message.
 */
const MESSAGE_SHIFT = 20n;
const messageId = (n: bigint) => (ID_BASE + (n << MESSAGE_SHIFT)).toString();

export function createDemoStream(options: DemoStreamOptions): { next: () => DemoEvent } {
  const uint32 = seededRandom(options.seed);
  const random = () => uint32() / 4294967296;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const members = Math.min(options.membersPerChannel ?? 8, options.users);
  const channelId = (c: number) => (ID_BASE + 1_000_000n + BigInt(c)).toString();
  const userId = (u: number) => (ID_BASE + 2_000_000n + BigInt(u)).toString();
  const memberOf = (c: number) => userId((c * 7 + Math.floor(random() * members)) % options.users);
  let clock = Date.UTC(2026, 10, 22, 10);
  let nextMessage = 3n * BigInt(options.after ?? 0);
  /** The last few message ids per channel, for acks and deletions: bounded, whatever the stream length. */
  const recent = Array.from({ length: options.channels }, () => [] as string[]);
  let previous: DemoEvent | undefined;
  const membership = options.membership ?? true;
  // Log-uniform over 1..channels, less one: one draw either way, so the rest of the stream draws the same.
  const logChannels = Math.log(options.channels + 1);
  const pickChannel =
    options.activity === 'skewed'
      ? () => Math.min(options.channels - 1, Math.floor(Math.exp(random() * logChannels)) - 1)
      : () => Math.floor(random() * options.channels);

  function next(): DemoEvent {
    clock += Math.floor(random() * 50);
    const at = new Date(clock).toISOString();
    const c = pickChannel();
    const channel_id = channelId(c);
    const seen = recent[c] ?? [];
    const roll = random();
    let event: DemoEvent;
    if (previous !== undefined && roll < 0.02) {
      event = previous; // a duplicate delivery
    } else if (roll < 0.58 || seen.length === 0) {
      nextMessage += 1n + BigInt(Math.floor(random() * 3));
      // About 5% arrive late: an id a little below ones already sent.
      const late = random() < 0.05 && nextMessage > 20n;
      const message_id = messageId(late ? nextMessage - 1n - BigInt(Math.floor(random() * 10)) : nextMessage);
      const author_id = memberOf(c);
      const mentions = random();
      const mention_user_ids =
        mentions < 0.15 ? Array.from({ length: 1 + Math.floor(random() * 3) }, () => memberOf(c)) : [];
      if (random() < 0.03) mention_user_ids.push(author_id);
      event = {
        type: 'message_sent',
        v: 1,
        channel_id,
        message_id,
        author_id,
        mention_user_ids,
        sent_at: at,
      };
      // About 1% of all events: @everyone, with the names of a mention (the same draws as before it came).
      if (mentions < 0.018) event.mention_everyone = true;
      seen.push(message_id);
      if (seen.length > 32) seen.shift();
    } else if (roll < 0.6) {
      // A recent message's mentions change (mostly to none or one member); a tenth of edits, those with two
      // names, mention @everyone too (the same draw decides: the stream's other events stay as they were).
      const names = random();
      const mention_user_ids = Array.from({ length: Math.floor(names * 2.5) }, () => memberOf(c));
      event = {
        type: 'message_edited',
        v: 1,
        channel_id,
        message_id: pick(seen),
        mention_user_ids,
        edited_at: at,
      };
      if (names >= 0.9) event.mention_everyone = true;
    } else if (roll < 0.66) {
      // Mostly a recent message; now and then one not sent yet (a deletion that arrives first).
      const message_id =
        random() < 0.1 ? messageId(nextMessage + 1n + BigInt(Math.floor(random() * 5))) : pick(seen);
      event = { type: 'message_deleted', v: 1, channel_id, message_id, deleted_at: at };
    } else if (roll < 0.67 && membership) {
      // 1% of all events: a user joins or leaves at the time of the channel's latest id (the ids are snowflakes,
      // so a join's floor falls among the channel's messages), now and then a millisecond earlier: ties and stale
      // ones (the latest time wins, a leave on a tie). Half of them are one of the channel's members, half a
      // newcomer who never writes or acks there, whose unread messages are exactly those from the join's floor on.
      const user_id = userId((c * 7 + Math.floor(random() * 2 * members)) % options.users);
      const when = new Date(snowflakeTimeMs(seen.at(-1) ?? '0') - Math.floor(random() * 2)).toISOString();
      event =
        random() < 0.5
          ? { type: 'member_joined', v: 1, channel_id, user_id, joined_at: when }
          : { type: 'member_left', v: 1, channel_id, user_id, left_at: when };
    } else {
      const manual = random() < 0.04;
      const message_id = manual
        ? pick(seen)
        : (seen.at(-1 - Math.floor(random() * Math.min(3, seen.length))) ?? '1');
      event = {
        type: 'message_acked',
        v: 1,
        channel_id,
        user_id: memberOf(c),
        message_id,
        manual,
        acked_at: at,
      };
    }
    previous = event;
    return event;
  }
  return { next };
}
