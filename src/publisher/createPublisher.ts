import { Kafka, Partitioners } from 'kafkajs';
import type { CompressionTypes, KafkaConfig, Message, ProducerConfig, RecordMetadata } from 'kafkajs';
import { encodeEvent } from '../contract/encode.ts';
import { createPartitionOf } from '../contract/partitionOf.ts';
import { EVENT_TYPES, eventTopic, isEventType } from '../contract/events.ts';
import type { EventType, TopicKind } from '../contract/events.ts';
import { InvalidEventError } from '../contract/invalidEventError.ts';
import { greatestSnowflakeAt, type Snowflake } from '../contract/snowflake.ts';
import type {
  PublishEvent,
  PublishMemberJoined,
  PublishMemberLeft,
  PublishMessageAcked,
  PublishMessageDeleted,
  PublishMessageEdited,
  PublishMessageSent,
} from './publishInputs.ts';
import { toEventInput } from './publishInputs.ts';

/** Topic names by role; they come from the same configuration the service reads (TOPIC_MESSAGES, TOPIC_ACKS). */
export type PublisherTopics = Readonly<Record<TopicKind, string>>;

export interface PublisherOptions {
  /** A kafkajs client, or the configuration to build one (brokers, clientId, ssl, sasl…). */
  readonly kafka: Kafka | KafkaConfig;
  /**
   * Both topics must be co-partitioned: the same number of partitions, fed with the same partitioner, so a
   * channel's key lands on the same partition number in each and one consumer sees both halves of a channel.
   * Every producer writing to them must use kafkajs's DefaultPartitioner (murmur2 of the key bytes, the Java
   * client's default too) or a client whose default matches it, as this SDK does, and never name a partition:
   * the projector checks each record's key against its partition and keeps a record elsewhere as a
   * `wrong_partition` dead letter (reads look a channel up where its key hashes).
   */
  readonly topics: PublisherTopics;
  /**
   * Further producer settings. Idempotence, the in-flight limit and the partitioner are fixed by the SDK.
   * Note that a producer built through `Kafka#producer` retries 5 times unless `retry.retries` says otherwise.
   */
  readonly producer?: Omit<
    ProducerConfig,
    'idempotent' | 'maxInFlightRequests' | 'createPartitioner' | 'transactionalId'
  >;
  /** How long the broker may take to acknowledge a produce request, in ms (kafkajs default 30000). */
  readonly timeout?: number;
  readonly compression?: CompressionTypes;
  /** The epoch of the ids, for `ackUpTo`: Discord's (SNOWFLAKE_EPOCH_MS, 2015-01-01) unless the ids use another. */
  readonly snowflakeEpochMs?: number;
}

/**
 * Per partition written, the offset after the last record written there, per topic: pass it as a lookup's
 * `min_positions` and the answer includes these events (read your own writes), or is a 503 not_caught_up.
 */
export type WrittenPositions = Record<string, { messages?: string; acks?: string }>;

/** What the brokers acknowledged: kafkajs's record metadata, and the positions it adds up to. */
export interface Published {
  readonly records: RecordMetadata[];
  readonly positions: WrittenPositions;
}

export interface Publisher {
  connect(): Promise<void>;
  /** Each publish validates first and throws `InvalidEventError` naming the field; nothing is sent then. */
  publishMessageSent(input: PublishMessageSent): Promise<Published>;
  publishMessageDeleted(input: PublishMessageDeleted): Promise<Published>;
  /** A message's new mention set (the whole set, not a change); the latest `edited_at` of a message counts. */
  publishMessageEdited(input: PublishMessageEdited): Promise<Published>;
  publishMessageAcked(input: PublishMessageAcked): Promise<Published>;
  /** The user joined the channel at `joined_at`: messages made before then never count for them. */
  publishMemberJoined(input: PublishMemberJoined): Promise<Published>;
  /** The user left the channel at `left_at`: until a later join the pair counts nothing. */
  publishMemberLeft(input: PublishMemberLeft): Promise<Published>;
  /** One request per broker for the whole batch; if any entry is invalid, none is sent. */
  publishBatch(inputs: readonly PublishEvent[]): Promise<Published>;
  /**
   * Marks `channelIds` read for `userId` up to `at` (default: now, the one time this SDK reads the clock, since
   * "now" is what the call asks for): one normal ack per channel of the greatest snowflake of that millisecond.
   * Exact whatever the projector has applied yet, and whatever arrives later with an older id: the pointer is
   * max(pointer, that id), a pure function of the events (docs/semantics.md, "Mark read up to a time").
   */
  ackUpTo(userId: Snowflake, channelIds: readonly Snowflake[], at?: Date | string): Promise<Published>;
  disconnect(): Promise<void>;
}

/**
 * The producer settings the contract needs, fixed here so no publisher forgets one:
 * - `idempotent`: a retried produce request cannot duplicate or reorder a channel's events.
 * - `maxInFlightRequests: 1`: kafkajs 2.2.4 enforces no limit for idempotent producers. It keeps sequence
 *   numbers in order by serialising produce requests per broker with a lock, and has none of the Java client's
 *   re-sequencing of several in-flight batches; a limit of 1 keeps that guarantee should the lock change, at
 *   no cost since produce requests are serialised anyway.
 * - `DefaultPartitioner`, named explicitly: it is what the topics' co-partitioning relies on, and naming it
 *   silences kafkajs's warning about the partitioner change in 2.0.
 */
export const PUBLISHER_PRODUCER_CONFIG = {
  idempotent: true,
  maxInFlightRequests: 1,
  createPartitioner: Partitioners.DefaultPartitioner,
} as const satisfies ProducerConfig;

/**
 * DefaultPartitioner's choice, telling which partition it chose for each message: kafkajs answers a produce with
 * each partition's base offset only, and the positions written need each partition's count of records too.
 * A keyed message (every event: the key is its channel) takes the same murmur2 in 32-bit arithmetic that the
 * projector checks records with (partitionOf.ts), 20 times cheaper than kafkajs's: its Long arithmetic was the
 * largest share of a publisher's CPU after encoding. Anything else goes to kafkajs's own.
 */
function recordingPartitioner(chosen: WeakMap<Message, number>): ProducerConfig['createPartitioner'] {
  return () => {
    const fallback = Partitioners.DefaultPartitioner();
    const byCount = new Map<number, (key: string | Uint8Array) => number>();
    return (args) => {
      const { message, partitionMetadata } = args;
      const { key } = message;
      let partition: number;
      if (
        message.partition === undefined &&
        key !== undefined &&
        key !== null &&
        partitionMetadata.length > 0
      ) {
        let partitionOf = byCount.get(partitionMetadata.length);
        if (partitionOf === undefined) {
          partitionOf = createPartitionOf(partitionMetadata.length);
          byCount.set(partitionMetadata.length, partitionOf);
        }
        partition = partitionOf(key);
      } else partition = fallback(args);
      chosen.set(message, partition);
      return partition;
    };
  };
}

/** Waiting for all in-sync replicas is required by idempotence (kafkajs refuses anything else). */
const ACKS_ALL = -1;

function checkTopics(topics: PublisherTopics): void {
  for (const kind of ['messages', 'acks'] as const) {
    const name: unknown = topics[kind];
    if (typeof name !== 'string' || name.trim() === '') {
      throw new TypeError(`topics.${kind} must be a topic name; got ${JSON.stringify(name)}`);
    }
  }
  if (topics.messages === topics.acks) {
    throw new TypeError(
      `topics.messages and topics.acks must be different topics; both are "${topics.messages}"`,
    );
  }
}

export function createPublisher(options: PublisherOptions): Publisher {
  checkTopics(options.topics);
  const topics = { ...options.topics };
  const kafka = 'producer' in options.kafka ? options.kafka : new Kafka(options.kafka);
  const chosen = new WeakMap<Message, number>();
  const producer = kafka.producer({
    ...options.producer,
    ...PUBLISHER_PRODUCER_CONFIG,
    createPartitioner: recordingPartitioner(chosen),
  });
  const kindOf = new Map<string, TopicKind>([
    [topics.messages, 'messages'],
    [topics.acks, 'acks'],
  ]);

  /** The acknowledged records, with the offset after each partition's last one (they are written contiguously). */
  function published(
    records: RecordMetadata[],
    sent: readonly { topic: string; messages: readonly Message[] }[],
  ) {
    const counts = new Map<string, number>();
    for (const { topic, messages } of sent) {
      for (const message of messages) {
        const key = `${topic}:${chosen.get(message) ?? -1}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    const positions: Record<string, { messages?: string; acks?: string } | undefined> = {};
    for (const record of records) {
      const kind = kindOf.get(record.topicName);
      const count = counts.get(`${record.topicName}:${record.partition}`);
      if (kind === undefined || count === undefined || record.baseOffset === undefined) continue;
      const next = (BigInt(record.baseOffset) + BigInt(count)).toString();
      (positions[record.partition] ??= {})[kind] = next;
    }
    return { records, positions: positions as WrittenPositions };
  }
  const sendOptions = {
    acks: ACKS_ALL,
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    ...(options.compression === undefined ? {} : { compression: options.compression }),
  };

  function encode(type: EventType, input: object): { topic: string; message: Message } {
    const { key, value } = encodeEvent(toEventInput(type, input));
    return { topic: topics[eventTopic[type]], message: { key, value } };
  }

  // Async so that a validation error rejects the returned promise, like a send failure, instead of throwing.
  async function publishOne(type: EventType, input: object): Promise<Published> {
    const { topic, message } = encode(type, input);
    const records = await producer.send({ ...sendOptions, topic, messages: [message] });
    return published(records, [{ topic, messages: [message] }]);
  }

  async function publishBatch(inputs: readonly PublishEvent[]): Promise<Published> {
    if (inputs.length === 0) return { records: [], positions: {} };
    // Validate everything before sending anything, naming the entry so a caller can find it.
    const byTopic = new Map<string, Message[]>();
    inputs.forEach((input, index) => {
      let encoded: { topic: string; message: Message };
      try {
        const type: unknown = (input as { type?: unknown }).type;
        if (!isEventType(type)) {
          throw new InvalidEventError('event', [
            `type: must be one of ${EVENT_TYPES.join(', ')}; got ${JSON.stringify(type)}`,
          ]);
        }
        encoded = encode(type, input);
      } catch (error) {
        if (!(error instanceof InvalidEventError)) throw error;
        throw new InvalidEventError(
          `batch entry [${index}]`,
          error.problems.map((problem) => `[${index}].${problem}`),
        );
      }
      const messages = byTopic.get(encoded.topic);
      if (messages === undefined) byTopic.set(encoded.topic, [encoded.message]);
      else messages.push(encoded.message);
    });
    const topicMessages = Array.from(byTopic, ([topic, messages]) => ({ topic, messages }));
    return published(await producer.sendBatch({ ...sendOptions, topicMessages }), topicMessages);
  }

  return {
    connect: () => producer.connect(),
    publishMessageSent: (input) => publishOne('message_sent', input),
    publishMessageDeleted: (input) => publishOne('message_deleted', input),
    publishMessageEdited: (input) => publishOne('message_edited', input),
    publishMessageAcked: (input) => publishOne('message_acked', input),
    publishMemberJoined: (input) => publishOne('member_joined', input),
    publishMemberLeft: (input) => publishOne('member_left', input),

    publishBatch,

    async ackUpTo(userId, channelIds, at = new Date()) {
      const when = at instanceof Date ? at : new Date(at);
      let messageId: Snowflake;
      try {
        messageId = greatestSnowflakeAt(when.getTime(), options.snowflakeEpochMs);
      } catch (error) {
        throw new InvalidEventError('ackUpTo', [
          `at: must be a time ids can name (an ISO timestamp or a Date after the ids' epoch); got ${JSON.stringify(at)} (${(error as Error).message})`,
        ]);
      }
      return publishBatch(
        channelIds.map((channel_id) => ({
          type: 'message_acked' as const,
          channel_id,
          user_id: userId,
          message_id: messageId,
          acked_at: when,
        })),
      );
    },

    disconnect: () => producer.disconnect(),
  };
}
