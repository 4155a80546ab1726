/**
 * Worker thread for the hot tier's sleeping-reader test: holds one update open for as long as it is told, so
 * that the reading thread meets an odd sequence for that long.
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
hot.update(() => {
  hot.putChannel('10', channel('100'));
  hot.putNoReadState('1', '10', 0);
});
port.postMessage({ shared: hot.shared });

port.on('message', ({ holdMs, head }: { holdMs: number; head: string }) => {
  hot.update(() => {
    port.postMessage('writing');
    const until = performance.now() + holdMs;
    while (performance.now() < until);
    hot.putChannel('10', channel(head));
  });
  port.postMessage('written');
});
