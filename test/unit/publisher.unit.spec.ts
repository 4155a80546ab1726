/** The publisher against a recording fake producer: what it would send, without a broker. */
import fc from 'fast-check';
import { Partitioners } from 'kafkajs';
import type { Kafka, LogEntry, ProducerBatch, ProducerConfig, ProducerRecord, RecordMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../../src/contract/invalidEventError.ts';
import { greatestSnowflakeAt, snowflakeTimeMs } from '../../src/contract/snowflake.ts';
import { createPublisher, PUBLISHER_PRODUCER_CONFIG } from '../../src/publisher/createPublisher.ts';
import type { PublishEvent } from '../../src/publisher/publishInputs.ts';
import { snowflakeArb } from './eventArbitraries.ts';

const topics = { messages: 'chat.messages', acks: 'chat.acks' };

/** A topic of `count` partitions, each with a leader, as a partitioner is shown it. */
function partitionMetadataOf(count: number) {
  return Array.from({ length: count }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 1,
    replicas: [1],
    isr: [1],
  }));
}

/** Chooses as kafkajs's DefaultPartitioner does, for any key and partition count. */
function expectDefaultPartitioner(create: ProducerConfig['createPartitioner']): void {
  expect(create).toBeTypeOf('function');
  const ours = (create as NonNullable<typeof create>)();
  const theirs = Partitioners.DefaultPartitioner();
  for (const count of [1, 4, 12]) {
    const partitionMetadata = partitionMetadataOf(count);
    for (const key of ['1', '22', '18446744073709551615', 'x']) {
      const message = { key, value: 'v' };
      expect(ours({ topic: 't', partitionMetadata, message })).toBe(
        theirs({ topic: 't', partitionMetadata, message }),
      );
    }
  }
}

function recordingKafka() {
  const recorded = {
    config: undefined as ProducerConfig | undefined,
    sends: [] as ProducerRecord[],
    batches: [] as ProducerBatch[],
    connects: 0,
    disconnects: 0,
  };
  const none: RecordMetadata[] = [];
  const producer = {
    connect: () => {
      recorded.connects++;
      return Promise.resolve();
    },
    disconnect: () => {
      recorded.disconnects++;
      return Promise.resolve();
    },
    send: (record: ProducerRecord) => {
      recorded.sends.push(record);
      return Promise.resolve(none);
    },
    sendBatch: (batch: ProducerBatch) => {
      recorded.batches.push(batch);
      return Promise.resolve(none);
    },
  };
  const kafka = {
    producer: (config: ProducerConfig) => {
      recorded.config = config;
      return producer;
    },
  } as unknown as Kafka;
  return { kafka, recorded };
}

const sentInput = {
  channel_id: '100',
  message_id: '200',
  author_id: '300',
  sent_at: '2024-05-01T12:00:00Z',
};

describe('createPublisher', () => {
  it('builds an idempotent producer with one request in flight and the default partitioner', () => {
    const { kafka, recorded } = recordingKafka();
    createPublisher({ kafka, topics, producer: { allowAutoTopicCreation: false } });
    const { createPartitioner, ...rest } = recorded.config ?? {};
    expect(rest).toEqual({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
    // kafkajs's DefaultPartitioner, wrapped to note what it chose (for the positions written).
    expectDefaultPartitioner(createPartitioner);
  });

  it('chooses the partition kafkajs would for any key, partition count and explicit partition', () => {
    const { kafka, recorded } = recordingKafka();
    createPublisher({ kafka, topics });
    const ours = (recorded.config?.createPartitioner as NonNullable<ProducerConfig['createPartitioner']>)();
    const theirs = Partitioners.DefaultPartitioner();
    const keyArb = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)),
    );
    fc.assert(
      fc.property(keyArb, fc.integer({ min: 1, max: 64 }), fc.option(fc.nat(63)), (key, count, explicit) => {
        const partitionMetadata = partitionMetadataOf(count);
        const message = { key, value: 'v', ...(explicit === null ? {} : { partition: explicit % count }) };
        expect(ours({ topic: 't', partitionMetadata, message })).toBe(
          theirs({ topic: 't', partitionMetadata, message }),
        );
      }),
      { numRuns: 2_000 },
    );
  });

  it('does not let producer options weaken the fixed settings', () => {
    const { kafka, recorded } = recordingKafka();
    const producer = { idempotent: false, maxInFlightRequests: 5 } as ProducerConfig;
    createPublisher({ kafka, topics, producer });
    const { createPartitioner, ...fixed } = PUBLISHER_PRODUCER_CONFIG;
    expect(recorded.config).toMatchObject(fixed);
    expect(createPartitioner).toBe(Partitioners.DefaultPartitioner);
    expectDefaultPartitioner(recorded.config?.createPartitioner);
  });

  it('builds its own client from a config without kafkajs warning about the partitioner', () => {
    const logs: LogEntry[] = [];
    const publisher = createPublisher({
      kafka: { brokers: ['127.0.0.1:1'], logCreator: () => (entry) => logs.push(entry) },
      topics,
    });
    expect(typeof publisher.publishMessageSent).toBe('function');
    expect(logs.map((entry) => entry.log.message)).toEqual([]);
  });

  it('refuses missing or shared topic names at construction', () => {
    const { kafka } = recordingKafka();
    expect(() => createPublisher({ kafka, topics: { messages: 'chat', acks: '' } })).toThrow(
      'topics.acks must be a topic name; got ""',
    );
    expect(() => createPublisher({ kafka, topics: { messages: 'chat', acks: 'chat' } })).toThrow(
      'topics.messages and topics.acks must be different topics; both are "chat"',
    );
  });

  it('connects and disconnects the producer', async () => {
    const { kafka, recorded } = recordingKafka();
    const publisher = createPublisher({ kafka, topics });
    await publisher.connect();
    await publisher.disconnect();
    expect([recorded.connects, recorded.disconnects]).toEqual([1, 1]);
  });
});

describe('publishing one event', () => {
  it('sends a message to the messages topic, keyed by channel, waiting for all replicas', async () => {
    const { kafka, recorded } = recordingKafka();
    const publisher = createPublisher({ kafka, topics, timeout: 5000 });
    await publisher.publishMessageSent({ ...sentInput, mention_user_ids: ['7'] });
    expect(recorded.sends).toEqual([
      {
        topic: 'chat.messages',
        acks: -1,
        timeout: 5000,
        messages: [
          {
            key: '100',
            value: JSON.stringify({
              type: 'message_sent',
              v: 1,
              channel_id: '100',
              message_id: '200',
              author_id: '300',
              mention_user_ids: ['7'],
              sent_at: '2024-05-01T12:00:00Z',
            }),
          },
        ],
      },
    ]);
  });

  it('sends edits and deletions to the messages topic and acks to the acks topic', async () => {
    const { kafka, recorded } = recordingKafka();
    const publisher = createPublisher({ kafka, topics });
    await publisher.publishMessageEdited({
      channel_id: '1',
      message_id: '2',
      mention_user_ids: [],
      edited_at: '2024-05-01T12:00:00Z',
    });
    await expect(
      // @ts-expect-error mention_user_ids is required: an edit states the whole new set
      publisher.publishMessageEdited({ channel_id: '1', message_id: '2', edited_at: '2024-05-01T12:00:00Z' }),
    ).rejects.toThrow(/mention_user_ids: is required/);
    await publisher.publishMessageDeleted({
      channel_id: '1',
      message_id: '2',
      deleted_at: '2024-05-01T12:00:00Z',
    });
    await publisher.publishMessageAcked({
      channel_id: '1',
      user_id: '3',
      message_id: '2',
      manual: true,
      acked_at: '2024-05-01T12:00:00Z',
    });
    expect(recorded.sends.map(({ topic, messages }) => [topic, messages[0]?.key])).toEqual([
      ['chat.messages', '1'],
      ['chat.messages', '1'],
      ['chat.acks', '1'],
    ]);
    expect(JSON.parse(String(recorded.sends[0]?.messages[0]?.value))).toMatchObject({
      type: 'message_edited',
      mention_user_ids: [],
    });
    expect(JSON.parse(String(recorded.sends[2]?.messages[0]?.value))).toMatchObject({
      type: 'message_acked',
      v: 1,
      manual: true,
    });
  });

  it('sends a Date timestamp as its ISO string', async () => {
    const { kafka, recorded } = recordingKafka();
    const publisher = createPublisher({ kafka, topics });
    await publisher.publishMessageAcked({
      channel_id: '1',
      user_id: '3',
      message_id: '2',
      acked_at: new Date(Date.UTC(2024, 4, 1, 12, 0, 0, 250)),
    });
    expect(JSON.parse(String(recorded.sends[0]?.messages[0]?.value))).toMatchObject({
      acked_at: '2024-05-01T12:00:00.250Z',
      manual: false,
    });
  });

  it('throws naming the field, and sends nothing, for an invalid event', async () => {
    const { kafka, recorded } = recordingKafka();
    const publisher = createPublisher({ kafka, topics });
    await expect(publisher.publishMessageSent({ ...sentInput, author_id: '-3' })).rejects.toThrow(
      /^Invalid message_sent event; fix these fields before publishing:\n {2}author_id: must be a decimal string/,
    );
    await expect(
      publisher.publishMessageDeleted({ channel_id: '1', message_id: '2', deleted_at: new Date(Number.NaN) }),
    ).rejects.toThrow('deleted_at: is an invalid Date');
    const mismatched = { ...sentInput, type: 'message_acked' } as unknown as typeof sentInput;
    await expect(publisher.publishMessageSent(mismatched)).rejects.toThrow(
      'type: must be message_sent here; got "message_acked"',
    );
    expect(recorded.sends).toEqual([]);
  });
});

describe('publishBatch', () => {
  const batch: PublishEvent[] = [
    { type: 'message_sent', ...sentInput },
    {
      type: 'message_acked',
      channel_id: '100',
      user_id: '9',
      message_id: '200',
      acked_at: '2024-05-01T12:00:01Z',
    },
    {
      type: 'message_deleted',
      v: 1,
      channel_id: '100',
      message_id: '200',
      deleted_at: '2024-05-01T12:00:02Z',
    },
    { type: 'message_sent', ...sentInput, channel_id: '101', message_id: '201' },
  ];

  it('sends one batch grouped by topic, keeping each topic in the given order', async () => {
    const { kafka, recorded } = recordingKafka();
    const publisher = createPublisher({ kafka, topics });
    await publisher.publishBatch(batch);
    expect(recorded.sends).toEqual([]);
    expect(recorded.batches).toHaveLength(1);
    const sent = recorded.batches[0];
    expect(sent?.acks).toBe(-1);
    const summary = sent?.topicMessages?.map(({ topic, messages }) => ({
      topic,
      events: messages.map(({ key, value }) => {
        const event = JSON.parse(String(value)) as { type: string; message_id: string };
        return `${String(key)}:${event.type}:${event.message_id}`;
      }),
    }));
    expect(summary).toEqual([
      {
        topic: 'chat.messages',
        events: ['100:message_sent:200', '100:message_deleted:200', '101:message_sent:201'],
      },
      { topic: 'chat.acks', events: ['100:message_acked:200'] },
    ]);
  });

  it('sends nothing when any entry is invalid, and names the entry and field', async () => {
    const { kafka, recorded } = recordingKafka();
    const publisher = createPublisher({ kafka, topics });
    const bad = [
      ...batch,
      { type: 'message_acked', channel_id: '1', message_id: 2, acked_at: 'x' },
    ] as PublishEvent[];
    const failure = publisher.publishBatch(bad);
    await expect(failure).rejects.toBeInstanceOf(InvalidEventError);
    await expect(failure).rejects.toMatchObject({
      problems: [
        '[4].user_id: is required',
        expect.stringMatching(/^\[4\]\.message_id: must be a decimal string/),
        expect.stringMatching(/^\[4\]\.acked_at: must be an RFC 3339/),
      ],
    });
    const untyped = [{ ...sentInput }] as unknown as PublishEvent[];
    await expect(publisher.publishBatch(untyped)).rejects.toThrow(/\[0\]\.type: must be one of message_sent/);
    expect(recorded.batches).toEqual([]);
  });

  it('sends nothing for an empty batch', async () => {
    const { kafka, recorded } = recordingKafka();
    await expect(createPublisher({ kafka, topics }).publishBatch([])).resolves.toEqual({
      records: [],
      positions: {},
    });
    expect(recorded.batches).toEqual([]);
  });
});

describe('co-partitioning', () => {
  it('the default partitioner puts a channel on the same partition number of both topics', () => {
    const partition = Partitioners.DefaultPartitioner();
    const metadata = Array.from({ length: 12 }, (_, id) => ({
      partitionId: id,
      leader: 1,
      replicas: [1],
      isr: [1],
      partitionErrorCode: 0,
    }));
    fc.assert(
      fc.property(snowflakeArb, (channelId) => {
        const message = { key: channelId, value: '{}' };
        const onMessages = partition({ topic: topics.messages, partitionMetadata: metadata, message });
        const onAcks = partition({ topic: topics.acks, partitionMetadata: metadata, message });
        expect(onAcks).toBe(onMessages);
      }),
    );
  });
});

describe('ackUpTo', () => {
  it('sends, in one batch, a normal ack per channel of the greatest snowflake of that millisecond', async () => {
    const { kafka, recorded } = recordingKafka();
    const at = '2026-11-30T12:00:00.123Z';
    await createPublisher({ kafka, topics }).ackUpTo('9', ['100', '101'], at);
    expect(recorded.batches).toHaveLength(1);
    const acks = recorded.batches[0]?.topicMessages?.flatMap(({ topic, messages }) =>
      messages.map(({ key, value }) => ({ topic, key, event: JSON.parse(String(value)) as unknown })),
    );
    const id = greatestSnowflakeAt(Date.parse(at));
    expect(acks).toEqual(
      ['100', '101'].map((channel) => ({
        topic: 'chat.acks',
        key: channel,
        event: {
          type: 'message_acked',
          v: 1,
          channel_id: channel,
          user_id: '9',
          message_id: id,
          manual: false,
          acked_at: at,
        },
      })),
    );
  });

  it("takes now when no time is given, and the ids' own epoch when told", async () => {
    const { kafka, recorded } = recordingKafka();
    const before = Date.now();
    await createPublisher({ kafka, topics, snowflakeEpochMs: 1_288_834_974_657 }).ackUpTo('9', ['100']);
    const event = JSON.parse(String(recorded.batches[0]?.topicMessages?.[0]?.messages[0]?.value)) as {
      message_id: string;
      acked_at: string;
    };
    const ms = snowflakeTimeMs(event.message_id, 1_288_834_974_657);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(event.acked_at)).toBe(ms);
  });

  it('refuses a time ids cannot name, or a bad id, naming the field, and sends nothing', async () => {
    const { kafka, recorded } = recordingKafka();
    const publisher = createPublisher({ kafka, topics });
    await expect(publisher.ackUpTo('9', ['100'], 'yesterday')).rejects.toThrow(
      /at: must be a time ids can name/,
    );
    await expect(publisher.ackUpTo('9', ['100'], new Date('2014-12-31T23:59:59Z'))).rejects.toThrow(
      InvalidEventError,
    );
    await expect(publisher.ackUpTo('9', ['100', 'x'], new Date())).rejects.toThrow(/\[1\]\.channel_id/);
    expect(recorded.batches).toEqual([]);
  });
});
