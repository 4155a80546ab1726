import {
  MAX_MENTIONS,
  TIMESTAMP_PATTERN,
  type ChatEvent,
  type EventType,
  type MessageSent,
} from './events.ts';
import { isSnowflake as isSnowflakeText } from './snowflake.ts';

const isSnowflake = (value: unknown): value is string => typeof value === 'string' && isSnowflakeText(value);
const isTimestamp = (value: unknown): value is string =>
  typeof value === 'string' && TIMESTAMP_PATTERN.test(value);

const isOptionalBoolean = (value: unknown): value is boolean | undefined =>
  value === undefined || typeof value === 'boolean';

function mentionsOf(value: unknown): string[] | undefined {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_MENTIONS) return undefined;
  for (const id of value) if (!isSnowflake(id)) return undefined;
  return value.slice() as string[];
}

/**
 * The version 1 event in `fields` when it is valid, built as its zod schema would build it (known fields only,
 * defaults filled), without zod: zod's generic walk was a tenth of the projector's time per event. Undefined
 * means "not sure": the caller then asks zod, which also words the error. A property test holds the two equal.
 */
export function decodeValid(type: EventType, fields: Record<string, unknown>): ChatEvent | undefined {
  const { channel_id: channelId, message_id: messageId } = fields;
  if (fields.type !== type || fields.v !== 1 || !isSnowflake(channelId)) return undefined;
  switch (type) {
    case 'member_joined': {
      const { user_id: userId, joined_at: joinedAt } = fields;
      if (!isSnowflake(userId) || !isTimestamp(joinedAt)) return undefined;
      return { type, v: 1, channel_id: channelId, user_id: userId, joined_at: joinedAt };
    }
    case 'member_left': {
      const { user_id: userId, left_at: leftAt } = fields;
      if (!isSnowflake(userId) || !isTimestamp(leftAt)) return undefined;
      return { type, v: 1, channel_id: channelId, user_id: userId, left_at: leftAt };
    }
  }
  // Every other event names a message.
  if (!isSnowflake(messageId)) return undefined;
  switch (type) {
    case 'message_sent': {
      const { author_id: authorId, sent_at: sentAt, mention_everyone: everyone } = fields;
      const mentions = mentionsOf(fields.mention_user_ids);
      if (
        !isSnowflake(authorId) ||
        mentions === undefined ||
        !isOptionalBoolean(everyone) ||
        !isTimestamp(sentAt)
      )
        return undefined;
      const event: MessageSent = {
        type,
        v: 1,
        channel_id: channelId,
        message_id: messageId,
        author_id: authorId,
        mention_user_ids: mentions,
        sent_at: sentAt,
      };
      // Only when sent, as zod leaves an optional field out (no spread: this is the hot path).
      if (everyone !== undefined) event.mention_everyone = everyone;
      return event;
    }
    case 'message_deleted': {
      const { deleted_at: deletedAt } = fields;
      if (!isTimestamp(deletedAt)) return undefined;
      return { type, v: 1, channel_id: channelId, message_id: messageId, deleted_at: deletedAt };
    }
    case 'message_edited': {
      const { edited_at: editedAt, mention_everyone: everyone } = fields;
      const mentions =
        fields.mention_user_ids === undefined ? undefined : mentionsOf(fields.mention_user_ids);
      if (mentions === undefined || !isOptionalBoolean(everyone) || !isTimestamp(editedAt)) return undefined;
      return {
        type,
        v: 1,
        channel_id: channelId,
        message_id: messageId,
        mention_user_ids: mentions,
        edited_at: editedAt,
        ...(everyone === undefined ? {} : { mention_everyone: everyone }),
      };
    }
    case 'message_acked': {
      const { user_id: userId, manual = false, acked_at: ackedAt } = fields;
      if (!isSnowflake(userId) || typeof manual !== 'boolean' || !isTimestamp(ackedAt)) return undefined;
      return {
        type,
        v: 1,
        channel_id: channelId,
        user_id: userId,
        message_id: messageId,
        manual,
        acked_at: ackedAt,
      };
    }
  }
}
