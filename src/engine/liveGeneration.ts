import type { TopicKind } from '../contract/events.ts';
import type { Topics } from '../ingest/ensureTopics.ts';
import type { Projector } from '../ingest/projector.ts';
import type { Logger } from '../logger.ts';
import type { LiveGeneration } from '../ops/rebuild.ts';
import { removeOtherGenerations, switchGeneration } from '../store/generations.ts';
import type { HotTierMirror } from '../store/hotTierMirror.ts';
import { readStoredOffset } from '../store/storedOffsets.ts';
import type { RocksDatabase } from '../store/rocksDatabase.ts';

/** How long an old generation waits for the reads still running on it before it is closed anyway. */
const DRAIN_TIMEOUT_MS = 30_000;

/**
 * The generation the engine serves and projects into, swappable by a rebuild. Reads go through `read`, which
 * counts them per generation, so the old one is closed only once the reads that began on it have finished: the
 * switch fails no query.
 */
export interface ServingGeneration extends LiveGeneration {
  read<T>(query: (db: RocksDatabase) => Promise<T>): Promise<T>;
  /** What RocksDB holds in memory for the generation served (RocksDatabase.memoryBytes). */
  memoryBytes(): number;
  close(): Promise<void>;
}

export function createServingGeneration(options: {
  dataDir: string;
  db: RocksDatabase;
  projector: Projector;
  hotTier: HotTierMirror;
  topics: Topics;
  partitionCount: () => number;
  logger: Logger;
}): ServingGeneration {
  const { dataDir, projector, hotTier, topics, logger } = options;
  let db = options.db;
  const reading = new Map<RocksDatabase, number>();

  async function offsets(): Promise<Map<string, bigint>> {
    const found = new Map<string, bigint>();
    const kinds: [TopicKind, string][] = [
      ['messages', topics.messages],
      ['acks', topics.acks],
    ];
    for (const [kind, topic] of kinds) {
      for (let partition = 0; partition < options.partitionCount(); partition++) {
        const stored = await readStoredOffset(db, partition, kind);
        if (stored !== undefined) found.set(`${topic}:${partition}`, stored);
      }
    }
    return found;
  }

  async function drained(old: RocksDatabase): Promise<void> {
    const deadline = performance.now() + DRAIN_TIMEOUT_MS;
    while ((reading.get(old) ?? 0) > 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  return {
    offsets,
    async pause() {
      await projector.pause();
      return offsets();
    },
    async switchTo(next, generation) {
      const old = db;
      // The point of no return, first: if it fails, nothing has changed and the rebuild is simply failed.
      await switchGeneration(dataDir, generation);
      await projector.useDatabase(next);
      db = next;
      // Records of the old generation may differ from the rebuilt ones (that is what a rebuild is for).
      hotTier.forgetAll();
      projector.resume();
      await drained(old);
      await old.close();
      const removed = await removeOtherGenerations(dataDir, generation);
      logger.info({ generation, removed }, 'old generation closed and deleted');
    },
    resume: () => {
      projector.resume();
    },
    async read(query) {
      // Read again when a rebuild switched databases meanwhile: an answer from the old one could be older than
      // one already served from the new one.
      for (;;) {
        const on = db;
        reading.set(on, (reading.get(on) ?? 0) + 1);
        try {
          const result = await query(on);
          if (db === on) return result;
        } finally {
          reading.set(on, (reading.get(on) ?? 1) - 1);
        }
      }
    },
    memoryBytes: () => db.memoryBytes(),
    close: () => db.close(),
  };
}
