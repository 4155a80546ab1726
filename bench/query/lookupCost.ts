/**
 * The cost of one hot-tier lookup as it grows: readView (parse both decimal ids, probe both tables, build the
 * view) for random held keys, at each size given; and of a whole 50-channel answer as a route makes it (the ids
 * checked, ownership and positions, the hot tier through readThrough, the JSON text), without HTTP. Run by
 * queryBench.ts in its own process; prints JSON rows. Costs are CPU time of this thread, the best of 5 rounds. Usage: node --expose-gc lookupCost.ts 1000000 8000000
 */
import type { ReadStateSource } from '../../src/api/app.ts';
import { lookupResponseJson } from '../../src/api/lookupResponse.ts';
import { channelIdList } from '../../src/api/requests.ts';
import { freshnessOf, partitionsOfChannels, readThrough } from '../../src/engine/readThrough.ts';
import { createPartitionOf } from '../../src/contract/partitionOf.ts';
import { createPartitionStates } from '../../src/ingest/partitionStates.ts';
import { createHotTier } from '../../src/store/hotTier.ts';
import { channelId, channelOf, datasetOf, fill, hotTierFor, random, userId } from './dataset.ts';

const LOOKUPS = 2_000_000;
const ANSWERS = 20_000;
const ROUNDS = 5;
/** Lookups come from prepared id strings, as a request's would: the parse is part of the cost, the build not. */
const KEY_POOL = 200_000;
/**
 * This thread's CPU time: on a shared machine, time spent descheduled is not the lookup's. (Caches and the
 * memory bus are still shared: other work can still slow it.)
 */
function cpuMicros(): number {
  const { user, system } = process.threadCpuUsage();
  return user + system;
}
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

/** One size, in a function of its own so that its tier is garbage once it returns. */
async function measure(size: number): Promise<void> {
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
  let ns = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    answered = 0;
    const started = cpuMicros();
    for (let i = 0; i < LOOKUPS; i++) {
      const j = i % KEY_POOL;
      if (hot.readView(users[j] ?? '', channels[j] ?? '') !== undefined) answered++;
    }
    ns = Math.min(ns, ((cpuMicros() - started) * 1000) / LOOKUPS);
  }

  // A 50-channel answer, as GET /v1/users/:user_id/read-states?channel_ids=… makes it.
  const partitionCount = 4;
  const partitionOf = createPartitionOf(partitionCount);
  const partitions = createPartitionStates();
  for (let partition = 0; partition < partitionCount; partition++) {
    partitions.set(partition, 'restoring');
    partitions.set(partition, 'serving');
  }
  const engine: ReadStateSource = {
    lookup: () => Promise.reject(new Error('every pair is held: nothing goes to the engine')),
    listChannels: () => Promise.resolve([]),
  };
  const partitionsOf = partitionsOfChannels(partitionOf);
  const read = readThrough(hot, engine, partitions, { partitionCount, partitionOf, partitionsOf });
  const freshness = freshnessOf(partitions, partitionsOf);
  const requests = Array.from({ length: 2_000 }, () => {
    const u = next() % dataset.users;
    const first = next() % 64;
    const ids = Array.from({ length: 50 }, (_, k) => channelId(channelOf(dataset, u, (first + k) % 64)));
    return { user: userId(u), list: ids.join(',') };
  });
  let answerUs = Infinity;
  let bytes = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const started = cpuMicros();
    for (let i = 0; i < ANSWERS; i++) {
      const request = requests[i % requests.length] ?? { user: '', list: '' };
      const ids = channelIdList(request.list) ?? [];
      const where = freshness(ids);
      bytes += lookupResponseJson(request.user, await read.lookup(request.user, ids), where).length;
    }
    answerUs = Math.min(answerUs, (cpuMicros() - started) / ANSWERS);
  }
  console.log(
    JSON.stringify({
      readStates: dataset.readStates,
      ns,
      answerUs,
      answerBytes: bytes / (ANSWERS * ROUNDS),
      answered: answered / LOOKUPS,
      bytes: hot.stats().bytes,
      fillSeconds,
    }),
  );
}

for (const size of process.argv.slice(2).map(Number)) {
  await measure(size);
  gc();
}
