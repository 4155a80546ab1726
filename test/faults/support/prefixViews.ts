/**
 * Every answer a correct service may give for one (user, channel) while it is part-way through a channel's
 * history: the read state after any prefix of the channel's messages-topic events combined with any prefix of
 * its acks-topic events (the two topics are consumed independently, each in order). An answer outside this set
 * is wrong whatever the service's lag. Computed incrementally (one pass over the messages per distinct state of
 * the user's acks-topic events: pointer and membership), not with the reference model's brute force, so long
 * histories stay cheap.
 */
import type { AckEvent, MessageEvent, MessageSent } from '../../../src/contract/events.ts';
import { SNOWFLAKE_EPOCH_MS, type Snowflake } from '../../../src/contract/snowflake.ts';

/** The wire fields of a read state (POST /v1/read-states/query), the ones compared. */
export interface WireView {
  channel_id: Snowflake;
  last_acked_message_id: Snowflake | null;
  last_message_id: Snowflake | null;
  unread_count: number;
  mention_count: number;
  /** Compared against the model at the end (compareWithModel), not part-way (not tracked here). */
  first_unread_message_id?: Snowflake | null;
}

export function viewKey(view: WireView): string {
  return JSON.stringify([
    view.channel_id,
    view.last_acked_message_id,
    view.last_message_id,
    view.unread_count,
    view.mention_count,
  ]);
}

export function prefixViews(
  user: Snowflake,
  channel: Snowflake,
  messages: readonly MessageEvent[],
  acks: readonly AckEvent[],
): Set<string> {
  // The user's pointer and membership after each prefix of the acks topic (only the user's own events move
  // them), as docs/semantics.md: a manual ack sets the pointer, another moves it forward only; the membership
  // event with the latest time wins, a leave on a tie.
  type Membership = { left: boolean; at: number } | undefined;
  const states = new Map<string, { pointer: Snowflake | null; membership: Membership }>();
  let pointer: Snowflake | null = null;
  let membership: Membership;
  const note = () => {
    states.set(JSON.stringify([pointer, membership?.left, membership?.at]), { pointer, membership });
  };
  note();
  for (const event of acks) {
    if (event.user_id !== user) continue;
    if (event.type === 'message_acked') {
      if (event.manual || pointer === null || BigInt(event.message_id) > BigInt(pointer)) {
        pointer = event.message_id;
      }
    } else {
      const left = event.type === 'member_left';
      const at = Date.parse(left ? event.left_at : event.joined_at);
      if (
        membership === undefined ||
        at > membership.at ||
        (at === membership.at && left && !membership.left)
      ) {
        membership = { left, at };
      }
    }
    note();
  }
  const lastIds = lastMessageIds(messages);
  const views = new Set<string>();
  for (const { pointer: at, membership: joined } of states.values()) {
    if (joined?.left === true) {
      // Left: no pointer and nothing counts until a later join; the channel's last message still shows.
      for (const last of lastIds) {
        views.add(
          viewKey({
            channel_id: channel,
            last_acked_message_id: null,
            last_message_id: last,
            unread_count: 0,
            mention_count: 0,
          }),
        );
      }
      continue;
    }
    // Messages made before a join (by their snowflake time) never count; a join gives a read state.
    const joinedAt = joined === undefined ? null : BigInt(joined.at - SNOWFLAKE_EPOCH_MS);
    const sent = new Set<Snowflake>();
    const deleted = new Set<Snowflake>();
    const live = new Map<Snowflake, MessageSent>();
    /** Each message's latest edit by edited_at (kept for ids not sent yet), as docs/semantics.md. */
    const edits = new Map<Snowflake, { at: number; mentions: readonly Snowflake[]; everyone: boolean }>();
    const counts = (message: MessageSent) =>
      message.author_id !== user &&
      (at === null || BigInt(message.message_id) > BigInt(at)) &&
      (joinedAt === null || BigInt(message.message_id) >> 22n >= joinedAt);
    const mentionsUser = (message: MessageSent) =>
      (edits.get(message.message_id)?.mentions ?? message.mention_user_ids).includes(user);
    const mentionsEveryone = (message: MessageSent) =>
      edits.get(message.message_id)?.everyone ?? message.mention_everyone === true;
    /** Named by someone else in a message, which gives a read state (as an ack does: `at` not null). */
    let named = false;
    const nameSeen = (message: MessageSent) => {
      if (message.author_id !== user && mentionsUser(message)) named = true;
    };
    let unread = 0;
    /** Counted messages naming the user, and counted @everyone messages not naming them. */
    let mentions = 0;
    let everyoneOnly = 0;
    /** Adds (sign 1) or takes away (-1) what a live message counts for. */
    const count = (message: MessageSent, sign: 1 | -1) => {
      if (!counts(message)) return;
      unread += sign;
      if (mentionsUser(message)) mentions += sign;
      else if (mentionsEveryone(message)) everyoneOnly += sign;
    };
    const emit = (i: number) =>
      views.add(
        viewKey({
          channel_id: channel,
          last_acked_message_id: at,
          last_message_id: lastIds[i] ?? null,
          unread_count: unread,
          // @everyone counts for users with a read state only.
          mention_count: mentions + (at !== null || named || joined !== undefined ? everyoneOnly : 0),
        }),
      );
    emit(0);
    messages.forEach((event, i) => {
      if (event.type === 'message_sent') {
        if (!sent.has(event.message_id) && !deleted.has(event.message_id)) {
          sent.add(event.message_id);
          live.set(event.message_id, event);
          count(event, 1);
          nameSeen(event);
        }
      } else if (event.type === 'message_edited') {
        const editedAt = Date.parse(event.edited_at);
        const held = edits.get(event.message_id);
        if (!deleted.has(event.message_id) && (held === undefined || editedAt > held.at)) {
          const message = live.get(event.message_id);
          if (message !== undefined) count(message, -1);
          edits.set(event.message_id, {
            at: editedAt,
            mentions: event.mention_user_ids,
            everyone: event.mention_everyone === true,
          });
          if (message !== undefined) {
            count(message, 1);
            nameSeen(message);
          }
        }
      } else {
        deleted.add(event.message_id);
        const gone = live.get(event.message_id);
        if (gone !== undefined) {
          count(gone, -1);
          live.delete(event.message_id);
        }
      }
      emit(i + 1);
    });
  }
  return views;
}

/** The channel's last live message id after each prefix of its messages (index i: after i events). */
function lastMessageIds(messages: readonly MessageEvent[]): (Snowflake | null)[] {
  const sent = new Set<Snowflake>();
  const deleted = new Set<Snowflake>();
  const live = new Set<bigint>();
  let max: bigint | null = null;
  const result: (Snowflake | null)[] = [null];
  for (const event of messages) {
    const id = BigInt(event.message_id);
    if (event.type === 'message_edited') {
      // Edits change no live set.
    } else if (event.type === 'message_sent') {
      if (!sent.has(event.message_id) && !deleted.has(event.message_id)) {
        sent.add(event.message_id);
        live.add(id);
        if (max === null || id > max) max = id;
      }
    } else {
      deleted.add(event.message_id);
      if (live.delete(id) && id === max) {
        max = null;
        for (const other of live) if (max === null || other > max) max = other;
      }
    }
    result.push(max?.toString() ?? null);
  }
  return result;
}
