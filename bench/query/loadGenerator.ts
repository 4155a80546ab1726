/**
 * Open-loop load at a fixed rate, in its own process so that it does not share the server's event loop. Requests
 * are issued on schedule whether or not earlier ones have been answered (open loop: a server stall delays every
 * request issued during it, and all of them are counted, so no coordinated omission); latency runs from issuing
 * a request to the end of its response body, including any wait for a free connection. The generator's own
 * timer slack is not counted; how far it fell behind schedule is reported instead.
 *
 * Driven over IPC by queryBench.ts: it warms up (JIT, connections), says 'warmed', waits for 'go', measures.
 */
import { createHistogram } from 'node:perf_hooks';
import { Pool } from 'undici';

export type LoadRequest = {
  origin: string;
  paths: readonly string[];
  rate: number;
  warmupMs: number;
  durationMs: number;
  connections: number;
};

export type LoadResult = {
  sent: number;
  completed: number;
  failed: number;
  /** Requests per second completed. */
  achieved: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** The most any request was issued after it was due: the generator's own lag. */
  maxBehindMs: number;
};

/** Requests due in one wake-up at most; beyond it the generator is saturated and says so by falling behind. */
const MAX_BURST = 1_000;
/** Beyond this many in flight the server is not keeping up; stop adding to the pile. */
const MAX_IN_FLIGHT = 20_000;

async function run(pool: Pool, { paths, rate }: LoadRequest, durationMs: number): Promise<LoadResult> {
  const latency = createHistogram({ lowest: 1, highest: 60e9, figures: 3 });
  let sent = 0;
  let completed = 0;
  let failed = 0;
  let inFlight = 0;
  let maxBehindMs = 0;
  const started = performance.now();
  const total = Math.floor((durationMs / 1000) * rate);

  await new Promise<void>((resolve) => {
    const pump = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - started) / 1000) * rate));
      for (let burst = 0; sent < due && burst < MAX_BURST && inFlight < MAX_IN_FLIGHT; burst++, sent++) {
        const issuedAt = performance.now();
        maxBehindMs = Math.max(maxBehindMs, issuedAt - (started + (sent * 1000) / rate));
        const path = paths[sent % paths.length] ?? '/';
        inFlight++;
        pool
          .request({ method: 'GET', path })
          .then(
            async ({ statusCode, body }) => {
              await body.dump();
              if (statusCode === 200)
                latency.record(Math.max(1, Math.round((performance.now() - issuedAt) * 1e6)));
              else failed++;
            },
            () => {
              failed++;
            },
          )
          .finally(() => {
            inFlight--;
            completed++;
            if (sent >= total && inFlight === 0) resolve();
          });
      }
      if (sent < total) setTimeout(pump, 1);
    };
    pump();
  });
  const elapsed = (performance.now() - started) / 1000;
  return {
    sent,
    completed,
    failed,
    achieved: (completed - failed) / elapsed,
    p50Ms: latency.percentile(50) / 1e6,
    p99Ms: latency.percentile(99) / 1e6,
    p999Ms: latency.percentile(99.9) / 1e6,
    maxMs: latency.max / 1e6,
    maxBehindMs,
  };
}

process.once('message', (request: LoadRequest) => {
  const pool = new Pool(request.origin, {
    connections: request.connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
  });
  void run(pool, request, request.warmupMs).then(() => {
    process.send?.({ type: 'warmed' });
    process.once('message', () => {
      void run(pool, request, request.durationMs).then(async (result) => {
        await pool.close();
        process.send?.({ type: 'result', ...result });
        process.exit(0);
      });
    });
  });
});
