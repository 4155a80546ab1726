/**
 * One shard of a rebuild (rebuildShards.ts): the live projector's own code over a fixed share of the partitions,
 * in a thread of its own, writing into the rebuild's database, which the thread that opened it shares by handle.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { createKafka } from '../ingest/createKafka.ts';
import { createProjector, type Projector } from '../ingest/projector.ts';
import { createLogger } from '../logger.ts';
import { attachRocksDatabase } from '../store/rocksDatabase.ts';
import { createDatabasePool } from './database.ts';
import { storeDeadLetters } from './deadLetters.ts';
import type { FromShard, ShardData, ToShard } from './rebuildShards.ts';

/** How often progress goes to the rebuild: it waits for the last partition by polling every 500 ms. */
const PROGRESS_EVERY_MS = 100;

if (parentPort === null)
  throw new Error('rebuildShardThread.ts runs as a worker thread; see rebuildShards.ts');
const port = parentPort;
const data = workerData as ShardData;
const post = (message: FromShard) => {
  port.postMessage(message);
};
const logger = createLogger(data.logLevel).child({
  thread: `rebuild-${data.shard.index}`,
  rebuild: data.rebuildId,
});
const pool = createDatabasePool(data.config.DATABASE_URL);
let applied = 0;
let projector: Projector | undefined;
let profiler: Session | undefined;
/** Set by stop(): a start still under way gives up at its next step instead of joining a group after it. */
let stopRequested = false;

const progressTimer = setInterval(() => {
  if (projector === undefined) return;
  post({ type: 'progress', progress: projector.progress(), applied });
  applied = 0;
}, PROGRESS_EVERY_MS);

async function start(): Promise<void> {
  if (data.cpuProfileDir !== undefined) {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  const db = await attachRocksDatabase(data.handle, data.path);
  if (stopRequested) return;
  projector = createProjector({
    kafka: createKafka(data.config, logger),
    groupId: data.groupId,
    sessionTimeoutMs: data.sessionTimeoutMs,
    topics: data.topics,
    db,
    storeDeadLetters: (letters) => storeDeadLetters(pool, letters),
    logger,
    residentRecords: data.residentRecords,
    snowflakeEpochMs: data.snowflakeEpochMs,
    syncWrites: false,
    lazyWriteBack: true,
    shard: data.shard,
    onFatal: (error) => {
      post({ type: 'fatal', message: error.message });
    },
    onApplied: ({ events }) => (applied += events),
  });
  await projector.start();
  post({ type: 'started' });
}
const starting = start();

async function saveProfile(): Promise<void> {
  if (profiler === undefined || data.cpuProfileDir === undefined) return;
  const { profile } = await profiler.post('Profiler.stop');
  await writeFile(
    join(data.cpuProfileDir, `rebuild-${data.shard.index}.cpuprofile`),
    JSON.stringify(profile),
  );
  profiler.disconnect();
}

async function stop(flush: boolean): Promise<void> {
  stopRequested = true;
  clearInterval(progressTimer);
  let error: string | undefined;
  try {
    // projector.stop() ends a start under way (StoppedWhileStarting); the start is then let finish, so that
    // nothing it does comes after the pool's disposal.
    const stopped = projector?.stop();
    await starting.catch(() => undefined);
    // Leaving the group may fail (the brokers away): the state applied so far is whole all the same.
    await stopped?.catch((leaving: unknown) => {
      logger.warn({ err: leaving }, 'the rebuild shard did not leave its consumer group cleanly');
    });
    if (flush) {
      if (projector === undefined) throw new Error('its projector never started');
      post({ type: 'flushing' });
      await projector.flush();
    }
    if (projector !== undefined) post({ type: 'progress', progress: projector.progress(), applied });
  } catch (failure) {
    error = failure instanceof Error ? failure.message : String(failure);
    logger.error({ err: failure }, 'rebuild shard did not stop cleanly');
  }
  try {
    await saveProfile();
  } catch (failure) {
    // A benchmark's extra: the rebuild goes on without it.
    logger.warn({ err: failure }, 'could not write the rebuild shard CPU profile');
  } finally {
    await pool.dispose().catch(() => undefined);
    post({ type: 'stopped', ...(error === undefined ? {} : { error }) });
    port.close();
  }
}

// The one message a shard takes, once: stop.
port.once('message', (message: ToShard) => {
  void stop(message.flush);
});

starting.catch((error: unknown) => {
  if (!stopRequested) post({ type: 'fatal', message: (error as Error).message });
});
