import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric the service exports, defined in one place. Node's own (event-loop delay, GC pauses by kind,
 * heap, RSS) come from prom-client's default collectors.
 */
export interface MetricSources {
  /** Per assigned topic partition: records in Kafka not yet applied. Read at scrape time. */
  consumerLag: () => readonly { topic: string; partition: number; lag: number }[];
}

export function createMetrics(sources: MetricSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  return {
    registry,
    eventsApplied: new Counter({
      name: 'readstates_events_applied_total',
      help: 'Events folded into state and durably written, by topic',
      labelNames: ['topic'] as const,
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'readstates_dead_letters_total',
      help: 'Records stored as dead letters, by topic',
      labelNames: ['topic'] as const,
      registers: [registry],
    }),
    batchApplySeconds: new Histogram({
      name: 'readstates_batch_apply_seconds',
      help: 'Time to decode, project and durably write one chunk of a Kafka batch',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    deadLetterStorePaused: new Gauge({
      name: 'readstates_dead_letter_store_paused',
      help: '1 while consumption waits for PostgreSQL to store dead letters',
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'readstates_consumer_lag',
      help: 'Records in Kafka not yet applied, per assigned topic partition (as of its last fetch)',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const { topic, partition, lag } of sources.consumerLag())
          this.set({ topic, partition: String(partition) }, lag);
      },
    }),
    httpRequestSeconds: new Histogram({
      name: 'readstates_http_request_duration_seconds',
      help: 'HTTP request latency by route and status',
      labelNames: ['route', 'status'] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
