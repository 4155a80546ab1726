import type { Consumer } from 'kafkajs';
import type { Logger } from '../logger.ts';
import type { DeadLetter } from './deadLetter.ts';

/** How long a batch waits for PostgreSQL to store its dead letters before its partition waits aside. */
const DEAD_LETTER_ATTEMPT_MS = 2_000;
const DEAD_LETTER_RETRY_MAX_MS = 5_000;

export interface DeadLetterKeeper {
  /**
   * Stores a chunk's dead letters: no offset may pass a record that is neither applied nor kept. True when they
   * are stored; false when the partition now waits for PostgreSQL (the caller stops applying the batch).
   */
  keep(letters: DeadLetter[], topic: string, partition: number): Promise<boolean>;
}

/**
 * When PostgreSQL cannot take a chunk's dead letters, that partition waits and nothing else does: kafkajs fetches
 * the next round only once every batch of this one is done, so a batch that blocked would stop every partition.
 * Instead this one is paused in kafkajs, and a retry in the background resumes it, at the offset RocksDB holds,
 * once the letters are stored. Its batches then come again and store the same letters (a no-op) before they are
 * applied.
 */
export function createDeadLetterKeeper(options: {
  consumer: Pick<Consumer, 'pause' | 'resume' | 'seek'>;
  /** Stores durably and idempotently; throws when it cannot. */
  store: (letters: readonly DeadLetter[]) => Promise<unknown>;
  /** Where the partition's next batch must begin (the offset of its first record not yet applied). */
  nextOffset: (topic: string, partition: number) => Promise<bigint | undefined>;
  isStopping: () => boolean;
  log: Logger;
  /** Told when the first partition starts waiting (true) and when the last one stops (false). */
  onOutage?: (paused: boolean) => void;
}): DeadLetterKeeper {
  const { consumer, log } = options;
  /** Topic-partitions whose batch waits for PostgreSQL to keep its dead letters. */
  const waiting = new Set<string>();

  function waitForStore(letters: DeadLetter[], topic: string, partition: number, error: unknown): void {
    const id = `${topic}:${partition}`;
    // Again when already waiting: resume() of the whole projector (after a rebuild) lifts it too.
    consumer.pause([{ topic, partitions: [partition] }]);
    if (waiting.has(id)) return;
    waiting.add(id);
    options.onOutage?.(true);
    log.error(
      { err: error, topic, partition },
      'cannot store dead letters in PostgreSQL; this partition waits until it is back (the others go on)',
    );
    void (async () => {
      for (let attempt = 0; ; attempt++) {
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(250 * 2 ** attempt, DEAD_LETTER_RETRY_MAX_MS)),
        );
        if (options.isStopping()) return;
        try {
          await options.store(letters);
          break;
        } catch {
          // Still away: wait longer.
        }
      }
      waiting.delete(id);
      options.onOutage?.(waiting.size > 0);
      log.warn({ topic, partition }, 'dead-letter store reachable again; this partition resumes');
      try {
        const from = await options.nextOffset(topic, partition);
        if (from !== undefined) consumer.seek({ topic, partition, offset: from.toString() });
        consumer.resume([{ topic, partitions: [partition] }]);
      } catch (resumeError) {
        // Revoked meanwhile: whoever owns it now starts at its own stored offset.
        log.debug({ err: resumeError, topic, partition }, 'could not resume the partition');
      }
    })();
  }

  return {
    async keep(letters, topic, partition) {
      if (letters.length === 0) return true;
      let timer: NodeJS.Timeout | undefined;
      try {
        // Not longer than a moment: a PostgreSQL that accepts and never answers would hold up every partition's
        // next fetch, and the consumer's heartbeats, for the whole query timeout. An attempt given up on may still
        // land: storing is idempotent.
        await Promise.race([
          options.store(letters),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              reject(new Error(`PostgreSQL did not answer within ${DEAD_LETTER_ATTEMPT_MS} ms`));
            }, DEAD_LETTER_ATTEMPT_MS);
          }),
        ]);
        return true;
      } catch (error) {
        waitForStore(letters, topic, partition, error);
        return false;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
