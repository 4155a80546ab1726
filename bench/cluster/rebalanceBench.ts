/**
 * What scaling out costs, measured on real Kafka with the service as users start it (issue 12):
 * 1. Moving a partition that holds `--events` events (default 1M): instance A owns both partitions of two and has
 *    applied everything; instance B joins, and the sticky assignment hands it partition 1, which holds the backlog.
 *    Timed: from B's start to B serving partition 1 (join + restore by replay), while a client keeps asking A and B
 *    for a channel of partition 1: the share answered (A answers it as handing over until B has caught up).
 * 2. The projection pause a rebalance costs the partition that stays: with a steady load flowing, the longest time
 *    A applies nothing around B's join, against the longest such gap before it.
 * 3. A kill -9 of B: the time until partition 1 is answered again. The session timeout (KAFKA_SESSION_TIMEOUT_MS)
 *    passes before the group notices; A then restores partition 1 from the state it kept (PARTITION_RETAIN_MS),
 *    replaying only what B applied since the move.
 *
 * Usage: npm run bench:cluster -- [--events N] [--quick] [--session-ms N] [--rate N]
 * Prints a table and, as its last line, one JSON object with the headline figures.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig } from '../../src/config.ts';
import type { Snowflake } from '../../src/contract/snowflake.ts';
import { createKafka } from '../../src/ingest/createKafka.ts';
import { createTopicsAndWait } from '../../src/ingest/createTopicsAndWait.ts';
import { createPartitionOf } from '../../src/contract/partitionOf.ts';
import { createDemoStream, type DemoEvent } from '../../src/ops/demoStream.ts';
import { createPublisher } from '../../src/publisher/createPublisher.ts';
import { databaseUrlOf, openBenchDatabase } from '../ingest/benchDatabase.ts';
import { metric, projectLive, startLiveService, type LiveService } from '../ingest/liveProjection.ts';
import { publishStream } from '../ingest/publishStream.ts';
import { printTable } from '../markdownTable.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    quick: { type: 'boolean', default: false },
    'session-ms': { type: 'string', default: '10000' },
    rate: { type: 'string', default: '2000' },
    database: { type: 'string', default: 'readstates_bench' },
  },
});
const events = values.quick ? 200_000 : Number(values.events);
const sessionMs = Number(values['session-ms']);
const rate = Number(values.rate);
for (const [name, value] of Object.entries({ events, 'session-ms': sessionMs, rate })) {
  if (!Number.isSafeInteger(value) || value < 1) {
    console.error(`--${name} must be a whole number from 1 up`);
    process.exit(2);
  }
}

const PARTITIONS = 2;
/** The partition the sticky plan moves to the second member (the highest of the first member's). */
const MOVED = 1;
const config = loadConfig(process.env);
const logger = pino({ level: 'warn' }, pino.destination(2));
const kafka = createKafka(config, logger);
const runId = `${Date.now()}`;
const topics = { messages: `bench.cluster.messages.${runId}`, acks: `bench.cluster.acks.${runId}` };
const partitionOf = createPartitionOf(PARTITIONS);
const say = (line: string) => process.stderr.write(`${line}\n`);

/** The demo stream, only its events on `partition`: a backlog that all lands on the partition that will move. */
function streamOn(partition: number, seed: number): { next: () => DemoEvent } {
  const demo = createDemoStream({ seed, channels: Math.max(50, Math.round(events / 100)), users: 10_000 });
  return {
    next() {
      for (;;) {
        const event = demo.next();
        if (partitionOf(event.channel_id) === partition) return event;
      }
    },
  };
}

/** Publishes the demo stream at `rate` events/s over both partitions until stopped; a channel of each. */
function steadyLoad() {
  const publisher = createPublisher({ kafka, topics });
  const demo = createDemoStream({ seed: 7, channels: 200, users: 2_000 });
  const channels = new Map<number, Snowflake>();
  const state = { running: true };
  const loop = (async () => {
    await publisher.connect();
    const batch = Math.max(1, Math.round(rate / 20));
    while (state.running) {
      const started = performance.now();
      const sent = Array.from({ length: batch }, () => demo.next());
      for (const event of sent) channels.set(partitionOf(event.channel_id), event.channel_id);
      await publisher.publishBatch(sent);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 50 - (performance.now() - started))));
    }
    await publisher.disconnect();
  })();
  return {
    channelOn: (partition: number) => channels.get(partition),
    async stop() {
      state.running = false;
      await loop;
    },
  };
}

async function metricOf(service: LiveService, name: string): Promise<number | undefined> {
  try {
    return metric(await (await fetch(`${service.url}/metrics`)).text(), name);
  } catch {
    return undefined;
  }
}

/** Samples A's applied events every 20 ms; the longest stretch without progress within a window. */
function progressGaps(service: LiveService) {
  const samples: { at: number; applied: number }[] = [];
  const state = { running: true };
  const loop = (async () => {
    while (state.running) {
      const applied = await metricOf(service, 'readstates_events_applied_total');
      if (applied !== undefined) samples.push({ at: performance.now(), applied });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    longestGapMs(from: number, to: number): number {
      let longest = 0;
      let since: number | undefined;
      let last = -1;
      for (const { at, applied } of samples) {
        if (at < from || at > to) continue;
        if (applied !== last) {
          if (since !== undefined) longest = Math.max(longest, at - since);
          since = at;
          last = applied;
        }
      }
      return longest;
    },
    async stop() {
      state.running = false;
      await loop;
    },
  };
}

/** Asks `urls` in turn for `channel` until stopped: answers by status/code. */
function prober(urls: () => string[], channel: () => Snowflake | undefined) {
  const tally = new Map<string, number>();
  const state = { running: true };
  let turn = 0;
  const loop = (async () => {
    while (state.running) {
      const id = channel();
      const list = urls();
      const url = list[turn++ % list.length];
      if (id === undefined || url === undefined) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      let key: string;
      try {
        const response = await fetch(`${url}/v1/read-states/query`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ user_id: '1', channel_ids: [id] }),
          signal: AbortSignal.timeout(5_000),
        });
        const body = (await response.json()) as { error?: { code?: string }; stale?: boolean };
        key =
          response.status === 200
            ? body.stale === true
              ? '200 stale'
              : '200'
            : `${response.status} ${body.error?.code ?? ''}`;
      } catch {
        key = 'no answer';
      }
      tally.set(key, (tally.get(key) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return {
    take() {
      const taken = Object.fromEntries(tally);
      tally.clear();
      return taken;
    },
    async stop() {
      state.running = false;
      await loop;
    },
  };
}

async function stateOf(service: LiveService, partition: number): Promise<string | undefined> {
  try {
    const cluster = (await (await fetch(`${service.url}/v1/cluster`)).json()) as {
      partitions: { partition: number; here: string; owner: string | null }[];
    };
    return cluster.partitions.find((p) => p.partition === partition)?.here;
  } catch {
    return undefined;
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now();
}

const cleanups: (() => Promise<unknown>)[] = [];
const admin = kafka.admin();
try {
  await admin.connect();
  cleanups.push(() => admin.disconnect());
  await createTopicsAndWait(admin, [
    { topic: topics.messages, numPartitions: PARTITIONS },
    { topic: topics.acks, numPartitions: PARTITIONS },
  ]);
  cleanups.push(() => admin.deleteTopics({ topics: [topics.messages, topics.acks] }));
  const pool = await openBenchDatabase(config.DATABASE_URL, values.database);
  await pool.dispose();
  const dirs = [
    await mkdtemp(join(os.tmpdir(), 'readstates-cluster-a-')),
    await mkdtemp(join(os.tmpdir(), 'readstates-cluster-b-')),
  ];
  for (const dir of dirs) cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const env = (dir: string): Record<string, string> => ({
    KAFKA_BROKERS: config.KAFKA_BROKERS.join(','),
    KAFKA_GROUP_ID: `bench.cluster.${runId}`,
    TOPIC_MESSAGES: topics.messages,
    TOPIC_ACKS: topics.acks,
    DATABASE_URL: databaseUrlOf(config.DATABASE_URL, values.database),
    DATA_DIR: dir,
    KAFKA_SESSION_TIMEOUT_MS: String(sessionMs),
    HTTP_THREADS: '1',
    LOG_LEVEL: 'warn',
  });

  say(`--- publishing ${events} events, all on partition ${MOVED}`);
  const published = await publishStream(kafka, topics, {
    events,
    partitions: PARTITIONS,
    shape: { seed: 1, channels: 1, users: 1 },
    stream: streamOn(MOVED, 1),
    batch: 2_000,
    publishers: 1,
    inFlight: 4,
  });
  say(`published at ${Math.round(published.events / published.seconds)} events/s`);

  const a = startLiveService(env(dirs[0] ?? ''), 18_181);
  cleanups.push(() => a.stop());
  const applied = await projectLive(a, events);
  say(
    `A applied the backlog at ${Math.round(applied.projectingEvents / applied.projectingSeconds)} events/s`,
  );

  const load = steadyLoad();
  cleanups.push(() => load.stop());
  const gaps = progressGaps(a);
  cleanups.push(() => gaps.stop());
  const urls: string[] = [a.url];
  const probe = prober(
    () => urls,
    () => load.channelOn(MOVED),
  );
  cleanups.push(() => probe.stop());
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const quietFrom = performance.now() - 5_000;
  const quietGapMs = gaps.longestGapMs(quietFrom, performance.now());
  probe.take();

  // 1 and 2: B joins.
  const joinStarted = performance.now();
  const b = startLiveService(env(dirs[1] ?? ''), 18_182);
  cleanups.push(() => b.stop());
  await until('B answers', async () => (await stateOf(b, 0)) !== undefined, 60_000);
  urls.push(b.url);
  const restoring = await until(
    'B restores partition 1',
    async () => {
      const state = await stateOf(b, MOVED);
      return state === 'restoring' || state === 'serving';
    },
    120_000,
  );
  const served = await until(
    'B serves partition 1',
    async () => (await stateOf(b, MOVED)) === 'serving',
    600_000,
  );
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const rebalanceGapMs = gaps.longestGapMs(joinStarted, performance.now());
  const duringMove = probe.take();

  // 3: B killed -9.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  probe.take();
  const killed = performance.now();
  b.child.kill('SIGKILL');
  urls.splice(urls.indexOf(b.url), 1);
  const answeredAgain = await until(
    'partition 1 answered again',
    async () => (await stateOf(a, MOVED)) === 'serving',
    sessionMs + 120_000,
  );
  const afterKill = probe.take();
  await Promise.all([probe.stop(), gaps.stop(), load.stop()]);

  const share = (tally: Record<string, number>) => {
    const total = Object.values(tally).reduce((sum, n) => sum + n, 0);
    const ok = (tally['200'] ?? 0) + (tally['200 stale'] ?? 0);
    return total === 0 ? 0 : ok / total;
  };
  const figures = {
    move_partition_events: events,
    move_seconds: (served - joinStarted) / 1000,
    restore_seconds: (served - restoring) / 1000,
    restore_events_per_s: Math.round(events / ((served - restoring) / 1000)),
    answered_during_move: share(duringMove),
    rebalance_pause_ms: Math.round(rebalanceGapMs),
    quiet_gap_ms: Math.round(quietGapMs),
    kill9_to_answered_seconds: (answeredAgain - killed) / 1000,
    session_timeout_ms: sessionMs,
  };
  console.log(
    `\nScale-out on one machine (2 partitions, ${events.toLocaleString('en')} events on partition ${MOVED}; steady load ${rate} events/s)\n`,
  );
  printTable(
    ['measure', 'value'],
    [
      ['B start → serving the moved partition', `${figures.move_seconds.toFixed(1)} s`],
      [
        '  of which restoring it (replay)',
        `${figures.restore_seconds.toFixed(1)} s, ${figures.restore_events_per_s.toLocaleString('en')} events/s`,
      ],
      [
        'lookups of the moved partition answered meanwhile',
        `${(figures.answered_during_move * 100).toFixed(1)}% ${JSON.stringify(duringMove)}`,
      ],
      [
        'longest projection pause on A around the join',
        `${figures.rebalance_pause_ms} ms (quiet: ${figures.quiet_gap_ms} ms)`,
      ],
      [
        `kill -9 of B → partition answered again (session ${sessionMs} ms)`,
        `${figures.kill9_to_answered_seconds.toFixed(1)} s ${JSON.stringify(afterKill)}`,
      ],
    ],
  );
  console.log(JSON.stringify(figures));
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
}
