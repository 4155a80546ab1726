import { mkdtempSync } from 'node:fs';
import { openRocksDatabase } from '../src/store/rocksDatabase.ts';
const db = await openRocksDatabase(mkdtempSync('/tmp/fs-'));
const value = Buffer.alloc(400, 1);
for (const sync of [false, true, false, true]) {
  const t = performance.now();
  for (let i = 0; i < 200; i++) {
    await db.write([{ type: 'put', key: Buffer.from(`k${i}`), value }], { sync });
  }
  console.log(sync, ((performance.now() - t) / 200).toFixed(3), 'ms per write');
}
await db.close();
