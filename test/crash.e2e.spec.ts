/**
 * SIGKILL the service at random moments while events are published, restart it each time, and require the
 * final state to equal the reference model: nothing lost, nothing counted twice, each bad record kept once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProjectorHarness } from './support/projectorHarness.ts';
import { freePort, startService } from './support/serviceProcess.ts';

const KILLS = 20;
const EVENTS = 6_000;

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
      let published = 0;
      const publishing = (async () => {
        while (published < EVENTS) {
          await harness.publish(150, { poisonEvery: 150 });
          published += 150;
          await new Promise((resolve) => setTimeout(resolve, 150));
        }
      })();

      const killedAt: number[] = [];
      for (let kill = 0; kill < KILLS; kill++) {
        const service = await startService('crash', env, port);
        // Kill anywhere from right after start-up to well into consumption.
        const delay = 50 + Math.floor(Math.random() * 1_500);
        await new Promise((resolve) => setTimeout(resolve, delay));
        service.kill('SIGKILL');
        expect(await service.exited).toBeNull();
        killedAt.push(delay);
      }
      await publishing;

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
