/**
 * The cost of one hot-tier lookup as it grows: readView (parse both decimal ids, probe both tables, build the
 * view) for random held keys, at each size given. Run by queryBench.ts in its own process; prints JSON rows.
 * Usage: node --expose-gc lookupCost.ts 1000000 8000000 32000000
 */
import { createHotTier } from '../../src/store/hotTier.ts';
import { channelId, channelOf, datasetOf, fill, hotTierFor, random, userId } from './dataset.ts';

const LOOKUPS = 2_000_000;
/** Lookups come from prepared id strings, as a request's would: the parse is part of the cost, the build not. */
const KEY_POOL = 200_000;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

/** One size, in a function of its own so that its tier is garbage once it returns. */
function measure(size: number): void {
  const dataset = datasetOf(size);
  const hot = createHotTier(hotTierFor(dataset));
  const filling = performance.now();
  fill(dataset, hot);
  const fillSeconds = (performance.now() - filling) / 1000;
  const next = random(7);
  const users: string[] = [];
  const channels: string[] = [];
  for (let i = 0; i < KEY_POOL; i++) {
    const u = next() % dataset.users;
    users.push(userId(u));
    channels.push(channelId(channelOf(dataset, u, next() % 64)));
  }
  gc();
  let answered = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < LOOKUPS; i++) {
    const j = i % KEY_POOL;
    if (hot.readView(users[j] ?? '', channels[j] ?? '') !== undefined) answered++;
  }
  const ns = Number(process.hrtime.bigint() - started) / LOOKUPS;
  console.log(
    JSON.stringify({
      readStates: dataset.readStates,
      ns,
      answered: answered / LOOKUPS,
      bytes: hot.stats().bytes,
      fillSeconds,
    }),
  );
}

for (const size of process.argv.slice(2).map(Number)) {
  measure(size);
  gc();
}
