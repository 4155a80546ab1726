/**
 * The projector's resident state changes no byte of the state: the same stream, in chunks, through a small
 * resident state that evicts channels all the time and through none, into real RocksDB databases, leaves them
 * identical; whether the resident state knew the partition whole from the start or learned it from disk. And
 * what it holds after a write, reloaded from RocksDB, is what it holds in memory.
 */
import { describe, expect, it } from 'vitest';
import { createDemoStream } from '../src/ops/demoStream.ts';
import { DISK_FANOUT } from '../src/store/diskFanout.ts';
import { projectEvents } from '../src/store/projectEvents.ts';
import { keyOfRecordId } from '../src/store/recordIds.ts';
import { decodeRecord } from '../src/store/recordCodec.ts';
import { ABSENT, ResidentState } from '../src/store/residentState.ts';
import { openRocksDatabase, type RocksDatabase } from '../src/store/rocksDatabase.ts';
import { temporaryRocksDir } from './support/rocks.ts';

async function everything(db: RocksDatabase): Promise<string[]> {
  const entries = await db.scan(Buffer.alloc(0));
  return entries.map(({ key, value }) => `${key.toString('hex')}=${value.toString('hex')}`);
}

describe('projectEvents with a resident state', () => {
  it.each([
    { start: 'known whole from an empty partition', empty: true },
    { start: 'learned from disk', empty: false },
  ])(
    'writes exactly what it writes without one ($start)',
    async ({ empty }) => {
      const dirs = [await temporaryRocksDir(), await temporaryRocksDir()];
      const [withResident, without] = await Promise.all(dirs.map((dir) => openRocksDatabase(dir.path)));
      if (withResident === undefined || without === undefined) throw new Error('unreachable');
      try {
        const stream = createDemoStream({ seed: 5, channels: 40, users: 200 });
        const resident = new ResidentState(1_000);
        resident.startPartition(0, empty);
        for (let chunk = 0; chunk < 20; chunk++) {
          const events = Array.from({ length: 500 }, () => stream.next());
          for (const [db, state] of [
            [withResident, resident],
            [without, undefined],
          ] as const) {
            const { store, operations } = await projectEvents(db, 0, DISK_FANOUT, events, state);
            await db.write(operations);
            store.commit();
          }
        }
        // What it holds is what RocksDB holds: every record reloaded from disk equals the one in memory.
        let compared = 0;
        for (const { id, value } of resident.records(0)) {
          const bytes = await withResident.get(keyOfRecordId(0, id));
          expect(bytes === undefined ? ABSENT : decodeRecord(bytes)).toEqual(value);
          compared++;
        }
        expect(compared).toBeGreaterThan(500);
        expect(resident.hits).toBeGreaterThan(1_000);
        expect(resident.evictions).toBeGreaterThan(10);
        expect(resident.size).toBeLessThanOrEqual(1_000);
        const [a, b] = [await everything(withResident), await everything(without)];
        expect(a.length).toBeGreaterThan(1_000);
        expect(a).toEqual(b);
      } finally {
        await withResident.close();
        await without.close();
        await Promise.all(dirs.map((dir) => dir.remove()));
      }
    },
    60_000,
  );
});
