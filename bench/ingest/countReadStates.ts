/** Counts the read-state records of a closed generation: a prefix scan of each partition's read-state range. */
import { KeyKind } from '../../src/store/keys.ts';
import { openRocksDatabase } from '../../src/store/rocksDatabase.ts';

const PAGE = 100_000;

export async function countReadStates(path: string, partitions: number): Promise<number> {
  const db = await openRocksDatabase(path);
  try {
    let count = 0;
    for (let partition = 0; partition < partitions; partition++) {
      const prefix = Buffer.alloc(3);
      prefix.writeUInt16BE(partition, 0);
      prefix.writeUInt8(KeyKind.readState, 2);
      let after: Buffer | undefined;
      for (;;) {
        const page = await db.scan(prefix, after === undefined ? { limit: PAGE } : { limit: PAGE, after });
        count += page.length;
        after = page.at(-1)?.key;
        if (page.length < PAGE) break;
      }
    }
    return count;
  } finally {
    await db.close();
  }
}
