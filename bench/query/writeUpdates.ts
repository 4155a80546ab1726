import { CHANNELS_PER_USER, channelId, channelOf, type Dataset, random, userId } from './dataset.ts';

/** How often the writer wakes up; each wake applies the updates due since the last. */
const TICK_MS = 5;
/**
 * At most this many ticks' worth per wake: a writer that fell behind (a GC pause, a busy thread) catches up
 * gradually instead of holding its thread for seconds, and its achieved rate shows how far behind it stayed.
 */
const MAX_TICKS_PER_WAKE = 2;

/**
 * Applies `perSecond` updates at a steady rate, in small slices: each a new read-state record for a random
 * (user, channel) and, for every fourth, a new channel record too (a message was sent there). Returns a stop
 * function that says how many were applied.
 */
export function writeUpdates(
  dataset: Dataset,
  perSecond: number,
  apply: (user: string, channel: string, version: number, withChannel: boolean) => void,
): { stop: () => number } {
  const next = random(42);
  const started = performance.now();
  let applied = 0;
  const timer = setInterval(() => {
    const due = Math.min(
      Math.floor(((performance.now() - started) / 1000) * perSecond),
      applied + Math.ceil((perSecond * TICK_MS * MAX_TICKS_PER_WAKE) / 1000),
    );
    for (; applied < due; applied++) {
      const user = next() % dataset.users;
      const channel = channelOf(dataset, user, next() % CHANNELS_PER_USER);
      apply(userId(user), channelId(channel), applied, applied % 4 === 0);
    }
  }, TICK_MS);
  return {
    stop() {
      clearInterval(timer);
      return applied;
    },
  };
}
