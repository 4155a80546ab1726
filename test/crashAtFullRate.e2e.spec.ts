/**
 * The crash test at full ingest rate (issue 11): a backlog waits before every start, so each SIGKILL lands while
 * the service projects as fast as it can — chunks in flight, channels evicted and written back (a small
 * RESIDENT_RECORDS), channels due written back (a short WRITE_BACK_MS), dead letters stored — and each restart
 * replays from what RocksDB holds. The final state must equal the reference model: nothing lost, nothing counted
 * twice, each bad record kept once. test/crash.e2e.spec.ts kills it under a small steady load instead.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../src/ops/seededRandom.ts';
import { waitUntilJoined } from './support/crashLoop.ts';
import { createProjectorHarness } from './support/projectorHarness.ts';
import { freePort, startService } from './support/serviceProcess.ts';
import { waitFor } from './support/waitFor.ts';

const KILLS = 8;
/** Before a start, the backlog is topped up to at least this: more than a cycle can apply before its kill. */
const BACKLOG = 250_000n;
/** Each kill lands between these after the service began applying. */
const MIN_DELAY_MS = 300;
const MAX_DELAY_MS = 1_200;

/** Events the service applied since it started, by its own metrics (what a restart replays counts again). */
async function appliedByService(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('readstates_events_applied_total')) total += Number(line.split(' ').at(-1));
  }
  return total;
}

describe('crash safety at full ingest rate', () => {
  let harness: Awaited<ReturnType<typeof createProjectorHarness>>;
  beforeAll(async () => {
    harness = await createProjectorHarness('crash-full-rate', { seed: 23, channels: 100, users: 200 });
  });
  afterAll(async () => {
    await harness.close();
  });

  it(
    `survives ${KILLS} SIGKILLs while it projects a backlog, with no loss and no double count`,
    { timeout: 900_000 },
    async () => {
      const env = {
        ...harness.env,
        // A killed member holds its partitions until its session expires: keep that short so restarts are quick.
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        // Far fewer ids than the backlog's channels hold: channels are evicted (written back) all the time.
        RESIDENT_RECORDS: '100000',
        WRITE_BACK_MS: '500',
      };
      const port = await freePort();
      const random = seededRandom(29);
      const cycles: { delayMs: number; applied: number; eventsPerS: number; behindAtKill: bigint }[] = [];
      for (let kill = 1; kill <= KILLS; kill++) {
        const behind = await harness.behind();
        if (behind < BACKLOG) {
          await harness.publish(Number(BACKLOG - behind), { batch: 2_000, poisonEvery: 20_000 });
        }
        const service = await startService('crash-full-rate', env, port);
        await waitUntilJoined(service.url);
        // Timed from its first applied event (a restart's replay included: that is projection too).
        const from = await waitFor(
          async () => {
            const applied = await appliedByService(service.url);
            return applied > 0 && { applied, at: performance.now() };
          },
          120_000,
          'the service to apply the backlog',
        );
        const delayMs = MIN_DELAY_MS + Math.floor((random() / 2 ** 32) * (MAX_DELAY_MS - MIN_DELAY_MS));
        await sleep(delayMs);
        const applied = (await appliedByService(service.url)) - from.applied;
        const seconds = (performance.now() - from.at) / 1000;
        const behindAtKill = await harness.behind();
        service.kill('SIGKILL');
        // Ended by the SIGKILL, not by the service exiting on its own.
        expect(await service.exited).toBeNull();
        cycles.push({ delayMs, applied, eventsPerS: Math.round(applied / seconds), behindAtKill });
      }
      process.stderr.write(
        `crash test at full rate: ${KILLS} SIGKILLs; events/s applied before each kill: ` +
          `${cycles.map((cycle) => cycle.eventsPerS).join(', ')}\n`,
      );
      // Every kill landed with a backlog left: the service was projecting flat out, not waiting for events.
      for (const cycle of cycles) expect(cycle.behindAtKill).toBeGreaterThan(0n);

      // The default budget to compare: through 100,000 ids, every lookup of 100 channels loads most of them back.
      const { RESIDENT_RECORDS: _small, ...compareEnv } = env;
      const service = await startService('crash-full-rate', compareEnv, port);
      try {
        const started = performance.now();
        await harness.caughtUp(300_000);
        const caughtUp = performance.now();
        const compared = await harness.expectMatchesModel(service.url, { pageSize: 1_000 });
        process.stderr.write(
          `crash test at full rate: caught up in ${((caughtUp - started) / 1000).toFixed(1)} s, ` +
            `${compared} read states compared in ${((performance.now() - caughtUp) / 1000).toFixed(1)} s\n`,
        );
      } finally {
        expect(await service.stop()).toBe(0);
      }
      const letters = await harness.deadLettersFromCli();
      expect(letters).toHaveLength(harness.poisonSent.length);
      expect(new Set(letters.map((l) => `${l.topic}/${l.partition}@${l.offset}`)).size).toBe(letters.length);
    },
  );
});
