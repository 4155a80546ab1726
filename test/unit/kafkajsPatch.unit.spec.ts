/**
 * patches/kafkajs+2.2.4.patch computes each record's offset and timestamp in numbers while they are exact, and
 * compares offsets as decimal strings, instead of a Long per step. These check it against kafkajs's own Long
 * arithmetic, on the record encoding kafkajs itself writes, across the whole Int64 range.
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
type Long = { add(other: Long | number): Long; toString(): string; gte(other: Long): boolean };
const Long = require('kafkajs/src/utils/long') as { fromValue(value: string | number | Long): Long };
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => unknown;
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (record: {
  offsetDelta: number;
  timestampDelta: Long;
  key: Buffer;
  value: Buffer;
}) => { buffer: Buffer };
const decodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/decoder') as (
  decoder: unknown,
  context: Record<string, unknown>,
) => { offset: string; timestamp: string };
const Batch = require('kafkajs/src/consumer/batch') as new (
  topic: string,
  fetchedOffset: string,
  data: { partition: number; highWatermark: string; messages: { offset: string }[] },
) => { messages: { offset: string }[] };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Int64 values, weighted to the edges where a double stops being exact. */
const int64 = fc.oneof(
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }),
  fc.bigInt({ min: -(2n ** 54n), max: 2n ** 54n }),
  fc.bigInt({ min: 0n, max: 2n ** 42n }),
  fc.constantFrom(0n, -1n, 2n ** 49n - 1n, 2n ** 49n, 2n ** 53n - 1n, 2n ** 53n, INT64_MIN, INT64_MAX),
);

function decode(firstOffset: bigint, firstTimestamp: bigint, offsetDelta: number, timestampDelta: bigint) {
  const { buffer } = encodeRecord({
    offsetDelta,
    timestampDelta: Long.fromValue(timestampDelta.toString()),
    key: Buffer.from('k'),
    value: Buffer.from('v'),
  });
  const decoder = new Decoder(buffer) as { readVarInt(): number };
  decoder.readVarInt(); // the record's length, as the batch decoder reads it
  return decodeRecord(decoder, {
    firstOffset: firstOffset.toString(),
    firstTimestamp: firstTimestamp.toString(),
    firstOffsetNumber: Number(firstOffset),
    firstTimestampNumber: Number(firstTimestamp),
  });
}

describe('the kafkajs patch', () => {
  it("decodes every record's offset and timestamp as Long arithmetic does", () => {
    fc.assert(
      fc.property(
        int64,
        int64,
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        int64,
        (firstOffset, firstTimestamp, offsetDelta, timestampDelta) => {
          const record = decode(firstOffset, firstTimestamp, offsetDelta, timestampDelta);
          expect(record.offset).toBe(Long.fromValue(firstOffset.toString()).add(offsetDelta).toString());
          expect(record.timestamp).toBe(
            Long.fromValue(firstTimestamp.toString())
              .add(Long.fromValue(timestampDelta.toString()))
              .toString(),
          );
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('keeps the messages at or above the fetched offset, as comparing Longs does', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.bigInt({ min: -2n, max: 2n ** 20n }), fc.bigInt({ min: 0n, max: INT64_MAX })),
        fc.array(fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 20n }), fc.bigInt({ min: 0n, max: INT64_MAX }))),
        (fetched, offsets) => {
          const messages = offsets.map((offset) => ({ offset: offset.toString() }));
          const batch = new Batch('t', fetched.toString(), { partition: 0, highWatermark: '0', messages });
          const fetchedLong = Long.fromValue(fetched.toString());
          expect(batch.messages.map((m) => m.offset)).toEqual(
            messages.filter((m) => Long.fromValue(m.offset).gte(fetchedLong)).map((m) => m.offset),
          );
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
