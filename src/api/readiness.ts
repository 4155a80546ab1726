import type { PartitionProgress } from '../ingest/projector.ts';

/**
 * Ready once every partition assigned to this instance has applied everything that was in Kafka when the
 * service started; until then, why not, with the lag left.
 */
export function notReadyReason(started: boolean, progress: readonly PartitionProgress[]): string | undefined {
  if (!started) return 'starting: the projector has not joined the consumer group yet';
  if (progress.length === 0) return 'waiting for a partition assignment';
  const behind = progress.filter((p) => p.stored < p.startHigh);
  if (behind.length === 0) return undefined;
  const lag = behind.reduce((sum, p) => sum + (p.startHigh - p.stored), 0n);
  return `catching up: ${lag} events behind on ${behind.length} partition(s)`;
}
