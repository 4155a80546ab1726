import type { ChatEvent, MessageSent } from '../../src/contract/events.ts';
import { SNOWFLAKE_EPOCH_MS, type Snowflake } from '../../src/contract/snowflake.ts';
import type { ChannelHead } from '../../src/projection/channelHeadOf.ts';
import type { ReadStateView } from '../../src/projection/readStateOf.ts';

/**
 * The semantics of docs/semantics.md written as plainly as possible, to check the projection against: a fold
 * into sets and maps, with every count recomputed by brute force over the channel's whole history. Shares no
 * code with src/projection (not even the snowflake comparison).
 */
export type ReferenceModel = {
  apply(event: ChatEvent): void;
  readState(userId: Snowflake, channelId: Snowflake): ReadStateView;
  /** The user's read states, by channel id ascending (numerically). */
  readStatesOf(userId: Snowflake): ReadStateView[];
  /** Every read state, by user id then channel id, ascending. */
  allReadStates(): ReadStateView[];
  channelHead(channelId: Snowflake): ChannelHead;
};

export function createReferenceModel(): ReferenceModel {
  /** Per channel: the first message_sent of each id that was not ignored. */
  const sentByChannel = new Map<Snowflake, Map<Snowflake, MessageSent>>();
  /** Per channel: every id a message_deleted named. */
  const deletedByChannel = new Map<Snowflake, Set<Snowflake>>();
  /**
   * Per channel: each message's latest edit (by edited_at; an edit no later than the one held is ignored), also
   * of ids not sent yet, none of deleted ids. An edit's mentions (@everyone too) replace the message's.
   */
  const editsByChannel = new Map<Snowflake, Map<Snowflake, Edit>>();
  /** Per user: channel → pointer (null until the first ack), for each channel where the user has a read state. */
  const readStates = new Map<Snowflake, Map<Snowflake, Snowflake | null>>();
  /** Per "user channel": the membership event with the latest time (a leave on a tie). */
  const memberships = new Map<string, { left: boolean; at: number }>();
  const membershipOf = (userId: Snowflake, channelId: Snowflake) => memberships.get(`${userId} ${channelId}`);

  const sentIn = (channelId: Snowflake): Map<Snowflake, MessageSent> =>
    getOrCreate(sentByChannel, channelId, () => new Map<Snowflake, MessageSent>());
  const deletedIn = (channelId: Snowflake): Set<Snowflake> =>
    getOrCreate(deletedByChannel, channelId, () => new Set());
  const editsIn = (channelId: Snowflake) =>
    getOrCreate(editsByChannel, channelId, () => new Map<Snowflake, Edit>());
  const mentionsOf = (message: MessageSent): readonly Snowflake[] =>
    editsIn(message.channel_id).get(message.message_id)?.mentions ?? message.mention_user_ids;
  /** @everyone mentions every user with a read state in the channel but the author, and gives none. */
  const mentionsEveryone = (message: MessageSent): boolean =>
    editsIn(message.channel_id).get(message.message_id)?.everyone ?? message.mention_everyone === true;
  /** Being mentioned in a live message by someone else gives a read state, pointer null. */
  const mentionedIn = (message: MessageSent) => {
    for (const userId of mentionsOf(message)) {
      const ofUser = readStatesOfUser(userId);
      if (userId !== message.author_id && !ofUser.has(message.channel_id))
        ofUser.set(message.channel_id, null);
    }
  };
  const readStatesOfUser = (userId: Snowflake): Map<Snowflake, Snowflake | null> =>
    getOrCreate(readStates, userId, () => new Map<Snowflake, Snowflake | null>());

  const liveMessages = (channelId: Snowflake): MessageSent[] =>
    [...sentIn(channelId).values()].filter((message) => !deletedIn(channelId).has(message.message_id));

  const readState = (userId: Snowflake, channelId: Snowflake): ReadStateView => {
    const ofUser = readStatesOfUser(userId);
    const membership = membershipOf(userId, channelId);
    if (membership?.left === true) {
      // Left: no read state and nothing counts until a later join; the channel's last message still shows.
      return {
        user_id: userId,
        channel_id: channelId,
        has_read_state: false,
        last_acked_message_id: null,
        last_message_id: channelHead(channelId).last_message_id,
        unread_count: 0,
        mention_count: 0,
        first_unread_message_id: null,
      };
    }
    const pointer = ofUser.get(channelId) ?? null;
    const hasReadState = ofUser.has(channelId) || membership !== undefined;
    // Messages made before a join (by their snowflake time) never count.
    const joinedAt = membership === undefined ? null : BigInt(membership.at - SNOWFLAKE_EPOCH_MS);
    const unread = liveMessages(channelId).filter(
      (message) =>
        message.author_id !== userId &&
        (pointer === null || BigInt(message.message_id) > BigInt(pointer)) &&
        (joinedAt === null || BigInt(message.message_id) >> 22n >= joinedAt),
    );
    return {
      user_id: userId,
      channel_id: channelId,
      has_read_state: hasReadState,
      last_acked_message_id: pointer,
      last_message_id: channelHead(channelId).last_message_id,
      unread_count: unread.length,
      mention_count: hasReadState
        ? unread.filter((message) => mentionsEveryone(message) || mentionsOf(message).includes(userId)).length
        : 0,
      first_unread_message_id:
        unread
          .map((message) => BigInt(message.message_id))
          .reduce<bigint | null>((least, id) => (least === null || id < least ? id : least), null)
          ?.toString() ?? null,
    };
  };

  const channelHead = (channelId: Snowflake): ChannelHead => {
    const ids = liveMessages(channelId).map((message) => BigInt(message.message_id));
    const max = ids.reduce<bigint | null>((best, id) => (best === null || id > best ? id : best), null);
    return {
      channel_id: channelId,
      last_message_id: max?.toString() ?? null,
      live_message_count: ids.length,
    };
  };

  /** The channels where the user has a read state now, by id. */
  const withReadState = (userId: Snowflake): Snowflake[] =>
    [
      ...new Set([
        ...readStatesOfUser(userId).keys(),
        ...[...memberships.keys()]
          .filter((key) => key.startsWith(`${userId} `))
          .map((key) => key.split(' ')[1] ?? ''),
      ]),
    ]
      .filter((channelId) => readState(userId, channelId).has_read_state)
      .sort(byNumber);

  return {
    apply(event) {
      switch (event.type) {
        case 'message_sent': {
          const sent = sentIn(event.channel_id);
          if (sent.has(event.message_id) || deletedIn(event.channel_id).has(event.message_id)) return;
          sent.set(event.message_id, event);
          mentionedIn(event);
          return;
        }
        case 'message_deleted':
          deletedIn(event.channel_id).add(event.message_id);
          return;
        case 'message_edited': {
          if (deletedIn(event.channel_id).has(event.message_id)) return;
          const edits = editsIn(event.channel_id);
          const at = Date.parse(event.edited_at);
          const held = edits.get(event.message_id);
          if (held !== undefined && at <= held.at) return;
          edits.set(event.message_id, {
            at,
            mentions: event.mention_user_ids,
            everyone: event.mention_everyone === true,
          });
          const message = sentIn(event.channel_id).get(event.message_id);
          if (message !== undefined) mentionedIn(message);
          return;
        }
        case 'member_joined':
        case 'member_left': {
          const left = event.type === 'member_left';
          const at = Date.parse(left ? event.left_at : event.joined_at);
          const key = `${event.user_id} ${event.channel_id}`;
          const held = memberships.get(key);
          if (held === undefined || at > held.at || (at === held.at && left && !held.left)) {
            memberships.set(key, { left, at });
          }
          return;
        }
        case 'message_acked': {
          const ofUser = readStatesOfUser(event.user_id);
          const pointer = ofUser.get(event.channel_id) ?? null;
          const moves = event.manual || pointer === null || BigInt(event.message_id) > BigInt(pointer);
          ofUser.set(event.channel_id, moves ? event.message_id : pointer);
          return;
        }
      }
    },
    readState,
    readStatesOf: (userId) => withReadState(userId).map((channelId) => readState(userId, channelId)),
    allReadStates: () =>
      [...new Set([...readStates.keys(), ...[...memberships.keys()].map((key) => key.split(' ')[0] ?? '')])]
        .sort(byNumber)
        .flatMap((userId) => withReadState(userId).map((channelId) => readState(userId, channelId))),
    channelHead,
  };
}

type Edit = { at: number; mentions: readonly Snowflake[]; everyone: boolean };

function byNumber(a: Snowflake, b: Snowflake): number {
  const difference = BigInt(a) - BigInt(b);
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}
