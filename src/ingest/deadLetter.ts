import type { IHeaders, KafkaMessage } from 'kafkajs';

/** One Kafka header as it came: kafkajs gives its name as a string, so the name is that string's UTF-8 bytes. */
export interface DeadLetterHeader {
  name: Buffer;
  /** null for a header sent without a value (Kafka allows it; kafkajs decodes it as null). */
  value: Buffer | null;
}

/** A record the projector could not apply, kept with everything needed to inspect or replay it. */
export interface DeadLetter {
  topic: string;
  partition: number;
  /** Kafka offsets are 64-bit: a decimal string, as kafkajs gives them. */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /**
   * In the order kafkajs gives them: names by first appearance, a repeated name's values in turn. kafkajs
   * groups a repeated name into an array, so how its values interleaved with other names is already lost.
   */
  headers: DeadLetterHeader[];
  code: string;
  /** Printable (see printableText): it goes to a PostgreSQL text column and to operators' terminals. */
  message: string;
}

/** Enough for any rejection the decoder writes; a longer message is a bug to read, not a record to keep. */
export const MAX_MESSAGE_CHARS = 1_000;
/** Rejection codes are short snake_case words; anything longer is cut rather than indexed. */
const MAX_CODE_CHARS = 100;

/**
 * Kept for a rejected record: raw bytes exactly as Kafka delivered them, and the rejection made printable.
 * The decoder's messages may quote the record (JSON.parse quotes its input, NUL bytes included), and
 * PostgreSQL text cannot hold NUL: printing it safely here keeps one bad record from failing its insert.
 */
export function deadLetterOf(
  topic: string,
  partition: number,
  message: KafkaMessage,
  rejection: { code: string; message: string },
): DeadLetter {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers: headerPairsOf(message.headers),
    code: printableText(rejection.code, { maxChars: MAX_CODE_CHARS }),
    message: printableText(rejection.message),
  };
}

/** kafkajs's types omit null, but a header sent without a value decodes as null, alone or inside an array. */
type HeaderValue = IHeaders[string] | null;
type HeaderElement = Buffer | string | null | undefined;

function headerPairsOf(headers: IHeaders | undefined): DeadLetterHeader[] {
  const pairs: DeadLetterHeader[] = [];
  for (const [name, value] of Object.entries(headers ?? {}) as [string, HeaderValue][]) {
    const nameBytes = Buffer.from(name, 'utf8');
    const elements: readonly HeaderElement[] = Array.isArray(value) ? value : [value];
    for (const element of elements) pairs.push({ name: nameBytes, value: bytesOf(element) });
  }
  return pairs;
}

/** Consumed headers are Buffers; strings are what a producer hands kafkajs, accepted for tests and tools. */
function bytesOf(element: HeaderElement): Buffer | null {
  if (element === null || element === undefined) return null;
  return typeof element === 'string' ? Buffer.from(element, 'utf8') : element;
}

const ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Control characters (C0, DEL, C1), plus line separators and bidirectional overrides, which a terminal or a
 * log viewer would obey rather than show (a message could otherwise rewrite what an operator reads).
 */
function isInvisible(codePoint: number): boolean {
  return (
    codePoint < 0x20 ||
    (codePoint >= 0x7f && codePoint <= 0x9f) ||
    codePoint === 0x2028 ||
    codePoint === 0x2029 ||
    (codePoint >= 0x202a && codePoint <= 0x202e) ||
    (codePoint >= 0x2066 && codePoint <= 0x2069)
  );
}

function escaped(codePoint: number): string {
  const hex = codePoint.toString(16).padStart(4, '0');
  return codePoint > 0xffff ? `\\u{${hex}}` : `\\u${hex}`;
}

/**
 * Any string made safe for a PostgreSQL text column and a terminal: no NUL (PostgreSQL text cannot hold it),
 * lone surrogates replaced by U+FFFD (they have no UTF-8), control characters escaped visibly (NUL → `\u0000`),
 * at most `maxChars` UTF-16 units, a cut marked with an ellipsis. `asciiOnly` escapes everything above `~`
 * too, for text that must not fail whatever the database's encoding. For people: the escapes are not meant
 * to be reversed (a backslash in the input is left as it is); the raw bytes are kept beside the message.
 */
export function printableText(
  text: string,
  options: { maxChars?: number; asciiOnly?: boolean } = {},
): string {
  const maxChars = options.maxChars ?? MAX_MESSAGE_CHARS;
  const asciiOnly = options.asciiOnly ?? false;
  const ellipsis = asciiOnly ? '...' : '…';
  let out = '';
  /** How much of `out` a cut keeps: the longest prefix that still leaves room for the ellipsis. */
  let kept = 0;
  for (const char of text.toWellFormed()) {
    const codePoint = char.codePointAt(0) ?? 0;
    const piece = isInvisible(codePoint)
      ? (ESCAPES[char] ?? escaped(codePoint))
      : asciiOnly && codePoint > 0x7e
        ? escaped(codePoint)
        : char;
    if (out.length + piece.length > maxChars) return `${out.slice(0, kept)}${ellipsis}`;
    out += piece;
    if (out.length + ellipsis.length <= maxChars) kept = out.length;
  }
  return out;
}
