/**
 * Issue 10, item 8: SIGTERM at any moment exits 0 within 15 s with RocksDB consistent. Three moments on one
 * DATA_DIR: right after spawn (at its first log line, long before it listens), while it joins its consumer
 * group (/readyz says it is starting; the join waits for a crashed member's session to expire), and while it
 * projects a backlog at full speed. A restart on the same DATA_DIR must then apply to exactly the model's
 * state, each hostile record dead-lettered once.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitUntilJoined } from '../support/crashLoop.ts';
import { freePort, startService } from '../support/serviceProcess.ts';
import { waitFor } from '../support/waitFor.ts';
import { createFaultHarness, type FaultHarness } from './support/faultHarness.ts';
import { spawnService, type SpawnedService } from '../support/spawnService.ts';

const EXIT_WITHIN_MS = 15_000;
/**
 * Large enough that the service is still part-way through it when the signal lands: it applies 100,000–130,000
 * events/s, and the test learns of its first events from offsets it commits every 200 ms.
 */
const BACKLOG = 90_000;

/** SIGTERM now; the exit, and how long it took (SIGKILL after 30 s so a hung process cannot hang the run). */
async function terminate(service: SpawnedService): Promise<{ code: number | null; ms: number }> {
  const sentAt = Date.now();
  service.kill('SIGTERM');
  const fallback = setTimeout(() => {
    service.kill('SIGKILL');
  }, 30_000);
  const code = await service.exited;
  const ms = Date.now() - sentAt;
  clearTimeout(fallback);
  process.stderr.write(`sigterm: exit ${String(code)} after ${ms} ms\n`);
  return { code, ms };
}

/** Until the process writes its first line (its own code runs), or exits first. */
async function firstLine(service: SpawnedService): Promise<'output' | 'exited'> {
  // Node installs a native SIGTERM handler before any JavaScript runs, so /proc's signal masks cannot tell
  // when the service itself can see a signal; its output can.
  return waitFor(
    () => (service.exitCode() !== undefined ? 'exited' : service.lines().length > 0 ? 'output' : false),
    30_000,
    `the first line of ${service.logFile}`,
  );
}

const joined = (service: SpawnedService) =>
  service.lines().some((line) => line.msg === 'joined the consumer group');

describe('SIGTERM at any moment', () => {
  let harness: FaultHarness;
  let port: number;
  beforeAll(async () => {
    harness = await createFaultHarness({
      name: 'sigterm',
      brokers: inject('kafkaBrokers'),
      postgresUrl: inject('postgresUrl'),
      seed: 73,
      channels: 10,
      users: 30,
    });
    port = await freePort();
    await harness.publish(2_000, { hostileRate: 0.01 });
  });
  afterAll(async () => {
    await harness.close();
  });

  it('right after spawn, at its first log line: exits 0 within 15 s', { timeout: 60_000 }, async () => {
    // AUTH_DISABLED makes the service warn as soon as it has read its configuration: an early first line.
    const service = await spawnService('sigterm', { ...harness.env, AUTH_DISABLED: 'true' }, port);
    expect(await firstLine(service), `exited during start-up; see ${service.logFile}`).toBe('output');
    const { code, ms } = await terminate(service);
    expect({ code, withinLimit: ms <= EXIT_WITHIN_MS }, `exit after ${ms} ms`).toEqual({
      code: 0,
      withinLimit: true,
    });
    // Not vacuous: the signal landed during start-up, before the projector ran.
    expect(joined(service)).toBe(false);
  });

  it('while joining the consumer group: exits 0 within 15 s', { timeout: 120_000 }, async () => {
    // After a crash the group waits for the dead member's session to expire (6 s here) before the next join
    // completes: a start-up that sits in JoinGroup, as a restarted pod does.
    const crashed = await spawnService('sigterm', harness.env, port);
    await crashed.healthy();
    await waitUntilJoined(crashed.url);
    crashed.kill('SIGKILL');
    await crashed.exited;

    const service = await spawnService('sigterm', harness.env, port);
    const reason = await waitFor(
      async () => {
        if (service.exitCode() !== undefined) return 'exited';
        const response = await fetch(`${service.url}/readyz`).catch(() => undefined);
        if (response === undefined) return false;
        return ((await response.json()) as { reason?: string }).reason ?? 'ready';
      },
      60_000,
      '/readyz to answer',
    );
    const { code, ms } = await terminate(service);
    // Not vacuous: the signal landed while the service said it had not joined yet.
    expect(reason).toMatch(/^starting/);
    expect({ code, withinLimit: ms <= EXIT_WITHIN_MS }, `exit after ${ms} ms`).toEqual({
      code: 0,
      withinLimit: true,
    });
  });

  it('while projecting at full speed: exits 0 within 15 s', { timeout: 120_000 }, async () => {
    await harness.publish(BACKLOG, { hostileRate: 0.01 });
    const total = BigInt(harness.published().valid + harness.published().hostile);
    const before = await harness.appliedSoFar();
    const service = await spawnService('sigterm', harness.env, port);
    await service.healthy();
    const applied = await waitFor(
      async () => {
        const now = await harness.appliedSoFar();
        return now > before ? now : false;
      },
      60_000,
      'the service to apply events',
    );
    const { code, ms } = await terminate(service);
    expect({ code, withinLimit: ms <= EXIT_WITHIN_MS }, `exit after ${ms} ms`).toEqual({
      code: 0,
      withinLimit: true,
    });
    // Not vacuous: the service was part-way through its backlog.
    expect(applied).toBeLessThan(total);
  });

  it('a restart on the same DATA_DIR applies to exactly the final state', { timeout: 180_000 }, async () => {
    await harness.publish(1_000, { hostileRate: 0.01 });
    const service = await startService('sigterm', harness.env, port);
    try {
      await harness.caughtUp(120_000);
      await harness.waitReady(service.url);
      const { compared, mismatches } = await harness.compareWithModel(service.url);
      expect.soft(mismatches, 'read states that differ from the reference model').toEqual([]);
      expect(compared).toBeGreaterThan(100);
      const audit = await harness.auditDeadLetters();
      expect.soft(audit.problems, 'dead letters missing, doubled or wrong').toEqual([]);
      expect(audit.found).toBe(audit.expected);
    } finally {
      expect(await service.stop()).toBe(0);
    }
  });
});
