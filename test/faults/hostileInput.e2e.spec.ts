/**
 * Issue 10, item 1: any bytes end as state or as a dead letter, exactly once. A seeded stream with about 1%
 * hostile records of every kind (test/support/hostileRecords.ts) goes through real Kafka into a real
 * `readstates serve`, half before it starts (replayed) and half while it runs; once it has consumed to the
 * end, every hostile record is in the dead letters once, with the expected code and the bytes that were sent,
 * and every read state equals the reference model fed with the valid events. One malformed record that stops
 * a partition makes the wait for the end fail, naming the partition and the record it is stuck on.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HOSTILE_KINDS } from '../support/hostileRecords.ts';
import { freePort, startService } from '../support/serviceProcess.ts';
import { createFaultHarness, type FaultHarness } from './support/faultHarness.ts';

const EVENTS = 6_000;
const HOSTILE_RATE = 0.01;

describe('hostile input', () => {
  let harness: FaultHarness;
  beforeAll(async () => {
    harness = await createFaultHarness({
      name: 'hostileInput',
      brokers: inject('kafkaBrokers'),
      postgresUrl: inject('postgresUrl'),
      seed: 41,
      channels: 12,
      users: 40,
    });
  });
  afterAll(async () => {
    await harness.close();
  });

  it(
    'dead-letters every hostile record exactly once, as sent, and applies every valid event',
    { timeout: 240_000 },
    async () => {
      await harness.publish(EVENTS / 2, { hostileRate: HOSTILE_RATE });
      const service = await startService('hostileInput', harness.env, await freePort());
      try {
        await harness.publish(EVENTS / 2, { hostileRate: HOSTILE_RATE });
        // Not vacuous: every kind of hostile record was sent, about 1% of the stream.
        expect(HOSTILE_KINDS.filter((kind) => !harness.kindsSent().has(kind))).toEqual([]);
        const { valid, hostile } = harness.published();
        expect(hostile / (valid + hostile)).toBeCloseTo(HOSTILE_RATE, 2);

        await harness.caughtUp(60_000);
        await harness.waitReady(service.url);
        const { compared, mismatches } = await harness.compareWithModel(service.url);
        expect.soft(mismatches, 'read states that differ from the reference model').toEqual([]);
        expect(compared).toBeGreaterThan(100);

        const audit = await harness.auditDeadLetters();
        expect
          .soft(audit.problems, 'dead letters that are missing, doubled, wrong or unexpected')
          .toEqual([]);
        expect(audit.found).toBe(audit.expected);
        expect(audit.expected).toBeGreaterThan(40);
      } finally {
        expect(await service.stop()).toBe(0);
      }
    },
  );
});
