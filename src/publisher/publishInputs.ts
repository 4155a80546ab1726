import type {
  ChatEventInput,
  EventType,
  MemberJoinedInput,
  MemberLeftInput,
  MessageAckedInput,
  MessageDeletedInput,
  MessageEditedInput,
  MessageSentInput,
} from '../contract/events.ts';
import { InvalidEventError } from '../contract/invalidEventError.ts';

/**
 * What the SDK's publish methods take. The contract's own input types, except that `type` and `v` may be left
 * out (the method names the type; this SDK speaks version 1) and the timestamp may be a `Date`, sent as its ISO
 * string. The timestamp is still required: the SDK never stamps an event with its own clock, because the time
 * an event happened is the publisher's to state. `Stamp` names the timestamp field.
 */
type PublishInput<Input extends { type: string }, Stamp extends keyof Input & string> = Omit<
  Input,
  'type' | 'v' | Stamp
> & { readonly type?: Input['type']; readonly v?: 1 } & { readonly [K in Stamp]: string | Date };

export type PublishMessageSent = PublishInput<MessageSentInput, 'sent_at'>;
export type PublishMessageDeleted = PublishInput<MessageDeletedInput, 'deleted_at'>;
export type PublishMessageEdited = PublishInput<MessageEditedInput, 'edited_at'>;
export type PublishMessageAcked = PublishInput<MessageAckedInput, 'acked_at'>;
export type PublishMemberJoined = PublishInput<MemberJoinedInput, 'joined_at'>;
export type PublishMemberLeft = PublishInput<MemberLeftInput, 'left_at'>;

/** An entry of `publishBatch`: here `type` is required, since it decides the schema and the topic. */
export type PublishEvent =
  | (PublishMessageSent & { readonly type: 'message_sent' })
  | (PublishMessageDeleted & { readonly type: 'message_deleted' })
  | (PublishMessageEdited & { readonly type: 'message_edited' })
  | (PublishMessageAcked & { readonly type: 'message_acked' })
  | (PublishMemberJoined & { readonly type: 'member_joined' })
  | (PublishMemberLeft & { readonly type: 'member_left' });

const TIMESTAMP_FIELD = {
  message_sent: 'sent_at',
  message_deleted: 'deleted_at',
  message_edited: 'edited_at',
  message_acked: 'acked_at',
  member_joined: 'joined_at',
  member_left: 'left_at',
} as const satisfies Record<EventType, string>;

/** Fills in `type` and `v` and turns a `Date` timestamp into its ISO string; the schema checks the rest. */
export function toEventInput(type: EventType, input: object): ChatEventInput {
  const fields = input as Record<string, unknown>;
  if (fields.type !== undefined && fields.type !== type) {
    throw new InvalidEventError(`${type} event`, [
      `type: must be ${type} here; got ${JSON.stringify(fields.type)}`,
    ]);
  }
  const field = TIMESTAMP_FIELD[type];
  let timestamp = fields[field];
  if (timestamp instanceof Date) {
    if (Number.isNaN(timestamp.getTime())) {
      throw new InvalidEventError(`${type} event`, [`${field}: is an invalid Date`]);
    }
    timestamp = timestamp.toISOString();
  }
  // The schema validates the result; this only shapes it.
  return { v: 1, ...fields, type, [field]: timestamp } as ChatEventInput;
}
