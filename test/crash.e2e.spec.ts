/**
 * SIGKILL the service at random moments while events are published, restart it each time, and require the
 * final state to equal the reference model: nothing lost, nothing counted twice, each bad record kept once.
 * `npm run soak` runs the same loop (test/support/crashLoop.ts) 100 times with every kind of hostile record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crashLoop } from './support/crashLoop.ts';
import { createProjectorHarness } from './support/projectorHarness.ts';
import { freePort, startService } from './support/serviceProcess.ts';

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
      const result = await crashLoop({
        name: 'crash',
        env,
        port,
        kills: KILLS,
        publish: () => harness.publish(EVENTS_PER_CYCLE, { poisonEvery: 500 }),
        appliedSoFar: () => harness.appliedSoFar(),
      });
      process.stderr.write(
        `crash test: ${KILLS} SIGKILLs, ${result.cyclesThatApplied} after the service had applied events\n`,
      );
      // Every cycle ended by the SIGKILL, not by the service exiting on its own.
      expect(result.unexpectedExits).toEqual([]);
      // The kills must land while the service is applying events, not only while it starts.
      expect(result.cyclesThatApplied).toBeGreaterThanOrEqual(KILLS / 2);

      const service = await startService('crash', env, port);
      try {
        await harness.caughtUp(180_000);
        await harness.expectMatchesModel(service.url);
      } finally {
        expect(await service.stop()).toBe(0);
      }
      expect(result.cycles).toHaveLength(KILLS);
      const letters = await harness.deadLettersFromCli();
      expect(letters).toHaveLength(harness.poisonSent.length);
      expect(new Set(letters.map((l) => `${l.topic}/${l.partition}@${l.offset}`)).size).toBe(letters.length);
    },
  );
});
