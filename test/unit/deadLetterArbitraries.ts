/**
 * fast-check generators for records a producer got wrong, byte by byte: what the dead-letter path must keep
 * exactly, whatever it holds.
 */
import fc from 'fast-check';
import type { IHeaders, KafkaMessage } from 'kafkajs';
import { encodeEvent } from '../../src/contract/encode.ts';
import { MAX_EVENT_BYTES } from '../../src/contract/decode.ts';
import { chatEventInputArb } from './eventArbitraries.ts';

/** Characters that break naive text handling: NUL and other controls, lone surrogates, bidi overrides. */
const awkwardCharArb = fc.constantFrom(
  '\u0000',
  '\u0001',
  '\u001b',
  '\u007f',
  '\u0085',
  '\u009b',
  '\ud800',
  '\udfff',
  '\u2028',
  '\u202e',
  '\ufeff',
  '\ufffd',
  '"',
  '\\',
  '😀',
);

/** Any text, awkward characters drawn often. */
export const awkwardTextArb: fc.Arbitrary<string> = fc.string({
  unit: fc.oneof(awkwardCharArb, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
  maxLength: 40,
});

/** Bytes that are not text: invalid UTF-8 (a lone continuation, an overlong NUL, an encoded surrogate). */
const notUtf8Arb = fc.constantFrom(
  Buffer.from([0xff]),
  Buffer.from([0x80]),
  Buffer.from([0xc0, 0x80]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
);

/** The record that stopped projection for good (issue 10): `00 01` then `garbage`. */
export const nulGarbage = Buffer.concat([Buffer.from([0x00, 0x01]), Buffer.from('garbage')]);

/**
 * Larger than the decoder accepts (up to a few hundred KB): a short random pattern repeated, so generating
 * it costs nothing and shrinking stays quick.
 */
const hugeBytesArb = fc
  .tuple(
    fc.integer({ min: MAX_EVENT_BYTES + 1, max: 400_000 }),
    fc.uint8Array({ minLength: 1, maxLength: 16 }),
  )
  .map(([length, pattern]) => {
    const bytes = Buffer.alloc(length);
    for (let i = 0; i < length; i++) bytes[i] = pattern[i % pattern.length] ?? 0;
    return bytes;
  });

const smallBytesArb = fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes));

/** Values a careless or hostile producer sends, each reaching a different check of the decoder. */
const valueArb: fc.Arbitrary<Buffer | null> = fc.oneof(
  { weight: 3, arbitrary: smallBytesArb },
  { weight: 1, arbitrary: fc.constantFrom(null, Buffer.alloc(0), nulGarbage) },
  { weight: 1, arbitrary: notUtf8Arb },
  { weight: 2, arbitrary: awkwardTextArb.map((text) => Buffer.from(text, 'utf8')) },
  // JSON whose strings are awkward: unknown_type quotes them.
  { weight: 2, arbitrary: awkwardTextArb.map((type) => Buffer.from(JSON.stringify({ type }), 'utf8')) },
  // JSON that is not an object: not_an_object.
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((json) => Buffer.from(JSON.stringify(json))) },
  // A valid event, but under the caller's random key (key_mismatch) or on the other topic (wrong_topic).
  {
    weight: 2,
    arbitrary: chatEventInputArb.map((event) => Buffer.from(encodeEvent(event).value, 'utf8')),
  },
  // A known event with an awkward version (unsupported_version) or field (invalid_schema).
  {
    weight: 2,
    arbitrary: fc
      .tuple(chatEventInputArb, fc.constantFrom('v', 'channel_id', 'message_id'), awkwardTextArb)
      .map(([event, field, text]) => Buffer.from(JSON.stringify({ ...event, [field]: text }), 'utf8')),
  },
  { weight: 1, arbitrary: hugeBytesArb },
);

const keyArb: fc.Arbitrary<Buffer | null> = fc.oneof(
  { weight: 3, arbitrary: smallBytesArb },
  { weight: 2, arbitrary: awkwardTextArb.map((text) => Buffer.from(text, 'utf8')) },
  { weight: 1, arbitrary: fc.constantFrom(null, Buffer.alloc(0)) },
  { weight: 1, arbitrary: notUtf8Arb },
  { weight: 1, arbitrary: hugeBytesArb },
);

type HeaderElement = Buffer | string | null;

/** What a header value can be at runtime: kafkajs's types omit null, but a value-less header decodes as one. */
const headerElementArb: fc.Arbitrary<HeaderElement> = fc.oneof(
  smallBytesArb,
  awkwardTextArb,
  fc.constant(null),
  notUtf8Arb,
);

/** Names repeat (kafkajs then gives an array), include `__proto__`, are empty or awkward. */
const headerNameArb = fc.oneof(fc.constantFrom('', 'source', '__proto__', 'trace\u0000id'), awkwardTextArb);

export const headersArb: fc.Arbitrary<IHeaders> = fc
  .array(
    fc.tuple(
      headerNameArb,
      fc.oneof(headerElementArb, fc.array(headerElementArb, { minLength: 2, maxLength: 4 })),
    ),
    { maxLength: 6 },
  )
  .map((entries) => Object.fromEntries(entries) as IHeaders);

/** A consumed record as kafkajs gives it; offsets are the caller's (each must be unique per partition). */
export const hostileRecordArb: fc.Arbitrary<Omit<KafkaMessage, 'offset'>> = fc.record({
  key: keyArb,
  value: valueArb,
  headers: headersArb,
  timestamp: fc.constant('0'),
  attributes: fc.constant(0),
});

/** Each header element as its own (name bytes, value bytes) pair, in order: what must come back stored. */
export function expectedHeaderPairs(headers: IHeaders): { name: Buffer; value: Buffer | null }[] {
  return Object.entries(headers).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value]).map((element: HeaderElement | undefined) => ({
      name: Buffer.from(name, 'utf8'),
      value: element === null || element === undefined ? null : Buffer.from(element),
    })),
  );
}
