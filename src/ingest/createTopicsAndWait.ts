import type { Admin, ITopicConfig } from 'kafkajs';

/**
 * Creates topics and waits until every partition has a leader that answers. kafkajs's own `waitForLeaders` gives up
 * when the broker briefly answers "does not host this topic-partition" for a topic it has just created (seen on
 * KRaft), so this polls the metadata itself and treats such answers as "not yet".
 */
export async function createTopicsAndWait(
  admin: Admin,
  topics: ITopicConfig[],
  timeoutMs = 30_000,
): Promise<void> {
  await admin.createTopics({ topics, waitForLeaders: false });
  const names = topics.map((t) => t.topic);
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: names });
      const ready = names.every((name) => {
        const partitions = metadata.topics.find((t) => t.name === name)?.partitions ?? [];
        return partitions.length > 0 && partitions.every((p) => p.leader >= 0);
      });
      // A leader in the metadata is not yet a leader that serves: a produce right after was answered "not the
      // leader for that topic-partition" (KRaft, one broker), and an idempotent producer's retry of it then
      // failed for good ("out of order sequence number"). Each partition's leader answering ListOffsets is.
      if (ready) {
        for (const name of names) await admin.fetchTopicOffsets(name);
        return;
      }
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`Topics ${names.join(', ')} have no leaders after ${timeoutMs} ms`, {
        cause: lastError,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
