import type {
  MemberJoined,
  MemberLeft,
  MessageAcked,
  MessageDeleted,
  MessageEdited,
  MessageSent,
} from '../../src/contract/events.ts';
import type { Snowflake } from '../../src/contract/snowflake.ts';

/** Events for tests, by named fields. The projection reads no timestamps, so every event has the same one. */
const AT = '2024-05-01T12:00:00.000Z';

export function sent(fields: {
  channel: Snowflake;
  id: Snowflake;
  author: Snowflake;
  mentions?: readonly Snowflake[];
  /** @everyone; left out of the event unless true, as publishers that do not use it send it. */
  everyone?: boolean;
}): MessageSent {
  return {
    type: 'message_sent',
    v: 1,
    channel_id: fields.channel,
    message_id: fields.id,
    author_id: fields.author,
    mention_user_ids: [...(fields.mentions ?? [])],
    ...(fields.everyone === true ? { mention_everyone: true } : {}),
    sent_at: AT,
  };
}

export function deleted(fields: { channel: Snowflake; id: Snowflake }): MessageDeleted {
  return { type: 'message_deleted', v: 1, channel_id: fields.channel, message_id: fields.id, deleted_at: AT };
}

/** An edit; `second` sets edited_at's seconds, so that edits of one message can come in any time order. */
export function edited(fields: {
  channel: Snowflake;
  id: Snowflake;
  mentions?: readonly Snowflake[];
  everyone?: boolean;
  second?: number;
}): MessageEdited {
  return {
    type: 'message_edited',
    v: 1,
    channel_id: fields.channel,
    message_id: fields.id,
    mention_user_ids: [...(fields.mentions ?? [])],
    ...(fields.everyone === true ? { mention_everyone: true } : {}),
    edited_at: `2024-05-01T12:00:${String(fields.second ?? 0).padStart(2, '0')}.000Z`,
  };
}

/** A join or leave `ms` milliseconds after the ids' epoch (Discord's): the first id of that ms is (ms << 22). */
export function joined(fields: { channel: Snowflake; user: Snowflake; ms: number }): MemberJoined {
  return {
    type: 'member_joined',
    v: 1,
    channel_id: fields.channel,
    user_id: fields.user,
    joined_at: new Date(DISCORD_EPOCH_MS + fields.ms).toISOString(),
  };
}

export function left(fields: { channel: Snowflake; user: Snowflake; ms: number }): MemberLeft {
  return {
    type: 'member_left',
    v: 1,
    channel_id: fields.channel,
    user_id: fields.user,
    left_at: new Date(DISCORD_EPOCH_MS + fields.ms).toISOString(),
  };
}

/** 2015-01-01: the snowflake epoch the projection uses unless configured otherwise. */
const DISCORD_EPOCH_MS = 1_420_070_400_000;

export function acked(fields: {
  channel: Snowflake;
  user: Snowflake;
  id: Snowflake;
  manual?: boolean;
}): MessageAcked {
  return {
    type: 'message_acked',
    v: 1,
    channel_id: fields.channel,
    user_id: fields.user,
    message_id: fields.id,
    manual: fields.manual ?? false,
    acked_at: AT,
  };
}
