/**
 * Server (a)'s writer, in a worker thread as the service's engine is: fills the off-heap hot tier, hands its
 * buffers to the HTTP thread, then applies updates at a fixed rate until told to stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createHotTier } from '../../src/store/hotTier.ts';
import { capacityForBudget, HEADER_BYTES, slotBytes } from '../../src/store/offHeapTable.ts';
import { writeUpdates } from './writeUpdates.ts';
import { channelId, channelOf, channelRecord, datasetOf, readStateRecord, userId } from './dataset.ts';

const { readStates, updatesPerSecond } = workerData as { readStates: number; updatesPerSecond: number };
const port = parentPort;
if (port === null) throw new Error('run as a worker thread');
const dataset = datasetOf(readStates);

/** Bytes of a table that holds `entries` at the default 0.8 load: the next power of two of slots. */
function tableBytes(entries: number, valueWords: number): number {
  let capacity = 2;
  while (capacity * 0.8 < entries) capacity *= 2;
  return capacity * slotBytes(valueWords) + HEADER_BYTES;
}
// 7 and 5 value words: hotTier.ts's read-state and channel layouts.
const readStateBytes = tableBytes(dataset.readStates, 7);
const channelBytes = tableBytes(dataset.channels, 5);
const bytesBudget = readStateBytes + channelBytes;
const hot = createHotTier({ bytesBudget, readStateShare: (readStateBytes + 1) / bytesBudget });
if (capacityForBudget(readStateBytes, 7) * 0.8 < dataset.readStates) throw new Error('sizing is off');

const started = performance.now();
for (let c = 0; c < dataset.channels; c++) hot.putChannel(channelId(c), channelRecord(c));
for (let u = 0; u < dataset.users; u++) {
  const user = userId(u);
  for (let k = 0; k < 64; k++)
    hot.putReadState(user, channelId(channelOf(dataset, u, k)), readStateRecord(u + k));
}
port.postMessage({
  shared: hot.shared,
  fillSeconds: (performance.now() - started) / 1000,
  hotTierBytes: hot.stats().bytes,
  evictions: hot.stats().readStates.evictions,
});

port.once('message', () => {
  const writer = writeUpdates(dataset, updatesPerSecond, (user, channel, version, withChannel) => {
    hot.update(() => {
      if (withChannel) hot.putChannel(channel, channelRecord(version));
      hot.putReadState(user, channel, readStateRecord(version));
    });
  });
  port.once('message', () => {
    port.postMessage({ updates: writer.stop() });
    port.close();
  });
});
