import { z } from 'zod';
import { fitsInUint64, MAX_SNOWFLAKE, SNOWFLAKE_PATTERN } from './snowflake.ts';

/**
 * The error for a value of the wrong JSON type names what arrived, so a dead-lettered record explains itself.
 * Zod calls this only on failure: the success path builds no strings.
 */
function mustBe(rule: string, hintForNumbers = '') {
  return (issue: { readonly input?: unknown }): string => {
    const input = issue.input;
    if (input === undefined) return 'is required';
    if (typeof input === 'string') return rule;
    const kind = input === null ? 'null' : Array.isArray(input) ? 'an array' : `a ${typeof input}`;
    return `${rule}; got ${kind}${typeof input === 'number' ? hintForNumbers : ''}`;
  };
}

const SNOWFLAKE_RULE = `must be a decimal string of an unsigned 64-bit integer (1-20 digits, no leading zeros, at most ${MAX_SNOWFLAKE})`;

/**
 * Shape first (aborting, so the range check never sees a non-number), then range. The regex also gives the
 * JSON Schema its `pattern`; the range has no JSON Schema form, so the description states it.
 */
export const snowflake = z
  .string({ error: mustBe(SNOWFLAKE_RULE, ' (send ids as strings: JSON numbers lose precision above 2^53)') })
  .regex(SNOWFLAKE_PATTERN, { error: SNOWFLAKE_RULE, abort: true })
  .refine(fitsInUint64, { error: SNOWFLAKE_RULE })
  .meta({
    description: `Snowflake id: an unsigned 64-bit integer as a decimal string with no leading zeros, 0 to ${MAX_SNOWFLAKE} (the 64-bit maximum).`,
  });

const TIMESTAMP_RULE =
  'must be an RFC 3339 date-time with Z or a numeric offset, e.g. 2024-05-01T12:00:00.000Z';

/** RFC 3339: a date-time with `Z` or a numeric offset. */
const timestampFormat = z.iso.datetime({ offset: true, error: mustBe(TIMESTAMP_RULE) });
const timestamp = timestampFormat.meta({
  description: 'RFC 3339 date-time with Z or a numeric offset, e.g. 2024-05-01T12:00:00.000Z',
});

/** Zod's own pattern for `timestamp` (its whole check), for the decoder's fast path. */
export const TIMESTAMP_PATTERN = new RegExp(z.toJSONSchema(timestampFormat).pattern ?? '(?!)');

export const MAX_MENTIONS = 1000;

/**
 * @everyone: the message mentions every user with a read state in its channel but its author. Optional, and
 * left out of the decoded event when it was (false is its meaning then), so events without it stay as they were.
 */
const mentionEveryone = z
  .boolean({ error: mustBe('must be true or false') })
  .optional()
  .meta({
    description:
      'The message mentions everyone in the channel (every user with a read state there) but its author, as @everyone does. Role mentions are resolved by the publisher into mention_user_ids.',
  });

export const messageSentSchema = z
  .object({
    type: z.literal('message_sent'),
    v: z.literal(1),
    channel_id: snowflake,
    message_id: snowflake,
    author_id: snowflake,
    mention_user_ids: z
      .array(snowflake, { error: mustBe('must be an array of snowflake id strings') })
      .max(MAX_MENTIONS, { error: `must list at most ${MAX_MENTIONS} users` })
      .default([]),
    mention_everyone: mentionEveryone,
    sent_at: timestamp,
  })
  .meta({
    title: 'message_sent v1',
    description: 'A message was posted. Topic: messages; record key: channel_id. Unknown fields are ignored.',
  });

export const messageDeletedSchema = z
  .object({
    type: z.literal('message_deleted'),
    v: z.literal(1),
    channel_id: snowflake,
    message_id: snowflake,
    deleted_at: timestamp,
  })
  .meta({
    title: 'message_deleted v1',
    description:
      'A message was deleted. Topic: messages; record key: channel_id. Unknown fields are ignored.',
  });

export const messageEditedSchema = z
  .object({
    type: z.literal('message_edited'),
    v: z.literal(1),
    channel_id: snowflake,
    message_id: snowflake,
    // Required: an edit states the whole new set, so leaving it out must not silently clear every mention.
    mention_user_ids: z
      .array(snowflake, { error: mustBe('must be an array of snowflake id strings') })
      .max(MAX_MENTIONS, { error: `must list at most ${MAX_MENTIONS} users` }),
    // Part of the new mention set too: an edit that leaves it out takes @everyone away.
    mention_everyone: mentionEveryone,
    edited_at: timestamp,
  })
  .meta({
    title: 'message_edited v1',
    description:
      "A message's text changed: mention_user_ids and mention_everyone are its whole new mention set (the author stays). Of several edits of one message, the latest edited_at counts. Topic: messages; record key: channel_id. Unknown fields are ignored.",
  });

export const messageAckedSchema = z
  .object({
    type: z.literal('message_acked'),
    v: z.literal(1),
    channel_id: snowflake,
    user_id: snowflake,
    message_id: snowflake,
    manual: z.boolean({ error: mustBe('must be true or false') }).default(false),
    acked_at: timestamp,
  })
  .meta({
    title: 'message_acked v1',
    description:
      'A user read a channel up to message_id (manual: they marked it unread there). Topic: acks; record key: channel_id. Unknown fields are ignored.',
  });

export const memberJoinedSchema = z
  .object({
    type: z.literal('member_joined'),
    v: z.literal(1),
    channel_id: snowflake,
    user_id: snowflake,
    joined_at: timestamp,
  })
  .meta({
    title: 'member_joined v1',
    description:
      "A user joined a channel: it gives them a read state, and messages made before joined_at (by their snowflake time) never count for them. Of a pair's membership events the latest time wins, a leave on a tie. Topic: acks; record key: channel_id. Unknown fields are ignored.",
  });

export const memberLeftSchema = z
  .object({
    type: z.literal('member_left'),
    v: z.literal(1),
    channel_id: snowflake,
    user_id: snowflake,
    left_at: timestamp,
  })
  .meta({
    title: 'member_left v1',
    description:
      "A user left a channel: until a later join the pair has no read state and counts nothing. Of a pair's membership events the latest time wins, a leave on a tie. Topic: acks; record key: channel_id. Unknown fields are ignored.",
  });

export type MessageSent = z.output<typeof messageSentSchema>;
export type MessageDeleted = z.output<typeof messageDeletedSchema>;
export type MessageEdited = z.output<typeof messageEditedSchema>;
export type MessageAcked = z.output<typeof messageAckedSchema>;
export type MemberJoined = z.output<typeof memberJoinedSchema>;
export type MemberLeft = z.output<typeof memberLeftSchema>;
/** What a publisher may send: optional fields may be left out. */
export type MessageSentInput = z.input<typeof messageSentSchema>;
export type MessageDeletedInput = z.input<typeof messageDeletedSchema>;
export type MessageEditedInput = z.input<typeof messageEditedSchema>;
export type MessageAckedInput = z.input<typeof messageAckedSchema>;
export type MemberJoinedInput = z.input<typeof memberJoinedSchema>;
export type MemberLeftInput = z.input<typeof memberLeftSchema>;

/** Events on the messages topic. */
export type MessageEvent = MessageSent | MessageDeleted | MessageEdited;
/** Membership events, on the acks topic. */
export type MembershipEvent = MemberJoined | MemberLeft;
/** Events on the acks topic. */
export type AckEvent = MessageAcked | MembershipEvent;
/** Every event the projector folds. */
export type ChatEvent = MessageEvent | AckEvent;
/** Every event a publisher may send, before defaults are filled in. */
export type ChatEventInput =
  | MessageSentInput
  | MessageDeletedInput
  | MessageEditedInput
  | MessageAckedInput
  | MemberJoinedInput
  | MemberLeftInput;

/** Each version of each event type: the decoder picks the schema from `type` and `v`. */
export const eventSchemas = {
  message_sent: { 1: messageSentSchema },
  message_deleted: { 1: messageDeletedSchema },
  message_edited: { 1: messageEditedSchema },
  message_acked: { 1: messageAckedSchema },
  member_joined: { 1: memberJoinedSchema },
  member_left: { 1: memberLeftSchema },
} as const;

export type EventType = keyof typeof eventSchemas;

/** `eventSchemas` typed for lookup by values read off the wire. */
const schemasByType: Readonly<Record<EventType, Readonly<Record<number, z.ZodType<ChatEvent>>>>> =
  eventSchemas;

export const EVENT_TYPES = Object.keys(eventSchemas) as readonly EventType[];

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && Object.hasOwn(schemasByType, value);
}

/** The schema for this version of the event type, or undefined when `v` is not one we support. */
export function schemaFor(type: EventType, v: unknown): z.ZodType<ChatEvent> | undefined {
  const versions = schemasByType[type];
  return typeof v === 'number' && Object.hasOwn(versions, v) ? versions[v] : undefined;
}

export function supportedVersions(type: EventType): readonly number[] {
  return Object.keys(schemasByType[type]).map(Number);
}

/** The two input topics, by role; their names come from configuration. */
export type TopicKind = 'messages' | 'acks';

/** Which topic carries each event type. Both topics are keyed by channel_id and must be co-partitioned. */
export const eventTopic = {
  message_sent: 'messages',
  message_deleted: 'messages',
  message_edited: 'messages',
  message_acked: 'acks',
  member_joined: 'acks',
  member_left: 'acks',
} as const satisfies Record<EventType, TopicKind>;
