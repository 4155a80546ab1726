import type { Dependencies } from '../engine/engineProtocol.ts';
import type { PartitionProgress } from '../ingest/projector.ts';

/**
 * Ready once the projector runs and every partition assigned to this instance has applied everything that was in
 * Kafka when the service started; until then, why not, naming the missing dependency or the lag left. PostgreSQL
 * does not decide readiness (lookups never need it; dead letters wait for it), but its absence is said.
 *
 * Once caught up (`caughtUpBefore`), partitions gained later in a rebalance do not make the instance unready: it
 * answers for them through their previous owner while it restores them, and routes every other lookup, so taking
 * it out of a load balancer would only leave fewer instances to ask (on a scale-in, none).
 */
export function notReadyReason(
  started: boolean,
  progress: readonly PartitionProgress[],
  dependencies?: Dependencies,
  caughtUpBefore = false,
): string | undefined {
  const postgres =
    dependencies === undefined || dependencies.postgres.up
      ? ''
      : `; PostgreSQL is unreachable (${dependencies.postgres.problem}): dead letters wait for it`;
  const kafkaDown =
    dependencies !== undefined && !dependencies.kafka.up ? dependencies.kafka.problem : undefined;
  if (!started) {
    const kafka = kafkaDown === undefined ? '' : ` (Kafka: ${kafkaDown})`;
    return `starting: the projector has not joined the consumer group yet${kafka}${postgres}`;
  }
  if (kafkaDown !== undefined) {
    return `the Kafka consumer is down (${kafkaDown}): it reconnects by itself${postgres}`;
  }
  if (caughtUpBefore) return undefined;
  if (progress.length === 0) return `waiting for a partition assignment${postgres}`;
  const behind = progress.filter((p) => p.stored < p.startHigh);
  if (behind.length === 0) return undefined;
  const lag = behind.reduce((sum, p) => sum + (p.startHigh - p.stored), 0n);
  return `catching up: ${lag} events behind on ${behind.length} partition(s)${postgres}`;
}
