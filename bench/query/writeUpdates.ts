import { CHANNELS_PER_USER, channelOf, type Dataset, random } from './dataset.ts';

/** How often the writer wakes up; each wake applies the updates due since the last. */
const TICK_MS = 5;
/**
 * At most this many ticks' worth per wake: a writer that fell behind (a GC pause, a busy thread) catches up
 * gradually instead of holding its thread for seconds, and its achieved rate shows how far behind it stayed.
 */
const MAX_TICKS_PER_WAKE = 2;

/**
 * Applies `perSecond` updates at a steady rate, in small slices: each a new read state for a random (user,
 * channel) of the dataset (by number) and, for every fourth, a new channel state too (a message was sent there).
 * `flush` ends each slice: a writer that batches applies its batch there. Returns a stop function that says how
 * many were applied.
 */
export function writeUpdates(
  dataset: Dataset,
  perSecond: number,
  apply: (user: number, channel: number, version: number, withChannel: boolean) => void,
  flush: () => void = () => undefined,
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
      apply(user, channel, applied, applied % 4 === 0);
    }
    flush();
  }, TICK_MS);
  return {
    stop() {
      clearInterval(timer);
      return applied;
    },
  };
}
