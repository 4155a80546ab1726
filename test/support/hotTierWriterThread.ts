/**
 * Worker thread for the hot tier's cross-thread test: writes as fast as it can into a hot tier created here, so
 * that the main thread reads while entries are overwritten, evicted and shifted. Every update keeps one rule that
 * a torn read would break: a channel with head id i has live count i, and member u's read state there has
 * own_above = i and mentions_above = i · users + u, so a consistent view answers unread 0, mentions
 * i · users + u, last message i. Some updates delete a member's entry instead.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createHotTier } from '../../src/store/hotTier.ts';

const { bytesBudget, channels, users, stopAt } = workerData as {
  bytesBudget: number;
  channels: number;
  users: number;
  stopAt: SharedArrayBuffer;
};
const hot = createHotTier({ bytesBudget });
const stop = new Int32Array(stopAt);
parentPort?.postMessage({ shared: hot.shared });

let updates = 0;
for (let i = 1; Atomics.load(stop, 0) === 0; i++) {
  const channelId = String(1 + (i % channels) * 2 ** 33);
  const head = String(i);
  hot.update(channelId, () => {
    hot.putChannel(channelId, {
      epoch: 0,
      live: { size: i, max: head, tail: [], root: null, height: 0, next_node: 0 },
    });
    for (let u = 0; u < users; u++) {
      const userId = String(7 + u * 2 ** 40);
      // Now and then a member's entry goes: deletion shifts runs as eviction does.
      if ((i + u) % 7 === 0) {
        hot.deleteReadState(userId, channelId);
        continue;
      }
      hot.putReadState(userId, channelId, {
        last_acked_message_id: null,
        own_above: i,
        mentions_above: i * users + u,
        live_above: null,
      });
    }
  });
  updates++;
}
parentPort?.postMessage({
  updates,
  evictions: hot.stats().readStates.evictions,
  channelEvictions: hot.stats().channels.evictions,
});
