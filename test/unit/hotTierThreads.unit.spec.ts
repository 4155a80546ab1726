import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { attachHotTier, type SharedHotTier } from '../../src/store/hotTier.ts';

describe('the hot tier read from another thread', () => {
  it('never shows a torn entry while the writer overwrites, evicts and shifts', async () => {
    const stopAt = new SharedArrayBuffer(4);
    const channels = 64;
    const users = 8;
    const worker = new Worker(new URL('../support/hotTierWriterThread.ts', import.meta.url), {
      // Room for fewer read states than are written, so CLOCK evicts and deletion shifts runs all the time.
      workerData: { bytesBudget: 16 * 1024, channels, users, stopAt },
    });
    try {
      const [{ shared }] = (await once(worker, 'message')) as [{ shared: SharedHotTier }];
      const reader = attachHotTier(shared);
      let answered = 0;
      const deadline = performance.now() + 1_500;
      while (performance.now() < deadline) {
        for (let c = 0; c < channels; c++) {
          const channelId = String(1 + c * 2 ** 33);
          for (let u = 0; u < users; u++) {
            const view = reader.readView(String(7 + u * 2 ** 40), channelId);
            if (view === undefined) continue;
            answered++;
            // Checked by hand, not expect(), to keep the loop fast; the first break fails the test.
            if (view.unread_count !== 0 || String(view.mention_count) !== view.last_message_id) {
              expect(view).toMatchObject({ unread_count: 0, last_message_id: String(view.mention_count) });
            }
          }
        }
      }
      Atomics.store(new Int32Array(stopAt), 0, 1);
      const [{ updates, evictions }] = (await once(worker, 'message')) as [
        { updates: number; evictions: number },
      ];
      // The race was real: the writer kept writing and evicting, and many reads still hit.
      expect(updates).toBeGreaterThan(1_000);
      expect(evictions).toBeGreaterThan(1_000);
      expect(answered).toBeGreaterThan(1_000);
    } finally {
      Atomics.store(new Int32Array(stopAt), 0, 1);
      await worker.terminate();
    }
  }, 30_000);
});
