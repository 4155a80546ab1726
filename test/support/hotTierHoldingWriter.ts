/**
 * Worker thread for the hot tier's sleeping-reader test: holds one update open for as long as it is told, so
 * that the reading thread meets channel 10's stripe of the seqlock odd for that long.
 */
import { parentPort } from 'node:worker_threads';
import { createHotTier } from '../../src/store/hotTier.ts';

const port = parentPort;
if (port === null) throw new Error('run as a worker thread');
const hot = createHotTier({ bytesBudget: 64 * 1024 });
const channel = (head: string) => ({
  epoch: 0,
  live: { size: 1, max: head, tail: [], root: null, height: 0, next_node: 0 },
});
// Channel 20 lies in another stripe of the seqlock: reads of it never wait for updates of channel 10.
for (const channelId of ['10', '20']) {
  hot.update(channelId, () => {
    hot.putChannel(channelId, channel('100'));
    hot.putNoReadState('1', channelId, 0, { epoch: 0, id: '100' });
  });
}
port.postMessage({ shared: hot.shared });

port.on('message', ({ holdMs, head }: { holdMs: number; head: string }) => {
  hot.update('10', () => {
    port.postMessage('writing');
    const until = performance.now() + holdMs;
    while (performance.now() < until);
    hot.putChannel('10', channel(head));
  });
  port.postMessage('written');
});
