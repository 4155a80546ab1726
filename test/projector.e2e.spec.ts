/** The service as operators run it, fed through real Kafka, checked against the reference model. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { REJECTION_CODES } from '../src/contract/rejection.ts';
import { currentGeneration } from '../src/store/generations.ts';
import { KeyKind, partitionRange } from '../src/store/keys.ts';
import { openRocksDatabase } from '../src/store/rocksDatabase.ts';
import { readStoredOffset } from '../src/store/storedOffsets.ts';
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
      // The engine's heap as held from the system, not only as used (docs/operations.md, memory).
      const heap = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(metrics)?.[1]);
      expect(heap('readstates_engine_heap_used_bytes')).toBeGreaterThan(0);
      expect(heap('readstates_engine_heap_total_bytes')).toBeGreaterThanOrEqual(
        heap('readstates_engine_heap_used_bytes'),
      );
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

  it('finishes a partition deletion that a stop interrupted before replaying it, and answers exactly', async () => {
    // A drop deletes a partition's keys in key order, slice by slice, its offsets first: a stop part-way leaves
    // some records without offsets. Replayed from the log's start on top of them, the channel states that are
    // left would take every message as seen already, and their counts would miss them.
    const dataDir = harness.env.DATA_DIR;
    const db = await openRocksDatabase(join(dataDir, await currentGeneration(dataDir)));
    try {
      expect(await readStoredOffset(db, 0, 'messages')).toBeGreaterThan(0n);
      // The first slice of a drop: the offsets and the read-state keys, which sort right after them.
      const slice = (await db.scan(partitionRange(0).start)).filter(
        ({ key }) => key[2] === KeyKind.offset || key[2] === KeyKind.readState,
      );
      expect(slice.length).toBeGreaterThan(2);
      await db.write(slice.map(({ key }) => ({ type: 'del' as const, key })));
      expect(await readStoredOffset(db, 0, 'messages')).toBeUndefined();
      expect((await db.scan(partitionRange(0).start, { limit: 1 })).length).toBe(1);
    } finally {
      await db.close();
    }
    const service = await startService('e2e-interrupted-drop', harness.env, await freePort());
    try {
      expect(await harness.expectMatchesModel(service.url)).toBeGreaterThan(300);
    } finally {
      expect(await service.stop()).toBe(0);
    }
  });
});
