/**
 * Server (a)'s writer, in a worker thread as the service's engine is: fills the off-heap hot tier, hands its
 * buffers to the HTTP thread, then applies updates at a fixed rate until told to stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createHotTier } from '../../src/store/hotTier.ts';
import { writeUpdates } from './writeUpdates.ts';
import { channelRecord, datasetOf, fill, hotTierFor, readStateRecord } from './dataset.ts';

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
  const writer = writeUpdates(dataset, updatesPerSecond, (user, channel, version, withChannel) => {
    hot.update(channel, () => {
      if (withChannel) hot.putChannel(channel, channelRecord(version));
      hot.putReadState(user, channel, readStateRecord(version));
    });
  });
  port.once('message', () => {
    port.postMessage({ updates: writer.stop() });
    port.close();
  });
});
