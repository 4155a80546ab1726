import type {
  ChatEvent,
  MembershipEvent,
  MessageAcked,
  MessageDeleted,
  MessageEdited,
  MessageSent,
} from '../../contract/events.ts';
import { belowJoinFloor, SNOWFLAKE_EPOCH_MS, type Snowflake } from '../../contract/snowflake.ts';
import { formatSnowflakeWords, parseSnowflakeInto } from '../../contract/snowflakeWords.ts';
import type { ApplyOutcome } from '../applyOutcome.ts';
import type { ChannelHead } from '../channelHeadOf.ts';
import type { ReadStateView } from '../readStateOf.ts';
import { ChannelState } from './channelState.ts';
import { ABSENT, DEAD, LIVE } from './countedIds.ts';
import { firstUnread } from './firstUnread.ts';

/**
 * The projection (docs/semantics.md) over compact channel states: the same events give the same outcomes and
 * the same answers as applyEvent over a ProjectionStore, property-tested against the reference model, but each
 * channel is one object of typed arrays mutated in place, so an event costs a few array operations instead of
 * building, encoding and writing records (decision 0003).
 *
 * No eager counters: every count is a rank query answered from the id sets in O(log n), so nothing has to be
 * kept in step when a message comes, goes or lands below a pointer.
 */
export class CompactProjection {
  readonly #channels = new Map<Snowflake, ChannelState>();
  readonly #blockSize: number | undefined;
  /** Parsed ids: [0, 1] the event's message id, [2, 3] a scratch for the greatest live id. */
  readonly #words = new Uint32Array(4);
  readonly #head = this.#words.subarray(2, 4);
  /**
   * The members whose answers the last applied event changed (whose counts or pointer moved), in its channel;
   * the channel's own answers (head, live count, epoch) changed too when it was a message event. For the writer
   * that mirrors changes: it reads this right after apply().
   */
  readonly touched: number[] = [];
  readonly #snowflakeEpochMs: number;

  /**
   * `blockSize`: entries per block of every id set (small in tests, so blocks split early). `snowflakeEpochMs`:
   * the ids' epoch, to find a join's first id from its time (Discord's unless the ids use another).
   */
  constructor(options: { blockSize?: number; snowflakeEpochMs?: number } = {}) {
    this.#blockSize = options.blockSize;
    this.#snowflakeEpochMs = options.snowflakeEpochMs ?? SNOWFLAKE_EPOCH_MS;
  }

  get channelCount(): number {
    return this.#channels.size;
  }

  channel(channelId: Snowflake): ChannelState | undefined {
    return this.#channels.get(channelId);
  }

  /** Puts a channel's state (loaded from disk). */
  setChannel(channelId: Snowflake, channel: ChannelState): void {
    this.#channels.set(channelId, channel);
  }

  /** Drops a channel's state from memory (evicted: it is on disk). */
  deleteChannel(channelId: Snowflake): void {
    this.#channels.delete(channelId);
  }

  /** A new, empty channel state with this projection's block size. */
  newChannel(): ChannelState {
    return new ChannelState(this.#blockSize);
  }

  apply(event: ChatEvent): ApplyOutcome {
    return this.applyIn(this.channelFor(event.channel_id), event);
  }

  /** apply() for a caller that holds the event's channel already (`channelFor` of its channel_id). */
  applyIn(channel: ChannelState, event: ChatEvent): ApplyOutcome {
    this.touched.length = 0;
    if (event.type === 'member_joined' || event.type === 'member_left') {
      return this.#membership(channel, event);
    }
    // Every other event names one message of one channel.
    const words = this.#words;
    parseSnowflakeInto(event.message_id, words);
    const hi = words[0] as number;
    const lo = words[1] as number;
    switch (event.type) {
      case 'message_sent':
        return this.#sent(channel, event, hi, lo);
      case 'message_deleted':
        return this.#deleted(channel, event, hi, lo);
      case 'message_edited':
        return this.#edited(channel, event, hi, lo);
      case 'message_acked':
        return this.#acked(channel, event, hi, lo);
    }
  }

  readState(userId: Snowflake, channelId: Snowflake): ReadStateView {
    return readStateView(this.#channels.get(channelId), userId, channelId);
  }

  channelHead(channelId: Snowflake): ChannelHead {
    const channel = this.#channels.get(channelId);
    return {
      channel_id: channelId,
      last_message_id: channel === undefined ? null : this.#lastMessageId(channel),
      live_message_count: channel?.messages.liveCount ?? 0,
    };
  }

  #lastMessageId(channel: ChannelState): Snowflake | null {
    const head = this.#head;
    return lastMessageId(channel, head);
  }

  /** The channel's state, made (empty) when this projection holds none. */
  channelFor(channelId: Snowflake): ChannelState {
    let channel = this.#channels.get(channelId);
    if (channel === undefined) {
      channel = this.newChannel();
      this.#channels.set(channelId, channel);
    }
    return channel;
  }

  #sent(channel: ChannelState, event: MessageSent, hi: number, lo: number): ApplyOutcome {
    const { messages } = channel;
    const seen = messages.state(0, hi, lo);
    if (seen === LIVE) return 'duplicate_message';
    if (seen === DEAD) return 'deleted_before_sent';

    const author = channel.member(event.author_id);
    if (!messages.aboveLive(hi, lo, this.#head)) channel.epoch++;
    messages.insert(0, hi, lo, true, author);
    channel.own.insert(author, hi, lo, true);
    this.touched.push(author);

    // An edit that came first decides the mentions.
    const pendingEveryone = channel.pendingEveryone.has(event.message_id);
    const pending = channel.deletePendingMentions(event.message_id);
    const everyone = pending === undefined ? event.mention_everyone === true : pendingEveryone;
    if (everyone) channel.addEveryone(hi, lo, author);
    let mentioned: number[] | undefined;
    if (pending === undefined) {
      for (const userId of event.mention_user_ids) {
        if (userId === event.author_id) continue;
        const member = channel.member(userId);
        if (mentioned?.includes(member) === true) continue;
        (mentioned ??= []).push(member);
      }
    } else {
      for (const member of pending) if (member !== author) (mentioned ??= []).push(member);
    }
    if (mentioned !== undefined) {
      for (const member of mentioned) {
        if (everyone) this.#named(channel, member);
        else this.#mention(channel, member, hi, lo);
      }
      // Absent from `messages` until now, its id has never had mentions listed (an edit before it keeps them
      // as pending).
      channel.addMentionsOf(hi, lo, mentioned);
    }
    return 'applied';
  }

  /**
   * A member named in an @everyone message: the message counts for them through `everyone` (once, however
   * named), but being named still gives a read state.
   */
  #named(channel: ChannelState, member: number): void {
    this.touched.push(member);
    channel.giveReadState(member);
  }

  #mention(channel: ChannelState, member: number, hi: number, lo: number): void {
    this.touched.push(member);
    // Revived when an edit mentions the member again.
    channel.mentioned.revive(member, hi, lo);
    // Being mentioned by someone else gives the user a read state, pointer null.
    channel.giveReadState(member);
  }

  /** As applyMessageEdited: the latest edited_at wins; kept for an id not sent yet, ignored for a deleted one. */
  #edited(channel: ChannelState, event: MessageEdited, hi: number, lo: number): ApplyOutcome {
    const { messages } = channel;
    const seen = messages.state(0, hi, lo);
    if (seen === DEAD) return 'edit_of_deleted';
    const editedAt = Date.parse(event.edited_at);
    const held = channel.editedAt.get(event.message_id);
    if (held !== undefined && editedAt <= held) return 'stale_edit';
    channel.setEditedAt(event.message_id, editedAt);
    const listed: number[] = [];
    for (const userId of event.mention_user_ids) {
      const member = channel.member(userId);
      if (!listed.includes(member)) listed.push(member);
    }
    const everyone = event.mention_everyone === true;
    if (seen === ABSENT) {
      channel.setPendingMentions(event.message_id, listed, everyone);
      return 'applied';
    }
    const author = messages.payloadOf(0, hi, lo);
    const before = channel.mentionsOf(hi, lo);
    const after = listed.filter((member) => member !== author);
    const wasEveryone = channel.isEveryone(hi, lo);
    if (wasEveryone !== everyone) {
      // Everyone's count moves below some pointers: as for a deletion, the epoch says so to the hot tier.
      channel.epoch++;
      this.touched.push(author);
      if (everyone) {
        channel.addEveryone(hi, lo, author);
        for (const member of before) {
          channel.mentioned.kill(member, hi, lo);
          this.touched.push(member);
        }
        for (const member of after) this.#named(channel, member);
      } else {
        channel.removeEveryone(hi, lo, author);
        for (const member of after) this.#mention(channel, member, hi, lo);
      }
    } else if (everyone) {
      for (const member of after) if (!before.includes(member)) this.#named(channel, member);
    } else {
      for (const member of before) {
        if (after.includes(member)) continue;
        channel.mentioned.kill(member, hi, lo);
        this.touched.push(member);
      }
      for (const member of after) if (!before.includes(member)) this.#mention(channel, member, hi, lo);
    }
    channel.setMentionsOf(hi, lo, after);
    return 'applied';
  }

  #deleted(channel: ChannelState, event: MessageDeleted, hi: number, lo: number): ApplyOutcome {
    const { messages } = channel;
    const seen = messages.state(0, hi, lo);
    if (seen === DEAD) return 'already_deleted';
    // Edits of a deleted message mean nothing any more.
    channel.setEditedAt(event.message_id, undefined);
    if (seen !== LIVE) {
      // A tombstone, so that a message_sent arriving later is ignored (and an edit that came first with it).
      channel.deletePendingMentions(event.message_id);
      messages.insert(0, hi, lo, false);
      return 'applied';
    }
    const author = messages.kill(0, hi, lo);
    channel.epoch++;
    channel.own.kill(author, hi, lo);
    this.touched.push(author);
    const everyone = channel.isEveryone(hi, lo);
    if (everyone) channel.removeEveryone(hi, lo, author);
    const mentioned = channel.mentionsOf(hi, lo);
    if (mentioned.length > 0) {
      // Named in an @everyone message, they were counted through `everyone`.
      if (!everyone) for (const member of mentioned) channel.mentioned.kill(member, hi, lo);
      this.touched.push(...mentioned);
      channel.setMentionsOf(hi, lo, []);
    }
    return 'applied';
  }

  /** The latest membership event of a pair by its time wins, a leave on a tie, whatever the order consumed. */
  #membership(channel: ChannelState, event: MembershipEvent): ApplyOutcome {
    const member = channel.member(event.user_id);
    const left = event.type === 'member_left';
    const at = Date.parse(left ? event.left_at : event.joined_at);
    if (channel.hasMembership(member)) {
      const held = channel.membershipAt(member);
      if (at < held || (at === held && (channel.isLeft(member) || !left))) return 'stale_membership';
    }
    const below = left ? null : belowJoinFloor(at, this.#snowflakeEpochMs);
    const words = this.#words;
    if (below !== null) parseSnowflakeInto(below, words);
    channel.setMembership(member, left, at, below !== null, words[0] as number, words[1] as number);
    // A join gives a read state; a leave answers none until a later join.
    if (!left) channel.giveReadState(member);
    this.touched.push(member);
    return 'applied';
  }

  #acked(channel: ChannelState, event: MessageAcked, hi: number, lo: number): ApplyOutcome {
    const member = channel.member(event.user_id);
    if (channel.hasPointer(member)) {
      const currentHi = channel.pointerHi(member);
      const currentLo = channel.pointerLo(member);
      const same = hi === currentHi && lo === currentLo;
      const below = hi < currentHi || (hi === currentHi && lo < currentLo);
      // A normal ack moves the pointer forward only; a manual one to exactly the acked id.
      if (same || (below && !event.manual)) return 'pointer_unchanged';
    }
    channel.setPointer(member, hi, lo);
    this.touched.push(member);
    return 'applied';
  }
}

const scratch = new Uint32Array(3);
/** A member's counting pointer (ChannelState.countingPointer). */
const counting = new Uint32Array(2);

function lastMessageId(channel: ChannelState, head: Uint32Array): Snowflake | null {
  return channel.messages.maxLive(head) ? formatSnowflakeWords(head[0] as number, head[1] as number) : null;
}

/** What the API serves for (user, channel), from the channel's state (undefined: nothing happened there). */
export function readStateView(
  channel: ChannelState | undefined,
  userId: Snowflake,
  channelId: Snowflake,
): ReadStateView {
  const member = channel?.memberOf(userId) ?? -1;
  const view = {
    user_id: userId,
    channel_id: channelId,
    has_read_state: false,
    last_acked_message_id: null as Snowflake | null,
    last_message_id: null as Snowflake | null,
    unread_count: 0,
    mention_count: 0,
    first_unread_message_id: null as Snowflake | null,
  };
  if (channel === undefined) return view;
  const { messages, own, mentioned } = channel;
  view.last_message_id = lastMessageId(channel, scratch);
  // Left: nothing counts, no read state, until a later join.
  if (member !== -1 && channel.isLeft(member)) return view;
  // Counted above the pointer, or above a join's floor when that is higher (no pointer: everything).
  let liveAbove = messages.liveCount;
  let ownAbove = member === -1 ? 0 : own.liveIn(member);
  if (member !== -1 && channel.hasReadState(member)) {
    view.has_read_state = true;
    if (channel.hasPointer(member)) {
      view.last_acked_message_id = formatSnowflakeWords(channel.pointerHi(member), channel.pointerLo(member));
    }
    if (channel.countingPointer(member, counting)) {
      const hi = counting[0] as number;
      const lo = counting[1] as number;
      liveAbove = messages.liveAbove(0, hi, lo);
      ownAbove = own.liveAboveIn(member, hi, lo);
      view.mention_count =
        mentioned.liveAboveIn(member, hi, lo) + channel.everyoneAbove(member, true, hi, lo);
    } else {
      view.mention_count = mentioned.liveIn(member) + channel.everyoneAbove(member, false, 0, 0);
    }
  }
  view.unread_count = liveAbove - ownAbove;
  if (firstUnread(channel, member, liveAbove, ownAbove, scratch)) {
    view.first_unread_message_id = formatSnowflakeWords(scratch[0] as number, scratch[1] as number);
  }
  return view;
}
