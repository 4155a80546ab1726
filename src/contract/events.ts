import { z } from 'zod';
import { isSnowflake } from './snowflake.ts';

export const snowflake = z
  .string()
  .refine(isSnowflake, 'must be a decimal string of an unsigned 64-bit integer (1-20 digits, no leading zeros)');

/** RFC 3339: a date-time with `Z` or a numeric offset. */
const timestamp = z.iso.datetime({ offset: true });

export const MAX_MENTIONS = 1000;

export const messageSentSchema = z.object({
  type: z.literal('message_sent'),
  v: z.literal(1),
  channel_id: snowflake,
  message_id: snowflake,
  author_id: snowflake,
  mention_user_ids: z.array(snowflake).max(MAX_MENTIONS).default([]),
  sent_at: timestamp,
});

export const messageDeletedSchema = z.object({
  type: z.literal('message_deleted'),
  v: z.literal(1),
  channel_id: snowflake,
  message_id: snowflake,
  deleted_at: timestamp,
});

export const messageAckedSchema = z.object({
  type: z.literal('message_acked'),
  v: z.literal(1),
  channel_id: snowflake,
  user_id: snowflake,
  message_id: snowflake,
  manual: z.boolean().default(false),
  acked_at: timestamp,
});

export type MessageSent = z.output<typeof messageSentSchema>;
export type MessageDeleted = z.output<typeof messageDeletedSchema>;
export type MessageAcked = z.output<typeof messageAckedSchema>;
/** What a publisher may send: optional fields may be left out. */
export type MessageSentInput = z.input<typeof messageSentSchema>;
export type MessageDeletedInput = z.input<typeof messageDeletedSchema>;
export type MessageAckedInput = z.input<typeof messageAckedSchema>;

/** Events on the messages topic. */
export type MessageEvent = MessageSent | MessageDeleted;
/** Every event the projector folds. */
export type ChatEvent = MessageSent | MessageDeleted | MessageAcked;

/** Each version of each event type: the decoder picks the schema from `type` and `v`. */
export const eventSchemas = {
  message_sent: { 1: messageSentSchema },
  message_deleted: { 1: messageDeletedSchema },
  message_acked: { 1: messageAckedSchema },
} as const;

export type EventType = keyof typeof eventSchemas;
