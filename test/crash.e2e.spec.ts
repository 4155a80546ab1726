/**
 * SIGKILL the service at random moments while events are published, restart it each time, and require the
 * final state to equal the reference model: nothing lost, nothing counted twice, each bad record kept once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProjectorHarness } from './support/projectorHarness.ts';
import { freePort, startService } from './support/serviceProcess.ts';
import { waitFor } from './support/waitFor.ts';

const KILLS = 20;
const EVENTS_PER_CYCLE = 1_500;

describe('crash safety', () => {
  let harness: Awaited<ReturnType<typeof createProjectorHarness>>;
  beforeAll(async () => {
    harness = await createProjectorHarness('crash', { seed: 11, channels: 10, users: 30 });
  });
  afterAll(async () => {
    await harness.close();
  });

  it(
    `survives ${KILLS} SIGKILLs during consumption with no loss and no double count`,
    { timeout: 900_000 },
    async () => {
      // A killed member holds its partitions until its session expires: keep that short so restarts are quick.
      const env = { ...harness.env, KAFKA_SESSION_TIMEOUT_MS: '6000' };
      const port = await freePort();
      const killedAt: number[] = [];
      let cyclesThatApplied = 0;
      for (let kill = 0; kill < KILLS; kill++) {
        const before = await harness.appliedSoFar();
        const service = await startService('crash', env, port);
        // Events arrive while the service starts; it must have joined its group before a kill can hit a batch.
        await harness.publish(EVENTS_PER_CYCLE, { poisonEvery: 500 });
        await waitFor(
          async () => {
            const body = (await (await fetch(`${service.url}/readyz`)).json()) as { reason?: string };
            return body.reason?.startsWith('starting') !== true;
          },
          60_000,
          'the service to join its consumer group',
        );
        const delay = Math.floor(Math.random() * 1_500);
        await new Promise((resolve) => setTimeout(resolve, delay));
        service.kill('SIGKILL');
        expect(await service.exited).toBeNull();
        killedAt.push(delay);
        if ((await harness.appliedSoFar()) > before) cyclesThatApplied++;
      }
      process.stderr.write(
        `crash test: ${KILLS} SIGKILLs, ${cyclesThatApplied} after the service had applied events\n`,
      );
      // The kills must land while the service is applying events, not only while it starts.
      expect(cyclesThatApplied).toBeGreaterThanOrEqual(KILLS / 2);

      const service = await startService('crash', env, port);
      try {
        await harness.caughtUp(180_000);
        await harness.expectMatchesModel(service.url);
      } finally {
        expect(await service.stop()).toBe(0);
      }
      expect(killedAt).toHaveLength(KILLS);
      const letters = await harness.deadLettersFromCli();
      expect(letters).toHaveLength(harness.poisonSent.length);
      expect(new Set(letters.map((l) => `${l.topic}/${l.partition}@${l.offset}`)).size).toBe(letters.length);
    },
  );
});
