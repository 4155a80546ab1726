/**
 * For rocksDatabase.int.spec.ts: attaches to a database the test opened, by its handle, writes `count` keys
 * with this thread's `prefix` in batches, reads its own keys back, lets go and reports.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { attachRocksDatabase } from '../../src/store/rocksDatabase.ts';

const { handle, path, prefix, count } = workerData as {
  handle: bigint;
  path: string;
  prefix: string;
  count: number;
};
const db = await attachRocksDatabase(handle, path);
for (let i = 0; i < count; i += 100) {
  const batch = [];
  for (let j = i; j < Math.min(count, i + 100); j++) {
    batch.push({ type: 'put' as const, key: Buffer.from(`${prefix}${j}`), value: Buffer.from(`${j}`) });
  }
  await db.write(batch);
}
const read = db.getManySync([Buffer.from(`${prefix}0`), Buffer.from(`${prefix}${count - 1}`)]);
await db.close();
const refused = await db.write([{ type: 'put', key: Buffer.from('late'), value: Buffer.from('') }]).then(
  () => false,
  () => true,
);
parentPort?.postMessage({ read: read.map((value) => value?.toString()), refused });
