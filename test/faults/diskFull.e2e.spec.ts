/**
 * Issue 10, item 11: a RocksDB write error, for real: DATA_DIR on a small tmpfs (mounted here; the tests run as
 * root, as in CI), filled up by a filler file until writes fail with ENOSPC (no failure injected at the store
 * boundary). RocksDB accepts no write after one failed until it is opened again, so the service stops with a fatal
 * line saying why; until then it answers nothing wrong, and once there is room a restart applies every event
 * exactly once.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, rmdir, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Snowflake } from '../../src/contract/snowflake.ts';
import { WRITE_BACK_AFTER } from '../../src/ingest/projector.ts';
import { WRITE_BUFFER_BYTES } from '../../src/store/rocksDatabase.ts';
import { freePort } from '../support/serviceProcess.ts';
import { createFaultHarness, type FaultHarness } from './support/faultHarness.ts';
import { judgeAnswers, type ProbeAnswer } from './support/lookupProbe.ts';
import { spawnService, type SpawnedService } from '../support/spawnService.ts';

const run = promisify(execFile);
/**
 * Smaller than a write-ahead log's reservation (1.1 write buffers), so the reservation fails and every write takes
 * new room: with room reserved before the disk filled, the writes of a small test land in it and none fails.
 */
const FILESYSTEM_MB = WRITE_BUFFER_BYTES / 2 ** 20;
const BEFORE = 2_000;
const DURING = 1_000;
/**
 * Once the disk is full and events arrive, the first failed write stops the service within this: the chunks' own
 * writes are small and may still fit, the channels they changed are written back within WRITE_BACK_AFTER (30 s).
 */
const STOPS_WITHIN_MS = WRITE_BACK_AFTER.ms + 15_000;

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

  it('stops with a fatal line when writes fail, answers nothing wrong meanwhile, and a restart applies every event exactly once', async () => {
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

      // The disk fills up; events keep arriving. RocksDB accepts no write after a failed one until it is opened
      // again, so the service stops (a supervisor restarts it) rather than hold partitions it cannot advance.
      const fullFrom = Date.now();
      const filled = await fillUp(filler);
      const { bavail, bsize } = await statfs(mountPoint);
      const { users, channels } = h.touched();
      const probe = probeLookups(h, service.url, users.slice(0, 10), channels);
      await h.publish(DURING);
      const exitCode = await Promise.race([
        service.exited,
        new Promise<'still running'>((resolve) =>
          setTimeout(() => {
            resolve('still running');
          }, STOPS_WITHIN_MS),
        ),
      ]);
      const exitedAt = Date.now();
      const stoppedAfterMs = exitedAt - fullFrom;
      const answers = await probe.stop();
      const appliedWhileFull = await h.appliedSoFar();
      const fatal = service
        .lines()
        .filter((line) => line.level >= 60)
        .map((line) => JSON.stringify(line));
      // Asked until the process was gone: from its fatal line on, no answer is the expected answer.
      const fatalAt = Math.min(
        exitedAt,
        ...service
          .lines()
          .filter((line) => line.level >= 60)
          .map((line) => Number(line.time)),
      );
      const all = judgeAnswers(
        h,
        answers.filter((answer) => answer.status !== 0 || answer.sentAt < fatalAt),
      );
      process.stderr.write(
        `disk full: ${(filled / 2 ** 20).toFixed(1)} MiB filler, ${bavail * bsize} bytes left; ${appliedWhileFull} of ` +
          `${BEFORE + DURING} records applied; exit ${String(exitCode)} after ${stoppedAfterMs} ms; lookups meanwhile ` +
          `${all.ok} × 200, ${all.unavailable} × 503; fatal: ${fatal[0]?.slice(0, 300) ?? 'none'}\n`,
      );
      // The fault happened: a write failed. (Which one depends on sizes: a chunk's own write holds its offsets and
      // listing keys, and may still fit; the channels it changed are written back later, and those do not.)
      expect(exitCode, `the service should stop when RocksDB cannot write; see ${service.logFile}`).toBe(1);
      expect(
        fatal.some((text) => /RocksDB/.test(text) && /no space|ENOSPC/i.test(text)),
        'a fatal line says writes to RocksDB fail and why',
      ).toBe(true);
      expect(all.problems.slice(0, 20), 'lookups answered wrongly').toEqual([]);
      expect(all.ok, 'lookups answered before the service stopped').toBeGreaterThan(0);

      // Room again: a restart on the same DATA_DIR applies the rest exactly once.
      await rm(filler);
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
