/**
 * Issue 10, items 1 and 8: PostgreSQL away must not take reads down, nor stop more than the partition whose
 * dead letter waits for it. The service reaches PostgreSQL through a TCP proxy that either stops answering
 * (blackhole: connections accepted and held, nothing passes, as a dead network) or refuses; PostgreSQL is lost
 * while the service runs, or is away from the start. Hostile records arrive only on partition 0 meanwhile:
 * the other partitions must keep being applied and answered, /readyz must name PostgreSQL, every answer must
 * be a state the history passed through (or 503 with Retry-After), and once PostgreSQL is back every dead
 * letter lands exactly once and the state equals the model.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { HostileKind } from '../support/hostileRecords.ts';
import { freePort, startService } from '../support/serviceProcess.ts';
import { startTcpProxy } from '../support/tcpProxy.ts';
import { waitFor } from '../support/waitFor.ts';
import { createFaultHarness, type FaultHarness } from './support/faultHarness.ts';
import { judgeAnswers, startLookupProbe } from './support/lookupProbe.ts';

/** Records whose dead letters carry what PostgreSQL text cannot hold (NUL), and plain ones. */
const KINDS: readonly HostileKind[] = [
  'nul_garbage_on_acks',
  'nul_inside_json',
  'nul_header_refused',
  'invalid_utf8_header_refused',
  'nul_escape_in_type',
  'invalid_json',
  'tombstone',
];
/** Hostile records go to this partition only; the others must keep flowing. */
const POISONED = 0;

type Proxy = Awaited<ReturnType<typeof startTcpProxy>>;

/** What /readyz says about PostgreSQL: the value of a key naming it, else a reason mentioning it. */
async function postgresState(url: string): Promise<string | undefined> {
  const body = (await (await fetch(`${url}/readyz`)).json()) as Record<string, unknown>;
  const find = (value: unknown, depth: number): string | undefined => {
    if (typeof value !== 'object' || value === null || depth > 2) return undefined;
    for (const [key, inner] of Object.entries(value)) {
      if (/postgres/i.test(key)) return JSON.stringify(inner);
      const found = find(inner, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  const reason = typeof body.reason === 'string' ? body.reason : '';
  return find(body, 0) ?? (/postgres/i.test(reason) ? reason : undefined);
}

/** How /readyz may say PostgreSQL is missing; its format is the service's, so only the sense is checked. */
const SAYS_MISSING = /unreachable|down|timeout|timed out|refused|error|missing|unavailable|not applied/i;

/** Until /readyz's word on PostgreSQL says it is missing (`missing`) or no longer does; returns that word. */
async function untilPostgresSays(url: string, missing: boolean): Promise<string> {
  return waitFor(
    async () => {
      const state = await postgresState(url);
      return state !== undefined && SAYS_MISSING.test(state) === missing ? state : false;
    },
    60_000,
    missing ? '/readyz to say PostgreSQL is missing' : '/readyz to stop saying PostgreSQL is missing',
  );
}

describe('PostgreSQL outage', () => {
  const harnesses: FaultHarness[] = [];
  const proxies: Proxy[] = [];
  async function setUp(name: string, seed: number): Promise<{ h: FaultHarness; proxy: Proxy; url: string }> {
    const h = await createFaultHarness({
      name,
      brokers: inject('kafkaBrokers'),
      postgresUrl: inject('postgresUrl'),
      seed,
      channels: 10,
      users: 24,
    });
    harnesses.push(h);
    const server = new URL(h.databaseUrl);
    const proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
    proxies.push(proxy);
    const viaProxy = new URL(h.databaseUrl);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    return { h, proxy, url: viaProxy.href };
  }
  // Each test has its own topics, database, service and proxy: closed after it, whatever happened.
  afterEach(async () => {
    for (const proxy of proxies.splice(0)) await proxy.close();
    for (const h of harnesses.splice(0)) await h.close();
  });

  /** Until everything but the poisoned partition is consumed and answered exactly as the model says. */
  async function othersFlow(h: FaultHarness, url: string): Promise<void> {
    const others = h.touched().channels.filter((channel) => h.homeOf(channel) !== POISONED);
    const progress = async () => {
      const lagging = (await h.lagging()).filter((l) => l.partition !== POISONED);
      const { mismatches } = await h.compareWithModel(url, { channels: others, limit: 3 });
      return { lagging, mismatches };
    };
    try {
      await waitFor(
        async () => {
          const { lagging, mismatches } = await progress();
          return lagging.length === 0 && mismatches.length === 0;
        },
        30_000,
        'the other partitions',
      );
    } catch {
      const { lagging, mismatches } = await progress();
      throw new Error(
        `partitions other than ${POISONED} were not applied and answered within 30 s while PostgreSQL was ` +
          `away (the outage must pause only the partition whose dead letter waits):\n  ` +
          [
            ...lagging.map((l) => `${l.topic}/${l.partition}: committed ${l.committed} of ${l.end}`),
            ...mismatches,
          ].join('\n  '),
      );
    }
  }

  it(
    'blackholed while running: reads answered, other partitions applied, dead letters land once after',
    { timeout: 180_000 },
    async () => {
      const { h, proxy, url: databaseUrl } = await setUp('pgBlackhole', 61);
      const service = await startService(
        'pgBlackhole',
        { ...h.env, DATABASE_URL: databaseUrl },
        await freePort(),
      );
      try {
        await h.publish(2_000);
        await h.caughtUp();
        await h.waitReady(service.url);
        // Not vacuous: while PostgreSQL is reachable, /readyz does not say it is missing.
        await untilPostgresSays(service.url, false);

        proxy.blackhole();
        const from = Date.now();
        const { users } = h.touched();
        const others = h.touched().channels.filter((channel) => h.homeOf(channel) !== POISONED);
        const poisoned = h.touched().channels.filter((channel) => h.homeOf(channel) === POISONED);
        const probeOthers = startLookupProbe(h, service.url, { users, channels: others });
        const probePoisoned = startLookupProbe(h, service.url, { users, channels: poisoned });
        try {
          await h.publish(2_000, { hostileRate: 0.01, kinds: KINDS, onlyPartitions: [POISONED] });
          expect(h.hostileSent.length).toBeGreaterThan(5);
          await untilPostgresSays(service.url, true);
          await othersFlow(h, service.url);
          // Nothing could reach PostgreSQL, so the partition with the poison waits: its records are not past.
          expect((await h.lagging()).some((l) => l.partition === POISONED)).toBe(true);
        } finally {
          await proxy.restore();
        }
        const to = Date.now();
        await h.caughtUp(90_000);
        await h.waitReady(service.url);
        const answersOthers = await probeOthers.stop();
        const answersPoisoned = await probePoisoned.stop();

        const othersDuring = judgeAnswers(h, answersOthers, from, to);
        const poisonedDuring = judgeAnswers(h, answersPoisoned, from, to);
        process.stderr.write(
          `postgres blackhole: ${to - from} ms; other partitions ${othersDuring.ok} × 200, ` +
            `${othersDuring.unavailable} × 503; partition ${POISONED} ${poisonedDuring.ok} × 200, ` +
            `${poisonedDuring.unavailable} × 503\n`,
        );
        expect.soft(judgeAnswers(h, answersOthers).problems, 'lookups, other partitions').toEqual([]);
        expect.soft(judgeAnswers(h, answersPoisoned).problems, 'lookups, poisoned partition').toEqual([]);
        // Reads never need PostgreSQL: caught-up partitions are answered all through.
        expect(othersDuring.asked).toBeGreaterThanOrEqual(10);
        expect.soft(othersDuring.unavailable, 'other partitions answered 503 during the outage').toBe(0);

        const { mismatches } = await h.compareWithModel(service.url);
        expect.soft(mismatches, 'read states that differ from the reference model').toEqual([]);
        const audit = await h.auditDeadLetters();
        expect.soft(audit.problems, 'dead letters missing, doubled or wrong').toEqual([]);
        expect(audit.found).toBe(audit.expected);
        await untilPostgresSays(service.url, false);
      } finally {
        expect(await service.stop()).toBe(0);
      }
    },
  );

  for (const mode of ['refused', 'blackholed'] as const) {
    it(
      `${mode} at start: the service starts, applies and answers, and stores the dead letters once it is back`,
      { timeout: 150_000 },
      async () => {
        const {
          h,
          proxy,
          url: databaseUrl,
        } = await setUp(`pgDownAtStart-${mode}`, mode === 'refused' ? 67 : 71);
        await h.publish(2_000, { hostileRate: 0.01, kinds: KINDS, onlyPartitions: [POISONED] });
        expect(h.hostileSent.length).toBeGreaterThan(5);
        if (mode === 'refused') await proxy.cut();
        else proxy.blackhole();
        const from = Date.now();
        // startService fails if the process exits during start-up.
        const service = await startService(
          `pgDownAtStart-${mode}`,
          { ...h.env, DATABASE_URL: databaseUrl },
          await freePort(),
        );
        const { users } = h.touched();
        const others = h.touched().channels.filter((channel) => h.homeOf(channel) !== POISONED);
        const poisoned = h.touched().channels.filter((channel) => h.homeOf(channel) === POISONED);
        const probeOthers = startLookupProbe(h, service.url, { users, channels: others });
        const probePoisoned = startLookupProbe(h, service.url, { users, channels: poisoned });
        try {
          let flowing = { from: 0, to: 0 };
          try {
            await untilPostgresSays(service.url, true);
            await othersFlow(h, service.url);
            expect((await h.lagging()).some((l) => l.partition === POISONED)).toBe(true);
            // Not only the backlog: events published while PostgreSQL is still away are applied too.
            flowing = { from: Date.now(), to: 0 };
            await h.publish(1_000);
            await othersFlow(h, service.url);
            flowing.to = Date.now();
          } finally {
            await proxy.restore();
          }
          const to = Date.now();
          await h.caughtUp(90_000);
          await h.waitReady(service.url);
          const answersOthers = await probeOthers.stop();
          const answersPoisoned = await probePoisoned.stop();
          const othersDuring = judgeAnswers(h, answersOthers, flowing.from, flowing.to);
          const poisonedDuring = judgeAnswers(h, answersPoisoned, from, to);
          process.stderr.write(
            `postgres ${mode} at start: ${to - from} ms; other partitions ${othersDuring.ok} × 200, ` +
              `${othersDuring.unavailable} × 503 while new events flowed; partition ${POISONED} ` +
              `${poisonedDuring.ok} × 200, ${poisonedDuring.unavailable} × 503\n`,
          );
          expect.soft(judgeAnswers(h, answersOthers).problems, 'lookups, other partitions').toEqual([]);
          expect.soft(judgeAnswers(h, answersPoisoned).problems, 'lookups, poisoned partition').toEqual([]);
          // Not vacuous: caught-up partitions were asked, and answered, while PostgreSQL was away.
          expect(othersDuring.asked).toBeGreaterThan(0);
          expect.soft(othersDuring.unavailable, 'other partitions answered 503 during the outage').toBe(0);
          await untilPostgresSays(service.url, false);

          const { mismatches } = await h.compareWithModel(service.url);
          expect.soft(mismatches, 'read states that differ from the reference model').toEqual([]);
          const audit = await h.auditDeadLetters();
          expect.soft(audit.problems, 'dead letters missing, doubled or wrong').toEqual([]);
          expect(audit.found).toBe(audit.expected);
        } finally {
          await probeOthers.stop();
          await probePoisoned.stop();
          expect(await service.stop()).toBe(0);
        }
      },
    );
  }
});
