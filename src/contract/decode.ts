import { decodeValid } from './decodeValid.ts';
import { describeIssues } from './describeIssues.ts';
import { EVENT_TYPES, eventTopic, isEventType, schemaFor, supportedVersions } from './events.ts';
import type { ChatEvent, TopicKind } from './events.ts';
import type { Rejection, RejectionCode } from './rejection.ts';

/** Larger values are refused before parsing: the largest valid event (1000 mentions) is about 22 KiB. */
export const MAX_EVENT_BYTES = 65_536;

export type DecodeResult =
  { readonly ok: true; readonly event: ChatEvent } | { readonly ok: false; readonly rejection: Rejection };

const EXPECTED_TYPES = EVENT_TYPES.join(', ');

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder('utf-8');

function reject(code: RejectionCode, message: string): DecodeResult {
  return { ok: false, rejection: { code, message } };
}

/** Quotes a value from the record without letting a huge one flood the dead-letter message. */
function quote(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** channel_id is ASCII digits, so its UTF-8 bytes are its char codes: compare without decoding the key. */
function keyEquals(key: Uint8Array, channelId: string): boolean {
  if (key.byteLength !== channelId.length) return false;
  for (let i = 0; i < key.byteLength; i++) {
    if (key[i] !== channelId.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Turns one Kafka record into an event, or says why it cannot: never throws. `topic` is the role of the topic
 * the record came from; when given, an event that belongs on the other topic is refused (`wrong_topic`).
 * Checks run cheapest first and stop at the first failure; their order is the order of `REJECTION_CODES`.
 */
export function decodeEvent(
  value: Uint8Array | null,
  key: Uint8Array | null,
  topic?: TopicKind,
): DecodeResult {
  if (value === null) {
    return reject('missing_value', 'the record has no value (a tombstone); expected a JSON event');
  }
  if (value.byteLength > MAX_EVENT_BYTES) {
    return reject('too_large', `the value is ${value.byteLength} bytes; the limit is ${MAX_EVENT_BYTES}`);
  }
  // An empty value is not a tombstone, but it has nothing to decode either.
  if (value.byteLength === 0) {
    return reject('missing_value', 'the record value is empty; expected a JSON event');
  }

  let text: string;
  try {
    text = strictUtf8.decode(value);
  } catch {
    return reject('invalid_utf8', 'the value is not valid UTF-8');
  }

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return reject('invalid_json', `the value is not JSON: ${(error as Error).message}`);
  }

  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return reject('not_an_object', `the value must be a JSON object; got ${describeJsonType(json)}`);
  }
  const fields = json as Record<string, unknown>;

  const type = fields.type;
  if (!isEventType(type)) {
    return reject(
      'unknown_type',
      type === undefined
        ? `type: is required; expected one of ${EXPECTED_TYPES}`
        : `type: unknown event type ${quote(type)}; expected one of ${EXPECTED_TYPES}`,
    );
  }

  const home = eventTopic[type];
  if (topic !== undefined && topic !== home) {
    return reject('wrong_topic', `${type} belongs on the ${home} topic, not the ${topic} topic`);
  }

  const v = fields.v;
  const schema = schemaFor(type, v);
  if (schema === undefined) {
    const supported = supportedVersions(type).join(', ');
    return reject(
      'unsupported_version',
      v === undefined
        ? `v: is required; ${type} supports version ${supported}`
        : `v: ${type} version ${quote(v)} is not supported; supported: ${supported}`,
    );
  }

  let event = decodeValid(type, fields);
  if (event === undefined) {
    const parsed = schema.safeParse(json);
    if (!parsed.success) return reject('invalid_schema', describeIssues(parsed.error.issues, 3).join('; '));
    event = parsed.data;
  }

  if (key === null) {
    return reject('key_mismatch', `the record has no key; it must be the channel_id "${event.channel_id}"`);
  }
  if (!keyEquals(key, event.channel_id)) {
    return reject(
      'key_mismatch',
      `the record key ${quote(lenientUtf8.decode(key))} is not the channel_id "${event.channel_id}"`,
    );
  }
  return { ok: true, event };
}
