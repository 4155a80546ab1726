import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeValid } from '../../src/contract/decodeValid.ts';
import { EVENT_TYPES, schemaFor, type EventType } from '../../src/contract/events.ts';
import { chatEventInputArb, snowflakeArb, timestampArb } from './eventArbitraries.ts';

/** Values near the edges of each field's rules, valid and not. */
const edgeValue = fc.oneof(
  snowflakeArb,
  timestampArb,
  fc.constantFrom(
    '18446744073709551616',
    '01',
    '',
    ' 1',
    '1.0',
    '2024-02-30T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2024-02-29T00:00:00Z',
    '2024-05-01T24:00:00Z',
    '2024-05-01T12:00:00',
    '2024-05-01t12:00:00z',
    '2024-05-01T12:00:00.123456789+14:00',
    1,
    0,
    true,
    false,
    null,
    [],
    ['1', '2'],
    ['1', 2],
    {},
  ),
  fc.array(snowflakeArb, { maxLength: 3 }),
  fc.jsonValue(),
);

function zodSays(type: EventType, fields: Record<string, unknown>) {
  const schema = schemaFor(type, fields.v);
  return schema?.safeParse(fields);
}

describe('decodeValid, the fast path of decodeEvent', () => {
  it('accepts every valid event and builds what zod builds', () => {
    fc.assert(
      fc.property(
        chatEventInputArb,
        fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 2 }),
        (input, extra) => {
          const fields = { ...extra, ...input } as Record<string, unknown>;
          const fast = decodeValid(input.type, fields);
          const zod = zodSays(input.type, fields);
          expect(zod?.success).toBe(true);
          expect(fast).toEqual(zod?.data);
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it('accepts nothing zod refuses, and agrees with zod on what it accepts', () => {
    fc.assert(
      fc.property(
        chatEventInputArb,
        fc.array(fc.tuple(fc.nat(), edgeValue), { minLength: 1, maxLength: 3 }),
        fc.constantFrom(...EVENT_TYPES),
        (input, replacements, type) => {
          const fields: Record<string, unknown> = { ...input };
          const names = [...Object.keys(input), 'mention_user_ids', 'mention_everyone', 'manual', 'v'];
          for (const [pick, value] of replacements) fields[names[pick % names.length] ?? 'v'] = value;
          const fast = decodeValid(type, fields);
          if (fast === undefined) return;
          const zod = zodSays(type, fields);
          expect(zod?.success).toBe(true);
          expect(fast).toEqual(zod?.data);
        },
      ),
      { numRuns: 10_000 },
    );
  });
});
