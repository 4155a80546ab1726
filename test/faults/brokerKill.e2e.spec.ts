/**
 * Issue 10, item 8: the Kafka broker killed -9 mid-stream and restarted a few seconds later (through
 * deploy/local-kafka, on a broker of this file's own: the shared one must never die under the other files).
 * The service stays up, keeps answering lookups for the partitions it owned during the outage (200 with a
 * state the history passed through, or 503 with Retry-After; never a wrong value), reconnects in-process, and
 * afterwards every event is applied exactly once and every hostile record is dead-lettered once.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startOwnBroker, type OwnBroker } from '../support/ownBroker.ts';
import { freePort, startService } from '../support/serviceProcess.ts';
import { waitFor } from '../support/waitFor.ts';
import { createFaultHarness, type FaultHarness } from './support/faultHarness.ts';
import { judgeAnswers, startLookupProbe } from './support/lookupProbe.ts';

/**
 * The backlog the service starts on. The test learns of its first events from the group's offsets, which it
 * commits every 200 ms, and a service that applies 100,000 events/s may have finished 40,000 by then; so a last
 * slice is published just before the kill too. (The harness keeps every answer's history: 150,000 ran it out of
 * heap.)
 */
const BACKLOG = 40_000;
const AFTER = 3_000;
const OUTAGE_MS = 3_000;
const HOSTILE_RATE = 0.005;

describe('Kafka broker killed -9 mid-stream', () => {
  let broker: OwnBroker | undefined;
  let harness: FaultHarness | undefined;
  beforeAll(async () => {
    broker = await startOwnBroker('brokerKill');
    harness = await createFaultHarness({
      name: 'brokerKill',
      brokers: broker.brokers,
      postgresUrl: inject('postgresUrl'),
      seed: 53,
      channels: 8,
      users: 24,
    });
  });
  afterAll(async () => {
    await harness?.close();
    await broker?.stop();
  });

  it(
    'stays up, answers only values the history passed through, then applies every event exactly once',
    { timeout: 300_000 },
    async () => {
      if (broker === undefined || harness === undefined) throw new Error('beforeAll failed');
      const [h, kafka] = [harness, broker];
      await h.publish(BACKLOG, { hostileRate: HOSTILE_RATE });
      const service = await startService('brokerKill', h.env, await freePort());
      let exitedWith: number | null | undefined = undefined;
      void service.exited.then((code) => {
        exitedWith = code;
      });
      const { users, channels } = h.touched();
      const probe = startLookupProbe(h, service.url, { users: users.slice(0, 8), channels });
      const total = () => BigInt(h.published().valid + h.published().hostile);
      /**
       * Kills the broker, waits, restarts it. `from`–`dead`: nothing listens (the restart has not begun);
       * `from`–`to`: until the restarted broker answers.
       */
      async function outage(): Promise<{ from: number; dead: number; to: number }> {
        await kafka.kill9();
        const from = Date.now();
        await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
        const dead = Date.now();
        await kafka.restart();
        expect(exitedWith, `the service exited during the outage; see ${service.logFile}`).toBeUndefined();
        return { from, dead, to: Date.now() };
      }
      try {
        // 1. While the service works through its backlog: it has applied some of it, not all.
        const appliedAtKill = await waitFor(
          async () => {
            const applied = await h.appliedSoFar();
            return applied > 0n ? applied : false;
          },
          60_000,
          'the service to apply its first events',
        );
        // Records the service cannot have applied yet when the broker dies (it commits every 200 ms).
        await h.publish(AFTER, { hostileRate: HOSTILE_RATE });
        const backlog = total();
        const appliedBeforeKill = await h.appliedSoFar();
        const first = await outage();
        expect(appliedAtKill).toBeGreaterThan(0n);
        expect(appliedBeforeKill, 'the broker must die while the service is still consuming').toBeLessThan(
          backlog,
        );
        // Reconnected in-process: the same process finishes the backlog and applies new events.
        await h.publish(AFTER, { hostileRate: HOSTILE_RATE });
        await h.caughtUp(120_000);

        // 2. Caught up on a live stream. A service behind its log may answer 503 (partition_restoring, item 5);
        // one that has caught up owns its partitions' state and keeps serving it while Kafka is away (item 8).
        await h.waitReady(service.url);
        const second = await outage();
        await h.publish(AFTER, { hostileRate: HOSTILE_RATE });
        await h.caughtUp(120_000);
        await h.waitReady(service.url);
        const answers = await probe.stop();

        const duringFirst = judgeAnswers(h, answers, first.from, first.to);
        const duringSecond = judgeAnswers(h, answers, second.from, second.to);
        // Once the broker is back the group rebalances, and a partition being handed back may answer 503.
        const whileDead = judgeAnswers(h, answers, second.from, second.dead);
        const all = judgeAnswers(h, answers);
        process.stderr.write(
          `broker kill: 1st at ${appliedBeforeKill} of ${backlog} records applied, down ${first.to - first.from} ms, ` +
            `${duringFirst.ok} × 200 and ${duringFirst.unavailable} × 503 meanwhile; 2nd caught up, down ` +
            `${second.to - second.from} ms, ${duringSecond.ok} × 200 and ${duringSecond.unavailable} × 503 ` +
            `(${whileDead.unavailable} × 503 while nothing listened); ` +
            `${all.asked} lookups in all\n`,
        );
        expect.soft(all.problems, 'lookups answered wrongly or not at all').toEqual([]);
        // Not vacuous: lookups were asked throughout both outages.
        expect(duringFirst.asked).toBeGreaterThanOrEqual(10);
        expect(duringSecond.asked).toBeGreaterThanOrEqual(10);
        expect(whileDead.asked).toBeGreaterThanOrEqual(5);
        expect
          .soft(whileDead.unavailable, 'a caught-up service answers its own partitions while Kafka is away')
          .toBe(0);

        const { compared, mismatches } = await h.compareWithModel(service.url);
        expect.soft(mismatches, 'read states that differ from the reference model').toEqual([]);
        expect(compared).toBeGreaterThan(50);
        const audit = await h.auditDeadLetters();
        expect.soft(audit.problems, 'dead letters missing, doubled or wrong').toEqual([]);
        expect(audit.expected).toBeGreaterThan(0);
        expect(exitedWith, `the service exited; see ${service.logFile}`).toBeUndefined();
      } finally {
        await probe.stop();
        expect(await service.stop()).toBe(0);
      }
    },
  );
});
