/** fast-check generators for valid contract inputs, shared by the contract's property tests. */
import fc from 'fast-check';
import type {
  ChatEventInput,
  MessageAckedInput,
  MessageDeletedInput,
  MessageEditedInput,
  MessageSentInput,
  MemberJoinedInput,
  MemberLeftInput,
} from '../../src/contract/events.ts';
import { MAX_SNOWFLAKE } from '../../src/contract/snowflake.ts';

/** Any unsigned 64-bit integer as a decimal string, with the two ends of the range drawn often. */
export const snowflakeArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('0', '1', '9007199254740993', MAX_SNOWFLAKE),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
);

/** RFC 3339 with `Z` or a numeric offset, millisecond or no fraction. */
export const timestampArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.date({
      min: new Date('1970-01-01T00:00:00Z'),
      max: new Date('9999-12-31T23:59:59Z'),
      noInvalidDate: true,
    }),
    fc.constantFrom('Z', '+00:00', '+02:00', '-05:30', '+14:00', '-23:59'),
    fc.boolean(),
  )
  .map(([date, offset, fraction]) => {
    const iso = date.toISOString();
    return `${fraction ? iso.slice(0, -1) : iso.slice(0, 19)}${offset}`;
  });

export const messageSentArb: fc.Arbitrary<MessageSentInput> = fc.record(
  {
    type: fc.constant('message_sent' as const),
    v: fc.constant(1 as const),
    channel_id: snowflakeArb,
    message_id: snowflakeArb,
    author_id: snowflakeArb,
    mention_user_ids: fc.array(snowflakeArb, { maxLength: 20 }),
    mention_everyone: fc.boolean(),
    sent_at: timestampArb,
  },
  { requiredKeys: ['type', 'v', 'channel_id', 'message_id', 'author_id', 'sent_at'] },
);

export const messageDeletedArb: fc.Arbitrary<MessageDeletedInput> = fc.record({
  type: fc.constant('message_deleted' as const),
  v: fc.constant(1 as const),
  channel_id: snowflakeArb,
  message_id: snowflakeArb,
  deleted_at: timestampArb,
});

export const messageEditedArb: fc.Arbitrary<MessageEditedInput> = fc.record(
  {
    type: fc.constant('message_edited' as const),
    v: fc.constant(1 as const),
    channel_id: snowflakeArb,
    message_id: snowflakeArb,
    mention_user_ids: fc.array(snowflakeArb, { maxLength: 20 }),
    mention_everyone: fc.boolean(),
    edited_at: timestampArb,
  },
  { requiredKeys: ['type', 'v', 'channel_id', 'message_id', 'mention_user_ids', 'edited_at'] },
);

export const messageAckedArb: fc.Arbitrary<MessageAckedInput> = fc.record(
  {
    type: fc.constant('message_acked' as const),
    v: fc.constant(1 as const),
    channel_id: snowflakeArb,
    user_id: snowflakeArb,
    message_id: snowflakeArb,
    manual: fc.boolean(),
    acked_at: timestampArb,
  },
  { requiredKeys: ['type', 'v', 'channel_id', 'user_id', 'message_id', 'acked_at'] },
);

export const memberJoinedArb: fc.Arbitrary<MemberJoinedInput> = fc.record({
  type: fc.constant('member_joined' as const),
  v: fc.constant(1 as const),
  channel_id: snowflakeArb,
  user_id: snowflakeArb,
  joined_at: timestampArb,
});

export const memberLeftArb: fc.Arbitrary<MemberLeftInput> = fc.record({
  type: fc.constant('member_left' as const),
  v: fc.constant(1 as const),
  channel_id: snowflakeArb,
  user_id: snowflakeArb,
  left_at: timestampArb,
});

export const chatEventInputArb: fc.Arbitrary<ChatEventInput> = fc.oneof(
  messageSentArb,
  messageDeletedArb,
  messageEditedArb,
  messageAckedArb,
  memberJoinedArb,
  memberLeftArb,
);
