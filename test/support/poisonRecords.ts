import type { RejectionCode } from '../../src/contract/rejection.ts';

export interface PoisonRecord {
  topic: 'messages' | 'acks';
  key: string | null;
  value: Buffer | string | null;
  code: RejectionCode;
}

/** One bad record of every rejection kind, for channel `channel`: what careless publishers send. */
export function poisonRecords(channel: string): PoisonRecord[] {
  const at = '2026-11-22T10:00:00.000Z';
  const sent = {
    type: 'message_sent',
    v: 1,
    channel_id: channel,
    message_id: '5',
    author_id: '6',
    sent_at: at,
  };
  return [
    {
      topic: 'messages',
      key: channel,
      value: JSON.stringify({ ...sent, pad: 'x'.repeat(70_000) }),
      code: 'too_large',
    },
    { topic: 'messages', key: channel, value: null, code: 'missing_value' },
    { topic: 'messages', key: channel, value: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), code: 'invalid_utf8' },
    { topic: 'acks', key: channel, value: '{"type": "message_acked",', code: 'invalid_json' },
    { topic: 'messages', key: channel, value: '[1, 2, 3]', code: 'not_an_object' },
    {
      topic: 'messages',
      key: channel,
      value: JSON.stringify({ ...sent, type: 'message_pinned' }),
      code: 'unknown_type',
    },
    { topic: 'acks', key: channel, value: JSON.stringify(sent), code: 'wrong_topic' },
    {
      topic: 'messages',
      key: channel,
      value: JSON.stringify({ ...sent, v: 2 }),
      code: 'unsupported_version',
    },
    {
      topic: 'messages',
      key: channel,
      value: JSON.stringify({ ...sent, author_id: 6 }),
      code: 'invalid_schema',
    },
    { topic: 'messages', key: `${channel}0`, value: JSON.stringify(sent), code: 'key_mismatch' },
  ];
}
