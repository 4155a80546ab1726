import {
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type ConsumerConfig,
  type Producer,
  type ProducerConfig,
} from 'kafkajs';
import { inject } from 'vitest';
import { createTopicsAndWait } from '../../src/ingest/createTopicsAndWait.ts';
import { uniqueName } from './names.ts';
import { trackResource } from './resources.ts';

/**
 * Kafka clients for one test file, on the run's real broker. Every client is on the leak ledger until it
 * disconnects. `topic()` and `group()` give names no other file uses.
 */
export function testKafka(file: string) {
  const brokers = inject('kafkaBrokers');
  const kafka = new Kafka({ brokers, clientId: uniqueName(`test-${file}`), logLevel: logLevel.WARN });

  function tracked<T extends Admin | Producer | Consumer>(client: T, name: string): T {
    const release = trackResource('kafka client', name);
    const disconnect = client.disconnect.bind(client);
    client.disconnect = async () => {
      await disconnect();
      release();
    };
    return client;
  }

  return {
    brokers,
    kafka,
    topic: (name: string) => uniqueName(`${file}.${name}`),
    group: (name: string) => uniqueName(`${file}-${name}`),
    admin: () => tracked(kafka.admin(), 'admin'),
    producer: (config?: ProducerConfig) => tracked(kafka.producer(config), 'producer'),
    consumer: (config: ConsumerConfig) => tracked(kafka.consumer(config), `consumer ${config.groupId}`),
    async createTopics(topics: readonly string[], numPartitions = 1): Promise<void> {
      const admin = tracked(kafka.admin(), 'admin (createTopics)');
      await admin.connect();
      try {
        await createTopicsAndWait(
          admin,
          topics.map((topic) => ({ topic, numPartitions, replicationFactor: 1 })),
        );
      } finally {
        await admin.disconnect();
      }
    },
  };
}
