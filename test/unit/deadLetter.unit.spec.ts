import fc from 'fast-check';
import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { deadLetterOf, MAX_MESSAGE_CHARS, printableText } from '../../src/ingest/deadLetter.ts';
import { isTransientPostgresError, readableBytes, readableHeaders } from '../../src/ops/deadLetters.ts';
import { awkwardTextArb, nulGarbage } from './deadLetterArbitraries.ts';

/** What no printable text may hold: controls, lone surrogates, line separators and bidi overrides. */
function assertPrintable(text: string, maxChars = MAX_MESSAGE_CHARS): void {
  expect(text.isWellFormed()).toBe(true);
  expect(text).not.toMatch(/[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u);
  expect(text.length).toBeLessThanOrEqual(maxChars);
}

function jsonParseMessage(bytes: Buffer): string {
  try {
    JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected JSON.parse to fail');
}

describe('printableText', () => {
  it('leaves printable text as it is, non-ASCII included', () => {
    expect(printableText('type: unknown event type "x"; expected one of a, b')).toBe(
      'type: unknown event type "x"; expected one of a, b',
    );
    expect(printableText('é 😀 \ufffd \\u0000')).toBe('é 😀 \ufffd \\u0000');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-ascii', maxLength: MAX_MESSAGE_CHARS }), (text) => {
        fc.pre(!/[\p{Cc}]/u.test(text));
        expect(printableText(text)).toBe(text);
      }),
    );
  });

  it('escapes the NUL byte that JSON.parse quotes (the record that stopped projection, issue 10)', () => {
    const message = jsonParseMessage(nulGarbage);
    expect(message).toContain('\u0000');
    const printable = printableText(message);
    assertPrintable(printable);
    expect(printable).toContain('\\u0000\\u0001garbage');
  });

  it('escapes control characters visibly and replaces lone surrogates', () => {
    expect(printableText('a\u0000b')).toBe('a\\u0000b');
    expect(printableText('line\nnext\ttab\rret')).toBe('line\\nnext\\ttab\\rret');
    expect(printableText('\u001b[31mred\u007f\u009b')).toBe('\\u001b[31mred\\u007f\\u009b');
    expect(printableText('\u202eevil\u2028')).toBe('\\u202eevil\\u2028');
    expect(printableText('x\ud800y\udfff')).toBe('x\ufffdy\ufffd');
  });

  it('bounds the length without splitting an escape or a surrogate pair, and marks the cut', () => {
    expect(printableText('x'.repeat(MAX_MESSAGE_CHARS))).toBe('x'.repeat(MAX_MESSAGE_CHARS));
    const cut = printableText('x'.repeat(MAX_MESSAGE_CHARS + 1));
    expect(cut).toBe(`${'x'.repeat(MAX_MESSAGE_CHARS - 1)}…`);
    const nuls = printableText('\u0000'.repeat(500));
    expect(nuls).toMatch(/^(\\u0000)+…$/);
    expect(nuls.length).toBeLessThanOrEqual(MAX_MESSAGE_CHARS);
    const emoji = printableText('😀'.repeat(600));
    expect(emoji.isWellFormed()).toBe(true);
    expect(emoji.endsWith('…')).toBe(true);
    expect(printableText('abcdef', { maxChars: 4 })).toBe('abc…');
  });

  it('in ASCII only, escapes everything above ~ too', () => {
    expect(printableText('é😀\u0000~', { asciiOnly: true })).toBe('\\u00e9\\u{1f600}\\u0000~');
    expect(printableText('é'.repeat(10), { asciiOnly: true, maxChars: 20 })).toBe(
      `${'\\u00e9'.repeat(2)}...`,
    );
  });

  it('makes any string printable and bounded', () => {
    const anyTextArb = fc.oneof(
      awkwardTextArb,
      fc.string({ unit: 'binary', maxLength: 3_000 }),
      fc.string({ unit: fc.constantFrom('\u0000', '\ud83d', '😀', 'x'), maxLength: 3_000 }),
    );
    fc.assert(
      fc.property(anyTextArb, fc.integer({ min: 10, max: 2_000 }), (text, maxChars) => {
        assertPrintable(printableText(text, { maxChars }), maxChars);
        const ascii = printableText(text, { maxChars, asciiOnly: true });
        expect(ascii).toMatch(/^[\x20-\x7e]*$/);
        expect(ascii.length).toBeLessThanOrEqual(maxChars);
      }),
    );
  });
});

describe('deadLetterOf', () => {
  const message = (headers: KafkaMessage['headers']): KafkaMessage =>
    ({
      key: Buffer.from([0, 0xff]),
      value: nulGarbage,
      offset: '9223372036854775807',
      timestamp: '0',
      attributes: 0,
      headers,
    }) as KafkaMessage;

  it('keeps the record bytes as they came and makes the rejection printable', () => {
    const record = message({});
    const letter = deadLetterOf('chat.acks', 7, record, {
      code: 'invalid_json',
      message: jsonParseMessage(nulGarbage),
    });
    expect(letter).toMatchObject({ topic: 'chat.acks', partition: 7, offset: '9223372036854775807' });
    expect(letter.key).toBe(record.key);
    expect(letter.value).toBe(record.value);
    expect(letter.code).toBe('invalid_json');
    assertPrintable(letter.message);
    const odd = deadLetterOf('t', 0, record, { code: `x\u0000${'y'.repeat(500)}`, message: '' });
    assertPrintable(odd.code, 100);
  });

  it('keeps each header value as its own (name, value) pair, in the order kafkajs gives them', () => {
    const letter = deadLetterOf(
      't',
      0,
      message({
        a: Buffer.from([0x00]),
        b: [Buffer.from('1'), 'two', null as unknown as string],
        c: null as unknown as string,
        '': 'empty name',
      }),
      { code: 'invalid_json', message: 'm' },
    );
    expect(letter.headers).toEqual([
      { name: Buffer.from('a'), value: Buffer.from([0x00]) },
      { name: Buffer.from('b'), value: Buffer.from('1') },
      { name: Buffer.from('b'), value: Buffer.from('two') },
      { name: Buffer.from('b'), value: null },
      { name: Buffer.from('c'), value: null },
      { name: Buffer.alloc(0), value: Buffer.from('empty name') },
    ]);
  });

  it('has no headers for a record without any (old message format)', () => {
    const { headers: _none, ...legacy } = message({});
    expect(deadLetterOf('t', 0, legacy as KafkaMessage, { code: 'c', message: 'm' }).headers).toEqual([]);
  });
});

describe('isTransientPostgresError', () => {
  const fromServer = (code: string) => Object.assign(new Error(code), { severity: 'ERROR', code });
  const fromNode = (code: string) => Object.assign(new Error(code), { errno: -1, code, syscall: 'connect' });

  it('is transient without a server verdict: network, timeouts, the pool', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']) {
      expect(isTransientPostgresError(fromNode(code)), code).toBe(true);
    }
    expect(isTransientPostgresError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isTransientPostgresError(new Error('Query read timeout'))).toBe(true);
    expect(isTransientPostgresError('a thrown string')).toBe(true);
  });

  it('is transient for a server that cannot answer now', () => {
    for (const code of ['08006', '08001', '53100', '53200', '53300', '57P01', '57P03', '57014', '58030']) {
      expect(isTransientPostgresError(fromServer(code)), code).toBe(true);
    }
    expect(isTransientPostgresError(fromServer('40001'))).toBe(true);
    expect(isTransientPostgresError(fromServer('40P01'))).toBe(true);
  });

  it('is permanent for a verdict on the statement, which the same rows would get again', () => {
    // NUL in text, bad bigint, unique and check violations, index row too large, missing table.
    for (const code of ['22021', '22P02', '23505', '23514', '54000', '42P01']) {
      expect(isTransientPostgresError(fromServer(code)), code).toBe(false);
    }
  });
});

describe('readableBytes', () => {
  it('shows valid UTF-8 as quoted text, anything else as hex, and says which', () => {
    expect(readableBytes(Buffer.from('trace-42'))).toBe('"trace-42"');
    expect(readableBytes(Buffer.from('say "hi"\u0000'))).toBe('"say \\"hi\\"\\u0000"');
    expect(readableBytes(Buffer.alloc(0))).toBe('""');
    expect(readableBytes(Buffer.from([0x00, 0xff]))).toBe('hex:00ff');
    expect(readableBytes(null)).toBe('null');
    expect(readableBytes(Buffer.alloc(300, 0xff), 20)).toBe(`hex:${'ff'.repeat(10)}… (300 bytes)`);
  });

  it('lists headers in order', () => {
    expect(
      readableHeaders([
        { name: Buffer.from('source'), value: Buffer.from('test') },
        { name: Buffer.from('source'), value: null },
        { name: Buffer.from([0xc0]), value: Buffer.from([0xfe, 0x02]) },
        { name: Buffer.from('bin'), value: Buffer.from([0x01, 0x02]) },
      ]),
    ).toBe('"source"="test", "source"=null, hex:c0=hex:fe02, "bin"="\\u0001\\u0002"');
  });
});
