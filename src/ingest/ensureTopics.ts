import type { Admin } from 'kafkajs';
import type { Logger } from '../logger.ts';
import { createTopicsAndWait } from './createTopicsAndWait.ts';

export interface Topics {
  messages: string;
  acks: string;
}

/**
 * Makes sure both topics exist and are co-partitioned (same partition count), so that one channel's messages
 * and acks share a partition number and one partition's state is complete on its own. A missing topic is
 * created with its sibling's partition count (the broker's default when both are missing). Returns the count.
 */
export async function ensureTopics(admin: Admin, topics: Topics, logger: Logger): Promise<number> {
  const names = [topics.messages, topics.acks];
  const existing = new Set(await admin.listTopics());
  const missing = names.filter((name) => !existing.has(name));
  if (missing.length > 0) {
    const present = names.filter((name) => existing.has(name));
    const numPartitions =
      present.length === 0
        ? -1
        : ((await admin.fetchTopicMetadata({ topics: present })).topics[0]?.partitions.length ?? -1);
    logger.warn({ topics: missing, numPartitions }, 'creating missing topics');
    await createTopicsAndWait(
      admin,
      missing.map((topic) => ({ topic, numPartitions })),
    );
  }
  const metadata = await admin.fetchTopicMetadata({ topics: names });
  const counts = names.map((name) => metadata.topics.find((t) => t.name === name)?.partitions.length ?? 0);
  const [messagesCount = 0, acksCount = 0] = counts;
  if (messagesCount !== acksCount) {
    throw new Error(
      `Topics ${topics.messages} (${messagesCount} partitions) and ${topics.acks} (${acksCount} partitions) are not ` +
        "co-partitioned: a channel's messages and acks must land on the same partition number. Give both topics " +
        'the same partition count (kafka-topics --alter --partitions N on the smaller one, then replay) and restart.',
    );
  }
  return messagesCount;
}
