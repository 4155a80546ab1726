/**
 * Worker thread for the hot tier's shifting test: puts and deletes two read states whose keys collide
 * (collidingHash), so that every delete moves the other one back over it by backward shift, a word at a time.
 * Halfway through, the slot's key words spell user 1 in channel (7, 1000), a pair never put.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createHotTier } from '../../src/store/hotTier.ts';
import { collidingHash } from './collidingHash.ts';

const { stopAt } = workerData as { stopAt: SharedArrayBuffer };
const hot = createHotTier({ bytesBudget: 256 * 1024, hash: collidingHash });
const stop = new Int32Array(stopAt);
const id = (hi: number, lo: number) => String(BigInt(hi) * 2n ** 32n + BigInt(lo));
const record = (n: number) => ({
  last_acked_message_id: null,
  own_above: n,
  mentions_above: n,
  live_above: null,
});
const [c, b, never] = [id(5, 1000), id(7, 999), id(7, 1000)];
// The never-put pair's channel is held, so only its read state is missing; and one entry sits in the home slot
// the two share, so that they probe past it.
hot.putChannel(never, { epoch: 0, live: null });
hot.putReadState('2', id(9, 998), record(4));
parentPort?.postMessage({ shared: hot.shared, never });

let loops = 0;
while (Atomics.load(stop, 0) === 0) {
  hot.putReadState('1', c, record(111));
  hot.putReadState('1', b, record(222));
  hot.deleteReadState('1', c);
  hot.deleteReadState('1', b);
  loops++;
}
parentPort?.postMessage({ loops });
