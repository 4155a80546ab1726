import { describe, expect, it } from 'vitest';
import { MAX_EVENT_BYTES } from '../../src/contract/decode.ts';
import { encodeEvent } from '../../src/contract/encode.ts';
import type { ChatEventInput } from '../../src/contract/events.ts';
import { InvalidEventError } from '../../src/contract/invalidEventError.ts';
import { MAX_SNOWFLAKE } from '../../src/contract/snowflake.ts';

function thrownBy(run: () => unknown): InvalidEventError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidEventError);
    return error as InvalidEventError;
  }
  throw new Error('expected encodeEvent to throw');
}

describe('encodeEvent', () => {
  it('keys the record by channel_id and writes the full event, defaults filled in', () => {
    const encoded = encodeEvent({
      type: 'message_acked',
      v: 1,
      channel_id: '77',
      user_id: '5',
      message_id: '900',
      acked_at: '2024-05-01T12:00:00Z',
    });
    expect(encoded.key).toBe('77');
    expect(JSON.parse(encoded.value)).toEqual({
      type: 'message_acked',
      v: 1,
      channel_id: '77',
      user_id: '5',
      message_id: '900',
      manual: false,
      acked_at: '2024-05-01T12:00:00Z',
    });
  });

  it('writes an empty mention list rather than leaving it out', () => {
    const { value } = encodeEvent({
      type: 'message_sent',
      v: 1,
      channel_id: '1',
      message_id: '2',
      author_id: '3',
      sent_at: '2024-05-01T12:00:00Z',
    });
    expect(value).toBe(
      '{"type":"message_sent","v":1,"channel_id":"1","message_id":"2","author_id":"3","mention_user_ids":[],"sent_at":"2024-05-01T12:00:00Z"}',
    );
  });

  it('drops fields the contract does not know', () => {
    const input = {
      type: 'message_deleted',
      v: 1,
      channel_id: '1',
      message_id: '2',
      deleted_at: '2024-05-01T12:00:00Z',
      reason: 'spam',
    } as ChatEventInput;
    expect(JSON.parse(encodeEvent(input).value)).not.toHaveProperty('reason');
  });

  it('stays under the decoder size limit at the largest valid event', () => {
    const { value } = encodeEvent({
      type: 'message_sent',
      v: 1,
      channel_id: MAX_SNOWFLAKE,
      message_id: MAX_SNOWFLAKE,
      author_id: MAX_SNOWFLAKE,
      mention_user_ids: Array.from({ length: 1000 }, () => MAX_SNOWFLAKE),
      sent_at: '2024-05-01T12:00:00.123456789+05:30',
    });
    expect(new TextEncoder().encode(value).byteLength).toBeLessThan(MAX_EVENT_BYTES / 2);
  });

  it('throws naming every bad field and what it must be', () => {
    const error = thrownBy(() =>
      encodeEvent({
        type: 'message_sent',
        v: 1,
        channel_id: 123 as unknown as string,
        message_id: '0456',
        author_id: '789',
        mention_user_ids: ['1', '18446744073709551616'],
        sent_at: 'now',
      }),
    );
    expect(error.code).toBe('invalid_event');
    expect(error.problems).toEqual([
      expect.stringMatching(/^channel_id: must be a decimal string.*got a number/),
      expect.stringMatching(/^message_id: must be a decimal string/),
      expect.stringMatching(/^mention_user_ids\[1\]: must be a decimal string/),
      expect.stringMatching(/^sent_at: must be an RFC 3339 date-time/),
    ]);
    expect(error.message).toMatch(
      /^Invalid message_sent event; fix these fields before publishing:\n {2}channel_id: /,
    );
  });

  it('throws for a missing required field', () => {
    const input = {
      type: 'message_acked',
      v: 1,
      channel_id: '1',
      message_id: '2',
      acked_at: '2024-05-01T12:00:00Z',
    };
    expect(thrownBy(() => encodeEvent(input as ChatEventInput)).problems).toEqual(['user_id: is required']);
  });

  it('throws for an unknown type or version, and for a non-object', () => {
    expect(
      thrownBy(() => encodeEvent({ type: 'message_pinned' } as unknown as ChatEventInput)).problems,
    ).toEqual([
      'type: must be one of message_sent, message_deleted, message_edited, message_acked, member_joined, member_left; got "message_pinned"',
    ]);
    const v2 = { type: 'message_deleted', v: 2 } as unknown as ChatEventInput;
    expect(thrownBy(() => encodeEvent(v2)).problems).toEqual(['v: must be one of 1; got 2']);
    expect(thrownBy(() => encodeEvent(null as unknown as ChatEventInput)).problems).toEqual([
      '(value): must be an object; got null',
    ]);
  });
});
