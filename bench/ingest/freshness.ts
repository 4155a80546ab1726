/**
 * Freshness: with a steady load published, how long from a publisher's acknowledged send to the new value being
 * visible through the HTTP API. A probe acks an ever higher message id for a user nobody else uses, awaits the
 * broker's acknowledgement, then asks the service every few milliseconds until its pointer shows that id. One
 * probe at a time, rotating over channels on different partitions; the load runs beside it on other publishers.
 */
import type { Kafka } from 'kafkajs';
import type { Topics } from '../../src/ingest/ensureTopics.ts';
import { createPartitionOf } from '../../src/contract/partitionOf.ts';
import { createDemoStream, type DemoEvent } from '../../src/ops/demoStream.ts';
import { createPublisher } from '../../src/publisher/createPublisher.ts';
import type { StreamShape } from './publishStream.ts';

const PROBE_USER = '18000000000000000001';
const PROBE_POLL_MS = 2;
const PROBE_GAP_MS = 20;
const LOAD_TICK_MS = 20;
/** Probe pointers start far above any demo-stream id. */
const PROBE_BASE = 17_000_000_000_000_000_000n;
/**
 * A probe not visible after this long is given up and counted at this latency (a lower bound of its real one):
 * a service far behind its load must show as such in the percentiles, not end the run.
 */
const PROBE_GIVE_UP_MS = 30_000;

export type FreshnessResult = {
  /** Load events acknowledged by the broker during the run, per second. */
  publishedPerSecond: number;
  probes: number;
  /** Probes given up after PROBE_GIVE_UP_MS, counted at that latency. */
  givenUp: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
};

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** One probe channel per partition (ids that hash there), so every partition's freshness is sampled. */
function probeChannels(partitions: number): string[] {
  const partitionOf = createPartitionOf(partitions);
  const found = new Map<number, string>();
  for (let id = 1_500_000_000_000_000_000n; found.size < partitions; id++) {
    const channel = id.toString();
    const partition = partitionOf(channel);
    if (!found.has(partition)) found.set(partition, channel);
  }
  return [...found.values()];
}

export async function measureFreshness(
  kafka: Kafka,
  topics: Topics,
  url: string,
  options: {
    rate: number;
    seconds: number;
    partitions: number;
    shape: StreamShape;
    publishers: number;
    signal?: AbortSignal;
  },
): Promise<FreshnessResult> {
  const partitionOf = createPartitionOf(options.partitions);
  const stream = createDemoStream(options.shape);
  const lanes = Array.from({ length: options.publishers }, () => ({
    publisher: createPublisher({ kafka, topics }),
    inFlight: 0,
  }));
  const probe = createPublisher({ kafka, topics });
  await Promise.all([probe.connect(), ...lanes.map((lane) => lane.publisher.connect())]);
  let acknowledged = 0;
  let failure: Error | undefined;
  const started = performance.now();
  const until = started + options.seconds * 1000;

  const control = { stopped: false };
  const load = (async () => {
    let due = 0;
    while (performance.now() < until && failure === undefined && !control.stopped) {
      options.signal?.throwIfAborted();
      due += (options.rate * LOAD_TICK_MS) / 1000;
      const byLane = lanes.map(() => [] as DemoEvent[]);
      for (; due >= 1; due--) {
        const event = stream.next();
        byLane[partitionOf(event.channel_id) % lanes.length]?.push(event);
      }
      lanes.forEach((lane, i) => {
        const events = byLane[i] ?? [];
        // A lane still sending its last batch skips a tick rather than queue without bound: the rate published
        // is then what the broker and this machine take, and is reported as such.
        if (events.length === 0 || lane.inFlight > 1) return;
        lane.inFlight++;
        lane.publisher.publishBatch(events).then(
          () => {
            lane.inFlight--;
            acknowledged += events.length;
          },
          (error: unknown) => {
            failure = error as Error;
          },
        );
      });
      await new Promise((resolve) => setTimeout(resolve, LOAD_TICK_MS));
    }
  })();

  const channels = probeChannels(options.partitions);
  const latencies: number[] = [];
  let givenUp = 0;
  try {
    for (let n = 1; performance.now() < until && failure === undefined; n++) {
      const channel = channels[n % channels.length] ?? '0';
      const messageId = (PROBE_BASE + BigInt(n)).toString();
      await probe.publishMessageAcked({
        channel_id: channel,
        user_id: PROBE_USER,
        message_id: messageId,
        acked_at: new Date(),
      });
      const acked = performance.now();
      for (;;) {
        options.signal?.throwIfAborted();
        const response = await fetch(`${url}/v1/users/${PROBE_USER}/read-states?channel_ids=${channel}`);
        if (response.ok) {
          const body = (await response.json()) as { read_states: { last_acked_message_id: string | null }[] };
          if (body.read_states[0]?.last_acked_message_id === messageId) break;
        } else {
          await response.body?.cancel();
        }
        if (performance.now() - acked > PROBE_GIVE_UP_MS) {
          givenUp++;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, PROBE_POLL_MS));
      }
      latencies.push(Math.min(PROBE_GIVE_UP_MS, performance.now() - acked));
      await new Promise((resolve) => setTimeout(resolve, PROBE_GAP_MS));
    }
    await load;
    if (failure !== undefined) throw failure;
  } finally {
    control.stopped = true;
    await load.catch(() => undefined);
    await Promise.all([probe.disconnect(), ...lanes.map((lane) => lane.publisher.disconnect())]);
  }
  const sorted = latencies.sort((a, b) => a - b);
  return {
    publishedPerSecond: acknowledged / ((performance.now() - started) / 1000),
    probes: sorted.length,
    givenUp,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? Number.NaN,
  };
}
