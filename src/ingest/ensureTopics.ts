import kafkajs, { type Admin } from 'kafkajs';
import type { Logger } from '../logger.ts';
import { createTopicsAndWait } from './createTopicsAndWait.ts';

export interface Topics {
  messages: string;
  acks: string;
}

/**
 * Makes sure both topics exist and are co-partitioned (same partition count), so that one channel's messages
 * and acks share a partition number and one partition's state is complete on its own. A missing topic is
 * created with its sibling's partition count (the broker's default when both are missing), keeping every event
 * (the topics are the source of truth: a rebuild replays them from the start). Returns the count.
 */
export async function ensureTopics(
  admin: Admin,
  topics: Topics,
  logger: Logger,
  options: { mayCreate: boolean } = { mayCreate: true },
): Promise<number> {
  const names = [topics.messages, topics.acks];
  const existing = new Set(await admin.listTopics());
  const missing = names.filter((name) => !existing.has(name));
  if (missing.length > 0 && !options.mayCreate) {
    throw new Error(
      `Topic(s) ${missing.join(', ')} do not exist, but DATA_DIR holds state projected from them: they were ` +
        'deleted (or KAFKA_BROKERS / TOPIC_MESSAGES / TOPIC_ACKS name other ones). Creating them again would ' +
        'put new events below the stored offsets, where they would be skipped. Fix the names if they are ' +
        'wrong; otherwise create both topics, co-partitioned, and rebuild with the service stopped: ' +
        'readstates rebuild --offline',
    );
  }
  if (missing.length > 0) {
    const present = names.filter((name) => existing.has(name));
    const numPartitions =
      present.length === 0
        ? -1
        : ((await admin.fetchTopicMetadata({ topics: present })).topics[0]?.partitions.length ?? -1);
    logger.warn({ topics: missing, numPartitions }, 'creating missing topics');
    await createTopicsAndWait(
      admin,
      missing.map((topic) => ({ topic, numPartitions, configEntries: KEEP_FOREVER })),
    );
  }
  const metadata = await admin.fetchTopicMetadata({ topics: names });
  const counts = names.map((name) => metadata.topics.find((t) => t.name === name)?.partitions.length ?? 0);
  const [messagesCount = 0, acksCount = 0] = counts;
  if (messagesCount !== acksCount) {
    throw new Error(
      `Topics ${topics.messages} (${messagesCount} partitions) and ${topics.acks} (${acksCount} partitions) are not ` +
        "co-partitioned: a channel's messages and acks must land on the same partition number. If one of them " +
        "holds no events yet, delete it and restart (it is recreated with its sibling's count). Otherwise do not " +
        'add partitions to the smaller one (that moves channels to other partitions): publish into a new ' +
        'co-partitioned pair, point TOPIC_MESSAGES and TOPIC_ACKS at it, and rebuild.',
    );
  }
  await warnOnRetention(admin, names, logger);
  return messagesCount;
}

const KEEP_FOREVER = [
  { name: 'retention.ms', value: '-1' },
  { name: 'retention.bytes', value: '-1' },
];

/** A topic that deletes old events cannot be replayed into the same state: say so at every start. */
async function warnOnRetention(admin: Admin, names: readonly string[], logger: Logger): Promise<void> {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: names.map((name) => ({
      type: kafkajs.ConfigResourceTypes.TOPIC,
      name,
      configNames: ['retention.ms', 'retention.bytes', 'cleanup.policy'],
    })),
  });
  for (const resource of described.resources) {
    const config = new Map(resource.configEntries.map((entry) => [entry.configName, entry.configValue]));
    const keepsAll =
      config.get('retention.ms') === '-1' &&
      config.get('retention.bytes') === '-1' &&
      config.get('cleanup.policy') === 'delete';
    if (!keepsAll) {
      logger.warn(
        { topic: resource.resourceName, config: Object.fromEntries(config) },
        'this topic does not keep every event (retention.ms and retention.bytes should be -1, cleanup.policy ' +
          'delete): once events are deleted, a rebuild can no longer reproduce the state',
      );
    }
  }
}
