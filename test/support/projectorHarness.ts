/**
 * What the end-to-end tests share: real topics, a real database, the reference model fed with exactly what
 * was published, and a way to compare the running service with it over HTTP.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import type { Producer } from 'kafkajs';
import { createDemoStream, type DemoEvent } from '../../src/ops/demoStream.ts';
import { createPublisher, type Publisher } from '../../src/publisher/createPublisher.ts';
import { testKafka } from './kafka.ts';
import { poisonRecords, type PoisonRecord } from './poisonRecords.ts';
import { createTestDatabase, type TestDatabase } from './postgres.ts';
import { createReferenceModel, type ReferenceModel } from './referenceModel.ts';
import { trackResource } from './resources.ts';
import { temporaryRocksDir } from './rocks.ts';
import { TEST_API_TOKEN } from './spawnService.ts';
import { waitFor } from './waitFor.ts';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface StreamShape {
  seed: number;
  channels: number;
  users: number;
}

export async function createProjectorHarness(file: string, shape: StreamShape, partitions = 4) {
  const kafka = testKafka(file);
  const topics = { messages: kafka.topic('messages'), acks: kafka.topic('acks') };
  const groupId = kafka.group('projector');
  await kafka.createTopics([topics.messages, topics.acks], partitions);
  const db: TestDatabase = await createTestDatabase();
  const dataDir = await temporaryRocksDir();
  const publisher: Publisher = createPublisher({ kafka: kafka.kafka, topics });
  const releasePublisher = trackResource('kafka client', 'harness publisher');
  await publisher.connect();
  const raw: Producer = kafka.producer();
  await raw.connect();
  const admin = kafka.admin();
  await admin.connect();

  const model: ReferenceModel = createReferenceModel();
  const stream = createDemoStream({ seed: shape.seed, channels: shape.channels, users: shape.users });
  const poisonSent: PoisonRecord[] = [];
  const channels = new Set<string>();
  const users = new Set<string>();

  const env = {
    KAFKA_BROKERS: kafka.brokers.join(','),
    KAFKA_GROUP_ID: groupId,
    TOPIC_MESSAGES: topics.messages,
    TOPIC_ACKS: topics.acks,
    DATA_DIR: dataDir.path,
    DATABASE_URL: db.url,
    // For CLI commands that call the service's /admin (readstates rebuild); startService sets the same token.
    API_TOKENS: TEST_API_TOKEN,
  };

  return {
    env,
    model,
    poisonSent,
    /** Publishes `count` stream events in batches, with one poison record every `poisonEvery` events. */
    async publish(count: number, options: { batch?: number; poisonEvery?: number } = {}): Promise<void> {
      const batchSize = options.batch ?? 200;
      let poisonCursor = poisonSent.length;
      for (let done = 0; done < count; done += batchSize) {
        const events: DemoEvent[] = [];
        for (let i = 0; i < Math.min(batchSize, count - done); i++) events.push(stream.next());
        for (const event of events) {
          model.apply(event);
          channels.add(event.channel_id);
          if (event.type === 'message_sent') {
            users.add(event.author_id);
            event.mention_user_ids.forEach((user) => users.add(user));
          }
          if (event.type === 'message_edited') event.mention_user_ids.forEach((user) => users.add(user));
          if (event.type === 'message_acked') users.add(event.user_id);
        }
        await publisher.publishBatch(events);
        if (options.poisonEvery !== undefined) {
          const due =
            Math.floor((done + events.length) / options.poisonEvery) - Math.floor(done / options.poisonEvery);
          for (let i = 0; i < due; i++) {
            const all = poisonRecords(events[0]?.channel_id ?? '1');
            const poison = all[poisonCursor % all.length];
            if (poison === undefined) continue;
            poisonCursor++;
            await raw.send({
              topic: poison.topic === 'acks' ? topics.acks : topics.messages,
              messages: [{ key: poison.key, value: poison.value }],
            });
            poisonSent.push(poison);
          }
        }
      }
    },
    /** Records the service has durably applied (and committed) so far, over both topics. */
    async appliedSoFar(): Promise<bigint> {
      let total = 0n;
      for (const topic of [topics.messages, topics.acks]) {
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        for (const partition of committed?.partitions ?? []) {
          if (BigInt(partition.offset) > 0n) total += BigInt(partition.offset);
        }
      }
      return total;
    },
    /** Records published but not yet applied (by the group's committed offsets), over both topics. */
    async behind(): Promise<bigint> {
      let total = 0n;
      for (const topic of [topics.messages, topics.acks]) {
        const ends = await admin.fetchTopicOffsets(topic);
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        for (const end of ends) {
          const at = BigInt(committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1');
          total += BigInt(end.high) - (at > 0n ? at : 0n);
        }
      }
      return total;
    },
    /** Resolves once the service has durably applied everything published (its Kafka commits reach the ends). */
    async caughtUp(timeoutMs = 120_000): Promise<void> {
      await waitFor(
        async () => {
          for (const topic of [topics.messages, topics.acks]) {
            const ends = await admin.fetchTopicOffsets(topic);
            const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
            for (const end of ends) {
              // -1: nothing committed yet, which is caught up only for a partition that is still empty.
              const at = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
              if (BigInt(end.high) > 0n && BigInt(at) < BigInt(end.high)) return false;
            }
          }
          return true;
        },
        timeoutMs,
        'the projector to apply every published record',
      );
    },
    /** The users and channels the stream has touched so far. */
    touched: () => ({ users: [...users], channels: [...channels] }),
    /**
     * Every (user, channel) the stream touched, as the service answers it, equals the reference model; each
     * user's listing is read in pages of `pageSize` (default 3, so that paging is tested too).
     */
    async expectMatchesModel(url: string, options: { pageSize?: number } = {}): Promise<number> {
      // As a client would: lookups answer 503 until the service has joined its group and caught up.
      await waitFor(async () => (await fetch(`${url}/readyz`)).ok, 120_000, 'the service to be ready');
      const channelList = [...channels];
      let compared = 0;
      for (const user of users) {
        const response = await fetch(`${url}/v1/read-states/query`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user_id: user, channel_ids: channelList }),
        });
        expect(response.status).toBe(200);
        const body = (await response.json()) as { read_states: Record<string, unknown>[] };
        const expected = channelList.map((channel) => {
          const view = model.readState(user, channel);
          return {
            channel_id: channel,
            last_acked_message_id: view.last_acked_message_id,
            last_message_id: view.last_message_id,
            unread_count: view.unread_count,
            mention_count: view.mention_count,
            first_unread_message_id: view.first_unread_message_id,
          };
        });
        expect(body.read_states, `read states of user ${user}`).toEqual(expected);
        compared += expected.length;

        const listed: string[] = [];
        let cursor: string | null = null;
        do {
          const page = (await (
            await fetch(
              `${url}/v1/users/${user}/read-states?limit=${options.pageSize ?? 3}${cursor === null ? '' : `&cursor=${cursor}`}`,
            )
          ).json()) as { read_states: { channel_id: string }[]; next_cursor: string | null };
          listed.push(...page.read_states.map((state) => state.channel_id));
          cursor = page.next_cursor;
        } while (cursor !== null);
        expect(listed, `channels listed for user ${user}`).toEqual(
          model.readStatesOf(user).map((v) => v.channel_id),
        );
      }
      return compared;
    },
    /** `readstates dead-letters list --json`, as an operator would run it. */
    async deadLettersFromCli(): Promise<
      { topic: string; partition: number; offset: string; code: string }[]
    > {
      const { stdout } = await run(
        process.execPath,
        ['src/cli.ts', 'dead-letters', 'list', '--limit', '100000', '--json'],
        {
          cwd: repoRoot,
          env: { ...process.env, DATABASE_URL: db.url },
          maxBuffer: 64 * 1024 * 1024,
        },
      );
      return stdout
        .trim()
        .split('\n')
        .filter((line) => line !== '')
        .map(
          (line) => JSON.parse(line) as { topic: string; partition: number; offset: string; code: string },
        );
    },
    async close(): Promise<void> {
      await publisher.disconnect();
      releasePublisher();
      await raw.disconnect();
      await admin.disconnect();
      await db.drop();
      await dataDir.remove();
    },
  };
}
