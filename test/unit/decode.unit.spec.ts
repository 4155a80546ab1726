import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEvent, MAX_EVENT_BYTES } from '../../src/contract/decode.ts';
import type { DecodeResult } from '../../src/contract/decode.ts';
import { encodeEvent } from '../../src/contract/encode.ts';
import { eventTopic, type TopicKind } from '../../src/contract/events.ts';
import { REJECTION_CODES } from '../../src/contract/rejection.ts';
import type { Rejection, RejectionCode } from '../../src/contract/rejection.ts';
import { chatEventInputArb } from './eventArbitraries.ts';

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);

const sent = {
  type: 'message_sent',
  v: 1,
  channel_id: '123',
  message_id: '456',
  author_id: '789',
  sent_at: '2024-05-01T12:00:00.000Z',
};
const deleted = {
  type: 'message_deleted',
  v: 1,
  channel_id: '123',
  message_id: '456',
  deleted_at: '2024-05-01T12:05:00Z',
};
const acked = {
  type: 'message_acked',
  v: 1,
  channel_id: '123',
  user_id: '42',
  message_id: '456',
  acked_at: '2024-05-01T12:01:00+02:00',
};

/** Decodes a JSON value; the key defaults to the value's channel_id, as a well-behaved publisher sends it. */
function decodeJson(value: unknown, options: { key?: string | null; topic?: TopicKind } = {}): DecodeResult {
  const channelId = (value as { channel_id?: unknown } | null)?.channel_id;
  const key = options.key === undefined ? String(channelId) : options.key;
  return decodeEvent(bytes(JSON.stringify(value)), key === null ? null : bytes(key), options.topic);
}

function rejectionOf(result: DecodeResult): Rejection {
  if (result.ok) throw new Error(`expected a rejection, decoded ${JSON.stringify(result.event)}`);
  return result.rejection;
}

function eventOf(result: DecodeResult) {
  if (!result.ok) throw new Error(`expected an event, got ${JSON.stringify(result.rejection)}`);
  return result.event;
}

describe('decodeEvent accepts', () => {
  it('each event type, on its own topic and with no topic stated', () => {
    expect(eventOf(decodeJson(sent, { topic: 'messages' }))).toEqual({ ...sent, mention_user_ids: [] });
    expect(eventOf(decodeJson(deleted, { topic: 'messages' }))).toEqual(deleted);
    expect(eventOf(decodeJson(acked, { topic: 'acks' }))).toEqual({ ...acked, manual: false });
    expect(eventOf(decodeJson(acked)).type).toBe('message_acked');
  });

  it('fills the defaults: no mentions, not manual', () => {
    const event = eventOf(decodeJson(sent));
    expect(event.type === 'message_sent' && event.mention_user_ids).toEqual([]);
    const ack = eventOf(decodeJson(acked));
    expect(ack.type === 'message_acked' && ack.manual).toBe(false);
    const manual = eventOf(decodeJson({ ...acked, manual: true }));
    expect(manual.type === 'message_acked' && manual.manual).toBe(true);
  });

  it('ignores unknown fields and leaves them out of the event', () => {
    const event = eventOf(decodeJson({ ...sent, trace_id: 'abc', nested: { deep: [1, 2] }, v2_field: null }));
    expect(event).toEqual({ ...sent, mention_user_ids: [] });
    expect(event).not.toHaveProperty('trace_id');
  });

  it.each(['0', '18446744073709551615'])('the snowflake %s at either end of the range', (id) => {
    const event = eventOf(decodeJson({ ...sent, channel_id: id, message_id: id, author_id: id }));
    expect(event.channel_id).toBe(id);
    expect(event.type === 'message_sent' && event.message_id).toBe(id);
  });

  it('exactly 1000 mentions', () => {
    const mentions = Array.from({ length: 1000 }, (_, i) => String(1_000_000 + i));
    const event = eventOf(decodeJson({ ...sent, mention_user_ids: mentions }));
    expect(event.type === 'message_sent' && event.mention_user_ids).toEqual(mentions);
  });

  it.each([
    '2024-05-01T12:00:00Z',
    '2024-05-01T12:00:00.123Z',
    '2024-05-01T12:00:00+02:00',
    '2024-05-01T12:00:00.5-05:30',
    '2024-02-29T23:59:59+14:00',
  ])('the timestamp %s, kept as sent', (sentAt) => {
    const event = eventOf(decodeJson({ ...sent, sent_at: sentAt }));
    expect(event.type === 'message_sent' && event.sent_at).toBe(sentAt);
  });

  it('a UTF-8 byte order mark before the JSON', () => {
    const value = new Uint8Array([0xef, 0xbb, 0xbf, ...bytes(JSON.stringify(sent))]);
    expect(decodeEvent(value, bytes('123')).ok).toBe(true);
  });
});

describe('decodeEvent rejects', () => {
  /** One realistic bad record per code: the table must cover every code. */
  const cases: { code: RejectionCode; why: string; run: () => DecodeResult; says: RegExp }[] = [
    {
      code: 'too_large',
      why: 'a value over 64 KiB',
      run: () => decodeJson({ ...sent, blob: 'x'.repeat(70_000) }),
      says: /bytes; the limit is 65536/,
    },
    {
      code: 'missing_value',
      why: 'a tombstone',
      run: () => decodeEvent(null, bytes('123')),
      says: /no value/,
    },
    {
      code: 'missing_value',
      why: 'an empty value',
      run: () => decodeEvent(new Uint8Array(0), bytes('123')),
      says: /empty/,
    },
    {
      code: 'invalid_utf8',
      why: 'a Latin-1 byte inside a string',
      run: () => {
        const good = bytes(JSON.stringify({ ...sent, note: 'caf_' }));
        const bad = Uint8Array.from(good);
        bad[good.indexOf('_'.charCodeAt(0))] = 0xe9;
        return decodeEvent(bad, bytes('123'));
      },
      says: /not valid UTF-8/,
    },
    {
      code: 'invalid_json',
      why: 'a truncated record',
      run: () => decodeEvent(bytes(JSON.stringify(sent).slice(0, 40)), bytes('123')),
      says: /not JSON/,
    },
    {
      code: 'not_an_object',
      why: 'an array of events',
      run: () => decodeJson([sent], { key: '123' }),
      says: /must be a JSON object; got an array/,
    },
    {
      code: 'not_an_object',
      why: 'JSON null',
      run: () => decodeJson(null, { key: '123' }),
      says: /got null/,
    },
    {
      code: 'unknown_type',
      why: 'an event type from the future',
      run: () => decodeJson({ ...sent, type: 'message_pinned' }),
      says: /^type: unknown event type "message_pinned"; expected one of message_sent, message_deleted, message_edited, message_acked/,
    },
    {
      code: 'unknown_type',
      why: 'no type',
      run: () => decodeJson({ ...sent, type: undefined }),
      says: /^type: is required/,
    },
    {
      code: 'unknown_type',
      why: 'a type that is an Object.prototype key',
      run: () => decodeJson({ ...sent, type: 'constructor' }),
      says: /"constructor"/,
    },
    {
      code: 'wrong_topic',
      why: 'an ack on the messages topic',
      run: () => decodeJson(acked, { topic: 'messages' }),
      says: /message_acked belongs on the acks topic, not the messages topic/,
    },
    {
      code: 'wrong_topic',
      why: 'a message on the acks topic',
      run: () => decodeJson(sent, { topic: 'acks' }),
      says: /message_sent belongs on the messages topic/,
    },
    {
      code: 'unsupported_version',
      why: 'version 2',
      run: () => decodeJson({ ...sent, v: 2 }),
      says: /^v: message_sent version 2 is not supported; supported: 1$/,
    },
    {
      code: 'unsupported_version',
      why: 'the version as a string',
      run: () => decodeJson({ ...acked, v: '1' }),
      says: /version "1" is not supported/,
    },
    {
      code: 'unsupported_version',
      why: 'no version',
      run: () => decodeJson({ ...deleted, v: undefined }),
      says: /^v: is required; message_deleted supports version 1/,
    },
    {
      code: 'invalid_schema',
      why: 'an id as a JSON number',
      run: () => decodeJson({ ...sent, channel_id: 123 }, { key: '123' }),
      says: /^channel_id: must be a decimal string of an unsigned 64-bit integer .*got a number/,
    },
    {
      code: 'invalid_schema',
      why: 'a missing field',
      run: () => decodeJson({ ...acked, user_id: undefined }),
      says: /^user_id: is required$/,
    },
    {
      code: 'invalid_schema',
      why: 'a bad mention',
      run: () => decodeJson({ ...sent, mention_user_ids: ['1', '007'] }),
      says: /^mention_user_ids\[1\]: must be a decimal string/,
    },
    {
      code: 'invalid_schema',
      why: '@everyone as a string',
      run: () => decodeJson({ ...sent, mention_everyone: 'yes' }),
      says: /^mention_everyone: must be true or false$/,
    },
    {
      code: 'key_mismatch',
      why: 'a key of another channel',
      run: () => decodeJson(sent, { key: '124' }),
      says: /the record key "124" is not the channel_id "123"/,
    },
    {
      code: 'key_mismatch',
      why: 'no key',
      run: () => decodeJson(sent, { key: null }),
      says: /no key; it must be the channel_id "123"/,
    },
  ];

  it('with a case here for every code', () => {
    expect(new Set(cases.map(({ code }) => code))).toEqual(new Set(REJECTION_CODES));
  });

  it.each(cases)('$code: $why', ({ code, run, says }) => {
    const rejection = rejectionOf(run());
    expect(rejection.code).toBe(code);
    expect(rejection.message).toMatch(says);
  });

  it.each([
    ['one past the 64-bit maximum', '18446744073709551616'],
    ['a leading zero', '0123'],
    ['21 digits', '123456789012345678901'],
    ['the empty string', ''],
    ['a negative number', '-5'],
  ])('a snowflake that is %s, naming the field', (_name, id) => {
    const rejection = rejectionOf(decodeJson({ ...acked, user_id: id }));
    expect(rejection.code).toBe('invalid_schema');
    expect(rejection.message).toMatch(/^user_id: must be a decimal string of an unsigned 64-bit integer/);
  });

  it.each(['channel_id', 'message_id', 'author_id'])('%s given as a JSON number', (field) => {
    const rejection = rejectionOf(decodeJson({ ...sent, [field]: 456 }, { key: '123' }));
    expect(rejection.code).toBe('invalid_schema');
    expect(rejection.message).toContain(`${field}: must be a decimal string`);
  });

  it('1001 mentions', () => {
    const mentions = Array.from({ length: 1001 }, (_, i) => String(i + 1));
    const rejection = rejectionOf(decodeJson({ ...sent, mention_user_ids: mentions }));
    expect(rejection).toEqual({
      code: 'invalid_schema',
      message: 'mention_user_ids: must list at most 1000 users',
    });
  });

  it.each([
    ['no offset', '2024-05-01T12:00:00'],
    ['a date only', '2024-05-01'],
    ['a space for T', '2024-05-01 12:00:00Z'],
    ['an impossible date', '2023-02-29T12:00:00Z'],
    ['words', 'yesterday'],
    ['an out-of-range offset', '2024-05-01T12:00:00+25:00'],
    ['epoch milliseconds', 1714564800000],
  ])('a timestamp with %s', (_name, sentAt) => {
    const rejection = rejectionOf(decodeJson({ ...sent, sent_at: sentAt }));
    expect(rejection.code).toBe('invalid_schema');
    expect(rejection.message).toMatch(/^sent_at: must be an RFC 3339 date-time/);
  });

  it('names several bad fields and counts the rest', () => {
    const rejection = rejectionOf(
      decodeJson({ ...acked, user_id: 1, message_id: 2, manual: 'yes', acked_at: 'now' }, { key: '123' }),
    );
    expect(rejection.code).toBe('invalid_schema');
    expect(rejection.message).toMatch(
      /^user_id: .*; message_id: .*; manual: must be true or false; and 1 more$/,
    );
  });

  it('a key that differs from the channel_id in any byte', () => {
    expect(rejectionOf(decodeJson(sent, { key: '0123' })).code).toBe('key_mismatch');
    expect(rejectionOf(decodeJson(sent, { key: '123 ' })).code).toBe('key_mismatch');
    expect(rejectionOf(decodeJson(sent, { key: '' })).code).toBe('key_mismatch');
    expect(
      rejectionOf(decodeEvent(bytes(JSON.stringify(sent)), new Uint8Array([0x31, 0x32, 0xb3]))).code,
    ).toBe('key_mismatch');
  });
});

describe('the 64 KiB limit', () => {
  /** A valid message_sent padded with an unknown field to exactly `size` bytes. */
  function paddedTo(size: number): Uint8Array {
    const overhead = bytes(JSON.stringify({ ...sent, pad: '' })).byteLength;
    const value = bytes(JSON.stringify({ ...sent, pad: 'x'.repeat(size - overhead) }));
    expect(value.byteLength).toBe(size);
    return value;
  }

  it('accepts exactly 65536 bytes', () => {
    expect(MAX_EVENT_BYTES).toBe(65_536);
    const event = eventOf(decodeEvent(paddedTo(65_536), bytes('123')));
    expect('message_id' in event && event.message_id).toBe('456');
  });

  it('rejects 65537 bytes before parsing them', () => {
    expect(rejectionOf(decodeEvent(paddedTo(65_537), bytes('123')))).toEqual({
      code: 'too_large',
      message: 'the value is 65537 bytes; the limit is 65536',
    });
    // Not even valid UTF-8 or JSON matters once the size is over.
    expect(rejectionOf(decodeEvent(new Uint8Array(65_537).fill(0xff), null)).code).toBe('too_large');
  });
});

describe('decodeEvent properties', () => {
  it('decodes what encodeEvent encodes, on the right topic', () => {
    fc.assert(
      fc.property(chatEventInputArb, (input) => {
        const { key, value } = encodeEvent(input);
        const topic = eventTopic[input.type];
        const event = eventOf(decodeEvent(bytes(value), bytes(key), topic));
        expect(event).toEqual({
          ...input,
          ...(input.type === 'message_sent' ? { mention_user_ids: input.mention_user_ids ?? [] } : {}),
          ...(input.type === 'message_acked' ? { manual: input.manual ?? false } : {}),
        });
      }),
      { numRuns: 500 },
    );
  });

  const knownCodes = new Set<string>(REJECTION_CODES);
  const check = (result: DecodeResult): void => {
    if (!result.ok) {
      expect(knownCodes).toContain(result.rejection.code);
      expect(result.rejection.message.length).toBeGreaterThan(0);
    }
  };

  it('never throws on arbitrary bytes and always gives a known code', () => {
    fc.assert(
      fc.property(
        fc.option(fc.uint8Array({ maxLength: 512 })),
        fc.option(fc.uint8Array({ maxLength: 24 })),
        fc.option(fc.constantFrom<TopicKind>('messages', 'acks'), { nil: undefined }),
        (value, key, topic) => {
          const result = decodeEvent(value, key, topic);
          check(result);
          // Random bytes essentially never form a valid event; if one did, it is still well-formed.
          if (value === null)
            expect(result).toMatchObject({ ok: false, rejection: { code: 'missing_value' } });
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never throws on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.option(fc.string()), (json, key) => {
        const result = decodeEvent(bytes(JSON.stringify(json)), key === null ? null : bytes(key));
        check(result);
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws on a valid event with one field replaced by any JSON value', () => {
    fc.assert(
      fc.property(chatEventInputArb, fc.jsonValue(), fc.nat(), (input, replacement, pick) => {
        const fields = Object.keys(input);
        const field = fields[pick % fields.length] ?? 'type';
        const result = decodeJson({ ...input, [field]: replacement }, { key: input.channel_id });
        check(result);
        // The record is well-formed JSON of an object, so only the field-level checks can object.
        if (!result.ok) {
          expect(['unknown_type', 'unsupported_version', 'invalid_schema', 'key_mismatch']).toContain(
            result.rejection.code,
          );
        }
      }),
      { numRuns: 1000 },
    );
  });
});
