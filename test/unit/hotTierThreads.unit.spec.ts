import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { attachHotTier, type HotTierReader, type SharedHotTier } from '../../src/store/hotTier.ts';
import { OffHeapTable } from '../../src/store/offHeapTable.ts';
import { STRIPE_MASK } from '../../src/store/stripedSeqlock.ts';
import { collidingHash } from '../support/collidingHash.ts';

describe('the hot tier read from another thread', () => {
  it('never shows a torn entry while the writer overwrites, evicts and shifts', async () => {
    const stopAt = new SharedArrayBuffer(4);
    // More channels than the channel table holds, so it evicts and shifts as well.
    const channels = 160;
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
            // Mentions name the user too: another user's read state in the same channel is caught as well.
            if (view.unread_count !== 0 || view.mention_count !== Number(view.last_message_id) * users + u) {
              expect(view).toMatchObject({
                unread_count: 0,
                mention_count: Number(view.last_message_id) * users + u,
              });
            }
          }
        }
      }
      Atomics.store(new Int32Array(stopAt), 0, 1);
      const [{ updates, evictions, channelEvictions }] = (await once(worker, 'message')) as [
        { updates: number; evictions: number; channelEvictions: number },
      ];
      // The race was real: the writer kept writing and evicting, and many reads still hit.
      expect(updates).toBeGreaterThan(1_000);
      expect(evictions).toBeGreaterThan(1_000);
      expect(channelEvictions).toBeGreaterThan(1_000);
      expect(answered).toBeGreaterThan(1_000);
    } finally {
      Atomics.store(new Int32Array(stopAt), 0, 1);
      await worker.terminate();
    }
  }, 30_000);

  it('never takes a slot half rewritten by a removal for a key that was never put', async () => {
    const stopAt = new SharedArrayBuffer(4);
    const worker = new Worker(new URL('../support/hotTierShiftingWriter.ts', import.meta.url), {
      workerData: { stopAt },
    });
    try {
      const [{ shared, never }] = (await once(worker, 'message')) as [
        { shared: SharedHotTier; never: string },
      ];
      const reader = attachHotTier(shared, { hash: collidingHash });
      let reads = 0;
      let answered = 0;
      const deadline = performance.now() + 2_000;
      while (performance.now() < deadline) {
        for (let i = 0; i < 1_000; i++, reads++) if (reader.readView('1', never) !== undefined) answered++;
      }
      Atomics.store(new Int32Array(stopAt), 0, 1);
      const [{ loops }] = (await once(worker, 'message')) as [{ loops: number }];
      expect(loops).toBeGreaterThan(1_000);
      expect(reads).toBeGreaterThan(100_000);
      expect(answered).toBe(0);
    } finally {
      Atomics.store(new Int32Array(stopAt), 0, 1);
      await worker.terminate();
    }
  }, 30_000);

  it('sleeps through an update that outlasts its spins, woken when it ends; declines one beyond its wait', async () => {
    const worker = new Worker(new URL('../support/hotTierHoldingWriter.ts', import.meta.url));
    try {
      const [{ shared }] = (await once(worker, 'message')) as [{ shared: SharedHotTier }];
      const sequence = new Int32Array(shared.sequence);
      const stripeOf = (channelId: string) =>
        new OffHeapTable({ valueWords: 0, capacity: 2 }).hashOf(0, Number(channelId), 0, 0) & STRIPE_MASK;
      expect(stripeOf('20')).not.toBe(stripeOf('10'));

      /** Starts an update that takes `holdMs`, and reads while it is under way. */
      async function readDuring(reader: HotTierReader, holdMs: number, head: string) {
        const writing = once(worker, 'message');
        worker.postMessage({ holdMs, head });
        await writing;
        expect(Atomics.load(sequence, stripeOf('10')) & 1).toBe(1);
        // Another stripe's channel is read meanwhile without waiting.
        const sleepsBefore = reader.stats().sleeps;
        expect(reader.readView('1', '20')?.last_message_id).toBe('100');
        expect(reader.stats().sleeps).toBe(sleepsBefore);
        const started = performance.now();
        const view = reader.readView('1', '10');
        const waitedMs = performance.now() - started;
        await once(worker, 'message');
        return { view, waitedMs };
      }

      // A reader allowed to wait 10 s is woken by the writer as it ends the update, and reads what it wrote.
      const patient = attachHotTier(shared, { maxReadWaitMs: 10_000 });
      const woken = await readDuring(patient, 50, '101');
      expect(woken.view?.last_message_id).toBe('101');
      expect(woken.waitedMs).toBeLessThan(5_000);
      // The default reader waits 5 ms at most, then declines (RocksDB answers).
      const reader = attachHotTier(shared);
      expect((await readDuring(reader, 50, '102')).view).toBeUndefined();
      expect(reader.readView('1', '10')?.last_message_id).toBe('102');
      expect(reader.stats()).toMatchObject({ answered: 2, declined: 1 });
    } finally {
      await worker.terminate();
    }
  }, 30_000);
});
