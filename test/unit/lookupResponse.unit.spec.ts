import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lookupResponseJson } from '../../src/api/lookupResponse.ts';
import type { Freshness } from '../../src/api/app.ts';
import type { ReadStateView } from '../../src/projection/readStateOf.ts';

const id = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String);
/** Counts are uint32 sums in the hot tier; the bound of the digit writer (1e9) is crossed too. */
const count = fc.oneof(fc.nat({ max: 2 ** 32 }), fc.constantFrom(0, 9, 10, 999_999_999, 1e9, 2 ** 32));
const view: fc.Arbitrary<ReadStateView> = fc.record({
  user_id: id,
  channel_id: id,
  has_read_state: fc.boolean(),
  last_acked_message_id: fc.option(id, { nil: null }),
  last_message_id: fc.option(id, { nil: null }),
  unread_count: count,
  mention_count: count,
  first_unread_message_id: fc.option(id, { nil: null }),
});
const freshness: fc.Arbitrary<Freshness | undefined> = fc.option(
  fc.record({
    positions: fc.dictionary(
      fc.nat({ max: 9999 }).map(String),
      fc.record({ messages: fc.bigInt({ min: 0n, max: 2n ** 63n }).map(String), acks: id }),
    ),
    stale: fc.boolean(),
  }),
  { nil: undefined },
);

/** What the routes sent before: JSON.stringify of the wire objects, in the same key order. */
function expected(
  userId: string,
  views: readonly ReadStateView[],
  fresh: Freshness | undefined,
  nextCursor?: string | null,
) {
  return JSON.stringify({
    user_id: userId,
    read_states: views.map((v) => ({
      channel_id: v.channel_id,
      last_acked_message_id: v.last_acked_message_id,
      last_message_id: v.last_message_id,
      unread_count: v.unread_count,
      mention_count: v.mention_count,
      first_unread_message_id: v.first_unread_message_id,
    })),
    ...(nextCursor === undefined ? {} : { next_cursor: nextCursor }),
    ...fresh,
  });
}

describe('lookupResponseJson', () => {
  it('writes byte for byte what JSON.stringify writes of the same answer', () => {
    fc.assert(
      fc.property(
        id,
        fc.array(view, { maxLength: 60, size: 'max' }),
        freshness,
        fc.option(fc.option(id, { nil: null }), { nil: undefined }),
        (userId, views, fresh, nextCursor) => {
          expect(lookupResponseJson(userId, views, fresh, nextCursor)).toBe(
            expected(userId, views, fresh, nextCursor),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
