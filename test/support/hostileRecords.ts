/**
 * Every way a producer can get a record wrong, generated deterministically from a seed, each with what the
 * service must make of it: a dead letter with a given code, or (for odd but valid records) the event it must
 * apply. The existing poison kinds plus NUL bytes, invalid UTF-8 in key, value and headers, huge and odd
 * headers, tombstones, records on the wrong partition or topic, deep and odd JSON, and binary garbage.
 *
 * Expected codes follow the decoder's documented order (src/contract/rejection.ts): a record that is wrong in
 * two ways is avoided unless the order makes the answer certain. Every record is produced to an explicit
 * partition; only `wrong_partition` records are produced anywhere but where their key hashes to, and a
 * mismatching key is always chosen to hash to the same partition as the channel, so that `key_mismatch` and
 * `wrong_partition` cannot be confused whichever of the two a decoder checks first.
 */
import { Partitioners } from 'kafkajs';
import type {
  ChatEvent,
  MessageAcked,
  MessageDeleted,
  MessageSent,
  TopicKind,
} from '../../src/contract/events.ts';
import type { RejectionCode } from '../../src/contract/rejection.ts';
import type { Snowflake } from '../../src/contract/snowflake.ts';
import { seededRandom } from '../../src/ops/seededRandom.ts';

/** `wrong_partition` is issue 10's new code; listed here so this file does not wait for it. */
export type ExpectedOutcome = RejectionCode | 'wrong_partition' | 'valid';

export interface HostileRecord {
  kind: HostileKind;
  topic: TopicKind;
  /** Where the record is produced (always explicit). */
  partition: number;
  key: Buffer | null;
  value: Buffer | null;
  /** A header name given an array is sent once per element (duplicate header names). */
  headers: Record<string, Buffer | Buffer[]>;
  expected: ExpectedOutcome;
  /** For `valid` records: the event the projection must apply, as JSON.parse reads it (a repeated key's last value wins). */
  event?: ChatEvent;
}

/** Ids that exist in the stream when the record is sent, so a valid oddity changes real state. */
export interface HostileContext {
  channel: Snowflake;
  user: Snowflake;
  messageId: Snowflake;
}

/** What each kind of record is built from. */
interface Tools {
  ctx: HostileContext;
  random: () => number;
  partitions: number;
  /** The partition kafkajs's DefaultPartitioner (murmur2) picks for this key. */
  home: (key: Buffer) => number;
  /** The first candidate key that hashes to the channel's partition. */
  keyOnChannelPartition: (candidate: (i: number) => Buffer) => Buffer;
}

type Built = Omit<HostileRecord, 'kind' | 'partition' | 'headers'> & {
  partition?: number;
  headers?: HostileRecord['headers'];
};

const AT = '2026-11-22T10:00:00.000Z';
const utf8 = (text: string) => Buffer.from(text, 'utf8');
const json = (value: unknown) => utf8(JSON.stringify(value));

function sentOf({ ctx }: Tools, messageId = ctx.messageId): MessageSent {
  return {
    type: 'message_sent',
    v: 1,
    channel_id: ctx.channel,
    message_id: messageId,
    author_id: ctx.user,
    mention_user_ids: [],
    sent_at: AT,
  };
}

function ackOf({ ctx }: Tools, manual = false): MessageAcked {
  return {
    type: 'message_acked',
    v: 1,
    channel_id: ctx.channel,
    user_id: ctx.user,
    message_id: ctx.messageId,
    manual,
    acked_at: AT,
  };
}

function deletedOf({ ctx }: Tools): MessageDeleted {
  return {
    type: 'message_deleted',
    v: 1,
    channel_id: ctx.channel,
    message_id: ctx.messageId,
    deleted_at: AT,
  };
}

/** Every character as a JSON \uXXXX escape: the same string to a JSON parser, other bytes on the wire. */
function escaped(text: string): string {
  // ids and type names are ASCII: one UTF-16 unit per character.
  return Array.from(
    { length: text.length },
    (_, i) => `\\u${text.charCodeAt(i).toString(16).padStart(4, '0')}`,
  ).join('');
}

/** A valid record: the event on its own topic, keyed by its channel, on the partition the key hashes to. */
function valid(t: Tools, event: ChatEvent, value: Buffer = json(event)): Built {
  return {
    topic: event.type === 'message_acked' ? 'acks' : 'messages',
    key: utf8(t.ctx.channel),
    value,
    expected: 'valid',
    event,
  };
}

/** A record on the channel's topic and partition whose value is refused with `expected`. */
function refused(t: Tools, topic: TopicKind, value: Buffer | null, expected: ExpectedOutcome): Built {
  return { topic, key: utf8(t.ctx.channel), value, expected };
}

function randomBytes(random: () => number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}

const BUILDERS = {
  // --- the existing poison kinds (test/support/poisonRecords.ts), kept
  too_large: (t) => refused(t, 'messages', json({ ...sentOf(t), pad: 'x'.repeat(70_000) }), 'too_large'),
  too_large_garbage: (t) => refused(t, 'acks', randomBytes(t.random, 100_000), 'too_large'),
  tombstone: (t) => refused(t, 'messages', null, 'missing_value'),
  tombstone_on_acks: (t) => refused(t, 'acks', null, 'missing_value'),
  empty_value: (t) => refused(t, 'acks', Buffer.alloc(0), 'missing_value'),
  invalid_utf8_value: (t) => refused(t, 'messages', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'invalid_utf8'),
  invalid_json: (t) => refused(t, 'acks', utf8('{"type": "message_acked",'), 'invalid_json'),
  not_an_object: (t) => refused(t, 'messages', utf8('[1, 2, 3]'), 'not_an_object'),
  unknown_type: (t) => refused(t, 'messages', json({ ...sentOf(t), type: 'message_pinned' }), 'unknown_type'),
  wrong_topic_sent_on_acks: (t) => refused(t, 'acks', json(sentOf(t)), 'wrong_topic'),
  unsupported_version: (t) => refused(t, 'messages', json({ ...sentOf(t), v: 2 }), 'unsupported_version'),
  id_as_number: (t) =>
    refused(
      t,
      'messages',
      utf8(JSON.stringify(sentOf(t)).replace(/"author_id":"(\d+)"/, '"author_id":$1')),
      'invalid_schema',
    ),
  key_other_channel: (t) => ({
    ...valid(t, sentOf(t)),
    key: t.keyOnChannelPartition((i) => utf8((BigInt(t.ctx.channel) + BigInt(i + 1)).toString())),
    expected: 'key_mismatch',
    event: undefined,
  }),

  // --- NUL bytes: PostgreSQL text cannot hold them
  nul_garbage_on_acks: (t) =>
    refused(t, 'acks', Buffer.concat([Buffer.from([0x00, 0x01]), utf8('garbage')]), 'invalid_json'),
  nul_bytes_only: (t) => refused(t, 'messages', Buffer.alloc(16), 'invalid_json'),
  nul_inside_json: (t) => {
    const text = JSON.stringify(ackOf(t));
    return refused(t, 'acks', utf8(`${text.slice(0, 20)}\u0000${text.slice(20)}`), 'invalid_json');
  },
  nul_escape_in_type: (t) =>
    refused(t, 'acks', json({ ...ackOf(t), type: 'message_\u0000acked' }), 'unknown_type'),
  nul_escape_in_id: (t) =>
    refused(t, 'acks', json({ ...ackOf(t), message_id: `${t.ctx.messageId}\u0000` }), 'invalid_schema'),
  nul_escape_in_timestamp: (t) =>
    refused(t, 'messages', json({ ...sentOf(t), sent_at: `${AT}\u0000` }), 'invalid_schema'),
  key_with_nul: (t) => ({
    ...valid(t, ackOf(t)),
    key: t.keyOnChannelPartition((i) =>
      Buffer.concat([utf8(t.ctx.channel), Buffer.from([0x00]), utf8(String(i))]),
    ),
    expected: 'key_mismatch',
    event: undefined,
  }),

  // --- invalid UTF-8
  overlong_utf8: (t) =>
    refused(
      t,
      'acks',
      Buffer.concat([utf8('{"type":"'), Buffer.from([0xc0, 0xaf]), utf8('"}')]),
      'invalid_utf8',
    ),
  surrogate_utf8: (t) =>
    refused(
      t,
      'messages',
      Buffer.concat([utf8('{"x":"'), Buffer.from([0xed, 0xa0, 0x80]), utf8('"}')]),
      'invalid_utf8',
    ),
  truncated_utf8: (t) =>
    refused(t, 'messages', Buffer.concat([json(sentOf(t)), Buffer.from([0xe2, 0x82])]), 'invalid_utf8'),
  invalid_utf8_key: (t) => ({
    ...valid(t, ackOf(t)),
    key: t.keyOnChannelPartition((i) =>
      Buffer.concat([utf8(t.ctx.channel), Buffer.from([0xff, 0xfe]), utf8(String(i))]),
    ),
    expected: 'key_mismatch',
    event: undefined,
  }),
  binary_garbage: (t) => {
    const value = randomBytes(t.random, 1 + Math.floor(t.random() * 300));
    // 0xFF never occurs in UTF-8, so the record is certainly invalid_utf8 whatever else the bytes are.
    value[Math.floor(t.random() * value.length)] = 0xff;
    const key = t.random() < 0.3 ? null : randomBytes(t.random, Math.floor(t.random() * 17));
    return {
      topic: t.random() < 0.5 ? 'acks' : 'messages',
      key,
      value,
      expected: 'invalid_utf8',
      partition: key === null ? t.home(utf8(t.ctx.channel)) : t.home(key),
    };
  },

  // --- keys
  null_key: (t) => ({ ...valid(t, ackOf(t)), key: null, expected: 'key_mismatch', event: undefined }),
  huge_key: (t) => ({
    ...valid(t, sentOf(t)),
    key: t.keyOnChannelPartition((i) => utf8(`${t.ctx.channel}${'k'.repeat(100_000)}${i}`)),
    expected: 'key_mismatch',
    event: undefined,
  }),

  // --- partitions and topics
  wrong_partition: (t) => {
    const built = t.random() < 0.5 ? valid(t, ackOf(t)) : valid(t, sentOf(t));
    const home = t.home(utf8(t.ctx.channel));
    const partition = (home + 1 + Math.floor(t.random() * (t.partitions - 1))) % t.partitions;
    return { ...built, partition, expected: 'wrong_partition', event: undefined };
  },
  wrong_topic_acked_on_messages: (t) => refused(t, 'messages', json(ackOf(t)), 'wrong_topic'),

  // --- odd JSON that is not an event
  json_null: (t) => refused(t, 'acks', utf8('null'), 'not_an_object'),
  json_string: (t) => refused(t, 'acks', utf8('"message_acked"'), 'not_an_object'),
  json_number: (t) => refused(t, 'messages', utf8('1300000000001000001'), 'not_an_object'),
  json_trailing_garbage: (t) => refused(t, 'acks', utf8(`${JSON.stringify(ackOf(t))} x`), 'invalid_json'),
  deep_array: (t) =>
    refused(t, 'messages', utf8(`${'['.repeat(30_000)}${']'.repeat(30_000)}`), 'not_an_object'),
  deep_object_without_type: (t) =>
    refused(t, 'acks', utf8(`${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`), 'unknown_type'),
  lone_surrogate_type: (t) =>
    refused(
      t,
      'acks',
      utf8(JSON.stringify(ackOf(t)).replace('"message_acked"', '"\\ud800"')),
      'unknown_type',
    ),
  proto_type: (t) => {
    const { type: _type, ...rest } = ackOf(t);
    return refused(
      t,
      'acks',
      utf8(`{"__proto__":{"type":"message_acked"},${JSON.stringify(rest).slice(1)}`),
      'unknown_type',
    );
  },
  constructor_type: (t) => refused(t, 'acks', json({ ...ackOf(t), type: 'constructor' }), 'unknown_type'),
  version_as_string: (t) => refused(t, 'acks', json({ ...ackOf(t), v: '1' }), 'unsupported_version'),
  channel_id_as_number: (t) =>
    refused(
      t,
      'acks',
      utf8(JSON.stringify(ackOf(t)).replace(/"channel_id":"(\d+)"/, '"channel_id":$1')),
      'invalid_schema',
    ),
  id_leading_zero: (t) =>
    refused(t, 'acks', json({ ...ackOf(t), user_id: `0${t.ctx.user}` }), 'invalid_schema'),
  id_above_uint64: (t) =>
    refused(t, 'acks', json({ ...ackOf(t), message_id: '18446744073709551616' }), 'invalid_schema'),
  mentions_not_array: (t) =>
    refused(t, 'messages', json({ ...sentOf(t), mention_user_ids: t.ctx.user }), 'invalid_schema'),
  missing_timestamp: (t) => {
    const { acked_at: _at, ...rest } = ackOf(t);
    return refused(t, 'acks', json(rest), 'invalid_schema');
  },

  // --- headers (not part of the contract: a valid event with odd headers is applied)
  huge_header_refused: (t) => ({
    ...refused(t, 'acks', utf8('{"type":'), 'invalid_json'),
    headers: { 'x-huge': Buffer.alloc(256 * 1024, 'h') },
  }),
  huge_header_valid: (t) => ({ ...valid(t, ackOf(t)), headers: { 'x-huge': Buffer.alloc(256 * 1024, 'h') } }),
  nul_header_refused: (t) => ({
    ...refused(t, 'messages', utf8('[]'), 'not_an_object'),
    headers: { 'trace\u0000id': utf8('a\u0000b'), 'x-nul': Buffer.alloc(4) },
  }),
  nul_header_valid: (t) => ({ ...valid(t, ackOf(t)), headers: { 'trace\u0000id': utf8('a\u0000b') } }),
  invalid_utf8_header_refused: (t) => ({
    ...refused(t, 'messages', json({ ...sentOf(t), type: 'message_pinned' }), 'unknown_type'),
    headers: { 'x-bytes': Buffer.from([0xff, 0xfe, 0x00, 0xc0, 0xaf]) },
  }),
  invalid_utf8_header_valid: (t) => ({
    ...valid(t, ackOf(t)),
    headers: { 'x-bytes': Buffer.from([0xff, 0xfe, 0xed, 0xa0, 0x80]) },
  }),
  many_headers: (t) => ({
    ...refused(t, 'messages', null, 'missing_value'),
    headers: Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`x-h-${i}`, utf8(String(i))])),
  }),
  duplicate_header_names: (t) => ({
    ...refused(t, 'acks', json({ ...ackOf(t), manual: 'no' }), 'invalid_schema'),
    headers: { 'x-dup': [utf8('first'), utf8('second'), Buffer.from([0xff])] },
  }),

  // --- odd but valid JSON: applied like any event
  unicode_escaped_ids: (t) => {
    const event = ackOf(t);
    const text =
      `{"type":"${escaped(event.type)}","v":1,"channel_id":"${escaped(event.channel_id)}",` +
      `"user_id":"${escaped(event.user_id)}","message_id":"${escaped(event.message_id)}",` +
      `"manual":false,"acked_at":"${AT}"}`;
    return valid(t, event, utf8(text));
  },
  duplicate_json_keys: (t) => {
    const event = ackOf(t, false);
    const text =
      `{"type":"message_acked","v":1,"channel_id":"${event.channel_id}","user_id":"1","message_id":"1",` +
      `"manual":true,"acked_at":"${AT}","user_id":"${event.user_id}","message_id":"${event.message_id}","manual":false}`;
    return valid(t, event, utf8(text));
  },
  deep_unknown_field: (t) => {
    const event = sentOf(t, (BigInt(t.ctx.messageId) + 1n).toString());
    const body = JSON.stringify(event).slice(0, -1);
    return valid(t, event, utf8(`${body},"extra":${'['.repeat(20_000)}${']'.repeat(20_000)}}`));
  },
  nul_escape_in_unknown_field: (t) => {
    const event = ackOf(t, true);
    return valid(t, event, json({ ...event, note: 'a\u0000b\u0001' }));
  },
  whitespace_padded: (t) => {
    const event = deletedOf(t);
    return valid(t, event, utf8(`\n\t \r${JSON.stringify(event, null, 2)}\r\n \t`));
  },
  // TextDecoder drops a leading byte-order mark, so a BOM-prefixed event is the event (Windows tools write one).
  bom_prefixed: (t) => {
    const event = sentOf(t, (BigInt(t.ctx.messageId) + 2n).toString());
    return valid(t, event, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json(event)]));
  },
} satisfies Record<string, (tools: Tools) => Built>;

export type HostileKind = keyof typeof BUILDERS;

export const HOSTILE_KINDS = Object.keys(BUILDERS) as readonly HostileKind[];

/** The partition kafkajs's DefaultPartitioner (murmur2, as the Java client) picks for `key`. */
export function homePartition(key: Buffer | string, partitions: number): number {
  const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    offlineReplicas: [],
    partitionErrorCode: 0,
  }));
  return Partitioners.DefaultPartitioner()({
    topic: 'any',
    partitionMetadata,
    message: { key, value: null },
  });
}

export interface HostileRecords {
  /** The next record: kinds in a seeded order, each kind once per round, then a new order. */
  next(ctx: HostileContext): HostileRecord;
  /** A record of one kind. */
  build(kind: HostileKind, ctx: HostileContext): HostileRecord;
}

/** Same seed, same records (given the same contexts). `partitions` must be at least 2 (for `wrong_partition`). */
export function createHostileRecords(options: {
  seed: number;
  partitions: number;
  kinds?: readonly HostileKind[];
}): HostileRecords {
  const { partitions } = options;
  if (partitions < 2) throw new Error('hostile records need at least 2 partitions (wrong_partition)');
  const uint32 = seededRandom(options.seed);
  const random = () => uint32() / 4294967296;
  const kinds = options.kinds ?? HOSTILE_KINDS;
  let round: HostileKind[] = [];

  function build(kind: HostileKind, ctx: HostileContext): HostileRecord {
    const home = (key: Buffer) => homePartition(key, partitions);
    const channelHome = home(utf8(ctx.channel));
    const tools: Tools = {
      ctx,
      random,
      partitions,
      home,
      keyOnChannelPartition: (candidate) => {
        for (let i = 0; i < 1_000; i++) {
          const key = candidate(i);
          if (home(key) === channelHome) return key;
        }
        throw new Error(`no candidate key hashes to partition ${channelHome}`);
      },
    };
    const built: Built = BUILDERS[kind](tools);
    return {
      kind,
      ...built,
      headers: built.headers ?? {},
      partition: built.partition ?? (built.key === null ? channelHome : home(built.key)),
    };
  }

  return {
    build,
    next(ctx) {
      if (round.length === 0) {
        round = [...kinds];
        // Fisher-Yates with the seeded generator.
        for (let i = round.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [round[i], round[j]] = [round[j] as HostileKind, round[i] as HostileKind];
        }
      }
      return build(round.pop() as HostileKind, ctx);
    },
  };
}
