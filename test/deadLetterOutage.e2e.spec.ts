/**
 * PostgreSQL unreachable while a poison pill arrives: the projector must not let its offset pass a record that
 * is neither applied nor kept. It pauses, and once PostgreSQL is back stores exactly one dead letter.
 */
import pg from '@databases/pg';
import { inject } from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabasePool } from '../src/ops/database.ts';
import { createProjectorHarness } from './support/projectorHarness.ts';
import { freePort, startService } from './support/serviceProcess.ts';
import { startTcpProxy } from './support/tcpProxy.ts';
import { trackResource } from './support/resources.ts';
import { waitFor } from './support/waitFor.ts';

describe('dead-letter store outage', () => {
  let harness: Awaited<ReturnType<typeof createProjectorHarness>>;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  beforeAll(async () => {
    harness = await createProjectorHarness('outage', { seed: 23, channels: 6, users: 12 });
    const server = new URL(inject('postgresUrl'));
    proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
  });
  afterAll(async () => {
    await proxy.close();
    await harness.close();
  });

  async function deadLetterRows(): Promise<number> {
    const pool = createDatabasePool(harness.env.DATABASE_URL, { poolSize: 1 });
    const release = trackResource('database pool', 'dead letter count');
    try {
      const [row] = (await pool.query(pg.sql`SELECT count(*)::int AS n FROM dead_letters`)) as {
        n: number;
      }[];
      return row?.n ?? -1;
    } finally {
      await pool.dispose();
      release();
    }
  }

  it(
    'pauses while PostgreSQL is away, then stores the poison pill exactly once',
    { timeout: 180_000 },
    async () => {
      const viaProxy = new URL(harness.env.DATABASE_URL);
      viaProxy.host = `127.0.0.1:${proxy.port}`;
      const service = await startService(
        'outage',
        { ...harness.env, DATABASE_URL: viaProxy.href },
        await freePort(),
      );
      try {
        await harness.publish(300);
        await harness.caughtUp();
        // The service migrates PostgreSQL in the background, maybe after the backlog is applied: the outage
        // must come after, or there is no dead_letters table to count.
        await waitFor(() => deadLetterRows().then(() => true));
        const before = await harness.appliedSoFar();

        await proxy.cut();
        await harness.publish(300, { poisonEvery: 300 });
        expect(harness.poisonSent).toHaveLength(1);
        // Give the projector time to meet the poison pill and fail to store it.
        await new Promise((resolve) => setTimeout(resolve, 8_000));
        const during = await harness.appliedSoFar();
        expect(await deadLetterRows()).toBe(0);
        const metricsDuring = await (await fetch(`${service.url}/metrics`)).text();
        expect(metricsDuring).toMatch(/^readstates_dead_letter_store_paused 1$/m);
        // Not everything was applied: the batch holding the poison pill is waiting.
        const total = before + 300n + 1n;
        expect(during).toBeLessThan(total);

        await proxy.restore();
        await harness.caughtUp();
        expect(await deadLetterRows()).toBe(1);
        const metricsAfter = await (await fetch(`${service.url}/metrics`)).text();
        expect(metricsAfter).toMatch(/^readstates_dead_letter_store_paused 0$/m);
        expect(metricsAfter).toMatch(/^readstates_dead_letters_total\{topic="messages"\} 1$/m);
        await harness.expectMatchesModel(service.url);
      } finally {
        expect(await service.stop()).toBe(0);
      }
      const letters = await harness.deadLettersFromCli();
      expect(letters.map((l) => l.code)).toEqual([harness.poisonSent[0]?.code]);
    },
  );
});
