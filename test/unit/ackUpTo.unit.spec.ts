/**
 * "Mark read up to a time" (issue 15, item 6): an ack of the greatest snowflake of a millisecond marks read
 * exactly the messages made up to it, whatever order the two topics arrive in and however often the ack is
 * delivered, because the pointer is max(pointer, id) of the acks alone (docs/semantics.md).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src/contract/events.ts';
import {
  greatestSnowflakeAt,
  MAX_SNOWFLAKE,
  SNOWFLAKE_EPOCH_MS,
  snowflakeTimeMs,
} from '../../src/contract/snowflake.ts';
import { applyEvent } from '../../src/projection/applyEvent.ts';
import { createMemoryStore } from '../../src/projection/memoryStore.ts';
import { readStateOf } from '../../src/projection/readStateOf.ts';
import { acked, sent } from '../support/eventBuilders.ts';

/** A snowflake made at `ms` (since 1970), with `low` in its 22 low bits. */
const idAt = (ms: number, low: number) => ((BigInt(ms - SNOWFLAKE_EPOCH_MS) << 22n) | BigInt(low)).toString();

const NOW = Date.parse('2026-11-30T12:00:00.000Z');

describe('greatestSnowflakeAt', () => {
  it('is at least every id of that millisecond and earlier, and below every later one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: SNOWFLAKE_EPOCH_MS, max: NOW }),
        fc.integer({ min: 0, max: 2 ** 22 - 1 }),
        fc.integer({ min: -5, max: 5 }),
        (ms, low, shift) => {
          const at = ms + shift;
          if (at < SNOWFLAKE_EPOCH_MS) return;
          const id = BigInt(idAt(ms, low));
          const greatest = BigInt(greatestSnowflakeAt(at));
          expect(id <= greatest).toBe(ms <= at);
          expect(snowflakeTimeMs(greatestSnowflakeAt(at))).toBe(at);
        },
      ),
    );
  });

  it('refuses a time before the epoch or past the last one ids hold, and honours another epoch', () => {
    expect(() => greatestSnowflakeAt(SNOWFLAKE_EPOCH_MS - 1)).toThrow(RangeError);
    expect(() => greatestSnowflakeAt(Number.NaN)).toThrow(RangeError);
    expect(() => greatestSnowflakeAt(SNOWFLAKE_EPOCH_MS + 2 ** 42)).toThrow(/past the last time/);
    expect(greatestSnowflakeAt(SNOWFLAKE_EPOCH_MS + 2 ** 42 - 1)).toBe(MAX_SNOWFLAKE);
    expect(greatestSnowflakeAt(1_000, 1_000)).toBe(String(2 ** 22 - 1));
  });
});

describe('an ack of greatestSnowflakeAt(t)', () => {
  it('leaves unread exactly the live messages by others made after t, in any interleaving, delivered twice', () => {
    const message = fc.record({
      ms: fc.integer({ min: NOW - 10_000, max: NOW + 10_000 }),
      low: fc.integer({ min: 0, max: 2 ** 22 - 1 }),
      author: fc.constantFrom('1', '2', '3'),
      deleted: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(message, { selector: (m) => idAt(m.ms, m.low), maxLength: 30 }),
        fc.integer({ min: NOW - 12_000, max: NOW + 12_000 }),
        fc.integer({ min: 0, max: 40 }),
        (messages, t, ackAt) => {
          const channel = '10';
          const reader = '1';
          const messageEvents: ChatEvent[] = messages.flatMap((m) => {
            const id = idAt(m.ms, m.low);
            const made = sent({
              channel,
              id,
              author: m.author,
              mentions: m.author === reader ? [] : [reader],
            });
            return m.deleted
              ? [
                  made,
                  {
                    type: 'message_deleted',
                    v: 1,
                    channel_id: channel,
                    message_id: id,
                    deleted_at: '2026-11-30T12:00:00.000Z',
                  },
                ]
              : [made];
          });
          const ack = acked({ channel, user: reader, id: greatestSnowflakeAt(t) });
          // The ack lands anywhere among the messages, and again at the end (a redelivery).
          const at = Math.min(ackAt, messageEvents.length);
          const events = [...messageEvents.slice(0, at), ack, ...messageEvents.slice(at), ack];
          const store = createMemoryStore();
          for (const event of events) applyEvent(store, event);
          const view = readStateOf(store, reader, channel);
          const unread = messages.filter((m) => !m.deleted && m.author !== reader && m.ms > t);
          expect(view.unread_count).toBe(unread.length);
          expect(view.mention_count).toBe(unread.length);
          expect(view.last_acked_message_id).toBe(greatestSnowflakeAt(t));
        },
      ),
    );
  });
});
