/**
 * Issue 10, item 9: one DATA_DIR lock before anything touches the directory. A second `serve` on a DATA_DIR in
 * use is refused at once and the first keeps serving and applying; a CURRENT that names a missing generation
 * stops start-up naming it, before anything in the directory is created or deleted (the state beside it
 * survives and serves again once the pointer is fixed).
 */
import { access, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../support/serviceProcess.ts';
import { createFaultHarness, type FaultHarness } from './support/faultHarness.ts';
import { spawnService, type SpawnedService } from '../support/spawnService.ts';

const EVENTS = 1_500;
/** A refused start ends well within this. */
const EXIT_WITHIN_MS = 30_000;

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

async function refusedStart(service: SpawnedService): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  const timer = setTimeout(() => {
    service.kill('SIGKILL');
  }, EXIT_WITHIN_MS);
  const code = await service.exited;
  clearTimeout(timer);
  return { code, ms: Date.now() - started };
}

/** Every line the process wrote, with its error, as one text to search. */
const logText = (service: SpawnedService) =>
  service
    .lines()
    .map((line) => JSON.stringify(line))
    .join('\n');

describe('DATA_DIR', () => {
  let harness: FaultHarness;
  beforeAll(async () => {
    harness = await createFaultHarness({
      name: 'dataDir',
      brokers: inject('kafkaBrokers'),
      postgresUrl: inject('postgresUrl'),
      seed: 83,
      channels: 10,
      users: 30,
      partitions: 2,
    });
  });
  afterAll(async () => {
    await harness.close();
  });

  it('refuses a second serve on a DATA_DIR in use; the first keeps serving and applying', async () => {
    await harness.publish(EVENTS);
    const first = await spawnService('dataDir-first', harness.env, await freePort());
    try {
      await first.healthy();
      await harness.caughtUp(60_000);
      await harness.waitReady(first.url);

      const second = await spawnService('dataDir-second', harness.env, await freePort());
      const { code, ms } = await refusedStart(second);
      process.stderr.write(`second serve on the same DATA_DIR: exit ${String(code)} after ${ms} ms\n`);
      expect(code, `the second's exit code; see ${second.logFile}`).not.toBe(0);
      expect(code).not.toBeNull();
      expect(logText(second)).toContain(
        `DATA_DIR ${harness.dataDir} is in use by another readstates process`,
      );

      // The first never noticed: it answers exactly and goes on applying.
      expect(first.exitCode()).toBeUndefined();
      const before = await harness.compareWithModel(first.url);
      expect(before.mismatches).toEqual([]);
      await harness.publish(500);
      await harness.caughtUp(30_000).catch((error: unknown) => {
        const exited = first.exitCode();
        throw exited === undefined
          ? error
          : new Error(`the first instance exited (code ${String(exited)}); see ${first.logFile}`);
      });
      const after = await harness.compareWithModel(first.url);
      expect(after.mismatches, 'read states after more events').toEqual([]);
      expect(after.compared).toBeGreaterThan(100);
    } finally {
      expect(await first.stop(), `the first's exit code; see ${first.logFile}`).toBe(0);
    }
  }, 90_000);

  it('stops when CURRENT names a missing generation, touching nothing in DATA_DIR', async () => {
    const dataDir = harness.dataDir;
    // The state the first test left (the initial generation, "state"), its service stopped.
    const stateFiles = await readdir(join(dataDir, 'state'));
    expect(stateFiles.length).toBeGreaterThan(0);
    const missing = join('generations', 'rebuild-lost');
    await writeFile(join(dataDir, 'CURRENT'), `${missing}\n`);

    const service = await spawnService('dataDir-missingGeneration', harness.env, await freePort());
    const { code, ms } = await refusedStart(service);
    process.stderr.write(`CURRENT naming a missing generation: exit ${String(code)} after ${ms} ms\n`);
    expect(code, `exit code; see ${service.logFile}`).not.toBe(0);
    expect(code).not.toBeNull();
    const text = logText(service);
    expect(text).toContain(`names the generation ${missing}, which does not exist`);
    expect(text).toContain('readstates rebuild --offline');
    // Neither an empty database opened in its place, nor the other generation deleted as "not current".
    expect(await exists(join(dataDir, missing))).toBe(false);
    expect(await readdir(join(dataDir, 'state'))).toEqual(expect.arrayContaining(stateFiles));

    // The pointer fixed (the initial generation is current without one): the same state serves as before.
    await rm(join(dataDir, 'CURRENT'));
    const again = await spawnService('dataDir-fixed', harness.env, await freePort());
    try {
      await again.healthy();
      await harness.waitReady(again.url);
      const { compared, mismatches } = await harness.compareWithModel(again.url);
      expect(mismatches).toEqual([]);
      expect(compared).toBeGreaterThan(100);
    } finally {
      expect(await again.stop(), `exit code; see ${again.logFile}`).toBe(0);
    }
  }, 90_000);
});
