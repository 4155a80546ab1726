import { describe, expect, it } from 'vitest';
import { metaKey, offsetKey } from '../src/store/keys.ts';
import { openRocksDatabase, type RocksDatabase } from '../src/store/rocksDatabase.ts';
import { claimStateFormat, STATE_FORMAT } from '../src/store/stateFormat.ts';
import { temporaryRocksDir } from './support/rocks.ts';

async function withDatabase(use: (db: RocksDatabase) => Promise<void>): Promise<void> {
  const dir = await temporaryRocksDir();
  const db = await openRocksDatabase(dir.path);
  try {
    await use(db);
  } finally {
    await db.close();
    await dir.remove();
  }
}

describe('the state layout a database holds', () => {
  it('claims an empty database (or one with metadata only) for this layout, then accepts it', async () => {
    await withDatabase(async (db) => {
      await db.write([{ type: 'put', key: metaKey('synced'), value: Buffer.alloc(0) }]);
      expect(await claimStateFormat(db)).toEqual({ holdsState: false });
      expect((await db.get(metaKey('format')))?.toString()).toBe(STATE_FORMAT);
      await db.write([{ type: 'put', key: offsetKey(0, 'messages'), value: Buffer.alloc(8) }]);
      expect(await claimStateFormat(db)).toEqual({ holdsState: true });
    });
  });

  it('refuses state of the record layout (no format key), saying how to rebuild it', async () => {
    await withDatabase(async (db) => {
      // A channel record of the record layout: partition 0, kind 0x01, channel 7.
      const key = Buffer.from([0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7]);
      await db.write([{ type: 'put', key, value: Buffer.from('{"epoch":0,"live":null}') }]);
      await expect(claimStateFormat(db)).rejects.toThrow(/layout "records".*readstates rebuild --offline/);
      expect(await db.get(metaKey('format'))).toBeUndefined();
    });
  });

  it.each(['channel-states-1', 'channel-states-2', 'channel-states-3'])(
    'upgrades channel states of %s (before edits, @everyone or replays) in place, which it reads as they are',
    async (older) => {
      await withDatabase(async (db) => {
        await db.write([
          { type: 'put', key: metaKey('format'), value: Buffer.from(older) },
          { type: 'put', key: offsetKey(0, 'messages'), value: Buffer.alloc(8) },
        ]);
        expect(await claimStateFormat(db)).toEqual({ holdsState: true });
        expect((await db.get(metaKey('format')))?.toString()).toBe('channel-states-4');
        expect(STATE_FORMAT).toBe('channel-states-4');
      });
    },
  );

  it('refuses a layout it does not know', async () => {
    await withDatabase(async (db) => {
      await db.write([{ type: 'put', key: metaKey('format'), value: Buffer.from('channel-states-9') }]);
      await expect(claimStateFormat(db)).rejects.toThrow(/layout "channel-states-9"/);
    });
  });
});
