/**
 * Issue 10, item 2: the consumer always moves. A restart on the same DATA_DIR under a NEW consumer group (the
 * broker expired a stopped group's offsets, or the group was renamed) starts fetching at offset 0, far below the
 * offsets stored in RocksDB. With more than 1 MiB per partition (kafkajs fetches at most 1 MiB per partition at a
 * time) the first batches lie wholly below the stored offset; the projector must seek past them, not drop them
 * and get the same batch again for ever. Then new events apply within seconds and the process is idle.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MessageAcked } from '../../src/contract/events.ts';
import { encodeEvent } from '../../src/contract/encode.ts';
import { eventTopic } from '../../src/contract/events.ts';
import { createDemoStream } from '../../src/ops/demoStream.ts';
import { createPublisher } from '../../src/publisher/createPublisher.ts';
import { acked } from '../support/eventBuilders.ts';
import { homePartition } from '../support/hostileRecords.ts';
import { uniqueName } from '../support/names.ts';
import { trackResource } from '../support/resources.ts';
import { freePort } from '../support/serviceProcess.ts';
import { waitFor } from '../support/waitFor.ts';
import { createFaultHarness, type FaultHarness } from './support/faultHarness.ts';
import { cpuPercent, spawnService } from '../support/spawnService.ts';

const STREAM = { seed: 61, channels: 24, users: 60 };
const PARTITIONS = 2;
/** Enough for more than 1 MiB on every partition of both topics with this seed (checked below). */
const EVENTS = 36_000;
const MIB = 1024 * 1024;
/** "Within seconds": the old code never applied them (the issue saw 26 wrong values 120 s later). */
const APPLY_WITHIN_MS = 15_000;
const IDLE_CPU_PERCENT = 20;

/** Bytes of keys and values per topic/partition: the harness publishes this same seeded stream, in order. */
function publishedBytes(count: number): Map<string, number> {
  const stream = createDemoStream(STREAM);
  const bytes = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const event = stream.next();
    const { key, value } = encodeEvent(event);
    const at = `${eventTopic[event.type]}/${homePartition(key, PARTITIONS)}`;
    bytes.set(at, (bytes.get(at) ?? 0) + Buffer.byteLength(key) + Buffer.byteLength(value));
  }
  return bytes;
}

describe('restart on the same DATA_DIR under a new consumer group', () => {
  let harness: FaultHarness;
  beforeAll(async () => {
    harness = await createFaultHarness({
      name: 'newGroupRestart',
      brokers: inject('kafkaBrokers'),
      postgresUrl: inject('postgresUrl'),
      ...STREAM,
      partitions: PARTITIONS,
    });
  });
  afterAll(async () => {
    await harness.close();
  });

  it('seeks past what RocksDB already holds, applies new events within seconds, then idles', async () => {
    const bytes = publishedBytes(EVENTS);
    expect([...bytes.keys()].sort()).toEqual(['acks/0', 'acks/1', 'messages/0', 'messages/1']);
    for (const [at, size] of bytes) expect(size, `bytes on ${at}`).toBeGreaterThan(MIB);

    await harness.publish(EVENTS, { batch: 1_000 });
    const first = await spawnService('newGroupRestart-first', harness.env, await freePort());
    try {
      await first.healthy();
      await harness.caughtUp(60_000);
      await harness.waitReady(first.url);
    } finally {
      expect(await first.stop(), `first instance's exit code; see ${first.logFile}`).toBe(0);
    }

    const newGroup = uniqueName('newGroupRestart-renamed');
    const second = await spawnService(
      'newGroupRestart-second',
      { ...harness.env, KAFKA_GROUP_ID: newGroup },
      await freePort(),
    );
    const publisher = createPublisher({
      kafka: { brokers: [...inject('kafkaBrokers')] },
      topics: harness.topics,
    });
    const releasePublisher = trackResource('kafka client', 'newGroupRestart ack publisher');
    await publisher.connect();
    try {
      await second.healthy();
      // Everything applied before the restart is served as it was (the partitions serve once caught up).
      await harness.waitReady(second.url, 30_000);
      const before = await harness.compareWithModel(second.url);
      expect(before.mismatches, 'read states after the restart, before new events').toEqual([]);
      expect(before.compared).toBeGreaterThan(500);

      // One ack per channel, by a member with unread messages, of the channel's last message: each moves a
      // pointer, so each changes what the service must answer.
      const { users, channels } = harness.touched();
      const acks: MessageAcked[] = channels.flatMap((channel) => {
        const head = harness.model.channelHead(channel).last_message_id;
        const user = users.find((u) => harness.model.readState(u, channel).unread_count > 0);
        return head === null || user === undefined ? [] : [acked({ channel, user, id: head })];
      });
      expect(acks.length).toBe(STREAM.channels);
      const changed = acks.map((ack) => ({ user: ack.user_id, channel: ack.channel_id }));
      const publishedAt = Date.now();
      await publisher.publishBatch(acks);
      acks.forEach((ack) => {
        harness.model.apply(ack);
      });
      for (const { user, channel } of changed)
        expect(harness.model.readState(user, channel).unread_count).toBe(0);

      const after = await waitFor(
        async () => {
          const result = await harness.compareWithModel(second.url);
          return result.mismatches.length === 0 ? result : false;
        },
        APPLY_WITHIN_MS,
        `every new ack to be applied (log: ${second.logFile})`,
      ).catch(async (error: unknown) => {
        const result = await harness.compareWithModel(second.url);
        throw new Error(`not applied within ${APPLY_WITHIN_MS} ms:\n  ${result.mismatches.join('\n  ')}`, {
          cause: error,
        });
      });
      const appliedInMs = Date.now() - publishedAt;
      expect(after.compared).toBe(before.compared);

      // At the end of the topic the process has nothing to do: no batch fetched over and over.
      const cpu = await cpuPercent(second.pid, 3_000);
      process.stderr.write(
        `new group restart: ${EVENTS} events (${[...bytes]
          .map(([at, size]) => `${at} ${(size / MIB).toFixed(2)} MiB`)
          .join(
            ', ',
          )}), ${acks.length} acks applied in ${appliedInMs} ms, then ${cpu.toFixed(1)}% CPU over 3 s\n`,
      );
      expect(cpu, 'CPU use of the idle service, % of one core').toBeLessThan(IDLE_CPU_PERCENT);
      expect(second.exitCode()).toBeUndefined();
    } finally {
      await publisher.disconnect();
      releasePublisher();
      expect(await second.stop(), `second instance's exit code; see ${second.logFile}`).toBe(0);
    }
  }, 90_000);
});
