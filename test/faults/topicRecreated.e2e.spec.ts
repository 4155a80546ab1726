/**
 * Issue 10, item 4: no silent skips. A DATA_DIR holds state projected from a log, with the next offset to apply
 * per partition. When the log under it changed while the service was stopped, start-up must stop with a fatal
 * line naming the topic, the partition, both offsets and the recovery command, instead of skipping new events
 * that sit below the stored offsets:
 * - both topics deleted and recreated (new events below the stored offsets): "above the end of the log";
 * - a topic deleted and not recreated: it is not created again;
 * - retention deleted events the state never saw (deleteRecords moves the log start above the stored offset):
 *   "the log now starts at".
 */
import type { Admin } from 'kafkajs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createTopicsAndWait } from '../../src/ingest/createTopicsAndWait.ts';
import { testKafka } from '../support/kafka.ts';
import { freePort } from '../support/serviceProcess.ts';
import { waitFor } from '../support/waitFor.ts';
import { createFaultHarness, type FaultHarness } from './support/faultHarness.ts';
import { FATAL, spawnService, type LogLine, type SpawnedService } from '../support/spawnService.ts';

const PARTITIONS = 4;
const EVENTS = 2_000;
/** A refused start ends well within this (start-up, group join, fatal, bounded shutdown). */
const EXIT_WITHIN_MS = 30_000;

/** `topic/partition` → offset. */
type Offsets = Map<string, bigint>;

async function logOffsets(admin: Admin, topics: readonly string[]): Promise<{ low: Offsets; high: Offsets }> {
  const low: Offsets = new Map();
  const high: Offsets = new Map();
  for (const topic of topics) {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      low.set(`${topic}/${p.partition}`, BigInt(p.low));
      high.set(`${topic}/${p.partition}`, BigInt(p.high));
    }
  }
  return { low, high };
}

async function deleteTopicsAndWait(admin: Admin, topics: string[]): Promise<void> {
  await admin.deleteTopics({ topics, timeout: 30_000 });
  await waitFor(
    async () => {
      const existing = await admin.listTopics();
      return topics.every((topic) => !existing.includes(topic));
    },
    30_000,
    `topics ${topics.join(', ')} to be gone`,
  );
}

/** Until the process exits on its own; its exit code and how long that took from `since`. */
async function refusedStart(
  service: SpawnedService,
  since: number,
): Promise<{ code: number | null; ms: number }> {
  const timer = setTimeout(() => {
    service.kill('SIGKILL');
  }, EXIT_WITHIN_MS);
  const code = await service.exited;
  clearTimeout(timer);
  return { code, ms: Date.now() - since };
}

function fatalLines(service: SpawnedService): LogLine[] {
  return service.lines().filter((line) => line.level === FATAL);
}

describe('the log under a stopped instance changed', () => {
  let harness: FaultHarness | undefined;
  let admin: Admin | undefined;
  afterEach(async () => {
    await admin?.disconnect();
    admin = undefined;
    await harness?.close();
    harness = undefined;
  });

  /** A DATA_DIR holding everything published so far, its service stopped; the offsets it stored. */
  async function projectedAndStopped(name: string): Promise<{ h: FaultHarness; a: Admin; stored: Offsets }> {
    const h = await createFaultHarness({
      name,
      brokers: inject('kafkaBrokers'),
      postgresUrl: inject('postgresUrl'),
      seed: 71,
      channels: 12,
      users: 30,
      partitions: PARTITIONS,
    });
    harness = h;
    const a = testKafka(name).admin();
    admin = a;
    await a.connect();
    await h.publish(EVENTS);
    const service = await spawnService(`${name}-before`, h.env, await freePort());
    try {
      await service.healthy();
      await h.caughtUp(60_000);
    } finally {
      expect(await service.stop(), `exit code; see ${service.logFile}`).toBe(0);
    }
    // Caught up: the stored offsets are the log ends.
    const { high: stored } = await logOffsets(a, [h.topics.messages, h.topics.acks]);
    expect([...stored.values()].every((offset) => offset > 0n)).toBe(true);
    return { h, a, stored };
  }

  it('stops with a fatal line when both topics were deleted and recreated', async () => {
    const { h, a, stored } = await projectedAndStopped('topicRecreated');
    const topics = [h.topics.messages, h.topics.acks];
    await deleteTopicsAndWait(a, topics);
    // A moment after a deletion the broker may still call the name taken: try again for a while.
    await waitFor(
      () =>
        createTopicsAndWait(
          a,
          topics.map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
        ).then(() => true),
      30_000,
      'the topics to be created again',
    );
    // New events in the new log, all below the stored offsets: the ones a silent skip would lose.
    await h.publish(100);
    const { high } = await logOffsets(a, topics);
    for (const [at, end] of high) expect(end, `new log end of ${at}`).toBeLessThan(stored.get(at) ?? 0n);

    const started = Date.now();
    const service = await spawnService('topicRecreated-after', h.env, await freePort());
    const { code, ms } = await refusedStart(service, started);
    const fatal = fatalLines(service);
    process.stderr.write(
      `topic recreated: exit ${String(code)} after ${ms} ms; fatal: ${fatal.map((l) => l.msg).join(' | ')}\n`,
    );
    expect(code, `exit code; see ${service.logFile}`).not.toBe(0);
    expect(code).not.toBeNull();
    const named = fatal
      .map((line) =>
        /^(\S+) partition (\d+): the offset stored in DATA_DIR \((\d+)\) is above the end of the log \((\d+)\)/.exec(
          line.msg ?? '',
        ),
      )
      .find((match) => match !== null);
    expect(named, `a fatal line naming topic, partition and offsets; see ${service.logFile}`).toBeDefined();
    const [, topic = '', partition = '', storedOffset = '', logEnd = ''] = named ?? [];
    expect(topics).toContain(topic);
    expect(BigInt(storedOffset)).toBe(stored.get(`${topic}/${partition}`));
    expect(BigInt(logEnd)).toBe(high.get(`${topic}/${partition}`));
    expect(fatal.some((l) => l.msg?.includes('readstates rebuild --offline') === true)).toBe(true);
  }, 90_000);

  it('refuses to create a deleted topic again under existing state', async () => {
    const { h, a } = await projectedAndStopped('topicDeleted');
    await deleteTopicsAndWait(a, [h.topics.acks]);

    const started = Date.now();
    const service = await spawnService('topicDeleted-after', h.env, await freePort());
    const { code, ms } = await refusedStart(service, started);
    const fatal = fatalLines(service);
    process.stderr.write(
      `topic deleted: exit ${String(code)} after ${ms} ms; fatal: ${fatal.map((l) => JSON.stringify(l.err ?? l.msg)).join(' | ')}\n`,
    );
    expect(code, `exit code; see ${service.logFile}`).not.toBe(0);
    expect(code).not.toBeNull();
    const text = fatal.map((l) => `${l.msg ?? ''} ${JSON.stringify(l.err ?? '')}`).join('\n');
    expect(text, `the fatal lines; see ${service.logFile}`).toContain(h.topics.acks);
    expect(text).toContain('do not exist, but DATA_DIR holds state');
    expect(text).toContain('readstates rebuild --offline');
    // Not created again, and the other topic is untouched.
    const existing = await a.listTopics();
    expect(existing).not.toContain(h.topics.acks);
    expect(existing).toContain(h.topics.messages);
  }, 90_000);

  it('stops with a fatal line when retention deleted events the state never saw', async () => {
    const { h, a, stored } = await projectedAndStopped('topicRetention');
    const topics = [h.topics.messages, h.topics.acks];
    // Published while the instance is stopped, then deleted by the broker (as retention would) before it starts.
    await h.publish(1_000);
    const { high } = await logOffsets(a, topics);
    for (const topic of topics) {
      await a.deleteTopicRecords({
        topic,
        partitions: [...Array(PARTITIONS).keys()].map((partition) => ({
          partition,
          offset: String(high.get(`${topic}/${partition}`) ?? -1n),
        })),
      });
    }
    const { low } = await logOffsets(a, topics);
    const skipped = [...low].filter(([at, start]) => start > (stored.get(at) ?? 0n));
    expect(skipped.length, 'partitions whose log now starts above the stored offset').toBeGreaterThan(0);

    const started = Date.now();
    const service = await spawnService('topicRetention-after', h.env, await freePort());
    const { code, ms } = await refusedStart(service, started);
    const fatal = fatalLines(service);
    process.stderr.write(
      `retention: exit ${String(code)} after ${ms} ms; fatal: ${fatal.map((l) => l.msg).join(' | ')}\n`,
    );
    expect(code, `exit code; see ${service.logFile}`).not.toBe(0);
    expect(code).not.toBeNull();
    const named = fatal
      .map((line) =>
        /^(\S+) partition (\d+): the next offset to apply is (\d+) but the log now starts at (\d+)/.exec(
          line.msg ?? '',
        ),
      )
      .find((match) => match !== null);
    expect(named, `a fatal line naming topic, partition and offsets; see ${service.logFile}`).toBeDefined();
    const [, topic = '', partition = '', next = '', start = ''] = named ?? [];
    expect(topics).toContain(topic);
    expect(BigInt(next)).toBe(stored.get(`${topic}/${partition}`));
    expect(BigInt(start)).toBe(low.get(`${topic}/${partition}`));
    expect(fatal.some((l) => l.msg?.includes('readstates rebuild --offline') === true)).toBe(true);
  }, 90_000);
});
