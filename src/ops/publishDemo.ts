import { SingleBar, Presets } from 'cli-progress';
import type { Kafka } from 'kafkajs';
import type { Topics } from '../ingest/ensureTopics.ts';
import { createPublisher } from '../publisher/createPublisher.ts';
import { createDemoStream, type DemoEvent } from './demoStream.ts';

export interface PublishDemoOptions {
  count: number;
  /** Events per second; the stream is paced in batches of `batch`. */
  rate: number;
  batch: number;
  seed: number;
  channels: number;
  users: number;
}

/**
 * Publishes a realistic random stream at a steady rate through the publisher SDK, with a progress bar on a
 * terminal and a log line every few seconds otherwise.
 */
export async function publishDemo(kafka: Kafka, topics: Topics, options: PublishDemoOptions): Promise<void> {
  const publisher = createPublisher({ kafka, topics });
  await publisher.connect();
  const stream = createDemoStream({ seed: options.seed, channels: options.channels, users: options.users });
  const interactive = process.stderr.isTTY;
  const bar = new SingleBar(
    { format: 'publishing [{bar}] {percentage}% | {value}/{total} events | {rate} events/s | ETA {eta}s' },
    Presets.shades_classic,
  );
  if (interactive) bar.start(options.count, 0, { rate: 0 });
  const started = performance.now();
  let lastLog = started;
  let published = 0;
  try {
    while (published < options.count) {
      const events: DemoEvent[] = [];
      for (let i = 0; i < Math.min(options.batch, options.count - published); i++) events.push(stream.next());
      await publisher.publishBatch(events);
      published += events.length;
      const elapsed = performance.now() - started;
      const rate = Math.round(published / (elapsed / 1000));
      if (interactive) bar.update(published, { rate });
      else if (performance.now() - lastLog > 5_000 || published === options.count) {
        lastLog = performance.now();
        process.stderr.write(`published ${published}/${options.count} events (${rate} events/s)\n`);
      }
      // Pace to the target rate: sleep until this many events are due.
      const due = (published / options.rate) * 1000 - (performance.now() - started);
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
    }
  } finally {
    if (interactive) bar.stop();
    await publisher.disconnect();
  }
}
