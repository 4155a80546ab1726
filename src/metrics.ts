import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineStats } from './engine/engineProtocol.ts';
import type { PartitionState } from './ingest/partitionStates.ts';

/**
 * Every metric the service exports, defined in one place. Node's own (event-loop delay, GC pauses by kind,
 * heap, RSS) come from prom-client's default collectors.
 */
export interface MetricSources {
  /** Per assigned topic partition: records in Kafka not yet applied. Read at scrape time. */
  consumerLag: () => readonly { topic: string; partition: number; lag: number }[];
  /**
   * The hot tier: its tables as the writer last reported them, and this thread's lookups. Read at scrape time;
   * the counts live elsewhere, so the counters below are reset to them at each scrape.
   */
  /** The engine thread's event loop and heap, as it last reported them. */
  engine?: () => EngineStats | undefined;
  /** Lookups refused since start: too many waiting on the engine, or the engine too slow to answer. */
  lookupsRefused?: () => { overloaded: number; timedOut: number };
  /** Per dependency, whether the engine last saw it up. */
  dependenciesUp?: () => Record<string, boolean>;
  /** How many partitions this instance serves, restores, or does not own (of those it could). */
  partitionStates?: () => Record<PartitionState, number>;
  /** Per partition being restored here: events still to apply (both topics) before it is served. */
  restoreRemaining?: () => readonly { partition: number; events: number }[];
  hotTier: () => {
    tables?: { name: 'read_states' | 'channels'; entries: number; capacity: number; evictions: number }[];
    bytes?: number;
    answered: number;
    declined: number;
  };
}

/** Every HTTP thread keeps one (httpThread.ts); /metrics adds them up. */
export function httpRequestHistogram(registry: Registry) {
  return new Histogram({
    name: 'readstates_http_request_duration_seconds',
    help: 'HTTP request latency by route and status, all HTTP threads together',
    labelNames: ['route', 'status'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [registry],
  });
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
      help: 'Records in Kafka not yet applied, per assigned topic partition (high watermark read every 10 s)',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const { topic, partition, lag } of sources.consumerLag())
          this.set({ topic, partition: String(partition) }, lag);
      },
    }),
    restoreRemaining: new Gauge({
      name: 'readstates_partition_restore_remaining',
      help: 'Per partition this instance restores (gained in a rebalance, or at start): events still to apply before it serves it',
      labelNames: ['partition'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const { partition, events } of sources.restoreRemaining?.() ?? [])
          this.set({ partition: String(partition) }, events);
      },
    }),
    hotTierEntries: new Gauge({
      name: 'readstates_hot_tier_entries',
      help: 'Entries held in the hot tier, by table',
      labelNames: ['table'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const table of sources.hotTier().tables ?? []) this.set({ table: table.name }, table.entries);
      },
    }),
    hotTierCapacity: new Gauge({
      name: 'readstates_hot_tier_capacity_entries',
      help: 'Entries the hot tier can hold before it evicts, by table (from HOT_TIER_MB)',
      labelNames: ['table'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const table of sources.hotTier().tables ?? []) this.set({ table: table.name }, table.capacity);
      },
    }),
    hotTierBytes: new Gauge({
      name: 'readstates_hot_tier_bytes',
      help: 'Bytes of shared memory the hot tier holds (off the V8 heap)',
      registers: [registry],
      collect() {
        const bytes = sources.hotTier().bytes;
        if (bytes !== undefined) this.set(bytes);
      },
    }),
    hotTierEvictions: new Counter({
      name: 'readstates_hot_tier_evictions_total',
      help: 'Entries evicted by CLOCK to make room, by table',
      labelNames: ['table'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const table of sources.hotTier().tables ?? []) this.inc({ table: table.name }, table.evictions);
      },
    }),
    hotTierLookups: new Counter({
      name: 'readstates_hot_tier_lookups_total',
      help: 'Read-state lookups by result: answered by the hot tier, or declined and read from RocksDB',
      labelNames: ['result'] as const,
      registers: [registry],
      collect() {
        const { answered, declined } = sources.hotTier();
        this.reset();
        this.inc({ result: 'answered' }, answered);
        this.inc({ result: 'declined' }, declined);
      },
    }),
    hotTierHitRatio: new Gauge({
      name: 'readstates_hot_tier_hit_ratio',
      help: 'Share of lookups the hot tier answered, since start',
      registers: [registry],
      collect() {
        const { answered, declined } = sources.hotTier();
        this.set(answered + declined === 0 ? 0 : answered / (answered + declined));
      },
    }),
    engineEventLoopDelay: new Gauge({
      name: 'readstates_engine_event_loop_delay_seconds',
      help: 'Event-loop delay of the engine thread (projector, RocksDB) over the last second, max and p99',
      labelNames: ['stat'] as const,
      registers: [registry],
      collect() {
        const engine = sources.engine?.();
        if (engine === undefined) return;
        this.set({ stat: 'max' }, engine.eventLoopDelayMaxSeconds);
        this.set({ stat: 'p99' }, engine.eventLoopDelayP99Seconds);
      },
    }),
    residentRecords: new Gauge({
      name: 'readstates_resident_records',
      help: 'Ids (messages, tombstones, mentions, members) the projector holds resident in memory (RESIDENT_RECORDS is the budget)',
      registers: [registry],
      collect() {
        const engine = sources.engine?.();
        if (engine !== undefined) this.set(engine.residentRecords);
      },
    }),
    residentEvictions: new Counter({
      name: 'readstates_resident_evictions_total',
      help: 'Channels whose records the projector dropped for room (their records are read from RocksDB again)',
      registers: [registry],
      collect() {
        const engine = sources.engine?.();
        if (engine === undefined) return;
        this.reset();
        this.inc(engine.residentEvictions);
      },
    }),
    residentBlocksParked: new Counter({
      name: 'readstates_resident_blocks_parked_total',
      help: "Blocks of big channels' ids parked in the spill (DATA_DIR/spill) for room, each 128 ids",
      registers: [registry],
      collect() {
        const engine = sources.engine?.();
        if (engine === undefined) return;
        this.reset();
        this.inc(engine.residentBlocksParked);
      },
    }),
    residentBlocksReadBack: new Counter({
      name: 'readstates_resident_blocks_read_back_total',
      help: 'Parked blocks read back from the spill because an event or a lookup reached them',
      registers: [registry],
      collect() {
        const engine = sources.engine?.();
        if (engine === undefined) return;
        this.reset();
        this.inc(engine.residentBlocksReadBack);
      },
    }),
    channelBytesWritten: new Counter({
      name: 'readstates_channel_bytes_written_total',
      help: 'Bytes of channel snapshots and deltas written back (changed, evicted or flushed channels) by the live projector',
      registers: [registry],
      collect() {
        const engine = sources.engine?.();
        if (engine === undefined) return;
        this.reset();
        this.inc(engine.channelBytesWritten);
      },
    }),
    engineHeapUsed: new Gauge({
      name: 'readstates_engine_heap_used_bytes',
      help: "V8 heap used by the engine thread (nodejs_heap_* covers the HTTP thread's)",
      registers: [registry],
      collect() {
        const engine = sources.engine?.();
        if (engine !== undefined) this.set(engine.heapUsedBytes);
      },
    }),
    engineHeapTotal: new Gauge({
      name: 'readstates_engine_heap_total_bytes',
      help: "V8 heap the engine thread holds from the system, used or not (nodejs_heap_size_total_bytes covers the HTTP thread's)",
      registers: [registry],
      collect() {
        const engine = sources.engine?.();
        if (engine !== undefined) this.set(engine.heapTotalBytes);
      },
    }),
    engineArrayBuffers: new Gauge({
      name: 'readstates_engine_array_buffers_bytes',
      help: "Array buffers the engine thread allocated, off the V8 heap: the resident channels' typed arrays and the hot tier's shared tables",
      registers: [registry],
      collect() {
        const engine = sources.engine?.();
        if (engine !== undefined) this.set(engine.arrayBuffersBytes);
      },
    }),
    rocksdbMemory: new Gauge({
      name: 'readstates_rocksdb_memory_bytes',
      help: "RocksDB's memtables, index and filter blocks and block cache, by database (state: the generation served; spill: parked blocks)",
      labelNames: ['database'] as const,
      registers: [registry],
      collect() {
        const engine = sources.engine?.();
        if (engine === undefined) return;
        this.set({ database: 'state' }, engine.rocksdbBytes.state);
        this.set({ database: 'spill' }, engine.rocksdbBytes.spill);
      },
    }),
    lookupsRefused: new Counter({
      name: 'readstates_lookups_refused_total',
      help: 'Lookups answered 503 because the engine had too many waiting (overloaded) or did not answer in time (engine_timeout)',
      labelNames: ['reason'] as const,
      registers: [registry],
      collect() {
        const refused = sources.lookupsRefused?.();
        if (refused === undefined) return;
        this.reset();
        this.inc({ reason: 'overloaded' }, refused.overloaded);
        this.inc({ reason: 'engine_timeout' }, refused.timedOut);
      },
    }),
    dependencyUp: new Gauge({
      name: 'readstates_dependency_up',
      help: 'Whether the engine last saw the dependency up (1) or not (0): kafka (the consumer) and postgres',
      labelNames: ['dependency'] as const,
      registers: [registry],
      collect() {
        const up = sources.dependenciesUp?.();
        if (up === undefined) return;
        for (const [dependency, isUp] of Object.entries(up)) this.set({ dependency }, isUp ? 1 : 0);
      },
    }),
    partitions: new Gauge({
      name: 'readstates_partitions',
      help: 'Partitions by state on this instance: serving, restoring (catching up), handing_over (moved away or rebalancing; answered, stale, until the new owner caught up), not_owned',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        const states = sources.partitionStates?.();
        if (states === undefined) return;
        for (const [state, count] of Object.entries(states)) this.set({ state }, count);
      },
    }),
    httpRequestSeconds: httpRequestHistogram(registry),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
