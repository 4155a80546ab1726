/**
 * Server (a)'s writer, in a worker thread as the service's engine is: fills the off-heap hot tier, hands its
 * buffers to the HTTP thread, then applies updates at a fixed rate until told to stop. The updates reach the
 * tier as the engine's do: recorded as words (HotChanges) and applied a batch at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HotChanges } from '../../src/store/hotChanges.ts';
import { createHotTier } from '../../src/store/hotTier.ts';
import { writeUpdates } from './writeUpdates.ts';
import { datasetOf, fill, hotTierFor, idWords } from './dataset.ts';

const { readStates, updatesPerSecond } = workerData as { readStates: number; updatesPerSecond: number };
const port = parentPort;
if (port === null) throw new Error('run as a worker thread');
const dataset = datasetOf(readStates);

const hot = createHotTier(hotTierFor(dataset));

const started = performance.now();
fill(dataset, hot);
port.postMessage({
  shared: hot.shared,
  fillSeconds: (performance.now() - started) / 1000,
  hotTierBytes: hot.stats().bytes,
  evictions: hot.stats().readStates.evictions,
});

port.once('message', () => {
  // Each channel's state is that of its last version (dataset.ts's channelRecord): `fill` gave channel c version c.
  const channelVersions = Int32Array.from({ length: dataset.channels }, (_, channel) => channel);
  const words = new Uint32Array(6);
  let changes = new HotChanges();
  const writer = writeUpdates(
    dataset,
    updatesPerSecond,
    (user, channel, version, withChannel) => {
      // What channelRecord(version) and readStateRecord(version) hold, as words.
      if (withChannel) channelVersions[channel] = version;
      const head = channelVersions[channel] ?? 0;
      idWords(2, channel, words, 0);
      idWords(3, head, words, 2);
      changes.channel(
        words[0] ?? 0,
        words[1] ?? 0,
        0,
        1_000 + (head % 1_000),
        true,
        words[2] ?? 0,
        words[3] ?? 0,
        0,
      );
      idWords(1, user, words, 0);
      idWords(3, version, words, 2);
      // Its first unread message: the one after the pointer (dataset.ts's firstUnreadOf).
      idWords(3, version + 1, words, 4);
      changes.readState(
        words[0] ?? 0,
        words[1] ?? 0,
        true,
        words[2] ?? 0,
        words[3] ?? 0,
        version % 2,
        version % 3,
        true,
        0,
        1_000,
        10,
        true,
        words[4] ?? 0,
        words[5] ?? 0,
      );
    },
    () => {
      hot.applyChanges(changes);
      changes = new HotChanges();
    },
  );
  port.once('message', () => {
    port.postMessage({ updates: writer.stop() });
    port.close();
  });
});
