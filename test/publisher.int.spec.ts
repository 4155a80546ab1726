/** The publisher SDK against the real broker: what upstream services send is what the projector decodes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent } from '../src/contract/decode.ts';
import type { ChatEvent } from '../src/contract/events.ts';
import { createPublisher, type Publisher } from '../src/publisher/createPublisher.ts';
import { testKafka } from './support/kafka.ts';
import { trackResource } from './support/resources.ts';
import { waitFor } from './support/waitFor.ts';

const kafka = testKafka('publisher');
const topics = { messages: kafka.topic('messages'), acks: kafka.topic('acks') };
const at = '2026-11-22T10:00:00.000Z';

describe('publisher SDK', () => {
  let publisher: Publisher;
  let release: () => void;
  beforeAll(async () => {
    await kafka.createTopics([topics.messages, topics.acks], 4);
    publisher = createPublisher({ kafka: kafka.kafka, topics });
    release = trackResource('kafka client', 'publisher');
    await publisher.connect();
  });
  afterAll(async () => {
    await publisher.disconnect();
    release();
  });

  it('publishes each event to its topic, keyed by channel, co-partitioned, decodable by the projector', async () => {
    const channels = ['1', '22', '333', '4444', '55555', '18446744073709551615'];
    for (const channel_id of channels) {
      await publisher.publishMessageSent({ channel_id, message_id: '100', author_id: '7', sent_at: at });
      await publisher.publishMessageEdited({
        channel_id,
        message_id: '100',
        mention_user_ids: ['8'],
        edited_at: new Date(at),
      });
    }
    await publisher.publishBatch(
      channels.flatMap((channel_id) => [
        { type: 'message_acked' as const, channel_id, user_id: '8', message_id: '100', acked_at: at },
        { type: 'message_deleted' as const, channel_id, message_id: '100', deleted_at: at },
      ]),
    );

    const received: { topic: string; partition: number; event: ChatEvent }[] = [];
    const consumer = kafka.consumer({ groupId: kafka.group('publisher') });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topics.messages, topics.acks], fromBeginning: true });
      await consumer.run({
        eachMessage: ({ topic, partition, message }) => {
          const decoded = decodeEvent(
            message.value,
            message.key,
            topic === topics.acks ? 'acks' : 'messages',
          );
          if (!decoded.ok)
            throw new Error(`publisher wrote an undecodable record: ${decoded.rejection.message}`);
          received.push({ topic, partition, event: decoded.event });
          return Promise.resolve();
        },
      });
      await waitFor(() => received.length >= channels.length * 4, 30_000, 'all published events');
    } finally {
      await consumer.disconnect();
    }

    for (const channel of channels) {
      const ofChannel = received.filter((r) => r.event.channel_id === channel);
      expect(ofChannel.filter((r) => r.topic === topics.messages).map((r) => r.event.type)).toEqual([
        'message_sent',
        'message_edited',
        'message_deleted',
      ]);
      expect(ofChannel.find((r) => r.event.type === 'message_edited')?.event).toEqual({
        type: 'message_edited',
        v: 1,
        channel_id: channel,
        message_id: '100',
        mention_user_ids: ['8'],
        edited_at: new Date(at).toISOString(),
      });
      expect(ofChannel.filter((r) => r.topic === topics.acks).map((r) => r.event)).toEqual([
        {
          type: 'message_acked',
          v: 1,
          channel_id: channel,
          user_id: '8',
          message_id: '100',
          manual: false,
          acked_at: at,
        },
      ]);
      expect(new Set(ofChannel.map((r) => r.partition)).size).toBe(1);
    }
    expect(new Set(received.map((r) => r.partition)).size).toBeGreaterThan(1);
  });

  it('returns the positions it wrote: per partition and topic, the offset after its last record', async () => {
    // Topics of their own: each partition's log end is then exactly what this test wrote.
    const own = { messages: kafka.topic('positions-messages'), acks: kafka.topic('positions-acks') };
    await kafka.createTopics([own.messages, own.acks], 4);
    const writer = createPublisher({ kafka: kafka.kafka, topics: own });
    await writer.connect();
    const admin = kafka.admin();
    await admin.connect();
    try {
      const channels = Array.from({ length: 12 }, (_, i) => String(1000 + i));
      const first = await writer.publishBatch(
        channels.flatMap((channel_id, i) => [
          ...Array.from({ length: (i % 3) + 1 }, (_, m) => ({
            type: 'message_sent' as const,
            channel_id,
            message_id: String(200 + m),
            author_id: '7',
            sent_at: at,
          })),
          { type: 'message_acked' as const, channel_id, user_id: '8', message_id: '200', acked_at: at },
        ]),
      );
      const one = await writer.publishMessageAcked({
        channel_id: '1000',
        user_id: '9',
        message_id: '201',
        acked_at: at,
      });
      const ends = async (topic: string) =>
        Object.fromEntries((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.high]));
      const [messagesEnd, acksEnd] = [await ends(own.messages), await ends(own.acks)];
      // Every partition written: the batch's positions are the log ends, but for the ack written after it.
      for (const [partition, at] of Object.entries(first.positions)) {
        expect(at.messages).toBe(messagesEnd[partition]);
        if (!(partition in one.positions)) expect(at.acks).toBe(acksEnd[partition]);
      }
      expect(Object.keys(first.positions).length).toBeGreaterThan(1);
      expect(Object.values(one.positions)).toEqual([{ acks: acksEnd[Object.keys(one.positions)[0] ?? ''] }]);
      expect(first.records.length).toBeGreaterThan(0);
    } finally {
      await admin.disconnect();
      await writer.disconnect();
    }
  });

  it('refuses an invalid event before sending anything, naming the field', async () => {
    await expect(
      publisher.publishMessageAcked({ channel_id: '01', user_id: '8', message_id: '100', acked_at: at }),
    ).rejects.toThrow(/channel_id/);
  });
});
