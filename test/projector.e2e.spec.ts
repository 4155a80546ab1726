/** The service as operators run it, fed through real Kafka, checked against the reference model. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REJECTION_CODES } from '../src/contract/rejection.ts';
import { createProjectorHarness } from './support/projectorHarness.ts';
import { freePort, startService } from './support/serviceProcess.ts';

describe('projector end to end', () => {
  let harness: Awaited<ReturnType<typeof createProjectorHarness>>;
  beforeAll(async () => {
    harness = await createProjectorHarness('e2e', { seed: 7, channels: 12, users: 40 });
  });
  afterAll(async () => {
    await harness.close();
  });

  it('applies thousands of interleaved events exactly and keeps every bad record once', async () => {
    // About 1% poison: every rejection kind, several times over.
    await harness.publish(4_000, { poisonEvery: 100 });
    const service = await startService('e2e', harness.env, await freePort());
    try {
      await harness.caughtUp();
      const compared = await harness.expectMatchesModel(service.url);
      expect(compared).toBeGreaterThan(300);

      // More events on a running service, then a clean restart over the same data: still exact.
      await harness.publish(1_000, { poisonEvery: 100 });
      await harness.caughtUp();
      await harness.expectMatchesModel(service.url);
      // Those answers came largely from the hot tier, kept current by the projector between the two rounds.
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      const answered = /readstates_hot_tier_lookups_total\{result="answered"\} (\d+)/.exec(metrics)?.[1];
      expect(Number(answered)).toBeGreaterThan(100);
    } finally {
      expect(await service.stop()).toBe(0);
    }

    const letters = await harness.deadLettersFromCli();
    expect(letters).toHaveLength(harness.poisonSent.length);
    const positions = new Set(letters.map((l) => `${l.topic}/${l.partition}@${l.offset}`));
    expect(positions.size).toBe(letters.length);
    expect(letters.map((l) => l.code).sort()).toEqual(harness.poisonSent.map((p) => p.code).sort());
    expect(new Set(letters.map((l) => l.code))).toEqual(new Set(REJECTION_CODES));
  });
});
