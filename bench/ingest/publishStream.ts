/**
 * Publishes the demo stream through the publisher SDK as fast as the broker takes it. One idempotent producer
 * sends one request at a time (the SDK fixes maxInFlightRequests to 1), so several publishers run side by side,
 * each owning the partitions `p % publishers === i`: a partition's events keep the stream's order, as they would
 * with one publisher, while several large batches are in flight at once.
 */
import type { Kafka } from 'kafkajs';
import type { Topics } from '../../src/ingest/ensureTopics.ts';
import { createPartitionOf } from '../../src/contract/partitionOf.ts';
import { createDemoStream, type DemoEvent } from '../../src/ops/demoStream.ts';
import { createPublisher, type Publisher } from '../../src/publisher/createPublisher.ts';
import { wholeNumber } from '../wholeNumberOption.ts';

export type StreamShape = {
  seed: number;
  channels: number;
  users: number;
  /** The demo stream's spread over channels (DemoStreamOptions.activity). */
  activity?: 'uniform' | 'skewed';
  /** Events of the stream this one goes on from (DemoStreamOptions.after). */
  after?: number;
};

/**
 * The demo stream's channels and users from the command line: by default as many channels as a hundredth of the
 * events (the same events per channel at every N) and ten users a channel.
 */
export function streamSize(
  events: number,
  options: { channels?: string | undefined; users?: string | undefined },
): { channels: number; users: number } {
  const channels =
    options.channels === undefined
      ? Math.max(1, Math.round(events / 100))
      : wholeNumber('channels', options.channels);
  const users = options.users === undefined ? 10 * channels : wholeNumber('users', options.users);
  return { channels, users };
}

export type PublishOptions = {
  events: number;
  partitions: number;
  shape: StreamShape;
  /** Events to publish instead of the demo stream of `shape`. */
  stream?: { next: () => DemoEvent };
  /** Events per publishBatch call. */
  batch: number;
  publishers: number;
  /** publishBatch calls queued per publisher, so the next batch is encoded while one is on the wire. */
  inFlight: number;
  onProgress?: (published: number) => void;
  /** Stops publishing (the promise rejects) when aborted. */
  signal?: AbortSignal;
};

export type StreamMix = {
  sent: number;
  sentWithMentions: number;
  /** Sends with @everyone. */
  sentToEveryone: number;
  deleted: number;
  edited: number;
  acked: number;
  manualAcks: number;
  joined: number;
  left: number;
  duplicates: number;
  /** Distinct channels and users that appeared; read states can only exist within these. */
  channels: number;
  users: number;
};

export type PublishResult = { events: number; seconds: number; mix: StreamMix };

type Lane = { publisher: Publisher; pending: DemoEvent[]; flights: Set<Promise<void>> };

function at<T>(items: readonly T[], index: number): T {
  const item = items[index];
  if (item === undefined) throw new RangeError(`no item at ${index} of ${items.length}`);
  return item;
}

export async function publishStream(
  kafka: Kafka,
  topics: Topics,
  options: PublishOptions,
): Promise<PublishResult> {
  const partitionOf = createPartitionOf(options.partitions);
  const stream = options.stream ?? createDemoStream(options.shape);
  const lanes: Lane[] = Array.from({ length: options.publishers }, () => ({
    publisher: createPublisher({ kafka, topics }),
    pending: [],
    flights: new Set(),
  }));
  const mix: StreamMix = {
    sent: 0,
    sentWithMentions: 0,
    sentToEveryone: 0,
    deleted: 0,
    edited: 0,
    acked: 0,
    manualAcks: 0,
    joined: 0,
    left: 0,
    duplicates: 0,
    channels: 0,
    users: 0,
  };
  const channels = new Set<string>();
  const users = new Set<string>();
  let failure: Error | undefined;
  let acknowledged = 0;

  async function send(lane: Lane, events: DemoEvent[]): Promise<void> {
    while (lane.flights.size >= options.inFlight) await Promise.race(lane.flights);
    if (failure !== undefined) throw failure;
    options.signal?.throwIfAborted();
    const flight: Promise<void> = lane.publisher
      .publishBatch(events)
      .then(
        () => {
          acknowledged += events.length;
          options.onProgress?.(acknowledged);
        },
        (error: unknown) => {
          failure ??= error instanceof Error ? error : new Error(String(error));
        },
      )
      .finally(() => lane.flights.delete(flight));
    lane.flights.add(flight);
  }

  await Promise.all(lanes.map((lane) => lane.publisher.connect()));
  const started = performance.now();
  try {
    let previous: DemoEvent | undefined;
    for (let n = 0; n < options.events; n++) {
      const event = stream.next();
      if (event === previous) mix.duplicates++;
      previous = event;
      channels.add(event.channel_id);
      if (event.type === 'message_sent') {
        mix.sent++;
        users.add(event.author_id);
        for (const user of event.mention_user_ids) users.add(user);
        if (event.mention_user_ids.length > 0) mix.sentWithMentions++;
        if (event.mention_everyone === true) mix.sentToEveryone++;
      } else if (event.type === 'message_deleted') {
        mix.deleted++;
      } else if (event.type === 'message_edited') {
        mix.edited++;
        for (const user of event.mention_user_ids) users.add(user);
      } else if (event.type === 'member_joined') {
        mix.joined++;
        users.add(event.user_id);
      } else if (event.type === 'member_left') {
        mix.left++;
        users.add(event.user_id);
      } else {
        mix.acked++;
        users.add(event.user_id);
        if (event.manual) mix.manualAcks++;
      }
      const lane = at(lanes, partitionOf(event.channel_id) % lanes.length);
      lane.pending.push(event);
      if (lane.pending.length >= options.batch) {
        const events = lane.pending;
        lane.pending = [];
        await send(lane, events);
      }
    }
    for (const lane of lanes) if (lane.pending.length > 0) await send(lane, lane.pending);
    await Promise.all(lanes.flatMap((lane) => [...lane.flights]));
    if (failure !== undefined) throw failure;
    const seconds = (performance.now() - started) / 1000;
    return { events: acknowledged, seconds, mix: { ...mix, channels: channels.size, users: users.size } };
  } finally {
    await Promise.allSettled(lanes.flatMap((lane) => [...lane.flights]));
    await Promise.all(lanes.map((lane) => lane.publisher.disconnect()));
  }
}
