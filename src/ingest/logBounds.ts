import type { Logger } from '../logger.ts';

/** How long a stored offset must lie outside the log before it is believed. */
const LOG_CHECK_GRACE_MS = 15_000;

/** The check's answer while it waits to believe what it sees: apply nothing of the partition, ask again later. */
export const WAIT_FOR_LOG = Symbol('wait for the log');

/**
 * The stored offset must lie within the log: above its end, the topic was deleted and recreated (or these are
 * other brokers) and new events would be skipped as "already applied"; below its start, events this state never
 * saw were deleted. Either way no answer could be exact: the message says how to recover.
 */
export function outsideLog(
  topic: string,
  partition: number,
  stored: bigint | undefined,
  low: bigint,
  high: bigint,
): string | undefined {
  const at = `${topic} partition ${partition}`;
  if (stored !== undefined && stored > high) {
    return (
      `${at}: the offset stored in DATA_DIR (${stored}) is above the end of the log (${high}). The topic was ` +
      'deleted and recreated, or KAFKA_BROKERS names another cluster; the state belongs to the old log and new ' +
      'events would be skipped. If the brokers are right, rebuild the state from the new log with the service ' +
      'stopped: readstates rebuild --offline'
    );
  }
  if ((stored ?? 0n) < low) {
    return (
      `${at}: the next offset to apply is ${stored ?? 0n} but the log now starts at ${low}: the broker deleted ` +
      'events this state never saw (retention), so it cannot be made exact from this log. Restore the ' +
      'topics with every event (retention.ms=-1, retention.bytes=-1) and run: readstates rebuild --offline'
    );
  }
  return undefined;
}

/**
 * outsideLog, believed only once it has held for LOG_CHECK_GRACE_MS: a broker that just restarted can report a log
 * end below what it holds until it has recovered its high watermark (seen: 1,500 for 1,550 a second after a
 * kill -9). Meanwhile WAIT_FOR_LOG.
 */
export function createLogBoundsCheck(
  log: Logger,
): (
  topic: string,
  partition: number,
  stored: bigint | undefined,
  low: bigint,
  high: bigint,
) => string | typeof WAIT_FOR_LOG | undefined {
  /** Per topic-partition, when its stored offset was first seen outside the log. */
  const outsideSince = new Map<string, number>();
  return (topic, partition, stored, low, high) => {
    const id = `${topic}:${partition}`;
    const problem = outsideLog(topic, partition, stored, low, high);
    if (problem === undefined) {
      outsideSince.delete(id);
      return undefined;
    }
    const since = outsideSince.get(id) ?? Date.now();
    outsideSince.set(id, since);
    if (Date.now() - since >= LOG_CHECK_GRACE_MS) return problem;
    log.warn(
      { topic, partition, stored: stored?.toString(), low: low.toString(), high: high.toString() },
      'the stored offset lies outside the log; waiting to see whether the broker is still recovering',
    );
    return WAIT_FOR_LOG;
  };
}
