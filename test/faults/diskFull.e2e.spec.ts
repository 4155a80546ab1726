/**
 * Issue 10, item 11: a RocksDB write error, for real: DATA_DIR on a small tmpfs (mounted here; the tests run as
 * root, as in CI), filled up by a filler file until writes fail with ENOSPC (no failure injected at the store
 * boundary). While the disk is full the service stays up and keeps answering lookups for its partitions with the
 * state it has (200 with values the history passed through, never a wrong one; or 503 with Retry-After), and
 * says that writes fail; once the filler is deleted it applies every event exactly once.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, rmdir, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Snowflake } from '../../src/contract/snowflake.ts';
import { freePort } from '../support/serviceProcess.ts';
import { createFaultHarness, type FaultHarness } from './support/faultHarness.ts';
import { judgeAnswers, type ProbeAnswer } from './support/lookupProbe.ts';
import { spawnService, type SpawnedService } from './support/spawnService.ts';

const run = promisify(execFile);
const FILESYSTEM_MB = 32;
const BEFORE = 2_000;
const DURING = 1_000;
/** How long the disk stays full while events arrive and lookups are asked. */
const FULL_FOR_MS = 10_000;
/** Once the filler is deleted, the backlog (a few hundred records) is applied within this. */
const RECOVER_WITHIN_MS = 20_000;

/** Writes zeros into `path` until the filesystem refuses (ENOSPC); returns the bytes written. */
async function fillUp(path: string): Promise<number> {
  const file = await open(path, 'w');
  let written = 0;
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          const { bytesWritten } = await file.write(chunk);
          written += bytesWritten;
          if (bytesWritten < size) break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
          break;
        }
      }
    }
  } finally {
    await file.close();
  }
  return written;
}

/**
 * Lookups one after another until stopped, each waiting up to 10 s: longer than the engine's own 5 s timeout,
 * so a stalled engine shows as its 503 engine_timeout rather than as a client that gave up first.
 */
function probeLookups(
  h: FaultHarness,
  url: string,
  users: readonly Snowflake[],
  channels: readonly Snowflake[],
) {
  const answers: ProbeAnswer[] = [];
  const state = { running: true };
  const loop = (async () => {
    for (let i = 0; state.running; i++) {
      const user = users[i % users.length] ?? '0';
      const sentAt = Date.now();
      const answer = await h.lookup(url, user, channels, 10_000);
      answers.push({ ...answer, user, channels: channels.length, sentAt, answeredAt: Date.now() });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    async stop(): Promise<ProbeAnswer[]> {
      state.running = false;
      await loop;
      return answers;
    },
  };
}

describe('DATA_DIR on a full filesystem', () => {
  let harness: FaultHarness;
  let mountPoint: string | undefined;
  beforeAll(async () => {
    const point = await mkdtemp(join(tmpdir(), 'readstates-full-'));
    try {
      await run('mount', ['-t', 'tmpfs', '-o', `size=${FILESYSTEM_MB}m`, 'tmpfs', point]);
    } catch (error) {
      await rmdir(point);
      throw new Error('mounting a tmpfs failed: this test needs root (as CI and the dev VM run it)', {
        cause: error,
      });
    }
    mountPoint = point;
    harness = await createFaultHarness({
      name: 'diskFull',
      brokers: inject('kafkaBrokers'),
      postgresUrl: inject('postgresUrl'),
      seed: 113,
      channels: 10,
      users: 30,
      partitions: 2,
    });
  });
  afterAll(async () => {
    await harness.close();
    if (mountPoint !== undefined) {
      await run('umount', [mountPoint]);
      await rmdir(mountPoint);
    }
  });

  it('keeps answering while writes fail, then applies every event exactly once', async () => {
    if (mountPoint === undefined) throw new Error('beforeAll failed');
    const h = harness;
    const env = { ...h.env, DATA_DIR: join(mountPoint, 'data') };
    const filler = join(mountPoint, 'filler');
    await h.publish(BEFORE);
    const service = await spawnService('diskFull', env, await freePort());
    let restarted: SpawnedService | undefined;
    try {
      await service.healthy();
      await h.caughtUp(60_000);
      await h.waitReady(service.url);
      const start = await h.compareWithModel(service.url);
      expect(start.mismatches).toEqual([]);

      // The disk fills up; events keep arriving.
      const fullFrom = Date.now();
      const filled = await fillUp(filler);
      const { bavail, bsize } = await statfs(mountPoint);
      const { users, channels } = h.touched();
      const probe = probeLookups(h, service.url, users.slice(0, 10), channels);
      await h.publish(DURING);
      await new Promise((resolve) => setTimeout(resolve, FULL_FOR_MS));
      const fullTo = Date.now();
      const appliedWhileFull = await h.appliedSoFar();
      const readyz: unknown = await (await fetch(`${service.url}/readyz`)).json().catch(() => ({}));
      const complaints = service
        .lines()
        .filter((line) => line.level >= 50 && Number(line.time) >= fullFrom)
        .map((line) => JSON.stringify(line));
      const upWhileFull = service.exitCode() === undefined;

      // Room again: the service should go on by itself.
      await rm(filler);
      const roomAt = Date.now();
      const recovered = await h.caughtUp(RECOVER_WITHIN_MS).then(
        () => true,
        () => false,
      );
      const answers = await probe.stop();
      const during = judgeAnswers(h, answers, fullFrom, fullTo);
      const afterwards = judgeAnswers(h, answers, roomAt);
      const all = judgeAnswers(h, answers);
      const slowest = Math.max(...answers.map((a) => a.answeredAt - a.sentAt));
      process.stderr.write(
        `disk full: ${(filled / 2 ** 20).toFixed(1)} MiB filler, ${bavail * bsize} bytes left; ${appliedWhileFull} of ` +
          `${BEFORE + DURING} records applied after ${fullTo - fullFrom} ms full; up: ${upWhileFull}; /readyz ` +
          `${JSON.stringify(readyz)}; ${complaints.length} error lines, e.g. ${complaints[0]?.slice(0, 300) ?? 'none'}; ` +
          `lookups while full ${during.ok} × 200, ${during.unavailable} × 503; after the filler went ${afterwards.ok} × 200, ` +
          `${afterwards.unavailable} × 503; slowest answer ${slowest} ms; caught up within ${RECOVER_WITHIN_MS} ms of room: ${recovered}\n`,
      );
      // The fault happened: writes failed, so not everything was applied while the disk was full.
      expect(appliedWhileFull, 'records applied with the disk full').toBeLessThan(BigInt(BEFORE + DURING));
      expect(upWhileFull, `the service exited with the disk full; see ${service.logFile}`).toBe(true);
      expect(
        complaints.some((text) => /no space|ENOSPC/i.test(text)),
        'an error line says why writes fail',
      ).toBe(true);
      expect.soft(all.problems.slice(0, 20), 'lookups answered wrongly or not at all').toEqual([]);
      expect(all.problems.length, 'lookups answered wrongly or not at all').toBe(0);
      expect
        .soft(during.ok, 'lookups answered 200 from the state held while the disk was full')
        .toBeGreaterThan(10);
      expect.soft(recovered, `applying resumes once the disk has room; see ${service.logFile}`).toBe(true);
      if (recovered) {
        await h.waitReady(service.url);
        const end = await h.compareWithModel(service.url);
        expect(end.mismatches, 'read states after the disk has room again').toEqual([]);
        expect(end.compared).toBeGreaterThan(100);
      }
      expect(await service.stop(), `exit code; see ${service.logFile}`).toBe(0);

      // Whatever happened in that process, the state on disk is consistent: a restart applies the rest once.
      restarted = await spawnService('diskFull-restarted', env, await freePort());
      await restarted.healthy();
      await h.caughtUp(60_000);
      await h.waitReady(restarted.url);
      const end = await h.compareWithModel(restarted.url);
      expect(end.mismatches, 'read states after a restart').toEqual([]);
      expect(end.compared).toBeGreaterThan(100);
      const audit = await h.auditDeadLetters();
      expect(audit.problems, 'dead letters (none expected)').toEqual([]);
      expect(await restarted.stop(), `exit code; see ${restarted.logFile}`).toBe(0);
    } finally {
      await rm(filler, { force: true });
      await service.stop();
      await restarted?.stop();
    }
  }, 150_000);
});
