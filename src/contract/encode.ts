import { decodeValid } from './decodeValid.ts';
import { describeIssues } from './describeIssues.ts';
import { EVENT_TYPES, isEventType, schemaFor, supportedVersions } from './events.ts';
import type { ChatEventInput } from './events.ts';
import { InvalidEventError } from './invalidEventError.ts';

/** A Kafka record's key and value. The key is the channel_id, so one channel's events stay in order. */
export interface EncodedEvent {
  readonly key: string;
  readonly value: string;
}

/**
 * Validates an event and serialises what the decoder will read back: defaults filled in (`manual`,
 * `mention_user_ids`) and unknown fields dropped, so the wire always carries the full, explicit event.
 * Throws `InvalidEventError` naming every bad field.
 */
export function encodeEvent(input: ChatEventInput): EncodedEvent {
  // Callers without types (plain JS, JSON from elsewhere) can pass anything: check before indexing.
  const untyped: unknown = input;
  if (typeof untyped !== 'object' || untyped === null) {
    throw new InvalidEventError('event', [`(value): must be an object; got ${JSON.stringify(untyped)}`]);
  }
  const { type, v } = untyped as { type?: unknown; v?: unknown };
  if (!isEventType(type)) {
    throw new InvalidEventError('event', [
      `type: must be one of ${EVENT_TYPES.join(', ')}; got ${JSON.stringify(type)}`,
    ]);
  }
  const schema = schemaFor(type, v);
  if (schema === undefined) {
    throw new InvalidEventError(`${type} event`, [
      `v: must be one of ${supportedVersions(type).join(', ')}; got ${JSON.stringify(v)}`,
    ]);
  }
  // The decoder's fast path builds exactly what zod would for a valid event; zod words the errors.
  let event = decodeValid(type, untyped as Record<string, unknown>);
  if (event === undefined) {
    const parsed = schema.safeParse(input);
    if (!parsed.success)
      throw new InvalidEventError(`${type} event`, describeIssues(parsed.error.issues, 20));
    event = parsed.data;
  }
  // Every field of a valid event is ASCII and bounded, so the value stays far below MAX_EVENT_BYTES.
  return { key: event.channel_id, value: JSON.stringify(event) };
}
